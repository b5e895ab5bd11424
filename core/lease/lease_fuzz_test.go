package lease

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseLease: lease entries are consumer-group offsets anyone with
// access to the group can write. Parsing must not panic, and a lease it
// accepts is what Claim would have written: the same entry again.
func FuzzParseLease(f *testing.F) {
	f.Add(time.Now().Add(time.Minute).UnixMilli(), metaPrefix+"host-4711-0a1b2c3d")
	for _, m := range []string{"", metaPrefix, "mirrorless-lease/v1", "mirrorless-lease/v2 x", metaPrefix + "\x00", metaPrefix + "a\nb", metaPrefix + "\xff", "garbage"} {
		f.Add(int64(1), m)
	}
	f.Add(int64(-1), metaPrefix+"owner")
	f.Fuzz(func(t *testing.T, offset int64, meta string) {
		l, err := parseLease(offset, meta)
		if err != nil {
			return
		}
		if l.Owner == "" || l.Expiry.UnixMilli() != offset || offset < 0 {
			t.Fatalf("(%d, %q) parsed as %+v", offset, meta, l)
		}
		if again, err := parseLease(l.Expiry.UnixMilli(), metaPrefix+l.Owner); err != nil || again != l {
			t.Fatalf("%+v re-reads as %+v, %v", l, again, err)
		}
		if !strings.HasPrefix(meta, metaPrefix) {
			t.Fatalf("accepted %q without the lease prefix", meta)
		}
	})
}
