package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/vanehq/vane/internal/errs"
)

// Evaluation bodies are the hottest input Vane reads. bodyParser decodes them in one pass without
// reflection, into what encoding/json would make of them (objects as map[string]any, arrays as
// []any, numbers as float64, strings with their escapes resolved and invalid UTF-8 replaced by
// U+FFFD), with the same errors: a syntax error anywhere wins, then the first value of the wrong
// type for a known field. TestEvaluationBodiesDecodeAsEncodingJSON and FuzzEvaluationBody hold the
// two decoders to the same answers.

// maxBodyDepth is encoding/json's limit on nesting.
const maxBodyDepth = 10000

type bodyParser struct {
	data    []byte
	pos     int
	depth   int
	typeErr error // the first value of the wrong type for a known field
	skip    bool  // reading an unknown field's value: checked, not held to any type
	err     error // the first syntax error
	closed  bool  // the top-level object's closing brace was read
}

// syntaxError is the request body's JSON being wrong at an offset.
type syntaxError struct {
	msg    string
	offset int
}

func (e *syntaxError) Error() string { return e.msg }

func (p *bodyParser) fail(format string, args ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, args...), offset: p.pos}
}

// Reading a body's top-level object, member by member (no callback, so the parser stays on the
// stack):
//
//	p := bodyParser{data: body}
//	for name, ok := p.first(); ok; name, ok = p.next() {
//		switch name { … read the value with p, or p.skipValue() }
//	}
//	err := p.end()
//
// first and next stop at the first syntax error, which end reports; end also checks that nothing
// follows the object, and reports a value of the wrong type for a known field last.

// first opens the object and returns its first member's name.
func (p *bodyParser) first() (string, bool) {
	p.space()
	if !p.consume('{') {
		p.err = p.fail("the request body must be a JSON object")
		return "", false
	}
	p.depth++
	p.space()
	if p.consume('}') {
		p.closed = true
		return "", false
	}
	return p.member()
}

// member reads a member's name and its colon.
func (p *bodyParser) member() (string, bool) {
	p.space()
	name, err := p.str()
	if err != nil {
		p.err = err
		return "", false
	}
	p.space()
	if !p.consume(':') {
		p.err = p.fail("expected a colon after an object key")
		return "", false
	}
	p.space()
	return name, true
}

// next moves past the value just read (by the caller) to the next member.
func (p *bodyParser) next() (string, bool) {
	if p.err != nil {
		return "", false
	}
	p.space()
	if p.consume(',') {
		return p.member()
	}
	if p.consume('}') {
		p.closed = true
		return "", false
	}
	p.err = p.fail("expected a comma or the end of the object")
	return "", false
}

// read records the error of reading a member's value.
func (p *bodyParser) read(err error) {
	if err != nil && p.err == nil {
		p.err = err
	}
}

// skipValue checks an unknown member's value without holding it to any type.
func (p *bodyParser) skipValue() {
	p.skip = true
	_, err := p.value("")
	p.skip = false
	p.read(err)
}

// end reports how reading the body went.
func (p *bodyParser) end() error {
	if p.err == nil && !p.closed {
		p.err = p.fail("unexpected end of JSON input")
	}
	if p.err == nil {
		p.space()
		if p.pos != len(p.data) {
			p.err = p.fail("invalid character after top-level value")
		}
	}
	if p.err != nil {
		return p.malformed(p.err)
	}
	return p.typeErr
}

// malformed is the API's error for a body the parser refused.
func (p *bodyParser) malformed(err error) error {
	if se, ok := err.(*syntaxError); ok {
		if se.offset >= len(p.data) {
			return errs.New(errs.Malformed, "the request body is truncated JSON")
		}
		return errs.New(errs.Malformed, "the request body is not valid JSON (at byte %d)", se.offset+1)
	}
	return err
}

// wrongType records that a known field holds a value of another type (the first one wins) and
// skips the value.
func (p *bodyParser) wrongType(field, want string) error {
	start := p.pos
	p.skip = true // the type is what is wrong, whatever the value holds
	_, err := p.value(field)
	p.skip = false
	if err != nil {
		return err
	}
	if p.typeErr == nil {
		p.typeErr = &errs.Error{Kind: errs.Malformed, Message: "the request body is malformed",
			Details: []errs.FieldError{{Field: field, Message: fmt.Sprintf("must be %s, not %s", want, jsonKind(p.data[start]))}}}
	}
	return nil
}

// jsonKind names the JSON type a value starting with c has, as encoding/json does.
func jsonKind(c byte) string {
	switch c {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "bool"
	default:
		return "number"
	}
}

// object reads a known field that must be an object (or null) into m: members are added to what
// m holds, as encoding/json does with a map.
func (p *bodyParser) object(field string, m *map[string]any) error {
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '{':
		if *m == nil {
			*m = map[string]any{}
		}
		return p.members(field, *m)
	case p.literal("null"):
		*m = nil
		return nil
	case p.pos >= len(p.data):
		return p.fail("unexpected end of JSON input")
	}
	return p.wrongType(field, "an object")
}

func (p *bodyParser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *bodyParser) consume(c byte) bool {
	if p.pos < len(p.data) && p.data[p.pos] == c {
		p.pos++
		return true
	}
	return false
}

func (p *bodyParser) literal(lit string) bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
		p.pos += len(lit)
		return true
	}
	return false
}

// value reads any JSON value; path is the known field it is in, named when a number is too large
// for a float64.
func (p *bodyParser) value(path string) (any, error) {
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end of JSON input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		m := map[string]any{}
		return m, p.members(path, m)
	case c == '[':
		return p.array(path)
	case c == '"':
		return p.str()
	case c == 't' && p.literal("true"):
		return true, nil
	case c == 'f' && p.literal("false"):
		return false, nil
	case c == 'n' && p.literal("null"):
		return nil, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(path)
	}
	return nil, p.fail("invalid character %q looking for beginning of value", p.data[p.pos])
}

func (p *bodyParser) enter() error {
	p.depth++
	if p.depth > maxBodyDepth {
		return p.fail("exceeded max depth")
	}
	return nil
}

// members reads an object's members into m (the opening brace is next).
func (p *bodyParser) members(path string, m map[string]any) error {
	p.pos++
	if err := p.enter(); err != nil {
		return err
	}
	defer func() { p.depth-- }()
	p.space()
	if p.consume('}') {
		return nil
	}
	for {
		p.space()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			if p.pos >= len(p.data) {
				return p.fail("unexpected end of JSON input")
			}
			return p.fail("invalid character looking for beginning of object key string")
		}
		k, err := p.str()
		if err != nil {
			return err
		}
		p.space()
		if !p.consume(':') {
			return p.fail("expected a colon after an object key")
		}
		p.space()
		v, err := p.value(path)
		if err != nil {
			return err
		}
		m[k] = v
		p.space()
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			return nil
		}
		return p.fail("expected a comma or the end of the object")
	}
}

func (p *bodyParser) array(path string) ([]any, error) {
	p.pos++
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	out := []any{}
	p.space()
	if p.consume(']') {
		return out, nil
	}
	for {
		p.space()
		v, err := p.value(path)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		p.space()
		if p.consume(',') {
			continue
		}
		if p.consume(']') {
			return out, nil
		}
		return nil, p.fail("expected a comma or the end of the array")
	}
}

// number reads a JSON number as a float64.
func (p *bodyParser) number(path string) (any, error) {
	start := p.pos
	p.consume('-')
	switch {
	case p.consume('0'):
	case p.digits() == 0:
		return nil, p.fail("invalid number")
	}
	if p.consume('.') && p.digits() == 0 {
		return nil, p.fail("invalid number")
	}
	if p.consume('e') || p.consume('E') {
		if !p.consume('+') {
			p.consume('-')
		}
		if p.digits() == 0 {
			return nil, p.fail("invalid number")
		}
	}
	lit := string(p.data[start:p.pos])
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		if p.typeErr == nil && !p.skip {
			field := path // encoding/json names the struct field the number is in, not the keys within
			if field == "" {
				field = "(body)"
			}
			p.typeErr = &errs.Error{Kind: errs.Malformed, Message: "the request body is malformed",
				Details: []errs.FieldError{{Field: field, Message: "must be a number, not number " + lit}}}
		}
		return nil, nil
	}
	return f, nil
}

func (p *bodyParser) digits() int {
	n := 0
	for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// str reads a string (the opening quote is next).
func (p *bodyParser) str() (string, error) {
	if !p.consume('"') {
		if p.pos >= len(p.data) {
			return "", p.fail("unexpected end of JSON input")
		}
		return "", p.fail("invalid character %q looking for beginning of object key string", p.data[p.pos])
	}
	start := p.pos
	for p.pos < len(p.data) { // the common case: plain ASCII, nothing to unescape
		c := p.data[p.pos]
		if c == '"' {
			s := string(p.data[start:p.pos])
			p.pos++
			return s, nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		p.pos++
	}
	buf := append(make([]byte, 0, p.pos-start+16), p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.fail("invalid character in string literal")
		case c == '\\':
			p.pos++
			if p.pos >= len(p.data) {
				return "", p.fail("unexpected end of JSON input")
			}
			e := p.data[p.pos]
			p.pos++
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.fail("invalid character in \\u escape")
				}
				if utf16.IsSurrogate(r) {
					// A high half followed by a low one makes one character; a lone half is
					// U+FFFD, as encoding/json has it.
					if r < 0xDC00 {
						if r2, ok := p.lowSurrogate(); ok {
							buf = utf8.AppendRune(buf, utf16.DecodeRune(r, r2))
							continue
						}
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", p.fail("invalid character %q in string escape code", e)
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			p.pos++
		default:
			r, size := utf8.DecodeRune(p.data[p.pos:])
			p.pos += size
			buf = utf8.AppendRune(buf, r) // invalid UTF-8: U+FFFD
		}
	}
	return "", p.fail("unexpected end of JSON input")
}

// lowSurrogate reads a \uXXXX that follows a high surrogate, if there is one; it leaves the input
// as it was when the escape cannot pair (the escape is then read on its own).
func (p *bodyParser) lowSurrogate() (rune, bool) {
	if p.pos+6 > len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
		return 0, false
	}
	save := p.pos
	p.pos += 2
	r, ok := p.hex4()
	if !ok || utf16.DecodeRune(0xD800, r) == utf8.RuneError {
		p.pos = save
		return 0, false
	}
	return r, true
}

func (p *bodyParser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	p.pos += 4
	return r, true
}

// fieldIs reports whether a member name selects a field, as encoding/json matches them (exactly,
// or else without regard to case).
func fieldIs(name, field string) bool {
	return name == field || strings.EqualFold(name, field)
}

// decodeEvaluateRequest reads source 000's evaluation body.
func decodeEvaluateRequest(body []byte, req *EvaluateRequest) error {
	return decodeEvaluationBody(body, &req.UserID, &req.OrgID, &req.Attributes, &req.Context)
}

// decodeBulkEvaluateRequest reads source 003's body for every flag at once.
func decodeBulkEvaluateRequest(body []byte, req *BulkEvaluateRequest) error {
	return decodeEvaluationBody(body, &req.UserID, &req.OrgID, &req.Attributes, nil)
}

// decodeEvaluationBody reads the members both bodies have, and "context" when ctx is not nil (the
// bulk body knows no such field: there it is skipped like any unknown one).
func decodeEvaluationBody(body []byte, user, org *any, attrs, ctx *map[string]any) error {
	p := bodyParser{data: body}
	for name, ok := p.first(); ok; name, ok = p.next() {
		var err error
		switch {
		case fieldIs(name, "user_id"):
			*user, err = p.value("user_id")
		case fieldIs(name, "org_id"):
			*org, err = p.value("org_id")
		case fieldIs(name, "attributes"):
			err = p.object("attributes", attrs)
		case ctx != nil && fieldIs(name, "context"):
			err = p.object("context", ctx)
		default:
			p.skipValue()
		}
		p.read(err)
	}
	return p.end()
}

// bindEvaluation is bindLenient for the evaluation bodies, with their own decoder.
func bindEvaluation[T any](c *gin.Context, req *T, decode func([]byte, *T) error) error {
	body, err := readBody(c)
	if err != nil || len(body) == 0 {
		return err
	}
	if err := decode(body, req); err != nil {
		return err
	}
	return refuseNULInBody(body)
}

// decodeOFREPRequest reads an OFREP body: {"context": {…}}.
func decodeOFREPRequest(body []byte, req *OFREPRequest) error {
	p := bodyParser{data: body}
	for name, ok := p.first(); ok; name, ok = p.next() {
		if fieldIs(name, "context") {
			p.read(p.object("context", &req.Context))
		} else {
			p.skipValue()
		}
	}
	return p.end()
}

// Evaluation answers are written by hand, byte for byte what encoding/json writes for
// EvaluateResponse and OFREPSuccess (TestEvaluationAnswersEncodeAsEncodingJSON): strings and
// numbers are appended directly, only values that are objects or arrays go through encoding/json.

var answerBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// answerBuffer is a pooled buffer to write an answer into; writeAnswer sends it and gives it back.
func answerBuffer() *[]byte { return answerBuffers.Get().(*[]byte) }

// jsonContentType is the answers' Content-Type, shared (never changed: its length is its capacity).
var jsonContentType = []string{"application/json; charset=utf-8"}

// writeAnswer answers status with the JSON body out (appended to the buffer bp held), then gives
// the buffer back.
func writeAnswer(c *gin.Context, status int, bp *[]byte, out []byte) {
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Status(status)
	_, _ = c.Writer.Write(out)
	if cap(out) <= 64<<10 {
		*bp = out[:0]
		answerBuffers.Put(bp)
	}
}

func appendEvaluateResponse(b []byte, r *EvaluateResponse) []byte {
	b = append(b, `{"flag_key":`...)
	b = appendJSONString(b, r.FlagKey)
	b = append(b, `,"enabled":`...)
	b = strconv.AppendBool(b, r.Enabled)
	b = append(b, `,"value":`...)
	b = appendJSONValue(b, r.Value)
	if r.Variation != "" {
		b = append(b, `,"variation":`...)
		b = appendJSONString(b, r.Variation)
	}
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, r.Reason)
	if r.RuleID != "" {
		b = append(b, `,"rule_id":`...)
		b = appendJSONString(b, r.RuleID)
	}
	b = append(b, `,"rollout_percentage":`...)
	b = appendJSONFloat(b, r.RolloutPercentage)
	if r.ErrorCode != "" {
		b = append(b, `,"error_code":`...)
		b = appendJSONString(b, r.ErrorCode)
	}
	b = append(b, `,"version":`...)
	b = strconv.AppendInt(b, r.Version, 10)
	return append(b, '}')
}

// appendOFREPSuccess writes OFREPSuccess with its metadata: ruleId (when a rule matched), version.
func appendOFREPSuccess(b []byte, key, reason, variant string, value any, ruleID string, version int64) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, reason)
	b = append(b, `,"variant":`...)
	b = appendJSONString(b, variant)
	b = append(b, `,"value":`...)
	b = appendJSONValue(b, value)
	b = append(b, `,"metadata":{`...)
	if ruleID != "" {
		b = append(b, `"ruleId":`...)
		b = appendJSONString(b, ruleID)
		b = append(b, ',')
	}
	b = append(b, `"version":`...)
	b = strconv.AppendInt(b, version, 10)
	return append(b, "}}"...)
}

// appendJSONString appends s quoted: directly when it needs no escaping (HTML-safe, as
// encoding/json escapes <, > and &), through encoding/json otherwise.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= utf8.RuneSelf || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendJSONFloat appends a float64 as encoding/json does.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' { // clean up e-09 to e-9
		if n := len(b) - start; n >= 4 && b[len(b)-4] == 'e' && b[len(b)-3] == '-' && b[len(b)-2] == '0' {
			b[len(b)-2] = b[len(b)-1]
			b = b[:len(b)-1]
		}
	}
	return b
}

// appendJSONValue appends a served value: booleans, strings, numbers and null directly, objects and
// arrays through encoding/json.
func appendJSONValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendJSONString(b, x)
	case float64:
		return appendJSONFloat(b, x)
	}
	out, err := json.Marshal(v)
	if err != nil { // values come from validated JSON: cannot happen
		return append(b, "null"...)
	}
	return append(b, out...)
}
