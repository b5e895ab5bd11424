package kafka

import (
	"bytes"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
)

// secretTemplate is a properties file whose every secret setting holds
// SECRET: the SASL password and the TLS key store, key and trust store
// passwords, for both clusters and per role. The fuzzer chooses the secret,
// the SASL mechanism, the security protocol and extra lines that may
// override or break any of it.
const secretTemplate = `clusters = A, B
A.bootstrap.servers = 127.0.0.1:19092
B.bootstrap.servers = 127.0.0.1:29092
A->B.enabled = true
B->A.enabled = true
A.security.protocol = PROTOCOL
A.sasl.mechanism = MECH
A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username="mirror" password="SECRET";
B.security.protocol = PROTOCOL
B.sasl.mechanism = MECH
B.producer.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="mirror" password=SECRET;
B.admin.sasl.jaas.config = SECRET
B.ssl.key.password = SECRET
B.ssl.keystore.password = SECRET
A.ssl.truststore.password = SECRET
A.consumer.ssl.keystore.key = SECRET
`

// FuzzSecretsNotPrinted: whatever the file, nothing mirrorless prints about
// it — properties parse errors, validation problems, config warnings,
// client option problems and warnings, and what it logs while building the
// clients — contains a secret's value, as written or as parsed.
func FuzzSecretsNotPrinted(f *testing.F) {
	f.Add("s3cr3t-Passw0rd!", "SCRAM-SHA-512", "SASL_SSL", "")
	f.Add("pa\\u12ss-word-xyz", "PLAIN", "SASL_SSL", "")      // a broken \u escape inside the secret
	f.Add("hunter2-hunter2-", "GSSAPI", "SASL_PLAINTEXT", "") // unsupported mechanism
	f.Add("quote\"inside-secret", "PLAIN", "SASL_SSL", "")    // ends the JAAS value early
	f.Add("correct-horse-battery", "AWS_MSK_IAM", "SSL", "A->B.enabled = maybe\n")
	f.Add("trailing-backslash\\", "SCRAM-SHA-256", "SASL_SSL", "B.ssl.keystore.type = JKS\nB.ssl.keystore.location = /nonexistent\n")
	f.Fuzz(func(t *testing.T, secret, mech, protocol, extra string) {
		if len(secret) < 12 || strings.ContainsAny(secret, "\r\n") ||
			strings.ContainsAny(mech+protocol, "\r\n\\") {
			t.Skip("too short to tell apart from the rest of the output, or not one line")
		}
		text := strings.NewReplacer("SECRET", secret, "MECH", mech, "PROTOCOL", protocol).Replace(secretTemplate) + extra
		// Only the secret settings may contain the secret: if the rest of
		// the file does, printing it is not a leak.
		if strings.Contains(strings.NewReplacer("SECRET", "", "MECH", mech, "PROTOCOL", protocol).Replace(secretTemplate)+extra, secret) {
			t.Skip("the secret is also written outside the secret settings")
		}
		forms := []string{secret, strconv.Quote(secret)[1 : len(strconv.Quote(secret))-1]}

		var printed []string
		props, err := config.ParseProperties(strings.NewReader(text))
		if err != nil {
			printed = append(printed, err.Error())
		} else {
			for _, e := range props.Entries {
				// After unescaping, the rest of the file may spell the
				// secret too (`0\000` is `00`): printing that is no leak.
				if strings.Contains(e.Key, secret) || !isSecretKey(e.Key) && strings.Contains(e.Value, secret) {
					t.Skip("the secret is also written outside the secret settings")
				}
				if isSecretKey(e.Key) && len(e.Value) >= 12 && strings.Contains(secret, e.Value) {
					forms = append(forms, e.Value)
				}
			}
			cfg, err := config.Parse(props)
			if err != nil {
				printed = append(printed, err.Error())
				var ve *config.ValidationError
				if errors.As(err, &ve) {
					for _, p := range ve.Problems {
						printed = append(printed, p.Key, p.Message)
					}
				}
			} else {
				printed = append(printed, cfg.Warnings...)
				var logs bytes.Buffer
				logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
				for _, fl := range cfg.Flows {
					for _, c := range []struct {
						alias  string
						props  map[string]string
						role   Role
						prefix string
					}{
						{fl.Source, fl.SourceConsumer, Consumer, fl.Source + ".consumer."},
						{fl.Source, fl.SourceAdmin, Admin, fl.Source + ".admin."},
						{fl.Target, fl.TargetProducer, Producer, fl.Target + ".producer."},
						{fl.Target, fl.TargetAdmin, Admin, fl.Target + ".admin."},
					} {
						_, warns, err := Options(cfg.Clusters[c.alias].Bootstrap, c.props, c.role, c.prefix, logger)
						printed = append(printed, warns...)
						if err != nil {
							printed = append(printed, err.Error())
						}
					}
				}
				printed = append(printed, logs.String())
			}
		}
		out := strings.Join(printed, "\n")
		for _, s := range forms {
			if strings.Contains(out, s) {
				t.Fatalf("the secret %q is printed:\n%s", s, out)
			}
		}
	})
}

func isSecretKey(k string) bool {
	for _, s := range []string{"sasl.jaas.config", "password", "ssl.keystore.key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
