package main

import (
	"context"
	"io"
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/synthetic"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// The generator's requests are ones the service decodes and would approve on the card:
// valid Visa test PANs with a CVV, a distinct idempotency key each, and every card of the
// pool in use.
func TestBodiesAreValidAndDistinct(t *testing.T) {
	gen, err := newBodies()
	if err != nil {
		t.Fatal(err)
	}
	keys, cards := map[string]bool{}, map[string]bool{}
	for range 2000 {
		key, tx := gen.next()
		if keys[key] {
			t.Fatalf("idempotency key %s repeats", key)
		}
		keys[key] = true
		req, err := synthetic.NewRequest(context.Background(), "http://127.0.0.1/api/validate", key, tx)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(req.Body)
		tr, err := validation.DecodeTransaction(body)
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		pan := tr.PAN.Reveal()
		if !card.LuhnValid(pan) || card.DetectBrand(pan) != card.Visa || tr.CVV != "123" {
			t.Fatalf("card %s: Luhn %v, brand %s, CVV %q", pan, card.LuhnValid(pan), card.DetectBrand(pan), tr.CVV)
		}
		cards[pan] = true
	}
	if len(cards) != 1000 {
		t.Errorf("%d distinct cards in use, want the pool's 1000", len(cards))
	}
}
