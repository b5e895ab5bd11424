// Package config reads MirrorMaker 2's connect-mirror-maker.properties and
// the invocation settings that come from the environment.
//
// Parse reports every problem at once, each naming the key the user wrote;
// keys that MM2 knows but mirrorless ignores, and keys nobody knows, are
// warnings.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/mirrorless/mirrorless/core/policy"
)

// DefaultConfigExclude is config.properties.exclude's default: topic
// configs never copied to the target. It is MM2's list with every
// message.timestamp.* key instead of two of them: copying
// message.timestamp.before.max.ms (Kafka 3.6+) would make the target
// reject the old records being copied.
var DefaultConfigExclude = []string{
	`follower\.replication\.throttled\.replicas`,
	`leader\.replication\.throttled\.replicas`,
	`message\.timestamp\..*`,
	`unclean\.leader\.election\.enable`,
	`min\.insync\.replicas`,
}

// MM2's replication policy classes.
const (
	DefaultPolicyClass  = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"
	IdentityPolicyClass = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
)

// Config is a parsed, validated MM2 properties file.
type Config struct {
	Aliases  []string
	Clusters map[string]*Cluster
	Flows    []*Flow // enabled flows, in file order of the aliases
	Warnings []string

	props *Properties // for KeyName
}

// KeyName is the key a client setting k of a flow's cluster alias and role
// (consumer, producer or admin) came from, as the user wrote it, so that a
// problem with its value names the line to fix: the first key of MM2's
// precedence the file sets ({flow}.{role}.k, {alias}.{role}.k, {alias}.k,
// {role}.k, k; the unprefixed forms only for connection keys), else
// {alias}.{role}.k. f may be nil.
func (c *Config) KeyName(f *Flow, alias, role, k string) string {
	var keys []string
	if f != nil {
		keys = append(keys, f.Name()+"."+role+"."+k)
	}
	keys = append(keys, alias+"."+role+"."+k)
	conn := isConnKey(k) && k != "bootstrap.servers"
	if conn {
		keys = append(keys, alias+"."+k)
	}
	keys = append(keys, role+"."+k)
	if conn {
		keys = append(keys, k)
	}
	if c != nil && c.props != nil {
		for _, key := range keys {
			if _, ok := c.props.Get(key); ok {
				return key
			}
		}
	}
	return alias + "." + role + "." + k
}

// Cluster is one alias of `clusters`.
type Cluster struct {
	Alias     string
	Bootstrap []string
	// Client settings per role, after MM2's precedence: top-level
	// connection keys, then `{alias}.key`, then `{alias}.{role}.key`.
	Consumer, Producer, Admin map[string]string
}

// Flow is an enabled `{source}->{target}` replication flow with every
// setting resolved (flow-prefixed key, else top-level key, else MM2's default).
type Flow struct {
	Source, Target string
	Rules          policy.FlowRules
	Groups         policy.Filter

	ReplicationFactor            int16
	OffsetSyncsReplicationFactor int16
	CheckpointsReplicationFactor int16
	HeartbeatsReplicationFactor  int16
	// OffsetLagMax is MM2's offset.lag.max: when set, the mirror also
	// writes an offset sync once the copy is that many records past the
	// previous one, for MM2's checkpoint connector reading our syncs.
	// mirrorless' own translation is exact without them. -1: not set (the
	// default: a sync only at each discontinuity of the copy).
	OffsetLagMax int64
	// Metadata sync (reconcile). SyncTopicConfigs is
	// sync.topic.configs.enabled; ConfigExclude is config.properties.exclude
	// (MM2's DefaultConfigPropertyFilter); UseDefaultsFromSource is
	// use.defaults.from=source (default target: a source default becomes a
	// DELETE on the target). SyncTopicACLs is sync.topic.acls.enabled;
	// SyncTopicACLsAsMM2 is mirrorless.sync.topic.acls.mm2.compatible: copy
	// every ALLOW but WRITE, as MM2 does, instead of only READ and DESCRIBE.
	SyncTopicConfigs      bool
	ConfigExclude         policy.Pattern
	UseDefaultsFromSource bool
	SyncTopicACLs         bool
	SyncTopicACLsAsMM2    bool

	// What the checkpoint function writes, and so which internal topics
	// reconcile creates: MM2's emit.checkpoints.enabled and
	// emit.heartbeats.enabled (default true) and sync.group.offsets.enabled
	// (default false). Parsed here once, as Kafka's ConfigDef does (true
	// or false in any case, trimmed; anything else is a problem), so the
	// functions cannot read one value two ways.
	EmitCheckpoints  bool
	EmitHeartbeats   bool
	SyncGroupOffsets bool

	// StartFrom is where a partition with no progress starts: "earliest"
	// (MM2's default) or "latest", from the source consumer's auto.offset.reset.
	StartFrom string

	// Client settings for each side of this flow.
	SourceConsumer, SourceAdmin, TargetProducer, TargetAdmin map[string]string

	props     *Properties
	policyKey string // the key that set replication.policy.class for this flow
}

// Name is MM2's spelling of the flow, `A->B`.
func (f *Flow) Name() string { return f.Source + "->" + f.Target }

// OffsetSyncsTopic is where this flow's offset syncs go on the target.
// mirrorless writes them on the target, inside the replication
// transaction (MM2's offset-syncs.topic.location=target).
func (f *Flow) OffsetSyncsTopic() string { return f.Rules.Policy.OffsetSyncsTopic(f.Source) }

// Get resolves a connector key for this flow: `A->B.key`, then `key`.
func (f *Flow) Get(key string) (string, bool) {
	if v, ok := f.props.Get(f.Name() + "." + key); ok {
		return v, true
	}
	return f.props.Get(key)
}

// Problem is one invalid setting.
type Problem struct {
	Key     string // the key as the user wrote it ("" for file-level problems)
	Message string
}

// ValidationError lists every problem found in a properties file.
type ValidationError struct {
	Source   string // the file name, when there is one
	Problems []Problem
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	where := "properties"
	if e.Source != "" {
		where = e.Source
	}
	fmt.Fprintf(&b, "invalid %s: %d problem", where, len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("; ")
		if p.Key != "" {
			b.WriteString(show(p.Key) + ": ")
		}
		b.WriteString(p.Message)
	}
	return b.String()
}

// Load reads and parses a properties file.
func Load(path string) (*Config, error) {
	props, err := ReadProperties(path)
	if err != nil {
		return nil, err
	}
	return parseFrom(props, path)
}

// ReadProperties reads and parses a properties file, without validating it
// as an MM2 configuration.
//
// Only a regular file is read: a FIFO with no writer would block the
// program (opening one blocks until a writer comes, so it is opened
// non-blocking and checked before reading), and a device such as
// /dev/zero never ends. The file is read up to MaxPropertiesSize.
func ReadProperties(path string) (*Properties, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("properties file %s does not exist: set MIRROR_PROPERTIES_FILE to your connect-mirror-maker.properties", show(path))
		}
		return nil, fmt.Errorf("open properties file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open properties file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("properties file %s is not a regular file (%s): give the path of a file", show(path), fileKind(fi.Mode()))
	}
	if fi.Size() > MaxPropertiesSize {
		return nil, fmt.Errorf("properties file %s is %d bytes; the limit is %d: an MM2 properties file is a few kilobytes", show(path), fi.Size(), MaxPropertiesSize)
	}
	props, err := ParseProperties(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", show(path), err)
	}
	return props, nil
}

func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return m.Type().String()
}

// parseFrom is Parse with the file named in validation errors.
func parseFrom(props *Properties, path string) (*Config, error) {
	cfg, err := Parse(props)
	if ve, ok := errors.AsType[*ValidationError](err); ok && path != "" {
		ve.Source = path
	}
	return cfg, err
}

type parser struct {
	props    *Properties
	problems []Problem
	warnings []string
	dropped  int // warnings past maxWarnings
}

// problem and warn show their string arguments safely (show): they come
// from the file.
func (p *parser) problem(key, format string, args ...any) {
	p.problems = append(p.problems, Problem{Key: key, Message: fmt.Sprintf(format, shownArgs(args)...)})
}

func (p *parser) warn(format string, args ...any) {
	if len(p.warnings) >= maxWarnings {
		p.dropped++
		return
	}
	p.warnings = append(p.warnings, fmt.Sprintf(format, shownArgs(args)...))
}

// maxAlias bounds a cluster alias: remote topic names start with it, and
// Kafka's topic names have at most 249 characters.
const maxAlias = 200

// maxWarnings bounds the warnings listed: a file of thousands of unknown
// keys gets the first ones and a count, not a log line per key.
const maxWarnings = 50

// Parse validates properties as an MM2 dedicated-mode configuration.
func Parse(props *Properties) (*Config, error) {
	p := &parser{props: props}
	cfg := &Config{Clusters: map[string]*Cluster{}, props: props}

	rawClusters, ok := props.Get("clusters")
	if !ok || strings.TrimSpace(rawClusters) == "" {
		p.problem("clusters", "missing: list the cluster aliases, e.g. `clusters = A, B`")
	} else if len(splitList(rawClusters)) == 0 {
		p.problem("clusters", "%q names no cluster alias: list them, e.g. `clusters = A, B`", rawClusters)
	}
	for _, a := range splitList(rawClusters) {
		if slices.Contains(cfg.Aliases, a) {
			p.problem("clusters", "alias %q is listed twice", a)
			continue
		}
		if strings.Contains(a, "->") {
			p.problem("clusters", "alias %q may not contain \"->\"", a)
			continue
		}
		if !printable(a) || strings.ContainsAny(a, " \t") {
			// Aliases reach every log line and name topics and groups.
			p.problem("clusters", "alias %q contains a space, a control, bidirectional-formatting or other invisible character, or bytes that are not UTF-8: use letters, digits, '.', '_' and '-'", a)
			continue
		}
		if len(a) > maxAlias {
			p.problem("clusters", "alias %q is %d bytes long; at most %d: an alias prefixes remote topic names, which Kafka limits to 249 characters", a, len(a), maxAlias)
			continue
		}
		cfg.Aliases = append(cfg.Aliases, a)
	}

	p.checkKeys(cfg.Aliases)
	p.checkDuplicates()

	for _, a := range cfg.Aliases {
		cfg.Clusters[a] = p.cluster(a)
	}

	for _, src := range cfg.Aliases {
		for _, tgt := range cfg.Aliases {
			if src == tgt {
				continue
			}
			key := src + "->" + tgt + ".enabled"
			v, ok := props.Get(key)
			if !ok || !p.boolean(key, v) {
				continue
			}
			cfg.Flows = append(cfg.Flows, p.flow(cfg, src, tgt))
		}
	}
	if len(cfg.Aliases) > 0 && len(cfg.Flows) == 0 && len(p.problems) == 0 {
		p.problem("", "no flow is enabled: add e.g. `%s->%s.enabled = true`", cfg.Aliases[0], otherAlias(cfg.Aliases))
	}
	for _, f := range cfg.Flows {
		for _, a := range []string{f.Source, f.Target} {
			if c := cfg.Clusters[a]; c != nil && len(c.Bootstrap) == 0 && !p.reported(a+".bootstrap.servers") {
				p.problem(a+".bootstrap.servers", "missing: flow %s needs the broker list of cluster %s", f.Name(), a)
			}
		}
	}
	p.checkIdentityCycles(cfg)

	if p.dropped > 0 {
		p.warnings = append(p.warnings, fmt.Sprintf("%d more warnings are not listed: fix the ones above first", p.dropped))
	}
	cfg.Warnings = p.warnings
	if len(p.problems) > 0 {
		return nil, &ValidationError{Problems: p.problems}
	}
	return cfg, nil
}

func otherAlias(aliases []string) string {
	if len(aliases) > 1 {
		return aliases[1]
	}
	return "B"
}

func (p *parser) reported(key string) bool {
	return slices.ContainsFunc(p.problems, func(pr Problem) bool { return pr.Key == key })
}

// checkKeys classifies every key of the file: flow keys naming unknown
// aliases are errors, unknown keys and keys mirrorless does not act on
// are warnings.
//
// A key is not printed when it may hold a secret: when it follows a
// sasl.jaas.config that does not end with `;` (its next lines, split off by
// a missing continuation backslash, become keys of their own: `password="..."`
// or the password itself), or when it has a JAAS option's shape (a quote or
// `;`, or username/password). Such a key is named by its line instead.
func (p *parser) checkKeys(aliases []string) {
	entries := slices.Clone(p.props.Entries)
	slices.SortStableFunc(entries, func(a, b Entry) int { return a.Line - b.Line })
	afterJAAS := 0 // line of an unterminated sasl.jaas.config whose lost lines may follow
	for _, e := range entries {
		np, nw, nd := len(p.problems), len(p.warnings), p.dropped
		p.checkKey(e.Key, aliases)
		reported := len(p.problems) > np || len(p.warnings) > nw || p.dropped > nd
		if reported && (afterJAAS > 0 || looksJAAS(e.Key)) {
			p.problems, p.warnings, p.dropped = p.problems[:np], p.warnings[:nw], nd
			p.warn("the key on line %d is not a setting mirrorless knows and is ignored; it is not shown, as it may be part of a sasl.jaas.config (a line of it after a missing continuation backslash) and hold a secret", e.Line)
		} else if !reported {
			afterJAAS = 0
		}
		if isJAASKey(e.Key) {
			if v := strings.TrimSpace(e.Value); v != "" && !strings.HasSuffix(v, ";") {
				p.problem(e.Key, "does not end with `;` (a JAAS configuration must); if it goes on over several lines, end each of its lines but the last with a backslash. The lines after line %d are not shown, as they may hold its password", e.Line)
				afterJAAS = e.Line
			}
		}
	}
}

// checkDuplicates warns about each key set more than once: the last value
// wins, as in Java's Properties, which may not be what the user meant.
func (p *parser) checkDuplicates() {
	for _, d := range p.props.Duplicates {
		if looksJAAS(d.Key) {
			p.warn("the key on line %d is set again on line %d, and the value there wins; the key is not shown, as it may be part of a sasl.jaas.config and hold a secret", d.Earlier, d.Line)
			continue
		}
		p.warn("%s is set twice, on lines %d and %d: the value on line %d wins, as in MM2", d.Key, d.Earlier, d.Line, d.Line)
	}
}

func isJAASKey(k string) bool {
	return k == "sasl.jaas.config" || strings.HasSuffix(k, ".sasl.jaas.config")
}

// looksJAAS reports whether a key has the shape of a JAAS option or value
// rather than of a properties key.
func looksJAAS(k string) bool {
	if strings.ContainsAny(k, "\"';") {
		return true
	}
	switch strings.ToLower(k) {
	case "username", "password", "user", "pass":
		return true
	}
	return false
}

// checkKey reports a problem or warning for a key mirrorless does not use.
func (p *parser) checkKey(k string, aliases []string) {
	if k == "clusters" {
		return
	}
	if i := strings.Index(k, "->"); i > 0 {
		dot := strings.Index(k[i+2:], ".")
		if dot < 0 {
			p.problem(k, "not a flow setting: write `{source}->{target}.{setting}`")
			return
		}
		src, tgt, rest := k[:i], k[i+2:i+2+dot], k[i+2+dot+1:]
		bad := false
		for _, a := range []string{src, tgt} {
			if !slices.Contains(aliases, a) {
				p.problem(k, "flow names cluster %q, which is not in `clusters` (%s)", a, strings.Join(aliases, ", "))
				bad = true
			}
		}
		if !bad && src == tgt {
			p.problem(k, "a flow needs two different clusters")
		}
		if !bad {
			p.checkConnectorKey(k, rest)
		}
		return
	}
	if alias, rest, ok := strings.Cut(k, "."); ok && slices.Contains(aliases, alias) {
		p.checkClusterKey(k, rest)
		return
	}
	p.checkConnectorKey(k, k)
}

func (p *parser) checkConnectorKey(full, k string) {
	if use, ok := connectorKeys[k]; ok {
		switch use {
		case connectOnly:
			if strings.HasSuffix(k, ".interval.seconds") {
				p.warn("%s is ignored: each mirrorless function runs on a schedule (template.yaml / infra/ schedule parameters, or the local scheduler), which sets how often", full)
				break
			}
			p.warn("%s is a Kafka Connect setting; mirrorless has no Connect worker and ignores it", full)
		case unsupported:
			p.warn("%s is not supported by mirrorless and is ignored: %s", full, unsupportedWhy(k))
		}
		return
	}
	if workerKeys[k] {
		p.warn("%s is a Kafka Connect worker setting; mirrorless keeps its own progress and ignores it", full)
		return
	}
	if isConnKey(k) || hasRolePrefix(k) {
		return // connection defaults for every cluster, checked when mapped to a client
	}
	hint := "check the spelling"
	if len(p.warnings) < maxWarnings { // only a listed warning pays for the search
		if s := nearest(k, connectorKeyNames); s != "" {
			hint = "did you mean " + full[:len(full)-len(k)] + s + "?"
		}
	}
	if strings.HasPrefix(k, "mirrorless.") {
		p.warn("%s is not a mirrorless setting; it is ignored (%s)", full, hint)
		return
	}
	p.warn("%s is not a MirrorMaker 2 setting mirrorless knows; it is ignored (%s)", full, hint)
}

func (p *parser) checkClusterKey(full, k string) {
	if isConnKey(k) || hasRolePrefix(k) {
		return
	}
	if workerKeys[k] {
		p.warn("%s is a Kafka Connect worker setting; mirrorless keeps its own progress and ignores it", full)
		return
	}
	if _, ok := connectorKeys[k]; ok {
		p.warn("%s: MM2 does not read connector settings per cluster; write `{source}->{target}.%s` instead. Ignored", full, k)
		return
	}
	hint := "check the spelling"
	if len(p.warnings) < maxWarnings {
		if s := nearest(k, connKeys); s != "" {
			hint = "did you mean " + full[:len(full)-len(k)] + s + "?"
		}
	}
	p.warn("%s is not a MirrorMaker 2 cluster setting mirrorless knows; it is ignored (%s)", full, hint)
}

func unsupportedWhy(k string) string {
	switch k {
	case "offset-syncs.topic.location":
		return "offset syncs are always written to the target, inside the replication transaction (MM2's location=target)"
	case "emit.offset-syncs.enabled":
		return "offset syncs are always written: they are part of each replication transaction"
	case "config.providers":
		return "supply secrets through the environment (see docs) instead of Connect config providers"
	default:
		return "custom Java classes cannot be loaded; the default MM2 behaviour applies"
	}
}

func hasRolePrefix(k string) bool {
	for _, r := range roles {
		if strings.HasPrefix(k, r) {
			return true
		}
	}
	return false
}

// cluster gathers one alias's client settings.
func (p *parser) cluster(alias string) *Cluster {
	c := &Cluster{Alias: alias, Consumer: map[string]string{}, Producer: map[string]string{}, Admin: map[string]string{}}
	roleMaps := map[string]map[string]string{"consumer.": c.Consumer, "producer.": c.Producer, "admin.": c.Admin}
	// Precedence, lowest first: top-level conn keys, top-level role keys,
	// alias conn keys, alias role keys.
	apply := func(prefix string) {
		for _, e := range p.props.Entries {
			k, ok := strings.CutPrefix(e.Key, prefix)
			if !ok || strings.Contains(e.Key, "->") {
				continue
			}
			if prefix == "" {
				if a, _, ok := strings.Cut(k, "."); ok && p.isAlias(a) {
					continue
				}
			}
			if isConnKey(k) && k != "bootstrap.servers" {
				for _, m := range roleMaps {
					m[k] = e.Value
				}
			}
		}
		for _, e := range p.props.Entries {
			k, ok := strings.CutPrefix(e.Key, prefix)
			if !ok || strings.Contains(e.Key, "->") {
				continue
			}
			for r, m := range roleMaps {
				if rk, ok := strings.CutPrefix(k, r); ok {
					m[rk] = e.Value
				}
			}
		}
	}
	apply("")
	apply(alias + ".")
	key := alias + ".bootstrap.servers"
	if v, ok := p.props.Get(key); ok {
		c.Bootstrap = splitList(v)
		if len(c.Bootstrap) == 0 {
			p.problem(key, "empty: give host:port of at least one broker of cluster %s", alias)
		}
		for _, b := range c.Bootstrap {
			if _, port, ok := strings.Cut(b, ":"); !ok || port == "" {
				p.problem(key, "%q is not host:port", b)
			} else if _, err := strconv.Atoi(port[strings.LastIndex(port, ":")+1:]); err != nil {
				p.problem(key, "%q has no numeric port", b)
			}
		}
	}
	return c
}

func (p *parser) isAlias(a string) bool {
	v, _ := p.props.Get("clusters")
	return slices.Contains(splitList(v), a)
}

func (p *parser) flow(cfg *Config, src, tgt string) *Flow {
	f := &Flow{Source: src, Target: tgt, props: p.props}
	get := func(key, def string) (string, string) {
		if v, ok := p.props.Get(f.Name() + "." + key); ok {
			return v, f.Name() + "." + key
		}
		if v, ok := p.props.Get(key); ok {
			return v, key
		}
		return def, key
	}

	sep, sepKey := get("replication.policy.separator", ".")
	if sep == "" {
		p.problem(sepKey, "empty: the separator must be at least one character")
		sep = "."
	}
	isep, isepKey := get("replication.policy.internal.topic.separator.enabled", "true")
	base := policy.NewDefault(sep, p.boolean(isepKey, isep))
	var pol policy.Policy = base
	class, classKey := get("replication.policy.class", DefaultPolicyClass)
	f.policyKey = classKey
	switch strings.TrimSpace(class) {
	case DefaultPolicyClass, "DefaultReplicationPolicy":
	case IdentityPolicyClass, "IdentityReplicationPolicy":
		pol = policy.IdentityPolicy{DefaultPolicy: base, SourceAlias: src}
	default:
		p.problem(classKey, "%q is not supported: use %s or %s", class, DefaultPolicyClass, IdentityPolicyClass)
	}

	f.Rules = policy.FlowRules{Source: src, Target: tgt, Policy: pol}
	f.Rules.Topics = p.filter(get, "topics", "topics.exclude", "topics.blacklist", policy.DefaultTopics, policy.DefaultTopicsExclude)
	f.Groups = p.filter(get, "groups", "groups.exclude", "groups.blacklist", policy.DefaultGroups, policy.DefaultGroupsExclude)
	hb, hbKey := get("heartbeats.replication.enabled", "true")
	f.Rules.ReplicateHeartbeats = p.boolean(hbKey, hb)

	f.ReplicationFactor = p.replicationFactor(get("replication.factor", "2"))
	f.OffsetSyncsReplicationFactor = p.replicationFactor(get("offset-syncs.topic.replication.factor", "3"))
	f.CheckpointsReplicationFactor = p.replicationFactor(get("checkpoints.topic.replication.factor", "3"))
	f.HeartbeatsReplicationFactor = p.replicationFactor(get("heartbeats.topic.replication.factor", "3"))
	lag, lagKey := get("offset.lag.max", "\x00")
	if lag == "\x00" {
		f.OffsetLagMax = -1
	} else if n, err := strconv.ParseInt(strings.TrimSpace(lag), 10, 64); err != nil || n < 0 {
		p.problem(lagKey, "%q is not a whole number of records >= 0", lag)
	} else {
		f.OffsetLagMax = n
	}

	v, k := get("sync.topic.configs.enabled", "true")
	f.SyncTopicConfigs = p.boolean(k, v)
	v, k = get("sync.topic.acls.enabled", "true")
	f.SyncTopicACLs = p.boolean(k, v)
	v, k = get(ACLsAsMM2Key, "false")
	f.SyncTopicACLsAsMM2 = p.boolean(k, v)
	v, k = get("emit.checkpoints.enabled", "true")
	f.EmitCheckpoints = p.boolean(k, v)
	v, k = get("emit.heartbeats.enabled", "true")
	f.EmitHeartbeats = p.boolean(k, v)
	v, k = get("sync.group.offsets.enabled", "false")
	f.SyncGroupOffsets = p.boolean(k, v)
	exc, k := get("config.properties.exclude", "\x00")
	if exc == "\x00" {
		exc, k = get("config.properties.blacklist", strings.Join(DefaultConfigExclude, ","))
	}
	var err error
	if f.ConfigExclude, err = policy.CompilePattern(splitList(exc)); err != nil {
		p.problem(k, "%v", err)
	}
	switch v, k := get("use.defaults.from", "target"); strings.ToLower(strings.TrimSpace(v)) {
	case "target":
	case "source":
		f.UseDefaultsFromSource = true
	default:
		p.problem(k, "%q is not source or target", v)
	}

	sc, tc := cfg.Clusters[src], cfg.Clusters[tgt]
	f.SourceConsumer = p.roleProps(sc.Consumer, f.Name()+".consumer.")
	f.SourceAdmin = p.roleProps(sc.Admin, f.Name()+".admin.")
	f.TargetProducer = p.roleProps(tc.Producer, f.Name()+".producer.")
	f.TargetAdmin = p.roleProps(tc.Admin, f.Name()+".admin.")

	f.StartFrom = "earliest"
	if v, ok := f.SourceConsumer["auto.offset.reset"]; ok {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "earliest", "latest":
			f.StartFrom = strings.ToLower(strings.TrimSpace(v))
		default:
			p.problem(p.firstSet(f.Name()+".consumer.auto.offset.reset", src+".consumer.auto.offset.reset", "consumer.auto.offset.reset"), "%q is not supported: use earliest or latest (where a partition with no progress starts)", v)
		}
	}
	if v, ok := f.SourceConsumer["isolation.level"]; ok && strings.TrimSpace(v) != "read_committed" {
		p.warn("%s.consumer.isolation.level=%s is ignored: mirrorless always reads read_committed, so aborted records are never copied", src, v)
	}
	return f
}

// firstSet returns the first of keys that the file sets (the one whose
// value won), so that a problem names the key the user wrote.
func (p *parser) firstSet(keys ...string) string {
	for _, k := range keys {
		if _, ok := p.props.Get(k); ok {
			return k
		}
	}
	return keys[len(keys)-1]
}

// roleProps overlays flow-prefixed client keys on a cluster's role settings.
func (p *parser) roleProps(base map[string]string, prefix string) map[string]string {
	m := make(map[string]string, len(base))
	for k, v := range base {
		m[k] = v
	}
	for _, e := range p.props.Entries {
		if k, ok := strings.CutPrefix(e.Key, prefix); ok {
			m[k] = e.Value
		}
	}
	return m
}

func (p *parser) filter(get func(key, def string) (string, string), incKey, excKey, oldExcKey string, defInc, defExc []string) policy.Filter {
	var f policy.Filter
	inc, k := get(incKey, strings.Join(defInc, ","))
	var err error
	if f.Include, err = policy.CompilePattern(splitList(inc)); err != nil {
		p.problem(k, "%v", err)
	}
	exc, k := get(excKey, "\x00")
	if exc == "\x00" {
		exc, k = get(oldExcKey, strings.Join(defExc, ","))
	}
	if f.Exclude, err = policy.CompilePattern(splitList(exc)); err != nil {
		p.problem(k, "%v", err)
	}
	return f
}

func (p *parser) replicationFactor(v, key string) int16 {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 16)
	if err != nil || n == 0 || n < -1 {
		p.problem(key, "%q is not a replication factor: use a number >= 1, or -1 for the broker default", v)
		return -1
	}
	return int16(n)
}

func (p *parser) boolean(key, v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return true
	case "false":
		return false
	}
	p.problem(key, "%q is not a boolean: use true or false", v)
	return false
}

// checkIdentityCycles refuses identity naming on a cyclic set of flows:
// with unchanged names nothing can tell a record's origin, and records
// would loop between the clusters.
func (p *parser) checkIdentityCycles(cfg *Config) {
	next := map[string][]string{}
	identity := false
	for _, f := range cfg.Flows {
		if _, ok := f.Rules.Policy.(policy.IdentityPolicy); ok {
			identity = true
			next[f.Source] = append(next[f.Source], f.Target)
		}
	}
	if !identity {
		return
	}
	// Depth-first search for a cycle among identity flows.
	state := map[string]int{}
	var path []string
	var visit func(a string) []string
	visit = func(a string) []string {
		state[a] = 1
		path = append(path, a)
		for _, b := range next[a] {
			if state[b] == 1 {
				i := slices.Index(path, b)
				return append(slices.Clone(path[i:]), b)
			}
			if state[b] == 0 {
				if c := visit(b); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[a] = 2
		return nil
	}
	for _, a := range cfg.Aliases {
		if state[a] == 0 {
			if c := visit(a); c != nil {
				key := "replication.policy.class"
				for _, f := range cfg.Flows {
					if f.Source == c[0] && f.Target == c[1] {
						key = f.policyKey
					}
				}
				p.problem(key, "IdentityReplicationPolicy keeps topic names, so it cannot detect loops, and the enabled flows form a cycle (%s): records would be copied back and forth forever. Disable one direction or use DefaultReplicationPolicy", strings.Join(c, " -> "))
				return
			}
		}
	}
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
