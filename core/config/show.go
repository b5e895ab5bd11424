package config

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxShown bounds what a message shows of one key or value from the file.
const maxShown = 256

// show returns s for a message: as it is when it is short, valid UTF-8 and
// every rune is printable (unicode.IsPrint: no control, bidirectional
// formatting or other invisible characters), otherwise quoted Go-style and
// cut to maxShown bytes. A file of random bytes, or a key with a terminal
// escape or a right-to-left override in it, never reaches a terminal or a
// log raw.
func show(s string) string {
	if len(s) <= maxShown && printable(s) {
		return s
	}
	return quote(s)
}

// quote is strconv.Quote of s cut to maxShown bytes, saying how much was
// cut.
func quote(s string) string {
	if len(s) <= maxShown {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxShown]) + fmt.Sprintf("... (%d bytes)", len(s))
}

func printable(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// shown is a string argument of a problem or warning: %s writes show(s),
// %q writes quote(s).
type shown string

func (s shown) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, quote(string(s)))
		return
	}
	_, _ = io.WriteString(f, show(string(s)))
}

func shownArgs(args []any) []any {
	out := make([]any, len(args))
	for i, a := range args {
		if s, ok := a.(string); ok {
			a = shown(s)
		}
		out[i] = a
	}
	return out
}

// Sanitize makes a message safe for a terminal or a log line: every rune
// that is not printable (control, bidirectional-formatting, invalid UTF-8)
// is written as its Go escape, and the result is cut to max bytes. It is
// for whole messages that may carry text from the file (the programs'
// one-line errors, client option problems); show is for one key or value.
func Sanitize(s string, max int) string {
	if !printable(s) {
		var b strings.Builder
		for i, r := range s {
			if r == utf8.RuneError || !unicode.IsPrint(r) {
				q := strconv.QuoteRune(r)
				if r == utf8.RuneError {
					q = fmt.Sprintf(`'\x%02x'`, s[i])
				}
				b.WriteString(q[1 : len(q)-1])
				continue
			}
			b.WriteRune(r)
		}
		s = b.String()
	}
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + fmt.Sprintf("... (%d bytes more)", len(s)-cut)
	}
	return s
}
