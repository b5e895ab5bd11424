package metrics

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
	// Per group (dimensions Flow, Group): how far the group would be
	// behind on the target if it failed over now.
	GroupLagRecords = "GroupLagRecords" // remote ends minus translated offsets
	GroupLagSeconds = "GroupLagSeconds" // now minus the oldest record not consumed yet
)

// Measured is a function's summary: it knows its own metric sets, so this
// package, the EMF encoder, needs to know nothing of the functions.
type Measured interface {
	// Metrics returns the summary's sets: per flow (dimension Flow) and,
	// for lag, per partition (Flow, Topic, Partition).
	Metrics() []Set
}

// Of is an invocation's metric sets: its summary's (none when s is nil)
// and the function's own (dimension Function).
func Of(function string, s Measured, durationMs int64, failed bool) []Set {
	var sets []Set
	if s != nil {
		sets = s.Metrics()
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
