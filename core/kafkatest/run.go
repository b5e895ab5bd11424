package kafkatest

import "testing"

// EachPair runs body twice, as the subtests "kfake" (two in-process
// clusters) and "real" (the real pair of Real: skipped without it, failed
// under CI=true). Behaviour that depends on the broker is checked on both
// by one body; a body that needs a different size per tier reads p.Real.
func EachPair(t *testing.T, body func(t *testing.T, p Pair)) {
	t.Helper()
	t.Run("kfake", func(t *testing.T) { body(t, Kfake(t)) })
	t.Run("real", func(t *testing.T) { body(t, Real(t)) })
}
