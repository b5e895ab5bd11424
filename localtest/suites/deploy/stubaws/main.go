// Command stubaws is a stand-in for the hashicorp/aws provider that serves only a schema: the
// resource types, data sources and arguments infra/ uses, written by hand from the provider's
// 6.x documentation. It exists so that `tofu test` can run infra/'s tests with mock_provider
// "aws" where the real provider cannot be installed (OpenTofu takes a mocked provider's schema
// from the provider binary; the registry is out of reach here). Every plan and read comes from
// the mock; this program plans, applies and reads nothing, and a method the mock does not
// cover fails loudly.
//
// It checks the module's own logic (validations, preconditions, names, counts, policies) with
// OpenTofu, not the arguments against the real provider's schema: see docs/deploy.md.
package main

import (
	"context"
	"log"

	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6/tf6server"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

var (
	str     = tftypes.String
	num     = tftypes.Number
	boolean = tftypes.Bool
	strList = tftypes.List{ElementType: tftypes.String}
	strSet  = tftypes.Set{ElementType: tftypes.String}
	strMap  = tftypes.Map{ElementType: tftypes.String}
)

// a is an argument: optional, or (computed) an attribute the provider sets.
func a(name string, typ tftypes.Type) *tfprotov6.SchemaAttribute {
	return &tfprotov6.SchemaAttribute{Name: name, Type: typ, Optional: true}
}
func req(name string, typ tftypes.Type) *tfprotov6.SchemaAttribute {
	return &tfprotov6.SchemaAttribute{Name: name, Type: typ, Required: true}
}
func computed(name string, typ tftypes.Type) *tfprotov6.SchemaAttribute {
	return &tfprotov6.SchemaAttribute{Name: name, Type: typ, Computed: true}
}
func optComputed(name string, typ tftypes.Type) *tfprotov6.SchemaAttribute {
	return &tfprotov6.SchemaAttribute{Name: name, Type: typ, Optional: true, Computed: true}
}

// block is a nested block that may appear at most once (max 1, as the provider's are).
func block(name string, attrs []*tfprotov6.SchemaAttribute, blocks ...*tfprotov6.SchemaNestedBlock) *tfprotov6.SchemaNestedBlock {
	return &tfprotov6.SchemaNestedBlock{TypeName: name, Nesting: tfprotov6.SchemaNestedBlockNestingModeList, MaxItems: 1,
		Block: &tfprotov6.SchemaBlock{Attributes: attrs, BlockTypes: blocks}}
}

// resource adds id, region (every 6.x resource has it) and, with tags, tags_all.
func resource(tags bool, attrs []*tfprotov6.SchemaAttribute, blocks ...*tfprotov6.SchemaNestedBlock) *tfprotov6.Schema {
	attrs = append(attrs, computed("id", str), optComputed("region", str))
	if tags {
		attrs = append(attrs, a("tags", strMap), computed("tags_all", strMap))
	}
	return &tfprotov6.Schema{Block: &tfprotov6.SchemaBlock{Attributes: attrs, BlockTypes: blocks}}
}

func schemas() *tfprotov6.GetProviderSchemaResponse {
	metricQuery := &tfprotov6.SchemaNestedBlock{TypeName: "metric_query", Nesting: tfprotov6.SchemaNestedBlockNestingModeSet,
		Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
			req("id", str), a("expression", str), a("label", str), a("period", num), a("return_data", boolean), a("account_id", str),
		}}}
	return &tfprotov6.GetProviderSchemaResponse{
		Provider: &tfprotov6.Schema{Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{a("region", str)}}},
		ResourceSchemas: map[string]*tfprotov6.Schema{
			"aws_cloudwatch_log_group": resource(true, []*tfprotov6.SchemaAttribute{
				optComputed("name", str), a("retention_in_days", num), computed("arn", str)}),
			"aws_lambda_function": resource(true, []*tfprotov6.SchemaAttribute{
				req("function_name", str), a("description", str), req("role", str), a("runtime", str),
				optComputed("architectures", strList), a("handler", str), a("filename", str), optComputed("source_code_hash", str),
				a("memory_size", num), a("timeout", num), a("layers", strList),
				computed("arn", str), computed("invoke_arn", str), computed("qualified_arn", str), computed("version", str)},
				block("environment", []*tfprotov6.SchemaAttribute{a("variables", strMap)}),
				block("vpc_config", []*tfprotov6.SchemaAttribute{req("subnet_ids", strSet), req("security_group_ids", strSet), computed("vpc_id", str)})),
			"aws_lambda_function_event_invoke_config": resource(false, []*tfprotov6.SchemaAttribute{
				req("function_name", str), a("maximum_retry_attempts", num), a("maximum_event_age_in_seconds", num), a("qualifier", str)},
				block("destination_config", nil,
					block("on_failure", []*tfprotov6.SchemaAttribute{req("destination", str)}),
					block("on_success", []*tfprotov6.SchemaAttribute{req("destination", str)}))),
			"aws_sqs_queue": resource(true, []*tfprotov6.SchemaAttribute{
				optComputed("name", str), a("message_retention_seconds", num), optComputed("sqs_managed_sse_enabled", boolean),
				computed("arn", str), computed("url", str)}),
			"aws_scheduler_schedule": resource(false, []*tfprotov6.SchemaAttribute{
				optComputed("name", str), a("description", str), req("schedule_expression", str), a("state", str), computed("arn", str)},
				block("flexible_time_window", []*tfprotov6.SchemaAttribute{req("mode", str), a("maximum_window_in_minutes", num)}),
				block("target", []*tfprotov6.SchemaAttribute{req("arn", str), req("role_arn", str), a("input", str)},
					block("retry_policy", []*tfprotov6.SchemaAttribute{a("maximum_retry_attempts", num), a("maximum_event_age_in_seconds", num)}),
					block("dead_letter_config", []*tfprotov6.SchemaAttribute{req("arn", str)}))),
			"aws_iam_role": resource(true, []*tfprotov6.SchemaAttribute{
				optComputed("name", str), a("name_prefix", str), req("assume_role_policy", str), a("permissions_boundary", str),
				computed("arn", str), computed("unique_id", str)}),
			"aws_iam_role_policy": resource(false, []*tfprotov6.SchemaAttribute{
				optComputed("name", str), req("role", str), req("policy", str)}),
			"aws_cloudwatch_metric_alarm": resource(true, []*tfprotov6.SchemaAttribute{
				req("alarm_name", str), a("alarm_description", str), req("comparison_operator", str), a("threshold", num),
				req("evaluation_periods", num), a("datapoints_to_alarm", num), a("treat_missing_data", str),
				a("alarm_actions", strSet), a("ok_actions", strSet), a("namespace", str), a("metric_name", str),
				a("dimensions", strMap), a("statistic", str), a("period", num), computed("arn", str)},
				metricQuery),
			"aws_cloudwatch_dashboard": resource(false, []*tfprotov6.SchemaAttribute{
				req("dashboard_name", str), req("dashboard_body", str), computed("dashboard_arn", str)}),
		},
		DataSourceSchemas: map[string]*tfprotov6.Schema{
			"aws_region": {Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
				optComputed("region", str), computed("description", str), optComputed("endpoint", str), computed("id", str),
				{Name: "name", Type: str, Optional: true, Computed: true, Deprecated: true}}}},
			"aws_caller_identity": {Block: &tfprotov6.SchemaBlock{Attributes: []*tfprotov6.SchemaAttribute{
				computed("account_id", str), computed("arn", str), computed("id", str), computed("user_id", str)}}},
		},
	}
}

// stub answers the schema and validation calls; everything else is left to the mock (the
// embedded interface is nil, so an unexpected call panics rather than pretending).
type stub struct{ tfprotov6.ProviderServer }

func (stub) GetMetadata(context.Context, *tfprotov6.GetMetadataRequest) (*tfprotov6.GetMetadataResponse, error) {
	return &tfprotov6.GetMetadataResponse{ServerCapabilities: &tfprotov6.ServerCapabilities{GetProviderSchemaOptional: false}}, nil
}
func (stub) GetProviderSchema(context.Context, *tfprotov6.GetProviderSchemaRequest) (*tfprotov6.GetProviderSchemaResponse, error) {
	return schemas(), nil
}
func (stub) GetResourceIdentitySchemas(context.Context, *tfprotov6.GetResourceIdentitySchemasRequest) (*tfprotov6.GetResourceIdentitySchemasResponse, error) {
	return &tfprotov6.GetResourceIdentitySchemasResponse{}, nil
}
func (stub) ValidateProviderConfig(_ context.Context, r *tfprotov6.ValidateProviderConfigRequest) (*tfprotov6.ValidateProviderConfigResponse, error) {
	return &tfprotov6.ValidateProviderConfigResponse{PreparedConfig: r.Config}, nil
}
func (stub) ValidateResourceConfig(context.Context, *tfprotov6.ValidateResourceConfigRequest) (*tfprotov6.ValidateResourceConfigResponse, error) {
	return &tfprotov6.ValidateResourceConfigResponse{}, nil
}
func (stub) ValidateDataResourceConfig(context.Context, *tfprotov6.ValidateDataResourceConfigRequest) (*tfprotov6.ValidateDataResourceConfigResponse, error) {
	return &tfprotov6.ValidateDataResourceConfigResponse{}, nil
}
func (stub) GetFunctions(context.Context, *tfprotov6.GetFunctionsRequest) (*tfprotov6.GetFunctionsResponse, error) {
	return &tfprotov6.GetFunctionsResponse{}, nil
}
func (stub) StopProvider(context.Context, *tfprotov6.StopProviderRequest) (*tfprotov6.StopProviderResponse, error) {
	return &tfprotov6.StopProviderResponse{}, nil
}

func main() {
	if err := tf6server.Serve("registry.opentofu.org/hashicorp/aws", func() tfprotov6.ProviderServer { return stub{} }); err != nil {
		log.Fatal(err)
	}
}
