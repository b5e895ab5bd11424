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
// the SASL mechanism, the security protocol, how A's sasl.jaas.config is
// laid out (JAAS) and extra lines that may override or break any of it.
const secretTemplate = `clusters = A, B
A.bootstrap.servers = 127.0.0.1:19092
B.bootstrap.servers = 127.0.0.1:29092
A->B.enabled = true
B->A.enabled = true
A.security.protocol = PROTOCOL
A.sasl.mechanism = MECH
JAAS
B.security.protocol = PROTOCOL
B.sasl.mechanism = MECH
B.producer.sasl.jaas.config = org.apache.kafka.common.security.plain.PlainLoginModule required username="mirror" password=SECRET;
B.admin.sasl.jaas.config = SECRET;
B.ssl.key.password = SECRET
B.ssl.keystore.password = SECRET
A.ssl.truststore.password = SECRET
A.consumer.ssl.keystore.key = SECRET
`

// jaasLayouts are the ways A's sasl.jaas.config is written: on one line,
// over three lines, and with the continuation backslash missing before the
// password line or before the password itself (each then is a key of its
// own).
var jaasLayouts = []string{
	`A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username="mirror" password="SECRET";`,
	"A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"mirror\" \\\n    password=\"SECRET\";",
	"A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \\\n    username=\"mirror\"\n    password=\"SECRET\";",
	"A.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required username=\"mirror\" password=\n    \"SECRET\";",
}

// FuzzSecretsNotPrinted: whatever the file, nothing mirrorless prints about
// it — properties parse errors, validation problems, config warnings,
// client option problems and warnings, and what it logs while building the
// clients — contains a secret's value, as written or as parsed, nor a
// part of it (12 bytes or more between spaces, quotes, `=` and `;`) that
// the same file with another secret does not print too.
func FuzzSecretsNotPrinted(f *testing.F) {
	f.Add("s3cr3t-Passw0rd!", "SCRAM-SHA-512", "SASL_SSL", "", uint8(0))
	f.Add("pa\\u12ss-word-xyz", "PLAIN", "SASL_SSL", "", uint8(0))      // a broken \u escape inside the secret
	f.Add("hunter2-hunter2-", "GSSAPI", "SASL_PLAINTEXT", "", uint8(1)) // unsupported mechanism
	f.Add("quote\"inside-secret", "PLAIN", "SASL_SSL", "", uint8(0))    // ends the JAAS value early
	f.Add("correct-horse-battery", "AWS_MSK_IAM", "SSL", "A->B.enabled = maybe\n", uint8(0))
	f.Add("trailing-backslash\\", "SCRAM-SHA-256", "SASL_SSL", "B.ssl.keystore.type = JKS\nB.ssl.keystore.location = /nonexistent\n", uint8(1))
	// issue 18: the password line, cut off by a missing backslash, was
	// printed as an unknown key; and an unquoted password with a space
	// and `="` had its second half named in "the value of ... has no
	// closing quote".
	f.Add("hunter2-secret-pw", "SCRAM-SHA-512", "SASL_SSL", "", uint8(2))
	f.Add("hunter2-secret-pw", "SCRAM-SHA-512", "SASL_SSL", "", uint8(3))
	f.Add("hunter2 leaked-fragment-xyz=\"rest", "PLAIN", "SASL_SSL", "", uint8(0))
	f.Fuzz(func(t *testing.T, secret, mech, protocol, extra string, layout uint8) {
		if len(secret) < 12 || strings.ContainsAny(secret, "\r\n") ||
			strings.ContainsAny(mech+protocol, "\r\n\\") {
			t.Skip("too short to tell apart from the rest of the output, or not one line")
		}
		jaas := jaasLayouts[int(layout)%len(jaasLayouts)]
		template := strings.Replace(secretTemplate, "JAAS", jaas, 1)
		text := strings.NewReplacer("SECRET", secret, "MECH", mech, "PROTOCOL", protocol).Replace(template) + extra
		// Only the secret settings may contain the secret: if the rest of
		// the file does, printing it is not a leak.
		if strings.Contains(strings.NewReplacer("SECRET", "", "MECH", mech, "PROTOCOL", protocol).Replace(template)+extra, secret) {
			t.Skip("the secret is also written outside the secret settings")
		}
		// The lines of the secret settings, and every line of A's
		// sasl.jaas.config.
		secretLines := map[int]bool{}
		first := strings.Count(secretTemplate[:strings.Index(secretTemplate, "JAAS")], "\n") + 1
		for i, l := range strings.Split(template, "\n") {
			if n := i + 1; strings.Contains(l, "SECRET") || n >= first && n <= first+strings.Count(jaas, "\n") {
				secretLines[n] = true
			}
		}
		out, forms, skip := printedAbout(text, secret, secretLines)
		if skip != "" {
			t.Skip(skip)
		}
		for _, s := range forms {
			if strings.Contains(out, s) {
				t.Fatalf("the secret %q is printed:\n%s", s, out)
			}
		}
		// Parts of the secret: a part the output has only with this
		// secret (not with the secret's letters and digits rotated) is
		// printed because of it.
		other := rotate(secret)
		otherOut, _, _ := printedAbout(strings.NewReplacer("SECRET", other, "MECH", mech, "PROTOCOL", protocol).Replace(template)+extra, other, secretLines)
		for _, part := range strings.FieldsFunc(secret, func(r rune) bool { return strings.ContainsRune(" \t\"'=;\\", r) }) {
			if len(part) >= 12 && strings.Contains(out, part) && !strings.Contains(otherOut, part) {
				t.Fatalf("a part of the secret, %q, is printed:\n%s", part, out)
			}
		}
	})
}

// printedAbout returns everything mirrorless prints about a file, the
// forms of the secret to look for in it, and a reason to skip the input
// when the file spells the secret outside the secret settings (after
// unescaping: `0\000` is `00`), where printing it is no leak. Entries
// starting on secretLines are the secret settings (a password line cut off
// from its sasl.jaas.config too: its key holds the secret).
func printedAbout(text, secret string, secretLines map[int]bool) (out string, forms []string, skip string) {
	forms = []string{secret, strconv.Quote(secret)[1 : len(strconv.Quote(secret))-1]}
	var printed []string
	props, err := config.ParseProperties(strings.NewReader(text))
	if err != nil {
		return err.Error(), forms, ""
	}
	for _, e := range props.Entries {
		onSecretLine := secretLines[e.Line]
		if !onSecretLine && (strings.Contains(e.Key, secret) || strings.Contains(e.Value, secret)) {
			return "", nil, "the secret is also written outside the secret settings"
		}
		if !onSecretLine && !isSecretKey(e.Key) {
			continue
		}
		if len(e.Value) >= 12 && strings.Contains(secret, e.Value) {
			forms = append(forms, e.Value)
		}
		if onSecretLine && len(e.Key) >= 12 && strings.Contains(secret, e.Key) {
			forms = append(forms, e.Key)
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
		return strings.Join(printed, "\n"), forms, ""
	}
	printed = append(printed, cfg.Warnings...)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, fl := range cfg.Flows {
		for _, c := range []struct {
			alias string
			props map[string]string
			role  Role
		}{
			{fl.Source, fl.SourceConsumer, Consumer},
			{fl.Source, fl.SourceAdmin, Admin},
			{fl.Target, fl.TargetProducer, Producer},
			{fl.Target, fl.TargetAdmin, Admin},
		} {
			name := func(k string) string { return cfg.KeyName(fl, c.alias, string(c.role), k) }
			_, warns, err := Options(cfg.Clusters[c.alias].Bootstrap, c.props, c.role, name, logger)
			printed = append(printed, warns...)
			if err != nil {
				printed = append(printed, err.Error())
			}
		}
	}
	printed = append(printed, logs.String())
	return strings.Join(printed, "\n"), forms, ""
}

// rotate maps letters and digits to others, keeping every other byte, so
// that the file parses the same way: a secret of the same shape. Hex digits
// stay hex digits (a \uXXXX escape stays valid or invalid) and the letters
// of the properties escapes (\t \n \r \f \u) are kept.
func rotate(s string) string {
	const lower = "ghijklmopqsvwxyz" // g-z without n, r, t, u
	return strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return '0' + (r-'0'+5)%10
		case r >= 'a' && r <= 'f':
			return 'a' + (r-'a'+3)%6
		case r >= 'A' && r <= 'F':
			return 'A' + (r-'A'+3)%6
		case r >= 'G' && r <= 'Z':
			return 'G' + (r-'G'+10)%20
		case strings.ContainsRune(lower, r):
			return rune(lower[(strings.IndexRune(lower, r)+8)%len(lower)])
		}
		return r
	}, s)
}

func isSecretKey(k string) bool {
	for _, s := range []string{"sasl.jaas.config", "password", "ssl.keystore.key"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
