// Package reconcile brings a flow's target metadata in line with its
// source: it creates missing remote topics with the source partition
// count, grows partitions when the source grew (never shrinks, never
// deletes) and creates MM2's internal topics. It always makes a plan
// first; Apply carries out exactly that plan, so a dry run shows what a
// real run would do.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/meter"
	"github.com/mirrorless/mirrorless/core/names"
)

// Kinds of action.
const (
	CreateTopic         = "create-topic"
	GrowPartitions      = "grow-partitions"
	CreateInternalTopic = "create-internal-topic"
	AlterConfigs        = "alter-configs"
	CreateACL           = "create-acl"
)

// Status is where an action stands.
type Status string

// The action statuses, as written in the summary.
const (
	Planned Status = "planned" // in the plan (a dry run stops here)
	Applied Status = "applied" // done on the target
	Exists  Status = "exists"  // created meanwhile by someone else: nothing to do
	Skipped Status = "skipped" // not started before the time budget ended; the next run applies it
	Failed  Status = "failed"  // refused by the target: Error says why
)

// ConfigChange is one incremental config change on a remote topic.
type ConfigChange struct {
	Key string `json:"key"`
	// Op is "set" or "delete" (revert to the target's default).
	Op  string  `json:"op"`
	Old *string `json:"old"` // the target's current value (nil: not set as a topic override)
	New *string `json:"new"` // the value after the change (nil for delete)
}

// ACL is one topic ACL binding to create on the target.
type ACL struct {
	Principal  string `json:"principal"`
	Host       string `json:"host"`
	Operation  string `json:"operation"`  // e.g. READ, DESCRIBE (kadm.ACLOperation's String)
	Permission string `json:"permission"` // ALLOW or DENY
	// SourceOperation is the operation on the source when it differs
	// (ALL is copied as READ).
	SourceOperation string `json:"source_operation,omitempty"`
}

// Action is one planned change on the target.
type Action struct {
	Kind              string            `json:"kind"`
	Topic             string            `json:"topic"`
	SourceTopic       string            `json:"source_topic,omitempty"`
	Partitions        int32             `json:"partitions"`
	FromPartitions    int32             `json:"from_partitions,omitempty"`
	ReplicationFactor int16             `json:"replication_factor,omitempty"`
	Configs           map[string]string `json:"configs,omitempty"`
	// Changes are the config changes of an alter-configs action.
	Changes []ConfigChange `json:"changes,omitempty"`
	// ACL is the binding of a create-acl action (on Topic).
	ACL    *ACL   `json:"acl,omitempty"`
	Status Status `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Plan is what a flow needs on its target.
type Plan struct {
	Flow    string   `json:"flow"`
	Actions []Action `json:"actions"`
	// Notes are conditions reconcile reports but does not change, such as
	// a remote topic with more partitions than its source.
	Notes []string `json:"notes,omitempty"`
	// Held are remote topics reconcile would create but does not: they
	// were deleted on the target after the mirror had copied into them
	// (see HoldDeletedRemotes).
	Held []string `json:"held,omitempty"`

	sources map[string]sourceTopic // by remote topic
}

type sourceTopic struct {
	name string
	id   string
}

// NoteRecreated reports source topics whose id differs from the one the
// mirror recorded (remote topic -> source topic id): they were deleted and
// recreated since they were copied. The mirror keeps their partitions
// stopped rather than mix two topics' records in one remote topic.
func (p *Plan) NoteRecreated(recorded map[string]string) {
	var remotes []string
	for r := range recorded {
		remotes = append(remotes, r)
	}
	sort.Strings(remotes)
	for _, remote := range remotes {
		s, ok := p.sources[remote]
		if !ok || s.id == recorded[remote] {
			continue
		}
		// What to do about it is a runbook in docs/operations.md.
		p.Notes = append(p.Notes, fmt.Sprintf("source topic %s was deleted and recreated (topic id %s, now %s): mirror keeps %s stopped rather than mix two topics' records (progress group %s); to copy the new topic, see \"A source topic was deleted and recreated\" in docs/operations.md",
			s.name, recorded[remote], s.id, remote, names.ProgressGroup(p.Flow)))
	}
}

// MakePlan compares the flow's selected source topics with the target.
func MakePlan(ctx context.Context, f *config.Flow, src, tgt *kadm.Client) (*Plan, error) {
	p := &Plan{Flow: f.Name(), sources: map[string]sourceTopic{}}
	topics, err := src.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("list source topics of %s: %w", f.Source, err)
	}
	type want struct {
		source     string
		partitions int32
	}
	wanted := map[string]want{}
	for _, t := range topics.Sorted() {
		if t.Err != nil || !f.Rules.ShouldReplicate(t.Topic) {
			continue
		}
		remote := f.Rules.RemoteTopic(t.Topic)
		if why := invalidTopicName(remote); why != "" {
			p.Notes = append(p.Notes, fmt.Sprintf("source topic %s cannot be mirrored: its remote name %q %s", t.Topic, remote, why))
			continue
		}
		if prev, ok := wanted[remote]; ok {
			p.Notes = append(p.Notes, fmt.Sprintf("source topics %s and %s both map to %s; only %s is mirrored", prev.source, t.Topic, remote, prev.source))
			continue
		}
		wanted[remote] = want{source: t.Topic, partitions: int32(len(t.Partitions))}
		p.sources[remote] = sourceTopic{name: t.Topic, id: t.ID.String()}
	}
	names := make([]string, 0, len(wanted)+3)
	for r := range wanted {
		names = append(names, r)
	}
	for _, it := range internalTopics(f) {
		names = append(names, it.Topic)
	}
	existing, err := tgt.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list target topics of %s: %w", f.Target, err)
	}

	for _, it := range internalTopics(f) {
		if d, ok := existing[it.Topic]; !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			p.Actions = append(p.Actions, it)
		}
	}

	var srcCfgs, tgtCfgs map[string]topicConfigs
	if f.SyncTopicConfigs {
		var sources, remotes []string
		for remote, w := range wanted {
			sources = append(sources, w.source)
			if d, ok := existing[remote]; ok && d.Err == nil {
				remotes = append(remotes, remote)
			}
		}
		if srcCfgs, err = describeConfigs(ctx, src, sources); err != nil {
			return nil, fmt.Errorf("describe source topic configs of %s: %w", f.Source, err)
		}
		if tgtCfgs, err = describeConfigs(ctx, tgt, remotes); err != nil {
			return nil, fmt.Errorf("describe target topic configs of %s: %w", f.Target, err)
		}
	}

	sort.Strings(names)
	for _, remote := range names {
		w, ok := wanted[remote]
		if !ok {
			continue
		}
		d, exists := existing[remote]
		if exists && d.Err != nil && !errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("describe target topic %s: %w", remote, d.Err)
		}
		if !exists || d.Err != nil {
			p.Actions = append(p.Actions, Action{
				Kind: CreateTopic, Topic: remote, SourceTopic: w.source, Partitions: w.partitions,
				ReplicationFactor: f.ReplicationFactor, Configs: createConfigs(f, srcCfgs[w.source]),
			})
			continue
		}
		switch n := int32(len(d.Partitions)); {
		case n < w.partitions:
			p.Actions = append(p.Actions, Action{
				Kind: GrowPartitions, Topic: remote, SourceTopic: w.source,
				FromPartitions: n, Partitions: w.partitions,
			})
		case n > w.partitions:
			p.Notes = append(p.Notes, fmt.Sprintf("%s has %d partitions on %s but its source %s has %d: left as is (partitions are never removed); the extra partitions receive no records",
				remote, n, f.Target, w.source, w.partitions))
		}
		if f.SyncTopicConfigs {
			if ch := configChanges(f, srcCfgs[w.source], tgtCfgs[remote]); len(ch) > 0 {
				p.Actions = append(p.Actions, Action{Kind: AlterConfigs, Topic: remote, SourceTopic: w.source, Changes: ch})
			}
		}
	}
	acls, notes, err := planACLs(ctx, f, src, tgt)
	if err != nil {
		return nil, err
	}
	p.Actions = append(p.Actions, acls...)
	p.Notes = append(p.Notes, notes...)
	for i := range p.Actions {
		p.Actions[i].Status = Planned
	}
	return p, nil
}

// invalidTopicName says why Kafka would refuse a topic name ("" if it
// would not): at most 249 characters of [a-zA-Z0-9._-], not "." or "..".
func invalidTopicName(name string) string {
	if len(name) > 249 {
		return fmt.Sprintf("is %d characters long; Kafka allows 249 (shorten the source name or use another replication.policy.separator/policy)", len(name))
	}
	if name == "." || name == ".." {
		return "is not a valid topic name"
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return fmt.Sprintf("contains %q; Kafka topic names allow only letters, digits, '.', '_' and '-' (check replication.policy.separator)", r)
		}
	}
	return ""
}

// internalTopics are MM2's topics a flow needs on its target, each with one
// partition, compacted, and its replication-factor key: offset syncs (the
// mirror writes them in its transactions), checkpoints with the checkpoint
// function's state, and heartbeats (unless emit.checkpoints.enabled /
// emit.heartbeats.enabled are false).
func internalTopics(f *config.Flow) []Action {
	compact := map[string]string{"cleanup.policy": "compact"}
	// The checkpoint state topic's uncompacted tail is kept short: the
	// checkpoint function reads it whole at every start.
	state := map[string]string{"cleanup.policy": "compact", "segment.ms": "60000", "min.cleanable.dirty.ratio": "0.1"}
	out := []Action{{Kind: CreateInternalTopic, Topic: f.OffsetSyncsTopic(), Partitions: 1, ReplicationFactor: f.OffsetSyncsReplicationFactor, Configs: compact}}
	if f.EmitCheckpoints {
		out = append(out, Action{Kind: CreateInternalTopic, Topic: f.Rules.Policy.CheckpointsTopic(f.Source), Partitions: 1, ReplicationFactor: f.CheckpointsReplicationFactor, Configs: compact})
		out = append(out, Action{Kind: CreateInternalTopic, Topic: names.CheckpointStateTopic(f.OffsetSyncsTopic()), Partitions: 1, ReplicationFactor: f.CheckpointsReplicationFactor, Configs: state})
	}
	if f.EmitHeartbeats {
		out = append(out, Action{Kind: CreateInternalTopic, Topic: f.Rules.Policy.HeartbeatsTopic(), Partitions: 1, ReplicationFactor: f.HeartbeatsReplicationFactor, Configs: compact})
	}
	return out
}

// applyConcurrency bounds the changes in flight.
const applyConcurrency = 16

// createBatch is how many topics one CreateTopics request carries. The
// broker handles CreateTopics requests one at a time (about 28 a second
// on the benchmark machine: 40 s for 1,000 new topics sent singly), while
// one request creates many topics at once.
const createBatch = 100

// Apply carries out the plan's actions, several at a time. A failed action
// is recorded on the action and does not stop the others; the returned
// error says how many failed. Once ctx is done no further action starts:
// those are marked skipped, and the next run plans them again.
func Apply(ctx context.Context, p *Plan, tgt *kadm.Client) error {
	// For a person watching (reconcile on a terminal): changes settled
	// (applied, failed or skipped) of those planned.
	mt := meter.From(ctx)
	for _, a := range p.Actions {
		if a.Status == Planned {
			mt.AddTotal(1)
		}
	}
	createTopics(ctx, p, tgt)
	var wg sync.WaitGroup
	sem := make(chan struct{}, applyConcurrency)
	for i := range p.Actions {
		a := &p.Actions[i]
		if a.Status != Planned {
			continue // a creation, done above
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			a.Status, a.Error = Skipped, "time budget ended; the next run applies it"
			mt.AddDone(1)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer mt.AddDone(1)
			if err := applyOne(ctx, tgt, a); err != nil {
				a.Status, a.Error = Failed, err.Error()
			}
		}()
	}
	wg.Wait()
	waitVisible(ctx, p, tgt)
	count := map[Status]int{}
	for _, a := range p.Actions {
		count[a.Status]++
	}
	var errs []string
	if n := count[Failed]; n > 0 {
		errs = append(errs, fmt.Sprintf("%d of %d changes failed", n, len(p.Actions)))
	}
	if n := count[Skipped]; n > 0 {
		errs = append(errs, fmt.Sprintf("%d of %d changes skipped at the time budget", n, len(p.Actions)))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// createTopics carries out the plan's topic creations in batches of
// topics that share partitions, replication factor and configs, setting
// each action's status.
func createTopics(ctx context.Context, p *Plan, tgt *kadm.Client) {
	type settings struct {
		partitions int32
		rf         int16
		configs    string
	}
	groups := map[settings][]*Action{}
	var order []settings
	for i := range p.Actions {
		a := &p.Actions[i]
		if a.Kind != CreateTopic && a.Kind != CreateInternalTopic {
			continue
		}
		keys := make([]string, 0, len(a.Configs))
		for k := range a.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var cfg strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&cfg, "%s=%s\x00", k, a.Configs[k])
		}
		k := settings{a.Partitions, a.ReplicationFactor, cfg.String()}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], a)
	}
	for _, k := range order {
		acts := groups[k]
		for len(acts) > 0 {
			n := min(len(acts), createBatch)
			batch := acts[:n]
			acts = acts[n:]
			if ctx.Err() != nil {
				for _, a := range batch {
					a.Status, a.Error = Skipped, "time budget ended; the next run applies it"
				}
				meter.From(ctx).AddDone(int64(len(batch)))
				continue
			}
			var cfgs map[string]*string
			for ck, v := range batch[0].Configs {
				if cfgs == nil {
					cfgs = map[string]*string{}
				}
				cfgs[ck] = kadm.StringPtr(v)
			}
			names := make([]string, len(batch))
			for i, a := range batch {
				names[i] = a.Topic
			}
			rs, err := tgt.CreateTopics(ctx, k.partitions, k.rf, cfgs, names...)
			for _, a := range batch {
				r, ok := rs[a.Topic]
				switch {
				case err != nil:
					a.Status, a.Error = Failed, err.Error()
				case !ok:
					a.Status, a.Error = Failed, "no answer for this topic"
				case errors.Is(r.Err, kerr.TopicAlreadyExists):
					a.Status = Exists
				case r.Err != nil:
					a.Status, a.Error = Failed, r.Err.Error()
					if r.ErrMessage != "" {
						a.Error += ": " + r.ErrMessage
					}
				default:
					a.Status = Applied
				}
			}
			meter.From(ctx).AddDone(int64(len(batch)))
		}
	}
}

// applyOne carries out one action and sets its status on success.
func applyOne(ctx context.Context, tgt *kadm.Client, a *Action) error {
	var err error
	switch a.Kind {
	case CreateTopic, CreateInternalTopic:
		var cfgs map[string]*string
		for k, v := range a.Configs {
			if cfgs == nil {
				cfgs = map[string]*string{}
			}
			cfgs[k] = kadm.StringPtr(v)
		}
		var r kadm.CreateTopicResponse
		r, err = tgt.CreateTopic(ctx, a.Partitions, a.ReplicationFactor, cfgs, a.Topic)
		if err == nil {
			err = r.Err
		}
		if errors.Is(err, kerr.TopicAlreadyExists) {
			a.Status = Exists
			return nil
		}
	case GrowPartitions:
		var rs kadm.CreatePartitionsResponses
		rs, err = tgt.UpdatePartitions(ctx, int(a.Partitions), a.Topic)
		if err == nil {
			err = rs.Error()
		}
	case AlterConfigs:
		err = applyConfigs(ctx, tgt, a)
	case CreateACL:
		err = applyACL(ctx, tgt, a)
	default:
		err = fmt.Errorf("unknown action %q", a.Kind)
	}
	if err != nil {
		return err
	}
	a.Status = Applied
	return nil
}

// waitVisible waits, up to 10 s, until the brokers' metadata shows what was
// just created or grown, so that a mirror run right after reconcile finds
// it. Metadata propagates asynchronously after CreateTopics; thousands of
// new partitions can take a minute on a small cluster, which is noted.
func waitVisible(ctx context.Context, p *Plan, tgt *kadm.Client) {
	missing := map[string]int{}
	for _, a := range p.Actions {
		creates := a.Kind == CreateTopic || a.Kind == CreateInternalTopic || a.Kind == GrowPartitions
		if creates && (a.Status == Applied || a.Status == Exists) {
			missing[a.Topic] = int(a.Partitions)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for len(missing) > 0 {
		names := make([]string, 0, len(missing))
		for t := range missing {
			names = append(names, t)
		}
		if td, err := tgt.ListTopics(ctx, names...); err == nil {
			for t, n := range missing {
				if d, ok := td[t]; ok && d.Err == nil && len(d.Partitions) >= n && allLed(d) {
					delete(missing, t)
				}
			}
		}
		if len(missing) == 0 {
			return
		}
		select {
		case <-ctx.Done():
			p.Notes = append(p.Notes, fmt.Sprintf("%d created or grown topic(s) are not visible on the target yet (its brokers are still setting up the partitions); the mirror copies them once they are", len(missing)))
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func allLed(d kadm.TopicDetail) bool {
	for _, pd := range d.Partitions {
		if pd.Err != nil || pd.Leader < 0 {
			return false
		}
	}
	return true
}
