package metrics

// The metric names: MM2's (kafka.connect.mirror) in CloudWatch's style.
// The alarms and dashboards in template.yaml and infra/ select them by
// these names and by dimension sets that start with Deployment
// ({Deployment, Flow} and so on; docs/operations.md lists them all).
const (
	ReplicationLagRecords = "ReplicationLagRecords" // source end minus committed position (per flow, topic and partition)
	ReplicationLagSeconds = "ReplicationLagSeconds" // age of the oldest record not copied yet, per flow
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
	// Fan-out, from the scheduled mirror invocation only (dimension
	// Deployment alone: only the mirror fans out): the invocations the tick wanted, itself
	// included, the backlog it sized them on, and the workers it could not
	// start (an alarm on it catches a missing lambda:InvokeFunction grant
	// or throttling).
	FanoutInvocations    = "FanoutInvocations"
	FanoutBacklogRecords = "FanoutBacklogRecords"
	FanoutStartFailures  = "FanoutStartFailures"

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
// and the function's own (dimension Function), each with the deployment's
// name as its first dimension (Deployment): every set, so that two
// deployments in one account and region never share a metric.
func Of(deployment, function string, s Measured, durationMs int64, failed bool) []Set {
	var sets []Set
	if s != nil {
		sets = s.Metrics()
	}
	errs := 0.0
	if failed {
		errs = 1
	}
	sets = append(sets, Set{
		Dims: []Dim{{"Function", function}},
		Metrics: []Metric{
			{InvocationDurationMs, Milliseconds, float64(durationMs)},
			{InvocationErrors, Count, errs},
		},
	})
	out := make([]Set, len(sets))
	for i, set := range sets {
		out[i] = Set{Dims: append([]Dim{{"Deployment", deployment}}, set.Dims...), Metrics: set.Metrics}
	}
	return out
}
