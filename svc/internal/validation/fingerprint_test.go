package validation

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// randomInstant is a UTC instant anywhere in years 0001–9999, to the nanosecond: the
// whole range RFC 3339 can write, and so the whole range a request may carry.
func randomInstant(r *rand.Rand) time.Time {
	lo := time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	hi := time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	return time.Unix(lo+r.Int64N(hi-lo+1), r.Int64N(1e9)).UTC()
}

// TestFingerprintTellsTimestampsApart is a property test: two transactions that differ
// only in their timestamp never share a canonical form, whatever the years, including
// the pairs that UnixNano would fold onto each other (it overflows outside 1678–2262).
func TestFingerprintTellsTimestampsApart(t *testing.T) {
	r := rand.New(rand.NewPCG(20261206, 21))
	base := payment.Transaction{MerchantID: "m", AmountMinor: 1, Currency: "EUR", Token: "tok_abcdefgh", Country: "DE"}
	enc := func(ts time.Time) []byte {
		tx := base
		tx.Timestamp = ts
		return canonical(tx)
	}
	check := func(a, b time.Time) {
		t.Helper()
		if !a.Equal(b) && bytes.Equal(enc(a), enc(b)) {
			t.Fatalf("%s and %s share a fingerprint", a.Format(time.RFC3339Nano), b.Format(time.RFC3339Nano))
		}
		if a.Equal(b) && !bytes.Equal(enc(a), enc(b.In(time.FixedZone("x", 3600)))) {
			t.Fatalf("%s: the same instant in another zone changed the fingerprint", a.Format(time.RFC3339Nano))
		}
	}
	// The case: 2611 and 2026 were one fingerprint (UnixNano wraps every ~584 years).
	in2026 := time.Date(2026, 11, 23, 18, 0, 0, 0, time.UTC)
	check(in2026, time.Unix(0, in2026.UnixNano()).Add(1<<63-1).Add(1<<63-1).Add(2))
	for range 20000 {
		a := randomInstant(r)
		check(a, a)
		check(a, randomInstant(r))
		check(a, a.Add(time.Nanosecond))
		// A multiple of 2^64 ns away: the exact pairs an int64 of nanoseconds folds together.
		if b := a.Add(1<<63 - 1).Add(1<<63 - 1).Add(2); b.Year() <= 9999 {
			check(a, b)
		}
		if b := a.Add(-(1<<63 - 1)).Add(-(1<<63 - 1)).Add(-2); b.Year() >= 1 {
			check(a, b)
		}
	}
}

// TestFingerprintUnchangedInRange: within 1678–2262 the encoding is what it always was,
// so keys stored before the wider encoding still replay instead of turning into 422s.
func TestFingerprintUnchangedInRange(t *testing.T) {
	tx := payment.Transaction{MerchantID: "m", AmountMinor: 1, Currency: "EUR", Token: "tok_abcdefgh", Country: "DE",
		Timestamp: time.Date(2026, 11, 23, 18, 0, 0, 123456789, time.UTC)}
	got := canonical(tx)
	notime := tx
	notime.Timestamp = time.Unix(0, 0)
	want := binary.AppendVarint(canonical(notime)[:len(canonical(notime))-1], tx.Timestamp.UnixNano())
	if !bytes.Equal(got, want) {
		t.Fatalf("in-range encoding changed:\n got %x\nwant %x", got, want)
	}
}
