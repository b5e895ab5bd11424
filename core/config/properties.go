package config

import (
	"bufio"
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
// set twice keeps its last value, as Java does.
type Properties struct {
	Entries []Entry
	index   map[string]int
}

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
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
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
		}
		key, value, err := splitEntry(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", start, err)
		}
		p.set(Entry{Key: key, Value: value, Line: start})
	}
	if err := sc.Err(); err != nil {
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
		return "", "", fmt.Errorf("value of %s: %w", key, err)
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
