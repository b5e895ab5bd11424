package metrics

import (
	"strconv"

	"github.com/mirrorless/mirrorless/core/app"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// The metric names: MM2's (kafka.connect.mirror) in CloudWatch's style.
// The alarms in template.yaml and infra/ select them by these names and by
// the dimension set {Flow} (docs/operations.md lists them all).
const (
	ReplicationLagRecords = "ReplicationLagRecords" // source end minus committed position
	RecordsReplicated     = "RecordsReplicated"
	BytesReplicated       = "BytesReplicated"
	ReplicationLatencyMs  = "ReplicationLatencyMs" // record timestamp to target commit, average
	ReplicationLatencyMax = "ReplicationLatencyMsMax"
	RecordAgeMs           = "RecordAgeMs" // record timestamp to the start of its transaction, average
	RecordAgeMax          = "RecordAgeMsMax"
	LeasesHeld            = "LeasesHeld"
	FencedUnits           = "FencedUnits"
	TransactionsCommitted = "TransactionsCommitted"
	UnitErrors            = "UnitErrors"
	PartitionsReset       = "PartitionsReset"   // moved by MIRROR_RESET_POLICY=earliest
	OffsetsSkipped        = "OffsetsSkipped"    // source offsets those resets skipped
	PartitionsStopped     = "PartitionsStopped" // refused rather than guessed: data lost, source recreated, foreign remote
	InvocationDurationMs  = "InvocationDurationMs"
	InvocationErrors      = "InvocationErrors"

	TopicsCreated         = "TopicsCreated"
	InternalTopicsCreated = "InternalTopicsCreated"
	PartitionsAdded       = "PartitionsAdded"
	ConfigsAltered        = "ConfigsAltered"
	ACLsCreated           = "ACLsCreated"
	ReconcileErrors       = "ReconcileErrors"
	ChangesSkipped        = "ChangesSkipped"

	GroupsTranslated         = "GroupsTranslated"
	CheckpointsWritten       = "CheckpointsWritten"
	GroupOffsetsSynced       = "GroupOffsetsSynced"
	HeartbeatsWritten        = "HeartbeatsWritten"
	UntranslatablePartitions = "UntranslatablePartitions"
	CheckpointFenced         = "CheckpointFenced"
	CheckpointErrors         = "CheckpointErrors"
)

// Of turns a function's summary into metric sets: per flow (dimension
// Flow), per partition for lag (Flow, Topic, Partition) and per function
// (Function). Unknown summaries give only the function's set.
func Of(function string, summary any, durationMs int64, failed bool) []Set {
	var sets []Set
	switch s := summary.(type) {
	case *app.MirrorSummary:
		sets = mirrorSets(s)
	case *app.ReconcileSummary:
		sets = reconcileSets(s)
	case *app.CheckpointSummary:
		sets = checkpointSets(s)
	}
	errs := 0.0
	if failed {
		errs = 1
	}
	return append(sets, Set{
		Dims: []Dim{{"Function", function}},
		Metrics: []Metric{
			{InvocationDurationMs, Milliseconds, float64(durationMs)},
			{InvocationErrors, Count, errs},
		},
	})
}

func flow(name string) []Dim { return []Dim{{"Flow", name}} }

func mirrorSets(s *app.MirrorSummary) []Set {
	if s == nil {
		return nil
	}
	var sets []Set
	for _, f := range s.Flows {
		if f == nil {
			continue
		}
		ms := []Metric{
			{ReplicationLagRecords, Count, float64(f.LagLeft)},
			{RecordsReplicated, Count, float64(f.Records)},
			{BytesReplicated, Bytes, float64(f.Bytes)},
			{LeasesHeld, Count, float64(f.UnitsClaimed)},
			{FencedUnits, Count, float64(f.Fenced)},
			{TransactionsCommitted, Count, float64(f.Transactions)},
			{UnitErrors, Count, float64(len(f.Errors))},
			{PartitionsReset, Count, float64(f.Resets)},
			{OffsetsSkipped, Count, float64(f.Skipped)},
			{PartitionsStopped, Count, float64(f.Stopped)},
		}
		// Latency only exists for records copied: no data point (rather
		// than a misleading 0) when nothing was.
		if f.Records > 0 {
			ms = append(ms,
				Metric{ReplicationLatencyMs, Milliseconds, float64(f.LatencyAvgMs)},
				Metric{ReplicationLatencyMax, Milliseconds, float64(f.LatencyMaxMs)},
				Metric{RecordAgeMs, Milliseconds, float64(f.RecordAgeAvgMs)},
				Metric{RecordAgeMax, Milliseconds, float64(f.RecordAgeMaxMs)},
			)
		}
		sets = append(sets, Set{Dims: flow(f.Flow), Metrics: ms})
		for _, l := range f.Lags {
			sets = append(sets, Set{
				Dims:    []Dim{{"Flow", f.Flow}, {"Topic", l.Topic}, {"Partition", strconv.Itoa(int(l.Partition))}},
				Metrics: []Metric{{ReplicationLagRecords, Count, float64(l.Lag)}},
			})
		}
	}
	return sets
}

func reconcileSets(s *app.ReconcileSummary) []Set {
	if s == nil || s.DryRun {
		return nil // a dry run changes nothing: its counts are not activity
	}
	var sets []Set
	for _, p := range s.Plans {
		if p == nil {
			continue
		}
		var created, internal, partitions, configs, acls, failed, skipped float64
		for _, a := range p.Actions {
			switch a.Status {
			case "failed":
				failed++
				continue
			case "skipped":
				skipped++
				continue
			case "applied":
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
		sets = append(sets, Set{Dims: flow(p.Flow), Metrics: []Metric{
			{TopicsCreated, Count, created},
			{InternalTopicsCreated, Count, internal},
			{PartitionsAdded, Count, partitions},
			{ConfigsAltered, Count, configs},
			{ACLsCreated, Count, acls},
			{ReconcileErrors, Count, failed},
			{ChangesSkipped, Count, skipped},
		}})
	}
	return sets
}

func checkpointSets(s *app.CheckpointSummary) []Set {
	if s == nil {
		return nil
	}
	var sets []Set
	for _, f := range s.Flows {
		if f == nil {
			continue
		}
		fenced := 0.0
		if f.Fenced {
			fenced = 1
		}
		sets = append(sets, Set{Dims: flow(f.Flow), Metrics: []Metric{
			{GroupsTranslated, Count, float64(f.Groups)},
			{CheckpointsWritten, Count, float64(f.Checkpoints)},
			{GroupOffsetsSynced, Count, float64(f.OffsetsSynced)},
			{HeartbeatsWritten, Count, float64(f.Heartbeats)},
			{UntranslatablePartitions, Count, float64(f.Untranslatable)},
			{CheckpointFenced, Count, fenced},
			{CheckpointErrors, Count, float64(len(f.Errors))},
		}})
	}
	return sets
}
