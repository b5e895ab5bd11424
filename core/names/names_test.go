package names

import "testing"

// TestNames pins every name byte for byte: they are on the target, and a
// change would orphan a running deployment's progress, leases or state.
func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{ProgressGroup("A->B"), "mirrorless.A->B.progress"},
		{LeaseGroup("A->B"), "mirrorless.A->B.leases"},
		{UnitTransactionalID("A->B", "orders", 7), "mirrorless.A->B.orders.7"},
		{CheckpointTransactionalID("A->B"), "mirrorless.A->B.checkpoint"},
		{GroupTransactionalID("A->B", 3), "mirrorless.A->B.~group.3"},
		{AssignTransactionalID("A->B"), "mirrorless.A->B.~assign"},
		{AssignmentGroup("A->B"), "mirrorless.A->B.assignment"},
		{OffsetSyncsTopic(".", "A"), "mm2-offset-syncs.A.internal"},
		{OffsetSyncsTopic("_", "A"), "mm2-offset-syncs_A_internal"},
		{CheckpointsTopic(".", "A"), "A.checkpoints.internal"},
		{CheckpointStateTopic("mm2-offset-syncs.A.internal"), "mm2-mirrorless-checkpoint-state.A.internal"},
		{CheckpointStateTopic("mm2-offset-syncs_A_internal"), "mm2-mirrorless-checkpoint-state_A_internal"},
		{MM2OffsetsTopic("A"), "mm2-offsets.A.internal"},
		{HeartbeatsTopic, "heartbeats"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if !IsOwnGroup("mirrorless.A->B.progress") || IsOwnGroup("orders-consumers") {
		t.Error("IsOwnGroup: wrong answer for mirrorless's own progress group or a user's group")
	}
}
