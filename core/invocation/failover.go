package invocation

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/checkpoint"
	"github.com/mirrorless/mirrorless/core/config"
	"github.com/mirrorless/mirrorless/core/kafka"
)

// Failover prints (and with apply commits) a group's translated offsets on
// the target of the one selected flow. It connects to the target only, so
// it works while the source cluster is down.
func Failover(ctx context.Context, s config.Settings, cfg *config.Config, logger *slog.Logger, group string, apply bool) (*checkpoint.FailoverPlan, error) {
	if group == "" {
		return nil, fmt.Errorf("%w: -group is required: the consumer group to fail over", ErrInput)
	}
	flows, err := s.SelectFlows(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	if len(flows) != 1 {
		return nil, fmt.Errorf("%w: %d flows are enabled; choose the one to fail over with MIRROR_FLOWS (e.g. MIRROR_FLOWS=%s)", ErrInput, len(flows), flows[0].Name())
	}
	f := flows[0]
	opts, _, err := kafka.Options(cfg.Clusters[f.Target].Bootstrap, f.TargetAdmin, kafka.Admin, func(k string) string { return cfg.KeyName(f, f.Target, string(kafka.Admin), k) }, logger)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	cl, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(100*time.Millisecond))...)
	if err != nil {
		return nil, fmt.Errorf("%w: client for %s: %v", ErrInput, f.Target, err)
	}
	defer cl.Close()
	if err := kafka.Ping(ctx, cl, f.Target, cfg.Clusters[f.Target].Bootstrap, s.ConnectTimeout); err != nil {
		return nil, err
	}
	c := &checkpoint.Checkpointer{Flow: f, TargetAdmin: kadm.NewClient(cl), TargetOpts: opts, Logger: logger}
	return c.Failover(ctx, group, apply)
}
