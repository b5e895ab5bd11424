package main

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A partition whose leader is in the metadata but does not serve it yet
// (NOT_LEADER_OR_FOLLOWER on ListOffsets, as a broker answers for a
// partition it has not made itself leader of) is not ready: waitLeaders
// returns only once its end offset can be listed. kfake: a real broker's
// window is too short to hold open in a test.
func TestWaitLeadersWaitsUntilServed(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "ready-a", "ready-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var refusing atomic.Bool
	refusing.Store(true)
	var refused atomic.Int64
	c.ControlKey(int16(kmsg.ListOffsets), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !refusing.Load() {
			return nil, nil, false
		}
		req := kreq.(*kmsg.ListOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.NotLeaderForPartition.Code
				sp.Offset = -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		refused.Add(1)
		return resp, nil, true
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RetryBackoffFn(func(int) time.Duration { return 10 * time.Millisecond }))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()

	done := make(chan error, 1)
	go func() { done <- waitLeaders(ctx, adm, []string{"ready-a", "ready-b"}, 2, time.Minute) }()
	// While the broker refuses, waitLeaders keeps waiting.
	for refused.Load() < 3 {
		select {
		case err := <-done:
			t.Fatalf("waitLeaders returned %v after %d refused ListOffsets, while the leader did not serve the partitions", err, refused.Load())
		case <-time.After(10 * time.Millisecond):
		}
	}
	select {
	case err := <-done:
		t.Fatalf("waitLeaders returned %v while the leader did not serve the partitions", err)
	default:
	}
	refusing.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("waitLeaders: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("waitLeaders did not return once the partitions were served")
	}
}
