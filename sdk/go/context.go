package vane

import (
	"fmt"
	"math"
	"strconv"

	"github.com/vanehq/vane/sdk/go/engine"
)

// Context is what a flag is evaluated for: a JSON-like object whose "key" is the targeting key.
// Without a "key", the first of "targetingKey" (OpenFeature), "user_id" (source 003) and
// "user.key" (LaunchDarkly) is used; a whole-number key becomes its decimal string.
type Context = map[string]any

// Limits on a context (they come from strangers on the server).
const (
	MaxContextDepth      = 16
	MaxContextAttributes = 2000
)

// ContextError says what is wrong with a context and where: Path is relative to the context
// (".user.key", ".tags[3]"), empty for the context itself.
type ContextError struct {
	Path    string
	Problem string
}

func (e *ContextError) Error() string { return "context" + e.Path + " " + e.Problem }

// Normalize checks a context's size and depth and sets its "key" as the server does (see
// Context). It writes the key into m when it had to find or convert it.
func Normalize(m map[string]any) (engine.Context, error) {
	if m == nil {
		return engine.Context{}, nil
	}
	count := 0
	if path, problem := walkContext(m, 1, &count); problem != "" {
		p := ""
		for i := len(path) - 1; i >= 0; i-- { // built only for the error, innermost first
			p += path[i]
		}
		return nil, &ContextError{Path: p, Problem: problem}
	}
	ctx := engine.Context(m)
	if _, ok := ctx["key"]; !ok {
		if k, ok := fallbackKey(ctx); ok {
			ctx["key"] = k
		}
	}
	if k, ok := ctx["key"]; ok {
		if s, ok, problem := keyString(k); problem != "" {
			return nil, &ContextError{Path: ".key", Problem: problem}
		} else if ok {
			ctx["key"] = s
		}
	}
	return ctx, nil
}

// keyString converts a non-string key: a whole number becomes its decimal string.
func keyString(k any) (s string, converted bool, problem string) {
	var f float64
	switch x := k.(type) {
	case string, nil:
		return "", false, ""
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		return strconv.Itoa(x), true, ""
	case int64:
		return strconv.FormatInt(x, 10), true, ""
	case int32:
		return strconv.FormatInt(int64(x), 10), true, ""
	case uint:
		return strconv.FormatUint(uint64(x), 10), true, ""
	case uint64:
		return strconv.FormatUint(x, 10), true, ""
	case uint32:
		return strconv.FormatUint(uint64(x), 10), true, ""
	default:
		return "", false, "must be a string"
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return "", false, "a numeric key must be a whole number"
	}
	return strconv.FormatInt(int64(f), 10), true, ""
}

// fallbackKey finds the key of a context that has no top-level one.
func fallbackKey(ctx engine.Context) (any, bool) {
	for _, name := range [...]string{"targetingKey", "user_id"} {
		if v, ok := ctx[name]; ok && v != nil && v != "" {
			return v, true
		}
	}
	if user, ok := ctx["user"].(map[string]any); ok {
		if v, ok := user["key"]; ok && v != nil && v != "" {
			return v, true
		}
	}
	return nil, false
}

// keyAsIs reports whether Normalize would leave m as it is (a caller that must not change the
// application's map copies it otherwise), and returns m["key"] (nil when absent). It does not
// allocate.
func keyAsIs(m map[string]any) (key any, asIs bool) {
	k, ok := m["key"]
	if _, isString := k.(string); isString {
		return k, true
	}
	if !ok {
		_, found := fallbackKey(m)
		return nil, !found
	}
	_, converted, _ := keyString(k)
	return k, !converted
}

// walkContext checks depth and size without allocating; on a problem it returns the path to it
// (innermost element first) and what is wrong.
func walkContext(v any, depth int, count *int) ([]string, string) {
	if depth > MaxContextDepth {
		return nil, fmt.Sprintf("nests deeper than %d levels", MaxContextDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			*count++
			if *count > MaxContextAttributes {
				return nil, fmt.Sprintf("has more than %d attributes", MaxContextAttributes)
			}
			if path, problem := walkContext(e, depth+1, count); problem != "" {
				return append(path, "."+k), problem
			}
		}
	case []any:
		for i, e := range x {
			*count++
			if *count > MaxContextAttributes {
				return nil, fmt.Sprintf("has more than %d attributes", MaxContextAttributes)
			}
			if path, problem := walkContext(e, depth+1, count); problem != "" {
				return append(path, fmt.Sprintf("[%d]", i)), problem
			}
		}
	}
	return nil, ""
}

// KeyOf returns the value a context's key comes from (see Context), before any conversion.
func KeyOf(m map[string]any) (any, bool) {
	if k, ok := m["key"]; ok && k != nil {
		return k, true
	}
	return fallbackKey(m)
}
