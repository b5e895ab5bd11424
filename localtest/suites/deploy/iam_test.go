package deploy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// starResourceActions are the only actions that may be granted on Resource "*": Lambda's VPC
// network interfaces, which AWS does not let you scope (AWSLambdaVPCAccessExecutionRole).
var starResourceActions = []string{
	"ec2:CreateNetworkInterface",
	"ec2:DescribeNetworkInterfaces",
	"ec2:DescribeSubnets",
	"ec2:DeleteNetworkInterface",
	"ec2:AssignPrivateIpAddresses",
	"ec2:UnassignPrivateIpAddresses",
}

// mskActions are the MSK IAM (kafka-cluster) actions AWS defines; anything else is a typo that
// IAM would accept silently and MSK would then deny.
var mskActions = []string{
	"kafka-cluster:Connect", "kafka-cluster:AlterCluster", "kafka-cluster:DescribeCluster",
	"kafka-cluster:AlterClusterDynamicConfiguration", "kafka-cluster:DescribeClusterDynamicConfiguration",
	"kafka-cluster:WriteDataIdempotently", "kafka-cluster:CreateTopic", "kafka-cluster:DescribeTopic",
	"kafka-cluster:AlterTopic", "kafka-cluster:DeleteTopic", "kafka-cluster:ReadData", "kafka-cluster:WriteData",
	"kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:AlterTopicDynamicConfiguration",
	"kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup", "kafka-cluster:DeleteGroup",
	"kafka-cluster:DescribeTransactionalId", "kafka-cluster:AlterTransactionalId",
}

// checkStatement returns what is wrong with one IAM policy statement (CloudFormation JSON, with
// plain strings for actions and resources).
func checkStatement(where string, st map[string]any) []string {
	var problems []string
	for _, k := range []string{"NotAction", "NotResource", "NotPrincipal"} {
		if _, ok := st[k]; ok {
			problems = append(problems, fmt.Sprintf("%s: %s grants everything except a list", where, k))
		}
	}
	actions := strs(st["Action"])
	if len(actions) == 0 {
		problems = append(problems, where+": no Action")
	}
	for _, a := range actions {
		if strings.Contains(a, "*") {
			problems = append(problems, fmt.Sprintf("%s: wildcard action %q: list the actions", where, a))
		}
		if strings.HasPrefix(a, "kafka-cluster:") && !slices.Contains(mskActions, a) {
			problems = append(problems, fmt.Sprintf("%s: %q is not an MSK IAM action", where, a))
		}
	}
	for _, r := range strs(st["Resource"]) {
		if r != "*" {
			continue
		}
		for _, a := range actions {
			if !slices.Contains(starResourceActions, a) {
				problems = append(problems, fmt.Sprintf("%s: %q on Resource \"*\": scope it to ARNs", where, a))
			}
		}
	}
	return problems
}

// strs reads a string or a list; intrinsic functions (maps) are returned as their JSON.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, strs(e)...)
		}
		return out
	case nil:
		return nil
	default:
		b, _ := json.Marshal(x)
		return []string{string(b)}
	}
}

// statements expands a template Statement value: a list of statements, each possibly inside
// Fn::If (both branches count; AWS::NoValue is none).
func statements(v any) []map[string]any {
	switch x := v.(type) {
	case []any:
		var out []map[string]any
		for _, e := range x {
			out = append(out, statements(e)...)
		}
		return out
	case map[string]any:
		if f, ok := x["Fn::If"].([]any); ok && len(f) == 3 {
			return append(statements(f[1]), statements(f[2])...)
		}
		if x["Ref"] == "AWS::NoValue" {
			return nil
		}
		return []map[string]any{x}
	}
	return nil
}

// templatePolicies lists every policy statement in template.yaml by resource name.
func templatePolicies(t *testing.T, tpl map[string]any) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for name, v := range tpl["Resources"].(map[string]any) {
		r := v.(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		switch r["Type"] {
		case "AWS::IAM::Role":
			for _, arn := range strs(props["ManagedPolicyArns"]) {
				if strings.Contains(arn, ":iam::aws:policy/") {
					t.Errorf("%s attaches the AWS managed policy %s: its grants are not ours to scope", name, arn)
				}
			}
			pols, _ := props["Policies"].([]any)
			for _, p := range pols {
				doc := p.(map[string]any)["PolicyDocument"].(map[string]any)
				out[name] = append(out[name], statements(doc["Statement"])...)
			}
		case "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy":
			doc := props["PolicyDocument"].(map[string]any)
			out[name] = append(out[name], statements(doc["Statement"])...)
		case "AWS::Serverless::Function":
			// SAM's Policies would add AWSLambdaBasicExecutionRole (logs on "*"); every
			// function must use its own Role instead.
			if props["Policies"] != nil || props["Role"] == nil {
				t.Errorf("%s must have Role and no Policies", name)
			}
		}
	}
	return out
}

func TestTemplateIAMLeastPrivilege(t *testing.T) {
	p := load(t)
	pols := templatePolicies(t, p.Template)
	n := 0
	for name, sts := range pols {
		for i, st := range sts {
			n++
			for _, problem := range checkStatement(fmt.Sprintf("template %s statement %d", name, i), st) {
				t.Error(problem)
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d statements in template.yaml: the walk is broken", n)
	}
}

var (
	hclAction  = regexp.MustCompile(`Action\s*=\s*(\[[^\]]*\]|"[^"]*")`)
	hclQuoted  = regexp.MustCompile(`"([^"]*)"`)
	hclStarRes = regexp.MustCompile(`Resource\s*=\s*"\*"`)
)

// hclObjects returns each {Effect = ...} object of an expression, braces balanced (values such
// as "${aws_x.y.arn}:*" hold braces of their own).
func hclObjects(expr string) []string {
	var out []string
	for i := 0; i < len(expr); i++ {
		if !strings.HasPrefix(expr[i:], "{Effect") {
			continue
		}
		depth := 0
		for j := i; j < len(expr); j++ {
			switch expr[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
			if depth == 0 {
				out = append(out, expr[i:j+1])
				break
			}
		}
	}
	return out
}

// hclStatements reads the statements of a jsonencode({...}) policy expression as python-hcl2
// prints it: flat {Effect = ..., Action = ..., Resource = ...} objects.
func hclStatements(expr string) []map[string]any {
	var out []map[string]any
	for _, s := range hclObjects(expr) {
		st := map[string]any{"Effect": "Allow"}
		if m := hclAction.FindStringSubmatch(s); m != nil {
			var as []any
			for _, q := range hclQuoted.FindAllStringSubmatch(m[1], -1) {
				as = append(as, q[1])
			}
			st["Action"] = as
		}
		if hclStarRes.MatchString(s) {
			st["Resource"] = "*"
		} else {
			st["Resource"] = "(scoped)"
		}
		for _, k := range []string{"NotAction", "NotResource"} {
			if strings.Contains(s, k) {
				st[k] = true
			}
		}
		out = append(out, st)
	}
	return out
}

func TestInfraIAMLeastPrivilege(t *testing.T) {
	p := load(t)
	n := 0
	for name, body := range resources(p, "aws_iam_role_policy") {
		expr, _ := body["policy"].(string)
		sts := hclStatements(expr)
		if len(sts) == 0 && !strings.Contains(expr, "local.msk_") {
			t.Errorf("infra aws_iam_role_policy.%s: no statement found in %q", name, expr)
		}
		for i, st := range sts {
			n++
			for _, problem := range checkStatement(fmt.Sprintf("infra aws_iam_role_policy.%s statement %d", name, i), st) {
				t.Error(problem)
			}
		}
	}
	for _, side := range []string{"msk_source", "msk_target"} {
		fns, _ := locals(p)[side].(map[string]any)
		if side == "msk_target" {
			fns["checkpoint (synced groups)"] = syncedGroups(p)
		}
		for fn, v := range fns {
			for i, st := range v.([]any) {
				n++
				plain := map[string]any{}
				for k, x := range st.(map[string]any) {
					plain[k] = unquoteAll(x)
				}
				for _, problem := range checkStatement(fmt.Sprintf("infra local.%s.%s statement %d", side, fn, i), plain) {
					t.Error(problem)
				}
			}
		}
	}
	if n < 20 {
		t.Fatalf("found only %d statements in infra/: the walk is broken", n)
	}
}

// syncedGroups reads local.msk_target_synced_groups (a conditional list) as its statements.
func syncedGroups(p parsed) []any {
	expr, _ := locals(p)["msk_target_synced_groups"].(string)
	var out []any
	for _, obj := range regexp.MustCompile(`\{Effect = "Allow", Action = \[([^\]]*)\], Resource = "([^"]*)"\}`).FindAllStringSubmatch(expr, -1) {
		var actions []any
		for _, q := range hclQuoted.FindAllStringSubmatch(obj[1], -1) {
			actions = append(actions, q[1])
		}
		out = append(out, map[string]any{"Effect": "Allow", "Action": actions, "Resource": obj[2]})
	}
	return out
}

func unquoteAll(v any) any {
	switch x := v.(type) {
	case string:
		return unquote(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unquoteAll(e)
		}
		return out
	}
	return v
}

// TestIAMCheckerCatches proves the checker above fails on what it is meant to catch.
func TestIAMCheckerCatches(t *testing.T) {
	for _, c := range []struct {
		name string
		st   string
		want string
	}{
		{"kafka action wildcard", `{"Effect":"Allow","Action":"kafka-cluster:*","Resource":"arn:x"}`, "wildcard action"},
		{"all actions", `{"Effect":"Allow","Action":["s3:GetObject","*"],"Resource":"arn:x"}`, "wildcard action"},
		{"star resource", `{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}`, `on Resource "*"`},
		{"star in list", `{"Effect":"Allow","Action":"kafka-cluster:ReadData","Resource":["arn:x","*"]}`, `on Resource "*"`},
		{"typo", `{"Effect":"Allow","Action":"kafka-cluster:DescribeGroups","Resource":"arn:x"}`, "not an MSK IAM action"},
		{"not action", `{"Effect":"Allow","NotAction":"iam:*","Resource":"arn:x"}`, "NotAction"},
		{"ok", `{"Effect":"Allow","Action":["ec2:CreateNetworkInterface"],"Resource":"*"}`, ""},
	} {
		var st map[string]any
		if err := json.Unmarshal([]byte(c.st), &st); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(checkStatement(c.name, st), "; ")
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("%s: got %q, want it to mention %q", c.name, got, c.want)
		}
	}
	// The HCL statement reader sees a Resource "*" and the actions next to it.
	sts := hclStatements(`${jsonencode({Version = "2012-10-17", Statement = [{Effect = "Allow", Action = ["kafka-cluster:ReadData"], Resource = "*"}]})}`)
	if len(sts) != 1 || len(checkStatement("hcl", sts[0])) == 0 {
		t.Errorf("hclStatements missed a Resource \"*\": %v", sts)
	}
}

var (
	tplResource   = regexp.MustCompile(`^\$\{Prefix\}:(topic|group|transactional-id)/\$\{Name\}/\$\{Uuid\}/(.*)$`)
	infraResource = regexp.MustCompile(`^\$\{local\.(?:src|tgt)_(topic|group|txn)\}(.*)$`)
	tplParam      = regexp.MustCompile(`\$\{([A-Za-z]+)\}`)
)

// TestMSKPermissionsMatch: for each function and cluster side, the template and infra/ grant the
// same kafka-cluster actions on the same resources.
func TestMSKPermissionsMatch(t *testing.T) {
	p := load(t)
	tplPols := templatePolicies(t, p.Template)
	for _, fn := range []string{"mirror", "reconcile", "checkpoint"} {
		for _, side := range []string{"source", "target"} {
			tplName := strings.ToUpper(fn[:1]) + fn[1:] + strings.ToUpper(side[:1]) + side[1:] + "MskPolicy"
			var tpl []string
			for _, st := range tplPols[tplName] {
				res := []any{st["Resource"]}
				if l, ok := st["Resource"].([]any); ok {
					res = l
				}
				for _, r := range res {
					key := tplKey(r)
					for _, a := range strs(st["Action"]) {
						tpl = append(tpl, a+" on "+key)
					}
				}
			}
			var tf []string
			fns, _ := locals(p)["msk_"+side].(map[string]any)
			list, _ := fns[fn].([]any)
			if side == "target" && fn == "checkpoint" {
				list = append(list, syncedGroups(p)...)
			}
			for _, v := range list {
				st := v.(map[string]any)
				for _, r := range strs(unquoteAll(st["Resource"])) {
					key := infraKey(r)
					for _, a := range strs(unquoteAll(st["Action"])) {
						tf = append(tf, a+" on "+key)
					}
				}
			}
			sort.Strings(tpl)
			sort.Strings(tf)
			if len(tpl) == 0 {
				t.Errorf("template has no %s", tplName)
			}
			if !slices.Equal(tpl, tf) {
				t.Errorf("%s %s: template grants\n  %s\ninfra grants\n  %s", fn, side, strings.Join(tpl, "\n  "), strings.Join(tf, "\n  "))
			}
		}
	}
}

// tplKey names a template MSK resource: "cluster", or "<kind>/<pattern>" with parameters
// written as Terraform variables.
func tplKey(r any) string {
	m, ok := r.(map[string]any)
	if !ok {
		return fmt.Sprint(r)
	}
	if ref, ok := m["Ref"].(string); ok && strings.HasSuffix(ref, "MskClusterArn") {
		return "cluster"
	}
	sub, ok := m["Fn::Sub"].([]any)
	if !ok {
		b, _ := json.Marshal(m)
		return string(b)
	}
	g := tplResource.FindStringSubmatch(sub[0].(string))
	if g == nil {
		return sub[0].(string)
	}
	pattern := tplParam.ReplaceAllStringFunc(g[2], func(s string) string {
		switch s {
		case "${Remote}": // derived from RemoteTopics and Flows, as local.remote_topics is
			return "${local.remote_topics}"
		case "${Flow}":
			return "${var.flows}"
		}
		return "${var." + snake(s[2:len(s)-1]) + "}"
	})
	return g[1] + "/" + pattern
}

func infraKey(r string) string {
	if r == "${local.src_cluster}" || r == "${local.tgt_cluster}" {
		return "cluster"
	}
	g := infraResource.FindStringSubmatch(r)
	if g == nil {
		return r
	}
	kind := g[1]
	if kind == "txn" {
		kind = "transactional-id"
	}
	return kind + "/" + g[2]
}

// exampleFlow is the one flow an MSK IAM deployment serves in TestMSKWildcardsNeeded (Flows /
// flows; the template's rules and infra/'s preconditions require one with a target cluster).
const exampleFlow = "A->B"

// internalPatterns are the wildcard names of MM2's and mirrorless's internal topics on the
// target, for any source alias (the separator is "."): they match nothing else.
var internalPatterns = []string{"mm2-offset-syncs.*.internal", "*.checkpoints.internal", "mm2-mirrorless-checkpoint-state.*.internal"}

// sourceReadOnly are the actions a bare "*" may carry, on the source only: MM2's default
// filters (topics = .*, groups = .*) select every topic and group there.
var sourceReadOnly = []string{"kafka-cluster:DescribeTopic", "kafka-cluster:ReadData", "kafka-cluster:DescribeTopicDynamicConfiguration", "kafka-cluster:DescribeGroup"}

// wildcardProblem says what is wrong with a topic, group or transactional-id name pattern as
// granted with the parameters' defaults, or "" if its wildcard is needed: a bare "*" only for
// reading the source; otherwise a wildcard only in an internal topic's name or after a prefix
// that pins the flow (the remote topics A.*, the groups and transactional ids mirrorless.A->B.*).
func wildcardProblem(side, kind, pattern string, actions []string) string {
	if !strings.ContainsAny(pattern, "*?") {
		return ""
	}
	if pattern == "*" {
		for _, a := range actions {
			if side != "source" || !slices.Contains(sourceReadOnly, a) {
				return fmt.Sprintf("%s on every %s of the %s cluster: grant only what the flows need", a, kind, side)
			}
		}
		return ""
	}
	if kind == "topic" && slices.Contains(internalPatterns, pattern) {
		return ""
	}
	src, _, _ := strings.Cut(exampleFlow, "->")
	for _, pinned := range []string{src + ".", "mirrorless." + exampleFlow + "."} {
		if strings.HasPrefix(pattern, pinned) && !strings.ContainsAny(pattern[:len(pinned)], "*?") {
			return ""
		}
	}
	return fmt.Sprintf("%s pattern %q reaches beyond the flow %s", kind, pattern, exampleFlow)
}

// derived are the names the template and infra/ give what they derive from Flows / flows.
func derived(name string) (string, bool) {
	src, _, _ := strings.Cut(exampleFlow, "->")
	switch name {
	case "Flow", "var.flows":
		return exampleFlow, true
	case "Remote", "local.remote_topics":
		return src + ".*", true
	}
	return "", false
}

// mskGrants lists (side, kind, pattern with defaults, actions) of every MSK grant on a topic,
// group or transactional id, in template.yaml and in infra/.
func mskGrants(t *testing.T, p parsed) (tpl, tf [][4]string) {
	t.Helper()
	params := p.Template["Parameters"].(map[string]any)
	subst := func(s string, lookup func(string) (string, bool)) string {
		return regexp.MustCompile(`\$\{([A-Za-z_.]+)\}`).ReplaceAllStringFunc(s, func(m string) string {
			if v, ok := lookup(m[2 : len(m)-1]); ok {
				return v
			}
			return m
		})
	}
	for name, sts := range templatePolicies(t, p.Template) {
		if !strings.HasSuffix(name, "MskPolicy") {
			continue
		}
		side := "target"
		if strings.Contains(name, "Source") {
			side = "source"
		}
		for _, st := range sts {
			res := []any{st["Resource"]}
			if l, ok := st["Resource"].([]any); ok {
				res = l
			}
			for _, r := range res {
				m, _ := r.(map[string]any)
				sub, _ := m["Fn::Sub"].([]any)
				if len(sub) == 0 {
					continue
				}
				g := tplResource.FindStringSubmatch(sub[0].(string))
				if g == nil {
					continue
				}
				pat := subst(g[2], func(n string) (string, bool) {
					if v, ok := derived(n); ok {
						return v, true
					}
					if pv, ok := params[n].(map[string]any); ok {
						return fmt.Sprint(pv["Default"]), true
					}
					return "", false
				})
				tpl = append(tpl, [4]string{side, g[1], pat, strings.Join(strs(st["Action"]), " ")})
			}
		}
	}
	vars := blocks(p, "variable")
	for _, side := range []string{"source", "target"} {
		fns, _ := locals(p)["msk_"+side].(map[string]any)
		if side == "target" {
			fns["synced groups"] = syncedGroups(p)
		}
		for _, v := range fns {
			for _, x := range v.([]any) {
				st := x.(map[string]any)
				for _, r := range strs(unquoteAll(st["Resource"])) {
					g := infraResource.FindStringSubmatch(r)
					if g == nil {
						continue
					}
					kind := g[1]
					if kind == "txn" {
						kind = "transactional-id"
					}
					pat := subst(g[2], func(n string) (string, bool) {
						if v, ok := derived(n); ok {
							return v, true
						}
						if vv, ok := vars[strings.TrimPrefix(n, "var.")]; ok && strings.HasPrefix(n, "var.") {
							return unquote(fmt.Sprint(vv["default"])), true
						}
						return "", false
					})
					tf = append(tf, [4]string{side, kind, pat, strings.Join(strs(unquoteAll(st["Action"])), " ")})
				}
			}
		}
	}
	return tpl, tf
}

// TestMSKWildcardsNeeded: with the parameters' defaults, no MSK IAM grant reaches a topic,
// group or transactional id the flow does not need (issue 18 item 11): not a bare "*" anywhere
// but in reading the source, not mirrorless.* (every flow's groups), not every remote topic.
func TestMSKWildcardsNeeded(t *testing.T) {
	p := load(t)
	tpl, tf := mskGrants(t, p)
	if len(tpl) < 15 || len(tf) < 15 {
		t.Fatalf("found %d template and %d infra/ MSK grants: the walk is broken", len(tpl), len(tf))
	}
	for what, grants := range map[string][][4]string{"template.yaml": tpl, "infra/": tf} {
		for _, g := range grants {
			if problem := wildcardProblem(g[0], g[1], g[2], strings.Fields(g[3])); problem != "" {
				t.Errorf("%s: %s", what, problem)
			}
		}
	}
	// The grants are derived from one flow, so both refuse a target cluster without one.
	rule, _ := json.Marshal(p.Template["Rules"].(map[string]any)["TargetMskNeedsOneFlow"])
	if !strings.Contains(string(rule), `{"Fn::Not":[{"Fn::Equals":[{"Ref":"Flows"},""]}]}`) {
		t.Errorf("template.yaml has no rule TargetMskNeedsOneFlow asserting Flows is set: %s", rule)
	}
	if pre := fmt.Sprint(resources(p, "aws_iam_role_policy")["msk_target"]["lifecycle"]); !strings.Contains(pre, `var.flows != "" && !strcontains(var.flows, ",")`) {
		t.Errorf("infra/ aws_iam_role_policy.msk_target has no precondition that flows names one flow: %s", pre)
	}
	// The checker catches what it is for.
	for _, c := range []struct {
		side, kind, pattern, action string
		bad                         bool
	}{
		{"target", "topic", "*", "kafka-cluster:WriteData", true},
		{"target", "group", "*", "kafka-cluster:AlterGroup", true},
		{"source", "topic", "*", "kafka-cluster:WriteData", true},
		{"target", "group", "mirrorless.*", "kafka-cluster:AlterGroup", true},
		{"target", "topic", "*.orders", "kafka-cluster:WriteData", true},
		{"source", "topic", "*", "kafka-cluster:ReadData", false},
		{"target", "topic", "A.*", "kafka-cluster:WriteData", false},
		{"target", "transactional-id", "mirrorless.A->B.*", "kafka-cluster:AlterTransactionalId", false},
		{"target", "topic", "*.checkpoints.internal", "kafka-cluster:WriteData", false},
		{"target", "topic", "heartbeats", "kafka-cluster:WriteData", false},
	} {
		if got := wildcardProblem(c.side, c.kind, c.pattern, []string{c.action}); (got != "") != c.bad {
			t.Errorf("wildcardProblem(%s %s %q %s) = %q, want a problem: %v", c.side, c.kind, c.pattern, c.action, got, c.bad)
		}
	}
}
