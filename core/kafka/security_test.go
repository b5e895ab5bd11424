package kafka

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestJAASCredentials(t *testing.T) {
	for _, tc := range []struct{ in, user, pass string }{
		{`org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="s3cret";`, "alice", "s3cret"},
		{`org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password="p;a ss\"word";`, "bob", `p;a ss"word`},
		{"x.LoginModule  required\n  password=\"pw\"\n  username=\"u\" ;", "u", "pw"},
	} {
		u, p, err := jaasCredentials(tc.in)
		if err != nil || u != tc.user || p != tc.pass {
			t.Errorf("%q: %q %q %v", tc.in, u, p, err)
		}
	}
	for _, in := range []string{"", "justonetoken", `m required username="alice"`, `m required username="alice" password="unclosed`} {
		_, _, err := jaasCredentials(in)
		if err == nil {
			t.Errorf("%q accepted", in)
		} else if strings.Contains(err.Error(), "alice") || strings.Contains(err.Error(), "unclosed") {
			t.Errorf("%q: the error shows a value: %v", in, err)
		}
	}
}

// ping builds a client from props and pings the cluster.
func ping(t *testing.T, addr string, props map[string]string) error {
	t.Helper()
	opts, _, err := Options([]string{addr}, props, Admin, Prefix("A."), nil)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.DialTimeout(3*time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	return Ping(context.Background(), cl, "A", []string{addr}, 5*time.Second)
}

func TestSASL(t *testing.T) {
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(mech, "alice", "s3cret"))
		if err != nil {
			t.Fatal(err)
		}
		addr := c.ListenAddrs()[0]
		jaas := func(pass string) string {
			return `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="` + pass + `";`
		}
		props := map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mech, "sasl.jaas.config": jaas("s3cret")}
		if err := ping(t, addr, props); err != nil {
			t.Errorf("%s: %v", mech, err)
		}
		// kfake closes the connection on a wrong password (Kafka answers
		// SASL_AUTHENTICATION_FAILED; the real-pair test checks the wording).
		props["sasl.jaas.config"] = jaas("wrong-password-xyz")
		began := time.Now()
		err = ping(t, addr, props)
		if err == nil {
			t.Errorf("%s: a wrong password was accepted", mech)
		} else if strings.Contains(err.Error(), "wrong-password-xyz") {
			t.Errorf("%s: the error shows the password: %v", mech, err)
		} else if time.Since(began) > 10*time.Second {
			t.Errorf("%s: a wrong password took %v to fail", mech, time.Since(began))
		}
		c.Close()
	}
}

// certs makes a CA and a server certificate for 127.0.0.1 (or for
// another name, to test host name checks), written as PEM files.
func certs(t *testing.T, serverName string) (serverCfg *tls.Config, caFile string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := key(), key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: serverName}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	if ip := net.ParseIP(serverName); ip != nil {
		srvTmpl.IPAddresses = []net.IP{ip}
	} else {
		srvTmpl.DNSNames = []string{serverName}
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}}}, caFile
}

func TestTLS(t *testing.T) {
	serverCfg, caFile := certs(t, "127.0.0.1")
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(serverCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	addr := c.ListenAddrs()[0]
	withCA := map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": caFile}
	if err := ping(t, addr, withCA); err != nil {
		t.Errorf("custom CA: %v", err)
	}
	// Certificates are verified: without the CA the broker is refused.
	if err := ping(t, addr, map[string]string{"security.protocol": "SSL"}); err == nil || !strings.Contains(err.Error(), "failed the TLS certificate check") {
		t.Errorf("a broker signed by an unknown CA: %v", err)
	}

	// A certificate for another name: refused, unless host name checks are
	// turned off (the chain is still verified).
	otherCfg, otherCA := certs(t, "kafka.example.com")
	o, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.TLS(otherCfg))
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	props := map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "PEM", "ssl.truststore.location": otherCA}
	if err := ping(t, o.ListenAddrs()[0], props); err == nil {
		t.Error("a certificate for another host name was accepted")
	}
	props["ssl.endpoint.identification.algorithm"] = ""
	if err := ping(t, o.ListenAddrs()[0], props); err != nil {
		t.Errorf("host name check off: %v", err)
	}
	props["ssl.truststore.location"] = caFile // the wrong CA: still refused
	if err := ping(t, o.ListenAddrs()[0], props); err == nil {
		t.Error("host name check off accepted an unverified chain")
	}
}

// ssl.protocol and ssl.enabled.protocols were ignored (issue 18); they now
// bound the TLS versions as the Java client does, and what is not TLSv1.2
// or TLSv1.3 is a problem naming the key.
func TestTLSVersions(t *testing.T) {
	for _, tc := range []struct {
		props   map[string]string
		lo, hi  uint16
		problem string
	}{
		{map[string]string{}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{map[string]string{"ssl.protocol": "TLSv1.2"}, tls.VersionTLS12, tls.VersionTLS12, ""},
		{map[string]string{"ssl.protocol": "TLSv1.3"}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{map[string]string{"ssl.protocol": "TLS"}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.3"}, tls.VersionTLS13, tls.VersionTLS13, ""},
		{map[string]string{"ssl.enabled.protocols": " TLSv1.2 , TLSv1.3 "}, tls.VersionTLS12, tls.VersionTLS13, ""},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.2", "ssl.protocol": "TLSv1.3"}, tls.VersionTLS12, tls.VersionTLS12, ""},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.3", "ssl.protocol": "TLSv1.2"}, 0, 0, `A.ssl.protocol: "TLSv1.2" is below every version`},
		{map[string]string{"ssl.protocol": "TLSv1.1"}, 0, 0, `A.ssl.protocol: "TLSv1.1" is not supported`},
		{map[string]string{"ssl.protocol": "tls1.3"}, 0, 0, `A.ssl.protocol: "tls1.3" is not a TLS version`},
		{map[string]string{"ssl.enabled.protocols": "TLSv1.2,SSLv3"}, 0, 0, `A.ssl.enabled.protocols: "SSLv3" is not supported`},
		{map[string]string{"ssl.enabled.protocols": ","}, 0, 0, "A.ssl.enabled.protocols: names no TLS version"},
	} {
		cfg, _, problems := tlsConfig(tc.props, Prefix("A."))
		got := strings.Join(problems, "; ")
		if tc.problem != "" {
			if !strings.Contains(got, tc.problem) {
				t.Errorf("%v: problems %q, want %q", tc.props, got, tc.problem)
			}
			continue
		}
		if got != "" || cfg.MinVersion != tc.lo || cfg.MaxVersion != tc.hi {
			t.Errorf("%v: versions %x..%x (problems %q), want %x..%x", tc.props, cfg.MinVersion, cfg.MaxVersion, got, tc.lo, tc.hi)
		}
	}
}

// PLAIN and AWS_MSK_IAM without TLS send credentials readable on the
// network: a warning says so (issue 18). SCRAM and SASL_SSL get none.
func TestSASLWithoutTLSWarns(t *testing.T) {
	for _, tc := range []struct {
		protocol, mech string
		warn           bool
	}{
		{"SASL_PLAINTEXT", "PLAIN", true},
		{"SASL_PLAINTEXT", "AWS_MSK_IAM", true},
		{"SASL_PLAINTEXT", "SCRAM-SHA-512", false},
		{"SASL_SSL", "PLAIN", false},
	} {
		props := map[string]string{"security.protocol": tc.protocol, "sasl.mechanism": tc.mech,
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";`}
		_, warnings, _ := securityOptions(props, Prefix("B."))
		got := strings.Join(warnings, "; ")
		want := "B.sasl.mechanism=" + tc.mech + " runs over security.protocol=SASL_PLAINTEXT: the credentials cross the network unencrypted"
		if strings.Contains(got, want) != tc.warn {
			t.Errorf("%s over %s: warnings %q", tc.mech, tc.protocol, got)
		}
	}
}
