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
	if err := walkContext(m, field, 1, &count); err != nil {
		return nil, err
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

func walkContext(v any, field string, depth int, count *int) error {
	if depth > MaxContextDepth {
		return errs.Field(field, "nests deeper than %d levels", MaxContextDepth)
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			*count++
			if *count > MaxContextAttributes {
				return errs.Field(field, "has more than %d attributes", MaxContextAttributes)
			}
			if err := walkContext(e, field+"."+k, depth+1, count); err != nil {
				return err
			}
		}
	case []any:
		for i, e := range x {
			*count++
			if *count > MaxContextAttributes {
				return errs.Field(field, "has more than %d attributes", MaxContextAttributes)
			}
			if err := walkContext(e, fmt.Sprintf("%s[%d]", field, i), depth+1, count); err != nil {
				return err
			}
		}
	}
	return nil
}
