// Package lease spreads work units among concurrent invocations.
//
// A lease is a committed offset in a per-flow consumer group on the target
// cluster: the offset is the lease's expiry (Unix milliseconds) and the
// metadata names the owner. Reading every lease is one OffsetFetch, so the
// cost grows with partitions, not with history, and operators can see who
// holds what with kafka-consumer-groups --describe.
//
// Kafka offers no compare-and-set on offsets, so two invocations can both
// believe they hold a unit for a moment. Leases only spread work: what
// makes an overlap safe is the per-unit transactional id, which fences the
// earlier writer (see package mirror).
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Unit identifies a leased partition: the remote topic and partition on
// the target (the same partition number as on the source).
type Unit struct {
	Topic     string
	Partition int32
}

func (u Unit) String() string { return u.Topic + "/" + strconv.Itoa(int(u.Partition)) }

// Lease is the current holder of a unit.
type Lease struct {
	Owner  string
	Expiry time.Time
}

// Held reports whether the lease is live at now for someone other than owner.
func (l Lease) HeldByOther(owner string, now time.Time) bool {
	return l.Owner != "" && l.Owner != owner && now.Before(l.Expiry)
}

const metaPrefix = "mirrorless-lease/v1 "

// Store reads and writes leases in one consumer group.
type Store struct {
	Admin *kadm.Client
	Group string
	Owner string
	Now   func() time.Time // for tests; time.Now when nil
	// Margin is how long a lease must still have to live for Release to
	// write over it: the read, the write and any clock difference between
	// invocations must fit in it. DefaultMargin when zero; it must be
	// shorter than the leases' TTL, or nothing is ever released.
	Margin time.Duration
	// Logger receives a line for each entry of the group that is not a
	// lease (slog.Default() when nil).
	Logger *slog.Logger
}

// DefaultMargin is Store.Margin when it is zero.
const DefaultMargin = 2 * time.Second

// MarginFor is the release margin for leases of ttl: DefaultMargin, or a
// quarter of a TTL shorter than 8 s, so that a lease of a short TTL can
// still be released by a run that ends quickly.
func MarginFor(ttl time.Duration) time.Duration {
	return min(DefaultMargin, ttl/4)
}

func (s *Store) margin() time.Duration {
	if s.Margin > 0 {
		return s.Margin
	}
	return DefaultMargin
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Read returns every lease in the group.
func (s *Store) Read(ctx context.Context) (map[Unit]Lease, error) {
	resp, err := s.Admin.FetchOffsets(ctx, s.Group)
	for attempt := 0; err != nil && kerr.IsRetriable(err) && attempt < 50; attempt++ {
		// The coordinator is moving, or __consumer_offsets is being
		// created on a new cluster.
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		resp, err = s.Admin.FetchOffsets(ctx, s.Group)
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return map[Unit]Lease{}, nil // no lease was ever written
	}
	if err != nil {
		return nil, fmt.Errorf("read leases of group %s: %w", s.Group, err)
	}
	out := map[Unit]Lease{}
	var firstErr error
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err != nil {
			if firstErr == nil {
				firstErr = o.Err
			}
			return
		}
		l, err := parseLease(o.At, o.Metadata)
		if err != nil {
			// Not a lease mirrorless wrote: the unit counts as free, and
			// the next claim overwrites the entry. Leases only spread
			// work; fencing keeps a wrongly free unit safe.
			s.logger().Warn("lease entry ignored", "group", s.Group, "topic", o.Topic, "partition", o.Partition, "err", err)
			return
		}
		out[Unit{o.Topic, o.Partition}] = l
	})
	if firstErr != nil {
		return nil, fmt.Errorf("read leases of group %s: %w", s.Group, firstErr)
	}
	return out, nil
}

func (s *Store) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// parseLease reads a lease entry: the offset is the expiry in Unix
// milliseconds, the metadata names the owner after metaPrefix.
func parseLease(offset int64, meta string) (Lease, error) {
	owner, ok := strings.CutPrefix(meta, metaPrefix)
	switch {
	case !ok:
		return Lease{}, fmt.Errorf("lease metadata %.80q was not written by mirrorless", meta)
	case owner == "":
		return Lease{}, errors.New("lease names no owner")
	case !utf8.ValidString(owner) || strings.ContainsFunc(owner, unicode.IsControl):
		return Lease{}, fmt.Errorf("lease owner %.80q is not text", owner)
	case offset < 0:
		return Lease{}, fmt.Errorf("lease expiry %d is negative", offset)
	}
	return Lease{Owner: owner, Expiry: time.UnixMilli(offset)}, nil
}

// Claim tries to take the units for ttl. It writes a claim for every unit
// that is free, expired or already ours, reads the group back, and returns
// the units whose lease names this owner; a racing claimer that wrote
// later wins, and the loser skips the unit.
func (s *Store) Claim(ctx context.Context, units []Unit, ttl time.Duration) ([]Unit, error) {
	if len(units) == 0 {
		return nil, nil
	}
	current, err := s.Read(ctx)
	if err != nil {
		return nil, err
	}
	got, _, err := s.claim(ctx, current, units, len(units), ttl)
	return got, err
}

// takeRounds bounds Take's retries after losing races.
const takeRounds = 4

// Take claims up to n of units for ttl, preferring them in the order
// given and passing over units another owner holds. Invocations started
// together all prefer the same units; the ones that lose a race for them
// go on to the next free units (up to takeRounds times), so concurrent
// invocations spread over the work instead of fighting over its head.
func (s *Store) Take(ctx context.Context, units []Unit, n int, ttl time.Duration) ([]Unit, error) {
	got, _, err := s.take(ctx, units, n, ttl, false)
	return got, err
}

// TakeUnlessHeld is Take, unless another owner holds one of units: then
// it claims nothing and returns that unit (held true). A work group is
// one writer's: some of its partitions held by another invocation means
// the group is.
func (s *Store) TakeUnlessHeld(ctx context.Context, units []Unit, n int, ttl time.Duration) (got []Unit, heldUnit Unit, held bool, err error) {
	got, heldUnit, err = s.take(ctx, units, n, ttl, true)
	return got, heldUnit, heldUnit != (Unit{}), err
}

func (s *Store) take(ctx context.Context, units []Unit, n int, ttl time.Duration, unlessHeld bool) ([]Unit, Unit, error) {
	if len(units) == 0 || n <= 0 {
		return nil, Unit{}, nil
	}
	current, err := s.Read(ctx)
	if err != nil {
		return nil, Unit{}, err
	}
	if unlessHeld {
		now := s.now()
		for _, u := range units {
			if current[u].HeldByOther(s.Owner, now) {
				return nil, u, nil
			}
		}
	}
	var got []Unit
	for round := 0; round < takeRounds && len(got) < n; round++ {
		var want []Unit
		for _, u := range units {
			if !slices.Contains(got, u) {
				want = append(want, u)
			}
		}
		// Units lost to another claimer show as theirs in the leases
		// read back, and are passed over in the next round.
		won, after, err := s.claim(ctx, current, want, n-len(got), ttl)
		if err != nil {
			return got, Unit{}, err
		}
		if after == nil {
			break // nothing left free
		}
		got = append(got, won...)
		current = after
	}
	return got, Unit{}, nil
}

// claim writes claims for up to n of units that current shows free,
// expired or ours, reads the group back and returns the units won and the
// leases read back (nil when nothing was free to claim).
func (s *Store) claim(ctx context.Context, current map[Unit]Lease, units []Unit, n int, ttl time.Duration) ([]Unit, map[Unit]Lease, error) {
	now := s.now()
	expiry := now.Add(ttl).UnixMilli()
	var os kadm.Offsets
	var want []Unit
	for _, u := range units {
		if len(want) == n {
			break
		}
		if current[u].HeldByOther(s.Owner, now) {
			continue
		}
		os.Add(kadm.Offset{Topic: u.Topic, Partition: u.Partition, At: expiry, LeaderEpoch: -1, Metadata: metaPrefix + s.Owner})
		want = append(want, u)
	}
	if len(want) == 0 {
		return nil, nil, nil
	}
	if err := s.commit(ctx, os); err != nil {
		return nil, nil, err
	}
	after, err := s.Read(ctx)
	if err != nil {
		return nil, nil, err
	}
	var got []Unit
	for _, u := range want {
		if after[u].Owner == s.Owner {
			got = append(got, u)
		}
	}
	return got, after, nil
}

// Release ends this owner's leases on units so the next invocation need
// not wait for them to expire. There is no compare-and-set on offsets, so
// the write could erase a claim made since the read; it is made harmless
// by time instead: only a lease that is ours and has at least
// Store.Margin left is released, and the write is given up before that
// lease expires. No other owner claims a live lease, so none can have
// claimed it in between (clocks agreeing within the margin). A lease
// nearly or already expired (a stalled invocation, a zombie) is left to
// expire: a newer holder may have it already (issue 18 item 4).
func (s *Store) Release(ctx context.Context, units []Unit) error {
	if len(units) == 0 {
		return nil
	}
	current, err := s.Read(ctx)
	if err != nil {
		return err
	}
	var os kadm.Offsets
	now := s.now()
	expired := now.Add(-time.Millisecond).UnixMilli()
	var left time.Duration // the shortest time a released lease has left
	margin := s.margin()
	for _, u := range units {
		l := current[u]
		if l.Owner != s.Owner || l.Expiry.Sub(now) < margin {
			continue
		}
		if len(os) == 0 || l.Expiry.Sub(now) < left {
			left = l.Expiry.Sub(now)
		}
		os.Add(kadm.Offset{Topic: u.Topic, Partition: u.Partition, At: expired, LeaderEpoch: -1, Metadata: metaPrefix + s.Owner})
	}
	if len(os) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, left-margin/2)
	defer cancel()
	return s.commit(ctx, os)
}

func (s *Store) commit(ctx context.Context, os kadm.Offsets) error {
	var err error
	for attempt := 0; attempt < 50; attempt++ {
		var resp kadm.OffsetResponses
		resp, err = s.Admin.CommitOffsets(ctx, s.Group, os)
		if err == nil {
			err = resp.Error()
		}
		if err == nil || !kerr.IsRetriable(err) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err != nil {
		return fmt.Errorf("write leases to group %s: %w", s.Group, err)
	}
	return nil
}
