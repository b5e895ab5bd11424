package reconcile

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteTable prints plans as a table for people, like `terraform plan`.
func WriteTable(w io.Writer, plans []*Plan, dryRun bool) {
	for _, p := range plans {
		head := "flow " + p.Flow
		if dryRun {
			head += " (dry run: nothing was changed)"
		}
		fmt.Fprintln(w, head)
		if len(p.Actions) == 0 {
			fmt.Fprintln(w, "  no changes: the target matches the source")
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  ACTION\tTOPIC\tCHANGE\tSTATUS")
		for _, a := range p.Actions {
			lines := describe(a)
			status := a.Status
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

func describe(a Action) []string {
	switch a.Kind {
	case CreateTopic, CreateInternalTopic:
		l := fmt.Sprintf("%d partitions, replication factor %d", a.Partitions, a.ReplicationFactor)
		if a.ReplicationFactor < 0 {
			l = fmt.Sprintf("%d partitions, broker's default replication factor", a.Partitions)
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
	case GrowPartitions:
		return []string{fmt.Sprintf("partitions %d -> %d", a.FromPartitions, a.Partitions)}
	case AlterConfigs:
		var lines []string
		for _, c := range a.Changes {
			lines = append(lines, c.String())
		}
		return lines
	case CreateACL:
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

func (c ConfigChange) String() string {
	show := func(v *string) string {
		if v == nil {
			return "(default)"
		}
		return *v
	}
	if c.Op == "delete" {
		return fmt.Sprintf("%s: %s -> (target default)", c.Key, show(c.Old))
	}
	return fmt.Sprintf("%s: %s -> %s", c.Key, show(c.Old), strings.TrimSpace(show(c.New)))
}
