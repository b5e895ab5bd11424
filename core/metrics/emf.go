// Package metrics writes CloudWatch metrics in the Embedded Metric Format
// (EMF): one JSON object per log line, which CloudWatch Logs turns into
// metrics when it ingests the line. In Lambda that means printing the line;
// no SDK, no PutMetricData call, no network on the invocation's path.
//
// The format (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
//
//	{"_aws": {"Timestamp": <ms>, "CloudWatchMetrics": [{"Namespace": "mirrorless",
//	    "Dimensions": [["Flow"]], "Metrics": [{"Name": "RecordsReplicated", "Unit": "Count"}]}]},
//	 "Flow": "A->B", "RecordsReplicated": 42}
//
// Dimension values and metric values are top-level members that the
// directive names. Validate checks a document against the specification's
// rules and limits; Encode never produces a document Validate refuses.
package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Namespace is the CloudWatch namespace of every mirrorless metric.
const Namespace = "mirrorless"

// Limits of the specification (and of CloudWatch, where the specification
// defers to it).
const (
	MaxMetricsPerDirective = 100  // MetricDefinition objects in one directive
	MaxDimensionsPerSet    = 30   // dimension keys in one DimensionSet
	MaxValuesPerMetric     = 100  // values of a metric given as an array
	MaxNameLength          = 255  // namespace, metric and dimension names
	MaxDimensionValueLen   = 1024 // a dimension's value
	MaxDocumentBytes       = 1 << 20
)

// Unit is a CloudWatch standard unit.
type Unit string

// The units mirrorless uses (the full list is in validUnits).
const (
	Count        Unit = "Count"
	Bytes        Unit = "Bytes"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
	None         Unit = "None"
)

var validUnits = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true,
	"Bytes": true, "Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true,
	"Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true, "None": true,
}

// Metric is one value of a named metric.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Dim is one dimension: its name and (string) value.
type Dim struct {
	Name, Value string
}

// Set is metrics that share one set of dimensions. It becomes one EMF
// document, or several when it has more metrics than one directive takes.
type Set struct {
	Dims    []Dim
	Metrics []Metric
}

// Encode renders sets as EMF documents (one JSON object each, no newline).
// props are extra top-level members for people reading the log (such as
// the function name and request id); they are not dimensions, so they
// cost nothing in CloudWatch. A name used twice in one document is an
// error, as is anything the specification forbids.
func Encode(ts time.Time, props map[string]string, sets []Set) ([][]byte, error) {
	var docs [][]byte
	for _, s := range sets {
		if len(s.Metrics) == 0 {
			continue
		}
		for chunk := range slices.Chunk(s.Metrics, MaxMetricsPerDirective) {
			b, err := encodeOne(ts, props, s.Dims, chunk)
			if err != nil {
				return nil, err
			}
			docs = append(docs, b)
		}
	}
	return docs, nil
}

type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

type definition struct {
	Name string `json:"Name"`
	Unit string `json:"Unit,omitempty"`
}

func encodeOne(ts time.Time, props map[string]string, dims []Dim, ms []Metric) ([]byte, error) {
	doc := map[string]any{}
	for k, v := range props {
		doc[k] = v
	}
	set := []string{}
	for _, d := range dims {
		if _, dup := doc[d.Name]; dup {
			return nil, fmt.Errorf("emf: dimension %q clashes with another member", d.Name)
		}
		doc[d.Name] = d.Value
		set = append(set, d.Name)
	}
	defs := make([]definition, 0, len(ms))
	for _, m := range ms {
		if _, dup := doc[m.Name]; dup {
			return nil, fmt.Errorf("emf: metric %q clashes with another member", m.Name)
		}
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return nil, fmt.Errorf("emf: metric %q has no finite value", m.Name)
		}
		doc[m.Name] = m.Value
		defs = append(defs, definition{Name: m.Name, Unit: string(m.Unit)})
	}
	doc["_aws"] = map[string]any{
		"Timestamp": ts.UnixMilli(),
		"CloudWatchMetrics": []directive{{
			Namespace:  Namespace,
			Dimensions: [][]string{set},
			Metrics:    defs,
		}},
	}
	// Without HTML escaping, so a flow reads A->B in the log, as in the
	// other log lines.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("emf: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if err := Validate(b); err != nil {
		return nil, err
	}
	return b, nil
}

// Write encodes sets and writes one document per line.
func Write(w io.Writer, ts time.Time, props map[string]string, sets []Set) error {
	docs, err := Encode(ts, props, sets)
	if err != nil {
		return err
	}
	for _, d := range docs {
		if _, err := w.Write(append(d, '\n')); err != nil {
			return fmt.Errorf("write metrics: %w", err)
		}
	}
	return nil
}

// Validate checks one EMF document against the specification: the _aws
// metadata (a millisecond Timestamp and CloudWatchMetrics directives),
// each directive's Namespace, DimensionSets (at most 30 keys, each naming
// a top-level string member) and metric definitions (at most 100, each
// naming a top-level number or array of at most 100 numbers, with a unit
// from CloudWatch's list). It reports every problem found.
func Validate(doc []byte) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(doc) > MaxDocumentBytes {
		bad("document is %d bytes, over the log event limit of %d", len(doc), MaxDocumentBytes)
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("emf: not a JSON object: %w", err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(root["_aws"], &meta); err != nil || meta == nil {
		return fmt.Errorf("emf: _aws is missing or not an object")
	}
	var ts float64
	if err := json.Unmarshal(meta["Timestamp"], &ts); err != nil || meta["Timestamp"] == nil {
		bad("_aws.Timestamp is missing or not a number")
	} else if ts < 1e12 || ts != math.Trunc(ts) {
		bad("_aws.Timestamp %v is not whole milliseconds since the epoch", ts)
	}
	var dirs []map[string]json.RawMessage
	if err := json.Unmarshal(meta["CloudWatchMetrics"], &dirs); err != nil || meta["CloudWatchMetrics"] == nil {
		bad("_aws.CloudWatchMetrics is missing or not an array of directives")
	}
	for i, d := range dirs {
		at := fmt.Sprintf("CloudWatchMetrics[%d]", i)
		var ns string
		if err := json.Unmarshal(d["Namespace"], &ns); err != nil || ns == "" || len(ns) > MaxNameLength {
			bad("%s.Namespace must be a string of 1 to %d characters", at, MaxNameLength)
		}
		var sets [][]string
		if err := json.Unmarshal(d["Dimensions"], &sets); err != nil || d["Dimensions"] == nil {
			bad("%s.Dimensions must be an array of arrays of strings", at)
		}
		for j, set := range sets {
			if len(set) > MaxDimensionsPerSet {
				bad("%s.Dimensions[%d] has %d keys, more than %d", at, j, len(set), MaxDimensionsPerSet)
			}
			for _, k := range set {
				var v string
				raw, ok := root[k]
				switch {
				case !ok:
					bad("%s: dimension %q has no top-level member", at, k)
				case json.Unmarshal(raw, &v) != nil:
					bad("%s: dimension %q is not a string", at, k)
				case v == "" || len(v) > MaxDimensionValueLen:
					bad("%s: dimension %q must have 1 to %d characters", at, k, MaxDimensionValueLen)
				}
				if k == "" || len(k) > MaxNameLength {
					bad("%s: dimension name %q must have 1 to %d characters", at, k, MaxNameLength)
				}
			}
		}
		var defs []map[string]json.RawMessage
		if err := json.Unmarshal(d["Metrics"], &defs); err != nil || d["Metrics"] == nil {
			bad("%s.Metrics must be an array of metric definitions", at)
		}
		if len(defs) > MaxMetricsPerDirective {
			bad("%s has %d metrics, more than %d", at, len(defs), MaxMetricsPerDirective)
		}
		seen := map[string]bool{}
		for _, def := range defs {
			var name string
			if err := json.Unmarshal(def["Name"], &name); err != nil || name == "" || len(name) > MaxNameLength {
				bad("%s: a metric's Name must be a string of 1 to %d characters", at, MaxNameLength)
				continue
			}
			if seen[name] {
				bad("%s: metric %q is defined twice", at, name)
			}
			seen[name] = true
			if raw, ok := def["Unit"]; ok {
				var u string
				if json.Unmarshal(raw, &u) != nil || !validUnits[u] {
					bad("%s: metric %q has unit %s, not a CloudWatch unit", at, name, raw)
				}
			}
			if raw, ok := def["StorageResolution"]; ok {
				var r int
				if json.Unmarshal(raw, &r) != nil || (r != 1 && r != 60) {
					bad("%s: metric %q has StorageResolution %s, not 1 or 60", at, name, raw)
				}
			}
			raw, ok := root[name]
			if !ok {
				bad("%s: metric %q has no top-level value", at, name)
				continue
			}
			var one float64
			var many []float64
			switch {
			case json.Unmarshal(raw, &one) == nil:
			case json.Unmarshal(raw, &many) == nil && many != nil:
				if len(many) == 0 || len(many) > MaxValuesPerMetric {
					bad("%s: metric %q has %d values, not 1 to %d", at, name, len(many), MaxValuesPerMetric)
				}
			default:
				bad("%s: metric %q is %s, not a number or an array of numbers", at, name, raw)
			}
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("emf: %s", strings.Join(problems, "; "))
	}
	return nil
}
