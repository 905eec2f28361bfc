package api_test

import (
	"context"
	"net/http/httptest"
	"testing"
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
	const bravo = "/api/v1/orgs/bravo/projects"
	creds := []struct{ name, header, value string }{
		{"bravo API key", "X-API-Key", b.keyRead},
		{"bravo viewer JWT", "Authorization", "Bearer " + b.viewer},
	}
	before := map[string]int64{}
	for _, c := range creds {
		s.queriesOf(t, bravo, c.header, c.value) // caches the key, the organisation and the role
		code, n := s.queriesOf(t, bravo, c.header, c.value)
		if code != 200 {
			t.Fatalf("%s: status %d", c.name, code)
		}
		before[c.name] = n
	}
	s.queriesOf(t, "/api/v1/orgs/acme/projects", "X-API-Key", a.keyRead) // acme's key is cached too

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
