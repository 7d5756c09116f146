package validation_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

func seeds(f *testing.F) {
	for _, s := range []string{
		txn(nil), txn(map[string]any{"card.number": nil, "card.cvv": nil, "card.token": "tok_abcdefgh1234"}),
		`{}`, `[]`, `null`, `{"amount":1e400}`, `{"card":{"number":4111111111111111}}`, `{"merchant_id":"\u0000"}`,
		`{"a":` + strings.Repeat("[", 1000), "\xff\xfe", `{"amount":-0}`, `{"timestamp":"2026-13-45T99:99:99Z"}`,
		strings.Replace(txn(nil), `"amount":1999`, `"amount":99999999999,"amount":1999`, 1),
		strings.Replace(txn(nil), `"amount":`, `"AMOUNT":`, 1), strings.Replace(txn(nil), `"cvv":`, `"cvv":"1","Cvv":`, 1),
	} {
		f.Add([]byte(s))
	}
}

// FuzzDecodeTransaction: every input either decodes into a transaction that satisfies
// the schema, or fails with a 400 whose message does not echo the input.
func FuzzDecodeTransaction(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		tx, err := validation.DecodeTransaction(body)
		if err != nil {
			re, ok := err.(*validation.RequestError)
			if !ok || re.Status != http.StatusBadRequest || re.Message == "" {
				t.Fatalf("error is not a 400 RequestError: %#v", err)
			}
			if len(body) >= 12 && utf8.Valid(body) && strings.Contains(re.Error(), string(body)) {
				t.Fatalf("error echoes the body")
			}
			return
		}
		if tx.MerchantID == "" || tx.AmountMinor <= 0 || len(tx.Currency) != 3 || len(tx.Country) != 2 || tx.Timestamp.IsZero() {
			t.Fatalf("decoded an invalid transaction: %v", tx)
		}
		if (tx.PAN == "") == (tx.Token == "") {
			t.Fatalf("exactly one of PAN and token must be set")
		}
		if tx.PAN != "" && (len(tx.PAN.Reveal()) < 12 || len(tx.PAN.Reveal()) > 19) {
			t.Fatalf("PAN length %d", len(tx.PAN.Reveal()))
		}
	})
}

// FuzzHandler: no body makes the HTTP handler answer 500 or panic.
func FuzzHandler(f *testing.F) {
	seeds(f)
	fx := newFixture(f, 1_000_000, nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/api/validate", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "fuzz")
		rec := httptest.NewRecorder()
		fx.handler.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

// FuzzStrictDecoding holds the strict decoder to encoding/json: whatever DecodeTransaction
// accepts, encoding/json's Unmarshal accepts too, into the same transaction. Strictness
// only refuses; it never reads a body differently.
func FuzzStrictDecoding(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		tx, err := validation.DecodeTransaction(body)
		if err != nil {
			return
		}
		loose, err := validation.DecodeTransactionLoose(body)
		if err != nil {
			t.Fatalf("strict decoding accepted what encoding/json refuses: %v", err)
		}
		if !reflect.DeepEqual(tx, loose) {
			t.Fatalf("strict and encoding/json read different transactions: %v vs %v", tx, loose)
		}
	})
}
