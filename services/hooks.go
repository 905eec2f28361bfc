package services

import "time"

// Hooks let the process count control-plane events without services knowing how they are counted.
// Every field may be nil.
type Hooks struct {
	// ChangeLag gets how long a change notice took from its publication (by any node) to its arrival through Redis.
	ChangeLag func(d time.Duration)
	// GuardChecked gets the outcome of one guard's evaluation: ok, breached, too_few_samples, cooling_down.
	GuardChecked func(outcome string)
	// RolledBack gets the cause of a rollback a guard performed: guard (a breached threshold) or trigger.
	RolledBack func(cause string)
	// WebhookDelivered gets the outcome of one delivery attempt: succeeded, retrying, failed.
	WebhookDelivered func(outcome string)
}

// SetHooks installs the hooks (before Start).
func (s *Services) SetHooks(h Hooks) { s.hooks.Store(&h) }

// hook is the installed hooks, with a no-op for every missing one.
func (s *Services) hook() Hooks {
	h := Hooks{}
	if p := s.hooks.Load(); p != nil {
		h = *p
	}
	if h.ChangeLag == nil {
		h.ChangeLag = func(time.Duration) {}
	}
	if h.GuardChecked == nil {
		h.GuardChecked = func(string) {}
	}
	if h.RolledBack == nil {
		h.RolledBack = func(string) {}
	}
	if h.WebhookDelivered == nil {
		h.WebhookDelivered = func(string) {}
	}
	return h
}
