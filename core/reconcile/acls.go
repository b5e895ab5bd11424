package reconcile

// Topic ACL sync (sync.topic.acls.enabled): the source's literal TOPIC
// bindings for replicated topics are copied to their remote topics. MM2's
// MirrorSourceConnector copies every binding but ALLOW WRITE and narrows
// ALLOW ALL to ALLOW READ; mirrorless by default copies only the ALLOW
// bindings that read (READ and DESCRIBE, ALL narrowed to READ), so that a
// source application cannot delete or retune the disaster-recovery copy
// (ALLOW DELETE, ALTER, ALTER_CONFIGS, CREATE, DESCRIBE_CONFIGS are left
// out and counted in a note). mirrorless.sync.topic.acls.mm2.compatible
// = true restores MM2's set. DENY bindings, which only take rights away,
// are copied either way. The sync is additive: bindings removed on the
// source stay on the target.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
)

// noSourceAuthorizer is the note of a source without an authorizer (MM2
// logs the same once at INFO and skips, KAFKA-14781).
const noSourceAuthorizer = "source has no authorizer; ACL sync skipped"

// wildcardTopic is a literal binding's resource name that means every topic.
const wildcardTopic = "*"

// targetACL applies the sync's rules to one source binding's operation and
// permission: the operation to create on the target, and whether the
// binding is copied at all. ALLOW WRITE is never copied; ALLOW ALL becomes
// ALLOW READ; ALLOW READ and DESCRIBE are copied; other ALLOW operations
// only asMM2 (MM2's rules); DENY of any operation is copied unchanged.
func targetACL(op kmsg.ACLOperation, perm kmsg.ACLPermissionType, asMM2 bool) (kmsg.ACLOperation, bool) {
	if perm == kmsg.ACLPermissionTypeAllow {
		switch op {
		case kmsg.ACLOperationWrite:
			return op, false
		case kmsg.ACLOperationAll:
			return kmsg.ACLOperationRead, true
		case kmsg.ACLOperationRead, kmsg.ACLOperationDescribe:
			return op, true
		}
		return op, asMM2
	}
	return op, true
}

// describeTopicACLs lists every literal TOPIC binding of a cluster. A
// filter-level error (SECURITY_DISABLED from a broker without authorizer,
// CLUSTER_AUTHORIZATION_FAILED without DESCRIBE on the cluster) is
// returned as the error.
func describeTopicACLs(ctx context.Context, adm *kadm.Client) ([]kadm.DescribedACL, error) {
	b := kadm.NewACLs().Topics().
		Allow().AllowHosts().Deny().DenyHosts().
		Operations(). // any
		ResourcePatternType(kadm.ACLPatternLiteral)
	rs, err := adm.DescribeACLs(ctx, b)
	if err != nil {
		return nil, err
	}
	var out []kadm.DescribedACL
	for _, r := range rs {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return nil, fmt.Errorf("%w (%s)", r.Err, r.ErrMessage)
			}
			return nil, r.Err
		}
		for _, d := range r.Described {
			if d.Type == kmsg.ACLResourceTypeTopic && d.Pattern == kadm.ACLPatternLiteral {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// isACLAuthz tells whether err is the broker refusing this client the
// request (as opposed to the cluster being unreachable or broken).
func isACLAuthz(err error) bool {
	var ae *kadm.AuthError
	return errors.As(err, &ae) ||
		errors.Is(err, kerr.ClusterAuthorizationFailed) ||
		errors.Is(err, kerr.TopicAuthorizationFailed)
}

type aclKey struct {
	topic, principal, host, op, perm string
}

// planACLs returns create-acl actions for the flow: MM2's rules.
func planACLs(ctx context.Context, f *config.Flow, src, tgt *kadm.Client) (actions []Action, notes []string, err error) {
	if !f.SyncTopicACLs {
		return nil, nil, nil
	}
	described, err := describeTopicACLs(ctx, src)
	switch {
	case errors.Is(err, kerr.SecurityDisabled):
		return nil, []string{noSourceAuthorizer}, nil
	case isACLAuthz(err):
		return nil, []string{fmt.Sprintf("not allowed to describe the ACLs of %s (%v); ACL sync skipped", f.Source, err)}, nil
	case err != nil:
		return nil, nil, fmt.Errorf("describe topic ACLs of %s: %w", f.Source, err)
	}

	want := map[aclKey]Action{}
	leftOut := map[string]int{} // ALLOW bindings MM2 would copy, by operation
	wildcards := 0
	for _, d := range described {
		if d.Name == wildcardTopic {
			// A literal "*" is every topic, not a topic: MM2 would rename
			// it to a literal "A.*" that matches nothing (or, under
			// IdentityReplicationPolicy, copy a grant on all target topics).
			wildcards++
			continue
		}
		if !f.Rules.ShouldReplicate(d.Name) {
			continue
		}
		op, ok := targetACL(d.Operation, d.Permission, f.SyncTopicACLsAsMM2)
		if !ok {
			if d.Operation != kmsg.ACLOperationWrite {
				leftOut[d.Operation.String()]++
			}
			continue
		}
		acl := &ACL{
			Principal:  d.Principal,
			Host:       d.Host,
			Operation:  op.String(),
			Permission: d.Permission.String(),
		}
		if op != d.Operation {
			acl.SourceOperation = d.Operation.String()
		}
		remote := f.Rules.RemoteTopic(d.Name)
		k := aclKey{remote, acl.Principal, acl.Host, acl.Operation, acl.Permission}
		if _, dup := want[k]; dup {
			continue // e.g. ALLOW ALL and ALLOW READ on one topic both give ALLOW READ
		}
		want[k] = Action{Kind: CreateACL, Topic: remote, SourceTopic: d.Name, ACL: acl, Status: "planned"}
	}
	if wildcards > 0 {
		notes = append(notes, fmt.Sprintf("%d ACL binding(s) on all topics (literal %q) of %s not synced: they name no topic", wildcards, wildcardTopic, f.Source))
	}
	if len(leftOut) > 0 {
		var ops []string
		for op, n := range leftOut {
			ops = append(ops, fmt.Sprintf("%s %d", op, n))
		}
		sort.Strings(ops)
		notes = append(notes, fmt.Sprintf("ALLOW binding(s) of %s not synced (%s): only READ and DESCRIBE are, so that source applications cannot delete or alter the remote topics; set %s = true to copy them as MM2 does",
			f.Source, strings.Join(ops, ", "), config.ACLsAsMM2Key))
	}
	if len(want) == 0 {
		return nil, notes, nil
	}

	existing, err := describeTopicACLs(ctx, tgt)
	switch {
	case errors.Is(err, kerr.SecurityDisabled):
		return nil, append(notes, fmt.Sprintf("target %s has no authorizer; %d topic ACL binding(s) not synced", f.Target, len(want))), nil
	case isACLAuthz(err):
		return nil, append(notes, fmt.Sprintf("not allowed to describe the ACLs of %s (%v); ACL sync skipped", f.Target, err)), nil
	case err != nil:
		return nil, nil, fmt.Errorf("describe topic ACLs of %s: %w", f.Target, err)
	}
	for _, d := range existing {
		delete(want, aclKey{d.Name, d.Principal, d.Host, d.Operation.String(), d.Permission.String()})
	}

	for _, a := range want {
		actions = append(actions, a)
	}
	sort.Slice(actions, func(i, j int) bool {
		a, b := actions[i], actions[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.ACL.Principal != b.ACL.Principal {
			return a.ACL.Principal < b.ACL.Principal
		}
		if a.ACL.Host != b.ACL.Host {
			return a.ACL.Host < b.ACL.Host
		}
		if a.ACL.Operation != b.ACL.Operation {
			return a.ACL.Operation < b.ACL.Operation
		}
		return a.ACL.Permission < b.ACL.Permission
	})
	return actions, notes, nil
}

// applyACL creates one planned binding on the target. Creating a binding
// that already exists succeeds (Kafka stores each binding once).
func applyACL(ctx context.Context, tgt *kadm.Client, a *Action) error {
	if a.ACL == nil {
		return errors.New("create-acl action without a binding")
	}
	op, err := kmsg.ParseACLOperation(a.ACL.Operation)
	if err != nil {
		return err
	}
	b := kadm.NewACLs().Topics(a.Topic).Operations(op).ResourcePatternType(kadm.ACLPatternLiteral)
	switch perm, err := kmsg.ParseACLPermissionType(a.ACL.Permission); {
	case err != nil:
		return err
	case perm == kmsg.ACLPermissionTypeAllow:
		b.Allow(a.ACL.Principal).AllowHosts(a.ACL.Host)
	case perm == kmsg.ACLPermissionTypeDeny:
		b.Deny(a.ACL.Principal).DenyHosts(a.ACL.Host)
	default:
		return fmt.Errorf("cannot create an ACL with permission %s", a.ACL.Permission)
	}
	rs, err := tgt.CreateACLs(ctx, b)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return fmt.Errorf("%w (%s)", r.Err, r.ErrMessage)
			}
			return r.Err
		}
	}
	if len(rs) != 1 {
		return fmt.Errorf("created %d ACL bindings, expected 1", len(rs))
	}
	return nil
}
