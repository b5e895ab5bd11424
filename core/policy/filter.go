package policy

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"strconv"
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
//
// The list is at most MaxPatternBytes long: compiling costs memory in
// proportion to it (a 1.5 MB list took 353 MB).
func CompilePattern(entries []string) (Pattern, error) {
	n := 0
	for _, e := range entries {
		n += len(e) + 1
	}
	if n > MaxPatternBytes {
		return Pattern{}, fmt.Errorf("the list of regular expressions is %d bytes long; at most %d: match names with patterns (orders\\..*) rather than listing each", n, MaxPatternBytes)
	}
	var kept []string
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if _, err := regexp.Compile(e); err != nil {
			return Pattern{}, fmt.Errorf("invalid regular expression %s: %v", quoteCut(e), unwrapSyntax(err))
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 {
		return Pattern{}, nil
	}
	src := strings.Join(kept, "|")
	re, err := regexp.Compile("^(?:" + src + ")$")
	if err != nil {
		return Pattern{}, fmt.Errorf("invalid regular expression %s: %v", quoteCut(src), unwrapSyntax(err))
	}
	return Pattern{re: re, src: src}, nil
}

// MaxPatternBytes bounds a topics, groups or exclude list.
const MaxPatternBytes = 64 << 10

// quoteCut quotes an expression for an error, cut to 256 bytes.
func quoteCut(s string) string {
	if len(s) <= 256 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:256]) + fmt.Sprintf("... (%d bytes)", len(s))
}

func unwrapSyntax(err error) string {
	var se *syntax.Error
	if errors.As(err, &se) {
		return string(se.Code) + ": " + quoteCut(se.Expr) + " (Go regular expressions have no look-around or backreferences)"
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
