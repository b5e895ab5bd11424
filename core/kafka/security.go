package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// securityOptions maps a client's security.protocol, ssl.* and sasl.*
// settings, written as for the Java client, to kgo options. Problems name
// the key, never a secret's value.
func securityOptions(props map[string]string, name KeyName) (opts []kgo.Opt, warnings, problems []string) {
	bad := func(k, format string, args ...any) {
		problems = append(problems, name(k)+": "+fmt.Sprintf(format, args...))
	}
	protocol := strings.ToUpper(strings.TrimSpace(props["security.protocol"]))
	if protocol == "" {
		protocol = "PLAINTEXT"
	}
	var useTLS, useSASL bool
	switch protocol {
	case "PLAINTEXT":
	case "SSL":
		useTLS = true
	case "SASL_PLAINTEXT":
		useSASL = true
	case "SASL_SSL":
		useTLS, useSASL = true, true
	default:
		bad("security.protocol", "%q is not one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL", props["security.protocol"])
	}
	for k := range props {
		switch {
		case strings.HasPrefix(k, "ssl.") && !useTLS:
			warnings = append(warnings, fmt.Sprintf("%s is ignored: security.protocol is %s", name(k), protocol))
		case strings.HasPrefix(k, "sasl.") && !useSASL:
			warnings = append(warnings, fmt.Sprintf("%s is ignored: security.protocol is %s", name(k), protocol))
		}
	}
	if useTLS {
		cfg, w, p := tlsConfig(props, name)
		warnings, problems = append(warnings, w...), append(problems, p...)
		if cfg != nil {
			opts = append(opts, kgo.DialTLSConfig(cfg))
		}
	}
	if useSASL && !useTLS {
		// PLAIN sends the password as it is, and AWS_MSK_IAM a signed
		// token good for minutes; without TLS both cross the network
		// readable. (SCRAM does not send the password, but the records
		// still travel in the clear.)
		switch mech := strings.ToUpper(strings.TrimSpace(props["sasl.mechanism"])); mech {
		case "PLAIN", "AWS_MSK_IAM":
			warnings = append(warnings, fmt.Sprintf("%s=%s runs over security.protocol=%s: the credentials cross the network unencrypted; use SASL_SSL", name("sasl.mechanism"), mech, protocol))
		}
	}
	if useSASL {
		m, p := saslMechanism(props, name)
		problems = append(problems, p...)
		if m != nil {
			opts = append(opts, kgo.SASL(m))
		}
	}
	return opts, warnings, problems
}

// tlsConfig builds the TLS settings. Certificates are always verified;
// ssl.endpoint.identification.algorithm set to empty (as with the Java
// client) skips only the host name check. Trust and key stores must be PEM.
func tlsConfig(props map[string]string, name KeyName) (*tls.Config, []string, []string) {
	var warnings, problems []string
	bad := func(k, format string, args ...any) {
		problems = append(problems, name(k)+": "+fmt.Sprintf(format, args...))
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if lo, hi, ok := tlsVersions(props, bad); ok {
		cfg.MinVersion, cfg.MaxVersion = lo, hi
	}

	var caPEM []byte
	if v := props["ssl.truststore.certificates"]; v != "" {
		caPEM = []byte(v)
	}
	if b := readPEMStore(props, "truststore", "convert it (keytool -exportcert -rfc -keystore ... > ca.pem)", bad); b != nil {
		caPEM = append(caPEM, b...)
	}
	if caPEM != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			bad("ssl.truststore", "no PEM certificate found in the trust store")
		}
		cfg.RootCAs = pool
	}

	chain, key := []byte(props["ssl.keystore.certificate.chain"]), []byte(props["ssl.keystore.key"])
	if b := readPEMStore(props, "keystore", "give the certificate chain and unencrypted private key in one PEM file", bad); b != nil {
		chain, key = b, b
	}
	if props["ssl.key.password"] != "" {
		bad("ssl.key.password", "encrypted private keys are not supported: give the key unencrypted in PEM")
	}
	if len(chain) > 0 || len(key) > 0 {
		cert, err := tls.X509KeyPair(chain, key)
		if err != nil {
			bad("ssl.keystore", "the client certificate and key do not load as PEM (%v)", errors.Unwrap(err))
		} else {
			cfg.Certificates = []tls.Certificate{cert}
		}
	}

	if alg, set := props["ssl.endpoint.identification.algorithm"]; set && strings.TrimSpace(alg) == "" {
		// Verify the chain, not the name: what the Java client does.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: cfg.RootCAs, Intermediates: inter})
			return err
		}
	}
	for k := range props {
		switch k {
		case "ssl.truststore.certificates", "ssl.truststore.location", "ssl.truststore.type",
			"ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.keystore.location", "ssl.keystore.type",
			"ssl.key.password", "ssl.endpoint.identification.algorithm",
			"ssl.truststore.password", "ssl.keystore.password", "ssl.protocol", "ssl.enabled.protocols":
		default:
			if strings.HasPrefix(k, "ssl.") {
				warnings = append(warnings, name(k)+" has no franz-go equivalent and is ignored")
			}
		}
	}
	return cfg, warnings, problems
}

// tlsVersions maps the Java client's ssl.enabled.protocols (the versions
// it may use; Kafka's default TLSv1.2,TLSv1.3) and ssl.protocol (the
// highest it asks for; default TLSv1.3, "TLS" for no bound) to the lowest
// and highest TLS version. Only TLSv1.2 and TLSv1.3 are accepted: older
// versions are insecure, and mirrorless never offers them. Anything else is
// a problem naming the key.
func tlsVersions(props map[string]string, bad func(k, format string, args ...any)) (lo, hi uint16, ok bool) {
	versions := map[string]uint16{"TLSV1.2": tls.VersionTLS12, "TLSV1.3": tls.VersionTLS13}
	known := func(k, v string) (uint16, bool) {
		u := strings.ToUpper(strings.TrimSpace(v))
		if x, ok := versions[u]; ok {
			return x, true
		}
		switch u {
		case "TLSV1", "TLSV1.1", "SSLV3", "SSLV2", "SSL", "SSLV2HELLO":
			bad(k, "%q is not supported: mirrorless uses TLSv1.2 or TLSv1.3 (older versions are insecure)", v)
		default:
			bad(k, "%q is not a TLS version: use TLSv1.2 or TLSv1.3", v)
		}
		return 0, false
	}
	lo, hi, ok = tls.VersionTLS12, tls.VersionTLS13, true
	if v, set := props["ssl.enabled.protocols"]; set && strings.TrimSpace(v) != "" {
		lo, hi = tls.VersionTLS13, tls.VersionTLS12
		for _, p := range strings.Split(v, ",") {
			if strings.TrimSpace(p) == "" {
				continue
			}
			x, good := known("ssl.enabled.protocols", p)
			if !good {
				ok = false
				continue
			}
			lo, hi = min(lo, x), max(hi, x)
		}
		if lo > hi {
			bad("ssl.enabled.protocols", "names no TLS version: use TLSv1.2, TLSv1.3 or both")
			ok = false
		}
	}
	if v, set := props["ssl.protocol"]; set && strings.TrimSpace(v) != "" && !strings.EqualFold(strings.TrimSpace(v), "TLS") {
		x, good := known("ssl.protocol", v)
		if !good {
			return 0, 0, false
		}
		hi = min(hi, x)
		if ok && lo > hi {
			bad("ssl.protocol", "%q is below every version ssl.enabled.protocols allows (%q)", v, props["ssl.enabled.protocols"])
			return 0, 0, false
		}
	}
	return lo, hi, ok
}

// readPEMStore reads ssl.<store>.location, which must be PEM
// (ssl.<store>.type=PEM); nil when the location is unset or unusable.
func readPEMStore(props map[string]string, store, howToConvert string, bad func(k, format string, args ...any)) []byte {
	loc := props["ssl."+store+".location"]
	if loc == "" {
		return nil
	}
	if t := strings.ToUpper(props["ssl."+store+".type"]); t != "PEM" {
		bad("ssl."+store+".type", "%s %s is %s; mirrorless reads PEM only: %s and set ssl.%s.type=PEM", store, loc, orDefault(t, "JKS (the Java default)"), howToConvert, store)
		return nil
	}
	b, err := os.ReadFile(loc)
	if err != nil {
		bad("ssl."+store+".location", "cannot read %s: %v", loc, errors.Unwrap(err))
		return nil
	}
	return b
}

// saslMechanism builds the SASL mechanism from sasl.mechanism and the
// credentials in sasl.jaas.config.
func saslMechanism(props map[string]string, name KeyName) (sasl.Mechanism, []string) {
	var problems []string
	bad := func(k, format string, args ...any) {
		problems = append(problems, name(k)+": "+fmt.Sprintf(format, args...))
	}
	mech := strings.ToUpper(strings.TrimSpace(props["sasl.mechanism"]))
	if mech == "" {
		mech = "GSSAPI" // the Java default
	}
	if mech == "AWS_MSK_IAM" {
		// Credentials are read for every SASL session (including
		// re-authentication), so rotated Lambda credentials are picked up.
		return aws.ManagedStreamingIAM(func(context.Context) (aws.Auth, error) {
			a := aws.Auth{AccessKey: os.Getenv("AWS_ACCESS_KEY_ID"), SecretKey: os.Getenv("AWS_SECRET_ACCESS_KEY"), SessionToken: os.Getenv("AWS_SESSION_TOKEN")}
			if a.AccessKey == "" || a.SecretKey == "" {
				return a, errors.New("AWS_MSK_IAM: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the execution role)")
			}
			return a, nil
		}), nil
	}
	if mech != "PLAIN" && mech != "SCRAM-SHA-256" && mech != "SCRAM-SHA-512" {
		bad("sasl.mechanism", "%q is not supported: use PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or AWS_MSK_IAM", mech)
		return nil, problems
	}
	user, pass, err := jaasCredentials(props["sasl.jaas.config"])
	if err != nil {
		bad("sasl.jaas.config", "%v", err)
		return nil, problems
	}
	switch mech {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	default:
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
}

// jaasCredentials reads username and password from a JAAS line such as
// `org.apache.kafka.common.security.scram.ScramLoginModule required
// username="alice" password="secret";`. Errors never contain the values.
func jaasCredentials(jaas string) (user, pass string, err error) {
	if strings.TrimSpace(jaas) == "" {
		return "", "", errors.New("missing: give the credentials as `<LoginModule> required username=\"...\" password=\"...\";`")
	}
	opts := map[string]string{}
	s := jaas
	// Skip the login module class and its control flag.
	for range 2 {
		s = strings.TrimLeft(s, " \t\r\n")
		i := strings.IndexAny(s, " \t\r\n")
		if i < 0 {
			return "", "", errors.New("not a JAAS configuration (expected `<LoginModule> required key=\"value\" ...;`)")
		}
		s = s[i:]
	}
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" || s[0] == ';' {
			break
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "", "", errors.New("malformed option (expected key=\"value\")")
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+1:]
		var val strings.Builder
		if strings.HasPrefix(s, `"`) {
			s = s[1:]
			closed := false
			for i := 0; i < len(s); i++ {
				switch c := s[i]; {
				case c == '\\' && i+1 < len(s):
					i++
					val.WriteByte(s[i])
				case c == '"':
					s = s[i+1:]
					closed = true
				default:
					val.WriteByte(c)
				}
				if closed {
					break
				}
			}
			if !closed {
				// Neither the option nor the value is named: an
				// unquoted password with a space and `="` in it makes
				// its second half look like an option.
				return "", "", errors.New("a quoted option value has no closing quote (the options are not shown)")
			}
		} else {
			end := strings.IndexAny(s, " \t\r\n;")
			if end < 0 {
				end = len(s)
			}
			val.WriteString(s[:end])
			s = s[end:]
		}
		opts[key] = val.String()
	}
	if opts["username"] == "" || opts["password"] == "" {
		return "", "", errors.New("username and password are required (the values are not shown)")
	}
	return opts["username"], opts["password"], nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
