package services_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vanehq/vane/dataplane"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/internal/testenv"
	"github.com/vanehq/vane/models"
	"github.com/vanehq/vane/sdk/go/engine"
	"github.com/vanehq/vane/services"
)

// incrementalFixture is an organisation whose default project the tests change at random.
type incrementalFixture struct {
	t       *testing.T
	env     *testenv.Env
	sc      services.Scope
	envIDs  []string
	envKeys []string
	rnd     *rand.Rand
	flags   []string
	segs    []string
	next    int
}

func newIncrementalFixture(t *testing.T, seed uint64) *incrementalFixture {
	env := testenv.New(t)
	ctx := context.Background()
	u, err := env.Svc.Auth.CreateUser(ctx, "inc@example.test", nil, "", "incremental-password")
	if err != nil {
		t.Fatal(err)
	}
	org, err := env.Svc.Orgs.Create(ctx, services.Scope{Principal: &services.Principal{Kind: services.PrincipalUser, ID: u.ID}},
		services.OrgInput{Slug: testenv.Name("inc"), Name: "Incremental"})
	if err != nil {
		t.Fatal(err)
	}
	fx := &incrementalFixture{t: t, env: env, sc: services.SystemScope(org.ID), rnd: rand.New(rand.NewPCG(seed, 7))}
	for _, k := range []string{"production", "staging", "development"} {
		e, err := env.Svc.Environments.Get(ctx, fx.sc, "default", k)
		if err != nil {
			t.Fatal(err)
		}
		fx.envIDs, fx.envKeys = append(fx.envIDs, e.ID), append(fx.envKeys, k)
	}
	return fx
}

func jsonValues(vs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(vs))
	for i, v := range vs {
		out[i], _ = json.Marshal(v)
	}
	return out
}

func (fx *incrementalFixture) pick(list []string) string {
	if len(list) == 0 {
		return "none"
	}
	return list[fx.rnd.IntN(len(list))]
}

// conditions are one or two random conditions: attributes, and segments when there are some.
func (fx *incrementalFixture) conditions() []engine.Condition {
	all := []engine.Condition{
		{Attribute: "country", Operator: engine.OpIn, Values: jsonValues("US", "CA")},
		{Attribute: "plan", Operator: engine.OpEquals, Values: jsonValues("pro")},
		{Attribute: "email", Operator: engine.OpEndsWith, Values: jsonValues("@corp.example")},
	}
	if len(fx.segs) > 0 {
		all = append(all, engine.Condition{Segment: fx.pick(fx.segs)}, engine.Condition{NotSegment: fx.pick(fx.segs)})
	}
	n := 1 + fx.rnd.IntN(2)
	out := make([]engine.Condition, n)
	for i := range out {
		out[i] = all[fx.rnd.IntN(len(all))]
	}
	return out
}

// step makes one random change through the services; refused changes (a transition the status
// machine forbids, a segment still in use) are part of the game.
func (fx *incrementalFixture) step() string {
	ctx := context.Background()
	env := fx.pick(fx.envKeys)
	pct := float64(fx.rnd.IntN(101))
	var err error
	var what string
	switch op := fx.rnd.IntN(10); {
	case op == 0 || len(fx.flags) < 3:
		fx.next++
		key := fmt.Sprintf("flag-%03d", fx.next)
		what = "create flag " + key
		in := services.FlagInput{Key: key, Name: key, Type: engine.Boolean, Status: engine.Active,
			Config: &services.ConfigPatch{RolloutPercentage: &pct}}
		if fx.rnd.IntN(3) == 0 {
			in.Type = engine.String
			in.Variations = []engine.Variation{{ID: "red", Value: json.RawMessage(`"red"`)}, {ID: "blue", Value: json.RawMessage(`"blue"`)}}
			in.Config = nil
			in.DefaultVariation = "red"
			in.OnVariation = "blue"
		}
		if _, err = fx.env.Svc.Flags.Create(ctx, fx.sc, "default", in); err == nil {
			fx.flags = append(fx.flags, key)
		}
	case op <= 3:
		f := fx.pick(fx.flags)
		what = "rules of " + f + " in " + env
		rules := []engine.Rule{{Conditions: fx.conditions(), Serve: engine.Serve{Variation: "__on"}}}
		c, gerr := fx.env.Svc.Flags.GetConfig(ctx, fx.sc, "default", f, env)
		if gerr != nil {
			return what + ": " + gerr.Error()
		}
		rules[0].Serve.Variation = c.OnVariation
		if rules[0].Serve.Variation == "" {
			rules[0].Serve.Variation = c.Flag.Variations[0].ID
		}
		_, err = fx.env.Svc.Flags.PatchConfig(ctx, fx.sc, "default", f, env, services.ConfigPatch{Rules: &rules}, 0)
	case op == 4:
		f, verb := fx.pick(fx.flags), fx.pick([]string{"enable", "disable", "pause", "resume", "rollout", "archive", "activate"})
		what = verb + " " + f + " in " + env
		_, err = fx.env.Svc.Flags.Transition(ctx, fx.sc, "default", f, env, verb, 0)
	case op == 5:
		f := fx.pick(fx.flags)
		visible := fx.rnd.IntN(2) == 0
		what = fmt.Sprintf("client_visible of %s = %v", f, visible)
		_, err = fx.env.Svc.Flags.Update(ctx, fx.sc, "default", f, services.FlagPatch{ClientVisible: &visible}, 0)
	case op == 6:
		f := fx.pick(fx.flags)
		what = "delete flag " + f
		if err = fx.env.Svc.Flags.Delete(ctx, fx.sc, "default", f); err == nil {
			fx.flags = slices.DeleteFunc(fx.flags, func(k string) bool { return k == f })
		}
	case op == 7:
		fx.next++
		key := fmt.Sprintf("seg-%03d", fx.next)
		what = "create segment " + key
		in := services.SegmentInput{Key: key, Name: key, Included: []string{"user-1"}}
		if fx.rnd.IntN(2) == 0 {
			in.Conditions = fx.conditions()
		}
		if _, err = fx.env.Svc.Segments.Create(ctx, fx.sc, "default", in); err == nil {
			fx.segs = append(fx.segs, key)
		}
	case op == 8:
		s := fx.pick(fx.segs)
		what = "change segment " + s
		conds := fx.conditions()
		excluded := []string{fmt.Sprintf("user-%d", fx.rnd.IntN(8))}
		_, err = fx.env.Svc.Segments.Update(ctx, fx.sc, "default", s, services.SegmentPatch{Conditions: &conds, Excluded: &excluded}, 0)
	default:
		s := fx.pick(fx.segs)
		what = "delete segment " + s
		if err = fx.env.Svc.Segments.Delete(ctx, fx.sc, "default", s); err == nil {
			fx.segs = slices.DeleteFunc(fx.segs, func(k string) bool { return k == s })
		}
	}
	if err != nil {
		if e, ok := errs.As(err); ok && (e.Kind == errs.Conflict || e.Kind == errs.Invalid || e.Kind == errs.NotFound) {
			return what + " (refused: " + err.Error() + ")"
		}
		fx.t.Fatalf("%s: %v", what, err)
	}
	return what
}

var incrementalContexts = func() []engine.Context {
	var out []engine.Context
	for i := 0; i < 8; i++ {
		out = append(out, engine.Context{"key": fmt.Sprintf("user-%d", i), "country": []string{"US", "FR", "CA"}[i%3],
			"plan": []string{"pro", "free"}[i%2], "email": []string{"a@corp.example", "b@mail.example"}[i%2]})
	}
	return append(out, engine.Context{"country": "US"})
}()

// sameSnapshot fails unless the snapshot the plane keeps current agrees with one built afresh:
// version, keys, the SDK configuration byte for byte, and every flag's answer for every context.
func sameSnapshot(t *testing.T, step string, got, want *dataplane.Snapshot) {
	t.Helper()
	if got.Version != want.Version || !slices.Equal(got.Keys, want.Keys) || !slices.Equal(got.ClientKeys, want.ClientKeys) ||
		got.NumFlags() != want.NumFlags() {
		t.Fatalf("after %s: kept snapshot v%d keys %v client %v (%d flags), built afresh v%d keys %v client %v (%d flags)",
			step, got.Version, got.Keys, got.ClientKeys, got.NumFlags(), want.Version, want.Keys, want.ClientKeys, want.NumFlags())
	}
	if g, w := got.ConfigJSON(), want.ConfigJSON(); !bytes.Equal(g, w) {
		t.Fatalf("after %s: SDK configuration\n%s\nbuilt afresh\n%s", step, g, w)
	}
	for _, k := range want.Keys {
		gf, wf := got.Flag(k), want.Flag(k)
		if gf.ConfigID != wf.ConfigID || gf.ClientVisible != wf.ClientVisible || gf.RolloutPercentage != wf.RolloutPercentage {
			t.Fatalf("after %s: flag %s kept as %+v, built afresh %+v", step, k, gf, wf)
		}
		for _, c := range incrementalContexts {
			if g, w := gf.Evaluate(c), wf.Evaluate(c); g != w {
				t.Fatalf("after %s: %s.Evaluate(%v) = %+v kept, %+v built afresh", step, k, c, g, w)
			}
		}
	}
}

// TestIncrementalSnapshotsMatchFullBuilds makes 150 random changes (flags created, retargeted,
// switched through their statuses, hidden from client keys and deleted; segments, nested ones
// too, created, changed and deleted) and after each checks that the snapshots the plane keeps
// current by compiling only what changed equal snapshots built afresh from the database, in every
// environment, and that a change compiled only what it touched.
func TestIncrementalSnapshotsMatchFullBuilds(t *testing.T) {
	t.Parallel()
	fx := newIncrementalFixture(t, 42)
	ctx := context.Background()
	plane := fx.env.Plane
	for i := 0; i < 150; i++ {
		before := map[string]int64{}
		for _, id := range fx.envIDs {
			before[id] = plane.FlagsCompiledIn(id)
		}
		step := fx.step()
		for _, id := range fx.envIDs {
			got, err := plane.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			want, err := plane.Build(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			sameSnapshot(t, step, got, want)
			// Bringing the kept snapshot up to date (here or by the plane's background poll) compiled
			// at most the flag changed (a segment's change: the flags using it, counted by
			// TestOneChangeCompilesOneFlag).
			if spent := plane.FlagsCompiledIn(id) - before[id]; !strings.Contains(step, "segment") && spent > 1 {
				t.Fatalf("after %s: %d flags compiled to bring %d flags up to date, want at most 1", step, spent, got.NumFlags())
			}
		}
	}
}

// TestOneChangeCompilesOneFlag: in an environment of 300 flags, changing one flag's targeting
// compiles that flag, not the environment; a change in another environment compiles nothing here;
// a segment change compiles the flags using it.
func TestOneChangeCompilesOneFlag(t *testing.T) {
	t.Parallel()
	env := testenv.New(t)
	envID := seedFlags(t, env, 300)
	ctx := context.Background()
	plane := env.Plane
	snap := seededSnapshot(t, env, envID, 300)
	e, err := env.Svc.Environments.Get(ctx, services.SystemScope(snap.OrgID), snap.ProjectID, envID)
	if err != nil {
		t.Fatal(err)
	}
	sc := services.SystemScope(snap.OrgID)
	if _, err := env.Svc.Segments.Create(ctx, sc, snap.ProjectID, services.SegmentInput{Key: "beta", Name: "Beta", Included: []string{"u-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Segments.Create(ctx, sc, snap.ProjectID, services.SegmentInput{Key: "outer", Name: "Outer",
		Conditions: []engine.Condition{{Segment: "beta"}}}); err != nil {
		t.Fatal(err)
	}
	for f, seg := range map[string]string{"flag-00007": "beta", "flag-00100": "beta", "flag-00200": "outer"} {
		rules := []engine.Rule{{Conditions: []engine.Condition{{Segment: seg}}, Serve: engine.Serve{Variation: "true"}}}
		if _, err := env.Svc.Flags.PatchConfig(ctx, sc, snap.ProjectID, f, e.Key, services.ConfigPatch{Rules: &rules}, 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := env.Svc.Flags.Create(ctx, sc, snap.ProjectID, services.FlagInput{Key: "everywhere", Name: "Everywhere",
		Type: engine.Boolean}); err != nil { // configured in every environment, unlike the seeded ones
		t.Fatal(err)
	}
	if _, err := plane.Get(ctx, envID); err != nil {
		t.Fatal(err)
	}

	compiled := func(what string, change func(), want int64) {
		t.Helper()
		before, flags := plane.FlagsCompiledIn(envID), snap.NumFlags()
		change()
		s, err := plane.Get(ctx, envID)
		if err != nil {
			t.Fatal(err)
		}
		if got := plane.FlagsCompiledIn(envID) - before; got != want {
			t.Errorf("%s: %d flags compiled, want %d", what, got, want)
		}
		if s.NumFlags() != flags+1 && !strings.Contains(what, "deleted") {
			t.Errorf("%s: %d flags, want %d", what, s.NumFlags(), flags+1)
		}
	}
	pct := 40.0
	compiled("one flag's rollout", func() {
		if _, err := env.Svc.Flags.PatchConfig(ctx, sc, snap.ProjectID, "flag-00042", e.Key, services.ConfigPatch{RolloutPercentage: &pct}, 0); err != nil {
			t.Fatal(err)
		}
	}, 1)
	compiled("the kill switch", func() {
		if _, err := env.Svc.Flags.Transition(ctx, sc, snap.ProjectID, "flag-00042", e.Key, "disable", 0); err != nil {
			t.Fatal(err)
		}
	}, 1)
	compiled("a change in another environment", func() {
		if _, err := env.Svc.Flags.Transition(ctx, sc, snap.ProjectID, "everywhere", "staging", "activate", 0); err != nil {
			t.Fatal(err)
		}
	}, 0)
	compiled("a segment used by two flags and by a segment a third uses", func() {
		inc := []string{"u-1", "u-2"}
		if _, err := env.Svc.Segments.Update(ctx, sc, snap.ProjectID, "beta", services.SegmentPatch{Included: &inc}, 0); err != nil {
			t.Fatal(err)
		}
	}, 3)
	s, _ := plane.Get(ctx, envID)
	for _, f := range []string{"flag-00100", "flag-00200"} {
		if r := s.Flag(f).Evaluate(engine.Context{"key": "u-2"}); r.Reason != engine.ReasonTargetingMatch {
			t.Errorf("%s for u-2 after joining the segment: %+v, want TARGETING_MATCH", f, r)
		}
	}
	compiled("a flag deleted", func() {
		if err := env.Svc.Flags.Delete(ctx, sc, snap.ProjectID, "flag-00299"); err != nil {
			t.Fatal(err)
		}
	}, 0)
}

// TestPrunedHistoryLoadsWhole: when the history of changes no longer reaches back to a snapshot,
// the environment is loaded whole, and the result is still right.
func TestPrunedHistoryLoadsWhole(t *testing.T) {
	t.Parallel()
	fx := newIncrementalFixture(t, 3)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		fx.step()
	}
	id := fx.envIDs[0]
	if _, err := fx.env.Plane.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
	fx.step()
	fx.step()
	if _, err := models.PruneConfigChanges(fx.env.DB, fx.env.Clock.Now().Add(1e12)); err != nil {
		t.Fatal(err)
	}
	fx.step()
	before := fx.env.Plane.FlagsCompiledIn(id)
	got, err := fx.env.Plane.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if n := fx.env.Plane.FlagsCompiledIn(id) - before; n < int64(got.NumFlags()) {
		t.Errorf("%d flags compiled after the history was pruned, want the whole environment (%d)", n, got.NumFlags())
	}
	want, err := fx.env.Plane.Build(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sameSnapshot(t, "pruning", got, want)
}

// TestWriteWithoutHistoryLoadsWhole: a node of an older release changes a configuration without
// recording it in the history (it only bumps the environment's version); when another change
// is recorded before this node next looks, the version moved more than the history accounts for,
// and the environment is loaded whole rather than missing the unrecorded change.
func TestWriteWithoutHistoryLoadsWhole(t *testing.T) {
	t.Parallel()
	fx := newIncrementalFixture(t, 5)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		fx.step() // three flags
	}
	id := fx.envIDs[0]
	if _, err := fx.env.Plane.Get(ctx, id); err != nil {
		t.Fatal(err)
	}
	legacy, recorded := fx.flags[0], fx.flags[1]
	err := fx.env.DB.Exec(`UPDATE flag_configs SET status = 'DISABLED' WHERE environment_id = ? AND flag_id = (SELECT id FROM flags WHERE key = ? AND org_id = ?)`,
		id, legacy, fx.sc.OrgID).Error
	if err == nil {
		err = fx.env.DB.Exec(`UPDATE environments SET config_version = config_version + 1 WHERE id = ?`, id).Error
	}
	if err != nil {
		t.Fatal(err)
	}
	pct := 30.0
	if _, err := fx.env.Svc.Flags.PatchConfig(ctx, fx.sc, "default", recorded, "production", services.ConfigPatch{RolloutPercentage: &pct}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := fx.env.Plane.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want, err := fx.env.Plane.Build(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Flag(legacy).Status != engine.Disabled {
		t.Errorf("%s is %s in the kept snapshot, want the unrecorded DISABLED", legacy, got.Flag(legacy).Status)
	}
	sameSnapshot(t, "a write without history, then one with", got, want)
}

// TestFlagListOfAnAmbiguousReference: a reference that is one project's id and another's key
// lists the flags of the project every other route picks for it.
func TestFlagListOfAnAmbiguousReference(t *testing.T) {
	t.Parallel()
	fx := newIncrementalFixture(t, 9)
	ctx := context.Background()
	a, err := fx.env.Svc.Projects.Get(ctx, fx.sc, "default")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.env.Svc.Projects.Create(ctx, fx.sc, services.ProjectInput{Key: a.ID, Name: "Key like an id"}); err != nil {
		t.Fatal(err)
	}
	for project, key := range map[string]string{"default": "flag-of-default", a.ID: "flag-of-the-other"} {
		if _, err := fx.env.Svc.Flags.Create(ctx, fx.sc, project, services.FlagInput{Key: key, Name: key, Type: engine.Boolean}); err != nil {
			t.Fatal(err)
		}
	}
	picked, err := fx.env.Svc.Projects.Get(ctx, fx.sc, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := fx.env.Svc.Flags.List(ctx, fx.sc, a.ID, services.FlagListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range page.Items {
		if f.ProjectID != picked.ID {
			t.Errorf("the list of %q shows %s of project %s; the project routes pick %s", a.ID, f.Key, f.ProjectID, picked.ID)
		}
	}
}
