package invocation

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/metrics"
	"github.com/mirrorless/mirrorless/core/mirror"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// emit encodes a summary's metrics as the runner does and indexes the EMF
// documents by their dimension values, with each metric's value and unit.
func emit(t *testing.T, function string, sum metrics.Measured, ms int64, failed bool) map[string]map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := metrics.Write(&buf, time.Now(), map[string]string{"function": function, "request_id": "r-1"}, metrics.Of("d", function, sum, ms, failed)); err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]any{}
	for _, line := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if err := metrics.Validate(line); err != nil {
			t.Fatalf("invalid document %s: %v", line, err)
		}
		var d map[string]any
		if err := json.Unmarshal(line, &d); err != nil {
			t.Fatal(err)
		}
		dir := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		key := ""
		for _, k := range dir["Dimensions"].([]any)[0].([]any) {
			key += k.(string) + "=" + d[k.(string)].(string) + ";"
		}
		ms := map[string]any{}
		for _, def := range dir["Metrics"].([]any) {
			n := def.(map[string]any)["Name"].(string)
			ms[n] = d[n]
			ms[n+".unit"] = def.(map[string]any)["Unit"]
		}
		if _, dup := out[key]; dup {
			t.Fatalf("two documents for %s", key)
		}
		out[key] = ms
	}
	return out
}

func TestMirrorMetrics(t *testing.T) {
	t.Parallel()
	busy := &mirror.Result{Flow: "A->B", UnitsClaimed: 3, Records: 1200, Bytes: 64000, Transactions: 4, LagLeft: 17, Fenced: 1,
		Errors: []string{"orders/2: boom"}, Stopped: 1, Resets: 2, Skipped: 50,
		Lags: []mirror.PartitionLag{{Topic: "orders", Partition: 0, Lag: 0}, {Topic: "orders", Partition: 1, Lag: 17}}}
	busy.LatencyAvgMs, busy.LatencyMaxMs, busy.RecordAgeAvgMs, busy.RecordAgeMaxMs = 40, 90, 30, 80
	age := 42.5
	busy.LagSeconds = &age
	idle := &mirror.Result{Flow: "B->A", LagSeconds: new(float64)}
	got := emit(t, "mirror", &MirrorSummary{Function: "mirror", Flows: []*mirror.Result{busy, idle}}, 1234, true)

	f := got["Deployment=d;Flow=A->B;"]
	for name, want := range map[string]float64{
		metrics.ReplicationLagRecords: 17, metrics.RecordsReplicated: 1200, metrics.BytesReplicated: 64000, metrics.LeasesHeld: 3,
		metrics.FencedUnits: 1, metrics.TransactionsCommitted: 4, metrics.UnitErrors: 1, metrics.PartitionsStopped: 1, metrics.PartitionsReset: 2, metrics.OffsetsSkipped: 50,
		metrics.ReplicationLatencyMs: 40, metrics.ReplicationLatencyMax: 90, metrics.RecordAgeMs: 30, metrics.RecordAgeMax: 80,
	} {
		if f[name] != want {
			t.Errorf("A->B %s = %v, want %v", name, f[name], want)
		}
	}
	if f[metrics.BytesReplicated+".unit"] != "Bytes" || f[metrics.RecordsReplicated+".unit"] != "Count" {
		t.Errorf("units: %v, %v", f[metrics.BytesReplicated+".unit"], f[metrics.RecordsReplicated+".unit"])
	}
	// The alarm on lag reads {Flow}: an idle flow still reports 0, so the
	// alarm sees data (it treats missing data as breaching).
	if got["Deployment=d;Flow=B->A;"][metrics.ReplicationLagRecords] != 0.0 {
		t.Errorf("idle flow lag: %v", got["Deployment=d;Flow=B->A;"])
	}
	if _, ok := got["Deployment=d;Flow=B->A;"][metrics.ReplicationLatencyMs]; ok {
		t.Error("a flow that copied nothing reports a latency")
	}
	if v := got["Deployment=d;Flow=A->B;Topic=orders;Partition=1;"][metrics.ReplicationLagRecords]; v != 17.0 {
		t.Errorf("partition 1 lag %v", v)
	}
	if v := got["Deployment=d;Flow=A->B;Topic=orders;Partition=0;"][metrics.ReplicationLagRecords]; v != 0.0 {
		t.Errorf("partition 0 lag %v", v)
	}
	fn := got["Deployment=d;Function=mirror;"]
	if fn[metrics.InvocationDurationMs] != 1234.0 || fn[metrics.InvocationDurationMs+".unit"] != "Milliseconds" || fn[metrics.InvocationErrors] != 1.0 {
		t.Errorf("function metrics %v", fn)
	}
	if v := got["Deployment=d;Flow=A->B;"]; v[metrics.ReplicationLagSeconds] != 42.5 || v[metrics.ReplicationLagSeconds+".unit"] != "Seconds" {
		t.Errorf("A->B lag seconds %v", v)
	}
	if v := got["Deployment=d;Flow=B->A;"][metrics.ReplicationLagSeconds]; v != 0.0 {
		t.Errorf("a caught-up flow's lag seconds %v, want 0", v)
	}
	// Per topic: the sum of its partitions'.
	if v := got["Deployment=d;Flow=A->B;Topic=orders;"][metrics.ReplicationLagRecords]; v != 17.0 {
		t.Errorf("topic orders lag %v", v)
	}
	if len(got) != 6 {
		t.Errorf("%d documents, want 6: %v", len(got), got)
	}
	// Unknown age: no data point, rather than a misleading 0.
	busy.LagSeconds = nil
	if v, ok := emit(t, "mirror", &MirrorSummary{Flows: []*mirror.Result{busy}}, 1, false)["Deployment=d;Flow=A->B;"][metrics.ReplicationLagSeconds]; ok {
		t.Errorf("unknown lag age reported as %v", v)
	}
	// Every set leads with the deployment.
	for key := range got {
		if !strings.HasPrefix(key, "Deployment=d;") {
			t.Errorf("set %s has no Deployment dimension first", key)
		}
	}
}

func TestReconcileMetrics(t *testing.T) {
	t.Parallel()
	sum := &ReconcileSummary{Function: "reconcile", Plans: []*reconcile.Plan{{Flow: "A->B", Actions: []reconcile.Action{
		{Kind: reconcile.CreateTopic, Status: "applied"},
		{Kind: reconcile.CreateTopic, Status: "exists"},
		{Kind: reconcile.CreateTopic, Status: "failed"},
		{Kind: reconcile.CreateInternalTopic, Status: "applied"},
		{Kind: reconcile.GrowPartitions, Status: "applied", FromPartitions: 3, Partitions: 8},
		{Kind: reconcile.AlterConfigs, Status: "applied", Changes: make([]reconcile.ConfigChange, 2)},
		{Kind: reconcile.AlterConfigs, Status: "skipped", Changes: make([]reconcile.ConfigChange, 5)},
		{Kind: reconcile.CreateACL, Status: "applied"},
	}}}}
	f := emit(t, "reconcile", sum, 10, false)["Deployment=d;Flow=A->B;"]
	for name, want := range map[string]float64{
		metrics.TopicsCreated: 1, metrics.InternalTopicsCreated: 1, metrics.PartitionsAdded: 5, metrics.ConfigsAltered: 2, metrics.ACLsCreated: 1, metrics.ReconcileErrors: 1, metrics.ChangesSkipped: 1,
	} {
		if f[name] != want {
			t.Errorf("%s = %v, want %v", name, f[name], want)
		}
	}
	// A dry run applies nothing: only the function's metrics.
	sum.DryRun = true
	if got := emit(t, "reconcile", sum, 10, false); len(got) != 1 || got["Deployment=d;Function=reconcile;"] == nil {
		t.Errorf("dry run emitted %v", got)
	}
}

func TestCheckpointMetrics(t *testing.T) {
	t.Parallel()
	sum := &CheckpointSummary{Function: "checkpoint", Flows: []*checkpoint.Result{
		{Flow: "A->B", Groups: 4, Checkpoints: 12, OffsetsSynced: 3, Heartbeats: 1, Untranslatable: 2, Fenced: true, Errors: []string{"x"},
			GroupLags: []checkpoint.GroupLag{{Group: "orders", Records: 40, Seconds: 12.5}, {Group: "unread", Records: 7, Seconds: -1}}},
	}}
	got := emit(t, "checkpoint", sum, 10, false)
	f := got["Deployment=d;Flow=A->B;"]
	for name, want := range map[string]float64{
		metrics.GroupsTranslated: 4, metrics.CheckpointsWritten: 12, metrics.GroupOffsetsSynced: 3, metrics.HeartbeatsWritten: 1,
		metrics.UntranslatablePartitions: 2, metrics.CheckpointFenced: 1, metrics.CheckpointErrors: 1,
	} {
		if f[name] != want {
			t.Errorf("%s = %v, want %v", name, f[name], want)
		}
	}
	// Per group: records always, seconds only when they were read.
	if g := got["Deployment=d;Flow=A->B;Group=orders;"]; g[metrics.GroupLagRecords] != 40.0 || g[metrics.GroupLagSeconds] != 12.5 {
		t.Errorf("group orders: %v", g)
	}
	if g := got["Deployment=d;Flow=A->B;Group=unread;"]; g[metrics.GroupLagRecords] != 7.0 || g[metrics.GroupLagSeconds] != nil {
		t.Errorf("group unread: %v, want no %s", g, metrics.GroupLagSeconds)
	}
}

// The tick's fan-out is a set of its own, by Deployment alone; a worker,
// or a run outside Lambda, has none.
func TestFanoutMetrics(t *testing.T) {
	t.Parallel()
	find := func(sets []metrics.Set) map[string]float64 {
		for _, s := range sets {
			out := map[string]float64{}
			for _, m := range s.Metrics {
				out[m.Name] = m.Value
			}
			if _, ok := out[metrics.FanoutInvocations]; ok {
				if len(s.Dims) != 0 {
					t.Errorf("fan-out set dimensions %v, want none (Of adds Deployment)", s.Dims)
				}
				return out
			}
		}
		return nil
	}
	tick := &MirrorSummary{Fanout: &fanout.Sizing{Backlog: fanout.Backlog{Records: 9000, Partitions: 12}, Invocations: 4, Started: 2, Failed: 1}}
	got := find(tick.Metrics())
	for name, want := range map[string]float64{metrics.FanoutInvocations: 4, metrics.FanoutBacklogRecords: 9000, metrics.FanoutStartFailures: 1} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if got := find((&MirrorSummary{}).Metrics()); got != nil {
		t.Errorf("a worker reports fan-out metrics %v", got)
	}
	// Through the encoder: valid EMF, Deployment first.
	docs := emit(t, "mirror", tick, 10, false)
	if v := docs["Deployment=d;"][metrics.FanoutInvocations]; v != 4.0 {
		t.Errorf("Deployment document's %s = %v, want 4: %v", metrics.FanoutInvocations, v, docs)
	}
}
