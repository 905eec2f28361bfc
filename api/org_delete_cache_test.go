package api_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// queriesOf sends a GET with a credential through the router and returns its status and how many
// SQL statements it ran.
func (s *server) queriesOf(t *testing.T, path, header, credential string) (int, int64) {
	t.Helper()
	c := &queryCounter{}
	r := httptest.NewRequest("GET", path, nil)
	r = r.WithContext(context.WithValue(r.Context(), queryCounterKey{}, c))
	r.Header.Set(header, credential)
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, r)
	return w.Code, c.n.Load()
}

// warmQueries sends a GET with a credential until it costs what the one before it did, and returns
// that cost. A credential, organisation or role read while an invalidation arrives is not cached (the
// setup's own writes publish theirs, heard a moment later through Redis), so one request does not
// always warm the caches. Call it once the node trusts its cached credentials (it hears the heartbeat).
func (s *server) warmQueries(t *testing.T, path, header, credential string) int64 {
	t.Helper()
	_, prev := s.queriesOf(t, path, header, credential)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		code, n := s.queriesOf(t, path, header, credential)
		if code != 200 {
			t.Fatalf("GET %s: status %d", path, code)
		}
		if n == prev {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: the cost of a request still changes after 15s (%d then %d statements)", path, prev, n)
		}
		prev = n
	}
}

// TestOrgDeletionInvalidatesOnlyItsOwnCredentials: deleting an organisation drops the cached
// entries of that organisation (its API keys, roles, slug and id) and no other: another
// organisation's cached API key and JWT still cost the same queries as before (none for
// authentication), while the deleted organisation's key and members are refused.
func TestOrgDeletionInvalidatesOnlyItsOwnCredentials(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	b := s.newTenant("bravo")
	countQueries(t, s.DB)
	// Cached keys and roles are used only once the node hears the heartbeat of its invalidation
	// channel, and hearing the first one flushes them: measure after it.
	waitFor(t, "the node hears the heartbeat", s.Svc.CredentialsCached)
	const bravo = "/api/v1/orgs/bravo/projects"
	creds := []struct{ name, header, value string }{
		{"bravo API key", "X-API-Key", b.keyRead},
		{"bravo viewer JWT", "Authorization", "Bearer " + b.viewer},
	}
	before := map[string]int64{}
	for _, c := range creds {
		before[c.name] = s.warmQueries(t, bravo, c.header, c.value) // the key, the organisation and the role cached
	}
	s.warmQueries(t, "/api/v1/orgs/acme/projects", "X-API-Key", a.keyRead) // acme's key is cached too

	s.req("DELETE", "/api/v1/orgs/acme?confirm=acme", nil, "auth", a.admin).want(t, 204)

	for _, c := range creds {
		code, n := s.queriesOf(t, bravo, c.header, c.value)
		if code != 200 || n != before[c.name] {
			t.Errorf("%s after acme's deletion: status %d in %d queries, want 200 in %d (its cache entries untouched)",
				c.name, code, n, before[c.name])
		}
	}
	for _, c := range []struct{ name, header, value string }{
		{"acme API key", "X-API-Key", a.keyRead},
		{"acme admin JWT", "Authorization", "Bearer " + a.admin},
	} {
		if code, _ := s.queriesOf(t, "/api/v1/orgs/acme/projects", c.header, c.value); code != 401 && code != 404 {
			t.Errorf("%s after the deletion: status %d, want 401 or 404", c.name, code)
		}
	}
	if code, _ := s.queriesOf(t, "/api/v1/orgs/ACME/projects", "Authorization", "Bearer "+a.admin); code != 404 && code != 401 {
		t.Errorf("acme in capitals after the deletion: status %d, want 404", code)
	}
}
