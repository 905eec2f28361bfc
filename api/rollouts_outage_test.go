package api_test

import (
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/api"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/models"
)

// deadQueue is a job queue whose Redis does not answer.
func deadQueue(t *testing.T) *jobs.Queue {
	t.Helper()
	q := jobs.NewQueue(testenv.DeadRedis(t))
	t.Cleanup(q.Close)
	return q
}

// queueRedis is a Redis of the test's own for a job queue and its worker: a fresh miniredis, even
// with TEST_REDIS_URL. The shared Redis's asynq database (testenv.AsynqRedis, database 15) belongs
// to the jobs tests, which run at the same time as these (go test runs packages in parallel) and
// flush it as each starts and ends; two workers on one queue also take each other's tasks and run
// them against the wrong database (seen: stages never applied, the queue "not found", webhook
// deliveries never made, both here and in the jobs tests).
func queueRedis(t *testing.T) *redis.Options {
	t.Helper()
	return &redis.Options{Addr: miniredis.RunT(t).Addr()}
}

// waitFor polls cond until it holds, failing after a generous deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 15s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPlanChangesSurviveAQueueOutage: starting and cancelling a plan while the job queue's Redis
// does not answer still succeeds (200, the plan RUNNING, then CANCELLED) — the change is in the
// outbox — and once Redis answers again the worker's dispatcher queues the stages, runs them, and
// takes the cancelled plan's last stage off the queue.
func TestPlanChangesSurviveAQueueOutage(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	a := s.newTenant("acme")
	ro := queueRedis(t)
	up := jobs.NewQueue(ro)
	t.Cleanup(up.Close)
	down := deadQueue(t)
	plan := flags + "/checkout/environments/production/rollout-plan"
	s.req("POST", flags, `{"key":"checkout"}`, "auth", a.dev).want(t, 201)
	s.req("POST", flags+"/checkout/environments/production/activate", nil, "auth", a.dev).want(t, 200)
	s.req("PUT", plan, `{"stages":[{"percentage":10},{"percentage":100,"after":"1h"}]}`, "auth", a.dev).want(t, 200)

	s.Svc.SetScheduler(down)
	p := decode[api.PlanResponse](t, s.req("POST", plan+"/start", nil, "auth", a.dev).want(t, 200))
	if p.State != models.PlanRunning {
		t.Fatalf("started during the outage: state %s, want RUNNING", p.State)
	}
	if got := decode[api.PlanResponse](t, s.req("GET", plan, nil, "auth", a.viewer).want(t, 200)); got.State != models.PlanRunning {
		t.Errorf("GET after the start = %s, want RUNNING", got.State)
	}
	var row models.RolloutOutbox
	if err := s.DB.Where("plan_id = ?", p.ID).Take(&row).Error; err != nil || row.Action != models.OutboxSchedule ||
		row.Attempts != 1 || row.LastError == "" {
		t.Errorf("outbox after a start the queue missed = %+v, %v; want one schedule row with its failed attempt", row, err)
	}
	// The same request again is refused as it should be: the plan did start.
	s.req("POST", plan+"/start", nil, "auth", a.dev).want(t, 409)

	// Redis answers again: the worker's dispatcher queues the stages and the first one runs.
	s.Svc.SetScheduler(up)
	w, err := jobs.NewWorker(ro, s.Svc, testenv.Logger(t), 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Shutdown)
	waitFor(t, "the first stage did not run", func() bool {
		got := decode[api.PlanResponse](t, s.req("GET", plan, nil, "auth", a.viewer))
		return got.Stages[0].AppliedAt != nil
	})
	queued := func() error {
		_, err := up.Inspector().GetTaskInfo(jobs.QueueDefault, jobs.StageTaskID(p.ID, 1))
		return err
	}
	waitFor(t, "the second stage is not queued", func() bool { return queued() == nil })
	waitFor(t, "the outbox was not emptied", func() bool { return s.count("rollout_outbox", "1 = 1") == 0 })

	// Down again, a cancel still succeeds; when Redis is back its stage leaves the queue.
	s.Svc.SetScheduler(down)
	if c := decode[api.PlanResponse](t, s.req("POST", plan+"/cancel", nil, "auth", a.dev).want(t, 200)); c.State != models.PlanCancelled {
		t.Fatalf("cancelled during the outage: state %s", c.State)
	}
	if err := queued(); err != nil {
		t.Fatalf("the queue changed while it was unreachable: %v", err)
	}
	s.Svc.SetScheduler(up)
	waitFor(t, "the cancelled plan's stage is still queued", func() bool { return errors.Is(queued(), asynq.ErrTaskNotFound) })
	waitFor(t, "the outbox was not emptied", func() bool { return s.count("rollout_outbox", "1 = 1") == 0 })
}
