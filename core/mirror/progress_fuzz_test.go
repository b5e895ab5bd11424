package mirror

import (
	"testing"
	"time"
)

// FuzzParsePosition: the progress group's metadata is read back on every
// invocation, and anyone who can commit offsets to the group can write it.
// Whatever it holds, parsing must not panic; what it accepts must be
// consistent (a last copied offset before the position, both offsets known
// or neither) and survive a write and a re-read unchanged.
func FuzzParsePosition(f *testing.F) {
	good := Position{Next: 100, LastUpstream: 99, LastDownstream: 41, Committed: time.UnixMilli(1700000000000), SourceID: "AAAAAAAAAAAAAAAAAAAAAA", Epoch: 7, HasEpoch: true}
	f.Add(good.Next, good.metadata())
	f.Add(int64(0), Position{LastUpstream: -1, LastDownstream: -1, Committed: time.UnixMilli(0)}.metadata())
	for _, m := range []string{
		"",
		"mirrorless/v1",
		"mirrorless/v10 up=1 down=1 t=1",
		"mirrorless/v2 up=1 down=1 t=1",
		"mirrorless/v1 up=abc down=1 t=1",
		"mirrorless/v1 up=5 down=-1 t=1",
		"mirrorless/v1 up=1 up=2 down=1 t=1",
		"mirrorless/v1 up=1 down=1 t=1 src=",
		"mirrorless/v1 up=1 down=1 t=1 future=yes",
		"mirrorless/v1 up=1 down=1 t=1 e=0",
		"mirrorless/v1 up=1 down=1 t=1 e=-1",
		"mirrorless/v1 up=1 down=1 t=1 e=2147483648",
		"mirrorless/v1 up=99999999999999999999 down=1 t=1",
		"mirrorless/v1 up=-2 down=-2 t=-5",
		"mirrorless/v1\tup=1\ndown=1 t=1 src=x",
		"some other tool's metadata",
	} {
		f.Add(int64(100), m)
	}
	f.Fuzz(func(t *testing.T, offset int64, meta string) {
		p, err := parsePosition(offset, meta)
		if err != nil {
			return
		}
		if p.Next != offset || p.Next < 0 {
			t.Fatalf("accepted %q at %d as position %d", meta, offset, p.Next)
		}
		if p.HasEpoch && p.Epoch < 0 || !p.HasEpoch && p.Epoch != 0 {
			t.Fatalf("accepted epoch %d (known: %v) from %q", p.Epoch, p.HasEpoch, meta)
		}
		if (p.LastUpstream < 0) != (p.LastDownstream < 0) || p.LastUpstream < -1 || p.LastDownstream < -1 || p.LastUpstream >= p.Next {
			t.Fatalf("accepted an inconsistent position %+v from %q", p, meta)
		}
		again, err := parsePosition(p.Next, p.metadata())
		if err != nil {
			t.Fatalf("%+v (from %q) writes %q, which does not parse: %v", p, meta, p.metadata(), err)
		}
		if again.Next != p.Next || again.LastUpstream != p.LastUpstream || again.LastDownstream != p.LastDownstream ||
			!again.Committed.Equal(p.Committed) || again.SourceID != p.SourceID || again.Epoch != p.Epoch || again.HasEpoch != p.HasEpoch {
			t.Fatalf("%q reads as %+v, re-reads as %+v", meta, p, again)
		}
	})
}
