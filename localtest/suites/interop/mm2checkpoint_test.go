package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// MirrorMaker 2's own checkpoint connector reads the offset syncs
// mirrorless writes (issue 16: MM2's connector semantics can still read
// our syncs). mirrorless copies a topic and writes its syncs; then a real
// MirrorMaker 2 (4.1.1, dedicated mode, offset-syncs.topic.location =
// target, its source consumer starting at the latest offset so it copies
// nothing) translates the same groups from those syncs. Its checkpoints
// never put a group past where it stopped (nothing skipped); they may be
// earlier than mirrorless' exact ones, by at most the records between two
// of our syncs (MM2's rule, without our header).
// mm2Log4j sends MirrorMaker 2's log to the file named by -Dmm2.log.
const mm2Log4j = `status = warn
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:mm2.log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = FILE
`

// mm2Process is a MirrorMaker 2 (dedicated mode, from its Maven artifacts)
// running in a process group of its own, logging to a file.
type mm2Process struct {
	cmd    *exec.Cmd
	log    string
	killed bool
}

// startMM2 runs MirrorMaker 2 over the flow src->tgt of the real pair
// (tgt->src off, one task, replication factor 1 for every topic it
// creates) with the lines of the test's own; it is killed when the test
// ends if the test has not killed it.
func startMM2(t *testing.T, lib string, pair kafkatest.Pair, src, tgt string, lines ...string) *mm2Process {
	t.Helper()
	work := t.TempDir()
	props := strings.Join(append([]string{
		"clusters = " + src + ", " + tgt,
		src + ".bootstrap.servers = " + pair.A,
		tgt + ".bootstrap.servers = " + pair.B,
		src + "->" + tgt + ".enabled = true",
		tgt + "->" + src + ".enabled = false",
		tgt + "->" + src + ".emit.heartbeats.enabled = false",
		"tasks.max = 1",
		"replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"offset.storage.replication.factor = 1",
		"status.storage.replication.factor = 1",
		"config.storage.replication.factor = 1",
	}, append(lines, "")...), "\n")
	if err := os.WriteFile(filepath.Join(work, "mm2.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	l4j := filepath.Join(work, "log4j2.properties")
	if err := os.WriteFile(l4j, []byte(mm2Log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(work, "mm2.out"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { out.Close() })
	m := &mm2Process{log: filepath.Join(work, "mm2.log")}
	m.cmd = exec.Command("java", "-Xmx512M", "-Dlog4j2.configurationFile=file:"+l4j, "-Dmm2.log="+m.log,
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.mirror.MirrorMaker", filepath.Join(work, "mm2.properties"))
	m.cmd.Stdout, m.cmd.Stderr = out, out
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.kill)
	return m
}

// kill ends MirrorMaker 2 with SIGKILL (no clean shutdown, no last offset
// flush), once.
func (m *mm2Process) kill() {
	if !m.killed {
		m.killed = true
		_ = syscall.Kill(-m.cmd.Process.Pid, syscall.SIGKILL)
		_ = m.cmd.Wait()
	}
}

// tail is the end of MirrorMaker 2's log, for a failure message.
func (m *mm2Process) tail() []byte {
	b, _ := os.ReadFile(m.log)
	return b[max(0, len(b)-3000):]
}

func TestMM2CheckpointConnectorReadsOurSyncs(t *testing.T) {
	pair := kafkatest.Real(t)
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is needed to run MirrorMaker 2: %v", err)
	}
	lib := mm2Lib(t)
	ctx := context.Background()
	src, tgt := alias("s"), alias("t")
	topic := kafkatest.Unique(t, "mm2cp")
	remote := src + "." + topic
	prefix := kafkatest.Unique(t, "g")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 500)

	a := newInvoker(t, ctx, flowProps(pair, src, tgt, src+"->"+tgt+".topics = "+topic, src+"->"+tgt+".groups = "+prefix+".*"), 50)
	if _, err := a.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Mirror(ctx, invocation.NewOwner("")); err != nil {
		t.Fatal(err)
	}
	at := []int64{0, 49, 50, 137, 250, 499, 500}
	group := func(u int64) string { return fmt.Sprintf("%s.%03d", prefix, u) }
	adm := kafkatest.Admin(t, pair.A)
	for _, u := range at {
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: u, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, group(u), os); err != nil {
			t.Fatal(err)
		}
	}
	// MirrorMaker 2 runs first: its checkpoint task seeds its last
	// checkpoints from the checkpoints topic and emits only forward, so
	// with mirrorless' exact checkpoints already there (never behind its
	// own) it would write none.

	mm2 := startMM2(t, lib, pair, src, tgt,
		src+"->"+tgt+".topics = "+topic,
		src+"->"+tgt+".groups = "+prefix+".*",
		"offset-syncs.topic.location = target",
		"emit.checkpoints.interval.seconds = 1",
		"refresh.groups.interval.seconds = 1",
		src+".consumer.auto.offset.reset = latest",
		"consumer.auto.offset.reset = latest")
	theirs := map[string]int64{}
	for deadline := time.Now().Add(3 * time.Minute); len(theirs) < len(at); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatalf("MirrorMaker 2 wrote checkpoints for %d of %d groups in 3 minutes (%v); its log ends:\n%s", len(theirs), len(at), theirs, mm2.tail())
		}
		for _, r := range kafkatest.ReadAll(t, pair.B, src+".checkpoints.internal") {
			if cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value); err == nil && !r.Attrs.IsTransactional() && strings.HasPrefix(cp.Group, prefix) {
				theirs[cp.Group] = cp.Downstream
			}
		}
	}
	mm2.kill()
	if _, err := a.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	ours := map[string]int64{}
	for _, r := range kafkatest.ReadAll(t, pair.B, src+".checkpoints.internal") {
		if cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value); err == nil && r.Attrs.IsTransactional() {
			ours[cp.Group] = cp.Downstream
		}
	}
	if n := remoteCount(t, pair.B, remote); n > 0 && len(kafkatest.ReadAll(t, pair.B, remote)) != 500 {
		t.Fatalf("MirrorMaker 2 copied records: the remote topic holds %d", len(kafkatest.ReadAll(t, pair.B, remote)))
	}
	copies := kafkatest.ReadAll(t, pair.B, remote)
	firstSeq := func(offset int64) int64 {
		for _, r := range copies {
			if r.Offset >= offset {
				return kafkatest.Seq(r)
			}
		}
		return 500 // at the end
	}
	for _, u := range at {
		g := group(u)
		mm2, mine := theirs[g], ours[g]
		reread := u - firstSeq(mm2)
		t.Logf("group at %d: MirrorMaker 2's checkpoint %d (re-reads %d), mirrorless' %d (re-reads %d)", u, mm2, reread, mine, u-firstSeq(mine))
		if firstSeq(mine) != u {
			t.Errorf("group at %d: mirrorless' checkpoint %d resumes at seq %d", u, mine, firstSeq(mine))
		}
		if reread < 0 || mm2 > mine {
			t.Errorf("group at %d: MirrorMaker 2's checkpoint %d skips records (first seq %d; ours %d)", u, mm2, firstSeq(mm2), mine)
		}
	}
}
