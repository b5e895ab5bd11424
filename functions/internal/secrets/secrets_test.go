package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mirrorless/mirrorless/core/config"
)

type mapFetcher struct {
	secrets map[string]string
	calls   map[string]int
}

func (m *mapFetcher) Fetch(_ context.Context, id string) (string, error) {
	m.calls[id]++
	v, ok := m.secrets[id]
	if !ok {
		return "", errors.New("ResourceNotFoundException")
	}
	return v, nil
}

func parse(t testing.TB, text string) *config.Properties {
	t.Helper()
	p, err := config.ParseProperties(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:AmazonMSK_mm2-AbCdEf"

func TestResolve(t *testing.T) {
	t.Parallel()
	f := &mapFetcher{secrets: map[string]string{
		"AmazonMSK_mm2": `{"username":"mirror","password":"pa\"ss\\word"}`,
		arn:             `{"username":"arn-user","password":"x"}`,
		"plain":         "just-a-string",
	}, calls: map[string]int{}}
	p := parse(t, `
B.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
    username="${secretsmanager:AmazonMSK_mm2:username}" password="${secretsmanager:AmazonMSK_mm2:password}";
A.sasl.jaas.config = x required username="${secretsmanager:`+arn+`:username}" password="p";
A.ssl.keystore.key = ${secretsmanager:plain}
A.bootstrap.servers = a:9092
`)
	if !HasPlaceholders(p) {
		t.Fatal("HasPlaceholders = false")
	}
	if err := Resolve(context.Background(), p, f); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ key, want string }{
		{"B.sasl.jaas.config", `org.apache.kafka.common.security.scram.ScramLoginModule required username="mirror" password="pa\"ss\\word";`},
		{"A.sasl.jaas.config", `x required username="arn-user" password="p";`},
		{"A.ssl.keystore.key", "just-a-string"}, // not a JAAS value: no escaping
		{"A.bootstrap.servers", "a:9092"},
	} {
		got, _ := p.Get(c.key)
		if got != c.want {
			t.Errorf("%s = %q, want %q", c.key, got, c.want)
		}
	}
	if f.calls["AmazonMSK_mm2"] != 1 {
		t.Errorf("AmazonMSK_mm2 fetched %d times, want once", f.calls["AmazonMSK_mm2"])
	}
	if HasPlaceholders(p) {
		t.Error("placeholders left after Resolve")
	}
}

func TestResolveErrors(t *testing.T) {
	t.Parallel()
	f := &mapFetcher{secrets: map[string]string{
		"s":    `{"username":"u","password":"hunter2","n":5}`,
		"text": "hunter2",
	}, calls: map[string]int{}}
	for _, c := range []struct {
		name, props, want string
		fetcher           Fetcher
	}{
		{"missing field", "A.x = ${secretsmanager:s:pass}", `A.x: secret "s" has no field "pass"`, f},
		{"not a string", "A.x = ${secretsmanager:s:n}", `field "n" of secret "s" is not a string`, f},
		{"not JSON", "A.x = ${secretsmanager:text:password}", `secret "text" is not a JSON object`, f},
		{"unknown secret", "A.x = ${secretsmanager:nope:password}", `A.x: read secret "nope": ResourceNotFoundException`, f},
		{"unclosed", "A.x = ${secretsmanager:s:password", "A.x: placeholder ${secretsmanager:...} has no closing }", f},
		{"bad arn", "A.x = ${secretsmanager:arn:aws:s3:::bucket}", "not a Secrets Manager secret ARN", f},
		{"no name", "A.x = ${secretsmanager:}", "names no secret", f},
		{"outside lambda", "A.x = ${secretsmanager:s:password}", `A.x: refers to secret "s", but secrets can only be read inside Lambda`, nil},
		{"every problem", "A.x = ${secretsmanager:s:pass}\nB.y = ${secretsmanager:nope:a}", `A.x: secret "s" has no field "pass"; B.y: read secret "nope"`, f},
	} {
		err := Resolve(context.Background(), parse(t, c.props), c.fetcher)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error shows a secret value: %v", c.name, err)
		}
	}
}

func TestParseRef(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ ref, id, field string }{
		{"name", "name", ""},
		{"name:password", "name", "password"},
		{"path/to/name:user", "path/to/name", "user"},
		{arn, arn, ""},
		{arn + ":password", arn, "password"},
	} {
		id, field, err := parseRef(c.ref)
		if err != nil || id != c.id || field != c.field {
			t.Errorf("parseRef(%q) = %q, %q, %v; want %q, %q", c.ref, id, field, err, c.id, c.field)
		}
	}
}

// TestExtension drives Fetch against a server speaking the extension's protocol.
func TestExtension(t *testing.T) {
	t.Parallel()
	var hits, flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/secretsmanager/get" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("X-Aws-Parameters-Secrets-Token") != "session-token" {
			http.Error(w, "forbidden: missing token", http.StatusForbidden)
			return
		}
		id := r.URL.Query().Get("secretId")
		switch id {
		case arn:
			_ = json.NewEncoder(w).Encode(map[string]any{"ARN": arn, "Name": "AmazonMSK_mm2", "SecretString": `{"password":"pw"}`, "VersionId": "v1"})
		case "flaky":
			if flaky.Add(1) == 1 { // first try: the extension is still starting
				http.Error(w, "not ready", http.StatusServiceUnavailable)
				return
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"SecretString": "ok"})
		case "binary":
			_ = json.NewEncoder(w).Encode(map[string]any{"SecretBinary": "AAEC"})
		default:
			http.Error(w, `{"__type":"AccessDeniedException","message":"not authorized to perform secretsmanager:GetSecretValue"}`, http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	ext := &Extension{Endpoint: srv.URL, Token: "session-token", Client: srv.Client()}
	ctx := context.Background()

	if got, err := ext.Fetch(ctx, arn); err != nil || got != `{"password":"pw"}` {
		t.Errorf("Fetch(arn) = %q, %v", got, err)
	}
	if got, err := ext.Fetch(ctx, "flaky"); err != nil || got != "ok" || flaky.Load() != 2 {
		t.Errorf("Fetch(flaky) = %q, %v after %d tries; want the second try to succeed", got, err, flaky.Load())
	}
	if _, err := ext.Fetch(ctx, "binary"); err == nil || !strings.Contains(err.Error(), "binary secrets are not supported") {
		t.Errorf("Fetch(binary) err = %v", err)
	}
	before := hits.Load()
	if _, err := ext.Fetch(ctx, "denied"); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("Fetch(denied) err = %v", err)
	}
	if n := hits.Load() - before; n != 1 {
		t.Errorf("a 4xx answer was tried %d times, want once", n)
	}
	bad := &Extension{Endpoint: srv.URL, Token: "wrong", Client: srv.Client()}
	if _, err := bad.Fetch(ctx, arn); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("wrong token: err = %v", err)
	}

	// End to end: properties resolved through the extension.
	p := parse(t, `B.sasl.jaas.config = m required username="u" password="${secretsmanager:`+arn+`:password}";`)
	if err := Resolve(ctx, p, ext); err != nil {
		t.Fatal(err)
	}
	if got, _ := p.Get("B.sasl.jaas.config"); got != `m required username="u" password="pw";` {
		t.Errorf("resolved to %q", got)
	}
}

func TestExtensionNotRunning(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	ext := &Extension{Endpoint: url, Token: "t"}
	_, err := ext.Fetch(context.Background(), "s")
	if err == nil || !strings.Contains(err.Error(), "is its layer attached?") {
		t.Errorf("err = %v", err)
	}
}

func TestFromEnvironment(t *testing.T) {
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "")
	t.Setenv("AWS_SESSION_TOKEN", "tok")
	if FromEnvironment() != nil {
		t.Error("outside Lambda: want nil")
	}
	// Resolve with it outside Lambda explains instead of panicking.
	err := Resolve(context.Background(), parse(t, "A.x = ${secretsmanager:s:p}"), FromEnvironment())
	if err == nil || !strings.Contains(err.Error(), "only be read inside Lambda") {
		t.Errorf("Resolve outside Lambda: %v", err)
	}
	t.Setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")
	t.Setenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2999")
	e, ok := FromEnvironment().(*Extension)
	if !ok || e.Endpoint != "http://localhost:2999" || e.Token != "tok" {
		t.Errorf("FromEnvironment() = %+v", e)
	}
}
