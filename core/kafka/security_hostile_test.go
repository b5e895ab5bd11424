package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// A broker whose certificate another CA signed is refused whatever the
// host-name setting: only an explicit empty
// ssl.endpoint.identification.algorithm turns anything off, and then only
// the host-name check, never the chain.
func TestTLSWrongCARefused(t *testing.T) {
	serverCfg, _ := certs(t, "127.0.0.1")
	_, otherCA := certs(t, "127.0.0.1") // a valid CA, not the broker's
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	for _, alg := range []*string{nil, ptr("HTTPS"), ptr("https"), ptr(""), ptr("  ")} {
		props := map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": otherCA}
		name := "unset"
		if alg != nil {
			props["ssl.endpoint.identification.algorithm"] = *alg
			name = "\"" + *alg + "\""
		}
		for _, protocol := range []string{"SSL", "SASL_SSL"} {
			props["security.protocol"] = protocol
			if protocol == "SASL_SSL" {
				props["sasl.mechanism"] = "PLAIN"
				props["sasl.jaas.config"] = `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`
			}
			err := ping(t, addr, props)
			t.Logf("%s, host name check %s: %v", protocol, name, err)
			if err == nil {
				t.Errorf("%s, host name check %s: a broker signed by another CA was accepted", protocol, name)
			} else if !strings.Contains(err.Error(), "certificate") {
				t.Errorf("%s, host name check %s: refused, but not for its certificate: %v", protocol, name, err)
			}
		}
	}
}

func ptr(s string) *string { return &s }
