// Package secrets fills secret placeholders in MM2 property values from AWS Secrets Manager,
// through the AWS Parameters and Secrets Lambda Extension (a layer that serves secrets over
// localhost HTTP and caches them), so no AWS SDK is linked into the functions.
//
// A placeholder has Kafka's config-provider shape:
//
//	${secretsmanager:<secret-id>:<json-key>}   the <json-key> field of a JSON secret
//	${secretsmanager:<secret-id>}              the whole secret string
//
// where <secret-id> is a secret name or its full ARN (arn:aws:secretsmanager:...:secret:name).
// For MSK SASL/SCRAM, whose AmazonMSK_* secrets hold {"username": ..., "password": ...}:
//
//	B.sasl.jaas.config = org.apache.kafka.common.security.scram.ScramLoginModule required \
//	    username="${secretsmanager:AmazonMSK_mirrorless:username}" \
//	    password="${secretsmanager:AmazonMSK_mirrorless:password}";
//
// Values substituted into a sasl.jaas.config are escaped for its quoted strings. Errors name
// the property key and the secret id, never a secret's value.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mirrorless/mirrorless/core/config"
)

// Fetcher returns a secret's string value by id (name or ARN).
type Fetcher interface {
	Fetch(ctx context.Context, secretID string) (string, error)
}

const prefix = "${secretsmanager:"

// HasPlaceholders reports whether any property value holds a placeholder.
func HasPlaceholders(props *config.Properties) bool {
	for _, e := range props.Entries {
		if strings.Contains(e.Value, prefix) {
			return true
		}
	}
	return false
}

// Resolve replaces every placeholder in props' values, fetching each secret once. It reports
// every bad placeholder at once, each naming its key.
func Resolve(ctx context.Context, props *config.Properties, f Fetcher) error {
	cache := map[string]string{}
	var problems []string
	for i, e := range props.Entries {
		if !strings.Contains(e.Value, prefix) {
			continue
		}
		v, err := expand(ctx, e.Key, e.Value, f, cache)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		props.Entries[i].Value = v
	}
	if len(problems) > 0 {
		return errors.New("resolve secrets: " + strings.Join(problems, "; "))
	}
	return nil
}

func expand(ctx context.Context, key, value string, f Fetcher, cache map[string]string) (string, error) {
	jaas := strings.HasSuffix(key, "sasl.jaas.config")
	var out strings.Builder
	for {
		i := strings.Index(value, prefix)
		if i < 0 {
			out.WriteString(value)
			return out.String(), nil
		}
		out.WriteString(value[:i])
		rest := value[i+len(prefix):]
		end := strings.IndexByte(rest, '}')
		if end < 0 {
			return "", fmt.Errorf("%s: placeholder ${secretsmanager:...} has no closing }", key)
		}
		id, field, err := parseRef(rest[:end])
		if err != nil {
			return "", fmt.Errorf("%s: %w", key, err)
		}
		if f == nil {
			return "", fmt.Errorf("%s: refers to secret %q, but secrets can only be read inside Lambda with the AWS Parameters and Secrets Lambda Extension (outside Lambda, write the value in the properties file)", key, id)
		}
		raw, ok := cache[id]
		if !ok {
			raw, err = f.Fetch(ctx, id)
			if err != nil {
				return "", fmt.Errorf("%s: read secret %q: %w", key, id, err)
			}
			cache[id] = raw
		}
		v := raw
		if field != "" {
			var m map[string]any
			if err := json.Unmarshal([]byte(raw), &m); err != nil {
				return "", fmt.Errorf("%s: secret %q is not a JSON object, so it has no field %q (use ${secretsmanager:%s} for the whole string)", key, id, field, id)
			}
			fv, ok := m[field]
			if !ok {
				return "", fmt.Errorf("%s: secret %q has no field %q", key, id, field)
			}
			s, ok := fv.(string)
			if !ok {
				return "", fmt.Errorf("%s: field %q of secret %q is not a string", key, field, id)
			}
			v = s
		}
		if jaas {
			v = strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v)
		}
		out.WriteString(v)
		value = rest[end+1:]
	}
}

// parseRef splits "<secret-id>[:<json-key>]"; an ARN's own colons belong to the id.
func parseRef(ref string) (id, field string, err error) {
	if strings.HasPrefix(ref, "arn:") {
		parts := strings.SplitN(ref, ":", 8)
		if len(parts) < 7 || parts[2] != "secretsmanager" || parts[5] != "secret" || parts[6] == "" {
			return "", "", fmt.Errorf("placeholder ${secretsmanager:%s}: not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)", ref)
		}
		id = strings.Join(parts[:7], ":")
		if len(parts) == 8 {
			field = parts[7]
		}
	} else {
		id, field, _ = strings.Cut(ref, ":")
	}
	if id == "" {
		return "", "", errors.New("placeholder ${secretsmanager:} names no secret")
	}
	if strings.Contains(field, ":") {
		return "", "", fmt.Errorf("placeholder ${secretsmanager:%s}: expected <secret-id>:<json-key>", ref)
	}
	return id, field, nil
}

// Extension reads secrets from the AWS Parameters and Secrets Lambda Extension.
type Extension struct {
	// Endpoint is the extension's base URL (http://localhost:2773).
	Endpoint string
	// Token authenticates to the extension: the function's AWS_SESSION_TOKEN.
	Token  string
	Client *http.Client
}

// FromEnvironment returns the extension of this Lambda execution environment, or a nil
// Fetcher outside Lambda (so Resolve says that secrets need Lambda). The port comes from
// PARAMETERS_SECRETS_EXTENSION_HTTP_PORT (default 2773), as the extension itself reads it.
func FromEnvironment() Fetcher {
	if os.Getenv("AWS_LAMBDA_RUNTIME_API") == "" || os.Getenv("AWS_SESSION_TOKEN") == "" {
		return nil
	}
	port := os.Getenv("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")
	if port == "" {
		port = "2773"
	}
	return &Extension{
		Endpoint: "http://localhost:" + port,
		Token:    os.Getenv("AWS_SESSION_TOKEN"),
		Client:   &http.Client{Timeout: 10 * time.Second},
	}
}

// Fetch implements Fetcher. The extension may not be ready in the first moments of a cold
// start, so refused connections are retried briefly.
func (e *Extension) Fetch(ctx context.Context, secretID string) (string, error) {
	u := e.Endpoint + "/secretsmanager/get?secretId=" + url.QueryEscape(secretID)
	var lastErr error
	for attempt := range 5 {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		s, retry, err := e.get(ctx, u)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !retry {
			break
		}
	}
	return "", lastErr
}

func (e *Extension) get(ctx context.Context, u string) (value string, retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", false, err
	}
	req.Header.Set("X-Aws-Parameters-Secrets-Token", e.Token)
	client := e.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// Not running yet, or not installed: say which.
		return "", true, fmt.Errorf("the Parameters and Secrets extension at %s did not answer (is its layer attached?): %w", e.Endpoint, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", true, fmt.Errorf("read the extension's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		// The extension relays Secrets Manager's error (AccessDenied, ResourceNotFound, ...);
		// it never holds the secret value. Keep it short.
		msg := strings.Join(strings.Fields(string(body)), " ")
		if len(msg) > 300 {
			msg = msg[:300] + "..."
		}
		return "", resp.StatusCode >= 500, fmt.Errorf("the extension answered %s: %s", resp.Status, msg)
	}
	var out struct {
		SecretString *string `json:"SecretString"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return "", false, errors.New("the extension's answer is not JSON")
	}
	if out.SecretString == nil {
		return "", false, errors.New("the secret has no SecretString (binary secrets are not supported)")
	}
	return *out.SecretString, false, nil
}
