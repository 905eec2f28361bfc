package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
	"github.com/vanehq/vane/services"
)

// readBody reads a request body, refusing one over MaxBodyBytes (413), and returns it trimmed.
func readBody(c *gin.Context) ([]byte, error) {
	body, err := readAll(c.Request)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errs.New(errs.TooLarge, "the request body is larger than %d bytes", MaxBodyBytes)
		}
		return nil, errs.Wrap(errs.Malformed, err, "could not read the request body")
	}
	body = bytes.TrimSpace(body)
	if len(body) > 0 && body[0] != '{' {
		return nil, errs.New(errs.Malformed, "the request body must be a JSON object")
	}
	return body, nil
}

// preallocBody is the largest declared length read in one allocation made up front: beyond it the
// buffer grows with the bytes that arrive, so a client that declares a large body and sends
// little holds little memory.
const preallocBody = 64 << 10

// readAll reads a request's body, in one allocation when its declared length is small (every
// evaluation body).
func readAll(r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= preallocBody {
		body := make([]byte, n)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, err
		}
		return body, nil
	}
	return io.ReadAll(r.Body)
}

// bindLenient decodes a body like bindJSON but tolerates unknown fields and an empty body:
// evaluation requests from SDKs newer than this server may carry fields it does not know yet.
func bindLenient(c *gin.Context, dst any) error {
	body, err := readBody(c)
	if err != nil || len(body) == 0 {
		return err
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return decodeError(err)
	}
	return refuseNULInBody(body)
}

// bindJSON decodes the body strictly into dst: valid JSON, one object, no unknown fields, the right
// types. Every failure names the field at fault.
func bindJSON(c *gin.Context, dst any) error {
	body, err := readBody(c)
	if err != nil {
		return err
	}
	if len(body) == 0 {
		return errs.New(errs.Malformed, "a JSON request body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	if dec.More() {
		return errs.New(errs.Malformed, "the request body must hold exactly one JSON object")
	}
	return refuseNULInBody(body)
}

// nulMessage says why a NUL character is refused: databases disagree about storing it (Postgres
// refuses, SQLite keeps it) and no name, key or search needs one.
const nulMessage = "must not contain a NUL character (\\u0000)"

// refuseNULInBody refuses a body with a NUL character in any string (a 422 naming the field). JSON
// can only carry one escaped, so bodies without the escape are not looked at twice.
func refuseNULInBody(body []byte) error {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return decodeError(err) // decoded once already: cannot happen
	}
	if field, found := nulField(v, ""); found {
		if field == "" {
			field = "(body)"
		}
		return errs.Field(field, nulMessage)
	}
	return nil
}

// nulField finds a string or an object key holding a NUL character and returns its path
// (rules[0].conditions[1].attribute).
func nulField(v any, path string) (string, bool) {
	switch x := v.(type) {
	case string:
		return path, strings.IndexByte(x, 0) >= 0
	case map[string]any:
		for k, e := range x {
			p := k
			if path != "" {
				p = path + "." + k
			}
			if strings.IndexByte(k, 0) >= 0 {
				return p, true
			}
			if f, ok := nulField(e, p); ok {
				return f, true
			}
		}
	case []any:
		for i, e := range x {
			if f, ok := nulField(e, fmt.Sprintf("%s[%d]", path, i)); ok {
				return f, true
			}
		}
	}
	return "", false
}

// badText says what is wrong with a text parameter: a NUL character, or bytes that are not UTF-8
// (both of which Postgres refuses and SQLite stores), "" when it is fine.
func badText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return nulMessage
	case !utf8.ValidString(s):
		return "must be valid UTF-8 text"
	}
	return ""
}

// plainQuery reports whether a raw query holds only printable ASCII without escapes: then it can
// hold neither a NUL nor invalid UTF-8.
func plainQuery(q string) bool {
	for i := 0; i < len(q); i++ {
		if b := q[i]; b == '%' || b < 0x20 || b >= 0x7f {
			return false
		}
	}
	return true
}

// refuseNUL refuses a NUL character or invalid UTF-8 in a path or query parameter, or in the
// X-Vane-Environment header (a 422 naming it), before any handler passes one on to the database.
func refuseNUL() gin.HandlerFunc {
	return func(c *gin.Context) {
		for _, p := range c.Params {
			if msg := badText(p.Value); msg != "" {
				fail(c, errs.Field(p.Key, "%s", msg))
				return
			}
		}
		if msg := badText(header(c, "X-Vane-Environment")); msg != "" {
			fail(c, errs.Field("X-Vane-Environment", "%s", msg))
			return
		}
		if plainQuery(c.Request.URL.RawQuery) {
			c.Next() // the common case, evaluation included: nothing to decode, nothing to check
			return
		}
		for name, values := range c.Request.URL.Query() {
			if msg := badText(name); msg != "" {
				fail(c, errs.Field(strings.ToValidUTF8(name, "?"), "%s", msg))
				return
			}
			for _, v := range values {
				if msg := badText(v); msg != "" {
					fail(c, errs.Field(name, "%s", msg))
					return
				}
			}
		}
		c.Next()
	}
}

func decodeError(err error) error {
	var (
		syntax *json.SyntaxError
		typ    *json.UnmarshalTypeError
	)
	malformed := func(field, format string, args ...any) error {
		return &errs.Error{Kind: errs.Malformed, Message: "the request body is malformed",
			Details: []errs.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}}}
	}
	switch {
	case errors.As(err, &syntax):
		return errs.New(errs.Malformed, "the request body is not valid JSON (at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return malformed(field, "must be %s, not %s", jsonType(typ.Type.String()), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errs.New(errs.Malformed, "the request body is truncated JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return malformed(field, "is not a known field")
	}
	return errs.Wrap(errs.Malformed, err, "the request body is malformed")
}

// jsonType names a Go type the way a JSON client thinks of it.
func jsonType(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"), strings.HasPrefix(t, "float"):
		return "a number"
	case strings.HasPrefix(t, "[]"):
		return "an array"
	case t == "time.Time":
		return "an RFC 3339 time string"
	case t == "time.Duration":
		return "a duration"
	default:
		return "an object"
	}
}

// listOptions reads limit and cursor from the query.
func listOptions(c *gin.Context) (services.ListOptions, error) {
	return listOptionsUpTo(c, services.MaxLimit)
}

// listOptionsUpTo is listOptions for a list whose pages may hold up to max items.
func listOptionsUpTo(c *gin.Context, max int) (services.ListOptions, error) {
	var o services.ListOptions
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > max {
			return o, errs.Field("limit", "must be a whole number between 1 and %d", max)
		}
		o.Limit = n
	}
	o.Cursor = c.Query("cursor")
	return o, nil
}

// ifMatch reads an If-Match version ("3", W/"3" or 3). Absent or * means unconditional.
func ifMatch(c *gin.Context) (int64, error) {
	v := strings.TrimSpace(c.GetHeader("If-Match"))
	if v == "" || v == "*" {
		return 0, nil
	}
	v = strings.Trim(strings.TrimPrefix(v, "W/"), `"`)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		return 0, errs.Field("If-Match", "must be the resource's version as its ETag gave it, like \"3\"")
	}
	return n, nil
}

// etag sets the ETag of a versioned resource.
func etag(c *gin.Context, version int64) { c.Header("ETag", `"`+strconv.FormatInt(version, 10)+`"`) }
