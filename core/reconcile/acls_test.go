package reconcile

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/plain"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

func TestTargetACL(t *testing.T) {
	for _, c := range []struct {
		op     kmsg.ACLOperation
		perm   kmsg.ACLPermissionType
		asMM2  bool
		want   kmsg.ACLOperation
		copied bool
	}{
		{kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationWrite, false},
		{kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeAllow, true, kmsg.ACLOperationWrite, false},
		{kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationRead, true},
		{kmsg.ACLOperationAll, kmsg.ACLPermissionTypeAllow, true, kmsg.ACLOperationRead, true},
		{kmsg.ACLOperationAll, kmsg.ACLPermissionTypeDeny, false, kmsg.ACLOperationAll, true},
		{kmsg.ACLOperationWrite, kmsg.ACLPermissionTypeDeny, false, kmsg.ACLOperationWrite, true},
		{kmsg.ACLOperationDelete, kmsg.ACLPermissionTypeDeny, false, kmsg.ACLOperationDelete, true},
		{kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationRead, true},
		{kmsg.ACLOperationDescribe, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationDescribe, true},
		// By default no ALLOW that changes or deletes the remote topic;
		// MM2 copies them.
		{kmsg.ACLOperationDelete, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationDelete, false},
		{kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationAlter, false},
		{kmsg.ACLOperationAlterConfigs, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationAlterConfigs, false},
		{kmsg.ACLOperationCreate, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationCreate, false},
		{kmsg.ACLOperationDescribeConfigs, kmsg.ACLPermissionTypeAllow, false, kmsg.ACLOperationDescribeConfigs, false},
		{kmsg.ACLOperationDelete, kmsg.ACLPermissionTypeAllow, true, kmsg.ACLOperationDelete, true},
		{kmsg.ACLOperationAlter, kmsg.ACLPermissionTypeAllow, true, kmsg.ACLOperationAlter, true},
		{kmsg.ACLOperationAlterConfigs, kmsg.ACLPermissionTypeAllow, true, kmsg.ACLOperationAlterConfigs, true},
		{kmsg.ACLOperationDescribeConfigs, kmsg.ACLPermissionTypeAllow, true, kmsg.ACLOperationDescribeConfigs, true},
	} {
		got, copied := targetACL(c.op, c.perm, c.asMM2)
		if got != c.want || copied != c.copied {
			t.Errorf("%s %s (as MM2: %v): got %s, %v; want %s, %v", c.perm, c.op, c.asMM2, got, copied, c.want, c.copied)
		}
	}
}

// aclCluster starts a kfake cluster that enforces ACLs, with a SASL/PLAIN
// super user, and returns its address and an admin client logged in as
// that user.
func aclCluster(t *testing.T, id string) (string, *kadm.Client) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.ClusterID(id),
		kfake.EnableACLs(), kfake.EnableSASL(), kfake.Superuser("PLAIN", "admin", "admin"),
		kfake.User("PLAIN", "nobody", "nobody")) // no ACLs: may do nothing
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	return addr, aclSASLAdmin(t, addr, "admin")
}

func aclSASLAdmin(t *testing.T, addr, user string) *kadm.Client {
	t.Helper()
	adm, err := kadm.NewOptClient(kgo.SeedBrokers(addr),
		kgo.SASL(plain.Auth{User: user, Pass: user}.AsMechanism()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(adm.Close)
	return adm
}

type aclBinding struct {
	topic     string
	pattern   kadm.ACLPattern
	principal string
	host      string
	op        kadm.ACLOperation
	allow     bool
}

func createACLBindings(t *testing.T, adm *kadm.Client, bs ...aclBinding) {
	t.Helper()
	for _, b := range bs {
		pattern := b.pattern
		if pattern == kadm.ACLPatternUnknown {
			pattern = kadm.ACLPatternLiteral
		}
		host := b.host
		if host == "" {
			host = "*"
		}
		ab := kadm.NewACLs().Topics(b.topic).ResourcePatternType(pattern).Operations(b.op)
		if b.allow {
			ab.Allow(b.principal).AllowHosts(host)
		} else {
			ab.Deny(b.principal).DenyHosts(host)
		}
		rs, err := adm.CreateACLs(context.Background(), ab)
		if err == nil {
			for _, r := range rs {
				if r.Err != nil {
					err = r.Err
				}
			}
		}
		if err != nil {
			t.Fatalf("create %+v: %v", b, err)
		}
	}
}

// aclSummary is an action in one line, for comparisons.
func aclSummary(a Action) string {
	s := fmt.Sprintf("%s %s<-%s %s@%s %s %s", a.Kind, a.Topic, a.SourceTopic, a.ACL.Principal, a.ACL.Host, a.ACL.Permission, a.ACL.Operation)
	if a.ACL.SourceOperation != "" {
		s += " (was " + a.ACL.SourceOperation + ")"
	}
	return s + " " + string(a.Status)
}

func TestPlanACLs(t *testing.T) {
	addrA, src := aclCluster(t, "A")
	addrB, tgt := aclCluster(t, "B")
	pair := kafkatest.Pair{A: addrA, B: addrB}
	f := flow(t, pair, "A->B.topics = .*", "A->B.topics.exclude = skip.*")
	ctx := context.Background()

	createACLBindings(t, src,
		aclBinding{topic: "orders", principal: "User:alice", op: kadm.OpWrite, allow: true},        // dropped
		aclBinding{topic: "orders", principal: "User:alice", op: kadm.OpDescribe, allow: true},     // copied
		aclBinding{topic: "orders", principal: "User:alice", op: kadm.OpDelete, allow: true},       // only as MM2
		aclBinding{topic: "orders", principal: "User:alice", op: kadm.OpAlter, allow: true},        // only as MM2
		aclBinding{topic: "payments", principal: "User:bob", op: kadm.OpAlterConfigs, allow: true}, // only as MM2
		aclBinding{topic: "orders", principal: "User:bob", op: kadm.OpAll, allow: true},            // READ
		aclBinding{topic: "orders", principal: "User:bob", op: kadm.OpRead, allow: true},           // the same READ
		aclBinding{topic: "orders", principal: "User:eve", op: kadm.OpAll},                         // DENY ALL, already on B
		aclBinding{topic: "orders", principal: "User:mallory", host: "10.0.0.1", op: kadm.OpWrite}, // DENY WRITE copied
		aclBinding{topic: "payments", principal: "User:eve", op: kadm.OpAll},                       // DENY ALL copied
		aclBinding{topic: "skipme", principal: "User:alice", op: kadm.OpRead, allow: true},         // filtered out
		aclBinding{topic: "__consumer_offsets", principal: "User:alice", op: kadm.OpRead, allow: true},
		aclBinding{topic: "B.orders", principal: "User:alice", op: kadm.OpRead, allow: true}, // came from B: a cycle
		aclBinding{topic: "ord", pattern: kadm.ACLPatternPrefixed, principal: "User:carol", op: kadm.OpRead, allow: true},
		aclBinding{topic: "*", principal: "User:dave", op: kadm.OpRead, allow: true},
	)
	// Not topic ACLs: never synced.
	rs, err := src.CreateACLs(ctx, kadm.NewACLs().Groups("orders").Allow("User:alice").Operations(kadm.OpRead))
	if err != nil || rs[0].Err != nil {
		t.Fatalf("create group ACL: %v %v", err, rs)
	}
	createACLBindings(t, tgt, aclBinding{topic: "A.orders", principal: "User:eve", op: kadm.OpAll})

	actions, notes, err := planACLs(ctx, f, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range actions {
		got = append(got, aclSummary(a))
	}
	want := []string{
		"create-acl A.orders<-orders User:alice@* ALLOW DESCRIBE planned",
		"create-acl A.orders<-orders User:bob@* ALLOW READ (was ALL) planned",
		"create-acl A.orders<-orders User:mallory@10.0.0.1 DENY WRITE planned",
		"create-acl A.payments<-payments User:eve@* DENY ALL planned",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("plan:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if len(notes) != 2 || !strings.Contains(notes[0], `literal "*"`) ||
		!strings.Contains(notes[1], "ALLOW binding(s) of A not synced (ALTER 1, ALTER_CONFIGS 1, DELETE 1)") || !strings.Contains(notes[1], "mirrorless.sync.topic.acls.mm2.compatible = true") {
		t.Errorf("notes = %q", notes)
	}

	// Planning changed nothing on the target.
	if ds, _ := describeTopicACLs(ctx, tgt); len(ds) != 1 {
		t.Fatalf("target after planning: %+v", ds)
	}

	for i := range actions {
		if err := applyACL(ctx, tgt, &actions[i]); err != nil {
			t.Fatalf("apply %s: %v", aclSummary(actions[i]), err)
		}
	}
	ds, err := describeTopicACLs(ctx, tgt)
	if err != nil {
		t.Fatal(err)
	}
	var onTarget []string
	for _, d := range ds {
		onTarget = append(onTarget, fmt.Sprintf("%s %s@%s %s %s", d.Name, d.Principal, d.Host, d.Permission, d.Operation))
	}
	for _, w := range []string{
		"A.orders User:alice@* ALLOW DESCRIBE",
		"A.orders User:bob@* ALLOW READ",
		"A.orders User:eve@* DENY ALL",
		"A.orders User:mallory@10.0.0.1 DENY WRITE",
		"A.payments User:eve@* DENY ALL",
	} {
		if !slices.Contains(onTarget, w) {
			t.Errorf("target lacks %q; has %q", w, onTarget)
		}
	}
	if len(onTarget) != 5 {
		t.Errorf("target has %d bindings, want 5: %q", len(onTarget), onTarget)
	}

	// In sync: nothing more to do.
	actions, _, err = planACLs(ctx, f, src, tgt)
	if err != nil || len(actions) != 0 {
		t.Fatalf("second plan = %+v, %v", actions, err)
	}

	// mirrorless.sync.topic.acls.mm2.compatible = true: MM2's set, what
	// was left out is planned too (still no ALLOW WRITE).
	mm2 := flow(t, pair, "A->B.topics = .*", "A->B.topics.exclude = skip.*", "mirrorless.sync.topic.acls.mm2.compatible = true")
	actions, notes, err = planACLs(ctx, mm2, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, a := range actions {
		got = append(got, aclSummary(a))
	}
	want = []string{
		"create-acl A.orders<-orders User:alice@* ALLOW ALTER planned",
		"create-acl A.orders<-orders User:alice@* ALLOW DELETE planned",
		"create-acl A.payments<-payments User:bob@* ALLOW ALTER_CONFIGS planned",
	}
	if !reflect.DeepEqual(got, want) || len(notes) != 1 {
		t.Fatalf("plan as MM2:\n  %s\nwant:\n  %s\nnotes %q", strings.Join(got, "\n  "), strings.Join(want, "\n  "), notes)
	}

	// sync.topic.acls.enabled = false: nothing at all.
	createACLBindings(t, src, aclBinding{topic: "orders", principal: "User:zoe", op: kadm.OpRead, allow: true})
	off := flow(t, pair, "A->B.topics = .*", "sync.topic.acls.enabled = false")
	actions, notes, err = planACLs(ctx, off, src, tgt)
	if err != nil || len(actions) != 0 || len(notes) != 0 {
		t.Fatalf("disabled: %+v %q %v", actions, notes, err)
	}
}

// A source without an authorizer is skipped quietly. Real Kafka answers
// DescribeAcls with SECURITY_DISABLED ("No Authorizer is configured on the
// broker"); kfake without EnableACLs stores and describes ACLs as usual
// (it only does not enforce them), so the answer is injected.
func TestPlanACLsNoSourceAuthorizer(t *testing.T) {
	pair, a, _ := kafkatest.KfakeClusters(t)
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	f := flow(t, pair, "A->B.topics = .*")
	ctx := context.Background()
	createACLBindings(t, src, aclBinding{topic: "orders", principal: "User:alice", op: kadm.OpRead, allow: true})

	a.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.DescribeACLs}, TopLevel: true, Err: kerr.SecurityDisabled, Count: -1})
	actions, notes, err := planACLs(ctx, f, src, tgt)
	if err != nil || len(actions) != 0 || !reflect.DeepEqual(notes, []string{"source has no authorizer; ACL sync skipped"}) {
		t.Fatalf("plan = %+v, notes %q, %v", actions, notes, err)
	}
}

// A principal that may not describe the source's ACLs gets a note, not an
// error (CLUSTER_AUTHORIZATION_FAILED, as on a real broker).
func TestPlanACLsSourceNotAuthorized(t *testing.T) {
	addrA, admin := aclCluster(t, "A")
	addrB, tgt := aclCluster(t, "B")
	createACLBindings(t, admin, aclBinding{topic: "orders", principal: "User:alice", op: kadm.OpRead, allow: true})
	f := flow(t, kafkatest.Pair{A: addrA, B: addrB}, "A->B.topics = .*")

	actions, notes, err := planACLs(context.Background(), f, aclSASLAdmin(t, addrA, "nobody"), tgt)
	if err != nil || len(actions) != 0 || len(notes) != 1 ||
		!strings.Contains(notes[0], "not allowed to describe the ACLs of A") || !strings.Contains(notes[0], "CLUSTER_AUTHORIZATION_FAILED") {
		t.Fatalf("plan = %+v, notes %q, %v", actions, notes, err)
	}
}

// Tier 3: the real pair (scripts/kafka-pair.sh runs it with an authorizer).
func TestACLSyncReal(t *testing.T) {
	pair := kafkatest.Real(t)
	src, tgt := kafkatest.Admin(t, pair.A), kafkatest.Admin(t, pair.B)
	topic := kafkatest.Unique(t, "acl")
	remote := "A." + topic
	alice := "User:alice-" + topic
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t.Cleanup(func() {
		// Other tests share the pair: leave no bindings behind.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, adm := range []*kadm.Client{src, tgt} {
			b := kadm.NewACLs().Topics().Allow(alice).AllowHosts().Operations().ResourcePatternType(kadm.ACLPatternLiteral)
			if _, err := adm.DeleteACLs(ctx, b); err != nil {
				t.Logf("delete ACLs of %s: %v", alice, err)
			}
		}
	})
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	createACLBindings(t, src,
		aclBinding{topic: topic, principal: alice, op: kadm.OpDescribe, allow: true},
		aclBinding{topic: topic, principal: alice, op: kadm.OpWrite, allow: true},
		aclBinding{topic: topic, principal: alice, op: kadm.OpDelete, allow: true},
	)
	f := flow(t, pair, "A->B.topics = "+topic)

	// ACL changes reach the broker's authorizer through the metadata log,
	// just after CreateAcls returns.
	waitACLs(ctx, t, src, topic, alice, 3)
	actions, notes, err := planACLs(ctx, f, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	// By default ALLOW DELETE is left out, with a note.
	if len(actions) != 1 || len(notes) != 1 || !strings.Contains(notes[0], "(DELETE 1)") {
		t.Fatalf("plan = %+v, notes %q", actions, notes)
	}
	if got, want := aclSummary(actions[0]), "create-acl "+remote+"<-"+topic+" "+alice+"@* ALLOW DESCRIBE planned"; got != want {
		t.Fatalf("action %q, want %q", got, want)
	}
	if err := applyACL(ctx, tgt, &actions[0]); err != nil {
		t.Fatal(err)
	}
	ds := waitACLs(ctx, t, tgt, remote, alice, 1)
	if d := ds[0]; d.Operation != kadm.OpDescribe || d.Permission != kmsg.ACLPermissionTypeAllow || d.Host != "*" {
		t.Fatalf("on %s: %+v", remote, d)
	}
	// In sync.
	actions, _, err = planACLs(ctx, f, src, tgt)
	if err != nil || len(actions) != 0 {
		t.Fatalf("second plan = %+v, %v", actions, err)
	}
	// The WRITE and DELETE ones did not appear, even later.
	time.Sleep(200 * time.Millisecond)
	if ds := aclsOf(ctx, t, tgt, remote, alice); len(ds) != 1 {
		t.Fatalf("on %s: %+v", remote, ds)
	}

	// As MM2 (mirrorless.sync.topic.acls.mm2.compatible = true): ALLOW
	// DELETE is copied too, ALLOW WRITE still not.
	mm2 := flow(t, pair, "A->B.topics = "+topic, "mirrorless.sync.topic.acls.mm2.compatible = true")
	actions, notes, err = planACLs(ctx, mm2, src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	if len(actions) != 1 || len(notes) != 0 {
		t.Fatalf("plan as MM2 = %+v, notes %q", actions, notes)
	}
	if got, want := aclSummary(actions[0]), "create-acl "+remote+"<-"+topic+" "+alice+"@* ALLOW DELETE planned"; got != want {
		t.Fatalf("action as MM2 %q, want %q", got, want)
	}
	if err := applyACL(ctx, tgt, &actions[0]); err != nil {
		t.Fatal(err)
	}
	ds = waitACLs(ctx, t, tgt, remote, alice, 2)
	ops := []kmsg.ACLOperation{ds[0].Operation, ds[1].Operation}
	slices.Sort(ops)
	if !slices.Equal(ops, []kmsg.ACLOperation{kadm.OpDelete, kadm.OpDescribe}) {
		t.Fatalf("on %s as MM2: %+v", remote, ds)
	}
}

func aclsOf(ctx context.Context, t *testing.T, adm *kadm.Client, topic, principal string) kadm.DescribedACLs {
	t.Helper()
	rs, err := adm.DescribeACLs(ctx, kadm.NewACLs().Topics(topic).Allow(principal).AllowHosts().
		Deny(principal).DenyHosts().Operations().ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil {
		t.Fatal(err)
	}
	var out kadm.DescribedACLs
	for _, r := range rs {
		if r.Err != nil {
			t.Fatalf("describe ACLs of %s on %s: %v", principal, topic, r.Err)
		}
		out = append(out, r.Described...)
	}
	return out
}

func waitACLs(ctx context.Context, t *testing.T, adm *kadm.Client, topic, principal string, n int) kadm.DescribedACLs {
	t.Helper()
	for {
		ds := aclsOf(ctx, t, adm, topic, principal)
		if len(ds) >= n {
			return ds
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s on %s: %d ACL bindings, want %d", principal, topic, len(ds), n)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
