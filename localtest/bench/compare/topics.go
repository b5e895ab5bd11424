package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

const batch = 100 // topics per CreateTopics/DeleteTopics request

// recreateTopics deletes the named topics if they exist, then creates them.
func recreateTopics(ctx context.Context, adm *kadm.Client, cluster string, names []string, partitions int32) error {
	if err := deleteTopics(ctx, adm, cluster, names); err != nil {
		return err
	}
	for lo := 0; lo < len(names); lo += batch {
		hi := min(lo+batch, len(names))
		rs, err := adm.CreateTopics(ctx, partitions, 1, nil, names[lo:hi]...)
		if err != nil {
			return fmt.Errorf("create topics on %s: %w", cluster, err)
		}
		for _, r := range rs.Sorted() {
			if r.Err != nil {
				return fmt.Errorf("create topic %s on %s: %w %s", r.Topic, cluster, r.Err, r.ErrMessage)
			}
		}
	}
	return waitLeaders(ctx, adm, names, partitions, 3*time.Minute)
}

// deleteTopics deletes those of the named topics that exist and waits
// until they are gone from the metadata.
func deleteTopics(ctx context.Context, adm *kadm.Client, cluster string, names []string) error {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics on %s: %w", cluster, err)
	}
	var present []string
	for _, n := range names {
		if td.Has(n) {
			present = append(present, n)
		}
	}
	if len(present) == 0 {
		return nil
	}
	sort.Strings(present)
	for lo := 0; lo < len(present); lo += batch {
		hi := min(lo+batch, len(present))
		rs, err := adm.DeleteTopics(ctx, present[lo:hi]...)
		if err != nil {
			return fmt.Errorf("delete topics on %s: %w", cluster, err)
		}
		for _, r := range rs.Sorted() {
			if r.Err != nil && !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
				return fmt.Errorf("delete topic %s on %s: %w %s", r.Topic, cluster, r.Err, r.ErrMessage)
			}
		}
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		// kadm answers listings from the client's metadata cache, where a
		// deleted topic stays for MetadataMinAge (5 s); asking for the
		// authorized operations too makes it send the request.
		td, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx))
		left := 0
		if err == nil {
			for _, n := range present {
				if td.Has(n) {
					left++
				}
			}
			if left == 0 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: %d topics still listed 2 minutes after their deletion (%v)", cluster, left, err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// deletePrefixed deletes every topic whose name starts with one of the
// prefixes (leftovers of an earlier run).
func deletePrefixed(ctx context.Context, adm *kadm.Client, cluster string, prefixes ...string) error {
	td, err := adm.ListTopics(ctx)
	if err != nil {
		return fmt.Errorf("list topics on %s: %w", cluster, err)
	}
	var names []string
	for t := range td {
		for _, p := range prefixes {
			if strings.HasPrefix(t, p) {
				names = append(names, t)
				break
			}
		}
	}
	if len(names) > 0 {
		logf("deleting %d topics left on %s by an earlier run", len(names), cluster)
	}
	return deleteTopics(ctx, adm, cluster, names)
}

// waitLeaders waits until every topic lists all its partitions with a
// leader, and until those leaders serve them (unserved): a broker names a
// new partition's leader in its metadata before that broker has made
// itself leader, and until it has, it answers NOT_LEADER_OR_FOLLOWER,
// which a client retries after a backoff. The mirror's first request to
// the remote partitions (their start offsets) met that after reconcile
// and lost 0.25-0.8 s of kgo's backoff inside the timed copy, where
// reconcile stands for a schedule that created the topics long before.
func waitLeaders(ctx context.Context, adm *kadm.Client, names []string, partitions int32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		td, err := adm.ListTopics(ctx, names...)
		pending := 0
		if err == nil {
			for _, t := range names {
				d, ok := td[t]
				if !ok || d.Err != nil || len(d.Partitions) < int(partitions) {
					pending++
					continue
				}
				for _, p := range d.Partitions {
					if p.Err != nil || p.Leader < 0 {
						pending++
						break
					}
				}
			}
			if pending == 0 {
				pending, err = unserved(ctx, adm, names)
				if err == nil && pending == 0 {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d topics not ready after %s (%v)", pending, len(names), timeout, err)
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// unserved counts the topics of which some partition's end offset cannot
// be listed yet.
func unserved(ctx context.Context, adm *kadm.Client, names []string) (int, error) {
	ends, err := adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return len(names), err
	}
	bad := map[string]bool{}
	var first error
	for _, t := range names {
		ps, ok := ends[t]
		if !ok || len(ps) == 0 {
			bad[t] = true
			continue
		}
		for _, o := range ps {
			if o.Err != nil {
				bad[t] = true
				if first == nil {
					first = fmt.Errorf("end offset of %s/%d: %w", t, o.Partition, o.Err)
				}
			}
		}
	}
	return len(bad), first
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
