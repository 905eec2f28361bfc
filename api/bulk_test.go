package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

// TestBulkAnswersEqualSingle: the bulk responses are assembled from parts encoded ahead (the
// flags that do not depend on the context) and pieces (the others); flag by flag they must say
// exactly what the single-flag routes say, for server and client keys, whatever the context.
func TestBulkAnswersEqualSingle(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	server, client := s.sdkKeys(a, "default", "production")
	env := func(key string) string { return flags + "/" + key + "/environments/production" }
	create := func(body string, patches ...string) {
		t.Helper()
		r := s.req("POST", flags, body, "auth", a.dev).want(t, 201)
		for _, p := range patches {
			s.req("PATCH", env(decode[map[string]any](t, r)["key"].(string)), p, "auth", a.dev).want(t, 200)
		}
	}
	create(`{"key":"on-for-all"}`, `{"status":"ACTIVE"}`)
	create(`{"key":"draft"}`)
	create(`{"key":"checkout"}`, `{"status":"ACTIVE","rules":[{"id":"pro","conditions":[{"attribute":"plan","operator":"equals","values":["pro"]}],
		"serve":{"variation":"true"}}],"fallthrough":{"rollout":{"variations":[{"variation":"true","weight":1},{"variation":"false","weight":3}]}}}`)
	create(`{"key":"theme","type":"string","variations":[{"id":"light","value":"<b>light & \"airy\"</b>"},{"id":"dark","value":"dark"}],"default_variation":"light"}`,
		`{"status":"ACTIVE","targets":[{"variation":"dark","values":["u1","u7"]}],"fallthrough":{"variation":"light"}}`)
	create(`{"key":"limits","type":"json","variations":[{"id":"small","value":{"max":10,"tags":["a","b"]}},{"id":"big","value":{"max":1000,"nested":{"z":1,"a":2}}}],"default_variation":"small"}`,
		`{"status":"ACTIVE","rules":[{"id":"us","conditions":[{"attribute":"country","operator":"in","values":["US","CA"]}],"serve":{"variation":"big"}}],"fallthrough":{"variation":"small"}}`)
	create(`{"key":"batch-size","type":"number","variations":[{"id":"ten","value":10},{"id":"half","value":0.5}],"default_variation":"ten"}`,
		`{"status":"ACTIVE","fallthrough":{"variation":"half"}}`)
	create(`{"key":"killed","type":"string","variations":[{"id":"x","value":"x"},{"id":"y","value":"y"}],"default_variation":"x"}`,
		`{"status":"ACTIVE","fallthrough":{"variation":"y"}}`, `{"status":"DISABLED"}`)
	create(`{"key":"server-only","client_visible":false}`, `{"status":"ACTIVE","fallthrough":{"rollout":{"variations":[{"variation":"true","weight":1},{"variation":"false","weight":1}]}}}`)

	rnd := rand.New(rand.NewSource(7))
	contexts := []map[string]any{{}, {"plan": "pro"}, {"targetingKey": "u1"}, {"targetingKey": "u7", "country": "US"}}
	for i := 0; i < 30; i++ {
		c := map[string]any{"targetingKey": fmt.Sprintf("user-%d", rnd.Intn(1000))}
		if rnd.Intn(2) == 0 {
			c["plan"] = []string{"pro", "free"}[rnd.Intn(2)]
		}
		if rnd.Intn(2) == 0 {
			c["country"] = []string{"US", "CA", "FR"}[rnd.Intn(3)]
		}
		contexts = append(contexts, c)
	}
	for _, key := range []string{server, client} {
		seen := map[string]bool{}
		for _, c := range contexts {
			body, _ := json.Marshal(map[string]any{"context": c})
			r := s.req("POST", "/ofrep/v1/evaluate/flags", body, "X-API-Key", key).want(t, 200)
			var bulk struct {
				Flags    []json.RawMessage `json:"flags"`
				Metadata map[string]any    `json:"metadata"`
			}
			if err := json.Unmarshal(r.Body, &bulk); err != nil {
				t.Fatalf("bulk is not JSON: %v\n%s", err, r.Body)
			}
			var keys []string
			for _, item := range bulk.Flags {
				var it struct{ Key string }
				_ = json.Unmarshal(item, &it)
				keys = append(keys, it.Key)
				one := s.req("POST", "/ofrep/v1/evaluate/flags/"+it.Key, body, "X-API-Key", key)
				if !sameJSON(item, one.Body) {
					t.Errorf("%s %v: bulk says %s, single says %d %s", it.Key, c, item, one.Code, one.Body)
				}
			}
			want := []string{"batch-size", "checkout", "draft", "killed", "limits", "on-for-all", "server-only", "theme"}
			if key == client {
				want = []string{"batch-size", "checkout", "draft", "killed", "limits", "on-for-all", "theme"}
			}
			if !sort.StringsAreSorted(keys) || !reflect.DeepEqual(keys, want) {
				t.Fatalf("bulk flags = %v, want %v", keys, want)
			}

			// source 003's map: value for non-boolean flags, "enabled" for the others
			rest, _ := json.Marshal(map[string]any{"user_id": c["targetingKey"], "attributes": c})
			m := decode[map[string]any](t, s.req("POST", "/api/v1/feature-flags/evaluate", rest, "X-API-Key", key).want(t, 200))
			if len(m) != len(want) {
				t.Errorf("map has %d flags, want %d: %v", len(m), len(want), m)
			}
			for _, k := range want {
				one := decode[map[string]any](t, s.req("POST", "/api/v1/feature-flags/"+k+"/evaluate", rest, "X-API-Key", key).want(t, 200))
				w := one["value"]
				if _, isBool := w.(bool); isBool || w == nil {
					w = one["enabled"]
				}
				if !reflect.DeepEqual(m[k], w) {
					t.Errorf("map[%s] = %v for %s, single says %v", k, m[k], rest, w)
				}
				seen[fmt.Sprint(k, m[k])] = true
			}
		}
		// the contexts reach every kind of answer: both sides of the rule, the target, the split
		for _, want := range []string{"checkouttrue", "checkoutfalse", "themedark", "theme<b>light & \"airy\"</b>", "limitsmap[max:1000 nested:map[a:2 z:1]]"} {
			if !seen[want] {
				t.Errorf("no context got %s", want)
			}
		}
	}
}

// TestBulkMapETag: source 003's map answers 304 to a client holding its ETag, and a new one after a
// change.
func TestBulkMapETag(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	_, client := s.sdkKeys(a, "default", "production")
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	const path = "/api/v1/feature-flags/evaluate?user_id=u1"
	r := s.req("GET", path, nil, "X-API-Key", client).want(t, 200)
	tag := r.Header.Get("ETag")
	if tag == "" || string(r.Body) != `{"checkout":false}` || r.Header.Get("Content-Length") != "18" {
		t.Fatalf("map = %s, ETag %q, Content-Length %q", r.Body, tag, r.Header.Get("Content-Length"))
	}
	if r := s.req("GET", path, nil, "X-API-Key", client, "If-None-Match", tag).want(t, 304); len(r.Body) != 0 {
		t.Errorf("304 with a body: %s", r.Body)
	}
	s.req("PATCH", flags+"/checkout/environments/production", `{"status":"ACTIVE","fallthrough":{"variation":"true"}}`, "auth", a.dev).want(t, 200)
	r = s.req("GET", path, nil, "X-API-Key", client, "If-None-Match", tag).want(t, 200)
	if string(r.Body) != `{"checkout":true}` || r.Header.Get("ETag") == tag {
		t.Errorf("after activating: %s, ETag %s (was %s)", r.Body, r.Header.Get("ETag"), tag)
	}
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}
