// Package synthetic builds the transactions of traffic that is not a customer's: the
// canary probe's (package canary) and the load generator's (cmd/loadgen). Both used to
// write the request body and the card numbers themselves; now the shape of the body lives
// here once, and its test decodes it with validation.DecodeTransaction, so it cannot drift
// from what POST /api/validate accepts.
//
// It is a package of its own, not part of card: card holds what the service knows about
// payment cards (it gives the test PANs, card.TestPAN), while a request body is the API's
// shape, with merchants, amounts and timestamps that card has no business knowing. Nor is
// it part of validation, whose decoder is the other side of the contract this package is
// tested against.
package synthetic

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Transaction is the JSON body of POST /api/validate.
type Transaction struct {
	MerchantID string `json:"merchant_id"`
	// Amount is in the currency's minor units.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Country  string `json:"country"`
	// Timestamp is RFC 3339, in UTC.
	Timestamp string `json:"timestamp"`
	Card      Card   `json:"card"`
}

// Card is the card part of a Transaction. CVV is left out of the body when empty.
type Card struct {
	Number      string `json:"number"`
	ExpiryMonth int    `json:"expiry_month"`
	ExpiryYear  int    `json:"expiry_year"`
	CVV         string `json:"cvv,omitempty"`
}

// New returns a transaction in EUR from Germany, dated now, paid with the card pan, which
// expires two years after now: a transaction the service approves when pan is valid and
// no limit is reached.
func New(merchantID string, amount int64, pan string, now time.Time) Transaction {
	exp := now.AddDate(2, 0, 0)
	return Transaction{
		MerchantID: merchantID,
		Amount:     amount,
		Currency:   "EUR",
		Country:    "DE",
		Timestamp:  now.UTC().Format(time.RFC3339),
		Card:       Card{Number: pan, ExpiryMonth: int(exp.Month()), ExpiryYear: exp.Year()},
	}
}

// NewRequest returns the POST of t to url (the API's /api/validate) under the
// idempotency key key, with the headers the service requires.
func NewRequest(ctx context.Context, url, key string, t Transaction) (*http.Request, error) {
	body, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	return req, nil
}
