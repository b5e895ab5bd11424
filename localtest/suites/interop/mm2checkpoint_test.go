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

	work := t.TempDir()
	props := strings.Join([]string{
		"clusters = " + src + ", " + tgt,
		src + ".bootstrap.servers = " + pair.A,
		tgt + ".bootstrap.servers = " + pair.B,
		src + "->" + tgt + ".enabled = true",
		src + "->" + tgt + ".topics = " + topic,
		src + "->" + tgt + ".groups = " + prefix + ".*",
		tgt + "->" + src + ".enabled = false",
		tgt + "->" + src + ".emit.heartbeats.enabled = false",
		"offset-syncs.topic.location = target",
		"emit.checkpoints.interval.seconds = 1",
		"refresh.groups.interval.seconds = 1",
		src + ".consumer.auto.offset.reset = latest",
		"consumer.auto.offset.reset = latest",
		"tasks.max = 1",
		"replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"offset.storage.replication.factor = 1",
		"status.storage.replication.factor = 1",
		"config.storage.replication.factor = 1",
		"",
	}, "\n")
	if err := os.WriteFile(filepath.Join(work, "mm2.properties"), []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(work, "mm2.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	l4j := filepath.Join(work, "log4j2.properties")
	if err := os.WriteFile(l4j, []byte(mm2Log4j), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(work, "mm2.out")
	cmd := exec.Command("java", "-Xmx512M", "-Dlog4j2.configurationFile=file:"+l4j, "-Dmm2.log="+logPath+".log",
		"-cp", filepath.Join(lib, "*"), "org.apache.kafka.connect.mirror.MirrorMaker", filepath.Join(work, "mm2.properties"))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}()
	theirs := map[string]int64{}
	for deadline := time.Now().Add(3 * time.Minute); len(theirs) < len(at); time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			tail, _ := os.ReadFile(logPath + ".log")
			if os.Getenv("MM2_KEEP_LOG") != "" {
				_ = os.WriteFile(os.Getenv("MM2_KEEP_LOG"), tail, 0o644)
			}
			t.Fatalf("MirrorMaker 2 wrote checkpoints for %d of %d groups in 3 minutes (%v); its output ends:\n%s", len(theirs), len(at), theirs, tail[max(0, len(tail)-3000):])
		}
		for _, r := range kafkatest.ReadAll(t, pair.B, src+".checkpoints.internal") {
			if cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value); err == nil && !r.Attrs.IsTransactional() && strings.HasPrefix(cp.Group, prefix) {
				theirs[cp.Group] = cp.Downstream
			}
		}
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
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
