package api_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
)

// TestConcurrentWritesInOneProject runs 8 writers at once in one project through the router —
// creating flags, editing configurations of different flags and environments, editing segments,
// changing a shared flag's variations, and moving rollout plans — and wants none of them to fail
// with a 500 (on Postgres they used to deadlock: 40P01).
func TestConcurrentWritesInOneProject(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	if sqlDB, err := s.DB.DB(); err == nil {
		sqlDB.SetMaxOpenConns(25) // as in production: every writer gets a connection
	}
	const writers, rounds = 8, 12
	segs := o + "/projects/default/segments"
	for i := 0; i < 2; i++ {
		s.req("POST", segs, map[string]any{"key": fmt.Sprintf("seg-%d", i), "included": []string{"u0"}}, "auth", a.dev).want(t, 201)
	}
	s.req("POST", flags, map[string]any{"key": "shared", "type": "string", "variations": []map[string]any{
		{"id": "a", "value": "a"}, {"id": "b", "value": "b"}}}, "auth", a.dev).want(t, 201)
	for w := 0; w < writers; w++ {
		key := fmt.Sprintf("own-%d", w)
		s.req("POST", flags, map[string]any{"key": key}, "auth", a.dev).want(t, 201)
		s.req("POST", flags+"/"+key+"/environments/production/activate", nil, "auth", a.dev).want(t, 200)
	}
	envs := []string{"development", "staging", "production"}

	var mu sync.Mutex
	failures := map[string]int{}
	fail := func(what string, r response) {
		mu.Lock()
		defer mu.Unlock()
		failures[fmt.Sprintf("%s → %d %s", what, r.Code, strings.TrimSpace(string(r.Body)))]++
	}
	expect := func(what string, r response, ok ...int) {
		if !slices.Contains(ok, r.Code) {
			fail(what, r)
		}
	}
	var variationUpdates atomic.Int64
	// A worker applies the first stage of every running plan while the writers run.
	stop := make(chan struct{})
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var ids []string
			if err := s.DB.Table("rollout_plans").Where("state = ?", models.PlanRunning).Pluck("id", &ids).Error; err != nil {
				t.Error(err)
				return
			}
			for _, id := range ids {
				if _, err := s.Svc.Rollouts.ApplyStage(context.Background(), id, 0); err != nil {
					mu.Lock()
					failures["apply stage → "+err.Error()]++
					mu.Unlock()
				}
			}
		}
	}()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := fmt.Sprintf("%s/own-%d", flags, w)
			for i := 0; i < rounds; i++ {
				seg := fmt.Sprintf("seg-%d", (w+i)%2)
				switch (w + i) % 7 {
				case 0:
					expect("create flag", s.req("POST", flags, map[string]any{"key": testenv.Name("new")}, "auth", a.dev), 201)
				case 1:
					env := envs[(w+i)%len(envs)]
					expect("patch config", s.req("PATCH", own+"/environments/"+env, map[string]any{
						"rules": []map[string]any{{"conditions": []map[string]any{{"segment": seg}}, "serve": map[string]any{"variation": "true"}}},
					}, "auth", a.dev), 200)
				case 2:
					expect("update segment", s.req("PATCH", segs+"/"+seg, map[string]any{"included": []string{fmt.Sprintf("u%d", i)}}, "auth", a.dev), 200)
				case 3:
					r := s.req("PATCH", flags+"/shared", map[string]any{"variations": []map[string]any{
						{"id": "a", "value": "a"}, {"id": "b", "value": fmt.Sprintf("b%d", i)}}}, "auth", a.dev)
					expect("update variations", r, 200)
					if r.Code == 200 {
						variationUpdates.Add(1)
					}
				case 4:
					plan := own + "/environments/production/rollout-plan"
					expect("put plan", s.req("PUT", plan, `{"stages":[{"percentage":10},{"percentage":50,"after":"1h"}]}`, "auth", a.dev), 200, 201)
					expect("start plan", s.req("POST", plan+"/start", nil, "auth", a.dev), 200)
					expect("patch rollout", s.req("PATCH", own+"/environments/production", `{"rollout_percentage":20}`, "auth", a.dev), 200)
					expect("cancel plan", s.req("POST", plan+"/cancel", nil, "auth", a.dev), 200)
				case 5:
					key := testenv.Name("gone")
					expect("create flag", s.req("POST", flags, map[string]any{"key": key}, "auth", a.dev), 201)
					expect("patch config", s.req("PATCH", flags+"/"+key+"/environments/staging", `{"rollout_percentage":5}`, "auth", a.dev), 200)
					expect("delete flag", s.req("DELETE", flags+"/"+key, nil, "auth", a.dev), 204)
				case 6:
					env := envs[(w+i)%len(envs)]
					expect("patch shared config", s.req("PATCH", flags+"/shared/environments/"+env, map[string]any{
						"rules": []map[string]any{{"conditions": []map[string]any{{"not_segment": seg}}, "serve": map[string]any{"variation": "b"}}},
					}, "auth", a.dev), 200)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-workerDone
	// No update was lost: the shared flag's version counts every one.
	shared := decode[api.FlagResponse](t, s.req("GET", flags+"/shared", nil, "auth", a.viewer).want(t, 200))
	if want := 1 + variationUpdates.Load(); shared.Version != want {
		t.Errorf("shared flag version = %d after %d variation updates, want %d", shared.Version, variationUpdates.Load(), want)
	}
	if len(failures) > 0 {
		var lines []string
		total := 0
		for k, n := range failures {
			lines = append(lines, fmt.Sprintf("%d × %s", n, k))
			total += n
		}
		sort.Strings(lines)
		t.Errorf("%d requests failed:\n%s", total, strings.Join(lines, "\n"))
	}
}

// TestSegmentDeleteRacingARuleThatUsesIt deletes a segment while a rule that uses it is saved,
// many times over: one of the two must lose (the save with a 422 naming the missing segment, or
// the delete with a 409 listing the flag), never both win and leave a rule pointing at nothing.
func TestSegmentDeleteRacingARuleThatUsesIt(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	if sqlDB, err := s.DB.DB(); err == nil {
		sqlDB.SetMaxOpenConns(25)
	}
	segs := o + "/projects/default/segments"
	s.req("POST", flags, map[string]any{"key": "checkout"}, "auth", a.dev).want(t, 201)
	cfg := flags + "/checkout/environments/production"
	outcomes := map[string]int{}
	for round := 0; round < 40; round++ {
		seg := fmt.Sprintf("beta-%d", round)
		s.req("POST", segs, map[string]any{"key": seg, "included": []string{"u1"}}, "auth", a.dev).want(t, 201)
		var del, save response
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Add(2)
		go func() {
			defer wg.Done()
			<-start
			del = s.req("DELETE", segs+"/"+seg, nil, "auth", a.dev)
		}()
		go func() {
			defer wg.Done()
			<-start
			save = s.req("PATCH", cfg, map[string]any{"rules": []map[string]any{
				{"conditions": []map[string]any{{"segment": seg}}, "serve": map[string]any{"variation": "true"}}}}, "auth", a.dev)
		}()
		close(start)
		wg.Wait()
		switch {
		case del.Code == 204 && save.Code == 422:
			if !strings.Contains(string(save.Body), fmt.Sprintf(`no segment has key \"%s\"`, seg)) {
				t.Errorf("round %d: the losing save says %s, want no segment has key %q", round, save.Body, seg)
			}
			outcomes["delete won"]++
		case save.Code == 200 && del.Code == 409:
			var e struct {
				Error struct {
					UsedBy []string `json:"used_by"`
				} `json:"error"`
			}
			_ = jsonUnmarshal(del.Body, &e)
			if len(e.Error.UsedBy) != 1 || e.Error.UsedBy[0] != "flag checkout in production" {
				t.Errorf("round %d: the losing delete's used_by = %v", round, e.Error.UsedBy)
			}
			outcomes["save won"]++
			// Clear the rule so the next round starts from nothing.
			s.req("PATCH", cfg, `{"rules":[]}`, "auth", a.dev).want(t, 200)
		default:
			t.Fatalf("round %d: delete → %d %s; save → %d %s (want exactly one to lose)", round, del.Code, del.Body, save.Code, save.Body)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
