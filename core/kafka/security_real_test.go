package kafka

// Tier 3: the security settings against real Apache Kafka brokers, on the
// SASL_SSL (SCRAM) and SSL listeners that scripts/kafka-pair.sh opens next
// to the PLAINTEXT one.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// securePair is the real pair's secured listeners (kafkatest.RealSecure:
// skipped without them, failed under CI) with the client settings for each.
type securePair struct{ kafkatest.Secure }

func realSecure(t *testing.T) securePair { return securePair{kafkatest.RealSecure(t)} }

func (p securePair) scramProps(mech, pass string) map[string]string {
	return map[string]string{
		"security.protocol":       "SASL_SSL",
		"sasl.mechanism":          mech,
		"sasl.jaas.config":        `org.apache.kafka.common.security.scram.ScramLoginModule required username="` + p.User + `" password="` + pass + `";`,
		"ssl.truststore.type":     "PEM",
		"ssl.truststore.location": p.CA,
	}
}

func (p securePair) sslProps() map[string]string {
	return map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": p.CA}
}

// realClient builds a client from props through Options, closed at the end.
func realClient(t *testing.T, addr string, props map[string]string) *kgo.Client {
	t.Helper()
	opts, warnings, err := Options([]string{addr}, props, Admin, Prefix("A."), nil)
	if err != nil {
		t.Fatalf("Options: %v", err)
	}
	if len(warnings) > 0 {
		t.Errorf("Options warned: %v", warnings)
	}
	cl, err := kgo.NewClient(append(opts, kgo.DialTimeout(5*time.Second), kgo.MetadataMinAge(100*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// roundTrip pings the cluster at addr, checks that the broker advertises
// this very listener, and creates, lists and deletes a topic through kadm.
func roundTrip(t *testing.T, alias, addr string, props map[string]string) {
	t.Helper()
	cl := realClient(t, addr, props)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := Ping(ctx, cl, alias, []string{addr}, 15*time.Second); err != nil {
		t.Fatalf("%s %s: %v", alias, addr, err)
	}
	adm := kadm.NewClient(cl)
	md, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatalf("%s %s: broker metadata: %v", alias, addr, err)
	}
	_, port, _ := net.SplitHostPort(addr)
	for _, b := range md.Brokers {
		if strconv.Itoa(int(b.Port)) != port {
			t.Errorf("%s %s: broker %d advertises %s:%d, not this listener", alias, addr, b.NodeID, b.Host, b.Port)
		}
	}
	topic := fmt.Sprintf("security-real-%s-%s-%d", strings.ToLower(strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())), alias, time.Now().UnixNano()%1_000_000_000)
	r, err := adm.CreateTopic(ctx, 1, 1, nil, topic)
	if err == nil {
		err = r.Err
	}
	if err != nil {
		t.Fatalf("%s %s: create topic %s: %v", alias, addr, topic, err)
	}
	defer func() {
		if _, err := adm.DeleteTopic(context.Background(), topic); err != nil {
			t.Logf("%s: delete topic %s: %v", alias, topic, err)
		}
	}()
	// A new topic reaches the broker's metadata cache shortly after the
	// controller accepted it.
	for deadline := time.Now().Add(15 * time.Second); ; {
		listed, err := adm.ListTopics(ctx, topic)
		if err != nil {
			t.Fatalf("%s %s: list topics: %v", alias, addr, err)
		}
		if d, ok := listed[topic]; ok && d.Err == nil && len(d.Partitions) == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: topic %s created but not listed: %+v", alias, addr, topic, listed)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRealSCRAMOverSASLSSL(t *testing.T) {
	p := realSecure(t)
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		t.Run(mech, func(t *testing.T) {
			for _, alias := range []string{"A", "B"} {
				roundTrip(t, alias, p.SASLSSL[alias], p.scramProps(mech, p.Password))
			}
		})
	}
}

func TestRealTLS(t *testing.T) {
	p := realSecure(t)
	for _, alias := range []string{"A", "B"} {
		roundTrip(t, alias, p.SSL[alias], p.sslProps())
	}
}

// pingOnce builds a client from props and pings once, returning how long
// the failure (or success) took.
func pingOnce(t *testing.T, addr string, props map[string]string) (time.Duration, error) {
	t.Helper()
	cl := realClient(t, addr, props)
	began := time.Now()
	err := Ping(context.Background(), cl, "A", []string{addr}, 15*time.Second)
	return time.Since(began), err
}

func TestRealSCRAMWrongPassword(t *testing.T) {
	p := realSecure(t)
	const wrong = "wrong-password-4711"
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-512"} {
		took, err := pingOnce(t, p.SASLSSL["A"], p.scramProps(mech, wrong))
		switch {
		case err == nil:
			t.Errorf("%s: a wrong password was accepted", mech)
		case took > 10*time.Second:
			t.Errorf("%s: a wrong password took %v to fail: %v", mech, took, err)
		case strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), p.Password):
			t.Errorf("%s: the error shows a password: %v", mech, err)
		case !strings.Contains(strings.ToLower(err.Error()), "authentication") || !strings.Contains(err.Error(), "refused the credentials"):
			t.Errorf("%s: the error does not say that the credentials were refused: %v", mech, err)
		default:
			t.Logf("%s: failed in %v: %v", mech, took.Round(time.Millisecond), err)
		}
	}
}

// Without ssl.truststore.* the system roots are used, which do not know the
// test CA: the handshake fails, and fast.
func TestRealWrongCA(t *testing.T) {
	p := realSecure(t)
	scram := p.scramProps("SCRAM-SHA-256", p.Password)
	delete(scram, "ssl.truststore.type")
	delete(scram, "ssl.truststore.location")
	for name, c := range map[string]struct {
		addr  string
		props map[string]string
	}{
		"SASL_SSL": {p.SASLSSL["A"], scram},
		"SSL":      {p.SSL["A"], map[string]string{"security.protocol": "SSL"}},
	} {
		took, err := pingOnce(t, c.addr, c.props)
		var unknown x509.UnknownAuthorityError
		var invalid x509.CertificateInvalidError
		switch {
		case err == nil:
			t.Errorf("%s: a broker signed by an unknown CA was accepted", name)
		case took > 10*time.Second:
			t.Errorf("%s: the unknown CA took %v to fail: %v", name, took, err)
		case !errors.As(err, &unknown) && !errors.As(err, &invalid) && !strings.Contains(err.Error(), "certificate"):
			t.Errorf("%s: not a certificate error: %v", name, err)
		default:
			t.Logf("%s: failed in %v: %v", name, took.Round(time.Millisecond), err)
		}
	}
}

// ssl.protocol and ssl.enabled.protocols on the real SSL listener (the
// brokers allow TLSv1.2 and TLSv1.3, Kafka's default): the version the
// handshake settles on follows them, and a client built from them through
// Options copies records. Before issue 18 they were ignored: TLSv1.3 was
// negotiated whatever they said.
func TestRealTLSVersions(t *testing.T) {
	p := realSecure(t)
	for _, tc := range []struct {
		props map[string]string
		want  uint16
	}{
		{map[string]string{}, tls.VersionTLS13},
		{map[string]string{"ssl.protocol": "TLSv1.2"}, tls.VersionTLS12},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.2"}, tls.VersionTLS12},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.2,TLSv1.3", "ssl.protocol": "TLSv1.3"}, tls.VersionTLS13},
	} {
		props := p.sslProps()
		for k, v := range tc.props {
			props[k] = v
		}
		cfg, _, problems := tlsConfig(props, Prefix("A."))
		if len(problems) > 0 {
			t.Fatalf("%v: %v", tc.props, problems)
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.SSL["A"], cfg)
		if err != nil {
			t.Fatalf("%v: handshake with the SSL listener: %v", tc.props, err)
		}
		got := conn.ConnectionState().Version
		conn.Close()
		if got != tc.want {
			t.Errorf("%v: negotiated %s, want %s", tc.props, tls.VersionName(got), tls.VersionName(tc.want))
		}
		roundTrip(t, "A", p.SSL["A"], props)
	}
}
