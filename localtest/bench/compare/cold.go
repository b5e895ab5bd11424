package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// coldRun is one cold start: from the start (process exec, or the invoke
// request to a fresh emulator) to the first record produced on B.
type coldRun struct {
	Mode    string        // "process" or "lambda-rie"
	ToFirst time.Duration // start -> first copied record readable (read_uncommitted) on B
	Total   time.Duration // start -> invocation finished
	Err     string
}

// measureCold copies 100 new records of a one-partition topic per run,
// each run starting cold: a new mirror process, or a new Lambda Runtime
// Interface Emulator that starts the bootstrap on its first invoke.
func measureCold(ctx context.Context, o *options, admA, admB *kadm.Client, runs int) ([]coldRun, error) {
	const topic, alias = "bench-cold", "CS"
	if err := recreateTopics(ctx, admA, "A", []string{topic}, 1); err != nil {
		return nil, err
	}
	props := mirrorProps(o, alias, topic)
	logPath := filepath.Join(o.work, "cold.log")
	if _, err := invoke(ctx, o.reconcileBin, props, logPath); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	remote := alias + "." + topic
	if err := waitLeaders(ctx, admB, []string{remote}, 1, time.Minute); err != nil {
		return nil, err
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(o.a), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	modes := []string{"process"}
	if o.rie != "" {
		modes = append(modes, "lambda-rie")
	}
	var out []coldRun
	for _, mode := range modes {
		for i := range runs {
			recs := make([]*kgo.Record, 100)
			for j := range recs {
				recs[j] = &kgo.Record{Value: []byte(fmt.Sprintf("cold %s %d %d", mode, i, j))}
			}
			if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				return nil, err
			}
			c := coldRun{Mode: mode}
			var err error
			if mode == "process" {
				err = coldProcess(ctx, o, admB, remote, props, logPath, &c)
			} else {
				err = coldRIE(ctx, o, admB, remote, props, logPath, &c)
			}
			if err != nil {
				c.Err = err.Error()
				logf("  cold start %s: %v", mode, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// firstOnB returns a channel that receives the time the first new record
// of the topic is readable on B (read_uncommitted: produced, not yet
// committed). The consumer has fetched once before it returns.
func firstOnB(ctx context.Context, o *options, admB *kadm.Client, topic string) (<-chan time.Time, func(), error) {
	ends, err := admB.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	e, ok := ends.Lookup(topic, 0)
	if !ok || e.Err != nil {
		return nil, nil, fmt.Errorf("end offset of %s: %v", topic, e.Err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(o.b), kgo.FetchMaxWait(100*time.Millisecond),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(e.Offset)}}))
	if err != nil {
		return nil, nil, err
	}
	// One empty fetch first, so the connection and metadata are ready.
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	cl.PollFetches(wctx)
	cancel()
	ch := make(chan time.Time, 1)
	ctx, cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			if fs.NumRecords() > 0 {
				ch <- time.Now()
				return
			}
		}
	}()
	return ch, func() { cancel(); <-done; cl.Close() }, nil
}

func coldProcess(ctx context.Context, o *options, admB *kadm.Client, remote, props, logPath string, c *coldRun) error {
	ch, stop, err := firstOnB(ctx, o, admB, remote)
	if err != nil {
		return err
	}
	defer stop()
	t0 := time.Now()
	inv, err := invoke(ctx, o.mirrorBin, props, logPath)
	c.Total = time.Since(t0)
	if err != nil {
		return err
	}
	if inv.Sum.Records == 0 {
		return fmt.Errorf("the invocation copied nothing")
	}
	select {
	case at := <-ch:
		c.ToFirst = at.Sub(t0)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no record seen on B")
	}
	return nil
}

// coldRIE starts a fresh emulator with the mirror program as its
// bootstrap, waits until it accepts requests, then invokes it: the
// emulator starts the bootstrap (Lambda's init) on that first invoke.
func coldRIE(ctx context.Context, o *options, admB *kadm.Client, remote, props, logPath string, c *coldRun) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	rieAddr, apiAddr := "127.0.0.1:"+ports[0], "127.0.0.1:"+ports[1]
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(o.rie, "--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, "--log-level", "warn", o.mirrorBin)
	cmd.Env = childEnv("MIRROR_PROPERTIES="+props, "AWS_LAMBDA_FUNCTION_TIMEOUT=60", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the emulator: %w", err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the emulator and the bootstrap it started
		_ = cmd.Wait()
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cn, err := net.DialTimeout("tcp", rieAddr, 200*time.Millisecond)
		if err == nil {
			cn.Close()
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the emulator did not listen on %s", rieAddr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	ch, stop, err := firstOnB(ctx, o, admB, remote)
	if err != nil {
		return err
	}
	defer stop()
	t0 := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+rieAddr+"/2015-03-31/functions/function/invocations", strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("invoke: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.Total = time.Since(t0)
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"ok":true`)) {
		return fmt.Errorf("invoke: HTTP %d: %.300s", resp.StatusCode, body)
	}
	select {
	case at := <-ch:
		c.ToFirst = at.Sub(t0)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("no record seen on B")
	}
	return nil
}

func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	var out []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, fmt.Sprint(l.Addr().(*net.TCPAddr).Port))
	}
	for _, l := range ls {
		l.Close()
	}
	return out, nil
}
