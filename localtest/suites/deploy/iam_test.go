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
