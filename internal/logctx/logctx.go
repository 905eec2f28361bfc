// Package logctx carries a request's id in its context.Context, and a slog handler that puts it on
// every line logged with that context, whichever package logs it.
package logctx

import (
	"context"
	"log/slog"
)

type requestIDKey struct{}

// WithRequestID returns ctx carrying a request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// Carrier is a request's state that knows its id: a server keeps what it learns of a request in
// one value of the context instead of several.
type Carrier interface{ RequestID() string }

// WithCarrier returns ctx carrying a request's state, and so its id.
func WithCarrier(ctx context.Context, c Carrier) context.Context {
	return context.WithValue(ctx, requestIDKey{}, c)
}

// CarrierOf is the request state ctx carries (nil when none).
func CarrierOf(ctx context.Context) Carrier {
	c, _ := ctx.Value(requestIDKey{}).(Carrier)
	return c
}

// RequestID is the request id ctx carries ("" when none).
func RequestID(ctx context.Context) string {
	switch v := ctx.Value(requestIDKey{}).(type) {
	case string:
		return v
	case Carrier:
		return v.RequestID()
	}
	return ""
}

// Handler adds request_id to every record logged with a context that carries one.
type Handler struct{ slog.Handler }

// Handle adds the request id unless the record has one, then hands the record on.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has { // a caller that named it already (the access log) keeps one
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the derived handler.
func (h Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return Handler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the derived handler.
func (h Handler) WithGroup(name string) slog.Handler { return Handler{h.Handler.WithGroup(name)} }
