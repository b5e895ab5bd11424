package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/names"
	"github.com/mirrorless/mirrorless/core/offsetsync"
)

// StateTopic is where the checkpoint function keeps its state on the
// target (names.CheckpointStateTopic): one compacted partition holding, per key,
//
//	position                 the next offset of the offset-syncs topic to read
//	index/<topic>/<p>        a source partition's translation index
//	group/<group>            the last checkpoint emitted per partition of a group
//
// The name starts with "mm2" and ends in ".internal", so MM2 and mirrorless
// both treat it as internal and never replicate it. It is written in the same
// transaction as the checkpoints, so state and output never disagree, and
// its live size is one record per source partition and per group: start-up
// reads grow with partitions and groups, not with history.
func StateTopic(f *config.Flow) string { return names.CheckpointStateTopic(f.OffsetSyncsTopic()) }

// tp is a source topic partition.
type tp struct {
	Topic     string
	Partition int32
}

func (t tp) String() string { return t.Topic + "/" + strconv.Itoa(int(t.Partition)) }

// emitted is the last checkpoint written for one group partition.
type emitted struct{ Up, Down int64 }

const (
	keyPosition = "position"
	prefixIndex = "index/"
	prefixGroup = "group/"
	stateV1     = 1
)

var errBadState = errors.New("malformed checkpoint state record")

func indexKey(t tp) string { return prefixIndex + t.Topic + "/" + strconv.Itoa(int(t.Partition)) }

func parseIndexKey(k string) (tp, bool) {
	rest, ok := strings.CutPrefix(k, prefixIndex)
	if !ok {
		return tp{}, false
	}
	i := strings.LastIndexByte(rest, '/')
	if i <= 0 {
		return tp{}, false
	}
	p, err := strconv.ParseInt(rest[i+1:], 10, 32)
	if err != nil || p < 0 {
		return tp{}, false
	}
	return tp{rest[:i], int32(p)}, true
}

func encodePosition(p int64) []byte {
	return binary.AppendVarint([]byte{stateV1}, p)
}

func decodePosition(b []byte) (int64, error) {
	if len(b) < 2 || b[0] != stateV1 {
		return 0, errBadState
	}
	p, n := binary.Varint(b[1:])
	if n <= 0 || n != len(b)-1 || p < 0 {
		return 0, errBadState
	}
	return p, nil
}

func encodeGroup(m map[tp]emitted) []byte {
	b := binary.AppendUvarint([]byte{stateV1}, uint64(len(m)))
	for t, e := range m {
		b = binary.AppendUvarint(b, uint64(len(t.Topic)))
		b = append(b, t.Topic...)
		b = binary.AppendVarint(b, int64(t.Partition))
		b = binary.AppendVarint(b, e.Up)
		b = binary.AppendVarint(b, e.Down)
	}
	return b
}

// minGroupEntry is the fewest bytes a group entry takes: a topic length,
// a partition, and two offsets, one varint byte each.
const minGroupEntry = 4

func decodeGroup(b []byte) (map[tp]emitted, error) {
	if len(b) < 2 || b[0] != stateV1 {
		return nil, errBadState
	}
	b = b[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 {
		return nil, errBadState // k < 0: a varint past 64 bits
	}
	b = b[k:]
	// An entry takes at least minGroupEntry bytes, so a count the bytes
	// left cannot hold is malformed. The map is not sized from the count:
	// the record comes from the target, and it grows with the entries that
	// decode.
	if n > uint64(len(b)/minGroupEntry) {
		return nil, errBadState
	}
	m := map[tp]emitted{}
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, errBadState
		}
		topic := string(b[k : k+int(l)])
		b = b[k+int(l):]
		var v [3]int64
		for j := range v {
			x, k := binary.Varint(b)
			if k <= 0 {
				return nil, errBadState
			}
			v[j], b = x, b[k:]
		}
		if v[0] < 0 || v[0] > 1<<31-1 || v[1] < 0 || v[2] < 0 {
			return nil, fmt.Errorf("%w: offsets out of range", errBadState)
		}
		m[tp{topic, int32(v[0])}] = emitted{v[1], v[2]}
	}
	if len(b) != 0 {
		return nil, errBadState
	}
	return m, nil
}

// state is what one invocation reads at start and writes back.
type state struct {
	position int64 // -1: nothing read yet
	index    map[tp]*offsetsync.Index
	groups   map[string]map[tp]emitted

	dirtyIndex  map[tp]bool
	dirtyGroups map[string]bool
	skipped     int // records that did not decode
}

func newState() *state {
	return &state{position: -1, index: map[tp]*offsetsync.Index{}, groups: map[string]map[tp]emitted{},
		dirtyIndex: map[tp]bool{}, dirtyGroups: map[string]bool{}}
}

// apply folds one state record; a record that does not decode is counted
// and skipped (its key's previous value, if any, stays).
func (s *state) apply(key string, value []byte) error {
	switch {
	case key == keyPosition:
		p, err := decodePosition(value)
		if err != nil {
			s.skipped++
			return fmt.Errorf("state %q: %w", key, err)
		}
		s.position = p
	case strings.HasPrefix(key, prefixIndex):
		t, ok := parseIndexKey(key)
		if !ok {
			s.skipped++
			return fmt.Errorf("state key %q: %w", key, errBadState)
		}
		if value == nil {
			delete(s.index, t)
			return nil
		}
		x := &offsetsync.Index{}
		if err := x.UnmarshalBinary(value); err != nil {
			s.skipped++
			return fmt.Errorf("state %q: %w", key, err)
		}
		s.index[t] = x
	case strings.HasPrefix(key, prefixGroup):
		g := strings.TrimPrefix(key, prefixGroup)
		if value == nil {
			delete(s.groups, g)
			return nil
		}
		m, err := decodeGroup(value)
		if err != nil {
			s.skipped++
			return fmt.Errorf("state %q: %w", key, err)
		}
		s.groups[g] = m
	default:
		s.skipped++
		return fmt.Errorf("state key %q: %w", key, errBadState)
	}
	return nil
}
