package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary text through the properties parser and the MM2
// model. Whatever the text, it must not panic; a file that does not parse
// names its line; a model that does not validate is a ValidationError
// whose every problem names the key at fault, one the file sets (or, for
// a missing key, the key to add); and a model that validates is usable.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/connect-mirror-maker.properties"); err == nil {
		f.Add(string(b))
	}
	for _, s := range []string{
		"",
		"clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n",
		"clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\nB->A.enabled = true\n" +
			"replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy\n",
		"clusters=A,B\nA->B.enabled=yes\nA->B.topics=[\nA.bootstrap.servers=:\nconsumer.auto.offset.reset=none\n",
		"clusters = A,A,B->C\nA->.x=1\n->B.enabled=true\nA->B=1\n",
		"key\\\n  continued = v\\u0041\\\\\n!comment\n#comment\n  \tk:v\nk v\n",
		"bad = \\u12\n",
		"\\u00zz = v\n",
		"clusters = A, B\nA->B.enabled = true\nA->B.replication.factor = 0\nA->B.offset.lag.max = -1\nA->B.use.defaults.from = both\n" +
			"A->B.replication.policy.separator =\nA->B.config.properties.exclude = (\nA->B.groups = [\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		props, err := ParseProperties(strings.NewReader(text))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Fatalf("parse error %q does not name the line", err)
			}
			return
		}
		cfg, err := Parse(props)
		if err != nil {
			ve, ok := errors.AsType[*ValidationError](err)
			if !ok || len(ve.Problems) == 0 {
				t.Fatalf("Parse error %T %q is not a ValidationError with problems", err, err)
			}
			for _, p := range ve.Problems {
				checkProblemKey(t, props, p)
			}
			return
		}
		if cfg == nil || len(cfg.Flows) == 0 {
			t.Fatalf("Parse accepted a configuration without flows: %+v", cfg)
		}
		for _, fl := range cfg.Flows {
			src, tgt := cfg.Clusters[fl.Source], cfg.Clusters[fl.Target]
			if src == nil || tgt == nil || len(src.Bootstrap) == 0 || len(tgt.Bootstrap) == 0 {
				t.Fatalf("flow %s accepted without both clusters' bootstrap servers", fl.Name())
			}
			if fl.Rules.Policy == nil || fl.SourceConsumer == nil || fl.TargetProducer == nil {
				t.Fatalf("flow %s is incomplete: %+v", fl.Name(), fl)
			}
			// The model answers the questions the functions ask it.
			_ = fl.Rules.ShouldReplicate("orders")
			_ = fl.Rules.RemoteTopic("orders")
			_ = fl.OffsetSyncsTopic()
			_ = fl.Groups.Match("g")
		}
	})
}

// checkProblemKey: a problem names a key of the file, or the key whose
// absence it reports. Only "no flow is enabled" is about the file as a whole.
func checkProblemKey(t *testing.T, props *Properties, p Problem) {
	t.Helper()
	if p.Key == "" {
		if !strings.HasPrefix(p.Message, "no flow is enabled") {
			t.Fatalf("problem %q names no key", p.Message)
		}
		return
	}
	if _, ok := props.Get(p.Key); ok {
		return
	}
	if strings.HasPrefix(p.Message, "missing") {
		return
	}
	t.Fatalf("problem %q names key %q, which the file does not set", p.Message, p.Key)
}
