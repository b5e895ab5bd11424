package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// mm2Props is a dedicated-mode MM2 properties file for one flow <alias>->B,
// at MM2's defaults except what a single-broker pair needs (replication
// factors 1) and tasks.max = 2; exactly-once adds the two keys MM2 needs.
func mm2Props(o *options, alias, topics string, eos bool) string {
	lines := []string{
		"# written by localtest/bench/compare",
		"clusters = " + alias + ", B",
		alias + ".bootstrap.servers = " + o.a,
		"B.bootstrap.servers = " + o.b,
		alias + "->B.enabled = true",
		alias + "->B.topics = " + topics,
		"B->" + alias + ".enabled = false",
		"B->" + alias + ".emit.heartbeats.enabled = false",
		"tasks.max = 2",
		"replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"offset.storage.replication.factor = 1",
		"status.storage.replication.factor = 1",
		"config.storage.replication.factor = 1",
	}
	if eos {
		lines = append(lines,
			"B.exactly.once.source.support = enabled",
			alias+".consumer.isolation.level = read_committed")
	}
	return strings.Join(append(lines, ""), "\n")
}

const mm2Log4j = `status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:mm2.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
`

// runMM2 copies the workload with MirrorMaker 2 in dedicated mode
// (org.apache.kafka.connect.mirror.MirrorMaker) into <alias>.<topic> on B:
// it starts the JVM, waits until every target partition holds its source's
// last record, reads the JVM's CPU and peak RSS from /proc at that moment
// (and when the first record arrived, to split start-up from copying),
// then stops it.
func runMM2(ctx context.Context, o *options, admB *kadm.Client, w *workload, eos bool) (*result, error) {
	method, alias := "mm2", "MMA"
	if eos {
		method, alias = "mm2-eos", "MME"
	}
	r := &result{Workload: w.Name, Method: method, Records: w.total(), Bytes: w.payloadBytes()}
	propsPath := filepath.Join(o.work, method+"-"+w.Name+".properties")
	if err := os.WriteFile(propsPath, []byte(mm2Props(o, alias, w.topicRegex(), eos)), 0o644); err != nil {
		return nil, err
	}
	l4j := filepath.Join(o.work, "mm2-log4j2.properties")
	if err := os.WriteFile(l4j, []byte(mm2Log4j), 0o644); err != nil {
		return nil, err
	}
	logPath := filepath.Join(o.work, method+"-"+w.Name+".log")
	out, err := os.Create(filepath.Join(o.work, method+"-"+w.Name+".stdout"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	targets := remoteNames(alias, w)

	args := append(strings.Fields(o.mm2Heap),
		"-Dlog4j2.configurationFile=file:"+l4j, "-Dmm2.log="+logPath,
		"-cp", filepath.Join(o.mm2Lib, "*"), "org.apache.kafka.connect.mirror.MirrorMaker", propsPath)
	cmd := exec.Command(o.java, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	t0 := time.Now()
	cpu0 := o.brokers.sample()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start MirrorMaker: %w", err)
	}
	var atFirst usage
	sampled := false // written before first() is set, read after
	first, stopFirst := firstRecord(ctx, admB, targets, 50*time.Millisecond, func() {
		if u, err := procUsage(cmd.Process.Pid); err == nil {
			atFirst, sampled = u, true
		}
	})
	defer stopFirst()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	defer stop()

	alive := func() error {
		select {
		case err := <-exited:
			stopped = true
			return fmt.Errorf("MirrorMaker exited early (%v); see %s", err, logPath)
		default:
		}
		if time.Since(t0) > o.mm2Timeout {
			return fmt.Errorf("MirrorMaker did not complete the copy within %s; see %s", o.mm2Timeout, logPath)
		}
		return nil
	}
	if err := waitComplete(ctx, o, admB, w, targets, alive); err != nil {
		return nil, err
	}
	r.Wall = time.Since(t0)
	r.Brokers = o.brokers.since(cpu0)
	end, err := procUsage(cmd.Process.Pid)
	if err != nil {
		return nil, fmt.Errorf("read MirrorMaker's usage: %w", err)
	}
	r.CPU, r.MaxRSS = end.CPU, end.MaxRSS
	stopFirst()
	if f := first(); !f.IsZero() {
		r.Startup = f.Sub(t0)
		if sampled {
			r.StartupCPU = atFirst.CPU
		}
	}
	stop()
	if u := rusage(cmd); u.CPU > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("CPU over the JVM's whole life, shutdown included: %s", secs(u.CPU)))
	}
	return r, nil
}

// mm2Cleanup deletes MM2's state topics of an alias on B (and its offset
// syncs on A would be shared, so they stay): each run then starts from
// nothing, as a first deployment does.
func mm2Cleanup(ctx context.Context, admB *kadm.Client, alias string) error {
	names := []string{"mm2-offsets." + alias + ".internal", "mm2-configs." + alias + ".internal", "mm2-status." + alias + ".internal", alias + ".checkpoints.internal"}
	if err := deleteTopics(ctx, admB, "B", names); err != nil {
		return err
	}
	_, err := admB.DeleteGroups(ctx, alias+"-mm2")
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil // best effort: the group may not exist
	}
	return err
}
