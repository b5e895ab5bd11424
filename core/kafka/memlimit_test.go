package kafka

import "testing"

func TestMemoryLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ mb, want int64 }{
		{256, 228170137},
		{512, 456340275},
		{1769, 1576691302},
	} {
		if got := MemoryLimit(tc.mb); got != tc.want {
			t.Errorf("MemoryLimit(%d) = %d, want %d", tc.mb, got, tc.want)
		}
	}
}
