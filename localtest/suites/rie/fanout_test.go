package rie

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mirrorless/mirrorless/core/fanout"
	"github.com/mirrorless/mirrorless/core/kafkatest"
)

// lambdaFront stands in for the Lambda service's Invoke API in front of a pool of emulators,
// each one execution environment: an asynchronous (Event) invocation is accepted at once (202)
// and run in a free environment, as Lambda queues and runs it. The emulator alone cannot be
// the endpoint: it runs one invocation at a time, answers an Event invocation synchronously
// and refuses a second one while the first runs, where Lambda would start another environment.
type lambdaFront struct {
	srv  *httptest.Server
	pool chan *emulator
	wg   sync.WaitGroup

	mu       sync.Mutex
	requests []frontRequest
}

type frontRequest struct {
	path, invocationType, authorization string
	event                               fanout.Event
	payload                             []byte
	// What the environment that ran it answered.
	status int
	body   []byte
}

func newLambdaFront(t *testing.T, envs []*emulator) *lambdaFront {
	f := &lambdaFront{pool: make(chan *emulator, 16)}
	for _, e := range envs {
		f.pool <- e
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *lambdaFront) serve(w http.ResponseWriter, r *http.Request) {
	payload, _ := io.ReadAll(r.Body)
	req := frontRequest{path: r.URL.Path, invocationType: r.Header.Get("X-Amz-Invocation-Type"), authorization: r.Header.Get("Authorization"), payload: payload}
	_ = json.Unmarshal(payload, &req.event)
	f.mu.Lock()
	i := len(f.requests)
	f.requests = append(f.requests, req)
	f.mu.Unlock()
	if req.invocationType != "Event" {
		http.Error(w, "this front only queues Event invocations", http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		e := <-f.pool
		defer func() { f.pool <- e }()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		fwd, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+"/2015-03-31/functions/function/invocations", bytes.NewReader(payload))
		fwd.Header.Set("X-Amzn-RequestId", fmt.Sprintf("worker-%d", req.event.Index))
		resp, err := http.DefaultClient.Do(fwd)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			f.requests[i].status = -1
			f.requests[i].body = []byte(err.Error())
			return
		}
		defer resp.Body.Close()
		f.requests[i].status = resp.StatusCode
		f.requests[i].body, _ = io.ReadAll(resp.Body)
	}()
}

// The scheduled tick in the Lambda runtime sizes the backlog and fans out through the Invoke
// API: the real bootstrap, built for Lambda, signs asynchronous invocations of its own
// function (fake static credentials; AWS_ENDPOINT_URL_LAMBDA points the SDK at the front),
// each with a worker event; the workers arrive in three other emulators, run, copy, and never
// fan out again although they could reach the same endpoint. Every record arrives exactly once.
func TestFanOutThroughTheLambdaRuntime(t *testing.T) {
	pair := tools(t)
	const parts, n = 4, 500
	topic, props := reconciledTopic(t, pair, "fanout", parts, n)

	// One partition per invocation and four at most: four partitions behind need four
	// invocations, the tick and three workers, and four work groups. Transactions of 10
	// records keep the tick from copying every group, one after another, before the workers
	// have started.
	var front *lambdaFront
	lambdaEnv := func() []string {
		return env(props, "MIRROR_MAX_UNITS=1", "MIRROR_MAX_CONCURRENCY=4", "MIRROR_BATCH_RECORDS=10", "MIRROR_SCHEDULE_INTERVAL=rate(1 minute)",
			"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDFAKEFANOUT", "AWS_SECRET_ACCESS_KEY=fake-secret-fanout",
			"AWS_ENDPOINT_URL_LAMBDA="+front.srv.URL)
	}
	front = newLambdaFront(t, nil) // its URL first: every environment's settings name it
	workers := make([]*emulator, 3)
	for i := range workers {
		workers[i] = start(t, "mirror", 60, lambdaEnv()...)
		front.pool <- workers[i]
	}
	tick := start(t, "mirror", 60, lambdaEnv()...)

	sum := tick.mustInvoke(t, "tick-1")
	var sizing fanout.Sizing
	raw, _ := json.Marshal(sum["fanout"])
	if err := json.Unmarshal(raw, &sizing); err != nil || sizing.Invocations != 4 || sizing.Started != 3 || sizing.Failed != 0 {
		t.Fatalf("tick's fan-out %s (%v); want 4 invocations, 3 started\n%s", raw, err, tail(tick.out.String(), 20))
	}
	if sizing.Backlog.Records != parts*n || sizing.Backlog.Partitions != parts {
		t.Errorf("tick measured %+v, want %d records on %d partitions", sizing.Backlog, parts*n, parts)
	}
	if !tick.out.waitLine(func(l map[string]any) bool {
		return l["request_id"] == "tick-1" && l["FanoutInvocations"] == 4.0 && l["FanoutStartFailures"] == 0.0 && l["Deployment"] != nil
	}, 5*time.Second) {
		t.Errorf("no EMF line with the tick's fan-out:\n%s", tail(tick.out.String(), 10))
	}
	front.wg.Wait()

	copied := sum["records"].(float64)
	front.mu.Lock()
	reqs := append([]frontRequest(nil), front.requests...)
	front.mu.Unlock()
	if len(reqs) != 3 {
		t.Fatalf("the Lambda API got %d invocations, want 3 (the tick's workers, and none from the workers)", len(reqs))
	}
	seen := map[int]bool{}
	for _, r := range reqs {
		if r.path != "/2015-03-31/functions/mirrorless-mirror/invocations" || r.invocationType != "Event" {
			t.Errorf("invocation %s type %q: want an Event invocation of the function itself", r.path, r.invocationType)
		}
		if !strings.Contains(r.authorization, "Credential=AKIDFAKEFANOUT/") || !strings.Contains(r.authorization, "/us-east-1/lambda/aws4_request") {
			t.Errorf("invocation not signed with the environment's credentials for lambda: %q", r.authorization)
		}
		if !r.event.Worker || r.event.Depth != 1 || r.event.Parent != "tick-1" || r.event.Source != fanout.EventSource {
			t.Errorf("worker event %s: want worker, depth 1, parent tick-1", r.payload)
		}
		seen[r.event.Index] = true
		var ws map[string]any
		if r.status != http.StatusOK || json.Unmarshal(r.body, &ws) != nil || ws["ok"] != true {
			t.Errorf("worker %d in its environment: HTTP %d %s", r.event.Index, r.status, r.body)
			continue
		}
		if _, fanned := ws["fanout"]; fanned {
			t.Errorf("worker %d sized a fan-out of its own: %s", r.event.Index, r.body)
		}
		t.Logf("worker %d: %v records, %v ms inside", r.event.Index, ws["records"], ws["duration_ms"])
		copied += ws["records"].(float64)
	}
	if len(seen) != 3 {
		t.Errorf("worker indexes %v, want 1, 2, 3", seen)
	}
	// Every worker ran in an environment of its own as a Lambda invocation: its log lines carry
	// the request id the front gave it.
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("worker-%d", i)
		found := false
		for _, w := range workers {
			found = found || w.out.waitLine(func(l map[string]any) bool { return l["request_id"] == id && l["msg"] == "invocation done" }, 100*time.Millisecond)
		}
		if !found {
			t.Errorf("no \"invocation done\" line of %s in the workers' output", id)
		}
	}
	t.Logf("tick %v records; tick and workers %v of %d", sum["records"], copied, parts*n)
	if copied <= sum["records"].(float64) {
		t.Errorf("the workers copied nothing: the tick did all the work")
	}

	// Whatever a race between the four left (a lease taken twice over is passed over, not
	// copied twice), the next tick finishes it; then every record is there exactly once.
	for i := 0; ; i++ {
		s := tick.mustInvoke(t, fmt.Sprintf("tick-%d", i+2))
		front.wg.Wait()
		if s["lag_left"] == 0.0 {
			break
		}
		if i == 3 {
			t.Fatalf("not caught up after 4 more ticks: %v", s)
		}
	}
	if err := kafkatest.ExactlyOnce(kafkatest.ReadAll(t, pair.B, "A."+topic), parts, n); err != nil {
		t.Fatal(err)
	}
	for _, e := range append(workers, tick) {
		if strings.Contains(e.out.String(), "fake-secret-fanout") {
			t.Errorf("the secret key appears in the %s output", e.fn)
		}
	}
}
