// Package invocation runs one invocation of a function (mirror,
// reconcile, checkpoint, and the operator commands adopt and failover): it
// wires configuration, clients and the core packages together, and returns
// a summary. It is what functions/* call, in Lambda or not, and what the
// demo and the black-box tests exercise.
package invocation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/kafka"
	"github.com/mirrorless/mirrorless/core/mirror"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// ErrInput marks errors caused by the user's configuration; programs exit
// with code 2 for them.
var ErrInput = errors.New("bad input")

// Invoker holds the clients of every cluster the selected flows use. Build it
// once and reuse it across invocations (warm Lambda containers).
type Invoker struct {
	Config   *config.Config
	Settings config.Settings
	Logger   *slog.Logger
	Flows    []*config.Flow
	// Groups is the number of work groups the schedule's tick decided
	// (its fan-out) for the mirror runs of this invocation: each flow's
	// assignment is changed to it first. 0: copy under the current one
	// (a fan-out worker; see mirror.Mirror.Groups).
	Groups int
	// Worker: a fan-out worker, which waits for the tick's assignment of
	// Groups groups instead of changing it.
	Worker bool

	admins   map[string]*kadm.Client // per "alias/role-set" key
	baseOpts map[string][]kgo.Opt
}

// New validates the flows' client settings, builds the admin clients and
// checks that every cluster answers, before anything is written anywhere.
func New(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger) (*Invoker, error) {
	for _, w := range cfg.Warnings {
		logger.Warn("config: " + w)
	}
	flows, err := s.SelectFlows(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	a := &Invoker{Config: cfg, Settings: s, Logger: logger, Flows: flows, admins: map[string]*kadm.Client{}, baseOpts: map[string][]kgo.Opt{}}
	var problems []string
	warned := map[string]bool{}
	add := func(key string, f *config.Flow, alias string, props map[string]string, role kafka.Role) {
		if _, ok := a.baseOpts[key]; ok {
			return
		}
		// Problems and warnings name the key the user wrote, so a
		// top-level or per-cluster key shared by several clients is
		// reported once.
		name := func(k string) string { return cfg.KeyName(f, alias, string(role), k) }
		opts, warns, err := kafka.Options(cfg.Clusters[alias].Bootstrap, props, role, name, logger)
		for _, w := range warns {
			if !warned[w] {
				warned[w] = true
				logger.Warn("config: " + w)
			}
		}
		if oe, ok := errors.AsType[*kafka.OptionsError](err); ok {
			for _, p := range oe.Problems {
				if !slices.Contains(problems, p) {
					problems = append(problems, p)
				}
			}
			return
		} else if err != nil {
			problems = append(problems, err.Error())
			return
		}
		a.baseOpts[key] = opts
	}
	for _, f := range flows {
		add(optKey(f, "source-consumer"), f, f.Source, f.SourceConsumer, kafka.Consumer)
		add(optKey(f, "source-admin"), f, f.Source, f.SourceAdmin, kafka.Admin)
		add(optKey(f, "target-producer"), f, f.Target, f.TargetProducer, kafka.Producer)
		add(optKey(f, "target-admin"), f, f.Target, f.TargetAdmin, kafka.Admin)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInput, strings.Join(problems, "; "))
	}
	for _, f := range flows {
		for _, side := range []struct{ key, alias string }{{optKey(f, "source-admin"), f.Source}, {optKey(f, "target-admin"), f.Target}} {
			if _, ok := a.admins[side.key]; ok {
				continue
			}
			// kgo serves Metadata requests from a cache for MetadataMinAge
			// (5s by default), which would hide topics reconcile just
			// created from the listing that follows.
			cl, err := kgo.NewClient(append(a.baseOpts[side.key], kgo.MetadataMinAge(100*time.Millisecond))...)
			if err != nil {
				a.Close()
				return nil, fmt.Errorf("%w: client for %s: %v", ErrInput, side.alias, err)
			}
			a.admins[side.key] = kadm.NewClient(cl)
			if err := kafka.Ping(ctx, cl, side.alias, cfg.Clusters[side.alias].Bootstrap, s.ConnectTimeout); err != nil {
				a.Close()
				return nil, err
			}
		}
	}
	return a, nil
}

// newMirror is a flow's mirror with this Invoker's clients.
func (a *Invoker) newMirror(f *config.Flow, owner string) *mirror.Mirror {
	return &mirror.Mirror{
		Flow:        f,
		Settings:    a.Settings,
		SourceAdmin: a.admins[optKey(f, "source-admin")],
		TargetAdmin: a.admins[optKey(f, "target-admin")],
		SourceOpts:  a.baseOpts[optKey(f, "source-consumer")],
		TargetOpts:  a.baseOpts[optKey(f, "target-producer")],
		Logger:      a.Logger,
		Owner:       owner,
	}
}

func optKey(f *config.Flow, role string) string { return f.Name() + "/" + role }

// Close closes every client.
func (a *Invoker) Close() {
	for _, adm := range a.admins {
		adm.Close()
	}
}

// StopAt is when an invocation stops starting new work: the earlier of the
// context's deadline and the time budget, less the safety margin.
func (a *Invoker) StopAt(ctx context.Context, start time.Time) time.Time {
	end := start.Add(a.Settings.TimeBudget)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	return end.Add(-a.Settings.SafetyMargin)
}

// MirrorSummary is the mirror function's one-line JSON summary.
type MirrorSummary struct {
	Function     string           `json:"function"`
	OK           bool             `json:"ok"`
	DurationMs   int64            `json:"duration_ms"`
	UnitsClaimed int              `json:"units_claimed"`
	Records      int64            `json:"records"`
	Bytes        int64            `json:"bytes"`
	LagLeft      int64            `json:"lag_left"`
	Flows        []*mirror.Result `json:"flows"`
	// Fanout is the tick's sizing and the invocations it started (a
	// scheduled invocation in Lambda; absent in workers and outside it).
	Fanout *fanout.Sizing `json:"fanout,omitempty"`
	Error  string         `json:"error,omitempty"`
}

// Mirror runs one mirror invocation over every selected flow.
func (a *Invoker) Mirror(ctx context.Context, owner string) (*MirrorSummary, error) {
	start := time.Now()
	stopAt := a.StopAt(ctx, start)
	sum := &MirrorSummary{Function: "mirror"}
	// The flows run side by side and share the invocation's budgets (see
	// mirror.Mirror.Share): one after another, a flow with a backlog took
	// the whole time budget and the next copied nothing (issue 18 item 5).
	results := make([]*mirror.Result, len(a.Flows))
	runErrs := make([]error, len(a.Flows))
	var wg sync.WaitGroup
	shares := mirror.NewShares(len(a.Flows))
	for i, f := range a.Flows {
		m := a.newMirror(f, owner)
		m.Share = len(a.Flows)
		m.Shares = shares
		m.Groups, m.Worker = a.Groups, a.Worker
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], runErrs[i] = m.Run(ctx, stopAt)
		}()
	}
	wg.Wait()
	var errs []error
	for i, f := range a.Flows {
		res, err := results[i], runErrs[i]
		sum.Flows = append(sum.Flows, res)
		sum.UnitsClaimed += res.UnitsClaimed
		sum.Records += res.Records
		sum.Bytes += res.Bytes
		sum.LagLeft += res.LagLeft
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
		}
	}
	err := finish(start, errs, &sum.DurationMs, &sum.OK, &sum.Error)
	return sum, err
}

// ReconcileSummary is the reconcile function's one-line JSON summary.
type ReconcileSummary struct {
	Function   string            `json:"function"`
	OK         bool              `json:"ok"`
	DryRun     bool              `json:"dry_run"`
	DurationMs int64             `json:"duration_ms"`
	Planned    int               `json:"planned"`
	Applied    int               `json:"applied"`
	Failed     int               `json:"failed"`
	Skipped    int               `json:"skipped"`
	Plans      []*reconcile.Plan `json:"plans"`
	Error      string            `json:"error,omitempty"`
}

// Reconcile plans, and unless DryRun is set applies, every selected flow.
func (a *Invoker) Reconcile(ctx context.Context) (*ReconcileSummary, error) {
	start := time.Now()
	// Changes not started by the time budget are left for the next run.
	ctx, cancel := context.WithDeadline(ctx, a.StopAt(ctx, start))
	defer cancel()
	sum := &ReconcileSummary{Function: "reconcile", DryRun: a.Settings.DryRun}
	var errs []error
	for _, f := range a.Flows {
		src, tgt := a.admins[optKey(f, "source-admin")], a.admins[optKey(f, "target-admin")]
		p, err := reconcile.MakePlan(ctx, f, src, tgt)
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
			continue
		}
		recorded, err := mirror.RecordedSourceIDs(ctx, tgt, f)
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
			continue
		}
		p.NoteRecreated(recorded)
		if err := p.HoldDeletedRemotes(ctx, f, tgt, a.baseOpts[optKey(f, "target-admin")]); err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
			continue
		}
		sum.Plans = append(sum.Plans, p)
		sum.Planned += len(p.Actions)
		for _, n := range p.Notes {
			a.Logger.Warn(n, "flow", f.Name())
		}
		if a.Settings.DryRun {
			continue
		}
		err = reconcile.Apply(ctx, p, tgt)
		for _, act := range p.Actions {
			switch act.Status {
			case reconcile.Applied:
				sum.Applied++
				a.logApplied(f.Name(), act)
			case reconcile.Skipped:
				sum.Skipped++
			case reconcile.Failed:
				sum.Failed++
				a.Logger.Error("change failed", "flow", f.Name(), "kind", act.Kind, "topic", act.Topic, "err", act.Error)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("flow %s: %w", f.Name(), err))
		}
	}
	err := finish(start, errs, &sum.DurationMs, &sum.OK, &sum.Error)
	return sum, err
}

// finish fills the fields every summary ends with (duration, ok, error)
// and returns the invocation's errors joined.
func finish(start time.Time, errs []error, durationMs *int64, ok *bool, msg *string) error {
	*durationMs = time.Since(start).Milliseconds()
	err := errors.Join(errs...)
	*ok = err == nil
	if err != nil {
		*msg = err.Error()
	}
	return err
}

// logApplied logs a change with its before and after.
func (a *Invoker) logApplied(flow string, act reconcile.Action) {
	l := a.Logger.With("flow", flow, "kind", act.Kind, "topic", act.Topic)
	switch act.Kind {
	case reconcile.GrowPartitions:
		l.Info("applied", "before", act.FromPartitions, "after", act.Partitions)
	case reconcile.AlterConfigs:
		for _, c := range act.Changes {
			after := "(target default)"
			if c.New != nil {
				after = *c.New
			}
			before := "(default)"
			if c.Old != nil {
				before = *c.Old
			}
			l.Info("applied", "key", c.Key, "before", before, "after", after)
		}
	case reconcile.CreateACL:
		l.Info("applied", "acl", act.ACL)
	default:
		l.Info("applied", "partitions", act.Partitions, "replication_factor", act.ReplicationFactor, "configs", act.Configs)
	}
}

// NewOwner names an invocation for leases and logs: the Lambda request id
// when there is one, else host, pid and a random suffix.
func NewOwner(requestID string) string {
	if requestID != "" {
		return requestID
	}
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
