package runner

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/mirrorless/mirrorless/core/kafka"
)

// memoryLimit is the soft memory limit to give the Go runtime: none when
// GOMEMLIMIT is set (the runtime already read it) or when not in Lambda;
// otherwise kafka.MemoryLimit of AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB). It
// is here, not in core, because reading Lambda's environment is the
// runner's job.
func memoryLimit(getenv func(string) string) (limit int64, reason string, err error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
		n, ok := parseByteCount(v)
		if !ok {
			// The Go runtime reads GOMEMLIMIT before main and stops
			// on a value it cannot parse ("fatal error: malformed
			// GOMEMLIMIT", exit 2), so this is reached only if a
			// runtime stops doing so.
			return 0, "", fmt.Errorf("GOMEMLIMIT=%s is not a byte count: use e.g. 200MiB or 209715200, or off (see go doc runtime/debug.SetMemoryLimit)", strconv.Quote(clip(v, 64)))
		}
		if n < minMemoryLimit {
			return 0, "", fmt.Errorf("GOMEMLIMIT=%s is below %d MiB: the collector would run without pause; give at least %dMiB, or unset it (in Lambda, mirrorless sets 85%% of the function's memory)", strconv.Quote(v), minMemoryLimit>>20, minMemoryLimit>>20)
		}
		return 0, "GOMEMLIMIT=" + v + " (set by the user)", nil
	}
	v := strings.TrimSpace(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	if v == "" {
		return 0, "not in Lambda", nil
	}
	mb, err := strconv.ParseInt(v, 10, 64)
	if err != nil || mb <= 0 {
		return 0, "", fmt.Errorf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE: %q is not a number of MB", v)
	}
	return kafka.MemoryLimit(mb), fmt.Sprintf("%d%% of AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d MB", int(kafka.MemoryShare*100), mb), nil
}

// applyMemoryLimit sets the runtime's soft memory limit as memoryLimit
// says, once at start-up, and returns the limit set (0 for none) and why.
func applyMemoryLimit() (int64, string, error) {
	limit, reason, err := memoryLimit(os.Getenv)
	if err != nil || limit == 0 {
		return 0, reason, err
	}
	debug.SetMemoryLimit(limit)
	return limit, reason, nil
}

// minMemoryLimit is the smallest GOMEMLIMIT mirrorless runs with: the
// runtime accepts any, but below a few MiB the collector runs all the time.
const minMemoryLimit = 16 << 20

// parseByteCount parses GOMEMLIMIT as the Go runtime does: "off", or a
// non-negative integer with an optional unit B, KiB, MiB, GiB or TiB.
// "off" counts as no limit (math.MaxInt64).
func parseByteCount(s string) (int64, bool) {
	if s == "off" {
		return math.MaxInt64, true
	}
	unit := int64(1)
	for _, u := range []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = rest, 1<<u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || s[0] == '+' {
		return 0, false
	}
	if n > math.MaxInt64/unit {
		return math.MaxInt64, true // the runtime saturates too
	}
	return n * unit, true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
