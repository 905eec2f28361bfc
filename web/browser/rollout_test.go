package browser

import (
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
)

// withWorker gives the site a job queue of its own (a miniredis: the shared Redis's asynq database
// belongs to the jobs tests) and a worker running it, as `vane serve` does.
func (s *site) withWorker() {
	s.t.Helper()
	opts := &redis.Options{Addr: miniredis.RunT(s.t).Addr()}
	q := jobs.NewQueue(opts)
	s.t.Cleanup(q.Close)
	s.env.Svc.SetScheduler(q)
	w, err := jobs.NewWorker(opts, s.env.Svc, testenv.Logger(s.t), 2)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(w.Shutdown)
}

// syncClock brings the services' fake clock up to real time: stage due times come from it, while the
// queue fires them by the real clock.
func (s *site) syncClock() {
	if d := time.Until(s.env.Clock.Now()); d < 0 {
		s.env.Clock.Advance(-d)
	}
}

// TestRolloutPlanAdvances: a plan of three stages made in the portal is started there and seen
// advancing stage by stage on its timeline until it completes, moved by the worker.
func TestRolloutPlanAdvances(t *testing.T) {
	s := newSite(t)
	tm := s.newTeam("acme")
	s.withWorker()
	s.newFlag(tm, "dark-mode", "Dark mode")
	s.activate("dark-mode", "development")
	b := s.newBrowser(t)
	b.signIn("dev@acme.test")
	b.open("/orgs/acme/projects/default/flags/dark-mode?env=development")
	b.waitText("Rollout plan")
	b.fill("Stage 2 after", "5s")
	b.fill("Stage 3 after", "10s")
	b.click("Save plan")
	b.wait("the draft plan", `(document.querySelector('[data-testid="plan-state"]')||{}).innerText === 'DRAFT'`)
	s.syncClock()
	b.click("Start rollout")
	b.waitText("Stage 1: 10%")
	applied := func(stage string) string {
		return `/` + stage + `\s+applied/.test(document.body.innerText)`
	}
	state := `(document.querySelector('[data-testid="plan-state"]')||{}).innerText`
	// Seen advancing: the first stage applied while the plan still runs, later ones after it.
	b.wait("stage 1 applied, the plan running", applied("Stage 1: 10%")+` && `+state+` === 'RUNNING'`)
	b.readme("rollout-plan")
	b.wait("stage 2 applied", applied("Stage 2: 50%"))
	b.wait("the plan completed", state+` === 'COMPLETED'`)
	b.wait("stage 3 applied", applied("Stage 3: 100%"))
}
