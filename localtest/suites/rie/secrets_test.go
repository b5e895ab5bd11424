package rie

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// SASL/SCRAM credentials from Secrets Manager: the properties name the
// secret with a ${secretsmanager:...} placeholder, and the bootstrap reads it
// through the Parameters and Secrets Lambda Extension (played here by a
// local server speaking its protocol) at the first invocation — the
// extension does not answer during init — then copies over SASL_SSL.
func TestSecretFromTheExtension(t *testing.T) {
	pair := tools(t)
	sec := kafkatest.RealSecure(t)
	a, b, ca, user, pass := sec.SASLSSL["A"], sec.SASLSSL["B"], sec.CA, sec.User, sec.Password
	const token = "session-token-for-the-extension"
	var hits, badToken atomic.Int32
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Header.Get("X-Aws-Parameters-Secrets-Token") != token {
			badToken.Add(1)
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		if r.URL.Path != "/secretsmanager/get" || r.URL.Query().Get("secretId") != "AmazonMSK_mirrorless" {
			http.Error(w, `{"__type":"ResourceNotFoundException"}`, http.StatusBadRequest)
			return
		}
		s, _ := json.Marshal(map[string]string{"username": user, "password": pass})
		_ = json.NewEncoder(w).Encode(map[string]any{"Name": "AmazonMSK_mirrorless", "SecretString": string(s)})
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())

	topic := kafkatest.Unique(t, "extsecret")
	kafkatest.CreateTopic(t, pair.A, topic, 1, nil)
	kafkatest.ProduceSeq(t, kafkatest.Producer(t, pair.A), topic, 1, 0, 40)
	props := kafkatest.Properties(t, kafkatest.Pair{A: a, B: b},
		"A->B.topics = "+topic,
		"security.protocol = SASL_SSL",
		"sasl.mechanism = SCRAM-SHA-512",
		"ssl.truststore.type = PEM",
		"ssl.truststore.location = "+ca,
		`sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username="${secretsmanager:AmazonMSK_mirrorless:username}" password="${secretsmanager:AmazonMSK_mirrorless:password}";`)
	extEnv := []string{"AWS_SESSION_TOKEN=" + token, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT=" + port, "MIRROR_LOG_LEVEL=debug"}
	for i, fn := range []string{"reconcile", "mirror"} {
		e := start(t, fn, 60, env(props, extEnv...)...)
		if i == 0 && hits.Load() != 0 {
			t.Errorf("the extension was called during init (%d requests)", hits.Load())
		}
		r := e.invoke(t, fn+"-ext")
		if r.status != 200 || !strings.Contains(string(r.body), `"ok":true`) {
			t.Fatalf("%s with the password from the extension: HTTP %d %s\n%s", fn, r.status, r.body, tail(e.out.String(), 20))
		}
		r = e.invoke(t, fn+"-ext-warm")
		if r.status != 200 {
			t.Fatalf("%s warm: HTTP %d %s", fn, r.status, r.body)
		}
		_ = e.stop(t)
		if strings.Contains(e.out.String(), pass) || strings.Contains(string(r.body), pass) {
			t.Errorf("%s: the password appears in the output", fn)
		}
		if n := strings.Count(e.out.String(), `"msg":"clients built"`); n != 1 {
			t.Errorf("%s: clients built %d times, want once (at the first invocation)", fn, n)
		}
	}
	if badToken.Load() != 0 {
		t.Errorf("%d requests without the session token", badToken.Load())
	}
	if got := hits.Load(); got != 2 {
		t.Errorf("the extension was asked %d times, want once per execution environment (2)", got)
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), 1, 40); err != nil {
		t.Fatal(err)
	}
}
