package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"github.com/vanehq/vane/api"
)

// queryCounter counts the SQL statements run for requests whose context carries it, whatever the
// background work (version polls, counter flushes) does meanwhile.
type queryCounter struct{ n atomic.Int64 }

type queryCounterKey struct{}

// countQueries registers a gorm callback on the test's database for every kind of statement.
func countQueries(t *testing.T, db *gorm.DB) {
	t.Helper()
	count := func(tx *gorm.DB) {
		if c, ok := tx.Statement.Context.Value(queryCounterKey{}).(*queryCounter); ok {
			c.n.Add(1)
		}
	}
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().After("*").Register("test:count", count),
		cb.Row().After("*").Register("test:count", count),
		cb.Raw().After("*").Register("test:count", count),
		cb.Create().After("*").Register("test:count", count),
		cb.Update().After("*").Register("test:count", count),
		cb.Delete().After("*").Register("test:count", count),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listQueries lists a project's flags through the router and returns the page and how many SQL
// statements the request ran.
func (s *server) listQueries(t *testing.T, path, token string) (api.FlagList, int64) {
	t.Helper()
	c := &queryCounter{}
	r := httptest.NewRequest("GET", path, nil)
	r = r.WithContext(context.WithValue(r.Context(), queryCounterKey{}, c))
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, r)
	res := response{Code: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	res.want(t, 200)
	return decode[api.FlagList](t, res), c.n.Load()
}

// TestFlagListQueries pins the SQL statements of a flag list: the same few for 5 flags as for 50
// (no query per flag, environment or rule), one when nothing changed since the last identical list,
// and a write on another node or a flush of evaluation counts is seen by the very next list.
func TestFlagListQueries(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	b2 := s.secondNode(t)
	rule := `{"status":"ACTIVE","rules":[{"id":"pro","conditions":[{"attribute":"plan","operator":"equals","values":["pro"]}],
		"serve":{"rollout":{"variations":[{"variation":"true","weight":25000},{"variation":"false","weight":75000}]}}}]}`
	add := func(from, to int) {
		for i := from; i < to; i++ {
			key := fmt.Sprintf("f%02d", i)
			s.req("POST", flags, map[string]any{"key": key, "tags": []string{"load"}}, "auth", a.dev).want(t, 201)
			s.req("PATCH", flags+"/"+key+"/environments/production", rule, "auth", a.dev).want(t, 200)
		}
	}
	countQueries(t, s.DB)
	// The counts below take the viewer's role from the cache, which is trusted only while the node
	// hears the heartbeat of its invalidation channel (else each request reads the role).
	waitFor(t, "the node hears the heartbeat", s.Svc.CredentialsCached)
	const list = flags + "?limit=50"
	// Authentication with a JWT costs no query (cached organisation and role); then the project's
	// environments with their configuration versions (the project found by the same statement), the
	// page of flags and their configurations, and, when there are more pages, the total (the last
	// page knows it).
	const cold, warm = 4, 1

	add(0, 5)
	s.warmQueries(t, o, "Authorization", "Bearer "+a.viewer) // the viewer's organisation and role are cached
	if l, n := s.listQueries(t, list, a.viewer); len(l.Items) != 5 || n != cold-1 || l.Total != 5 {
		t.Fatalf("5 flags: %d items (total %d) in %d queries, want 5 (5) in %d", len(l.Items), l.Total, n, cold-1)
	}
	add(5, 60)
	l, n := s.listQueries(t, list, a.viewer)
	if len(l.Items) != 50 || n != cold || l.Total != 60 {
		t.Fatalf("60 flags, limit 50: %d items (total %d) in %d queries, want 50 (60) in %d", len(l.Items), l.Total, n, cold)
	}
	if got := l.Items[0].Environments["production"].RolloutPercentage; got != 25 {
		t.Errorf("rollout_percentage in production = %v, want 25", got)
	}
	for i := 0; i < 3; i++ {
		if l, n := s.listQueries(t, list, a.viewer); len(l.Items) != 50 || n != warm {
			t.Fatalf("unchanged list #%d: %d items in %d queries, want 50 in %d", i+2, len(l.Items), n, warm)
		}
	}
	if l, n := s.listQueries(t, list+"&sort=key", a.viewer); len(l.Items) != 50 || n != cold {
		t.Errorf("another order: %d items in %d queries, want 50 in %d (a list of its own)", len(l.Items), n, cold)
	}

	// A write through another node: this node's next list shows it.
	b2.req("PATCH", flags+"/f00", map[string]any{"name": "Renamed elsewhere"}, "auth", a.dev).want(t, 200)
	b2.req("POST", flags+"/f01/environments/production/disable", nil, "auth", a.dev).want(t, 200)
	l, n = s.listQueries(t, list, a.viewer)
	if l.Items[0].Name != "Renamed elsewhere" || l.Items[1].Environments["production"].Status != "DISABLED" || n != cold {
		t.Errorf("after writes on another node: f00 %q, f01 %s in %d queries; want the new name, DISABLED, %d queries",
			l.Items[0].Name, l.Items[1].Environments["production"].Status, n, cold)
	}

	// Evaluation counts recorded by this node's flush show at once.
	sdk, _ := s.sdkKeys(a, "default", "production")
	s.evaluate("f02", sdk, `{"user_id":"u1","attributes":{"plan":"pro"}}`)
	s.Plane.Flush(context.Background())
	l, _ = s.listQueries(t, list, a.viewer)
	if got := l.Items[2].Environments["production"].Evaluations; got != 1 {
		t.Errorf("f02 evaluations after a flush = %d, want 1", got)
	}

	// Another organisation's list of a project with the same key is its own.
	if l, _ := s.listQueries(t, "/api/v1/orgs/bravo/projects/default/flags?limit=50", b.viewer); len(l.Items) != 0 {
		t.Errorf("bravo sees %d flags, want 0", len(l.Items))
	}
}
