package metrics

import (
	"bytes"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/mirror"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// byDims indexes decoded documents by their dimension set's values.
func byDims(t *testing.T, docs []map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, d := range docs {
		dir := d["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		key := ""
		for _, k := range dir["Dimensions"].([]any)[0].([]any) {
			key += k.(string) + "=" + d[k.(string)].(string) + ";"
		}
		metrics := map[string]any{}
		for _, def := range dir["Metrics"].([]any) {
			n := def.(map[string]any)["Name"].(string)
			metrics[n] = d[n]
			metrics[n+".unit"] = def.(map[string]any)["Unit"]
		}
		if _, dup := out[key]; dup {
			t.Fatalf("two documents for %s", key)
		}
		out[key] = metrics
	}
	return out
}

func emit(t *testing.T, function string, sum any, ms int64, failed bool) map[string]map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, time.Now(), map[string]string{"function": function, "request_id": "r-1"}, Of(function, sum, ms, failed)); err != nil {
		t.Fatal(err)
	}
	return byDims(t, decode(t, buf.Bytes()))
}

func TestMirrorMetrics(t *testing.T) {
	t.Parallel()
	busy := &mirror.Result{Flow: "A->B", UnitsClaimed: 3, Records: 1200, Bytes: 64000, Transactions: 4, LagLeft: 17, Fenced: 1,
		Errors: []string{"orders/2: boom"}, Stopped: 1, Resets: 2, Skipped: 50,
		Lags: []mirror.PartitionLag{{Topic: "orders", Partition: 0, Lag: 0}, {Topic: "orders", Partition: 1, Lag: 17}}}
	busy.LatencyAvgMs, busy.LatencyMaxMs, busy.RecordAgeAvgMs, busy.RecordAgeMaxMs = 40, 90, 30, 80
	idle := &mirror.Result{Flow: "B->A"}
	got := emit(t, "mirror", &app.MirrorSummary{Function: "mirror", Flows: []*mirror.Result{busy, idle}}, 1234, true)

	f := got["Flow=A->B;"]
	for name, want := range map[string]float64{
		ReplicationLagRecords: 17, RecordsReplicated: 1200, BytesReplicated: 64000, LeasesHeld: 3,
		FencedUnits: 1, TransactionsCommitted: 4, UnitErrors: 1, PartitionsStopped: 1, PartitionsReset: 2, OffsetsSkipped: 50,
		ReplicationLatencyMs: 40, ReplicationLatencyMax: 90, RecordAgeMs: 30, RecordAgeMax: 80,
	} {
		if f[name] != want {
			t.Errorf("A->B %s = %v, want %v", name, f[name], want)
		}
	}
	if f[BytesReplicated+".unit"] != "Bytes" || f[RecordsReplicated+".unit"] != "Count" {
		t.Errorf("units: %v, %v", f[BytesReplicated+".unit"], f[RecordsReplicated+".unit"])
	}
	// The alarm on lag reads {Flow}: an idle flow still reports 0, so the
	// alarm sees data (it treats missing data as breaching).
	if got["Flow=B->A;"][ReplicationLagRecords] != 0.0 {
		t.Errorf("idle flow lag: %v", got["Flow=B->A;"])
	}
	if _, ok := got["Flow=B->A;"][ReplicationLatencyMs]; ok {
		t.Error("a flow that copied nothing reports a latency")
	}
	if v := got["Flow=A->B;Topic=orders;Partition=1;"][ReplicationLagRecords]; v != 17.0 {
		t.Errorf("partition 1 lag %v", v)
	}
	if v := got["Flow=A->B;Topic=orders;Partition=0;"][ReplicationLagRecords]; v != 0.0 {
		t.Errorf("partition 0 lag %v", v)
	}
	fn := got["Function=mirror;"]
	if fn[InvocationDurationMs] != 1234.0 || fn[InvocationDurationMs+".unit"] != "Milliseconds" || fn[InvocationErrors] != 1.0 {
		t.Errorf("function metrics %v", fn)
	}
	if len(got) != 5 {
		t.Errorf("%d documents, want 5: %v", len(got), got)
	}
}

func TestReconcileMetrics(t *testing.T) {
	t.Parallel()
	sum := &app.ReconcileSummary{Function: "reconcile", Plans: []*reconcile.Plan{{Flow: "A->B", Actions: []reconcile.Action{
		{Kind: reconcile.CreateTopic, Status: "applied"},
		{Kind: reconcile.CreateTopic, Status: "exists"},
		{Kind: reconcile.CreateTopic, Status: "failed"},
		{Kind: reconcile.CreateInternalTopic, Status: "applied"},
		{Kind: reconcile.GrowPartitions, Status: "applied", FromPartitions: 3, Partitions: 8},
		{Kind: reconcile.AlterConfigs, Status: "applied", Changes: make([]reconcile.ConfigChange, 2)},
		{Kind: reconcile.AlterConfigs, Status: "skipped", Changes: make([]reconcile.ConfigChange, 5)},
		{Kind: reconcile.CreateACL, Status: "applied"},
	}}}}
	f := emit(t, "reconcile", sum, 10, false)["Flow=A->B;"]
	for name, want := range map[string]float64{
		TopicsCreated: 1, InternalTopicsCreated: 1, PartitionsAdded: 5, ConfigsAltered: 2, ACLsCreated: 1, ReconcileErrors: 1, ChangesSkipped: 1,
	} {
		if f[name] != want {
			t.Errorf("%s = %v, want %v", name, f[name], want)
		}
	}
	// A dry run applies nothing: only the function's metrics.
	sum.DryRun = true
	if got := emit(t, "reconcile", sum, 10, false); len(got) != 1 || got["Function=reconcile;"] == nil {
		t.Errorf("dry run emitted %v", got)
	}
}

func TestCheckpointMetrics(t *testing.T) {
	t.Parallel()
	sum := &app.CheckpointSummary{Function: "checkpoint", Flows: []*checkpoint.Result{
		{Flow: "A->B", Groups: 4, Checkpoints: 12, OffsetsSynced: 3, Heartbeats: 1, Untranslatable: 2, Fenced: true, Errors: []string{"x"}},
	}}
	f := emit(t, "checkpoint", sum, 10, false)["Flow=A->B;"]
	for name, want := range map[string]float64{
		GroupsTranslated: 4, CheckpointsWritten: 12, GroupOffsetsSynced: 3, HeartbeatsWritten: 1,
		UntranslatablePartitions: 2, CheckpointFenced: 1, CheckpointErrors: 1,
	} {
		if f[name] != want {
			t.Errorf("%s = %v, want %v", name, f[name], want)
		}
	}
}
