package api

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vanehq/vane/internal/errs"
)

// evaluationBodies are bodies of every shape the evaluation routes meet, the hostile ones too.
var evaluationBodies = []string{
	`{"user_id":"user-123","attributes":{"plan":"pro","country":"US"}}`,
	`{"user_id":42,"org_id":"47","attributes":{"n":1.5e3,"neg":-0.25,"big":12345678901234567890,"b":true,"nil":null}}`,
	`{"user_id":"u","attributes":{"nested":{"a":[1,"two",{"three":3}],"e":{}},"list":[]},"context":{"targetingKey":"t"}}`,
	`{"USER_ID":"upper","Attributes":{"x":1},"unknown":{"deep":[1,2,{"k":"v"}]},"user_id":"last wins"}`,
	`{"attributes":{"a":1},"attributes":{"b":2}}`,
	`{"attributes":{"a":1},"attributes":null}`,
	`{"attributes":"not an object"}`,
	`{"attributes":5,"context":[1]}`,
	`{"attributes":[],"user_id":"u"}`,
	`{"context":true}`,
	`{"attributes":{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \u2028 \ud83d\ude00"}}`,
	`{"attributes":{"lone":"\ud800","low":"\udc00x","pair-then-bad":"\ud83d\u0041","two-highs":"\ud800\ud800","two-lows":"\udc00\udc00"}}`,
	`{"attributes":1e999}`,
	`{"context":1e999}`,
	`{"context":{"a":1e999}}`,
	"{\"attributes\":{\"bad-utf8\":\"\xff\xfe ok \xc3\"}}",
	"{\"attributes\":{\"k\xff\":\"v\"}}",
	`{"attributes":{"ünï":"cödé","emoji":"😀"}}`,
	`{"attributes":{"huge":1e999}}`,
	`{"unknown":1e999,"user_id":"u"}`,
	`{"user_id":-1e400}`,
	`{"user_id":"u",}`,
	`{"user_id":"u"} trailing`,
	`{"user_id":"u"}{}`,
	`{"user_id" "u"}`,
	`{"user_id":"u"`,
	`{"user_id":"unterminated`,
	`{"user_id":tru}`,
	`{"user_id":nul}`,
	`{"user_id":01}`,
	`{"user_id":1.}`,
	`{"user_id":.5}`,
	`{"user_id":-}`,
	`{"user_id":1e}`,
	`{"user_id":"\x01"}`,
	`{"user_id":"\q"}`,
	`{"user_id":"\u12"}`,
	`{"user_id":"\u12G4"}`,
	`{user_id:"u"}`,
	`{"a":[1,2,]}`,
	`{"a":[1 2]}`,
	`{"attributes":{"a":1,}}`,
	`{"attributes":{"a" 1}}`,
	`{"attributes":{1:2}}`,
	`{}`,
	`{ }`,
	" \t\n{ \"user_id\" : \"spaced\" , \"attributes\" : { } } \r\n",
	`{"attributes":"x","user_id":tru}`,
	`{"attributes":{"a":"\u0000"}}`,
	`{"context":{"targetingKey":"t","kind":"user","user":{"key":"u","email":"a@b.example"}}}`,
	`{"org_id":47.5}`,
	`{"attributes":{"deep":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}}`,
	`{"attributes":{"deep":` + strings.Repeat(`[`, 500) + strings.Repeat(`]`, 500) + `}}`,
}

// referenceEvaluate is what bindLenient made of an evaluation body with encoding/json.
func referenceEvaluate(body []byte, dst any) error {
	if err := json.Unmarshal(body, dst); err != nil {
		return decodeError(err)
	}
	return nil
}

// sameDecoding fails unless both decoders agree on a body: the same values, or errors of the
// same kind naming the same fields (syntax errors may say so at different offsets).
func sameDecoding(t *testing.T, body string) {
	t.Helper()
	b := bytes.TrimSpace([]byte(body))
	if len(b) == 0 || b[0] != '{' {
		return // refused by readBody before either decoder
	}
	sameAs(t, "EvaluateRequest", b, decodeEvaluateRequest)
	sameAs(t, "BulkEvaluateRequest", b, decodeBulkEvaluateRequest)
	sameAs(t, "OFREPRequest", b, decodeOFREPRequest)
}

// sameAs compares one decoder of a body shape with encoding/json.
func sameAs[T any](t *testing.T, what string, body []byte, decode func([]byte, *T) error) {
	t.Helper()
	var want, got T
	werr := referenceEvaluate(body, &want)
	gerr := decode(body, &got)
	compareErrs(t, what, string(body), werr, gerr)
	if werr == nil && gerr == nil && !reflect.DeepEqual(want, got) {
		t.Errorf("%s: decode(%.80q) = %#v, encoding/json %#v", what, body, got, want)
	}
}

func compareErrs(t *testing.T, what, body string, want, got error) {
	t.Helper()
	if (want == nil) != (got == nil) {
		t.Errorf("%s %.80q: error %v, encoding/json %v", what, body, got, want)
		return
	}
	if want == nil {
		return
	}
	we, _ := errs.As(want)
	ge, _ := errs.As(got)
	if we == nil || ge == nil || we.Kind != ge.Kind || !reflect.DeepEqual(we.Details, ge.Details) {
		t.Errorf("%s %.80q: error %#v, encoding/json %#v", what, body, ge, we)
	}
}

// TestEvaluationBodiesDecodeAsEncodingJSON: the evaluation routes' decoder reads every body as
// encoding/json does.
func TestEvaluationBodiesDecodeAsEncodingJSON(t *testing.T) {
	for _, body := range evaluationBodies {
		sameDecoding(t, body)
	}
}

func FuzzEvaluationBody(f *testing.F) {
	for _, body := range evaluationBodies {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sameDecoding(t, body)
	})
}

// evaluationAnswers are answers of every kind of value, key and figure.
var evaluationAnswers = []EvaluateResponse{
	{FlagKey: "new-checkout-flow", Enabled: true, Value: true, Variation: "true", Reason: "SPLIT", RuleID: "pro-na", RolloutPercentage: 50, Version: 3},
	{FlagKey: "k", Value: false, Reason: "DISABLED", RolloutPercentage: 0, Version: 1},
	{FlagKey: "missing", Value: nil, Reason: "FLAG_NOT_FOUND"},
	{FlagKey: "s", Enabled: true, Value: "blue <b>&\"quoted\"\\ é \u2028", Variation: "v<1>", Reason: "TARGETING_MATCH", RuleID: "r&1", RolloutPercentage: 12.5},
	{FlagKey: "n", Value: 3.14159, Reason: "DEFAULT", RolloutPercentage: 0.001},
	{FlagKey: "tiny", Value: 1e-7, RolloutPercentage: 1e-9},
	{FlagKey: "big", Value: 1e21, RolloutPercentage: 123456789012345680000},
	{FlagKey: "neg", Value: -0.0000012, RolloutPercentage: 99.99999},
	{FlagKey: "json", Value: map[string]any{"b": []any{1.0, "two", nil}, "a": map[string]any{"<": true}}, Reason: "STATIC", ErrorCode: "GENERAL"},
	{FlagKey: "list", Value: []any{}, Reason: "ERROR", ErrorCode: "TARGETING_KEY_MISSING"},
	{FlagKey: "ctl\x01\x1f", Value: "tab\tnew\nline", Reason: "DEFAULT"},
	{FlagKey: "bad-utf8-\xff", Value: "\xc3", Reason: "DEFAULT"},
}

// TestEvaluationAnswersEncodeAsEncodingJSON: the hand-written answers are encoding/json's, byte
// for byte.
func TestEvaluationAnswersEncodeAsEncodingJSON(t *testing.T) {
	for _, r := range evaluationAnswers {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendEvaluateResponse(nil, &r); string(got) != string(want) {
			t.Errorf("appendEvaluateResponse = %s\nencoding/json          %s", got, want)
		}
		md := map[string]any{"version": r.Version}
		if r.RuleID != "" {
			md["ruleId"] = r.RuleID
		}
		want, err = json.Marshal(OFREPSuccess{Key: r.FlagKey, Reason: r.Reason, Variant: r.Variation, Value: r.Value, Metadata: md})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendOFREPSuccess(nil, r.FlagKey, r.Reason, r.Variation, r.Value, r.RuleID, r.Version); string(got) != string(want) {
			t.Errorf("appendOFREPSuccess = %s\nencoding/json      %s", got, want)
		}
	}
}

func FuzzEvaluationAnswer(f *testing.F) {
	f.Add("k", "v", "r", 50.0, 1.5, int64(3))
	f.Add("a<b", "\xff\u2028", "", 1e-7, -1e21, int64(-1))
	f.Fuzz(func(t *testing.T, key, s, rule string, pct, num float64, version int64) {
		if math.IsNaN(pct) || math.IsInf(pct, 0) || math.IsNaN(num) || math.IsInf(num, 0) {
			return // never served: encoding/json refuses them
		}
		for _, v := range []any{s, num, nil, true} {
			r := EvaluateResponse{FlagKey: key, Value: v, Variation: s, Reason: "SPLIT", RuleID: rule, RolloutPercentage: pct, Version: version}
			want, _ := json.Marshal(r)
			if got := appendEvaluateResponse(nil, &r); string(got) != string(want) {
				t.Fatalf("appendEvaluateResponse = %s, encoding/json %s", got, want)
			}
		}
	})
}
