package services

import (
	"fmt"
	"math"
	"strconv"

	"github.com/vanehq/vane/internal/engine"
	"github.com/vanehq/vane/internal/errs"
)

// Context limits: evaluation contexts come from strangers.
const (
	MaxContextDepth      = 16
	MaxContextAttributes = 2000
)

// CheckContext validates an evaluation context and normalises its key: OpenFeature's targetingKey
// becomes key, and a numeric key (source 003's user ids) its integer string. field names the
// request field for errors.
func CheckContext(m map[string]any, field string) (engine.Context, error) {
	if m == nil {
		return engine.Context{}, nil
	}
	count := 0
	if path, problem := walkContext(m, 1, &count); problem != "" {
		for i := len(path) - 1; i >= 0; i-- { // the path is built only for the error, innermost first
			field += path[i]
		}
		return nil, errs.Field(field, "%s", problem)
	}
	ctx := engine.Context(m)
	if _, ok := ctx["key"]; !ok {
		if tk, ok := ctx["targetingKey"]; ok {
			ctx["key"] = tk
		}
	}
	if k, ok := ctx["key"]; ok {
		switch x := k.(type) {
		case string, nil:
		case float64:
			if x != math.Trunc(x) || math.Abs(x) > 1<<53 {
				return nil, errs.Field(field+".key", "a numeric key must be a whole number")
			}
			ctx["key"] = strconv.FormatInt(int64(x), 10)
		default:
			return nil, errs.Field(field+".key", "must be a string")
		}
	}
	return ctx, nil
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
