package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/services"
)

// fixture is an organisation with an ACTIVE boolean flag "checkout" in production, services
// connected to a real asynq queue.
type fixture struct {
	env *testenv.Env
	sc  services.Scope
}

func newFixture(t *testing.T) *fixture {
	env := testenv.New(t)
	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "ro@example.test", nil, "", "rollouts-password")
	if err != nil {
		t.Fatal(err)
	}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "ro@example.test"}},
		services.OrgInput{Slug: "ro", Name: "RO"})
	if err != nil {
		t.Fatal(err)
	}
	sc := services.Scope{OrgID: org.ID, Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "ro@example.test"}}
	if _, err := env.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "checkout"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Flags.Transition(ctx, sc, "default", "checkout", "production", "activate", 0); err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, sc: sc}
	return f
}

// useQueue connects the services to a real asynq queue of the test's own (workers started after
// it use the same Redis) and returns it with its Redis options.
func (f *fixture) useQueue(t *testing.T) (*jobs.Queue, *redis.Options) {
	ro := testenv.AsynqRedis(t)
	q := jobs.NewQueue(ro)
	t.Cleanup(q.Close)
	f.env.Svc.SetScheduler(q)
	f.env.Redis.Options = ro
	return q, ro
}

func startWorker(t *testing.T, env *testenv.Env, svc *services.Services) func() {
	w, err := jobs.NewWorker(env.Redis.Options, svc, testenv.Logger(t), 4)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() { once.Do(w.Shutdown) }
	t.Cleanup(stop)
	return stop
}

func dur(d time.Duration) *time.Duration { return &d }

// syncClock brings the services' fake clock up to real time: stage due times come from it, but
// asynq fires them by the real clock, so a slow setup must not make "in 2 seconds" already past.
func (f *fixture) syncClock() {
	if d := time.Until(f.env.Clock.Now()); d < 0 {
		f.env.Clock.Advance(-d)
	}
}

func (f *fixture) plan(t *testing.T) *services.Plan {
	p, err := f.env.Svc.Rollouts.Get(context.Background(), f.sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) waitState(t *testing.T, state string, within time.Duration) *services.Plan {
	deadline := time.Now().Add(within)
	for {
		p := f.plan(t)
		if p.State == state {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("plan is %s after %v, want %s (stages %+v)", p.State, within, state, p.Stages)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fixture) count(t *testing.T, table, where string, args ...any) int64 {
	var n int64
	if err := f.env.DB.Table(table).Where(where, args...).Count(&n).Error; err != nil {
		t.Fatal(err)
	}
	return n
}

// enabled evaluates the flag in production for n users and returns who is in.
func (f *fixture) enabled(t *testing.T, envID string, n int) map[int]bool {
	snap, err := f.env.Plane.Get(context.Background(), envID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]bool{}
	fl := snap.Flag("checkout")
	for i := 0; i < n; i++ {
		r := fl.Evaluate(engine.Context{"key": fmt.Sprintf("user-%d", i)})
		if fl.Values[r.Variation] == true {
			out[i] = true
		}
	}
	return out
}

func TestPlanProgressesThroughEveryStage(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ro := testenv.AsynqRedis(t)
	q := jobs.NewQueue(ro)
	t.Cleanup(q.Close)
	f.env.Svc.SetScheduler(q)
	f.env.Redis.Options = ro // the worker reads the queue's Redis
	_, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{MarkRolledOut: true,
		Stages: []services.StageInput{{Percentage: 10}, {Percentage: 30, After: dur(time.Second)}, {Percentage: 60, After: dur(2 * time.Second)},
			{Percentage: 100, After: dur(3 * time.Second)}}})
	if err != nil {
		t.Fatal(err)
	}
	envID := f.plan(t).EnvironmentID
	startWorker(t, f.env, f.env.Svc)
	f.syncClock()
	if _, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	// Watch the audience grow: nobody who was in ever drops out.
	prev := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for f.plan(t).State != models.PlanCompleted {
		if time.Now().After(deadline) {
			t.Fatalf("plan not completed within 10s: %+v", f.plan(t))
		}
		cur := f.enabled(t, envID, 1000)
		for u := range prev {
			if !cur[u] {
				t.Fatalf("user-%d was in and dropped out as the rollout grew", u)
			}
		}
		prev = cur
		time.Sleep(100 * time.Millisecond)
	}
	if n := f.count(t, "audit_events", "action = ?", "feature_flag.rollout_stage_applied"); n != 4 {
		t.Errorf("%d stages applied, want 4", n)
	}
	cfg, err := f.env.Svc.Flags.GetConfig(ctx, f.sc, "default", "checkout", "production")
	if err != nil || cfg.Status != string(engine.RolledOut) {
		t.Errorf("after the last stage the flag is %s, want ROLLED_OUT (%v)", cfg.Status, err)
	}
	if in := f.enabled(t, envID, 1000); len(in) != 1000 {
		t.Errorf("%d of 1000 users in at the end", len(in))
	}
}

func TestEachStageAppliesOnce(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q, ro := f.useQueue(t)
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 20}, {Percentage: 40, After: dur(time.Second)}, {Percentage: 80, After: dur(time.Second)}}}); err != nil {
		t.Fatal(err)
	}
	f.syncClock()
	p, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	// The same stage queued again is refused by its unique id; applied twice directly, it counts once.
	task, _ := jobs.NewApplyStageTask(p.ID, 0, *p.Stages[0].DueAt)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: ro.Addr, DB: ro.DB, Password: ro.Password})
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Enqueue(task); !errors.Is(err, asynq.ErrTaskIDConflict) {
		t.Errorf("a duplicate stage task was accepted: %v", err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := f.env.Svc.Rollouts.ApplyStage(ctx, p.ID, 0); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// Two workers at once on the same queue. Each process's services hold the queue, as `vane serve`
	// and `vane worker` connect it: a stage task standing for a later stage re-queues that stage
	// through it (without it, the re-queue waited for the other worker's outbox dispatch, and failed
	// the test when this worker happened to take every dispatch).
	other := services.New(services.Deps{DB: f.env.DB, Redis: f.env.Redis.Client, Config: f.env.Config, Clock: f.env.Clock, Log: testenv.Logger(t)})
	other.SetScheduler(q)
	startWorker(t, f.env, f.env.Svc)
	startWorker(t, f.env, other)
	f.waitState(t, models.PlanCompleted, 10*time.Second)
	if n := f.count(t, "audit_events", "action = ?", "feature_flag.rollout_stage_applied"); n != 3 {
		t.Errorf("%d stage applications for 3 stages", n)
	}
}

func TestWorkerRestartMidPlan(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.useQueue(t)
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 25}, {Percentage: 100, After: dur(2 * time.Second)}}}); err != nil {
		t.Fatal(err)
	}
	stop := startWorker(t, f.env, f.env.Svc)
	f.syncClock()
	if _, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.plan(t).Stages[0].AppliedAt == nil {
		if time.Now().After(deadline) {
			t.Fatal("first stage not applied")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop() // the worker dies between stages
	time.Sleep(2500 * time.Millisecond)
	if p := f.plan(t); p.State != models.PlanRunning || p.Stages[1].AppliedAt != nil {
		t.Fatalf("with no worker the plan moved on: %+v", p)
	}
	startWorker(t, f.env, f.env.Svc) // a new one picks the overdue stage up
	f.waitState(t, models.PlanCompleted, 10*time.Second)
}

func TestPauseResumeCancelMoveTasks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q, _ := f.useQueue(t)
	f.syncClock()
	soon := f.env.Clock.Now().Add(time.Second)
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 5, At: &soon}, {Percentage: 50, After: dur(time.Hour)}, {Percentage: 100, After: dur(2 * time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	f.syncClock()
	p, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	queued := func() int {
		n := 0
		for pos := 0; pos < 3; pos++ {
			if _, err := q.Inspector().GetTaskInfo(jobs.QueueDefault, jobs.StageTaskID(p.ID, pos)); err == nil {
				n++
			}
		}
		return n
	}
	if n := queued(); n != 3 {
		t.Fatalf("%d stage tasks queued after start, want 3", n)
	}
	if _, err := f.env.Svc.Rollouts.Pause(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 0 {
		t.Fatalf("%d stage tasks still queued after pause", n)
	}
	time.Sleep(1200 * time.Millisecond) // the at-stage is now overdue
	f.env.Clock.Advance(1200 * time.Millisecond)
	startWorker(t, f.env, f.env.Svc)
	if _, err := f.env.Svc.Rollouts.Resume(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.plan(t).Stages[0].AppliedAt == nil { // the overdue stage runs at once
		if time.Now().After(deadline) {
			t.Fatal("the overdue stage was not applied after resume")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := f.plan(t); p.Stages[1].AppliedAt != nil || p.Stages[1].DueAt.Before(f.env.Clock.Now().Add(59*time.Minute)) {
		t.Errorf("resume did not keep the remaining spacing: %+v", p.Stages[1])
	}
	// The applied stage's task stays "active" for a moment after its transaction commits.
	for deadline := time.Now().Add(2 * time.Second); queued() != 2; {
		if time.Now().After(deadline) {
			t.Fatalf("%d stage tasks queued after resume, want 2", queued())
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A manual edit of the rollout pauses the plan and says so; its tasks leave the queue.
	pct := 70.0
	cfg, err := f.env.Svc.Flags.PatchConfig(ctx, f.sc, "default", "checkout", "production", services.ConfigPatch{RolloutPercentage: &pct}, 0)
	if err != nil || cfg.Notice == "" {
		t.Fatalf("manual edit: notice %q, %v", cfg.Notice, err)
	}
	if p := f.plan(t); p.State != models.PlanPaused || p.Reason == "" {
		t.Errorf("after a manual edit the plan is %s (%q)", p.State, p.Reason)
	}
	if n := queued(); n != 0 {
		t.Errorf("%d stage tasks queued after the manual edit", n)
	}
	if _, err := f.env.Svc.Rollouts.Resume(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Svc.Rollouts.Cancel(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	if n := queued(); n != 0 {
		t.Errorf("%d stage tasks queued after cancel", n)
	}
	if p := f.plan(t); p.State != models.PlanCancelled {
		t.Errorf("state after cancel = %s", p.State)
	}
}

// TestGuardCheckTaskRollsBack runs the periodic guard check through a real worker.
func TestGuardCheckTaskRollsBack(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q, ro := f.useQueue(t)
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 20}, {Percentage: 100, After: dur(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	f.syncClock()
	p, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.env.Svc.Guards.Create(ctx, f.sc, "default", "checkout", "production",
		services.GuardInput{Metric: services.MetricErrorRate, Threshold: 0.1, MinSample: 50, Action: services.ActionKillSwitch}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Svc.Metrics.Ingest(ctx, serverKey(t, f.env, p.EnvironmentID), []services.MetricPoint{{FlagKey: "checkout", Variation: "true", Errors: 30, Successes: 70}}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, f.env, f.env.Svc)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: ro.Addr, DB: ro.DB, Password: ro.Password})
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Enqueue(jobs.NewCheckGuardsTask()); err != nil {
		t.Fatal(err)
	}
	f.waitState(t, models.PlanRolledBack, 5*time.Second)
	cfg, err := f.env.Svc.Flags.GetConfig(ctx, f.sc, "default", "checkout", "production")
	if err != nil || cfg.Status != string(engine.Disabled) {
		t.Errorf("after the kill switch the flag is %s (%v)", cfg.Status, err)
	}
	// The rolled-back plan's remaining stage leaves the queue (right after the commit).
	deadline := time.Now().Add(2 * time.Second)
	for {
		_, err := q.Inspector().GetTaskInfo(jobs.QueueDefault, jobs.StageTaskID(p.ID, 1))
		if errors.Is(err, asynq.ErrTaskNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stage 1 still queued 2s after the rollback: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUndecodablePayloadIsNotRetried: a stage task whose payload cannot be read is archived at once.
func TestUndecodablePayloadIsNotRetried(t *testing.T) {
	env := testenv.New(t)
	env.Redis.Options = testenv.AsynqRedis(t)
	startWorker(t, env, env.Svc)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: env.Redis.Options.Addr, DB: env.Redis.Options.DB, Password: env.Redis.Options.Password})
	t.Cleanup(func() { _ = client.Close() })
	info, err := client.Enqueue(asynq.NewTask(jobs.TypeApplyStage, []byte("{not json"), asynq.Queue(jobs.QueueDefault), asynq.MaxRetry(5)))
	if err != nil {
		t.Fatal(err)
	}
	q := jobs.NewQueue(env.Redis.Options)
	t.Cleanup(q.Close)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, err := q.Inspector().GetTaskInfo(jobs.QueueDefault, info.ID)
		if err == nil && got.State == asynq.TaskStateArchived {
			if got.Retried != 0 {
				t.Errorf("an undecodable task was retried %d times", got.Retried)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task not archived: %+v %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appliedTimes returns when each stage of the plan applied (zero: not yet).
func appliedTimes(p *services.Plan) []time.Time {
	out := make([]time.Time, len(p.Stages))
	for i, s := range p.Stages {
		if s.AppliedAt != nil {
			out[i] = *s.AppliedAt
		}
	}
	return out
}

// TestOverdueStagesKeepTheirSpacing: a 5% / 30% after 2s / 60% after 4s plan whose stages all fell
// due while no worker ran (an outage) applies 5% as soon as a worker is back, 30% only 2 s after
// that, and 60% 2 s after 30% — never two stages at the same instant.
func TestOverdueStagesKeepTheirSpacing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.useQueue(t)
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 5}, {Percentage: 30, After: dur(2 * time.Second)}, {Percentage: 60, After: dur(4 * time.Second)}}}); err != nil {
		t.Fatal(err)
	}
	f.syncClock()
	f.env.Clock.Advance(-10 * time.Second) // the plan started 10 s ago: every stage is overdue, its task waiting in the queue
	if _, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	f.syncClock()
	back := f.env.Clock.Now()
	startWorker(t, f.env, f.env.Svc)
	deadline := time.Now().Add(20 * time.Second)
	p := f.plan(t)
	var lag time.Duration // how far the services' clock fell behind the real one at most
	for ; p.State != models.PlanCompleted; p = f.plan(t) {
		if time.Now().After(deadline) {
			t.Fatalf("plan %s after 20s: applied at %v", p.State, appliedTimes(p))
		}
		lag = max(lag, time.Since(f.env.Clock.Now()))
		f.syncClock() // the services' clock follows the real one, which the queue runs by
		time.Sleep(20 * time.Millisecond)
	}
	at := appliedTimes(p)
	t.Logf("back at %v; stages applied %v, %v, %v after (clock lag up to %v)", back.Format("15:04:05.000"), at[0].Sub(back),
		at[1].Sub(back), at[2].Sub(back), lag)
	if d := at[0].Sub(back); d > 5*time.Second {
		t.Errorf("5%% applied %v after the worker came back, want at once", d)
	}
	// A stage's task runs by the real clock and records the services' clock, which lags it by up
	// to lag: a gap is its planned 2 s less that lag at worst.
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < 1900*time.Millisecond-lag {
			t.Errorf("stage %d applied %v after stage %d, want at least its planned 2s (less the clock's lag, %v)", i, gap, i-1, lag)
		}
	}
	if n := f.count(t, "audit_events", "action = ?", "feature_flag.rollout_stage_applied"); n != 3 {
		t.Errorf("%d stage applications, want 3", n)
	}
}

// TestReconcileAppliesOneStageAtATime: the safety net, finding every stage of a plan overdue (the
// queue lost its tasks), applies the next one only and moves the others to keep their gaps; their
// tasks are queued again for the new times.
func TestReconcileAppliesOneStageAtATime(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	q, _ := f.useQueue(t)
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 5}, {Percentage: 30, After: dur(2 * time.Second)}, {Percentage: 60, After: dur(4 * time.Second)}}}); err != nil {
		t.Fatal(err)
	}
	p, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(10 * time.Second) // no worker ran meanwhile
	for i, step := range []struct {
		advance time.Duration
		applied int   // stages Reconcile applies
		done    []int // stages applied after it
	}{
		{0, 1, []int{0}},
		{0, 0, []int{0}},
		{1900 * time.Millisecond, 0, []int{0}},
		{200 * time.Millisecond, 1, []int{0, 1}},
		{1900 * time.Millisecond, 0, []int{0, 1}},
		{200 * time.Millisecond, 1, []int{0, 1, 2}},
	} {
		f.env.Clock.Advance(step.advance)
		n, err := f.env.Svc.Rollouts.Reconcile(ctx, 0)
		if err != nil || n != step.applied {
			t.Fatalf("step %d: Reconcile = %d, %v; want %d", i, n, err, step.applied)
		}
		cur := f.plan(t)
		var done []int
		for _, s := range cur.Stages {
			if s.AppliedAt != nil {
				done = append(done, s.Position)
			}
		}
		if !slices.Equal(done, step.done) {
			t.Fatalf("step %d: applied stages %v, want %v", i, done, step.done)
		}
		// The next stage is due 2 s after this one applied, and queued for then.
		if last := step.done[len(step.done)-1]; step.applied == 1 && last+1 < len(cur.Stages) {
			next := cur.Stages[last+1]
			if want := cur.Stages[last].AppliedAt.Add(2 * time.Second); !next.DueAt.Equal(want) {
				t.Errorf("step %d: stage %d due %v, want %v", i, next.Position, next.DueAt, want)
			}
			info, err := q.Inspector().GetTaskInfo(jobs.QueueDefault, jobs.StageTaskID(p.ID, next.Position))
			if err != nil || info.NextProcessAt.Before(*next.DueAt) {
				t.Errorf("step %d: stage %d's task = %+v, %v; want it queued for %v", i, next.Position, info, err, next.DueAt)
			}
		}
	}
	if cur := f.plan(t); cur.State != models.PlanCompleted {
		t.Errorf("plan %s after its last stage", cur.State)
	}
}

// TestResumeKeepsTheGapsOfOverdueStages: a plan paused long enough for its three at stages (1 s
// apart) to pass resumes with the first at once and the others still 1 s apart, not all at once.
func TestResumeKeepsTheGapsOfOverdueStages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.useQueue(t)
	now := f.env.Clock.Now().Truncate(time.Second)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	if _, err := f.env.Svc.Rollouts.Put(ctx, f.sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 5, At: at(time.Minute)}, {Percentage: 30, At: at(time.Minute + time.Second)},
			{Percentage: 60, At: at(time.Minute + 2*time.Second)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Svc.Rollouts.Start(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Svc.Rollouts.Pause(ctx, f.sc, "default", "checkout", "production"); err != nil {
		t.Fatal(err)
	}
	f.env.Clock.Advance(time.Hour)
	p, err := f.env.Svc.Rollouts.Resume(ctx, f.sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	resumed := f.env.Clock.Now().Truncate(time.Microsecond) // what the database keeps
	for i, want := range []time.Time{resumed, resumed.Add(time.Second), resumed.Add(2 * time.Second)} {
		if got := p.Stages[i].DueAt; got == nil || !got.Equal(want) {
			t.Errorf("stage %d due %v after the resume, want %v", i, got, want)
		}
	}
}
