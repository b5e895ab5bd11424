package kafka

import (
	"strings"
	"testing"
)

func TestOptionsMapping(t *testing.T) {
	for _, tc := range []struct {
		name     string
		role     Role
		props    map[string]string
		nOpts    int // options beyond the seed brokers
		err      string
		warnings int
	}{
		{"consumer sizes", Consumer, map[string]string{"fetch.max.bytes": "1000", "max.partition.fetch.bytes": "500", "fetch.min.bytes": "1", "fetch.max.wait.ms": "250"}, 4, "", 0},
		{"producer tuning", Producer, map[string]string{"linger.ms": "5", "batch.size": "65536", "compression.type": "zstd", "acks": "all", "enable.idempotence": "true"}, 3, "", 0},
		{"java-only keys are ignored quietly", Consumer, map[string]string{"key.deserializer": "x", "enable.auto.commit": "false", "isolation.level": "read_committed"}, 0, "", 0},
		{"unmapped keys are warned about", Admin, map[string]string{"exotic.setting": "1"}, 0, "", 1},
		{"acks=1 breaks transactions", Producer, map[string]string{"acks": "1"}, 0, "A.producer.acks", 0},
		{"no idempotence breaks exactly-once", Producer, map[string]string{"enable.idempotence": "false"}, 0, "A.producer.enable.idempotence", 0},
		{"bad compression", Producer, map[string]string{"compression.type": "brotli"}, 0, "A.producer.compression.type", 0},
		{"bad number", Consumer, map[string]string{"fetch.max.bytes": "lots"}, 0, "A.producer.fetch.max.bytes", 0},
		{"SASL without a supported mechanism", Consumer, map[string]string{"security.protocol": "SASL_SSL"}, 0, "A.producer.sasl.mechanism", 0},
		{"unknown protocol", Consumer, map[string]string{"security.protocol": "TLS"}, 0, "A.producer.security.protocol", 0},
		{"JKS trust store", Consumer, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": "/x.jks"}, 0, "A.producer.ssl.truststore.type", 0},
	} {
		opts, warns, err := Options([]string{"b:9092"}, tc.props, tc.role, Prefix("A.producer."), nil)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one naming %s", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if len(opts)-1 != tc.nOpts || len(warns) != tc.warnings {
			t.Errorf("%s: %d options, %d warnings (%v); want %d, %d", tc.name, len(opts)-1, len(warns), warns, tc.nOpts, tc.warnings)
		}
	}
}

// Every problem is reported at once.
func TestOptionsListsAllProblems(t *testing.T) {
	_, _, err := Options([]string{"b:9092"}, map[string]string{"acks": "0", "linger.ms": "-3"}, Producer, Prefix("B.producer."), nil)
	if err == nil || !strings.Contains(err.Error(), "B.producer.acks") || !strings.Contains(err.Error(), "B.producer.linger.ms") {
		t.Fatalf("error = %v", err)
	}
}
