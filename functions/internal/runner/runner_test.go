package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/metrics"
	"github.com/mirrorless/mirrorless/core/mirror"
)

func lines(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("not a JSON line: %q", l)
		}
		out = append(out, m)
	}
	return out
}

// Every line logged during an invocation carries its request id, also from
// loggers derived before it began (the Kafka clients' are built at init);
// lines outside an invocation carry none.
func TestRequestIDOnEveryInvocationLine(t *testing.T) {
	var logs, emf bytes.Buffer
	ids := &requestIDs{}
	base := slog.New(withRequestID(slog.NewJSONHandler(&logs, nil), ids)).With("function", "mirror")
	client := base.With("client", "kgo").WithGroup("g")
	r := &run{name: "mirror", logger: base, ids: ids, metrics: &emf, lambda: true, deployment: "stack-1",
		invoke: func(ctx context.Context, a *invocation.Invoker, owner string) (any, error) {
			base.Info("inside")
			client.Info("from a client")
			return &invocation.MirrorSummary{Function: "mirror", Flows: []*mirror.Result{{Flow: "A->B", LagLeft: 3}}}, errors.New("some partitions failed")
		}}
	base.Info("before")
	if _, err := r.once(context.Background(), nil, "req-123", json.RawMessage(`{}`)); err == nil {
		t.Fatal("the invocation's error was lost")
	}
	base.Info("after")

	got := lines(t, logs.Bytes())
	var msgs []string
	for _, l := range got {
		msg := l["msg"].(string)
		msgs = append(msgs, msg)
		id, _ := l["request_id"].(string)
		if g, ok := l["g"].(map[string]any); ok && id == "" {
			id, _ = g["request_id"].(string)
		}
		inside := msg != "before" && msg != "after"
		if inside && id != "req-123" {
			t.Errorf("line %v: request_id %q, want req-123", l, id)
		}
		if !inside && id != "" {
			t.Errorf("line %v outside an invocation has request_id %q", l, id)
		}
	}
	for _, l := range got {
		if l["msg"] == "invocation failed" {
			if s, ok := l["summary"].(map[string]any); !ok || s["function"] != "mirror" {
				t.Errorf("the failure line in Lambda does not carry the summary: %v", l)
			}
		}
	}
	if want := "before,inside,from a client,invocation failed,after"; strings.Join(msgs, ",") != want {
		t.Errorf("lines %v, want %s", msgs, want)
	}

	docs := lines(t, emf.Bytes())
	var sawLag, sawErr bool
	for i, d := range docs {
		raw, _ := json.Marshal(d)
		if err := metrics.Validate(raw); err != nil {
			t.Errorf("EMF line %d: %v", i, err)
		}
		if d["request_id"] != "req-123" || d["function"] != "mirror" {
			t.Errorf("EMF line %d: request_id %v, function %v", i, d["request_id"], d["function"])
		}
		if d["Deployment"] != "stack-1" {
			t.Errorf("EMF line %d: Deployment %v, want the run's", i, d["Deployment"])
		}
		if d["Flow"] == "A->B" && d["ReplicationLagRecords"] == 3.0 {
			sawLag = true
		}
		if d["Function"] == "mirror" && d["InvocationErrors"] == 1.0 {
			sawErr = true
		}
	}
	if !sawLag || !sawErr {
		t.Errorf("EMF lines miss the flow's lag (%v) or the failed invocation (%v): %s", sawLag, sawErr, emf.String())
	}
}

func TestMetricsSetting(t *testing.T) {
	for _, c := range []struct {
		value    string
		inLambda bool
		want     bool
	}{
		{"", true, true},
		{"", false, false},
		{"emf", false, true},
		{"EMF", true, true},
		{"off", true, false},
		{" off ", false, false},
	} {
		if got := metricsEnabled(c.value, c.inLambda); got != c.want {
			t.Errorf("MIRROR_METRICS=%q in Lambda %v: %v", c.value, c.inLambda, got)
		}
	}
}
