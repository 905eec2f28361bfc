package services_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vanehq/vane/internal/config"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/services"
)

// TestConcurrentDemotionsKeepAnAdmin: two admins demote each other at the same moment. Without the
// organisation lock both would see two admins and both succeed, leaving none.
func TestConcurrentDemotionsKeepAnAdmin(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	svc := env.Svc
	a, err := svc.Auth.CreateUser(ctx, "a@example.test", nil, "", "password-a")
	if err != nil {
		t.Fatal(err)
	}
	org, err := svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: a.ID}},
		services.OrgInput{Slug: "race", Name: "Race"})
	if err != nil {
		t.Fatal(err)
	}
	sc := services.SystemScope(org.ID)
	_, tok, err := svc.Members.Invite(ctx, sc, "b@example.test", models.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Auth.AcceptInvite(ctx, services.AcceptInviteInput{Token: tok, Password: "password-b"}, ""); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		var wg sync.WaitGroup
		results := make([]error, 2)
		for i, who := range []string{"a@example.test", "b@example.test"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, results[i] = svc.Members.UpdateRole(ctx, sc, who, models.RoleViewer, 0)
			}()
		}
		wg.Wait()
		n, err := models.CountAdmins(env.DB, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("round %d: %d admins left after concurrent demotions (errors %v), want 1", round, n, results)
		}
		conflicts := 0
		for _, e := range results {
			if errs.KindOf(e) == errs.Conflict {
				conflicts++
			} else if e != nil {
				t.Fatalf("round %d: unexpected error %v", round, e)
			}
		}
		if conflicts != 1 {
			t.Fatalf("round %d: %d conflicts, want exactly 1", round, conflicts)
		}
		// Make both admins again for the next round.
		for _, who := range []string{"a@example.test", "b@example.test"} {
			if _, err := svc.Members.UpdateRole(ctx, sc, who, models.RoleAdmin, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestConcurrentRefreshUsesATokenOnce: the same refresh token presented several times at once
// yields one new session (the same new refresh token for every caller), never two.
func TestConcurrentRefreshUsesATokenOnce(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	if _, err := env.Svc.Auth.CreateUser(ctx, "r@example.test", nil, "", "password-r"); err != nil {
		t.Fatal(err)
	}
	for round := 0; round < 5; round++ {
		tok, err := env.Svc.Auth.Login(ctx, "r@example.test", "password-r", "")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		results := make([]error, 4)
		sessions := make([]string, 4)
		for i := range results {
			wg.Add(1)
			go func() {
				defer wg.Done()
				next, err := env.Svc.Auth.Refresh(ctx, tok.RefreshToken)
				if results[i] = err; err == nil {
					sessions[i] = next.RefreshToken
				}
			}()
		}
		wg.Wait()
		distinct := map[string]bool{}
		for i, e := range results {
			if e != nil {
				t.Fatalf("round %d: refresh failed with %v (kind %v)", round, e, errs.KindOf(e))
			}
			distinct[sessions[i]] = true
		}
		if len(distinct) != 1 {
			t.Fatalf("round %d: one refresh token made %d new sessions", round, len(distinct))
		}
	}
}

// TestEditsRaceStagesWithoutConflict: hand edits of a configuration and rollout stages applied at
// the same moment queue on the configuration's locks instead of failing with a stale version (or
// deadlocking), although nobody sent If-Match.
func TestEditsRaceStagesWithoutConflict(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "race@example.test", nil, "", "password-r")
	if err != nil {
		t.Fatal(err)
	}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID}},
		services.OrgInput{Slug: "race2", Name: "Race"})
	if err != nil {
		t.Fatal(err)
	}
	sc := services.Scope{OrgID: org.ID, Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID, Name: "race@example.test"}}
	if _, err := env.Svc.Flags.Create(ctx, sc, "default", services.FlagInput{Key: "f", Status: "ACTIVE"}); err != nil {
		t.Fatal(err)
	}
	var stages []services.StageInput
	for i := 0; i < 10; i++ {
		stages = append(stages, services.StageInput{Percentage: float64(i * 10)})
	}
	if _, err := env.Svc.Rollouts.Put(ctx, sc, "default", "f", "production", services.PlanInput{Stages: stages}); err != nil {
		t.Fatal(err)
	}
	sched := &nopScheduler{}
	env.Svc.SetScheduler(sched)
	p, err := env.Svc.Rollouts.Start(ctx, sc, "default", "f", "production")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, 40)
	for i := 0; i < 10; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := env.Svc.Rollouts.ApplyStage(ctx, p.ID, i); err != nil {
				errc <- err
			}
		}()
		go func() {
			defer wg.Done()
			desc := fmt.Sprintf("edit %d", i)
			if _, err := env.Svc.Flags.PatchConfig(ctx, sc, "default", "f", "production", services.ConfigPatch{Salt: &desc}, 0); err != nil {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Errorf("a concurrent write failed: %v", err)
	}
}

type nopScheduler struct{}

func (*nopScheduler) ScheduleStage(context.Context, string, int, time.Time) error { return nil }
func (*nopScheduler) UnscheduleStages(context.Context, string, []int) error       { return nil }

// TestBootstrapRefusesACommonAdminPassword: VANE_ADMIN_PASSWORD follows the password policy too; a
// commonly breached one stops the first start instead of guarding the first ADMIN.
func TestBootstrapRefusesACommonAdminPassword(t *testing.T) {
	t.Parallel()
	env := testenv.New(t, func(c *config.Config) { c.AdminPassword = "password1234" })
	_, err := env.Svc.Bootstrap(context.Background())
	if errs.KindOf(err) != errs.Invalid || !strings.Contains(err.Error(), "VANE_ADMIN_PASSWORD") {
		t.Fatalf("Bootstrap with a common admin password = %v, want a validation error naming VANE_ADMIN_PASSWORD", err)
	}
	if n, _ := models.CountUsers(env.DB); n != 0 {
		t.Errorf("%d users created", n)
	}
}
