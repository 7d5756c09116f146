package validation

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// MaxBodyBytes bounds a request body. A transaction is a few hundred bytes; anything
// near this limit is abuse, and reading it must not cost memory.
const MaxBodyBytes = 16 << 10

// Limits on identifiers, chosen to fit the audit table's columns and Redis key sizes.
const (
	maxMerchantIDLen     = 64
	maxIdempotencyKeyLen = 255
	minTokenLen          = 12
	maxTokenLen          = 64
)

// wireCard and wireTransaction mirror the JSON body. Pointers tell a missing field from a
// zero value, so "amount": 0 and a missing amount get different messages.
type wireCard struct {
	Number      *string `json:"number"`
	Token       *string `json:"token"`
	ExpiryMonth *int    `json:"expiry_month"`
	ExpiryYear  *int    `json:"expiry_year"`
	CVV         *string `json:"cvv"`
}

type wireTransaction struct {
	MerchantID *string   `json:"merchant_id"`
	Amount     *int64    `json:"amount"`
	Currency   *string   `json:"currency"`
	Card       *wireCard `json:"card"`
	Country    *string   `json:"country"`
	Timestamp  *string   `json:"timestamp"`
}

// RequestError is a 4xx answer: the request is wrong, retrying it unchanged is pointless.
// Its message never quotes the offending value, which could be card data.
type RequestError struct {
	Status  int
	Code    string
	Field   string
	Message string
}

func (e *RequestError) Error() string {
	if e.Field != "" {
		return e.Field + ": " + e.Message
	}
	return e.Message
}

// StatusCode lets go-kit's transport pick the HTTP status.
func (e *RequestError) StatusCode() int { return e.Status }

func invalid(field, format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field, Message: fmt.Sprintf(format, args...)}
}

// DecodeTransaction parses and schema-checks a JSON body. It accepts exactly one JSON
// object with only known fields, named exactly and each once, of the right types, and
// returns a 400 RequestError naming the first field at fault otherwise.
func DecodeTransaction(body []byte) (payment.Transaction, error) {
	if err := strictMembers(body); err != nil {
		return payment.Transaction{}, err
	}
	var w wireTransaction
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return payment.Transaction{}, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return payment.Transaction{}, invalid("", "body must hold exactly one JSON object")
	}
	return w.check()
}

// jsonError turns encoding/json's errors into messages that name a field or an offset
// but never repeat the input.
func jsonError(err error) *RequestError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return invalid("", "body is empty: expected a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("", "body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return invalid("", "malformed JSON at byte offset %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return invalid("", "body must be a JSON object")
		}
		return invalid(field, "must be %s", jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if len(name) > 66 {
			name = name[:64] + `…"`
		}
		return invalid("", "unknown field %s", name)
	default:
		return invalid("", "malformed JSON")
	}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64":
		return "an integer"
	case "struct", "ptr":
		return "an object"
	default:
		return "of another type"
	}
}

func (w *wireTransaction) check() (payment.Transaction, error) {
	var tx payment.Transaction
	switch {
	case w.MerchantID == nil:
		return tx, invalid("merchant_id", "is required")
	case !isIdentifier(*w.MerchantID, maxMerchantIDLen):
		return tx, invalid("merchant_id", "must be 1 to %d characters of A-Z, a-z, 0-9, '_', '-', '.'", maxMerchantIDLen)
	case w.Amount == nil:
		return tx, invalid("amount", "is required (an integer in the currency's minor units)")
	case *w.Amount <= 0:
		return tx, invalid("amount", "must be greater than zero")
	case w.Currency == nil:
		return tx, invalid("currency", "is required")
	case !isUpperAlpha(*w.Currency, 3):
		return tx, invalid("currency", "must be a three-letter ISO 4217 code in upper case")
	case w.Country == nil:
		return tx, invalid("country", "is required")
	case !isUpperAlpha(*w.Country, 2):
		return tx, invalid("country", "must be a two-letter ISO 3166-1 code in upper case")
	case w.Timestamp == nil:
		return tx, invalid("timestamp", "is required")
	case w.Card == nil:
		return tx, invalid("card", "is required")
	}
	ts, err := time.Parse(time.RFC3339Nano, *w.Timestamp)
	if err != nil {
		return tx, invalid("timestamp", "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z")
	}
	tx = payment.Transaction{
		MerchantID:  *w.MerchantID,
		AmountMinor: *w.Amount,
		Currency:    *w.Currency,
		Country:     *w.Country,
		Timestamp:   ts.UTC(),
	}
	return tx, w.Card.check(&tx)
}

func (c *wireCard) check(tx *payment.Transaction) error {
	switch {
	case c.Number != nil && c.Token != nil:
		return invalid("card", "give either number or token, not both")
	case c.Number == nil && c.Token == nil:
		return invalid("card", "number or token is required")
	case c.Token != nil:
		t := *c.Token
		if !strings.HasPrefix(t, "tok_") || len(t) < minTokenLen || len(t) > maxTokenLen || !isIdentifier(t, maxTokenLen) {
			return invalid("card.token", "must be tok_ followed by 8 to 60 characters of A-Z, a-z, 0-9, '_', '-'")
		}
		tx.Token = t
	default:
		pan, err := card.NormalizePAN(*c.Number)
		if err != nil {
			return invalid("card.number", "must be 12 to 19 digits (spaces and dashes allowed)")
		}
		tx.PAN = payment.PAN(pan)
		if c.ExpiryMonth == nil || c.ExpiryYear == nil {
			return invalid("card.expiry_month", "expiry_month and expiry_year are required with a card number")
		}
	}
	if c.ExpiryMonth != nil || c.ExpiryYear != nil {
		if c.ExpiryMonth == nil || c.ExpiryYear == nil {
			return invalid("card.expiry_month", "expiry_month and expiry_year go together")
		}
		if *c.ExpiryMonth < 1 || *c.ExpiryMonth > 12 {
			return invalid("card.expiry_month", "must be between 1 and 12")
		}
		if *c.ExpiryYear < 2000 || *c.ExpiryYear > 2099 {
			return invalid("card.expiry_year", "must be a four-digit year")
		}
		tx.ExpiryMonth, tx.ExpiryYear = *c.ExpiryMonth, *c.ExpiryYear
	}
	if c.CVV != nil {
		if tx.Token != "" {
			return invalid("card.cvv", "is not accepted with a token")
		}
		v := *c.CVV
		if len(v) < 3 || len(v) > 4 || strings.Trim(v, "0123456789") != "" {
			return invalid("card.cvv", "must be 3 or 4 digits")
		}
		tx.CVV = v
	}
	return nil
}

// ValidIdempotencyKey checks the Idempotency-Key header: 1 to 255 printable ASCII
// characters, as Stripe and the IETF httpapi draft allow.
func ValidIdempotencyKey(k string) bool {
	if k == "" || len(k) > maxIdempotencyKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

func isIdentifier(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isUpperAlpha(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// isAssignedCountry reports whether an upper-case alpha-2 code is an ISO 3166-1 country
// (x/text's CLDR region data; "ZZ", "EU", "AA" and the like are not).
func isAssignedCountry(code string) bool {
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry() && r.String() == code
}

// canonical is the byte form of a transaction that its fingerprint is computed over.
// Fields are length-prefixed so that no two different transactions share an encoding,
// and it is computed after parsing, so key order and whitespace do not matter. The
// timestamp is kept to the nanosecond for every year RFC 3339 can write
// (TestFingerprintTellsTimestampsApart).
func canonical(tx payment.Transaction) []byte {
	b := make([]byte, 0, 128)
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	str(tx.MerchantID)
	b = binary.AppendVarint(b, tx.AmountMinor)
	str(tx.Currency)
	str(tx.PAN.Reveal())
	str(tx.Token)
	b = binary.AppendVarint(b, int64(tx.ExpiryMonth))
	b = binary.AppendVarint(b, int64(tx.ExpiryYear))
	str(tx.CVV)
	str(tx.Country)
	// UnixNano overflows int64 outside 1678–2262 and would fold instants 2^64 ns apart
	// (2026 and 2611) onto one fingerprint. Within its range it stays, so that keys stored
	// before this encoding still replay; outside it, seconds and nanoseconds are written
	// as two varints. The timestamp is the encoding's tail, so one varint and two can
	// never be mistaken for each other.
	ts := tx.Timestamp
	if ns := ts.UnixNano(); time.Unix(0, ns).Equal(ts) {
		return binary.AppendVarint(b, ns)
	}
	b = binary.AppendVarint(b, ts.Unix())
	return binary.AppendUvarint(b, uint64(ts.Nanosecond()))
}
