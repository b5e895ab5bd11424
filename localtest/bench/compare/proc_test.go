package main

import (
	"net"
	"os"
	"testing"
)

func TestProcHexAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:19292": "0100007F:4B5C",
		"localhost:9092":  "0100007F:2384",
		"10.1.2.3:1":      "0302010A:0001",
		"broker:9092":     "",
		"127.0.0.1":       "",
		"[::1]:9092":      "",
	} {
		if got := procHexAddr(in); got != want {
			t.Errorf("procHexAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

// The tracker counts each connection to a watched address once, however
// often it samples, and nothing to other addresses.
func TestConnTracker(t *testing.T) {
	t.Parallel()
	var addrs []string
	for range 2 {
		ln, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen on IPv4 loopback: %v", err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		addrs = append(addrs, ln.Addr().String())
	}
	ct := newConnTracker(os.Getpid(), addrs[:1])
	dial := func(a string) {
		c, err := net.Dial("tcp4", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	dial(addrs[0])
	dial(addrs[1]) // not watched
	ct.sample()
	ct.sample()
	dial(addrs[0])
	ct.sample()
	if got := ct.counts[addrs[0]]; got != 2 {
		t.Errorf("connections to %s = %d, want 2 (counts %v)", addrs[0], got, ct.counts)
	}
	if len(ct.counts) != 1 {
		t.Errorf("counts %v, want only %s", ct.counts, addrs[0])
	}
}
