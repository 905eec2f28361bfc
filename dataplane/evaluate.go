package dataplane

import (
	"context"

	"github.com/vanehq/vane/sdk/go/engine"
)

// Evaluation is one flag evaluated for a context.
type Evaluation struct {
	Flag   *Flag
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
	if e.Flag == nil {
		return false
	}
	return e.Flag.Enabled(e.Result) // the SDK's meaning, from the engine
}

// Evaluate evaluates one flag of the SDK key's environment from its snapshot. A flag that does
// not exist, is archived, or is not client-visible for a client key is FLAG_NOT_FOUND.
func (p *Plane) Evaluate(ctx context.Context, key *SDKKey, flagKey string, evalCtx engine.Context) (Evaluation, error) {
	snap, err := p.Get(ctx, key.EnvironmentID)
	if err != nil {
		return Evaluation{}, err
	}
	f := snap.Flag(flagKey)
	if f == nil || (key.Client() && !f.ClientVisible) {
		p.observe(engine.ReasonFlagNotFound)
		return Evaluation{Result: engine.Result{Variation: -1, Reason: engine.ReasonFlagNotFound, RuleIndex: -1}}, nil
	}
	r := f.Evaluate(evalCtx)
	f.count(&p.counters, snap.EnvironmentID, r, p.clock.Now())
	p.observe(r.Reason)
	return Evaluation{Flag: f, Result: r}, nil
}

func (p *Plane) observe(r engine.Reason) {
	if p.hooks.Evaluated != nil {
		p.hooks.Evaluated(string(r), 1)
	}
}
