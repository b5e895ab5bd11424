package kafka

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// An independent SigV4 (AWS's documented algorithm), to check the signing
// inputs of the AWS_MSK_IAM first message rather than trust them.
func hmacSHA256(key []byte, s string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(s))
	return h.Sum(nil)
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// The example in AWS's SigV4 documentation ("Examples of how to derive a
// signing key"): the derivation above is the documented one.
func TestSigningKeyKnownAnswer(t *testing.T) {
	got := hex.EncodeToString(signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam"))
	if got != "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9" {
		t.Fatalf("signing key %s", got)
	}
}

func mskFirstMessage(t *testing.T, host string) map[string]string {
	t.Helper()
	mech, problems := saslMechanism(map[string]string{"sasl.mechanism": "AWS_MSK_IAM", "sasl.jaas.config": "software.amazon.msk.auth.iam.IAMLoginModule required;"}, Prefix("B."))
	if len(problems) > 0 || mech == nil {
		t.Fatalf("mechanism: %v", problems)
	}
	_, msg, err := mech.Authenticate(context.Background(), host)
	if err != nil {
		t.Fatalf("first message: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal(msg, &m); err != nil {
		t.Fatalf("first message is not a JSON object of strings: %v: %s", err, msg)
	}
	return m
}

// The AWS_MSK_IAM first message carries what MSK's IAM authenticator
// checks: version, host, action kafka-cluster:Connect, a credential scoped
// to the region and service, the session token, and a SigV4 signature of a
// presigned GET / over exactly those parameters with the Lambda role's keys
// read from the environment at each SASL session.
func TestMSKIAMSigningInputs(t *testing.T) {
	const (
		keyID  = "AKIDEXAMPLE1234567890"
		secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
		token  = "IQoJb3JpZ2luX2VjEXAMPLETOKEN/with+chars="
	)
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SESSION_TOKEN", token)
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")

	host := "b-1.mirrorless.abc123.c2.kafka.eu-west-1.amazonaws.com"
	m := mskFirstMessage(t, host+":9098")
	ts := m["x-amz-date"]
	if len(ts) != 16 {
		t.Fatalf("x-amz-date %q", ts)
	}
	date := ts[:8]
	want := map[string]string{
		"version":              "2020_10_22",
		"host":                 host,
		"action":               "kafka-cluster:Connect",
		"x-amz-algorithm":      "AWS4-HMAC-SHA256",
		"x-amz-credential":     keyID + "/" + date + "/eu-west-1/kafka-cluster/aws4_request",
		"x-amz-signedheaders":  "host",
		"x-amz-security-token": token,
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	for k, v := range m {
		if strings.Contains(v, secret) {
			t.Errorf("the secret key appears in %s", k)
		}
	}

	// Recompute the signature from the message's own parameters.
	// The presigned URL's parameter names, as SigV4 query signing spells them.
	presigned := map[string]string{"action": "Action", "x-amz-algorithm": "X-Amz-Algorithm", "x-amz-credential": "X-Amz-Credential",
		"x-amz-date": "X-Amz-Date", "x-amz-expires": "X-Amz-Expires", "x-amz-security-token": "X-Amz-Security-Token",
		"x-amz-signedheaders": "X-Amz-SignedHeaders"}
	params := map[string]string{}
	for k, v := range m {
		switch k {
		case "version", "host", "user-agent", "x-amz-signature":
			continue
		}
		name, ok := presigned[k]
		if !ok {
			t.Fatalf("unexpected field %q in the first message", k)
		}
		params[name] = v
	}
	names := make([]string, 0, len(params))
	for n := range params {
		names = append(names, n)
	}
	sort.Strings(names)
	var q []string
	for _, n := range names {
		q = append(q, url.QueryEscape(n)+"="+strings.ReplaceAll(url.QueryEscape(params[n]), "+", "%20"))
	}
	emptyHash := sha256.Sum256(nil)
	canonical := "GET\n/\n" + strings.Join(q, "&") + "\nhost:" + host + "\n\nhost\n" + hex.EncodeToString(emptyHash[:])
	ch := sha256.Sum256([]byte(canonical))
	scope := date + "/eu-west-1/kafka-cluster/aws4_request"
	sts := "AWS4-HMAC-SHA256\n" + ts + "\n" + scope + "\n" + hex.EncodeToString(ch[:])
	sig := hex.EncodeToString(hmacSHA256(signingKey(secret, date, "eu-west-1", "kafka-cluster"), sts))
	if m["x-amz-signature"] != sig {
		t.Errorf("signature %s, recomputed %s over:\n%s", m["x-amz-signature"], sig, canonical)
	}

	// Credentials are read for each session: rotated keys are used at once.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDROTATED")
	if m := mskFirstMessage(t, host+":9098"); !strings.HasPrefix(m["x-amz-credential"], "AKIDROTATED/") {
		t.Errorf("rotated key not used: %s", m["x-amz-credential"])
	}

	// A VPC endpoint name without a region falls back to AWS_REGION, as
	// Lambda sets it.
	t.Setenv("AWS_REGION", "ap-southeast-2")
	if m := mskFirstMessage(t, "vpce-0123.kafka.internal:9098"); !strings.Contains(m["x-amz-credential"], "/ap-southeast-2/kafka-cluster/") {
		t.Errorf("region from AWS_REGION: %s", m["x-amz-credential"])
	}

	// Without keys, the session fails with what to do.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	mech, _ := saslMechanism(map[string]string{"sasl.mechanism": "AWS_MSK_IAM"}, Prefix("B."))
	if _, _, err := mech.Authenticate(context.Background(), host+":9098"); err == nil || !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("no keys: %v", err)
	}
}
