package config

import (
	"maps"
	"slices"
	"strings"
)

// ACLsAsMM2Key, when true, makes ACL sync copy what MM2 copies: every
// ALLOW binding but WRITE (DELETE, ALTER, ALTER_CONFIGS, CREATE and
// DESCRIBE_CONFIGS too), not only READ and DESCRIBE. mirrorless's own key,
// in its namespace; MM2 has no such choice.
const ACLsAsMM2Key = "mirrorless.sync.topic.acls.mm2.compatible"

// How mirrorless treats each MirrorMaker 2 key it knows. Keys that are not
// here are reported as unknown (a warning, since a typo silently falls
// back to a default in MM2 too).
type keyUse int

const (
	used        keyUse = iota // mirrorless acts on it
	later                     // read by a function that is not built yet (reconcile configs/ACLs, checkpoint)
	connectOnly               // meaningful only to a Kafka Connect worker; mirrorless has no worker
	unsupported               // MM2 feature mirrorless does differently; the warning says how
)

// connectorKeys are the MM2 connector keys, valid top-level or prefixed by
// a flow (`A->B.key`).
var connectorKeys = map[string]keyUse{
	"enabled":                      used,
	"topics":                       used,
	"topics.exclude":               used,
	"topics.blacklist":             used, // 3.x alias of topics.exclude
	"topic.filter.class":           unsupported,
	"replication.policy.class":     used,
	"replication.policy.separator": used,
	"replication.policy.internal.topic.separator.enabled": used,
	"replication.factor":                    used,
	"offset-syncs.topic.replication.factor": used,
	"offset-syncs.topic.location":           unsupported,
	"emit.offset-syncs.enabled":             unsupported,
	"offset.lag.max":                        used,
	"heartbeats.replication.enabled":        used,
	"refresh.topics.enabled":                connectOnly,
	"refresh.topics.interval.seconds":       connectOnly,
	"refresh.groups.enabled":                connectOnly,
	"refresh.groups.interval.seconds":       connectOnly,
	"sync.topic.configs.enabled":            used,
	"sync.topic.configs.interval.seconds":   connectOnly,
	"config.properties.exclude":             used,
	"config.properties.blacklist":           used,
	"config.property.filter.class":          unsupported,
	"use.defaults.from":                     used,
	"use.incremental.alter.configs":         later,
	"sync.topic.acls.enabled":               used,
	"sync.topic.acls.interval.seconds":      connectOnly,
	ACLsAsMM2Key:                            used, // mirrorless's own
	"groups":                                used,
	"groups.exclude":                        used,
	"groups.blacklist":                      used,
	"group.filter.class":                    unsupported,
	"emit.checkpoints.enabled":              used,
	"emit.checkpoints.interval.seconds":     connectOnly,
	"checkpoints.topic.replication.factor":  used,
	"sync.group.offsets.enabled":            used,
	"sync.group.offsets.interval.seconds":   connectOnly,
	"emit.heartbeats.enabled":               used,
	"emit.heartbeats.interval.seconds":      connectOnly,
	"heartbeats.topic.replication.factor":   used,
	"admin.timeout.ms":                      used,
	"consumer.poll.timeout.ms":              connectOnly,
	"forwarding.admin.class":                unsupported,
	"add.source.alias.to.metrics":           connectOnly,
	"exactly.once.support":                  connectOnly,
	"transaction.boundary":                  connectOnly,
	"transaction.boundary.interval.ms":      connectOnly,
	"source.cluster.alias":                  connectOnly,
	"target.cluster.alias":                  connectOnly,
	"name":                                  connectOnly,
	"connector.class":                       connectOnly,
	"tasks.max":                             connectOnly,
	"key.converter":                         connectOnly,
	"value.converter":                       connectOnly,
	"header.converter":                      connectOnly,
	"errors.tolerance":                      connectOnly,
	"errors.log.enable":                     connectOnly,
	"errors.log.include.messages":           connectOnly,
	"metric.reporters":                      connectOnly,
	"config.providers":                      unsupported,
}

// workerKeys are Kafka Connect worker settings that MM2's dedicated mode
// reads (often prefixed by the target alias). mirrorless has no worker.
var workerKeys = map[string]bool{
	"group.id": true, "offset.storage.topic": true, "config.storage.topic": true, "status.storage.topic": true,
	"offset.storage.replication.factor": true, "config.storage.replication.factor": true,
	"status.storage.replication.factor": true, "offset.storage.partitions": true, "status.storage.partitions": true,
	"offset.flush.interval.ms": true, "offset.flush.timeout.ms": true, "exactly.once.source.support": true,
	"dedicated.mode.enable.internal.rest": true, "listeners": true, "rest.advertised.host.name": true,
	"rest.advertised.port": true, "rest.advertised.listener": true, "scheduled.rebalance.max.delay.ms": true,
	"task.shutdown.graceful.timeout.ms": true, "worker.sync.timeout.ms": true, "worker.unsync.backoff.ms": true,
	"key.converter.schemas.enable": true, "value.converter.schemas.enable": true, "plugin.path": true,
	"connector.client.config.override.policy": true,
}

// clusterConnKeys are the connection settings MM2 copies from a cluster
// into its consumer, producer and admin configs.
func isConnKey(k string) bool {
	return slices.Contains(connKeys, k) || strings.HasPrefix(k, "ssl.") || strings.HasPrefix(k, "sasl.")
}

// connKeys are the client keys of isConnKey but the ssl.* and sasl.* ones.
var connKeys = []string{
	"bootstrap.servers", "security.protocol", "client.id", "client.dns.lookup",
	"request.timeout.ms", "retry.backoff.ms", "reconnect.backoff.ms", "reconnect.backoff.max.ms",
	"connections.max.idle.ms", "metadata.max.age.ms", "socket.connection.setup.timeout.ms",
	"socket.connection.setup.timeout.max.ms", "send.buffer.bytes", "receive.buffer.bytes",
}

// nearest returns the candidate within two edits of k (the fewest; the
// first in sorted order on a tie), or "" when there is none: a warning's
// "did you mean". Keys longer than maxSuggestLen get none, which bounds the
// work a hostile file can cause.
func nearest(k string, candidates []string) string {
	if len(k) > maxSuggestLen {
		return ""
	}
	sorted := slices.Sorted(slices.Values(candidates))
	best, bestD := "", 3
	for _, c := range sorted {
		if d := editDistance(k, c); d < bestD && d > 0 {
			best, bestD = c, d
		}
	}
	return best
}

const maxSuggestLen = 100

// editDistance is the Levenshtein distance of a and b in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			sub := prev[j-1]
			if a[i-1] != b[j-1] {
				sub++
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, sub)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

var roles = []string{"consumer.", "producer.", "admin."}

// connectorKeyNames are connectorKeys' names, for nearest.
var connectorKeyNames = slices.Collect(maps.Keys(connectorKeys))
