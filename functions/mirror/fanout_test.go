package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mirrorless/mirrorless/core/fanout"
)

// The invoker sends what Lambda's Invoke API expects of an asynchronous
// invocation of this function: the function's own name in the path, the
// Event invocation type, a SigV4 signature with the environment's
// credentials, and a worker payload that can never fan out again.
func TestInvokerStartsWorkers(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []fanout.Event
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/mirrorless-mirror/invocations" {
			t.Errorf("%s %s, want POST to the function's own invocations path", r.Method, r.URL.Path)
		}
		if got := r.Header.Get("X-Amz-Invocation-Type"); got != "Event" {
			t.Errorf("X-Amz-Invocation-Type = %q, want Event", got)
		}
		if got := r.URL.Query().Get("Qualifier"); got != "7" {
			t.Errorf("Qualifier = %q, want the running version 7", got)
		}
		if a := r.Header.Get("Authorization"); !strings.Contains(a, "Credential=AKIDFAKE/") || !strings.Contains(a, "/eu-west-1/lambda/aws4_request") {
			t.Errorf("Authorization = %q, want SigV4 with the environment's key for lambda in eu-west-1", a)
		}
		var e fanout.Event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("payload %s: %v", body, err)
		}
		if may, _ := fanout.MayFanOut(body); may {
			t.Errorf("payload %s would let the worker fan out", body)
		}
		mu.Lock()
		seen = append(seen, e)
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "mirrorless-mirror")
	t.Setenv("AWS_LAMBDA_FUNCTION_VERSION", "7")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)

	iv := newInvoker()
	started, failed, err := iv.start(context.Background(), "tick-1", 4, slog.New(slog.DiscardHandler))
	if started != 4 || failed != 0 || err != nil {
		t.Fatalf("started %d, failed %d, err %v; want 4, 0, nil", started, failed, err)
	}
	idx := map[int]bool{}
	for _, e := range seen {
		if !e.Worker || e.Depth != 1 || e.Parent != "tick-1" || e.Source != fanout.EventSource {
			t.Errorf("worker event %+v", e)
		}
		idx[e.Index] = true
	}
	if len(seen) != 4 || len(idx) != 4 {
		t.Errorf("%d invocations with indexes %v, want 4 distinct", len(seen), idx)
	}
}

// A Lambda API that refuses (throttled, not allowed) is counted and
// reported, not fatal: the tick copies alone.
func TestInvokerReportsRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-ErrorType", "AccessDeniedException")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"Message":"not authorized to perform: lambda:InvokeFunction"}`))
	}))
	defer srv.Close()
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "mirrorless-mirror")
	t.Setenv("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", srv.URL)
	started, failed, err := newInvoker().start(context.Background(), "tick-2", 3, slog.New(slog.DiscardHandler))
	if started != 0 || failed != 3 || err == nil || !strings.Contains(err.Error(), "lambda:InvokeFunction") {
		t.Fatalf("started %d, failed %d, err %v; want 0, 3 and the API's reason", started, failed, err)
	}
	if strings.Contains(err.Error(), "fake-secret") {
		t.Errorf("the error carries the secret key: %v", err)
	}
}

func TestNoInvokerWithoutFunctionName(t *testing.T) {
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "")
	if newInvoker() != nil {
		t.Fatal("an invoker without a function to invoke")
	}
}
