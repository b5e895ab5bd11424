package reconcile

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// What a fuzzed source ACL set is made of: replicated topics, an excluded
// one, internal topics, a remote topic that came from B (a cycle), the
// literal "*", principals with wildcards, hosts, every operation, both
// permissions and both pattern types.
var (
	fuzzTopics     = []string{"orders", "payments", "skip.me", "__consumer_offsets", "B.orders", "*", "heartbeats", "mm2-offset-syncs.B.internal", "ord"}
	fuzzPrincipals = []string{"User:alice", "User:bob", "User:*"}
	fuzzHosts      = []string{"*", "10.0.0.1"}
	fuzzOps        = []kmsg.ACLOperation{
		kmsg.ACLOperationAll, kmsg.ACLOperationRead, kmsg.ACLOperationWrite, kmsg.ACLOperationCreate,
		kmsg.ACLOperationDelete, kmsg.ACLOperationAlter, kmsg.ACLOperationDescribe,
		kmsg.ACLOperationDescribeConfigs, kmsg.ACLOperationAlterConfigs,
	}
)

type fuzzBinding struct {
	topic, principal, host string
	op                     kmsg.ACLOperation
	allow, prefixed        bool
}

// fuzzBindings turns bytes into up to 16 source bindings, 3 bytes each.
func fuzzBindings(b []byte) []fuzzBinding {
	var out []fuzzBinding
	for len(b) >= 3 && len(out) < 16 {
		x, y, z := int(b[0]), int(b[1]), int(b[2])
		b = b[3:]
		out = append(out, fuzzBinding{
			topic:     fuzzTopics[x%len(fuzzTopics)],
			principal: fuzzPrincipals[(x/len(fuzzTopics))%len(fuzzPrincipals)],
			host:      fuzzHosts[z%2],
			op:        fuzzOps[y%len(fuzzOps)],
			allow:     (z/2)%4 != 0, // mostly ALLOW: the permission that can grant too much
			prefixed:  (z/8)%5 == 0,
		})
	}
	return out
}

// FuzzPlanACLs checks ACL sync against MM2's rules for any source ACL set
// (a property test; the seeds include 20 random sets, so the normal test
// run covers them): it never grants more than the source had. Every
// planned binding is on the remote name of a replicated topic that has a
// literal source binding with the same principal, host and permission and
// the same operation, or ALL where READ is planned; no ALLOW WRITE and no
// ALLOW ALL is ever planned, and by default no ALLOW but READ and
// DESCRIBE; nothing for the literal "*", prefixed patterns, excluded or
// internal topics or topics that came from the target. And it loses
// nothing it should copy: every other literal binding of a replicated
// topic is planned, by default every DENY and ALLOW READ, DESCRIBE and
// ALL, with mirrorless.sync.topic.acls.mm2.compatible = true every binding
// MM2 copies.
func FuzzPlanACLs(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 11))
	for range 20 {
		b := make([]byte, 3*(1+rng.IntN(16)))
		for i := range b {
			b[i] = byte(rng.UintN(256))
		}
		f.Add(b)
	}
	f.Add([]byte{0, 0, 2, 0, 2, 2}) // orders: ALLOW ALL and ALLOW WRITE
	f.Fuzz(func(t *testing.T, b []byte) {
		bindings := fuzzBindings(b)
		srcAddr, src := fuzzACLCluster(t, "A")
		tgtAddr, tgt := fuzzACLCluster(t, "B")
		cfg, err := config.Load(kafkatest.Properties(t, kafkatest.Pair{A: srcAddr, B: tgtAddr}, "A->B.topics = .*", "A->B.topics.exclude = skip.*"))
		if err != nil {
			t.Fatal(err)
		}
		fl := cfg.Flows[0]
		ctx := context.Background()
		for _, sb := range bindings {
			pattern := kadm.ACLPatternLiteral
			if sb.prefixed {
				pattern = kadm.ACLPatternPrefixed
			}
			ab := kadm.NewACLs().Topics(sb.topic).ResourcePatternType(pattern).Operations(sb.op)
			if sb.allow {
				ab.Allow(sb.principal).AllowHosts(sb.host)
			} else {
				ab.Deny(sb.principal).DenyHosts(sb.host)
			}
			if rs, err := src.CreateACLs(ctx, ab); err != nil || rs[0].Err != nil {
				t.Fatalf("create %+v: %v %v", sb, err, rs)
			}
		}

		asMM2 := *fl
		asMM2.SyncTopicACLsAsMM2 = true
		for _, fl := range []*config.Flow{fl, &asMM2} {
			checkPlanACLs(ctx, t, fl, src, tgt, bindings)
		}
	})
}

func checkPlanACLs(ctx context.Context, t *testing.T, fl *config.Flow, src, tgt *kadm.Client, bindings []fuzzBinding) {
	t.Helper()
	reads := func(op kmsg.ACLOperation) bool {
		return op == kmsg.ACLOperationRead || op == kmsg.ACLOperationDescribe || op == kmsg.ACLOperationAll
	}
	actions, _, err := planACLs(ctx, fl, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	planned := map[aclKey]bool{}
	for _, a := range actions {
		if a.Kind != CreateACL || a.ACL == nil {
			t.Fatalf("unexpected action %+v", a)
		}
		acl := a.ACL
		if acl.Permission == kmsg.ACLPermissionTypeAllow.String() &&
			(acl.Operation == kmsg.ACLOperationWrite.String() || acl.Operation == kmsg.ACLOperationAll.String()) {
			t.Fatalf("planned ALLOW %s: %s", acl.Operation, aclSummary(a))
		}
		if op, _ := kmsg.ParseACLOperation(acl.Operation); !fl.SyncTopicACLsAsMM2 && acl.Permission == kmsg.ACLPermissionTypeAllow.String() && !reads(op) {
			t.Fatalf("planned ALLOW %s without %s: %s", acl.Operation, config.ACLsAsMM2Key, aclSummary(a))
		}
		if a.SourceTopic == "*" || !fl.Rules.ShouldReplicate(a.SourceTopic) || fl.Rules.RemoteTopic(a.SourceTopic) != a.Topic {
			t.Fatalf("planned on a topic that is not replicated to it: %s", aclSummary(a))
		}
		if !sourceGrants(bindings, a) {
			t.Fatalf("planned a binding the source does not have: %s\nsource: %+v", aclSummary(a), bindings)
		}
		planned[aclKey{a.Topic, acl.Principal, acl.Host, acl.Operation, acl.Permission}] = true
	}
	for _, sb := range bindings {
		if sb.prefixed || sb.topic == "*" || !fl.Rules.ShouldReplicate(sb.topic) || (sb.allow && sb.op == kmsg.ACLOperationWrite) ||
			(sb.allow && !fl.SyncTopicACLsAsMM2 && !reads(sb.op)) {
			continue
		}
		op, perm := sb.op, kmsg.ACLPermissionTypeDeny
		if sb.allow {
			perm = kmsg.ACLPermissionTypeAllow
			if op == kmsg.ACLOperationAll {
				op = kmsg.ACLOperationRead
			}
		}
		if k := (aclKey{fl.Rules.RemoteTopic(sb.topic), sb.principal, sb.host, op.String(), perm.String()}); !planned[k] {
			t.Fatalf("source binding %+v is not planned as %+v (as MM2: %v)", sb, k, fl.SyncTopicACLsAsMM2)
		}
	}
}

// sourceGrants: a literal source binding of a's source topic with the same
// principal, host and permission has a's operation, or ALL where a is READ.
func sourceGrants(bindings []fuzzBinding, a Action) bool {
	for _, sb := range bindings {
		if sb.prefixed || sb.topic != a.SourceTopic || sb.principal != a.ACL.Principal || sb.host != a.ACL.Host {
			continue
		}
		perm := kmsg.ACLPermissionTypeDeny
		if sb.allow {
			perm = kmsg.ACLPermissionTypeAllow
		}
		if perm.String() != a.ACL.Permission {
			continue
		}
		if sb.op.String() == a.ACL.Operation ||
			sb.allow && sb.op == kmsg.ACLOperationAll && a.ACL.Operation == kmsg.ACLOperationRead.String() {
			return true
		}
	}
	return false
}

// fuzzACLCluster is aclCluster for any testing.TB.
func fuzzACLCluster(t testing.TB, id string) (string, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID(id),
		kfake.EnableACLs(), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "admin"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(addr), kgo.SASL(plain.Auth{User: "admin", Pass: "admin"}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return addr, adm
}
