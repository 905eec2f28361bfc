// Package provider is the OpenFeature provider for Vane: it evaluates flags locally through a
// vane.Client (github.com/vanehq/vane/sdk/go), with OpenFeature's reasons, error codes and events.
//
//	client, _ := vane.NewClient(vane.Config{BaseURL: "http://localhost:8000", SDKKey: key})
//	_ = openfeature.SetProviderAndWait(provider.New(client))
//	enabled, _ := openfeature.NewDefaultClient().BooleanValue(ctx, "new-checkout-flow", false,
//		openfeature.NewEvaluationContext("user-123", map[string]any{"plan": "enterprise"}))
package provider

import (
	"context"
	"math"
	"sync"
	"time"

	of "github.com/open-feature/go-sdk/openfeature"

	vane "github.com/vanehq/vane/sdk/go"
)

// Provider adapts a vane.Client to OpenFeature. It implements FeatureProvider, StateHandler and
// EventHandler.
type Provider struct {
	client      *vane.Client
	InitTimeout time.Duration // how long Init waits for the first configuration (default 30 s)
	events      chan of.Event
	mu          sync.Mutex
	unsubscribe func()
}

var (
	_ of.FeatureProvider = (*Provider)(nil)
	_ of.StateHandler    = (*Provider)(nil)
	_ of.EventHandler    = (*Provider)(nil)
)

// New makes a provider over client. Shutting the provider down does not close the client.
func New(client *vane.Client) *Provider {
	return &Provider{client: client, InitTimeout: 30 * time.Second, events: make(chan of.Event, 64)}
}

// Metadata names the provider.
func (p *Provider) Metadata() of.Metadata { return of.Metadata{Name: "vane"} }

// Hooks are none.
func (p *Provider) Hooks() []of.Hook { return nil }

// Init waits for the client's first configuration and starts forwarding its events.
func (p *Provider) Init(of.EvaluationContext) error {
	p.mu.Lock()
	if p.unsubscribe == nil {
		p.unsubscribe = p.client.Subscribe(p.forward)
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), p.InitTimeout)
	defer cancel()
	return p.client.WaitReady(ctx)
}

// Shutdown stops forwarding events (the client stays open: its owner closes it).
func (p *Provider) Shutdown() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.unsubscribe != nil {
		p.unsubscribe()
		p.unsubscribe = nil
	}
}

// EventChannel carries READY, CONFIGURATION_CHANGED (with the changed flag keys), STALE and ERROR.
func (p *Provider) EventChannel() <-chan of.Event { return p.events }

func (p *Provider) forward(e vane.Event) {
	ev := of.Event{ProviderName: "vane"}
	switch e.Kind {
	case vane.EventReady:
		ev.EventType = of.ProviderReady
	case vane.EventChanged:
		ev.EventType = of.ProviderConfigChange
		ev.FlagChanges = e.Flags
		ev.Message = "configuration changed"
	case vane.EventStale:
		ev.EventType = of.ProviderStale
		ev.Message = "the connection to Vane is lost; serving the last configuration"
	case vane.EventError:
		ev.EventType = of.ProviderError
		ev.ErrorCode = of.GeneralCode
		if e.Err != nil {
			ev.Message = e.Err.Error()
		}
	default:
		return
	}
	select {
	case p.events <- ev:
	default: // nobody reads: drop rather than block the client
	}
}

// resolve evaluates and maps the detail to OpenFeature's resolution detail.
func (p *Provider) resolve(flag string, flat of.FlattenedContext) (vane.Detail, of.ProviderResolutionDetail) {
	d := p.client.Evaluate(flag, vane.Context(flat))
	res := of.ProviderResolutionDetail{Reason: of.Reason(d.Reason), Variant: d.Variation,
		FlagMetadata: of.FlagMetadata{"version": d.Version}}
	if d.RuleID != "" {
		res.FlagMetadata["ruleId"] = d.RuleID
	}
	if d.Reason == vane.ReasonError {
		res.ResolutionError = resolutionError(d.ErrorCode)
	}
	return d, res
}

func resolutionError(code string) of.ResolutionError {
	switch code {
	case vane.ErrorFlagNotFound:
		return of.NewFlagNotFoundResolutionError("no such flag in this environment")
	case vane.ErrorProviderNotReady:
		return of.NewProviderNotReadyResolutionError("no configuration yet")
	case vane.ErrorTargetingKeyMissing:
		return of.NewTargetingKeyMissingResolutionError("the rollout needs a targeting key")
	case vane.ErrorInvalidContext:
		return of.NewInvalidContextResolutionError("the evaluation context is invalid")
	}
	return of.NewGeneralResolutionError("the flag's configuration could not be evaluated")
}

func mismatch(res of.ProviderResolutionDetail) of.ProviderResolutionDetail {
	res.ResolutionError = of.NewTypeMismatchResolutionError("the flag serves another type")
	res.Reason = of.ErrorReason
	return res
}

// typed resolves a flag whose value conv accepts; otherwise def, with the resolution error or a
// type mismatch.
func typed[T any](p *Provider, flag string, def T, flat of.FlattenedContext, conv func(any) (T, bool)) (T, of.ProviderResolutionDetail) {
	d, res := p.resolve(flag, flat)
	if res.ResolutionError != (of.ResolutionError{}) {
		return def, res
	}
	v, ok := conv(d.Value)
	if !ok {
		return def, mismatch(res)
	}
	return v, res
}

func asType[T any](v any) (T, bool) {
	t, ok := v.(T)
	return t, ok
}

// asInt accepts a whole number that a float64 holds exactly.
func asInt(v any) (int64, bool) {
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

// BooleanEvaluation evaluates a boolean flag.
func (p *Provider) BooleanEvaluation(_ context.Context, flag string, def bool, flat of.FlattenedContext) of.BoolResolutionDetail {
	v, res := typed(p, flag, def, flat, asType[bool])
	return of.BoolResolutionDetail{Value: v, ProviderResolutionDetail: res}
}

// StringEvaluation evaluates a string flag.
func (p *Provider) StringEvaluation(_ context.Context, flag string, def string, flat of.FlattenedContext) of.StringResolutionDetail {
	v, res := typed(p, flag, def, flat, asType[string])
	return of.StringResolutionDetail{Value: v, ProviderResolutionDetail: res}
}

// FloatEvaluation evaluates a number flag.
func (p *Provider) FloatEvaluation(_ context.Context, flag string, def float64, flat of.FlattenedContext) of.FloatResolutionDetail {
	v, res := typed(p, flag, def, flat, asType[float64])
	return of.FloatResolutionDetail{Value: v, ProviderResolutionDetail: res}
}

// IntEvaluation evaluates a number flag whose value is a whole number.
func (p *Provider) IntEvaluation(_ context.Context, flag string, def int64, flat of.FlattenedContext) of.IntResolutionDetail {
	v, res := typed(p, flag, def, flat, asInt)
	return of.IntResolutionDetail{Value: v, ProviderResolutionDetail: res}
}

// ObjectEvaluation evaluates any flag, returning its value as decoded JSON.
func (p *Provider) ObjectEvaluation(_ context.Context, flag string, def any, flat of.FlattenedContext) of.InterfaceResolutionDetail {
	d, res := p.resolve(flag, flat)
	if res.ResolutionError != (of.ResolutionError{}) || d.Value == nil {
		return of.InterfaceResolutionDetail{Value: def, ProviderResolutionDetail: res}
	}
	return of.InterfaceResolutionDetail{Value: d.Value, ProviderResolutionDetail: res}
}
