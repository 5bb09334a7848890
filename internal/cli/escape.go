package cli

import (
	"io"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"
)

// escaper is the CLI's stdout or stderr: everything the CLI prints goes
// through it, so every piece of server-provided text (logs, long statuses,
// messages, errors, job names…) reaches the terminal with its control
// characters made visible, whatever print path it took. A log line that
// sets the terminal's title (ESC ] 0 ; … BEL), clears the screen (ESC [ 2
// J) or hides text behind a carriage return is shown as the characters it
// is made of. --raw turns it off.
//
// What is escaped, as text:
//
//   - C0 controls other than newline and tab, and DEL: \x1b, \x07, \x00,
//     \x7f…, with Go's short forms \a \b \f \r \v; a carriage return right
//     before a newline (a CRLF line end) is kept;
//   - C1 controls (U+0080–U+009F, such as the one-character CSI U+009B) and
//     the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069,
//     which can make text read in another order): \u009b, \u202e;
//   - bytes that are not UTF-8: \xff.
//
// On a stream of JSON (stdout with --json) the escapes are JSON's own, so
// the output stays valid JSON with the same values: \u001b, \u009b, and
// U+FFFD for bytes that are not UTF-8 (what a JSON decoder makes of them);
// newlines, tabs and carriage returns there can only be whitespace between
// tokens and are kept.
type escaper struct {
	w    io.Writer
	raw  *bool // --raw: write everything as it is
	json func() bool

	mu sync.Mutex
	// pending is the end of the last write held back: an incomplete UTF-8
	// sequence, or a carriage return that may start a CRLF.
	pending []byte
}

// terminal reports whether e writes to an interactive terminal.
func (e *escaper) terminal() bool { return isTerminal(e.w) }

// control writes seq as it is: a control sequence of the CLI's own (the
// progress display's cursor moves), never server-provided text.
func (e *escaper) control(seq string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.flushLocked(); err != nil {
		return err
	}
	_, err := io.WriteString(e.w, seq)
	return err
}

// Write writes p escaped. It reports len(p) on success: every byte was
// written, in one form or another.
func (e *escaper) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if *e.raw {
		if err := e.flushLocked(); err != nil {
			return 0, err
		}
		return e.w.Write(p)
	}
	b := p
	if len(e.pending) > 0 {
		b = append(slices.Clip(e.pending), p...)
		e.pending = nil
	}
	jsonMode := e.json != nil && e.json()
	out := make([]byte, 0, len(b)+len(b)/8)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '\n' || c == '\t':
			out = append(out, c)
			i++
		case c == '\r' && (jsonMode || i+1 < len(b) && b[i+1] == '\n'):
			out = append(out, c)
			i++
		case c == '\r' && i+1 == len(b):
			e.pending = []byte{c} // a CRLF split between two writes?
			i++
		case c < 0x20 || c == 0x7f:
			out = escapeControl(out, rune(c), jsonMode)
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			switch {
			case r == utf8.RuneError && size <= 1 && !utf8.FullRune(b[i:]):
				e.pending = append([]byte(nil), b[i:]...) // the rest comes with the next write
				i = len(b)
			case r == utf8.RuneError && size <= 1:
				if jsonMode {
					out = append(out, `\ufffd`...)
				} else {
					out = append(out, `\x`...)
					out = appendHex2(out, c)
				}
				i++
			case dangerous(r):
				out = escapeControl(out, r, jsonMode)
				i += size
			default:
				out = append(out, b[i:i+size]...)
				i += size
			}
		}
	}
	if len(out) > 0 {
		if _, err := e.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// flush writes out what is held back, escaped: nothing more will complete
// it.
func (e *escaper) flush() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.flushLocked()
}

func (e *escaper) flushLocked() error {
	if len(e.pending) == 0 {
		return nil
	}
	jsonMode := e.json != nil && e.json()
	var out []byte
	for _, c := range e.pending {
		switch {
		case *e.raw:
			out = append(out, c)
		case c == '\r':
			out = escapeControl(out, '\r', jsonMode)
		case jsonMode:
			out = append(out, `\ufffd`...)
		default:
			out = appendHex2(append(out, `\x`...), c)
		}
	}
	e.pending = nil
	_, err := e.w.Write(out)
	return err
}

// dangerous reports whether r is a C1 control or a bidirectional override
// or isolate.
func dangerous(r rune) bool {
	return r >= 0x80 && r <= 0x9f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// escapeControl appends r escaped: \u00XX in JSON, else Go's short form or
// \xNN for ASCII controls and \uXXXX for the others.
func escapeControl(out []byte, r rune, jsonMode bool) []byte {
	if !jsonMode && r < utf8.RuneSelf {
		if short, ok := shortEscapes[byte(r)]; ok {
			return append(out, short...)
		}
		return appendHex2(append(out, `\x`...), byte(r))
	}
	s := strconv.FormatInt(int64(r), 16)
	out = append(out, `\u`...)
	for range 4 - len(s) {
		out = append(out, '0')
	}
	return append(out, s...)
}

var shortEscapes = map[byte]string{'\a': `\a`, '\b': `\b`, '\f': `\f`, '\r': `\r`, '\v': `\v`}

func appendHex2(out []byte, c byte) []byte {
	const hex = "0123456789abcdef"
	return append(out, hex[c>>4], hex[c&0xf])
}
