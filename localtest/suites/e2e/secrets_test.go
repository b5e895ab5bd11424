package e2e

import (
	"os"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// secureEnv returns the pair's SASL_SSL listeners and credentials, which
// scripts/kafka-pair.sh exports. Like kafkatest.Real, it fails under CI
// (unless the pair came from outside, which may lack them).
func secureEnv(t *testing.T) (a, b, ca, user, pass string) {
	t.Helper()
	sec := kafkatest.RealSecure(t)
	return sec.SASLSSL["A"], sec.SASLSSL["B"], sec.CA, sec.User, sec.Password
}

// A password in the properties file never reaches stdout or stderr, at
// debug level, whether the run succeeds or the password is wrong.
func TestSecretsNeverLogged(t *testing.T) {
	kafkatest.Real(t)
	a, b, ca, user, pass := secureEnv(t)
	topic := kafkatest.Unique(t, "secret")
	kafkatest.CreateTopic(t, os.Getenv("MIRROR_TEST_A"), topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, os.Getenv("MIRROR_TEST_A")), topic, 1, 0, 20)
	props := func(password string) string {
		p := kafkatest.Properties(t, kafkatest.Pair{A: a, B: b},
			"A->B.topics = "+topic,
			"security.protocol = SASL_SSL",
			"sasl.mechanism = SCRAM-SHA-512",
			"ssl.truststore.type = PEM",
			"ssl.truststore.location = "+ca,
			`sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username="`+user+`" password="`+password+`";`)
		return p
	}
	check := func(what string, r run, secret string) {
		t.Helper()
		if strings.Contains(r.stdout, secret) || strings.Contains(r.stderr, secret) {
			t.Errorf("%s: the password appears in the output", what)
		}
	}
	good := env(props(pass), "MIRROR_LOG_LEVEL=debug")
	for _, fn := range []string{"reconcile", "mirror", "checkpoint"} {
		r := invoke(t, fn, good)
		if r.code != 0 {
			t.Fatalf("%s over SASL_SSL exited %d: %s", fn, r.code, r.stderr)
		}
		check(fn, r, pass)
	}
	const wrong = "not-the-password-8128"
	r := invoke(t, "mirror", env(props(wrong), "MIRROR_LOG_LEVEL=debug"))
	if r.code == 0 || !strings.Contains(r.stderr, "refused the credentials") {
		t.Errorf("wrong password: exit %d, stderr %q", r.code, lastLine(r.stderr))
	}
	check("wrong password", r, wrong)
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, os.Getenv("MIRROR_TEST_B"), "A."+topic), 1, 20); err != nil {
		t.Fatal(err)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
