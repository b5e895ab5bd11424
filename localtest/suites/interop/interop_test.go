// Package interop checks that what mirrorless writes is read correctly by
// MirrorMaker 2's own client library, org.apache.kafka:connect-mirror-client,
// resolved from Maven Central and driven by a few lines of Java
// (Interop.java): RemoteClusterUtils.translateOffsets (exact: the consumer
// resumes at the copy of its next record), MirrorClient.remoteConsumerOffsets
// (the 4.1 artifact has no form for several groups at once),
// MirrorClient.upstreamClusters and MirrorClient.replicationHops.
package interop

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

const kafkaVersion = "4.1.1"

// mirrorClientJars resolves connect-mirror-client and its dependencies
// into a cache directory (once) and returns the classpath.
func mirrorClientJars(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("MIRRORLESS_CACHE")
	if cache == "" {
		home, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(home, "mirrorless")
	}
	dir := filepath.Join(cache, "connect-mirror-client-"+kafkaVersion)
	jars := filepath.Join(dir, "jars")
	if m, _ := filepath.Glob(filepath.Join(jars, "connect-mirror-client-*.jar")); len(m) == 0 {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		pom := `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mirrorless</groupId>
  <artifactId>mirror-client-interop</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>connect-mirror-client</artifactId><version>` + kafkaVersion + `</version></dependency>
  </dependencies>
</project>
`
		if err := os.WriteFile(filepath.Join(dir, "pom.xml"), []byte(pom), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("mvn", "-B", "-q", "-f", filepath.Join(dir, "pom.xml"),
			"org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies", "-DoutputDirectory="+jars)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("resolve connect-mirror-client %s from Maven Central: %v\n%s", kafkaVersion, err, out)
		}
	}
	return filepath.Join(jars, "*")
}

func alias(prefix string) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func TestMirrorClientReadsWhatWeWrote(t *testing.T) {
	pair := kafkatest.Real(t)
	for _, tool := range []string{"java", "javac", "mvn"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed to run MM2's client: %v", tool, err)
		}
	}
	classpath := mirrorClientJars(t)
	classes := t.TempDir()
	if out, err := exec.Command("javac", "-cp", classpath, "-d", classes, "Interop.java").CombinedOutput(); err != nil {
		t.Fatalf("javac: %v\n%s", err, out)
	}

	ctx := context.Background()
	src, tgt := alias("s"), alias("t")
	topic := kafkatest.Unique(t, "interop")
	group := kafkatest.Unique(t, "consumer")
	kafkatest.CreateTopic(t, pair.A, topic, 3, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 3, 0, 100)

	a := newInvoker(t, ctx, flowProps(pair, src, tgt, src+"->"+tgt+".topics = "+topic, src+"->"+tgt+".groups = "+group), 9)
	step := func(name string, f func() error) {
		t.Helper()
		if err := f(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	step("reconcile", func() error { _, err := a.Reconcile(ctx); return err })
	step("mirror", func() error { _, err := a.Mirror(ctx, invocation.NewOwner("")); return err })
	os := kadm.Offsets{}
	// Inside a run, at the end, and on the first record of one of the
	// mirror's transactions (of 9 records here).
	want := map[int32]int64{0: 37, 1: 100, 2: 63}
	for p, at := range want {
		os.Add(kadm.Offset{Topic: topic, Partition: p, At: at, LeaderEpoch: -1})
	}
	if _, err := kafkatest.Admin(t, pair.A).CommitOffsets(ctx, group, os); err != nil {
		t.Fatal(err)
	}
	// The first checkpoint run also writes the reverse heartbeat into
	// `heartbeats` on the source; reconcile and mirror then bring it to the
	// target as `<source>.heartbeats`, which MirrorClient looks for.
	step("checkpoint", func() error { _, err := a.Checkpoint(ctx); return err })
	step("reconcile", func() error { _, err := a.Reconcile(ctx); return err })
	step("mirror", func() error { _, err := a.Mirror(ctx, invocation.NewOwner("")); return err })
	step("checkpoint", func() error { _, err := a.Checkpoint(ctx); return err })

	// What we wrote, decoded by our reader.
	ours := map[string]int64{}
	for _, r := range kafkatest.ReadAll(t, pair.B, src+".checkpoints.internal") {
		cp, err := offsetsync.DecodeCheckpoint(r.Key, r.Value)
		if err == nil && cp.Group == group {
			ours[fmt.Sprintf("%s %d", cp.Topic, cp.Partition)] = cp.Downstream
		}
	}
	if len(ours) != 3 {
		t.Fatalf("our checkpoints: %v", ours)
	}

	cmd := exec.Command("java", "-cp", classpath+string(filepath.ListSeparator)+classes, "Interop", pair.B, src, group)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("java Interop: %v\n%s", err, out)
	}
	theirs, client := map[string]int64{}, map[string]int64{}
	var upstream []string
	hops := -2
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 4 && f[0] == "offset":
			n, _ := strconv.ParseInt(f[3], 10, 64)
			theirs[f[1]+" "+f[2]] = n
		case len(f) == 4 && f[0] == "client":
			n, _ := strconv.ParseInt(f[3], 10, 64)
			client[f[1]+" "+f[2]] = n
		case len(f) >= 1 && f[0] == "upstream":
			if len(f) > 1 {
				upstream = strings.Split(f[1], ",")
			}
		case len(f) == 2 && f[0] == "hops":
			hops, _ = strconv.Atoi(f[1])
		}
	}
	t.Logf("RemoteClusterUtils.translateOffsets: %v; ours: %v; hops %d", theirs, ours, hops)
	for k, v := range ours {
		if theirs[k] != v {
			t.Errorf("translateOffsets %s = %d, we wrote %d", k, theirs[k], v)
		}
	}
	if len(theirs) != len(ours) {
		t.Errorf("translateOffsets returned %d partitions, we wrote %d", len(theirs), len(ours))
	}
	// And what MM2's client returns is exactly where the group should
	// resume: a consumer seeking there reads the copy of the group's next
	// record first (nothing re-read, nothing skipped; partition 1 is at
	// the end).
	remote := kafkatest.ByPartition(kafkatest.ReadAll(t, pair.B, src+"."+topic))
	for p, g := range want {
		at, ok := theirs[fmt.Sprintf("%s.%s %d", src, topic, p)]
		if !ok {
			t.Errorf("translateOffsets has no offset for partition %d", p)
			continue
		}
		if mc := client[fmt.Sprintf("%s.%s %d", src, topic, p)]; mc != at {
			t.Errorf("partition %d: MirrorClient.remoteConsumerOffsets %d, translateOffsets %d", p, mc, at)
		}
		first := int64(-1)
		for _, r := range remote[p] {
			if r.Offset >= at {
				first = kafkatest.Seq(r)
				break
			}
		}
		switch {
		case g == 100 && first != -1:
			t.Errorf("partition %d: group at the end, translateOffsets %d reads seq %d", p, at, first)
		case g < 100 && first != g:
			t.Errorf("partition %d: group at %d, translateOffsets %d resumes at seq %d; want exactly %d", p, g, at, first, g)
		}
	}
	found := false
	for _, u := range upstream {
		found = found || u == src
	}
	if !found {
		t.Errorf("MirrorClient.upstreamClusters() = %v, missing %s", upstream, src)
	}
	if hops != 1 {
		t.Errorf("MirrorClient.replicationHops(%s) = %d, want 1", src, hops)
	}
}

// flowProps is an MM2 properties file with one flow, src->tgt, over the
// real pair (replication factor 1 for every topic it creates), and the
// lines of the test's own.
func flowProps(pair kafkatest.Pair, src, tgt string, lines ...string) string {
	return strings.Join(append([]string{
		"clusters = " + src + ", " + tgt,
		src + ".bootstrap.servers = " + pair.A,
		tgt + ".bootstrap.servers = " + pair.B,
		src + "->" + tgt + ".enabled = true",
		"replication.factor = 1",
		"offset-syncs.topic.replication.factor = 1",
		"checkpoints.topic.replication.factor = 1",
		"heartbeats.topic.replication.factor = 1",
	}, lines...), "\n")
}

// newInvoker runs invocations over props with the tests' settings
// (kafkatest.Settings) and batchRecords records per transaction at most,
// logging nothing; it is closed when the test ends.
func newInvoker(t *testing.T, ctx context.Context, props string, batchRecords int) *invocation.Invoker {
	t.Helper()
	s := kafkatest.Settings(t, config.Settings{Properties: props, BatchRecords: batchRecords})
	cfg, err := s.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	a, err := invocation.New(ctx, s, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}
