package kafkatest

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"
)

// ResponseDropper wraps a broker's listener (kfake.ListenFn) so a test can
// let the broker process a request and then lose its response: the client
// sees its connection close and cannot know whether the request took
// effect. Real brokers cannot be made to do this on demand.
type ResponseDropper struct {
	mu    sync.Mutex
	armed map[int16]int // api key -> responses still to drop
	// Delay, when set, holds a dropped response that long and then
	// delivers it instead: the request took effect, but the client hears
	// of it only after it gave up waiting.
	Delay time.Duration
	// Dropped counts the responses dropped so far.
	Dropped int
}

// NewResponseDropper returns a dropper with nothing armed.
func NewResponseDropper() *ResponseDropper { return &ResponseDropper{armed: map[int16]int{}} }

// Drop arms the dropper to swallow the responses of the next n requests
// with the API key.
func (d *ResponseDropper) Drop(key int16, n int) {
	d.mu.Lock()
	d.armed[key] += n
	d.mu.Unlock()
}

// Listen is a kfake.ListenFn.
func (d *ResponseDropper) Listen(network, address string) (net.Listener, error) {
	l, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	return &dropListener{Listener: l, d: d}, nil
}

type dropListener struct {
	net.Listener
	d *ResponseDropper
}

func (l *dropListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, d: l.d, drop: map[int32]bool{}}, nil
}

// dropConn parses request headers (size, api key, version, correlation id)
// as the broker reads them, and response headers (size, correlation id) as
// it writes them.
type dropConn struct {
	net.Conn
	d *ResponseDropper

	mu      sync.Mutex
	in      []byte // unparsed request bytes
	skipIn  int    // request body bytes still to pass over
	drop    map[int32]bool
	dropped bool
}

var errDropped = errors.New("kafkatest: response dropped")

func (c *dropConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.in = append(c.in, b[:n]...)
	for {
		if c.skipIn > 0 {
			k := min(c.skipIn, len(c.in))
			c.in, c.skipIn = c.in[k:], c.skipIn-k
			if c.skipIn > 0 {
				break
			}
		}
		if len(c.in) < 12 {
			break
		}
		size := int(binary.BigEndian.Uint32(c.in))
		key := int16(binary.BigEndian.Uint16(c.in[4:]))
		corr := int32(binary.BigEndian.Uint32(c.in[8:]))
		c.d.mu.Lock()
		if c.d.armed[key] > 0 {
			c.d.armed[key]--
			c.drop[corr] = true
		}
		c.d.mu.Unlock()
		c.skipIn = 4 + size
	}
	return n, err
}

func (c *dropConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dropped {
		return 0, errDropped
	}
	// Each write is one or more whole response frames.
	for off := 0; off+8 <= len(b); {
		size := int(binary.BigEndian.Uint32(b[off:]))
		corr := int32(binary.BigEndian.Uint32(b[off+4:]))
		if c.drop[corr] && c.d.Delay > 0 {
			delete(c.drop, corr)
			c.d.mu.Lock()
			c.d.Dropped++
			c.d.mu.Unlock()
			time.Sleep(c.d.Delay)
			off += 4 + size
			continue
		}
		if c.drop[corr] {
			c.dropped = true
			c.d.mu.Lock()
			c.d.Dropped++
			c.d.mu.Unlock()
			if off > 0 {
				_, _ = c.Conn.Write(b[:off])
			}
			c.Conn.Close()
			return 0, errDropped
		}
		off += 4 + size
	}
	return c.Conn.Write(b)
}
