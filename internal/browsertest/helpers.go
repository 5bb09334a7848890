package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/cdproto"
	"github.com/chromedp/chromedp"
)

// The helpers below wait in the page, on each animation frame, until the
// context ends: a test never sleeps. A failed wait says what the page
// showed instead.

// defaultWait bounds a wait whose context has no deadline; the contexts
// of NewTab have one.
const defaultWait = 30 * time.Second

// diagTimeout bounds the read of what the page shows after a wait failed.
const diagTimeout = 2 * time.Second

// Navigate loads url in the tab and waits for its load event.
func Navigate(ctx context.Context, url string) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("navigate to %s: %w", url, err)
	}
	return nil
}

// WaitText waits until the first element that the CSS selector matches
// contains text (in its textContent, white space collapsed).
func WaitText(ctx context.Context, selector, text string) error {
	return waitFor(ctx, fmt.Sprintf("%s to contain %q", selector, text),
		`(sel, want) => { const el = document.querySelector(sel); return !!el && el.textContent.replace(/\s+/g, ' ').includes(want); }`,
		`(sel) => { const el = document.querySelector(sel); return el ? 'its text is ' + JSON.stringify(el.textContent.replace(/\s+/g, ' ').trim()) : 'nothing matches ' + sel; }`,
		selector, text)
}

// WaitGone waits until nothing matches the CSS selector: after a click
// that navigates away from a page with such an element, it tells that the
// next page replaced it (a wait for text both pages contain does not).
func WaitGone(ctx context.Context, selector string) error {
	return waitFor(ctx, fmt.Sprintf("nothing to match %s", selector),
		`(sel) => document.querySelector(sel) === null`,
		`(sel) => 'an element still matches ' + sel`,
		selector)
}

// WaitAttr waits until the first element that the CSS selector matches has
// the attribute name with the value value.
func WaitAttr(ctx context.Context, selector, name, value string) error {
	return waitFor(ctx, fmt.Sprintf("the %s of %s to be %q", name, selector, value),
		`(sel, name, want) => { const el = document.querySelector(sel); return !!el && el.getAttribute(name) === want; }`,
		attrDiag, selector, name, value)
}

// WaitAttrAtLeast waits until the first element that the CSS selector
// matches has the attribute name with a number at least n.
func WaitAttrAtLeast(ctx context.Context, selector, name string, n int64) error {
	return waitFor(ctx, fmt.Sprintf("the %s of %s to reach %d", name, selector, n),
		`(sel, name, n) => { const el = document.querySelector(sel); const v = el && el.getAttribute(name); return v !== null && v !== '' && Number(v) >= n; }`,
		attrDiag, selector, name, n)
}

// WaitSeq waits until the page's root (the element with data-seq, which
// Slipway's pages set to the number of the last event they applied) has
// applied event n.
func WaitSeq(ctx context.Context, n int64) error {
	return WaitAttrAtLeast(ctx, "[data-seq]", "data-seq", n)
}

// WaitFocus waits until the first element that the CSS selector matches
// has the focus (a page's script may give it the focus after the load).
func WaitFocus(ctx context.Context, selector string) error {
	return waitFor(ctx, "the focus on "+selector,
		`(sel) => { const el = document.querySelector(sel); return !!el && document.activeElement === el; }`,
		`(sel) => { const a = document.activeElement; return 'the focus is on ' + (a ? a.tagName + (a.id ? '#' + a.id : '') : 'nothing'); }`,
		selector)
}

const attrDiag = `(sel, name) => { const el = document.querySelector(sel); if (!el) return 'nothing matches ' + sel; const v = el.getAttribute(name); return v === null ? 'it has no ' + name : name + ' is ' + JSON.stringify(v); }`

// Click clicks the first element that the CSS selector matches, once it is
// visible.
func Click(ctx context.Context, selector string) error {
	for {
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(selector)))
		if err == nil {
			return nil
		}
		// A navigation that lands while chromedp resolves the node leaves
		// its node ID stale; the click was not made (the mouse events come
		// last), so it is made again in the new page.
		if ctx.Err() == nil && staleNode(err) {
			continue
		}
		return fmt.Errorf("click %s: %w", selector, err)
	}
}

// staleNode reports whether err is the browser's answer to a command on a
// node of a document that a navigation has replaced.
func staleNode(err error) bool {
	var cerr *cdproto.Error
	return errors.As(err, &cerr) && (strings.Contains(cerr.Message, "No node with given id") || strings.Contains(cerr.Message, "Could not find node with given id"))
}

// Fill types value into the form field that the CSS selector matches, once
// it is visible, replacing what it held: key by key into an input or a
// textarea (so the page sees the key and input events a person makes), as
// the chosen option's value of a select.
func Fill(ctx context.Context, selector, value string) error {
	err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(selector)))
	var how string
	if err == nil {
		how, err = chromedp.Run(ctx, chromedp.Evaluate[string](call(
			`(sel, value) => {
				const el = document.querySelector(sel);
				if (!el) return 'nothing matches ' + sel;
				el.focus();
				if (el.tagName === 'SELECT') {
					el.value = value;
					if (el.value !== value) return 'no option has the value ' + JSON.stringify(value);
					el.dispatchEvent(new Event('input', {bubbles: true}));
					el.dispatchEvent(new Event('change', {bubbles: true}));
					return 'selected';
				}
				if (!('value' in el)) return 'it is a ' + el.tagName.toLowerCase() + ', not a form field';
				el.value = '';
				el.dispatchEvent(new Event('input', {bubbles: true}));
				return 'type';
			}`, selector, value)))
	}
	switch {
	case err != nil:
	case how == "type":
		err = chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(selector), value))
	case how != "selected":
		err = errors.New(how)
	}
	if err != nil {
		return fmt.Errorf("fill %s with %q: %w", selector, value, err)
	}
	return nil
}

// Text returns the text of the first element that the CSS selector
// matches, as the page shows it (innerText; empty when it is hidden),
// once one does. It reads the page's current document, as waitFor does,
// not chromedp's copy of the DOM, whose node IDs a navigation (a form
// posted and redirected) leaves stale.
func Text(ctx context.Context, selector string) (string, error) {
	expr := call(`(sel) => { const el = document.querySelector(sel); return el ? el.innerText : null; }`, selector)
	for {
		if err := waitFor(ctx, selector+" to exist",
			`(sel) => !!document.querySelector(sel)`,
			`(sel) => 'nothing matches ' + sel`, selector); err != nil {
			return "", fmt.Errorf("text of %s: %w", selector, err)
		}
		s, err := chromedp.Run(ctx, chromedp.Evaluate[*string](expr))
		switch {
		case err == nil && s != nil:
			return *s, nil
		case err == nil, ctx.Err() == nil && navigated(err):
			continue // the page changed between the wait and the read
		}
		return "", fmt.Errorf("text of %s: %w", selector, err)
	}
}

// waitFor waits until the JavaScript function pred returns true for args,
// checking on each animation frame, or until ctx ends; on failure it
// reads diag(args...), a description of what the page shows, into the
// error, which says what it waited for. A navigation while it waits (a
// form posted, a link followed) starts the wait again in the new page.
func waitFor(ctx context.Context, what, pred, diag string, args ...any) error {
	timeout := defaultWait
	if d, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(d), time.Millisecond)
	}
	// Not chromedp.Poll: it runs in the execution context chromedp last
	// saw, which a navigation destroys (and which chromedp hears of a
	// moment later), where Runtime.evaluate without one runs in the
	// page's current context.
	expr := fmt.Sprintf(`new Promise((resolve, reject) => {
		const pred = %s, args = %s;
		let done = false;
		const check = () => {
			if (done) return;
			let ok = false;
			try { ok = !!pred(...args); } catch (e) { done = true; reject(e); return; } // a bad selector
			if (ok) { done = true; resolve(true); } else requestAnimationFrame(check);
		};
		setTimeout(() => { done = true; resolve(false); }, %d);
		check();
	})`, pred, mustJSON(args), timeout.Milliseconds())
	var err error
	for {
		var ok bool
		ok, err = chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("not within %s: %w", timeout, context.DeadlineExceeded)
			break
		}
		if ctx.Err() != nil || !navigated(err) {
			break
		}
	}
	// The tab outlives the test's context: read it on a context of its own.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), diagTimeout)
	defer cancel()
	if state, derr := chromedp.Run(dctx, chromedp.Evaluate[string](call(diag, args...))); derr == nil {
		return fmt.Errorf("wait for %s (%s): %w", what, state, err)
	}
	return fmt.Errorf("wait for %s: %w", what, err)
}

// navigated reports whether err is the browser's answer to an evaluation
// whose page went away: it navigated, and a new one is coming.
func navigated(err error) bool {
	var cerr *cdproto.Error
	if !errors.As(err, &cerr) {
		return false
	}
	for _, s := range []string{"navigated or closed", "context was destroyed", "Cannot find context"} {
		if strings.Contains(cerr.Message, s) {
			return true
		}
	}
	return false
}

// call returns the JavaScript expression that calls fn with args, each
// given as JSON (which encoding/json makes a valid JavaScript literal:
// it escapes U+2028 and U+2029).
func call(fn string, args ...any) string {
	return "(" + fn + ")(..." + mustJSON(args) + ")"
}

// mustJSON returns v as JSON; the helpers give it strings and numbers,
// which always marshal.
func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("browsertest: %v as JSON: %v", v, err))
	}
	return string(b)
}
