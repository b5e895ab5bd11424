package kafka

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// lambdaMemoryShare is the part of the Lambda function's memory the Go heap
// may grow to before the collector works harder: the rest is for the
// runtime's own memory, goroutine stacks and the Lambda runtime client.
const lambdaMemoryShare = 0.85

// MemoryLimit is the soft memory limit to give the Go runtime: none when
// GOMEMLIMIT is set (the runtime already read it) or when not in Lambda;
// otherwise 85% of AWS_LAMBDA_FUNCTION_MEMORY_SIZE (MB). Without a limit the
// collector lets the heap grow to twice what is live, which in a 256 MB
// function is the difference between a copy that fits and one that is
// killed for running out of memory; with it, the collector runs more often
// near the limit instead.
func MemoryLimit(getenv func(string) string) (limit int64, reason string, err error) {
	if v := getenv("GOMEMLIMIT"); v != "" {
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
	limit = int64(float64(mb<<20) * lambdaMemoryShare)
	return limit, fmt.Sprintf("%d%% of AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d MB", int(lambdaMemoryShare*100), mb), nil
}

// ApplyMemoryLimit sets the runtime's soft memory limit as MemoryLimit
// says, once at start-up, and returns the limit set (0 for none) and why.
func ApplyMemoryLimit() (int64, string, error) {
	limit, reason, err := MemoryLimit(os.Getenv)
	if err != nil || limit == 0 {
		return 0, reason, err
	}
	debug.SetMemoryLimit(limit)
	return limit, reason, nil
}
