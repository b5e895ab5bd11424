package deploy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/metrics"
)

// TestDashboardsMatch: template.yaml's dashboard is infra/dashboard.json.tftpl with the stack
// name and region for the module's placeholders; every query reads a metric the functions emit
// (or the contract's ReplicationLagSeconds) for this deployment only.
func TestDashboardsMatch(t *testing.T) {
	p := load(t)
	raw, err := os.ReadFile(filepath.Join(root, "infra", "dashboard.json.tftpl"))
	if err != nil {
		t.Fatal(err)
	}
	var tf map[string]any
	if err := json.Unmarshal(raw, &tf); err != nil {
		t.Fatalf("infra/dashboard.json.tftpl is not JSON: %v", err)
	}
	var sub string
	for _, v := range p.Template["Resources"].(map[string]any) {
		r := v.(map[string]any)
		if r["Type"] == "AWS::CloudWatch::Dashboard" {
			body, _ := r["Properties"].(map[string]any)["DashboardBody"].(map[string]any)
			sub, _ = body["Fn::Sub"].(string)
			if n, _ := json.Marshal(r["Properties"].(map[string]any)["DashboardName"]); !strings.Contains(string(n), "${AWS::Region}") {
				t.Errorf("template.yaml dashboard name %s has no region (dashboard names are global to the account)", n)
			}
		}
	}
	if sub == "" {
		t.Fatal("template.yaml has no AWS::CloudWatch::Dashboard with a !Sub body")
	}
	var tpl map[string]any
	norm := strings.NewReplacer("${AWS::StackName}", "${deployment}", "${AWS::Region}", "${region}").Replace(sub)
	if err := json.Unmarshal([]byte(norm), &tpl); err != nil {
		t.Fatalf("template.yaml's DashboardBody is not JSON: %v", err)
	}
	if !reflect.DeepEqual(tpl, tf) {
		t.Errorf("template.yaml's dashboard and infra/dashboard.json.tftpl differ:\n%s\n---\n%s", norm, raw)
	}
	d := resources(p, "aws_cloudwatch_dashboard")["main"]
	if !strings.Contains(fmt.Sprint(d["dashboard_body"]), "dashboard.json.tftpl") || !strings.Contains(fmt.Sprint(d["dashboard_name"]), "local.region") {
		t.Errorf("infra/ dashboard %v: want its body from dashboard.json.tftpl and the region in its name", d)
	}

	emitted := []string{replicationLagSeconds, metrics.ReplicationLagRecords, metrics.RecordsReplicated, metrics.BytesReplicated,
		metrics.UnitErrors, metrics.PartitionsStopped, metrics.FencedUnits, metrics.InvocationDurationMs, metrics.InvocationErrors}
	query := regexp.MustCompile(`^SELECT [A-Z]+\(([A-Za-z]+)\) FROM SCHEMA\(mirrorless, Deployment, ([A-Za-z, ]+)\) WHERE Deployment = '\$\{deployment\}' GROUP BY ([A-Za-z, ]+)$`)
	sets := []string{"Flow", "Flow, Topic", "Function"} // with Deployment: the contract's sets
	var seen []string
	for _, w := range tf["widgets"].([]any) {
		props := w.(map[string]any)["properties"].(map[string]any)
		for _, m := range props["metrics"].([]any) {
			row := m.([]any)
			if len(row) == 1 {
				e := row[0].(map[string]any)["expression"].(string)
				g := query.FindStringSubmatch(e)
				if g == nil || !slices.Contains(emitted, g[1]) || !slices.Contains(sets, g[2]) || g[3] != g[2] {
					t.Errorf("dashboard query %q: want SELECT of an emitted metric FROM SCHEMA(mirrorless, Deployment, <one of %v>) for this deployment, grouped by the set", e, sets)
					continue
				}
				seen = append(seen, g[1])
				continue
			}
			if row[0] != "AWS/Lambda" || !strings.HasPrefix(fmt.Sprint(row[3]), "${deployment}-") {
				t.Errorf("dashboard metric %v: want an AWS/Lambda metric of this deployment's functions", row)
			}
			seen = append(seen, fmt.Sprint(row[1]))
		}
	}
	for _, m := range []string{metrics.ReplicationLagRecords, replicationLagSeconds, metrics.RecordsReplicated, metrics.UnitErrors, metrics.FencedUnits, "Invocations", metrics.InvocationDurationMs} {
		if !slices.Contains(seen, m) {
			t.Errorf("the dashboard does not show %s", m)
		}
	}
}

// TestDescriptions: every template parameter and output, and every infra/ variable and output,
// says what it is (sam deploy --guided shows only names and defaults, the console and
// infra/README.md show the descriptions).
func TestDescriptions(t *testing.T) {
	p := load(t)
	for _, sec := range []string{"Parameters", "Outputs"} {
		for name, v := range p.Template[sec].(map[string]any) {
			if d, _ := v.(map[string]any)["Description"].(string); len(d) < 10 {
				t.Errorf("template.yaml %s %s has no description", sec, name)
			}
		}
	}
	for _, kind := range []string{"variable", "output"} {
		n := 0
		for name, b := range blocks(p, kind) {
			n++
			if d, _ := b["description"].(string); len(unquote(d)) < 10 {
				t.Errorf("infra/ %s %q has no description", kind, name)
			}
		}
		if n == 0 {
			t.Errorf("infra/ has no %s blocks: the parse is broken", kind)
		}
	}
}

// TestInfraReadme: infra/README.md lists every input and output of the module, with the
// variable's description, and nothing else.
func TestInfraReadme(t *testing.T) {
	p := load(t)
	raw, err := os.ReadFile(filepath.Join(root, "infra", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z0-9_]+)` \\|(.*)$").FindAllStringSubmatch(string(raw), -1) {
		rows[m[1]] = m[2]
	}
	for _, kind := range []string{"variable", "output"} {
		for name, b := range blocks(p, kind) {
			row, ok := rows[name]
			if !ok {
				t.Errorf("infra/README.md has no row for the %s %q", kind, name)
				continue
			}
			delete(rows, name)
			desc := strings.NewReplacer("$${", "${", `\"`, `"`).Replace(unquote(fmt.Sprint(b["description"])))
			if !strings.Contains(row, strings.ReplaceAll(desc, "|", `\|`)) {
				t.Errorf("infra/README.md row of %q does not carry its description %q", name, desc)
			}
		}
	}
	for name := range rows {
		t.Errorf("infra/README.md has a row for %q, which infra/ does not declare", name)
	}
}

// TestModuleHygiene: what a module used from a remote source needs: bounded provider versions,
// no attribute provider 6 deprecated, names that do not collide across regions, a permissions
// boundary on every role and tags on every resource that takes them, in both deployments.
func TestModuleHygiene(t *testing.T) {
	p := load(t)
	versions := fmt.Sprint(p.Infra["infra/versions.tf"])
	if !strings.Contains(versions, `>= 6.0.0, < 7.0.0`) || !strings.Contains(versions, `< 2.0.0`) {
		t.Errorf("infra/versions.tf: want the AWS provider bounded to 6.x and Terraform/OpenTofu below 2: %s", versions)
	}
	for file, body := range p.Infra {
		if s := fmt.Sprint(body); strings.Contains(s, "aws_region.current.name") {
			t.Errorf("%s uses data.aws_region.current.name (deprecated in provider 6: use .region)", file)
		}
	}
	for name, r := range resources(p, "aws_iam_role") {
		if !strings.Contains(fmt.Sprint(r["name"]), "local.region") && r["name_prefix"] == nil {
			t.Errorf("aws_iam_role.%s name %v: IAM names are global, put the region in it", name, r["name"])
		}
		if !strings.Contains(fmt.Sprint(r["permissions_boundary"]), "var.permissions_boundary_arn") {
			t.Errorf("aws_iam_role.%s has no permissions_boundary from var.permissions_boundary_arn", name)
		}
	}
	for _, typ := range []string{"aws_iam_role", "aws_lambda_function", "aws_cloudwatch_log_group", "aws_sqs_queue", "aws_cloudwatch_metric_alarm"} {
		for name, r := range resources(p, typ) {
			if fmt.Sprint(r["tags"]) != "${local.tags}" {
				t.Errorf("%s.%s has no tags = local.tags", typ, name)
			}
		}
	}
	for name, v := range p.Template["Resources"].(map[string]any) {
		r := v.(map[string]any)
		props, _ := r["Properties"].(map[string]any)
		if r["Type"] == "AWS::IAM::Role" {
			if props["RoleName"] != nil {
				t.Errorf("template.yaml %s names its role: IAM names are global; let CloudFormation name it", name)
			}
			if b, _ := json.Marshal(props["PermissionsBoundary"]); string(b) != `{"Fn::If":["HasBoundary",{"Ref":"PermissionsBoundaryArn"},{"Ref":"AWS::NoValue"}]}` {
				t.Errorf("template.yaml %s PermissionsBoundary is %s", name, b)
			}
		}
		if r["Type"] == "AWS::IAM::ManagedPolicy" && props["ManagedPolicyName"] != nil {
			t.Errorf("template.yaml %s names its policy: IAM names are global", name)
		}
	}
	// The packages are required inputs whose validation says what to run.
	for _, f := range []string{"mirror", "reconcile", "checkpoint"} {
		v := blocks(p, "variable")[f+"_package"]
		if _, has := v["default"]; has {
			t.Errorf("variable %s_package has a default: a module from a remote source has no dist/ of its own", f)
		}
		if s := fmt.Sprint(v["validation"]); !strings.Contains(s, "fileexists(var."+f+"_package)") || !strings.Contains(s, "make build") {
			t.Errorf("variable %s_package: want a validation with fileexists that says to run make build, have %s", f, s)
		}
	}
}

// TestReproducibleBuild: `make build` twice, at different times and under different umasks,
// writes byte-identical zips, so Terraform's source_code_hash changes only with the code.
func TestReproducibleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the three functions twice")
	}
	if _, err := exec.LookPath("zip"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("zip is not on PATH (make build needs it)")
		}
		t.Skip("zip is not on PATH")
	}
	build := func(umask string) map[string]string {
		dir := t.TempDir()
		cmd := exec.Command("bash", "-c", "umask "+umask+" && make --no-print-directory build DIST="+dir+" BUNDLE=localtest/suites/deploy/testdata/mm2.properties")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make build: %v\n%s", err, out)
		}
		sums := map[string]string{}
		for _, f := range []string{"mirror", "reconcile", "checkpoint"} {
			b, err := os.ReadFile(filepath.Join(dir, f+".zip"))
			if err != nil {
				t.Fatal(err)
			}
			h := sha256.Sum256(b)
			sums[f] = hex.EncodeToString(h[:])
		}
		return sums
	}
	a := build("022")
	b := build("077")
	if !reflect.DeepEqual(a, b) {
		t.Errorf("two builds of the same tree differ:\n%v\n%v", a, b)
	}
}

// TestParameterGroups: the console's parameter groups (AWS::CloudFormation::Interface) hold
// every template parameter exactly once, so a new parameter cannot be left out of them.
func TestParameterGroups(t *testing.T) {
	p := load(t)
	meta, _ := p.Template["Metadata"].(map[string]any)
	iface, _ := meta["AWS::CloudFormation::Interface"].(map[string]any)
	groups, _ := iface["ParameterGroups"].([]any)
	seen := map[string]int{}
	for _, g := range groups {
		for _, name := range g.(map[string]any)["Parameters"].([]any) {
			seen[name.(string)]++
		}
	}
	for name := range p.Template["Parameters"].(map[string]any) {
		if seen[name] != 1 {
			t.Errorf("parameter %s is in %d parameter groups, want 1", name, seen[name])
		}
		delete(seen, name)
	}
	for name := range seen {
		t.Errorf("parameter group names %s, which is not a parameter", name)
	}
}
