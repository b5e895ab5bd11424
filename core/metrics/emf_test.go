package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// The specification's own example (trimmed), which must pass.
const specExample = `{
  "_aws": {
    "Timestamp": 1574109732004,
    "CloudWatchMetrics": [
      {
        "Namespace": "lambda-function-metrics",
        "Dimensions": [["functionVersion"]],
        "Metrics": [
          {"Name": "time", "Unit": "Milliseconds", "StorageResolution": 60}
        ]
      }
    ]
  },
  "functionVersion": "$LATEST",
  "time": 100,
  "requestId": "989ffbf8-9ace-4817-a57c-e4dd734019ee"
}`

func TestValidateAcceptsTheSpecExample(t *testing.T) {
	t.Parallel()
	if err := Validate([]byte(specExample)); err != nil {
		t.Fatal(err)
	}
	// Arrays of values and empty dimension sets are allowed too.
	ok := `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[[]],"Metrics":[{"Name":"v"}]}]},"v":[1,2,3]}`
	if err := Validate([]byte(ok)); err != nil {
		t.Fatal(err)
	}
}

// Each wrong document is refused, and the error says what is wrong.
func TestValidateRefusesWrongDocuments(t *testing.T) {
	t.Parallel()
	doc := func(dims, metrics, members string) string {
		return `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"mirrorless","Dimensions":` + dims +
			`,"Metrics":` + metrics + `}]}` + members + `}`
	}
	many := func(n int, f func(i int) string) string {
		var parts []string
		for i := range n {
			parts = append(parts, f(i))
		}
		return strings.Join(parts, ",")
	}
	for _, c := range []struct {
		name, doc, want string
	}{
		{"not json", `{"_aws":`, "not a JSON object"},
		{"no _aws", `{"v":1}`, "_aws is missing"},
		{"no timestamp", `{"_aws":{"CloudWatchMetrics":[]}}`, "Timestamp is missing"},
		{"timestamp in seconds", `{"_aws":{"Timestamp":1700000000,"CloudWatchMetrics":[]}}`, "not whole milliseconds"},
		{"timestamp a string", `{"_aws":{"Timestamp":"1700000000000","CloudWatchMetrics":[]}}`, "Timestamp is missing or not a number"},
		{"no directives", `{"_aws":{"Timestamp":1700000000000}}`, "CloudWatchMetrics is missing"},
		{"no namespace", `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Dimensions":[],"Metrics":[]}]}}`, "Namespace must be"},
		{"no dimensions", `{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"n","Metrics":[]}]}}`, "Dimensions must be"},
		{"dimensions not nested", doc(`["Flow"]`, `[]`, `,"Flow":"A->B"`), "Dimensions must be"},
		{"metric without value", doc(`[[]]`, `[{"Name":"Records","Unit":"Count"}]`, ``), `metric "Records" has no top-level value`},
		{"metric value a string", doc(`[[]]`, `[{"Name":"Records"}]`, `,"Records":"12"`), "not a number or an array of numbers"},
		{"metric value empty array", doc(`[[]]`, `[{"Name":"Records"}]`, `,"Records":[]`), "has 0 values"},
		{"101 values", doc(`[[]]`, `[{"Name":"Records"}]`, `,"Records":[`+many(101, func(int) string { return "1" })+`]`), "has 101 values"},
		{"dimension without member", doc(`[["Flow"]]`, `[{"Name":"Records"}]`, `,"Records":1`), `dimension "Flow" has no top-level member`},
		{"dimension not a string", doc(`[["Partition"]]`, `[{"Name":"Records"}]`, `,"Records":1,"Partition":3`), `dimension "Partition" is not a string`},
		{"dimension value too long", doc(`[["Flow"]]`, `[{"Name":"Records"}]`, `,"Records":1,"Flow":"`+strings.Repeat("x", 1025)+`"`), "1 to 1024 characters"},
		{"unit not CloudWatch's", doc(`[[]]`, `[{"Name":"Lat","Unit":"ms"}]`, `,"Lat":1`), `unit "ms"`},
		{"storage resolution", doc(`[[]]`, `[{"Name":"Lat","StorageResolution":5}]`, `,"Lat":1`), "StorageResolution 5"},
		{"metric twice", doc(`[[]]`, `[{"Name":"Lat"},{"Name":"Lat"}]`, `,"Lat":1`), "defined twice"},
		{"metric name empty", doc(`[[]]`, `[{"Name":""}]`, ``), "Name must be a string"},
		{"31 dimensions", doc(`[[`+many(31, func(i int) string { return fmt.Sprintf(`"d%d"`, i) })+`]]`, `[{"Name":"v"}]`,
			`,"v":1,`+many(31, func(i int) string { return fmt.Sprintf(`"d%d":"x"`, i) })), "has 31 keys, more than 30"},
		{"101 metrics", doc(`[[]]`, `[`+many(101, func(i int) string { return fmt.Sprintf(`{"Name":"m%d"}`, i) })+`]`,
			`,`+many(101, func(i int) string { return fmt.Sprintf(`"m%d":1`, i) })), "has 101 metrics, more than 100"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := Validate([]byte(c.doc))
			if err == nil {
				t.Fatalf("accepted: %s", c.doc)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// decode parses EMF lines into (dimension values, metric values) per line.
func decode(t *testing.T, out []byte) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if err := Validate(line); err != nil {
			t.Fatalf("invalid document %s: %v", line, err)
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, m)
	}
	return docs
}

func TestEncodeSplitsAtTheDirectiveLimit(t *testing.T) {
	t.Parallel()
	var ms []Metric
	for i := range 250 {
		ms = append(ms, Metric{fmt.Sprintf("M%03d", i), Count, float64(i)})
	}
	ts := time.UnixMilli(1_700_000_000_123)
	var buf bytes.Buffer
	if err := Write(&buf, ts, map[string]string{"function": "mirror"}, []Set{{Dims: []Dim{{"Flow", "A->B"}}, Metrics: ms}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"Flow":"A->B"`) {
		t.Errorf("dimension value escaped: %.200s", buf.String())
	}
	docs := decode(t, buf.Bytes())
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3 (100+100+50 metrics)", len(docs))
	}
	seen := map[string]float64{}
	for _, d := range docs {
		aws := d["_aws"].(map[string]any)
		if aws["Timestamp"].(float64) != 1_700_000_000_123 {
			t.Errorf("timestamp %v", aws["Timestamp"])
		}
		dir := aws["CloudWatchMetrics"].([]any)[0].(map[string]any)
		if dir["Namespace"] != "mirrorless" {
			t.Errorf("namespace %v", dir["Namespace"])
		}
		if d["Flow"] != "A->B" || d["function"] != "mirror" {
			t.Errorf("members: flow %v, function %v", d["Flow"], d["function"])
		}
		for _, def := range dir["Metrics"].([]any) {
			name := def.(map[string]any)["Name"].(string)
			seen[name] = d[name].(float64)
		}
	}
	for i := range 250 {
		if v, ok := seen[fmt.Sprintf("M%03d", i)]; !ok || v != float64(i) {
			t.Errorf("M%03d: %v (present %v)", i, v, ok)
		}
	}
}

func TestEncodeRefusesWhatCloudWatchWould(t *testing.T) {
	t.Parallel()
	ts := time.Now()
	for _, c := range []struct {
		name string
		set  Set
		want string
	}{
		{"metric named like a dimension", Set{Dims: []Dim{{"Flow", "A->B"}}, Metrics: []Metric{{"Flow", Count, 1}}}, "clashes"},
		{"NaN", Set{Metrics: []Metric{{"Lat", Milliseconds, math.NaN()}}}, "no finite value"},
		{"bad unit", Set{Metrics: []Metric{{"Lat", Unit("msec"), 1}}}, "not a CloudWatch unit"},
		{"empty dimension value", Set{Dims: []Dim{{"Topic", ""}}, Metrics: []Metric{{"Lag", Count, 1}}}, "1 to 1024 characters"},
		{"31 dimensions", Set{Dims: func() []Dim {
			var ds []Dim
			for i := range 31 {
				ds = append(ds, Dim{fmt.Sprintf("d%d", i), "x"})
			}
			return ds
		}(), Metrics: []Metric{{"Lag", Count, 1}}}, "more than 30"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Encode(ts, nil, []Set{c.set})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
		})
	}
}
