package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/keys"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// verifyWebhook is the check the README gives receivers: the signature of "<t>.<body>", compared in
// constant time, and a timestamp at most five minutes from now, so a captured delivery cannot be
// replayed later.
func verifyWebhook(secret, header string, body []byte, now time.Time) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("malformed X-Vane-Signature")
	}
	if d := now.Sub(time.Unix(t, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside the tolerance")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	if !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return errors.New("bad signature")
	}
	return nil
}

// hookOrg is an organisation and its admin's scope on a test's services.
func hookOrg(t *testing.T, env *testenv.Env) services.Scope {
	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "hooks@example.test", nil, "", "webhooks-password")
	if err != nil {
		t.Fatal(err)
	}
	p := &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "hooks@example.test"}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: p}, services.OrgInput{Slug: "hooks", Name: "Hooks"})
	if err != nil {
		t.Fatal(err)
	}
	return services.Scope{OrgID: org.ID, Principal: p}
}

// hookFixture is an organisation with a webhook to url (deliveries to private addresses allowed,
// retries 100 ms apart) and a worker running.
func hookFixture(t *testing.T, url string) (*testenv.Env, services.Scope, *models.Webhook, *asynq.Client) {
	env := testenv.New(t, func(c *config.Config) {
		c.WebhookAllowPrivate = true
		c.WebhookRetryBase = 100 * time.Millisecond
	})
	ctx := context.Background()
	sc := hookOrg(t, env)
	w, err := env.Svc.Webhooks.Create(ctx, sc, services.WebhookInput{URL: url, Events: []string{"feature_flag.*"}})
	if err != nil {
		t.Fatal(err)
	}
	env.Redis.Options = testenv.AsynqRedis(t)
	startWorker(t, env, env.Svc)
	return env, sc, w, asynqClient(t, env)
}

func asynqClient(t *testing.T, env *testenv.Env) *asynq.Client {
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: env.Redis.Options.Addr, DB: env.Redis.Options.DB, Password: env.Redis.Options.Password})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// serverKey is the environment's current server SDK key, as the SDK authentication resolves it.
func serverKey(t *testing.T, env *testenv.Env, envID string) *dataplane.SDKKey {
	var k models.SDKKey
	if err := env.DB.Where("environment_id = ? AND kind = ? AND expires_at IS NULL", envID, models.SDKServer).Take(&k).Error; err != nil {
		t.Fatal(err)
	}
	info, err := env.Plane.ResolveKey(k.Key)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// waitDelivery polls until the delivery of a webhook for an event has a status.
func waitDelivery(t *testing.T, env *testenv.Env, webhookID, event, status string, within time.Duration) models.WebhookDelivery {
	deadline := time.Now().Add(within)
	for {
		var d models.WebhookDelivery
		err := env.DB.Where("webhook_id = ? AND event = ?", webhookID, event).Take(&d).Error
		if err == nil && d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery of %s to webhook %s not %s within %v: %+v %v", event, webhookID, status, within, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// receiver is an httptest server that records what it is sent and answers with the status the
// test chooses for each call (1-based).
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	calls   []receivedCall
	answers func(call int) int
}

type receivedCall struct {
	header http.Header
	body   []byte
	at     time.Time
}

func newReceiver(t *testing.T, answers func(call int) int) *receiver {
	rc := &receiver{answers: answers}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.calls = append(rc.calls, receivedCall{header: r.Header.Clone(), body: b, at: time.Now()})
		n := len(rc.calls)
		rc.mu.Unlock()
		w.WriteHeader(rc.answers(n))
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) received() []receivedCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]receivedCall(nil), rc.calls...)
}

func TestWebhookSignedAndRetried(t *testing.T) {
	rc := newReceiver(t, func(call int) int {
		if call <= 2 {
			return http.StatusServiceUnavailable // fails twice, then succeeds
		}
		return http.StatusNoContent
	})
	env, sc, hook, client := hookFixture(t, rc.URL)
	if _, err := env.Svc.Flags.Create(context.Background(), sc, "default", services.FlagInput{Key: "checkout"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Enqueue(jobs.NewDispatchWebhooksTask()); err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, env, hook.ID, "feature_flag.created", models.DeliverySucceeded, 10*time.Second)
	calls := rc.received()
	if d.Attempts != 3 || len(calls) != 3 || d.LastStatusCode != 204 {
		t.Fatalf("delivery = %+v after %d calls; want 3 attempts", d, len(calls))
	}
	for i, c := range calls {
		sig := c.header.Get("X-Vane-Signature")
		if err := verifyWebhook(hook.Secret, sig, c.body, c.at); err != nil || c.header.Get("X-Vane-Event") != "feature_flag.created" {
			t.Errorf("call %d: X-Vane-Signature %q: %v; event %q", i+1, sig, err, c.header.Get("X-Vane-Event"))
		}
		// The same request replayed later than the tolerance, or with another body, is refused.
		if err := verifyWebhook(hook.Secret, sig, c.body, c.at.Add(6*time.Minute)); err == nil {
			t.Errorf("call %d: a replay six minutes later verified", i+1)
		}
		if err := verifyWebhook(hook.Secret, sig, append(c.body, ' '), c.at); err == nil {
			t.Errorf("call %d: a changed body verified", i+1)
		}
	}
	body := string(calls[2].body)
	if !strings.Contains(body, `"event":"feature_flag.created"`) || !strings.Contains(body, `"key":"default/checkout"`) {
		t.Errorf("payload = %s", body)
	}
}

// TestWebhookReservedAddressRefusedAtDial: the dialer judges the address it is about to connect to
// with the same list as creation (a name may resolve elsewhere by then; older rows were never
// checked): a delivery to a reserved address fails at once, without retries, naming the range.
func TestWebhookReservedAddressRefusedAtDial(t *testing.T) {
	rc := newReceiver(t, func(int) int {
		t.Error("a delivery reached a loopback address")
		return http.StatusNoContent
	})
	env := testenv.New(t, func(c *config.Config) { c.WebhookRetryBase = 100 * time.Millisecond })
	ctx := context.Background()
	sc := hookOrg(t, env)
	cases := map[string]string{
		rc.URL:                               "127.0.0.0/8 (loopback)",
		"http://100.64.0.1:9/hook":           "100.64.0.0/10",
		"http://198.18.0.1:9/hook":           "198.18.0.0/15",
		"http://[64:ff9b::808:808]:9/hook":   "64:ff9b::/96",
		"http://[::ffff:169.254.169.254]/md": "169.254.0.0/16",
	}
	hooks := map[string]string{}
	now := time.Now().UTC()
	for url := range cases {
		// Written as a row: creation would refuse these URLs now.
		w := models.Webhook{ID: models.NewID(), OrgID: sc.OrgID, URL: url, Events: []string{"*"}, Secret: keys.Secret("whsec_"), Active: true,
			CreatedAt: now, UpdatedAt: now, Version: 1}
		if err := env.DB.Create(&w).Error; err != nil {
			t.Fatal(err)
		}
		hooks[url] = w.ID
	}
	if _, err := env.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "checkout"}); err != nil {
		t.Fatal(err)
	}
	env.Redis.Options = testenv.AsynqRedis(t)
	startWorker(t, env, env.Svc)
	if _, err := asynqClient(t, env).Enqueue(jobs.NewDispatchWebhooksTask()); err != nil {
		t.Fatal(err)
	}
	for url, reason := range cases {
		t.Run(url, func(t *testing.T) {
			d := waitDelivery(t, env, hooks[url], "feature_flag.created", models.DeliveryFailed, 10*time.Second)
			if d.Attempts != 1 || !strings.Contains(d.LastError, "reserved") || !strings.Contains(d.LastError, reason) {
				t.Errorf("delivery to %s = %+v, want refused at once (1 attempt) naming %s", url, d, reason)
			}
		})
	}
}

// TestWebhookRedeliver: a delivery that failed (its one sending here has no retries left) is sent
// again by hand: the worker picks the redelivery up as a new job and the receiver, healthy again,
// gets it, freshly signed.
func TestWebhookRedeliver(t *testing.T) {
	rc := newReceiver(t, func(call int) int {
		if call == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	env := testenv.New(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	ctx := context.Background()
	sc := hookOrg(t, env)
	hook, err := env.Svc.Webhooks.Create(ctx, sc, services.WebhookInput{URL: rc.URL, Events: []string{"feature_flag.created"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "checkout"}); err != nil {
		t.Fatal(err)
	}
	env.Redis.Options = testenv.AsynqRedis(t)
	client := asynqClient(t, env)
	// The first sending is queued as the dispatcher would, but with no retries, so it fails for good
	// at its first 500 instead of after eight backoffs.
	if _, err := env.Svc.Webhooks.Dispatch(ctx, func(id string, n int) error {
		task, err := jobs.NewDeliverWebhookTask(id, n)
		if err != nil {
			return err
		}
		_, err = client.Enqueue(task, asynq.MaxRetry(0))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, env, env.Svc)
	d := waitDelivery(t, env, hook.ID, "feature_flag.created", models.DeliveryFailed, 10*time.Second)
	if d.Attempts != 1 || d.LastStatusCode != 500 {
		t.Fatalf("failed delivery = %+v, want 1 attempt answered 500", d)
	}
	if _, err := env.Svc.Webhooks.Redeliver(ctx, sc, hook.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	// The worker's own dispatcher (every 2 s) queues the redelivery.
	d = waitDelivery(t, env, hook.ID, "feature_flag.created", models.DeliverySucceeded, 10*time.Second)
	calls := rc.received()
	if d.Attempts != 2 || d.Redeliveries != 1 || d.LastStatusCode != 200 || d.DeliveredAt == nil || len(calls) != 2 {
		t.Fatalf("redelivered = %+v after %d calls; want succeeded on its 2nd attempt, 1 redelivery", d, len(calls))
	}
	if err := verifyWebhook(hook.Secret, calls[1].header.Get("X-Vane-Signature"), calls[1].body, calls[1].at); err != nil ||
		string(calls[1].body) != string(calls[0].body) || calls[1].header.Get("X-Vane-Delivery") != d.ID {
		t.Errorf("redelivery: signature %v, same body %v, delivery header %q", err, string(calls[1].body) == string(calls[0].body),
			calls[1].header.Get("X-Vane-Delivery"))
	}
	// A delivery that succeeded cannot be redelivered.
	if _, err := env.Svc.Webhooks.Redeliver(ctx, sc, hook.ID, d.ID); err == nil {
		t.Error("a succeeded delivery was redelivered")
	}
}

// TestRollbackWebhookNamesTheReporter: a guard rollback run by the worker's periodic check reaches
// the webhook with the SDK key that reported the breaching figures (id and masked form).
func TestRollbackWebhookNamesTheReporter(t *testing.T) {
	rc := newReceiver(t, func(int) int { return http.StatusNoContent })
	env := testenv.New(t, func(c *config.Config) { c.WebhookAllowPrivate = true })
	ctx := context.Background()
	sc := hookOrg(t, env)
	if _, err := env.Svc.Webhooks.Create(ctx, sc, services.WebhookInput{URL: rc.URL, Events: []string{"feature_flag.auto_rolled_back"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "checkout"}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Flags.Transition(ctx, sc, "default", "checkout", "production", "activate", 0); err != nil {
		t.Fatal(err)
	}
	f := &fixture{env: env, sc: sc}
	f.useQueue(t)
	if _, err := env.Svc.Rollouts.Put(ctx, sc, "default", "checkout", "production", services.PlanInput{
		Stages: []services.StageInput{{Percentage: 20}, {Percentage: 100, After: dur(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	f.syncClock()
	p, err := env.Svc.Rollouts.Start(ctx, sc, "default", "checkout", "production")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := env.Svc.Guards.Create(ctx, sc, "default", "checkout", "production",
		services.GuardInput{Metric: services.MetricErrorRate, Threshold: 0.1, MinSample: 50, Action: services.ActionKillSwitch}); err != nil {
		t.Fatal(err)
	}
	key := serverKey(t, env, p.EnvironmentID)
	if _, err := env.Svc.Metrics.Ingest(ctx, key, []services.MetricPoint{{FlagKey: "checkout", Variation: "true", Errors: 30, Successes: 70}}); err != nil {
		t.Fatal(err)
	}
	startWorker(t, env, env.Svc)
	if _, err := asynqClient(t, env).Enqueue(jobs.NewCheckGuardsTask()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(rc.received()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no rollback webhook within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	var payload struct {
		Event string `json:"event"`
		After struct {
			Reporters []services.Reporter `json:"reporters"`
		} `json:"after"`
	}
	body := rc.received()[0].body
	if err := json.Unmarshal(body, &payload); err != nil {
		t.Fatal(err)
	}
	want := services.Reporter{SDKKeyID: key.ID, SDKKey: keys.Mask(key.Key), Variation: "true", Errors: 30, Sample: 100}
	if payload.Event != "feature_flag.auto_rolled_back" || len(payload.After.Reporters) != 1 || payload.After.Reporters[0] != want {
		t.Errorf("rollback webhook = %s, want the event naming reporter %+v", body, want)
	}
	if strings.Contains(string(body), key.Key) {
		t.Error("the webhook payload contains the server key's secret")
	}
}
