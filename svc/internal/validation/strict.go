package validation

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// fields is the schema strictMembers checks a body against: the exact member names of an
// object, each with the schema of its value (nil: a scalar, or anything else, which the
// typed decoding then refuses).
type fields map[string]fields

var transactionFields = fields{
	"merchant_id": nil, "amount": nil, "currency": nil, "country": nil, "timestamp": nil,
	"card": {"number": nil, "token": nil, "expiry_month": nil, "expiry_year": nil, "cvv": nil},
}

// strictMembers reads body token by token and refuses what encoding/json would let
// through with a meaning the client may not have intended: a member named twice in one
// object, at any depth (encoding/json keeps the last, so "amount":99999999999,"amount":1
// was decided on 1), and a member whose name is not exactly a field's (encoding/json
// matches names case-insensitively, so "AMOUNT" set amount). Syntax errors are left to
// the typed decoding, which reports them with their offset.
func strictMembers(body []byte) *RequestError {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err, _ := walk(dec, transactionFields, true, "")
	return err
}

// walk consumes one value. known says whether the value, if an object, must have only
// the members of schema. The bool is false when the tokens ran out or were malformed.
func walk(dec *json.Decoder, schema fields, known bool, path string) (*RequestError, bool) {
	tok, err := dec.Token()
	if err != nil {
		return nil, false
	}
	switch tok {
	case json.Delim('{'):
		seen := make(map[string]struct{}, 8)
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, false
			}
			name, _ := t.(string)
			field := path + name
			if _, dup := seen[name]; dup {
				return memberError("duplicate_field", field, "is given more than once"), true
			}
			seen[name] = struct{}{}
			sub, ok := schema[name]
			if known && !ok {
				return memberError("unknown_field", "", "unknown field "+quoteName(field)+" (names are case-sensitive)"), true
			}
			if e, ok := walk(dec, sub, known && sub != nil, field+"."); e != nil || !ok {
				return e, ok
			}
		}
		_, err := dec.Token()
		return nil, err == nil
	case json.Delim('['):
		for dec.More() {
			if e, ok := walk(dec, nil, false, path); e != nil || !ok {
				return e, ok
			}
		}
		_, err := dec.Token()
		return nil, err == nil
	}
	return nil, true
}

func memberError(code, field, msg string) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Code: code, Field: field, Message: msg}
}

// quoteName quotes a member name for a message, cut short: names are client input.
func quoteName(n string) string {
	if len(n) > 64 {
		n = n[:64] + "…"
	}
	b, _ := json.Marshal(n)
	return string(b)
}
