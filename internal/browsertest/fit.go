package browsertest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// overflowing returns, when the document is wider than the viewport, the
// outermost elements that stick out past its right edge and that nothing
// clips: an element inside a scrolling box is clipped by it, unless it is
// positioned absolutely against an ancestor of that box (a
// visually-hidden label in a scrolled table without a positioned
// container, say), which is the usual way a page gets wider than a phone.
// Each is "tag#id.class (right edge px)", at most maxOverflowing.
const overflowing = `(max) => {
	const w = document.documentElement.clientWidth;
	if (document.documentElement.scrollWidth <= w) return [];
	const escapes = (el) => {
		const pos = getComputedStyle(el).position;
		const abs = pos === 'absolute' || pos === 'fixed';
		const cb = abs ? el.offsetParent : null;
		for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
			if (abs && (!cb || !p.contains(cb))) continue; // not its containing block: does not clip it
			if (getComputedStyle(p).overflowX !== 'visible') return false;
		}
		return true;
	};
	const sticks = (el) => el.getBoundingClientRect().right > w + 0.5 && escapes(el);
	const out = [];
	for (const el of document.body.querySelectorAll('*')) {
		if (!sticks(el) || (el.parentElement !== document.body && sticks(el.parentElement))) continue;
		let name = el.tagName.toLowerCase();
		if (el.id) name += '#' + el.id;
		if (el.classList.length) name += '.' + Array.from(el.classList).join('.');
		out.push(name + ' (right edge ' + Math.round(el.getBoundingClientRect().right) + 'px)');
		if (out.length === max) break;
	}
	return out.length ? out : ['(no element found: ' + document.documentElement.scrollWidth + 'px wide)'];
}`

// maxOverflowing bounds the elements AssertFits names.
const maxOverflowing = 5

// AssertFits fails the test when the tab's page, at viewport v, is wider
// than v (it scrolls sideways, so a phone shows part of it), naming what
// sticks out. Wide content belongs in a box of its own that scrolls. The
// tab is left at the viewport it had.
func AssertFits(tb testing.TB, ctx context.Context, v Viewport) {
	tb.Helper()
	before := Desktop
	if t := tabOf(ctx); t != nil {
		t.mu.Lock()
		before = t.viewport
		t.mu.Unlock()
	}
	if err := SetViewport(ctx, v); err != nil {
		tb.Fatalf("browsertest: fits %s: %v", v.Name, err)
	}
	out, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](call(overflowing, maxOverflowing)))
	if err != nil {
		tb.Fatalf("browsertest: fits %s: %v", v.Name, err)
	}
	if err := SetViewport(ctx, before); err != nil {
		tb.Fatalf("browsertest: fits %s: restoring the viewport: %v", v.Name, err)
	}
	if len(out) > 0 {
		tb.Errorf("browsertest: the page is wider than the %s viewport (%d px); sticking out:\n  %s", v.Name, int(v.Width), strings.Join(out, "\n  "))
	}
}
