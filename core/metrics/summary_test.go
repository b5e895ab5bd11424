package metrics

import (
	"bytes"
	"testing"
	"time"
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

func emit(t *testing.T, function string, sum Measured, ms int64, failed bool) map[string]map[string]any {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, time.Now(), map[string]string{"function": function, "request_id": "r-1"}, Of("d", function, sum, ms, failed)); err != nil {
		t.Fatal(err)
	}
	return byDims(t, decode(t, buf.Bytes()))
}

// measured is a summary with fixed sets.
type measured []Set

func (m measured) Metrics() []Set { return m }

// Of adds the function's own set to the summary's, and gives that set
// alone without a summary; every set leads with the deployment.
func TestOf(t *testing.T) {
	t.Parallel()
	sum := measured{{Dims: []Dim{{"Flow", "A->B"}}, Metrics: []Metric{{RecordsReplicated, Count, 7}}}}
	got := emit(t, "mirror", sum, 1234, true)
	if got["Deployment=d;Flow=A->B;"][RecordsReplicated] != 7.0 {
		t.Errorf("summary's set: %v", got)
	}
	fn := got["Deployment=d;Function=mirror;"]
	if fn[InvocationDurationMs] != 1234.0 || fn[InvocationDurationMs+".unit"] != "Milliseconds" || fn[InvocationErrors] != 1.0 {
		t.Errorf("function metrics %v", fn)
	}
	if got := emit(t, "reconcile", nil, 10, false); len(got) != 1 || got["Deployment=d;Function=reconcile;"][InvocationErrors] != 0.0 {
		t.Errorf("no summary: %v", got)
	}
}
