package dataplane

import (
	"errors"

	"github.com/vanehq/vane/internal/errs"
	vane "github.com/vanehq/vane/sdk/go"
	"github.com/vanehq/vane/sdk/go/engine"
)

// Context limits: evaluation contexts come from strangers.
const (
	MaxContextDepth      = vane.MaxContextDepth
	MaxContextAttributes = vane.MaxContextAttributes
)

// CheckContext validates an evaluation context and normalises its key with the SDK's own rules
// (vane.Normalize: targetingKey, user_id or user.key when there is no key; whole numbers become
// strings), so the server and an SDK see the same context. field names the request field for
// errors.
func CheckContext(m map[string]any, field string) (engine.Context, error) {
	ctx, err := vane.Normalize(m)
	if err != nil {
		var ce *vane.ContextError // declared here: a request without a problem allocates nothing for it
		if errors.As(err, &ce) {
			return nil, errs.Field(field+ce.Path, "%s", ce.Problem)
		}
	}
	return ctx, err
}

// ContextFor003 is source 003's context: user and organisation ids, either possibly absent. The key
// is the user id, or, when there is no user and the attributes carry no key of their own, the
// organisation id, so percentages bucket by whichever is known. attrs (decoded for this request
// alone) become the context: they are changed, not copied.
func ContextFor003(userID, orgID string, attrs map[string]any) engine.Context {
	ctx := engine.Context(attrs)
	if ctx == nil {
		ctx = engine.Context{}
	}
	if orgID != "" {
		ctx["org_id"] = orgID
		if _, ok := ctx["organization"]; !ok {
			ctx["organization"] = map[string]any{"key": orgID}
		}
		if _, has := vane.KeyOf(ctx); !has {
			ctx["key"] = orgID
		}
	}
	if userID != "" {
		id := any(userID) // boxed once for both entries
		ctx["user_id"] = id
		ctx["key"] = id
	}
	return ctx
}
