// Package table writes what the programs print for people: reconcile's
// plan, a failover plan and an adoption, as text tables. Core keeps to
// domain logic and returns values; this is the one place that turns them
// into text.
//
// It sits outside functions/internal because the demo (localtest/cmd/demo)
// prints the failover table too, and Go's internal rule would hide it from
// there.
package table

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/invocation"
	"github.com/mirrorless/mirrorless/core/reconcile"
)

// Plans writes reconcile plans, like `terraform plan`.
func Plans(w io.Writer, plans []*reconcile.Plan, dryRun bool) {
	for _, p := range plans {
		head := "flow " + p.Flow
		if dryRun {
			head += " (dry run: nothing was changed)"
		}
		fmt.Fprintln(w, head)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if len(p.Actions) == 0 {
			fmt.Fprintln(w, "  no changes: the target matches the source")
		} else {
			fmt.Fprintln(tw, "  ACTION\tTOPIC\tCHANGE\tSTATUS")
		}
		for _, a := range p.Actions {
			lines := describe(a)
			status := string(a.Status)
			if a.Error != "" {
				status += ": " + a.Error
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", a.Kind, a.Topic, lines[0], status)
			for _, l := range lines[1:] {
				fmt.Fprintf(tw, "  \t\t%s\t\n", l)
			}
		}
		tw.Flush()
		for _, n := range p.Notes {
			fmt.Fprintln(w, "  note: "+n)
		}
		fmt.Fprintln(w)
	}
}

func describe(a reconcile.Action) []string {
	switch a.Kind {
	case reconcile.CreateTopic, reconcile.CreateInternalTopic:
		parts := fmt.Sprintf("%d partitions", a.Partitions)
		if a.Partitions == 1 {
			parts = "1 partition"
		}
		l := fmt.Sprintf("%s, replication factor %d", parts, a.ReplicationFactor)
		if a.ReplicationFactor < 0 {
			l = parts + ", broker's default replication factor"
		}
		lines := []string{l}
		keys := make([]string, 0, len(a.Configs))
		for k := range a.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			lines = append(lines, fmt.Sprintf("%s = %s", k, a.Configs[k]))
		}
		return lines
	case reconcile.GrowPartitions:
		return []string{fmt.Sprintf("partitions %d -> %d", a.FromPartitions, a.Partitions)}
	case reconcile.AlterConfigs:
		var lines []string
		for _, c := range a.Changes {
			lines = append(lines, c.String())
		}
		return lines
	case reconcile.CreateACL:
		if a.ACL == nil {
			return []string{""}
		}
		l := fmt.Sprintf("%s %s %s from %s", a.ACL.Permission, a.ACL.Principal, a.ACL.Operation, a.ACL.Host)
		if a.ACL.SourceOperation != "" {
			l += fmt.Sprintf(" (%s on the source)", a.ACL.SourceOperation)
		}
		return []string{l}
	}
	return []string{""}
}

// Failover writes a failover plan (checkpoint failover, the demo).
func Failover(w io.Writer, p *checkpoint.FailoverPlan) {
	verb := "plan (nothing changed; add -apply to commit)"
	if p.Applied {
		verb = "applied"
	}
	fmt.Fprintf(w, "flow %s, group %s (on the target: %s): %s\n", p.Flow, p.Group, p.TargetState, verb)
	if len(p.Partitions) == 0 {
		fmt.Fprintln(w, "  no checkpoints for this group: is it selected by groups/groups.exclude, and has the checkpoint function run?")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TOPIC\tPARTITION\tSOURCE OFFSET\tRESUME AT\tTARGET COMMITTED\tTARGET END\tRE-READ AT MOST\tACTION")
	for _, t := range p.Partitions {
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\n", t.Topic, t.Partition, t.Upstream, t.Offset,
			orNone(t.Current), orNone(t.End), orNone(t.ReReadMax), t.Action)
	}
	tw.Flush()
}

func orNone(n int64) string {
	if n < 0 {
		return "-"
	}
	return strconv.FormatInt(n, 10)
}

// Adoption writes what `mirror adopt` found.
func Adoption(w io.Writer, s *invocation.AdoptSummary) {
	for flow, rs := range s.Flows {
		verb := "plan (nothing changed; add -apply to commit the positions)"
		if s.Applied {
			verb = "applied"
		}
		fmt.Fprintf(w, "flow %s: taking over from MirrorMaker 2: %s\n", flow, verb)
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "  TOPIC\tPARTITION\tMM2 RECORDED\tREMOTE LAST\tCONTINUE AT\tACTION\tWHY")
		for _, r := range rs {
			fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\n", r.Topic, r.Partition, orNone(r.MM2Offset), orNone(r.RemoteLast), orNone(r.Next), r.Action, r.Reason)
		}
		tw.Flush()
	}
}

// Sizing writes what `mirror size` measured and what a tick would run.
func Sizing(w io.Writer, s fanout.Sizing) {
	plural := func(n int64, one, many string) string {
		if n == 1 {
			return "1 " + one
		}
		return strconv.FormatInt(n, 10) + " " + many
	}
	fmt.Fprintf(w, "backlog: %s behind on %s (transaction markers count as offsets to pass)\n",
		plural(s.Backlog.Records, "offset", "offsets"), plural(int64(s.Backlog.Partitions), "partition", "partitions"))
	fmt.Fprintf(w, "one tick runs %s at once, itself included (at most %d: MIRROR_MAX_CONCURRENCY), to copy it within %s at %.0f records/s each (MIRROR_FANOUT_RECORDS_PER_SECOND)\n",
		plural(int64(s.Invocations), "invocation", "invocations"), s.Limit, time.Duration(s.WindowMs)*time.Millisecond, s.RecordsPerSecond)
}
