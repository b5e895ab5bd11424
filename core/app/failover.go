package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
)

// Failover prints (and with apply commits) a group's translated offsets on
// the target of the one selected flow. It connects to the target only, so
// it works while the source cluster is down.
func Failover(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger, group string, apply bool) (*checkpoint.FailoverPlan, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: -group is required: the consumer group to fail over", ErrInput)
	}
	flows, err := s.SelectFlows(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if len(flows) != 1 {
		return nil, fmt.Errorf("%w: %d flows are enabled; choose the one to fail over with MIRROR_FLOWS (e.g. MIRROR_FLOWS=%s)", ErrInput, len(flows), flows[0].Name())
	}
	f := flows[0]
	opts, _, err := kafka.Options(cfg.Clusters[f.Target].Bootstrap, f.TargetAdmin, kafka.Admin, f.Target+".admin.", logger)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(100*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("%w: client for %s: %v", ErrInput, f.Target, err)
	}
	defer cl.Close()
	if err := kafka.Ping(ctx, cl, f.Target, cfg.Clusters[f.Target].Bootstrap, s.ConnectTimeout); err != nil {
		return nil, err
	}
	c := &checkpoint.Checkpointer{Flow: f, TargetAdmin: kadm.NewClient(cl), TargetOpts: opts, Logger: logger}
	return c.Failover(ctx, group, apply)
}

// PrintFailover writes the plan as a table for people.
func PrintFailover(w io.Writer, p *checkpoint.FailoverPlan) {
	verb := "plan (nothing changed; add -apply to commit)"
	if p.Applied {
		verb = "applied"
	}
	fmt.Fprintf(w, "flow %s, group %s (on the target: %s): %s\n", p.Flow, p.Group, p.TargetState, verb)
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tSOURCE OFFSET\tRESUME AT\tTARGET COMMITTED\tTARGET END\tRE-READ AT MOST\tACTION")
	for _, t := range p.Partitions {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", t.Topic, t.Partition, t.Upstream, t.Offset,
			orNone(t.Current), orNone(t.End), orNone(t.ReReadMax), t.Action)
	}
	tw.Flush()
	if len(p.Partitions) == 0 {
		fmt.Fprintln(w, "  no checkpoints for this group: is it selected by groups/groups.exclude, and has the checkpoint function run?")
	}
}

func orNone(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}
