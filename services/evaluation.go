package services

import (
	"context"
	"errors"
	"time"

	"github.com/vanehq/vane/internal/engine"
	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/models"
)

// sdkKeyEntry is a cached SDK key: what it opens and until when.
type sdkKeyEntry struct {
	info    SDKKeyInfo
	expires *time.Time
}

func sdkKeyCacheKey(raw string) string { return "sdkkey:" + raw }

// SDKKey resolves an SDK key to the one environment it opens, from memory after the first use.
// Rotations and deletions invalidate the cache on every node.
func (e *Environments) SDKKey(ctx context.Context, raw string) (*SDKKeyInfo, error) {
	if !IsSDKKey(raw) {
		return nil, errs.Unauthorizedf("an SDK key (srv-… or cli-…) is required")
	}
	var entry *sdkKeyEntry
	if v, ok := e.s.cache.get(sdkKeyCacheKey(raw)); ok {
		entry, _ = v.(*sdkKeyEntry)
	} else {
		k, err := models.SDKKeyByKey(e.s.db.WithContext(ctx), raw)
		if err != nil && !errors.Is(err, errs.ErrNotFound) {
			return nil, err
		}
		if k != nil {
			entry = &sdkKeyEntry{info: SDKKeyInfo{Key: *k, OrgID: k.OrgID, ProjectID: k.ProjectID, EnvironmentID: k.EnvironmentID}, expires: k.ExpiresAt}
		}
		e.s.cache.put(sdkKeyCacheKey(raw), entry)
	}
	if entry == nil {
		return nil, errs.Unauthorizedf("the SDK key is not valid")
	}
	if entry.expires != nil && !e.s.clock.Now().Before(*entry.expires) {
		return nil, errs.Unauthorizedf("the SDK key has expired")
	}
	info := entry.info
	return &info, nil
}

// Evaluation is one flag evaluated for a context.
type Evaluation struct {
	Flag   *SnapshotFlag
	Result engine.Result
}

// Value is the served value (nil when nothing is served).
func (e Evaluation) Value() any {
	if e.Flag == nil || e.Result.Variation < 0 {
		return nil
	}
	return e.Flag.Values[e.Result.Variation]
}

// VariationID is the served variation's id.
func (e Evaluation) VariationID() string {
	if e.Flag == nil || e.Result.Variation < 0 {
		return ""
	}
	return e.Flag.Variations[e.Result.Variation].ID
}

// Enabled says whether the feature is on for the context: a boolean flag served true, or another
// flag served something other than its default while serving.
func (e Evaluation) Enabled() bool {
	if e.Flag == nil || e.Result.Variation < 0 {
		return false
	}
	if b, ok := e.Value().(bool); ok {
		return b
	}
	return (e.Flag.Status.Serving() || e.Flag.Status == engine.RolledOut) && e.Result.Variation != e.Flag.DefaultIndex()
}

// Evaluate evaluates one flag of the environment from its snapshot: no database. A flag that does
// not exist (or is archived) is FLAG_NOT_FOUND.
func (e *Environments) Evaluate(ctx context.Context, envID, flagKey string, evalCtx engine.Context) (Evaluation, error) {
	snap, err := e.s.Snapshots.Get(ctx, envID)
	if err != nil {
		return Evaluation{}, err
	}
	f := snap.Flags[flagKey]
	if f == nil {
		return Evaluation{Result: engine.Result{Variation: -1, Reason: engine.ReasonFlagNotFound, RuleIndex: -1}}, nil
	}
	r := f.Evaluate(evalCtx)
	f.Count(r, e.s.clock.Now())
	return Evaluation{Flag: f, Result: r}, nil
}

// EvaluateAll evaluates every served flag of the environment for one context, in key order.
func (e *Environments) EvaluateAll(ctx context.Context, envID string, evalCtx engine.Context) (*Snapshot, []Evaluation, error) {
	snap, err := e.s.Snapshots.Get(ctx, envID)
	if err != nil {
		return nil, nil, err
	}
	now := e.s.clock.Now()
	out := make([]Evaluation, 0, len(snap.Keys))
	for _, k := range snap.Keys {
		f := snap.Flags[k]
		r := f.Evaluate(evalCtx)
		f.Count(r, now)
		out = append(out, Evaluation{Flag: f, Result: r})
	}
	return snap, out, nil
}
