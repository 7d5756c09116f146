package validation

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
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
//
// The tokens come from jsontext (go-json-experiment), whose decoder finds duplicate names
// itself, at any depth, without allocating a token per value as encoding/json's Token
// does. Invalid UTF-8 is let through here, as encoding/json lets it through: refusing it
// here would end the walk before the member checks, not refuse the body.
func strictMembers(body []byte) *RequestError {
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowInvalidUTF8(true))
	err, _ := walk(dec, transactionFields, "")
	return err
}

// walk consumes one value. A value whose schema is an object's has only the members of
// schema; any other is skipped, its member names still checked for duplicates by the
// decoder. The bool is false when the tokens ran out or were malformed.
func walk(dec *jsontext.Decoder, schema fields, path string) (*RequestError, bool) {
	if schema == nil || dec.PeekKind() != '{' {
		if err := dec.SkipValue(); err != nil {
			return duplicateError(err), false
		}
		return nil, true
	}
	if _, err := dec.ReadToken(); err != nil {
		return duplicateError(err), false
	}
	for dec.PeekKind() != '}' {
		t, err := dec.ReadToken()
		if err != nil {
			return duplicateError(err), false
		}
		name := t.String()
		sub, ok := schema[name]
		if !ok {
			return memberError("unknown_field", "", "unknown field "+quoteName(path+name)+" (names are case-sensitive)"), true
		}
		if e, ok := walk(dec, sub, path+name+"."); e != nil || !ok {
			return e, ok
		}
	}
	_, err := dec.ReadToken()
	return duplicateError(err), err == nil
}

// duplicateError turns the decoder's duplicate-name error into the client's answer, naming
// the member by its path (card.number); any other error is syntax, left to the typed
// decoding (nil).
func duplicateError(err error) *RequestError {
	var se *jsontext.SyntacticError
	if err == nil || !errors.As(err, &se) || !errors.Is(se.Err, jsontext.ErrDuplicateName) {
		return nil
	}
	var field strings.Builder
	for tok := range se.JSONPointer.Tokens() {
		if field.Len() > 0 {
			field.WriteByte('.')
		}
		field.WriteString(tok)
	}
	return memberError("duplicate_field", field.String(), "is given more than once")
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
