package kafkatest

import (
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// Secure is the real pair's secured listeners, which scripts/kafka-pair.sh
// opens next to the PLAINTEXT ones and names in MIRROR_TEST_* variables.
type Secure struct {
	SASLSSL, SSL   map[string]string // cluster alias (A, B) -> address
	CA             string            // PEM file of the CA that signed the brokers' certificates
	User, Password string            // SCRAM credentials
}

// RealSecure returns the real pair's secured listeners, checking that they
// accept connections. Without them the test is skipped, except under
// CI=true, where it fails: the real tier must never pass by not running. A
// pair given from outside (MIRROR_TEST_EXTERNAL_PAIR=1, e.g. the
// docker-compose one) may have no secured listeners, so there it skips
// even under CI; scripts/test.sh says so.
func RealSecure(t testing.TB) Secure {
	t.Helper()
	missing := func(msg string) {
		t.Helper()
		if os.Getenv("CI") == "true" && os.Getenv("MIRROR_TEST_EXTERNAL_PAIR") != "1" {
			t.Fatalf("real Kafka pair with SASL_SSL and SSL listeners required under CI: %s", msg)
		}
		t.Skipf("real Kafka pair with SASL_SSL and SSL listeners not available (%s); start it with scripts/kafka-pair.sh start", msg)
	}
	var unset []string
	env := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			unset = append(unset, name)
		}
		return v
	}
	s := Secure{
		SASLSSL:  map[string]string{"A": env("MIRROR_TEST_A_SASL_SSL"), "B": env("MIRROR_TEST_B_SASL_SSL")},
		SSL:      map[string]string{"A": env("MIRROR_TEST_A_SSL"), "B": env("MIRROR_TEST_B_SSL")},
		CA:       env("MIRROR_TEST_CA"),
		User:     env("MIRROR_TEST_SCRAM_USER"),
		Password: env("MIRROR_TEST_SCRAM_PASSWORD"),
	}
	if len(unset) > 0 {
		missing(strings.Join(unset, ", ") + " unset")
	}
	if _, err := os.Stat(s.CA); err != nil {
		missing(fmt.Sprintf("MIRROR_TEST_CA: %v", err))
	}
	for _, addr := range []string{s.SASLSSL["A"], s.SASLSSL["B"], s.SSL["A"], s.SSL["B"]} {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			missing(fmt.Sprintf("%s does not accept connections: %v", addr, err))
		}
		c.Close()
	}
	return s
}
