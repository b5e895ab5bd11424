package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Entry is one key = value line of a properties file.
type Entry struct {
	Key, Value string
	Line       int // 1-based line where the entry starts
}

// Properties is a parsed java.util.Properties file, in file order. A key
// set twice keeps its last value, as Java does; Duplicates lists each
// time that happened, so the model can warn about it.
type Properties struct {
	Entries    []Entry
	Duplicates []Duplicate
	index      map[string]int
}

// Duplicate is a key set again: Line is where, Earlier where it was set
// before (the value there is dropped).
type Duplicate struct {
	Key           string
	Earlier, Line int
}

// MaxPropertiesSize bounds a properties file (and MIRROR_PROPERTIES), and
// maxEntries its entries: MM2 files are kilobytes with tens of keys;
// anything near these is not one, and reading it would cost the memory of
// a small function.
const (
	MaxPropertiesSize = 4 << 20
	maxEntries        = 100_000
)

// maxLine bounds one (logical) line of a properties file.
const maxLine = 1 << 20

// NewProperties builds Properties from key/value pairs (tests, inline config).
func NewProperties(kv map[string]string) *Properties {
	p := &Properties{index: map[string]int{}}
	for k, v := range kv {
		p.set(Entry{Key: k, Value: v})
	}
	return p
}

func (p *Properties) set(e Entry) {
	if i, ok := p.index[e.Key]; ok {
		p.Duplicates = append(p.Duplicates, Duplicate{Key: e.Key, Earlier: p.Entries[i].Line, Line: e.Line})
		p.Entries[i] = e
		return
	}
	p.index[e.Key] = len(p.Entries)
	p.Entries = append(p.Entries, e)
}

// Get returns the value of key.
func (p *Properties) Get(key string) (string, bool) {
	i, ok := p.index[key]
	if !ok {
		return "", false
	}
	return p.Entries[i].Value, true
}

// ParseProperties reads the java.util.Properties text format: `key=value`,
// `key: value` or `key value`; `#` and `!` comments; backslash line
// continuations; and the escapes \t \n \r \f \uXXXX and \<char>.
func ParseProperties(r io.Reader) (*Properties, error) {
	p := &Properties{index: map[string]int{}}
	// One byte past the limit tells a file at the limit from a longer one.
	lr := &io.LimitedReader{R: r, N: MaxPropertiesSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		start := lineNo
		line := strings.TrimLeft(sc.Text(), " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		// Join continuation lines: an odd number of trailing backslashes.
		for endsWithContinuation(line) {
			line = line[:len(line)-1]
			if !sc.Scan() {
				break
			}
			lineNo++
			line += strings.TrimLeft(sc.Text(), " \t\f")
			if len(line) > maxLine {
				return nil, fmt.Errorf("line %d: the entry starting here is longer than %d bytes with its continuation lines (the limit for one entry)", start, maxLine)
			}
		}
		key, value, err := splitEntry(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		p.set(Entry{Key: key, Value: value, Line: start})
		if len(p.Entries)+len(p.Duplicates) > maxEntries {
			return nil, fmt.Errorf("line %d: more than %d entries (the limit for a properties file)", start, maxEntries)
		}
	}
	if lr.N == 0 {
		return nil, fmt.Errorf("read properties: longer than %d bytes (the limit for a properties file)", MaxPropertiesSize)
	}
	if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
		return nil, fmt.Errorf("line %d: longer than %d bytes (the limit for one line)", lineNo+1, maxLine)
	} else if err != nil {
		return nil, fmt.Errorf("read properties: %w", err)
	}
	return p, nil
}

func endsWithContinuation(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// splitEntry finds the first unescaped '=', ':' or whitespace; whitespace
// around the separator is dropped, and one '=' or ':' after whitespace is too.
func splitEntry(line string) (string, string, error) {
	i := 0
	for i < len(line) {
		c := line[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c == '=' || c == ':' || c == ' ' || c == '\t' || c == '\f' {
			break
		}
		i++
	}
	if i > len(line) {
		i = len(line)
	}
	rawKey := line[:i]
	rest := line[i:]
	rest = strings.TrimLeft(rest, " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	key, err := unescape(rawKey)
	if err != nil {
		return "", "", fmt.Errorf("key: %w", err)
	}
	value, err := unescape(rest)
	if err != nil {
		// The key is not named: after a sasl.jaas.config split by a
		// missing backslash it may be a password; the line is.
		return "", "", fmt.Errorf("value: %w", err)
	}
	return key, value, nil
}

// unescape resolves the escapes of s. Its errors never quote s: a value
// may be a password (sasl.jaas.config, ssl.key.password).
func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i == len(s)-1 {
			if c != '\\' {
				b.WriteByte(c)
			}
			continue
		}
		i++
		switch s[i] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if len(s) < i+5 {
				return "", fmt.Errorf("malformed \\uXXXX escape at character %d: fewer than four hex digits", i)
			}
			r, err := strconv.ParseUint(s[i+1:i+5], 16, 16)
			if err != nil {
				return "", fmt.Errorf("malformed \\uXXXX escape at character %d: not four hex digits", i)
			}
			b.WriteRune(rune(r))
			i += 4
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), nil
}
