package validation_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestStrictDecoding is issue 21's fifth finding: the body means one thing only. A
// duplicate member (the last one won: "amount":99999999999,"amount":1 was approved), a
// member whose name matches a field only case-insensitively, and a body without a JSON
// Content-Type or in a charset other than UTF-8 are refused, with a code, and admit
// nothing: the same key then decides normally.
func TestStrictDecoding(t *testing.T) {
	f := newFixture(t, 1000, nil)
	valid := txn(nil)
	dupTop := strings.Replace(valid, `"amount":1999`, `"amount":99999999999,"amount":1999`, 1)
	dupCard := strings.Replace(valid, `"cvv":"123"`, `"cvv":"999","cvv":"123"`, 1)
	upper := strings.Replace(valid, `"amount":`, `"AMOUNT":`, 1)
	upperCard := strings.Replace(valid, `"cvv":`, `"CVV":`, 1)
	if dupTop == valid || dupCard == valid || upper == valid || upperCard == valid {
		t.Fatal("test bodies were not built")
	}
	cases := []struct {
		name, body string
		status     int
		code       string
		hdr        []string
	}{
		{"duplicate member", dupTop, 400, "duplicate_field", nil},
		{"duplicate member in card", dupCard, 400, "duplicate_field", nil},
		{"duplicate member deep in a value", strings.Replace(valid, `"amount":1999`, `"amount":[{"a":1,"a":2}]`, 1), 400, "duplicate_field", nil},
		{"field name in upper case", upper, 400, "unknown_field", nil},
		{"card field name in upper case", upperCard, 400, "unknown_field", nil},
		{"unknown field", strings.Replace(valid, `{`, `{"extra":1,`, 1), 400, "unknown_field", nil},
		{"trailing data", valid + `{}`, 400, "invalid_request", nil},
		{"no content type", valid, 415, "unsupported_media_type", []string{"Content-Type", ""}},
		{"utf-16", valid, 415, "unsupported_media_type", []string{"Content-Type", "application/json; charset=utf-16"}},
		{"latin-1", valid, 415, "unsupported_media_type", []string{"Content-Type", "application/json; charset=iso-8859-1"}},
		{"json suffix type", valid, 415, "unsupported_media_type", []string{"Content-Type", "application/problem+json"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := f.post(t, "strict", c.body, c.hdr...)
			e, _ := a.Body["error"].(map[string]any)
			if a.Status != c.status || e == nil || e["code"] != c.code || e["message"] == "" {
				t.Fatalf("want %d %s, got %d %s", c.status, c.code, a.Status, a.RawBody)
			}
		})
	}
	for i, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"} {
		req := httptest.NewRequest(http.MethodPost, "/api/validate", strings.NewReader(valid))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Idempotency-Key", "ct-"+strconv.Itoa(i))
		rec := httptest.NewRecorder()
		f.handler.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("Content-Type %q: %d %s", ct, rec.Code, rec.Body)
		}
	}
	// Nothing above was admitted: the key is free and the card's count starts afresh
	// (three decisions so far: the Content-Type checks).
	a := f.post(t, "strict", valid)
	if a.Status != 200 || a.Body["decision"] != "approve" || a.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the key after refused bodies: %d %s", a.Status, a.RawBody)
	}
	if n := len(f.audit.Records()); n != 4 {
		t.Fatalf("%d audit records, want 4", n)
	}
}
