package validation_test

import (
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// BenchmarkDecodeTransaction measures the decoder on a typical body; the Loose variant is
// encoding/json alone, so the difference is what the strict member checks cost.
func BenchmarkDecodeTransaction(b *testing.B) {
	body := []byte(txn(nil))
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := validation.DecodeTransaction(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("loose", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := validation.DecodeTransactionLoose(body); err != nil {
				b.Fatal(err)
			}
		}
	})
}
