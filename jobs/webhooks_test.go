package jobs_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/jobs"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// hookFixture is an organisation with a flag and a webhook to url, and a worker running.
func hookFixture(t *testing.T, url string, allowPrivate bool) (*testenv.Env, services.Scope, *models.Webhook, *asynq.Client) {
	env := testenv.New(t, func(c *config.Config) {
		c.WebhookAllowPrivate = allowPrivate
		c.WebhookRetryBase = 100 * time.Millisecond
	})
	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "hooks@example.test", nil, "", "webhooks")
	if err != nil {
		t.Fatal(err)
	}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "hooks@example.test"}},
		services.OrgInput{Slug: "hooks", Name: "Hooks"})
	if err != nil {
		t.Fatal(err)
	}
	sc := services.Scope{OrgID: org.ID, Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "hooks@example.test"}}
	w, err := env.Svc.Webhooks.Create(ctx, sc, services.WebhookInput{URL: url, Events: []string{"feature_flag.*"}})
	if err != nil {
		t.Fatal(err)
	}
	env.Redis.Options = testenv.AsynqRedis(t)
	startWorker(t, env, env.Svc)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: env.Redis.Options.Addr, DB: env.Redis.Options.DB, Password: env.Redis.Options.Password})
	t.Cleanup(func() { _ = client.Close() })
	if _, err := env.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "checkout"}); err != nil {
		t.Fatal(err)
	}
	return env, sc, w, client
}

func waitDelivery(t *testing.T, env *testenv.Env, status string, within time.Duration) models.WebhookDelivery {
	deadline := time.Now().Add(within)
	for {
		var d models.WebhookDelivery
		err := env.DB.Where("event = ?", "feature_flag.created").Take(&d).Error
		if err == nil && d.Status == status {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("delivery not %s within %v: %+v %v", status, within, d, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestWebhookSignedAndRetried(t *testing.T) {
	var mu sync.Mutex
	calls, badSignatures := 0, 0
	var secret string
	var body string
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(b)
		if r.Header.Get("X-Vane-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) || r.Header.Get("X-Vane-Event") != "feature_flag.created" {
			badSignatures++
		}
		body = string(b)
		if calls <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable) // fails twice, then succeeds
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(receiver.Close)
	env, _, hook, client := hookFixture(t, receiver.URL, true)
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()
	if _, err := client.Enqueue(jobs.NewDispatchWebhooksTask()); err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, env, models.DeliverySucceeded, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	if d.Attempts != 3 || calls != 3 || badSignatures != 0 || d.LastStatusCode != 204 {
		t.Errorf("delivery = %+v after %d calls (%d with a bad signature); want 3 attempts, all signed", d, calls, badSignatures)
	}
	if !strings.Contains(body, `"event":"feature_flag.created"`) || !strings.Contains(body, `"key":"default/checkout"`) {
		t.Errorf("payload = %s", body)
	}
}

func TestWebhookToPrivateAddressRefused(t *testing.T) {
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		t.Error("a delivery reached a loopback address")
	}))
	t.Cleanup(receiver.Close)
	env, _, _, client := hookFixture(t, receiver.URL, false)
	if _, err := client.Enqueue(jobs.NewDispatchWebhooksTask()); err != nil {
		t.Fatal(err)
	}
	d := waitDelivery(t, env, models.DeliveryFailed, 10*time.Second)
	if d.Attempts != 1 || !strings.Contains(d.LastError, "private") {
		t.Errorf("delivery to 127.0.0.1 = %+v, want refused at once (no retries)", d)
	}
}
