// Package deploy_test checks the deployment code offline: template.yaml (SAM) and infra/
// (Terraform) lint clean, expose the same parameters with the same defaults, deploy the same
// functions, and grant IAM permissions without wildcards that need not be there.
//
// The parsing is done by scripts/lint-deploy.sh (cfn-lint's own YAML decoder for the template,
// python-hcl2 for infra/), which installs its tools into a cache on first use; under CI=true a
// tool that cannot be installed fails the tests instead of skipping them.
package deploy_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorless/mirrorless/core/metrics"
)

// root is the repository root (this package is localtest/suites/deploy).
var root = filepath.Join("..", "..", "..")

// run runs scripts/lint-deploy.sh with args; exit status 3 means its tools could not be
// installed outside CI, which skips the test.
func run(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"scripts/lint-deploy.sh"}, args...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == 3 && os.Getenv("CI") != "true" {
		t.Skipf("deploy lint tools unavailable (outside CI):\n%s", stderr.String())
	}
	if err != nil {
		t.Fatalf("scripts/lint-deploy.sh %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.Bytes()
}

type parsed struct {
	Template map[string]any            `json:"template"`
	Infra    map[string]map[string]any `json:"infra"`
}

var (
	parseOnce sync.Once
	parseOut  []byte
	parseErr  string
)

// load returns template.yaml and infra/*.tf as parsed by lint-deploy.sh (once per test binary).
func load(t *testing.T) parsed {
	t.Helper()
	parseOnce.Do(func() {
		cmd := exec.Command("bash", "scripts/lint-deploy.sh", "json")
		cmd.Dir = root
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() == 3 && os.Getenv("CI") != "true" {
			parseErr = "skip: " + stderr.String()
			return
		}
		if err != nil {
			parseErr = fmt.Sprintf("scripts/lint-deploy.sh json: %v\n%s", err, stderr.String())
			return
		}
		parseOut = out
	})
	if strings.HasPrefix(parseErr, "skip: ") {
		t.Skipf("deploy lint tools unavailable (outside CI): %s", parseErr)
	}
	if parseErr != "" {
		t.Fatal(parseErr)
	}
	var p parsed
	if err := json.Unmarshal(parseOut, &p); err != nil {
		t.Fatalf("decode lint-deploy json: %v", err)
	}
	return p
}

// TestLint runs cfn-lint on template.yaml, `tofu fmt -check` and an HCL parse on infra/.
func TestLint(t *testing.T) {
	run(t)
}

// --- helpers over the parsed forms ------------------------------------------------------------

// unquote strips the quotes python-hcl2 keeps around string literals and block labels.
func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// blocks lists the labelled blocks of a kind ("variable", "resource", "locals") in all infra/
// files of the module itself (not the examples): label -> body.
func blocks(p parsed, kind string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for file, body := range p.Infra {
		if strings.Contains(file, "examples") {
			continue
		}
		list, _ := body[kind].([]any)
		for _, item := range list {
			for label, v := range item.(map[string]any) {
				if m, ok := v.(map[string]any); ok {
					out[unquote(label)] = m
				}
			}
		}
	}
	return out
}

// resources lists infra resources of one type: name -> body. (Each resource block is its own
// {type: {name: body}} item, so one type appears in many items.)
func resources(p parsed, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for file, body := range p.Infra {
		if strings.Contains(file, "examples") {
			continue
		}
		list, _ := body["resource"].([]any)
		for _, item := range list {
			for label, v := range item.(map[string]any) {
				if unquote(label) != typ {
					continue
				}
				for name, b := range v.(map[string]any) {
					out[unquote(name)] = b.(map[string]any)
				}
			}
		}
	}
	return out
}

// locals merges every locals block of the module.
func locals(p parsed) map[string]any {
	out := map[string]any{}
	for file, body := range p.Infra {
		if strings.Contains(file, "examples") {
			continue
		}
		list, _ := body["locals"].([]any)
		for _, item := range list {
			for k, v := range item.(map[string]any) {
				out[k] = v
			}
		}
	}
	return out
}

var upper = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// snake maps a CloudFormation parameter name to its Terraform variable name.
func snake(s string) string { return strings.ToLower(upper.ReplaceAllString(s, "${1}_${2}")) }

// infraOnly are Terraform variables with no template parameter: SAM takes these from the stack
// name and the CodeUri of each function.
// The stack's tags (sam deploy --tags) are what CloudFormation copies to every resource, so
// tags is Terraform-only too.
var infraOnly = []string{"name", "mirror_package", "reconcile_package", "checkpoint_package", "tags"}

// TestParametersMatch: every template parameter has a Terraform variable of the same name in
// snake_case with the same default, and the other way round.
func TestParametersMatch(t *testing.T) {
	p := load(t)
	params := p.Template["Parameters"].(map[string]any)
	vars := blocks(p, "variable")
	if len(params) < 20 || len(vars) < 20 {
		t.Fatalf("parsed %d parameters and %d variables: the parse is broken", len(params), len(vars))
	}
	for name, v := range params {
		param := v.(map[string]any)
		tv, ok := vars[snake(name)]
		if !ok {
			t.Errorf("template parameter %s has no variable %q in infra/", name, snake(name))
			continue
		}
		got, want := normDefault(tv["default"]), normDefault(param["Default"])
		if param["Type"] == "CommaDelimitedList" && want == "" {
			want = "[]"
		}
		if got != want {
			t.Errorf("default of %s: template %q, infra %q", name, want, got)
		}
	}
	for name := range vars {
		if slices.Contains(infraOnly, name) {
			continue
		}
		found := false
		for pn := range params {
			found = found || snake(pn) == name
		}
		if !found {
			t.Errorf("infra variable %q has no parameter in template.yaml (or add it to infraOnly with a reason)", name)
		}
	}
}

// TestConstraintsMatch: a template parameter's MinValue, MaxValue and AllowedValues are checked
// by a validation block of its infra/ variable, so both deployments refuse the same values.
func TestConstraintsMatch(t *testing.T) {
	p := load(t)
	vars := blocks(p, "variable")
	checked := 0
	for name, v := range p.Template["Parameters"].(map[string]any) {
		param := v.(map[string]any)
		tv := vars[snake(name)]
		var conds []string
		vs, _ := tv["validation"].([]any)
		for _, x := range vs {
			if c, ok := x.(map[string]any)["condition"].(string); ok {
				conds = append(conds, strings.Join(strings.Fields(c), " "))
			}
		}
		cond := strings.Join(conds, " ; ")
		ref := "var." + snake(name)
		var want []string
		if mn, ok := param["MinValue"]; ok {
			want = append(want, fmt.Sprintf("%s >= %v", ref, mn))
		}
		if mx, ok := param["MaxValue"]; ok {
			want = append(want, fmt.Sprintf("%s <= %v", ref, mx))
		}
		if av, ok := param["AllowedValues"].([]any); ok {
			var items []string
			for _, a := range av {
				if s, ok := a.(string); ok {
					items = append(items, strconv.Quote(s))
				} else {
					items = append(items, fmt.Sprint(a))
				}
			}
			want = append(want, fmt.Sprintf("contains([%s], %s)", strings.Join(items, ", "), ref))
		}
		if len(want) > 0 {
			checked++
		}
		for _, w := range want {
			if !strings.Contains(cond, w) {
				t.Errorf("parameter %s: infra variable %s has no validation %q (has %q)", name, snake(name), w, cond)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d constrained parameters found: the parse is broken", checked)
	}
}

func normDefault(v any) string {
	switch x := v.(type) {
	case nil:
		return "<none>"
	case string:
		return unquote(x)
	case float64:
		return fmt.Sprint(x)
	case []any:
		b, _ := json.Marshal(x)
		return string(b)
	default:
		return fmt.Sprint(x)
	}
}

// TestFunctionsMatch: the template, infra/ and the Makefile deploy exactly the programs in
// functions/ (so a new function cannot be forgotten in one of them).
func TestFunctionsMatch(t *testing.T) {
	p := load(t)
	entries, err := os.ReadDir(filepath.Join(root, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, e := range entries {
		// A program is a directory with a main.go (functions/table and functions/internal are
		// libraries).
		if _, err := os.Stat(filepath.Join(root, "functions", e.Name(), "main.go")); e.IsDir() && err == nil {
			want = append(want, e.Name())
		}
	}
	sort.Strings(want)

	var sam []string
	for name, v := range p.Template["Resources"].(map[string]any) {
		r := v.(map[string]any)
		if r["Type"] != "AWS::Serverless::Function" {
			continue
		}
		props := r["Properties"].(map[string]any)
		// sam build runs the Makefile's build-<Name>Function rule (BuildMethod makefile) from
		// the repository root; the rule builds functions/<name>.
		fn, ok := strings.CutSuffix(name, "Function")
		if !ok {
			t.Errorf("%s: a function's logical id must be <Name>Function (the Makefile's build-%%Function rule maps it to functions/<name>)", name)
		}
		sam = append(sam, strings.ToLower(fn))
		meta, _ := r["Metadata"].(map[string]any)
		if props["CodeUri"] != "." || meta["BuildMethod"] != "makefile" {
			t.Errorf("%s: CodeUri %v, Metadata %v; want CodeUri . and BuildMethod makefile, so sam build builds from source", name, props["CodeUri"], meta)
		}
		// The time budget follows the timeout.
		env := props["Environment"].(map[string]any)["Variables"].(map[string]any)
		budget, _ := json.Marshal(env["MIRROR_TIME_BUDGET"])
		timeout, _ := json.Marshal(props["Timeout"])
		var ref struct{ Ref string }
		_ = json.Unmarshal(timeout, &ref)
		if ref.Ref == "" || string(budget) != fmt.Sprintf(`{"Fn::Sub":"${%s}s"}`, ref.Ref) {
			t.Errorf("%s: MIRROR_TIME_BUDGET %s does not follow Timeout %s", name, budget, timeout)
		}
		// The metrics' Deployment dimension is the stack name.
		if dep, _ := json.Marshal(env["MIRROR_DEPLOYMENT"]); string(dep) != `{"Ref":"AWS::StackName"}` {
			t.Errorf("%s: MIRROR_DEPLOYMENT is %s, want !Ref AWS::StackName", name, dep)
		}
	}
	sort.Strings(sam)
	if !slices.Equal(sam, want) {
		t.Errorf("template.yaml deploys %v; functions/ has %v", sam, want)
	}

	fns, _ := locals(p)["functions"].(map[string]any)
	var tf []string
	for k := range fns {
		tf = append(tf, k)
	}
	sort.Strings(tf)
	if !slices.Equal(tf, want) {
		t.Errorf("infra/ deploys %v; functions/ has %v", tf, want)
	}
	envTF := fmt.Sprint(resources(p, "aws_lambda_function")["fn"]["environment"])
	if !regexp.MustCompile(`MIRROR_DEPLOYMENT = var\.name[,}]`).MatchString(envTF) {
		t.Errorf("infra/ functions' environment %s has no MIRROR_DEPLOYMENT = var.name", envTF)
	}

	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^FUNCTIONS\s*:?=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("Makefile has no FUNCTIONS line")
	}
	made := strings.Fields(string(m[1]))
	sort.Strings(made)
	if !slices.Equal(made, want) {
		t.Errorf("make build builds %v; functions/ has %v", made, want)
	}
}

// TestAsyncLimits: ticks are never retried and never wait long, in both deployments, and every
// failure has a destination.
func TestAsyncLimits(t *testing.T) {
	p := load(t)
	g := p.Template["Globals"].(map[string]any)["Function"].(map[string]any)["EventInvokeConfig"].(map[string]any)
	if g["MaximumRetryAttempts"].(float64) > 1 || g["MaximumEventAgeInSeconds"].(float64) > 120 {
		t.Errorf("template EventInvokeConfig %v: retries must be 0 or 1 and the event age short", g)
	}
	if g["DestinationConfig"] == nil {
		t.Error("template EventInvokeConfig has no failure destination")
	}
	n := 0
	for name, v := range p.Template["Resources"].(map[string]any) {
		r := v.(map[string]any)
		if r["Type"] != "AWS::Scheduler::Schedule" {
			continue
		}
		n++
		target := r["Properties"].(map[string]any)["Target"].(map[string]any)
		rp := target["RetryPolicy"].(map[string]any)
		if rp["MaximumRetryAttempts"].(float64) > 1 || rp["MaximumEventAgeInSeconds"].(float64) > 120 {
			t.Errorf("%s RetryPolicy %v", name, rp)
		}
		if target["DeadLetterConfig"] == nil {
			t.Errorf("%s has no DeadLetterConfig", name)
		}
	}
	if n != 3 {
		t.Errorf("template has %d schedules, want 3", n)
	}
	for name, body := range resources(p, "aws_lambda_function_event_invoke_config") {
		if body["maximum_retry_attempts"].(float64) > 1 || body["maximum_event_age_in_seconds"].(float64) > 120 {
			t.Errorf("infra event invoke config %s: %v", name, body)
		}
		if body["destination_config"] == nil {
			t.Errorf("infra event invoke config %s has no destination", name)
		}
	}
	if len(resources(p, "aws_lambda_function_event_invoke_config")) == 0 || len(resources(p, "aws_scheduler_schedule")) == 0 {
		t.Error("infra/ has no event invoke config or no schedule")
	}
}

// deploymentPlaceholder stands for the deployment's name in the queries of both deployments.
const deploymentPlaceholder = "<deployment>"

// normQuery writes a query's deployment name (the stack name in template.yaml, var.name in
// infra/) as deploymentPlaceholder.
func normQuery(q string) string {
	return strings.NewReplacer("${AWS::StackName}", deploymentPlaceholder, "${var.name}", deploymentPlaceholder).Replace(q)
}

// ReplicationLagSeconds is the per-flow age of the oldest record not yet copied: part of the
// metric contract (docs/operations.md) that the deployments' alarms and dashboards read.
const replicationLagSeconds = "ReplicationLagSeconds"

// TestAlarmsUseEmittedMetrics: the alarms select metrics by the names, namespace and dimension
// sets core/metrics emits, narrowed to this deployment by the Deployment dimension, in both
// deployments; the lag alarm does not treat silence as lag; the not-reporting alarm exists only
// while the schedules are enabled.
func TestAlarmsUseEmittedMetrics(t *testing.T) {
	p := load(t)
	where := " WHERE Deployment = '" + deploymentPlaceholder + "'"
	want := map[string]string{
		"replication-lag":     fmt.Sprintf("SELECT MAX(%s) FROM SCHEMA(%s, Deployment, Flow)", metrics.ReplicationLagRecords, metrics.Namespace) + where,
		"replication-lag-age": fmt.Sprintf("SELECT MAX(%s) FROM SCHEMA(%s, Deployment, Flow)", replicationLagSeconds, metrics.Namespace) + where,
		"fencing-storm":       fmt.Sprintf("SELECT SUM(%s) FROM SCHEMA(%s, Deployment, Flow)", metrics.FencedUnits, metrics.Namespace) + where,
		"partitions-stopped":  fmt.Sprintf("SELECT MAX(%s) FROM SCHEMA(%s, Deployment, Flow)", metrics.PartitionsStopped, metrics.Namespace) + where,
	}
	type alarm struct{ query, missing, condition string }
	tpl := map[string]alarm{}
	for _, v := range p.Template["Resources"].(map[string]any) {
		r := v.(map[string]any)
		if r["Type"] != "AWS::CloudWatch::Alarm" {
			continue
		}
		props := r["Properties"].(map[string]any)
		name := strings.TrimPrefix(fmt.Sprint(props["AlarmName"].(map[string]any)["Fn::Sub"]), "${AWS::StackName}-")
		a := alarm{missing: fmt.Sprint(props["TreatMissingData"])}
		a.condition, _ = r["Condition"].(string)
		ms, _ := props["Metrics"].([]any)
		for _, m := range ms {
			e, _ := m.(map[string]any)["Expression"].(map[string]any)
			if sub, ok := e["Fn::Sub"].(string); ok {
				a.query = normQuery(sub)
			}
		}
		if props["MetricName"] == metrics.InvocationDurationMs {
			d, _ := json.Marshal(props["Dimensions"])
			a.query = fmt.Sprintf("%v %v %v %s", props["Namespace"], props["MetricName"], props["Statistic"], d)
		}
		tpl[name] = a
	}
	tf := map[string]alarm{}
	for _, body := range resources(p, "aws_cloudwatch_metric_alarm") {
		name := strings.TrimPrefix(unquote(fmt.Sprint(body["alarm_name"])), "${var.name}-")
		a := alarm{missing: unquote(fmt.Sprint(body["treat_missing_data"]))}
		if c, ok := body["count"].(string); ok {
			a.condition = c
		}
		qs, _ := body["metric_query"].([]any)
		for _, q := range qs {
			if e, ok := q.(map[string]any)["expression"].(string); ok {
				a.query = normQuery(unquote(e))
			}
		}
		if unquote(fmt.Sprint(body["metric_name"])) == metrics.InvocationDurationMs {
			a.query = fmt.Sprintf("%s %s %s %v", unquote(fmt.Sprint(body["namespace"])), metrics.InvocationDurationMs, unquote(fmt.Sprint(body["statistic"])), body["dimensions"])
		}
		tf[name] = a
	}
	for name, q := range want {
		if tpl[name].query != q {
			t.Errorf("template.yaml alarm %s queries %q, want %q", name, tpl[name].query, q)
		}
		if tf[name].query != q {
			t.Errorf("infra/ alarm %s queries %q, want %q", name, tf[name].query, q)
		}
	}
	// A disabled schedule (a cut-over) reports nothing: that is not lag.
	for _, lag := range []string{"replication-lag", "replication-lag-age"} {
		if tpl[lag].missing != "notBreaching" || tf[lag].missing != "notBreaching" {
			t.Errorf("%s treats missing data as %q (template) and %q (infra); want notBreaching", lag, tpl[lag].missing, tf[lag].missing)
		}
	}
	// Silence while enabled is what mirror-not-reporting is for: on the mirror's own invocation
	// metric for this deployment, missing data breaching, only while the schedules run.
	nr := "mirror-not-reporting"
	wantTpl := fmt.Sprintf(`%s %s SampleCount [{"Name":"Deployment","Value":{"Ref":"AWS::StackName"}},{"Name":"Function","Value":"mirror"}]`, metrics.Namespace, metrics.InvocationDurationMs)
	if a := tpl[nr]; a.query != wantTpl || a.missing != "breaching" || a.condition != "ScheduleEnabled" {
		t.Errorf("template.yaml %s: %+v; want query %q, missing data breaching, Condition ScheduleEnabled", nr, a, wantTpl)
	}
	if a := tf[nr]; a.query != fmt.Sprintf(`%s %s SampleCount map[Deployment:${var.name} Function:"mirror"]`, metrics.Namespace, metrics.InvocationDurationMs) ||
		a.missing != "breaching" || !strings.Contains(a.condition, `var.schedule_state == "ENABLED" ? 1 : 0`) {
		t.Errorf("infra/ %s: %+v; want SampleCount of Deployment = var.name, Function = mirror, missing data breaching, count only while schedule_state is ENABLED", nr, a)
	}
	conds, _ := p.Template["Conditions"].(map[string]any)
	if c, _ := json.Marshal(conds["ScheduleEnabled"]); string(c) != `{"Fn::Equals":[{"Ref":"ScheduleState"},"ENABLED"]}` {
		t.Errorf("template.yaml condition ScheduleEnabled is %s", c)
	}
	// Every custom-metric query of every alarm is narrowed to the deployment.
	for _, set := range []map[string]alarm{tpl, tf} {
		for name, a := range set {
			if strings.Contains(a.query, "SCHEMA(") && !strings.HasSuffix(a.query, where) {
				t.Errorf("alarm %s: %q does not select by the Deployment dimension", name, a.query)
			}
		}
	}
}

// rulesFunctions are the only intrinsic functions CloudFormation accepts in a template's Rules
// (its "Rule functions" reference); anything else, Fn::Join for one, is refused at deploy time,
// and cfn-lint does not catch it.
var rulesFunctions = map[string]bool{
	"Fn::And": true, "Fn::Contains": true, "Fn::EachMemberEquals": true, "Fn::EachMemberIn": true,
	"Fn::Equals": true, "Fn::Not": true, "Fn::Or": true, "Fn::RefAll": true, "Fn::ValueOf": true,
	"Fn::ValueOfAll": true, "Ref": true,
}

// ruleFunctionsUsed lists the intrinsic functions (and Ref) used anywhere in v.
func ruleFunctionsUsed(v any) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		for k, sub := range x {
			if strings.HasPrefix(k, "Fn::") || k == "Ref" || k == "Condition" {
				out = append(out, k)
			}
			out = append(out, ruleFunctionsUsed(sub)...)
		}
	case []any:
		for _, sub := range x {
			out = append(out, ruleFunctionsUsed(sub)...)
		}
	}
	return out
}

func TestTemplateRulesUseRuleFunctions(t *testing.T) {
	p := load(t)
	rules, _ := p.Template["Rules"].(map[string]any)
	if len(rules) == 0 {
		t.Fatal("template.yaml has no Rules (VPC and secrets parameters are checked there)")
	}
	for name, r := range rules {
		for _, fn := range ruleFunctionsUsed(r) {
			if !rulesFunctions[fn] {
				t.Errorf("rule %s uses %s, which CloudFormation does not allow in Rules", name, fn)
			}
		}
	}
	// The checker catches what it is for.
	if got := ruleFunctionsUsed(map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Fn::Join": []any{"", map[string]any{"Ref": "X"}}}, ""}}}}); !slices.Contains(got, "Fn::Join") {
		t.Errorf("checker missed Fn::Join: %v", got)
	}
}
