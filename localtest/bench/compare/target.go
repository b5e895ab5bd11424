package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// firstRecord polls the target topics' high watermarks until one is
// above zero: the moment the copy's first record reached B (to the poll
// interval). The returned function reports it (zero until then); stop ends
// the polling.
// onFirst, if not nil, runs in the polling goroutine right then.
func firstRecord(ctx context.Context, adm *kadm.Client, topics []string, every time.Duration, onFirst func()) (get func() time.Time, stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var mu sync.Mutex
	var first time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			ends, err := adm.ListEndOffsets(ctx, topics...)
			now := time.Now()
			if err == nil {
				found := false
				ends.Each(func(o kadm.ListedOffset) {
					if !found && o.Err == nil && o.Offset > 0 {
						found = true
						if os.Getenv("BENCH_DEBUG") != "" {
							logf("first record: %s/%d end offset %d", o.Topic, o.Partition, o.Offset)
						}
					}
				})
				if found {
					if onFirst != nil {
						onFirst()
					}
					mu.Lock()
					first = now
					mu.Unlock()
					return
				}
			}
			_ = sleep(ctx, every)
		}
	}()
	return func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return first
		}, func() {
			cancel()
			<-done
		}
}

// waitComplete polls until every target partition holds its source
// partition's last record (read_committed), which for a copy that keeps
// order means the copy is complete; verify checks the rest afterwards.
// alive is checked between polls, so a copier that died ends the wait.
func waitComplete(ctx context.Context, o *options, adm *kadm.Client, w *workload, targets []string, alive func() error) error {
	confirmed := map[string]map[int32]bool{}
	want := func(p int32) int64 { return w.PerPart[p] }
	every := 250 * time.Millisecond
	if len(targets) > 50 {
		every = time.Second
	}
	for {
		if err := alive(); err != nil {
			return err
		}
		ends, err := adm.ListEndOffsets(ctx, targets...)
		if err == nil {
			check := map[string]map[int32]kgo.Offset{}
			pending := 0
			ends.Each(func(e kadm.ListedOffset) {
				if e.Partition < 0 || e.Partition >= w.Partitions {
					pending++ // topic not there yet
					return
				}
				if confirmed[e.Topic][e.Partition] {
					return
				}
				pending++
				if e.Err != nil || e.Offset < want(e.Partition) {
					return
				}
				if check[e.Topic] == nil {
					check[e.Topic] = map[int32]kgo.Offset{}
				}
				check[e.Topic][e.Partition] = kgo.NewOffset().At(max(0, e.Offset-8))
			})
			if pending == 0 && len(ends) == len(targets) {
				return nil
			}
			if len(check) > 0 {
				got, err := lastSeqs(ctx, o, check, 3*time.Second)
				if err != nil {
					return err
				}
				for t, ps := range got {
					for p, seq := range ps {
						if seq == want(p)-1 {
							if confirmed[t] == nil {
								confirmed[t] = map[int32]bool{}
							}
							confirmed[t][p] = true
						}
					}
				}
				n := 0
				for _, ps := range confirmed {
					n += len(ps)
				}
				if n == len(targets)*int(w.Partitions) {
					return nil
				}
			}
		}
		if err := sleep(ctx, every); err != nil {
			return err
		}
	}
}

// lastSeqs reads the committed records from the given offsets on B and
// returns the highest sequence number seen per partition.
func lastSeqs(ctx context.Context, o *options, from map[string]map[int32]kgo.Offset, wait time.Duration) (map[string]map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.ConsumePartitions(from),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(200*time.Millisecond))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	out := map[string]map[int32]int64{}
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			if out[r.Topic] == nil {
				out[r.Topic] = map[int32]int64{}
			}
			out[r.Topic][r.Partition] = max(out[r.Topic][r.Partition], seqOf(r))
		})
	}
	return out, nil
}

// verdict is what verify found on one copy.
type verdict struct {
	Records    int64 // records read on the target
	Unique     int64 // distinct source records among them
	Dups       int64 // records read more than once
	Missing    int64 // source records not found
	OutOfOrder int64 // records whose sequence number went backwards
	Mismatch   int64 // records whose key, value, headers or timestamp differ
	Checked    int64 // records compared field by field
	Examples   []string
}

func (v verdict) ok(allowDups bool) bool {
	return v.Missing == 0 && v.Mismatch == 0 && (allowDups || (v.Dups == 0 && v.OutOfOrder == 0))
}

func (v verdict) String() string {
	s := fmt.Sprintf("%d records read, %d distinct, %d compared field by field: %d missing, %d duplicates, %d out of order, %d differing",
		v.Records, v.Unique, v.Checked, v.Missing, v.Dups, v.OutOfOrder, v.Mismatch)
	if len(v.Examples) > 0 {
		s += "; e.g. " + strings.Join(v.Examples, "; ")
	}
	return s
}

type partState struct {
	seen    []uint64 // bitset of sequence numbers
	last    int64
	hwm     int64
	want    int64
	done    bool
	records int64
}

// verify reads every copied record on B (read_committed) and checks it
// against the record the workload generated for its sequence number: all
// of key, value, headers (order included) and timestamp. It counts
// missing, duplicated and reordered records per partition.
func verify(ctx context.Context, o *options, adm *kadm.Client, w *workload, targets []string) (verdict, error) {
	var v verdict
	ends, err := adm.ListEndOffsets(ctx, targets...)
	if err != nil {
		return v, fmt.Errorf("list end offsets on B: %w", err)
	}
	index := map[string]int{}
	for i, t := range targets {
		index[t] = i
	}
	state := map[string][]*partState{}
	from := map[string]map[int32]kgo.Offset{}
	open := 0
	for _, t := range targets {
		ps := make([]*partState, w.Partitions)
		for p := range ps {
			n := w.PerPart[p]
			ps[p] = &partState{seen: make([]uint64, (n+63)/64), last: -1, want: n}
			e, ok := ends.Lookup(t, int32(p))
			if !ok || e.Err != nil {
				return v, fmt.Errorf("no end offset for %s/%d on B (%v)", t, p, e.Err)
			}
			ps[p].hwm = e.Offset
			if e.Offset == 0 {
				ps[p].done = true
				continue
			}
			if from[t] == nil {
				from[t] = map[int32]kgo.Offset{}
			}
			from[t][int32(p)] = kgo.NewOffset().AtStart()
			open++
		}
		state[t] = ps
	}
	example := func(format string, args ...any) {
		if len(v.Examples) < 5 {
			v.Examples = append(v.Examples, fmt.Sprintf(format, args...))
		}
	}
	if open > 0 {
		cl, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.ConsumePartitions(from),
			kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(500*time.Millisecond))
		if err != nil {
			return v, err
		}
		defer cl.Close()
		var exp kgo.Record
		lastProgress := time.Now()
		for open > 0 {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			fs := cl.PollFetches(pctx)
			cancel()
			if ctx.Err() != nil {
				return v, ctx.Err()
			}
			got := 0
			fs.EachRecord(func(r *kgo.Record) {
				got++
				st := state[r.Topic][r.Partition]
				if st.done {
					return
				}
				st.records++
				v.Records++
				seq := seqOf(r)
				if seq < 0 || seq >= st.want {
					v.Mismatch++
					example("%s/%d offset %d: sequence header %d outside [0,%d)", r.Topic, r.Partition, r.Offset, seq, st.want)
				} else {
					if st.seen[seq/64]&(1<<(seq%64)) != 0 {
						v.Dups++
					} else {
						st.seen[seq/64] |= 1 << (seq % 64)
						v.Unique++
					}
					if seq < st.last {
						v.OutOfOrder++
					}
					st.last = seq
					w.record(index[r.Topic], r.Partition, seq, &exp)
					v.Checked++
					if why := differs(r, &exp); why != "" {
						v.Mismatch++
						example("%s/%d seq %d: %s", r.Topic, r.Partition, seq, why)
					}
				}
				if r.Offset+1 >= st.hwm || (seq == st.want-1 && r.Offset+2 >= st.hwm) {
					st.done = true
					open--
				}
			})
			if got > 0 {
				lastProgress = time.Now()
			} else if time.Since(lastProgress) > 15*time.Second {
				example("%d partitions still short of their end offset after 15 s without records", open)
				break
			}
		}
	}
	for _, t := range targets {
		for p, st := range state[t] {
			var seen int64
			for _, b := range st.seen {
				seen += int64(popcount(b))
			}
			if miss := st.want - seen; miss > 0 {
				v.Missing += miss
				example("%s/%d: %d of %d records missing", t, p, miss, st.want)
			}
		}
	}
	return v, nil
}

func popcount(x uint64) int {
	n := 0
	for x != 0 {
		x &= x - 1
		n++
	}
	return n
}

// differs says how a copied record differs from the source record, or "".
func differs(got, want *kgo.Record) string {
	switch {
	case !bytes.Equal(got.Key, want.Key):
		return "key differs"
	case !bytes.Equal(got.Value, want.Value):
		return fmt.Sprintf("value differs (%d bytes, want %d)", len(got.Value), len(want.Value))
	case got.Timestamp.UnixMilli() != want.Timestamp.UnixMilli():
		return fmt.Sprintf("timestamp %d, want %d", got.Timestamp.UnixMilli(), want.Timestamp.UnixMilli())
	case len(got.Headers) != len(want.Headers):
		return fmt.Sprintf("%d headers, want %d", len(got.Headers), len(want.Headers))
	}
	for i := range got.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || !bytes.Equal(got.Headers[i].Value, want.Headers[i].Value) {
			return fmt.Sprintf("header %d (%s) differs", i, got.Headers[i].Key)
		}
	}
	return ""
}

// remoteNames maps the workload's source topics to a prefix.
func remoteNames(prefix string, w *workload) []string {
	out := make([]string, len(w.Topics))
	for i, t := range w.Topics {
		out[i] = prefix + "." + t
	}
	sort.Strings(out) // same order as w.Topics: names are zero-padded
	return out
}
