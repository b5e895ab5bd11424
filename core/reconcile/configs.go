package reconcile

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/mirrorless/mirrorless/core/config"
)

// Topic config sync follows MM2's DefaultConfigPropertyFilter and
// MirrorSourceConnector: keys matching config.properties.exclude and
// sensitive entries are never copied (Kafka reports no topic config as
// read-only); a source entry that is a default becomes a DELETE on the
// target (its own default applies), or with use.defaults.from=source a SET
// of the source's default; any other entry is SET. Changes are
// incremental, and only what differs is planned, so a topic in sync has an
// empty plan.
//
// One difference from MM2: MM2 skips entries that come from the source
// broker's static config, so when a source override is deleted on a
// cluster whose server.properties sets that key, the remote topic keeps
// the old override forever. Here, under use.defaults.from=target, such an
// entry counts as a default: the source topic has no override, so the
// remote topic keeps none either. Under use.defaults.from=source they are
// skipped, as in MM2.

// topicConfigs is one topic's described configs, by key.
type topicConfigs map[string]kadm.Config

func describeConfigs(ctx context.Context, adm *kadm.Client, topics []string) (map[string]topicConfigs, error) {
	out := map[string]topicConfigs{}
	if len(topics) == 0 {
		return out, nil
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return nil, err
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return nil, fmt.Errorf("describe configs of %s: %w", rc.Name, rc.Err)
		}
		m := topicConfigs{}
		for _, c := range rc.Configs {
			m[c.Key] = c
		}
		out[rc.Name] = m
	}
	return out, nil
}

// copyable says whether a source entry takes part in the sync at all.
func copyable(f *config.Flow, c kadm.Config) bool {
	if f.ConfigExclude.Match(c.Key) || c.Sensitive {
		return false
	}
	return !(f.UseDefaultsFromSource && c.Source == kmsg.ConfigSourceStaticBrokerConfig)
}

// isDefault: the source topic has no setting of its own for the entry: the
// built-in default, or (see above) the broker's static config.
func isDefault(c kadm.Config) bool {
	return c.Source == kmsg.ConfigSourceDefaultConfig || c.Source == kmsg.ConfigSourceStaticBrokerConfig
}

// createConfigs are the configs a new remote topic is created with: the
// source's non-default entries, plus its defaults under use.defaults.from=source.
func createConfigs(f *config.Flow, src topicConfigs) map[string]string {
	if !f.SyncTopicConfigs {
		return nil
	}
	out := map[string]string{}
	for _, c := range src {
		if !copyable(f, c) || c.Value == nil || (isDefault(c) && !f.UseDefaultsFromSource) {
			continue
		}
		out[c.Key] = *c.Value
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// configChanges diffs a source topic's configs against its remote topic's.
func configChanges(f *config.Flow, src, tgt topicConfigs) []ConfigChange {
	var out []ConfigChange
	for _, c := range src {
		if !copyable(f, c) {
			continue
		}
		t, onTarget := tgt[c.Key]
		override := onTarget && t.Source == kmsg.ConfigSourceDynamicTopicConfig
		if isDefault(c) && !f.UseDefaultsFromSource {
			if override {
				out = append(out, ConfigChange{Key: c.Key, Op: "delete", Old: t.Value})
			}
			continue
		}
		if c.Value == nil {
			continue
		}
		if override && t.Value != nil && *t.Value == *c.Value {
			continue
		}
		var old *string
		if onTarget {
			old = t.Value
		}
		v := *c.Value
		out = append(out, ConfigChange{Key: c.Key, Op: "set", Old: old, New: &v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func applyConfigs(ctx context.Context, tgt *kadm.Client, a *Action) error {
	alters := make([]kadm.AlterConfig, 0, len(a.Changes))
	for _, c := range a.Changes {
		ac := kadm.AlterConfig{Name: c.Key, Value: c.New, Op: kadm.SetConfig}
		if c.Op == "delete" {
			ac.Op, ac.Value = kadm.DeleteConfig, nil
		}
		alters = append(alters, ac)
	}
	rs, err := tgt.AlterTopicConfigs(ctx, alters, a.Topic)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Err != nil {
			if r.ErrMessage != "" {
				return fmt.Errorf("%w: %s", r.Err, r.ErrMessage)
			}
			return r.Err
		}
	}
	return nil
}
