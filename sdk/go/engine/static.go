package engine

// Static reports whether the flag serves the same result to every context, and that result: a
// flag that is not serving (draft, disabled, paused, archived), rolled out, or whose configuration
// failed to compile; or a serving flag with no individual targets, no rules and a fallthrough that
// is a single variation, not a rollout. Bulk evaluation encodes such flags once per configuration.
func (f *Compiled) Static() (Result, bool) {
	if !f.broken && f.Status.Serving() &&
		(!f.targets.empty() || len(f.rules) > 0 || f.fall.rollout != nil) {
		return Result{}, false
	}
	return f.Evaluate(nil), true
}

// Rules is how many targeting rules the flag has (RuleID names them by Result.RuleIndex).
func (f *Compiled) Rules() int { return len(f.rules) }
