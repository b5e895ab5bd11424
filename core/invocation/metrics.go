package invocation

import (
	"slices"
	"strconv"

	"github.com/mirrorless/mirrorless/core/metrics"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// metric is one value (vet wants imported struct literals keyed; this
// keeps the tables below one line per metric).
func metric(name string, unit metrics.Unit, v float64) metrics.Metric {
	return metrics.Metric{Name: name, Unit: unit, Value: v}
}

func flow(name string) []metrics.Dim { return []metrics.Dim{{Name: "Flow", Value: name}} }

// Metrics reports the flows' copies and lag: per flow in records and in
// seconds, per topic and per partition in records.
func (s *MirrorSummary) Metrics() []metrics.Set {
	if s == nil {
		return nil
	}
	var sets []metrics.Set
	for _, f := range s.Flows {
		if f == nil {
			continue
		}
		ms := []metrics.Metric{
			metric(metrics.ReplicationLagRecords, metrics.Count, float64(f.LagLeft)),
			metric(metrics.RecordsReplicated, metrics.Count, float64(f.Records)),
			metric(metrics.BytesReplicated, metrics.Bytes, float64(f.Bytes)),
			metric(metrics.LeasesHeld, metrics.Count, float64(f.UnitsClaimed)),
			metric(metrics.FencedUnits, metrics.Count, float64(f.Fenced)),
			metric(metrics.TransactionsCommitted, metrics.Count, float64(f.Transactions)),
			metric(metrics.UnitErrors, metrics.Count, float64(len(f.Errors))),
			metric(metrics.PartitionsReset, metrics.Count, float64(f.Resets)),
			metric(metrics.OffsetsSkipped, metrics.Count, float64(f.Skipped)),
			metric(metrics.PartitionsStopped, metrics.Count, float64(f.Stopped)),
		}
		// Latency only exists for records copied: no data point (rather
		// than a misleading 0) when nothing was.
		if f.Records > 0 {
			ms = append(ms,
				metric(metrics.ReplicationLatencyMs, metrics.Milliseconds, float64(f.LatencyAvgMs)),
				metric(metrics.ReplicationLatencyMax, metrics.Milliseconds, float64(f.LatencyMaxMs)),
				metric(metrics.RecordAgeMs, metrics.Milliseconds, float64(f.RecordAgeAvgMs)),
				metric(metrics.RecordAgeMax, metrics.Milliseconds, float64(f.RecordAgeMaxMs)),
			)
		}
		// The age of the oldest record not copied: 0 when caught up, no
		// data point when it could not be read (see mirror.Result).
		if f.LagSeconds != nil {
			ms = append(ms, metric(metrics.ReplicationLagSeconds, metrics.Seconds, *f.LagSeconds))
		}
		sets = append(sets, metrics.Set{Dims: flow(f.Flow), Metrics: ms})
		// Per topic and per partition, for the partitions this run worked
		// on and those with lag (a topic's sum over them is its lag).
		topics := map[string]int64{}
		var order []string
		for _, l := range f.Lags {
			if _, ok := topics[l.Topic]; !ok {
				order = append(order, l.Topic)
			}
			topics[l.Topic] += l.Lag
		}
		slices.Sort(order)
		for _, t := range order {
			sets = append(sets, metrics.Set{
				Dims:    []metrics.Dim{{Name: "Flow", Value: f.Flow}, {Name: "Topic", Value: t}},
				Metrics: []metrics.Metric{metric(metrics.ReplicationLagRecords, metrics.Count, float64(topics[t]))},
			})
		}
		for _, l := range f.Lags {
			sets = append(sets, metrics.Set{
				Dims:    []metrics.Dim{{Name: "Flow", Value: f.Flow}, {Name: "Topic", Value: l.Topic}, {Name: "Partition", Value: strconv.Itoa(int(l.Partition))}},
				Metrics: []metrics.Metric{metric(metrics.ReplicationLagRecords, metrics.Count, float64(l.Lag))},
			})
		}
	}
	// The tick's fan-out (workers and runs outside Lambda have none), by
	// deployment alone: only the mirror fans out.
	if fo := s.Fanout; fo != nil {
		sets = append(sets, metrics.Set{
			Metrics: []metrics.Metric{
				metric(metrics.FanoutInvocations, metrics.Count, float64(fo.Invocations)),
				metric(metrics.FanoutBacklogRecords, metrics.Count, float64(fo.Backlog.Records)),
				metric(metrics.FanoutStartFailures, metrics.Count, float64(fo.Failed)),
			},
		})
	}
	return sets
}

// Metrics reports the changes applied, failed and skipped per flow.
func (s *ReconcileSummary) Metrics() []metrics.Set {
	if s == nil || s.DryRun {
		return nil // a dry run changes nothing: its counts are not activity
	}
	var sets []metrics.Set
	for _, p := range s.Plans {
		if p == nil {
			continue
		}
		var created, internal, partitions, configs, acls, failed, skipped float64
		for _, a := range p.Actions {
			switch a.Status {
			case reconcile.Failed:
				failed++
				continue
			case reconcile.Skipped:
				skipped++
				continue
			case reconcile.Applied:
			default:
				continue
			}
			switch a.Kind {
			case reconcile.CreateTopic:
				created++
			case reconcile.CreateInternalTopic:
				internal++
			case reconcile.GrowPartitions:
				partitions += float64(a.Partitions - a.FromPartitions)
			case reconcile.AlterConfigs:
				configs += float64(len(a.Changes))
			case reconcile.CreateACL:
				acls++
			}
		}
		sets = append(sets, metrics.Set{Dims: flow(p.Flow), Metrics: []metrics.Metric{
			metric(metrics.TopicsCreated, metrics.Count, created),
			metric(metrics.InternalTopicsCreated, metrics.Count, internal),
			metric(metrics.PartitionsAdded, metrics.Count, partitions),
			metric(metrics.ConfigsAltered, metrics.Count, configs),
			metric(metrics.ACLsCreated, metrics.Count, acls),
			metric(metrics.ReconcileErrors, metrics.Count, failed),
			metric(metrics.ChangesSkipped, metrics.Count, skipped),
		}})
	}
	return sets
}

// Metrics reports the flows' translation, checkpoints and heartbeats.
func (s *CheckpointSummary) Metrics() []metrics.Set {
	if s == nil {
		return nil
	}
	var sets []metrics.Set
	for _, f := range s.Flows {
		if f == nil {
			continue
		}
		fenced := 0.0
		if f.Fenced {
			fenced = 1
		}
		sets = append(sets, metrics.Set{Dims: flow(f.Flow), Metrics: []metrics.Metric{
			metric(metrics.GroupsTranslated, metrics.Count, float64(f.Groups)),
			metric(metrics.CheckpointsWritten, metrics.Count, float64(f.Checkpoints)),
			metric(metrics.GroupOffsetsSynced, metrics.Count, float64(f.OffsetsSynced)),
			metric(metrics.HeartbeatsWritten, metrics.Count, float64(f.Heartbeats)),
			metric(metrics.UntranslatablePartitions, metrics.Count, float64(f.Untranslatable)),
			metric(metrics.CheckpointFenced, metrics.Count, fenced),
			metric(metrics.CheckpointErrors, metrics.Count, float64(len(f.Errors))),
		}})
		for _, l := range f.GroupLags {
			ms := []metrics.Metric{metric(metrics.GroupLagRecords, metrics.Count, float64(l.Records))}
			if l.Seconds >= 0 { // -1: not read this run, no data point
				ms = append(ms, metric(metrics.GroupLagSeconds, metrics.Seconds, l.Seconds))
			}
			sets = append(sets, metrics.Set{Dims: []metrics.Dim{{Name: "Flow", Value: f.Flow}, {Name: "Group", Value: l.Group}}, Metrics: ms})
		}
	}
	return sets
}
