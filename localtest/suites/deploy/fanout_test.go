package deploy_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestFanOutDeployed: both deployments give the mirror what fan-out needs and nothing more.
// MirrorMaxConcurrency (default 10) reaches MIRROR_MAX_CONCURRENCY and the schedule reaches
// MIRROR_SCHEDULE_INTERVAL; the mirror's role may invoke the mirror function itself (and its
// versions or aliases) and no other function; no other role of a function may invoke any.
func TestFanOutDeployed(t *testing.T) {
	p := load(t)

	// SAM.
	params := p.Template["Parameters"].(map[string]any)
	param, ok := params["MirrorMaxConcurrency"].(map[string]any)
	if !ok || normDefault(param["Default"]) != "10" {
		t.Errorf("template parameter MirrorMaxConcurrency: %v, want default 10", param)
	}
	fn := p.Template["Resources"].(map[string]any)["MirrorFunction"].(map[string]any)["Properties"].(map[string]any)
	env := fn["Environment"].(map[string]any)["Variables"].(map[string]any)
	for k, want := range map[string]string{"MIRROR_MAX_CONCURRENCY": `{"Ref":"MirrorMaxConcurrency"}`, "MIRROR_SCHEDULE_INTERVAL": `{"Ref":"MirrorSchedule"}`} {
		if got, _ := json.Marshal(env[k]); string(got) != want {
			t.Errorf("template MirrorFunction %s = %s, want %s", k, got, want)
		}
	}
	self := []string{
		`{"Fn::Sub":"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-mirror"}`,
		`{"Fn::Sub":"arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-mirror:*"}`,
	}
	if name, _ := fn["FunctionName"].(map[string]any)["Fn::Sub"].(string); name != "${AWS::StackName}-mirror" {
		t.Errorf("MirrorFunction's name %q is not the one its role may invoke", name)
	}
	invokers := map[string][]string{}
	for role, sts := range templatePolicies(t, p.Template) {
		for _, st := range sts {
			for _, a := range strs(st["Action"]) {
				if strings.HasPrefix(a, "lambda:") {
					invokers[role] = append(invokers[role], fmt.Sprintf("%s on %v", a, strs(st["Resource"])))
					if role == "MirrorRole" && (a != "lambda:InvokeFunction" || !slices.Equal(strs(st["Resource"]), self)) {
						t.Errorf("template MirrorRole grants %s on %v; want lambda:InvokeFunction on exactly %v", a, strs(st["Resource"]), self)
					}
				}
			}
		}
	}
	if len(invokers["MirrorRole"]) != 1 {
		t.Errorf("template MirrorRole: lambda grants %v, want one (invoke itself)", invokers["MirrorRole"])
	}
	for role, grants := range invokers {
		if role != "MirrorRole" && role != "SchedulerRole" {
			t.Errorf("template %s may call Lambda (%v): only the mirror invokes, and only itself", role, grants)
		}
	}

	// Terraform.
	if v, ok := blocks(p, "variable")["mirror_max_concurrency"]; !ok || normDefault(v["default"]) != "10" {
		t.Errorf("infra variable mirror_max_concurrency: %v, want default 10", v)
	}
	fns, _ := locals(p)["functions"].(map[string]any)
	extra := fmt.Sprint(fns["mirror"].(map[string]any)["extra_env"])
	for _, want := range []string{"MIRROR_MAX_CONCURRENCY:${tostring(var.mirror_max_concurrency)}", "MIRROR_SCHEDULE_INTERVAL:${var.mirror_schedule}"} {
		if !strings.Contains(extra, want) {
			t.Errorf("infra mirror extra_env %s has no %s", extra, want)
		}
	}
	var fanout int
	for name, body := range resources(p, "aws_iam_role_policy") {
		expr, _ := body["policy"].(string)
		if !strings.Contains(expr, "lambda:") || name == "scheduler" {
			continue // the scheduler's role invokes the three functions on their schedules
		}
		fanout++
		role, _ := body["role"].(string)
		wantRes := `Resource = [aws_lambda_function.fn["mirror"].arn, "${aws_lambda_function.fn["mirror"].arn}:*"]`
		if role != `${aws_iam_role.fn["mirror"].id}` || !strings.Contains(expr, `Action = "lambda:InvokeFunction", `+wantRes+`}`) {
			t.Errorf("infra aws_iam_role_policy.%s on %s: %s; want only the mirror's role to invoke only the mirror function", name, role, expr)
		}
		if _, each := body["for_each"]; each {
			t.Errorf("infra aws_iam_role_policy.%s is given to every function", name)
		}
	}
	if fanout != 1 {
		t.Errorf("infra: %d role policies grant lambda actions, want one (the mirror's fan-out)", fanout)
	}
}
