package runner

import (
	"context"
	"log/slog"
	"sync/atomic"
)

// requestIDs holds the id of the invocation in progress. A Lambda execution
// environment runs one invocation at a time, so one process-wide value is
// right, and it reaches every logger derived from the base one, including
// the Kafka clients' (built once, before any invocation).
type requestIDs struct{ v atomic.Pointer[string] }

func (r *requestIDs) set(id string) {
	if id == "" {
		r.v.Store(nil)
		return
	}
	r.v.Store(&id)
}

func (r *requestIDs) get() string {
	if p := r.v.Load(); p != nil {
		return *p
	}
	return ""
}

// withRequestID adds request_id to every record logged while an
// invocation runs.
func withRequestID(h slog.Handler, ids *requestIDs) slog.Handler {
	return requestIDHandler{h, ids}
}

type requestIDHandler struct {
	slog.Handler
	ids *requestIDs
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := h.ids.get(); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as), h.ids}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name), h.ids}
}
