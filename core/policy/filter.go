package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"
)

// Default patterns, as MM2 ships them.
var (
	DefaultTopics = []string{".*"}
	// DefaultTopicsExclude is Kafka 4.x's (KIP-1074); 3.x excluded
	// `.*[\-\.]internal` instead of `mm2.*\.internal`.
	DefaultTopicsExclude = []string{`mm2.*\.internal`, `.*\.replica`, `__.*`}
	DefaultGroups        = []string{".*"}
	DefaultGroupsExclude = []string{`console-consumer-.*`, `connect-.*`, `__.*`}
)

// Pattern is MM2's list-of-regexes filter: the entries are joined as
// alternatives and the whole name must match. An empty list matches nothing.
type Pattern struct {
	re  *regexp.Regexp
	src string
}

// CompilePattern compiles a comma list as MM2 does. Go's RE2 syntax is a
// subset of Java's: look-arounds and backreferences are rejected here with
// the offending entry named.
func CompilePattern(entries []string) (Pattern, error) {
	var kept []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, err := regexp.Compile(e); err != nil {
			return Pattern{}, fmt.Errorf("invalid regular expression %q: %v", e, unwrapSyntax(err))
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return Pattern{}, nil
	}
	src := strings.Join(kept, "|")
	re, err := regexp.Compile("^(?:" + src + ")$")
	if err != nil {
		return Pattern{}, fmt.Errorf("invalid regular expression %q: %v", src, unwrapSyntax(err))
	}
	return Pattern{re: re, src: src}, nil
}

func unwrapSyntax(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code) + ": `" + se.Expr + "` (Go regular expressions have no look-around or backreferences)"
	}
	return err.Error()
}

// Match reports whether the whole name matches one of the entries.
func (p Pattern) Match(name string) bool { return p.re != nil && p.re.MatchString(name) }

func (p Pattern) String() string { return p.src }

// Filter is MM2's DefaultTopicFilter / DefaultGroupFilter: include minus exclude.
type Filter struct {
	Include, Exclude Pattern
}

// Match: exclude beats include.
func (f Filter) Match(name string) bool { return f.Include.Match(name) && !f.Exclude.Match(name) }

// FlowRules decide which source topics a flow replicates and under what
// names: MM2's MirrorSourceConnector.shouldReplicateTopic.
type FlowRules struct {
	Source, Target string
	Policy         Policy
	Topics         Filter
	// ReplicateHeartbeats is heartbeats.replication.enabled: heartbeats
	// topics are replicated whatever the filter says.
	ReplicateHeartbeats bool
}

// ShouldReplicate is true when the topic passes the filter (or is a
// heartbeats topic and those are replicated), is not internal, and does
// not come from the flow's target.
func (r FlowRules) ShouldReplicate(topic string) bool {
	if !(r.Topics.Match(topic) || (r.ReplicateHeartbeats && r.Policy.IsHeartbeatsTopic(topic))) {
		return false
	}
	return !r.Policy.IsInternalTopic(topic) && !IsCycle(r.Policy, r.Target, topic)
}

// RemoteTopic is the name of topic's copy on the target.
func (r FlowRules) RemoteTopic(topic string) string {
	return r.Policy.FormatRemoteTopic(r.Source, topic)
}
