//go:build unix

package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// properties selects topics starting with prefix for A->B.
func (b *bench) properties(name, prefix string) (string, error) {
	lines := []string{
		"clusters = A, B",
		"A.bootstrap.servers = " + b.o.a,
		"B.bootstrap.servers = " + b.o.b,
		"A->B.enabled = true",
		"A->B.topics = " + strings.ReplaceAll(prefix, ".", `\.`) + ".*",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
	}
	for _, l := range strings.Split(b.o.extraProps, ";") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	path := filepath.Join(b.o.work, name+".properties")
	return path, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func (b *bench) mirrorBin(ctx context.Context) (string, error) {
	if b.bin != "" {
		return b.bin, nil
	}
	if b.o.bin != "" {
		b.bin = b.o.bin
		return b.bin, nil
	}
	out := filepath.Join(b.o.work, "mirror")
	if err := kafkatest.Build(ctx, out, "functions/mirror", false); err != nil {
		return "", err
	}
	b.bin = out
	return out, nil
}

func (b *bench) createTopics(ctx context.Context, names []string, partitions int32) error {
	for i := 0; i < len(names); i += 100 {
		chunk := names[i:min(i+100, len(names))]
		resp, err := b.admA.CreateTopics(ctx, partitions, 1, nil, chunk...)
		if err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
		if err := resp.Error(); err != nil {
			return fmt.Errorf("create topics: %w", err)
		}
		b.created = append(b.created, chunk...)
	}
	return nil
}

// seed writes n records of size value bytes over the topics' partitions,
// lz4-compressed, with random keys and two headers.
func (b *bench) seed(ctx context.Context, topics []string, partitions int32, n, size int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.o.a), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.MaxBufferedRecords(20000), kgo.UnknownTopicRetries(-1))
	if err != nil {
		return err
	}
	defer cl.Close()
	rng := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	var (
		mu    sync.Mutex
		first error
	)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		key := make([]byte, 16)
		binary.LittleEndian.PutUint64(key, rng.Uint64())
		binary.LittleEndian.PutUint64(key[8:], rng.Uint64())
		t := topics[i%len(topics)]
		p := int32((i / len(topics)) % int(partitions))
		r := &kgo.Record{Topic: t, Partition: p, Key: key, Value: textValue(rng, size),
			Headers: []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(i))}, {Key: "source", Value: []byte("bench")}}}
		cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	logf("seeded %d records of %d bytes over %d topic(s) x %d partitions in %s", n, size, len(topics), partitions, time.Since(t0).Round(time.Millisecond))
	return first
}

// words make text-like values: random within a record, so lz4 finds about
// what it finds in JSON or logs (the same generator as localtest/bench/compare).
var words = []string{
	"alpha ", "bravo ", "charlie ", "delta ", "echo ", "foxtrot ", "golf ", "hotel ",
	"india ", "juliett ", "kilo ", "lima ", "mike ", "november ", "oscar ", "papa ",
	"quebec ", "romeo ", "sierra ", "tango ", "uniform ", "victor ", "whiskey ", "xray ",
	"yankee ", "zulu ", "order-id=", "amount=", "currency=EUR ", "status=ok ", "{\"k\":", "},",
}

func textValue(rng *rand.Rand, size int) []byte {
	val := make([]byte, 0, size+16)
	for len(val) < size {
		x := rng.Uint64()
		for i := 0; i < 8 && len(val) < size; i++ {
			val = append(val, words[x&31]...)
			x >>= 8
		}
	}
	return val[:size]
}

// reconcile creates the remote topics (in process) and waits until B
// shows them with every partition led.
func (b *bench) reconcile(ctx context.Context, props string, remotes []string, partitions int) error {
	a, err := b.app(ctx, props)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		td, err := b.admB.ListTopics(ctx, remotes...)
		if err != nil {
			return err
		}
		ready := 0
		for _, t := range remotes {
			d, ok := td[t]
			if !ok || d.Err != nil || len(d.Partitions) != partitions {
				continue
			}
			led := true
			for _, p := range d.Partitions {
				if p.Leader < 0 || p.Err != nil {
					led = false
				}
			}
			if led {
				ready++
			}
		}
		if ready == len(remotes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d remote topics ready on B", ready, len(remotes))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (b *bench) settingsEnv(props string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "MIRROR_PROPERTIES_FILE=" + props}
	for _, kv := range strings.Split(b.o.extraEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			env = append(env, kv)
		}
	}
	return env
}

// app builds an in-process invocation.Invoker at default settings (plus -env MIRROR_*).
func (b *bench) app(ctx context.Context, props string) (*invocation.Invoker, error) {
	for _, kv := range b.settingsEnv(props) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MIRROR_") {
			os.Setenv(k, v)
		}
	}
	s, err := config.LoadSettings()
	if err != nil {
		return nil, err
	}
	cfg, err := s.LoadConfig()
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("PROFILE_VERBOSE") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return invocation.New(ctx, s, cfg, logger)
}
