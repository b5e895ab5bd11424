package kafka

// MemoryShare is the part of a process's memory the Go heap may grow to
// before the collector works harder: the rest is for the runtime's own
// memory, goroutine stacks and, in Lambda, the runtime client.
const MemoryShare = 0.85

// MemoryLimit is the soft memory limit (bytes) to give the Go runtime in a
// process allowed memoryMB in all: MemoryShare of it. Without a limit the
// collector lets the heap grow to twice what is live, which in a 256 MB
// function is the difference between a copy that fits and one that is
// killed for running out of memory; with it, the collector runs more often
// near the limit instead. Where the number comes from (Lambda's
// environment) is the runner's business.
func MemoryLimit(memoryMB int64) int64 { return int64(float64(memoryMB<<20) * MemoryShare) }
