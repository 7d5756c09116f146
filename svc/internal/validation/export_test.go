package validation

import (
	"encoding/json"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// DecodeTransactionLoose is DecodeTransaction as it was before the strict member checks,
// encoding/json alone: the oracle of FuzzStrictDecoding.
func DecodeTransactionLoose(body []byte) (payment.Transaction, error) {
	var w wireTransaction
	if err := json.Unmarshal(body, &w); err != nil {
		return payment.Transaction{}, err
	}
	return w.check()
}
