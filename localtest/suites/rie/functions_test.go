package rie

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/mirrorless/mirrorless/core/kafkatest"
	"github.com/mirrorless/mirrorless/core/metrics"
)

// The three bootstraps in the Lambda runtime loop: reconcile creates the
// remote topic, mirror copies every record exactly once over two warm
// invocations that reuse the clients built at init, checkpoint translates
// a source group; every log line of an invocation carries its request id,
// the metrics are valid EMF on stdout; SIGTERM closes the clients and the
// runtime exits.
func TestFunctionsThroughTheLambdaRuntime(t *testing.T) {
	pair := tools(t)
	topic := kafkatest.Unique(t, "rie")
	const parts, n = 3, 2000
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, n)
	props := kafkatest.Properties(t, pair, "A->B.topics = "+topic, "A->B.groups = "+topic+"-group")

	rec := start(t, "reconcile", 60, env(props)...)
	sum := rec.mustInvoke(t, "reconcile-1")
	if sum["applied"].(float64) < 1 {
		t.Fatalf("reconcile applied nothing: %v", sum)
	}
	if again := rec.mustInvoke(t, "reconcile-2"); again["applied"].(float64) != 0 {
		t.Errorf("second reconcile applied %v changes, want none", again["applied"])
	}
	warmThenSigterm(t, rec)

	mir := start(t, "mirror", 60, env(props)...)
	first := mir.mustInvoke(t, "req-1")
	if first["records"] != float64(parts*n) || first["lag_left"] != 0.0 {
		t.Fatalf("first invocation: %v records, lag %v; want %d, 0", first["records"], first["lag_left"], parts*n)
	}
	second := mir.mustInvoke(t, "req-2")
	if second["records"] != 0.0 {
		t.Fatalf("second invocation copied %v records again", second["records"])
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), parts, n); err != nil {
		t.Fatal(err)
	}

	// Both invocations' metrics are out before the lines are read.
	if !mir.out.waitLine(func(l map[string]any) bool {
		return l["request_id"] == "req-2" && l["Function"] == "mirror" && l[metrics.InvocationDurationMs] != nil
	}, 5*time.Second) {
		t.Errorf("no invocation metrics for req-2:\n%s", tail(mir.out.String(), 10))
	}
	lines := mir.out.jsonLines()
	// Request ids on every log line of an invocation; EMF valid and
	// carrying the invocation's numbers.
	var emf, logs int
	var flowRecords, partitionDocs int
	initDone := false // lines up to "clients built" are the init's
	for _, l := range lines {
		if _, ok := l["_aws"]; ok {
			emf++
			raw, _ := json.Marshal(l)
			if err := metrics.Validate(raw); err != nil {
				t.Errorf("EMF line: %v", err)
			}
			// The deployment's name on every set (the default: the
			// emulator's environment does not set MIRROR_DEPLOYMENT).
			if l["Deployment"] != "mirrorless" {
				t.Errorf("EMF line without Deployment=mirrorless: %v", l)
			}
			if l["request_id"] == "req-1" && l["Flow"] == "A->B" {
				if _, perTopic := l["Topic"]; perTopic {
					if _, perPartition := l["Partition"]; perPartition {
						partitionDocs++
					}
					if l["ReplicationLagRecords"] != 0.0 {
						t.Errorf("topic %v partition %v lag %v after catching up", l["Topic"], l["Partition"], l["ReplicationLagRecords"])
					}
					continue
				}
				if l[metrics.ReplicationLagSeconds] != 0.0 {
					t.Errorf("%s = %v after catching up, want 0", metrics.ReplicationLagSeconds, l[metrics.ReplicationLagSeconds])
				}
				flowRecords = int(l["RecordsReplicated"].(float64))
				for _, name := range []string{metrics.ReplicationLatencyMs, metrics.ReplicationLatencyMax, metrics.RecordAgeMs, metrics.RecordAgeMax} {
					if v, ok := l[name].(float64); !ok || v <= 0 {
						t.Errorf("%s = %v, want a positive latency (the records are from 2020)", name, l[name])
					}
				}
			}
			continue
		}
		if _, ok := l["level"]; !ok {
			continue
		}
		logs++
		if !initDone {
			initDone = l["msg"] == "clients built"
			continue
		}
		if id := l["request_id"]; id != "req-1" && id != "req-2" {
			t.Errorf("log line without the invocation's request id: %v", l)
		}
	}
	if flowRecords != parts*n || partitionDocs != parts {
		t.Errorf("EMF: RecordsReplicated %d (want %d), %d per-partition lag documents (want %d)", flowRecords, parts*n, partitionDocs, parts)
	}
	t.Logf("%d log lines, %d EMF documents", logs, emf)

	// Warm reuse (the clients are built once per environment, at init,
	// not per invocation); SIGTERM: the emulator passes it to the runtime,
	// which closes its clients and exits.
	warmThenSigterm(t, mir)

	// checkpoint: a source group that consumed part of the topic is
	// translated to the target.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	group := topic + "-group"
	offs := kadm.Offsets{}
	for p := int32(0); p < parts; p++ {
		offs.Add(kadm.Offset{Topic: topic, Partition: p, At: n / 2, LeaderEpoch: -1})
	}
	if _, err := kafkatest.Admin(t, pair.A).CommitOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}
	cp := start(t, "checkpoint", 60, env(props)...)
	cs := cp.mustInvoke(t, "checkpoint-1")
	if cs["groups"].(float64) < 1 || cs["checkpoints"].(float64) < parts {
		t.Errorf("checkpoint: %v groups, %v checkpoints; want 1 and %d", cs["groups"], cs["checkpoints"], parts)
	}
	cpEMF := cp.out.waitLine(func(l map[string]any) bool {
		return l["request_id"] == "checkpoint-1" && l["Flow"] == "A->B" && l[metrics.CheckpointsWritten] == cs["checkpoints"]
	}, 5*time.Second)
	if !cpEMF {
		t.Errorf("no EMF line with the checkpoints written:\n%s", tail(cp.out.String(), 10))
	}
	if again := cp.mustInvoke(t, "checkpoint-2"); again["checkpoints"].(float64) != 0 {
		t.Errorf("second checkpoint run wrote %v checkpoints for a group that did not move", again["checkpoints"])
	}
	warmThenSigterm(t, cp)
}

// warmThenSigterm checks, after an emulator's invocations, that its
// function built its clients once for all of them, and that SIGTERM
// closes them and ends the bootstrap.
func warmThenSigterm(t *testing.T, e *emulator) {
	t.Helper()
	built := withMsg(e.out.jsonLines(), "clients built")
	if len(built) != 1 {
		t.Fatalf("%s: clients built %d times over its invocations, want once", e.fn, len(built))
	}
	pid := int(built[0]["pid"].(float64))
	if err := e.stop(t); err != nil {
		t.Errorf("%s emulator exit after SIGTERM: %v", e.fn, err)
	}
	after := e.out.jsonLines()
	if len(withMsg(after, "sigterm: closing clients")) != 1 || len(withMsg(after, "sigterm: clients closed; exiting")) != 1 {
		t.Errorf("%s: no SIGTERM handling in the bootstrap's logs:\n%s", e.fn, tail(e.out.String(), 15))
	}
	if !processGone(pid, 5*time.Second) {
		t.Errorf("%s: bootstrap pid %d still runs after SIGTERM", e.fn, pid)
	}
}

// A short function timeout with lots to copy: the invocation returns
// before the deadline with committed progress and no transaction left
// open (a read_committed reader sees last stable offset = high watermark
// right away, with a transaction timeout far longer than the wait); the
// next invocations continue from there, exactly once.
func TestDeadlineHonoured(t *testing.T) {
	pair := tools(t)
	const parts, n = 2, 20000
	topic, props := reconciledTopic(t, pair, "deadline", parts, n)

	// 4 s timeout, 1 s margin, 20-record transactions: far more work than
	// fits, so the budget, not the data, ends the invocation.
	short := start(t, "mirror", 4, env(props, "MIRROR_SAFETY_MARGIN=1s", "MIRROR_BATCH_RECORDS=20", "MIRROR_TRANSACTION_TIMEOUT=60s")...)
	r := short.invoke(t, "short-1")
	returned := time.Now()
	if strings.Contains(string(r.body), "Task timed out") {
		t.Fatalf("the invocation ran into the function timeout (%s):\n%s", r.body, tail(short.out.String(), 20))
	}
	var sum map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &sum) != nil || sum["ok"] != true {
		t.Fatalf("short invocation: HTTP %d %s\n%s", r.status, r.body, tail(short.out.String(), 20))
	}
	copied := sum["records"].(float64)
	t.Logf("short invocation: %v records in %v ms, lag left %v, round trip %v", copied, sum["duration_ms"], sum["lag_left"], r.took.Round(time.Millisecond))
	if copied <= 0 || sum["lag_left"].(float64) <= 0 {
		t.Fatalf("want some records copied and some left: %v", sum)
	}
	if d := sum["duration_ms"].(float64); d >= 4000 {
		t.Errorf("invocation took %v ms, not within its 4 s timeout", d)
	}
	noOpenTransaction(t, pair.B, "A."+topic, returned)

	// A warm invocation in the same environment continues.
	again := short.mustInvoke(t, "short-2")
	if again["records"].(float64) <= 0 {
		t.Errorf("the second short invocation copied nothing: %v", again)
	}
	noOpenTransaction(t, pair.B, "A."+topic, time.Now())
	if err := short.stop(t); err != nil {
		t.Errorf("emulator exit: %v", err)
	}

	// Drain with a normal timeout and batch size; then every record is
	// there exactly once.
	drain := start(t, "mirror", 60, env(props)...)
	for i := 0; ; i++ {
		s := drain.mustInvoke(t, fmt.Sprintf("drain-%d", i))
		if s["lag_left"] == 0.0 {
			break
		}
		if i == 5 {
			t.Fatalf("not caught up after 6 invocations: %v", s)
		}
	}
	_ = drain.stop(t)
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), parts, n); err != nil {
		t.Fatal(err)
	}
}

// noOpenTransaction checks that every partition of topic has its last
// stable offset at its high watermark within 5 s of since: transaction
// markers are written just after a commit returns, but an open
// transaction would hold the last stable offset back until its (60 s)
// timeout.
func noOpenTransaction(t *testing.T, addr, topic string, since time.Time) {
	t.Helper()
	adm := kafkatest.Admin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		hwm, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		open := ""
		lso.Each(func(o kadm.ListedOffset) {
			if h, _ := hwm.Lookup(o.Topic, o.Partition); h.Offset != o.Offset {
				open += fmt.Sprintf(" %s/%d: last stable %d < high watermark %d;", o.Topic, o.Partition, o.Offset, h.Offset)
			}
		})
		if open == "" {
			t.Logf("no open transaction %v after the invocation returned", time.Since(since).Round(time.Millisecond))
			return
		}
		if time.Since(since) > 5*time.Second {
			t.Fatalf("a transaction is left open after the invocation returned:%s", open)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Secrets reach neither logs, nor EMF, nor responses on the Lambda path:
// a SCRAM password from sasl.jaas.config (right and wrong) and AWS keys in
// the environment, at debug level.
func TestSecretsNeverInLambdaOutput(t *testing.T) {
	pair := tools(t)
	sec := kafkatest.RealSecure(t)
	a, b, ca, user, pass := sec.SASLSSL["A"], sec.SASLSSL["B"], sec.CA, sec.User, sec.Password
	topic := kafkatest.Unique(t, "secret")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 50)
	props := func(password string) string {
		return kafkatest.Properties(t, kafkatest.Pair{A: a, B: b},
			"A->B.topics = "+topic,
			"security.protocol = SASL_SSL",
			"sasl.mechanism = SCRAM-SHA-512",
			"ssl.truststore.type = PEM",
			"ssl.truststore.location = "+ca,
			`sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username="`+user+`" password="`+password+`";`)
	}
	const (
		wrong   = "not-the-password-5150"
		awsKey  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET4242"
		awsTok  = "IQoJb3JpZ2luX2VjSESSIONTOKEN4242"
		keyID   = "AKIAIOSFODNN7EXAMPLE"
		timeout = 60
	)
	secrets := []string{pass, wrong, awsKey, awsTok}
	awsEnv := []string{"AWS_ACCESS_KEY_ID=" + keyID, "AWS_SECRET_ACCESS_KEY=" + awsKey, "AWS_SESSION_TOKEN=" + awsTok, "AWS_REGION=eu-west-1", "MIRROR_LOG_LEVEL=debug"}
	check := func(what string, e *emulator, bodies ...[]byte) {
		t.Helper()
		all := e.out.String()
		for _, body := range bodies {
			all += string(body)
		}
		for _, s := range secrets {
			if strings.Contains(all, s) {
				t.Errorf("%s: a secret (%.4s...) appears in the output or response", what, s)
			}
		}
	}
	for _, fn := range []string{"reconcile", "mirror"} {
		e := start(t, fn, timeout, env(props(pass), awsEnv...)...)
		r := e.invoke(t, fn+"-1")
		if r.status != 200 || !strings.Contains(string(r.body), `"ok":true`) {
			t.Fatalf("%s over SASL_SSL: HTTP %d %s\n%s", fn, r.status, r.body, tail(e.out.String(), 20))
		}
		_ = e.stop(t)
		if fn == "mirror" && !strings.Contains(e.out.String(), `"_aws"`) {
			t.Errorf("mirror wrote no EMF, so the check covered none")
		}
		check(fn, e, r.body)
	}
	// A wrong password fails the init: Lambda reports it, without the
	// password.
	e := start(t, "mirror", timeout, env(props(wrong), awsEnv...)...)
	r := e.invoke(t, "wrong-1")
	if r.status == 200 && strings.Contains(string(r.body), `"ok":true`) {
		t.Fatalf("a wrong password succeeded: %s", r.body)
	}
	if !strings.Contains(e.out.String(), "refused the credentials") {
		t.Errorf("the failure does not say the credentials were refused:\n%s", tail(e.out.String(), 10))
	}
	_ = e.stop(t)
	check("wrong password", e, r.body)

	// AWS_MSK_IAM takes its keys from the environment. The pair does not
	// offer that mechanism, so the broker refuses it at the handshake
	// (before any signing: the signature itself is unit-tested in
	// core/kafka); the failure must not show the keys either.
	iam := kafkatest.Properties(t, kafkatest.Pair{A: a, B: b},
		"A->B.topics = "+topic,
		"security.protocol = SASL_SSL",
		"ssl.truststore.type = PEM",
		"ssl.truststore.location = "+ca,
		"sasl.mechanism = AWS_MSK_IAM",
		"sasl.jaas.config = software.amazon.msk.auth.iam.IAMLoginModule required;")
	e = start(t, "mirror", timeout, env(iam, awsEnv...)...)
	r = e.invoke(t, "iam-1")
	if r.status == 200 && strings.Contains(string(r.body), `"ok":true`) {
		t.Fatalf("AWS_MSK_IAM against a SCRAM listener succeeded: %s", r.body)
	}
	_ = e.stop(t)
	t.Logf("AWS_MSK_IAM against SCRAM: %s", lastMatching(e.out.String(), "mirror:"))
	check("AWS_MSK_IAM", e, r.body)
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), 1, 50); err != nil {
		t.Fatal(err)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// A failed invocation in the runtime: Lambda's error response names the
// cause, the log line has the request id and the summary (which Lambda
// does not return with an error), and the EMF lines count the error.
func TestFailedInvocationReported(t *testing.T) {
	pair := tools(t)
	topic, props := reconciledTopic(t, pair, "fail", 1, 10)
	// Something else writes to the remote partition: the mirror refuses to
	// copy into it.
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.B), "A."+topic, 1, 0, 1)

	mir := start(t, "mirror", 60, env(props)...)
	r := mir.invoke(t, "fail-1")
	_ = mir.stop(t)
	var lambdaErr struct {
		Message string `json:"errorMessage"`
		Type    string `json:"errorType"`
	}
	if err := json.Unmarshal(r.body, &lambdaErr); err != nil || !strings.Contains(lambdaErr.Message, "already holds records") {
		t.Fatalf("want Lambda's error response naming the cause; HTTP %d %s", r.status, r.body)
	}
	var logged, counted bool
	for _, l := range mir.out.jsonLines() {
		if l["msg"] == "invocation failed" && l["request_id"] == "fail-1" {
			s, _ := l["summary"].(map[string]any)
			logged = s != nil && s["ok"] == false
		}
		if l["Function"] == "mirror" && l["request_id"] == "fail-1" {
			counted = l[metrics.InvocationErrors] == 1.0
		}
	}
	if !logged || !counted {
		t.Errorf("failure logged with its summary: %v; counted in EMF: %v\n%s", logged, counted, tail(mir.out.String(), 10))
	}
}

// lastMatching is the last line of s that starts with prefix.
func lastMatching(s, prefix string) string {
	out := ""
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = l
		}
	}
	return out
}

// reconciledTopic is a source topic of parts partitions holding records
// 0..n-1 of each, the properties of a flow A->B that copies it, and its
// remote topic created by the reconcile bootstrap in an emulator of its own.
func reconciledTopic(t *testing.T, pair kafkatest.Pair, name string, parts int32, n int) (topic, props string) {
	t.Helper()
	topic = kafkatest.Unique(t, name)
	kafkatest.CreateTopic(t, pair.A, topic, parts, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, parts, 0, n)
	props = kafkatest.Properties(t, pair, "A->B.topics = "+topic)
	rec := start(t, "reconcile", 60, env(props)...)
	rec.mustInvoke(t, "reconcile")
	_ = rec.stop(t)
	return topic, props
}
