package logctx_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/vanehq/vane/internal/logctx"
)

func TestRequestIDOnEveryLine(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(logctx.Handler{Handler: slog.NewTextHandler(&buf, nil)}).With("component", "services")
	ctx := logctx.WithRequestID(context.Background(), "req-42")
	log.InfoContext(ctx, "rebuilt")
	log.InfoContext(ctx, "request", "request_id", "req-42")
	log.Info("no request")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	for i, want := range []int{1, 1, 0} {
		if n := strings.Count(lines[i], "request_id=req-42"); n != want {
			t.Errorf("line %d = %q: request_id %d times, want %d", i, lines[i], n, want)
		}
	}
	if !strings.Contains(lines[0], "component=services") {
		t.Errorf("line 0 = %q lost the logger's attributes", lines[0])
	}
}
