// Package payment is the domain of the transaction-validator: a card transaction, the
// decision taken on it, and the stores the decision depends on (admission, which holds
// idempotency claims and velocity counts; rate limit; merchant limits; audit log).
// Implementations live in inmem, redisstore and pgstore; the validation service sees
// only the interfaces declared here.
package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Decision is the verdict on a transaction.
type Decision string

// Decisions, from best to worst for the merchant.
const (
	Approve Decision = "approve"
	Review  Decision = "review"
	Decline Decision = "decline"
)

// Reason is a machine-readable reason code that explains a review or a decline.
type Reason string

// Reason codes. The stable string values are part of the API.
const (
	ReasonLuhnInvalid        Reason = "card_number_invalid"
	ReasonBrandUnsupported   Reason = "card_brand_unsupported"
	ReasonCardExpired        Reason = "card_expired"
	ReasonExpiryTooFar       Reason = "card_expiry_invalid"
	ReasonCVVInvalid         Reason = "cvv_invalid"
	ReasonCurrencyUnknown    Reason = "currency_unsupported"
	ReasonAmountBelowMin     Reason = "amount_below_minimum"
	ReasonAmountAboveMax     Reason = "amount_above_maximum"
	ReasonMerchantLimit      Reason = "merchant_limit_exceeded"
	ReasonVelocityCard       Reason = "velocity_card_exceeded"
	ReasonVelocityMerchant   Reason = "velocity_merchant_exceeded"
	ReasonTimestampInFuture  Reason = "timestamp_in_future"
	ReasonTimestampTooOld    Reason = "timestamp_stale"
	ReasonCountryUnsupported Reason = "country_unsupported"
)

// severity maps each reason to the decision it forces on its own.
var severity = map[Reason]Decision{
	ReasonLuhnInvalid:        Decline,
	ReasonBrandUnsupported:   Decline,
	ReasonCardExpired:        Decline,
	ReasonExpiryTooFar:       Decline,
	ReasonCVVInvalid:         Decline,
	ReasonCurrencyUnknown:    Decline,
	ReasonAmountBelowMin:     Decline,
	ReasonAmountAboveMax:     Decline,
	ReasonVelocityCard:       Decline,
	ReasonTimestampInFuture:  Decline,
	ReasonTimestampTooOld:    Decline,
	ReasonCountryUnsupported: Decline,
	ReasonMerchantLimit:      Review,
	ReasonVelocityMerchant:   Review,
}

// Known reports whether r is one of the reason codes above. The service's metrics label
// only known codes by name, so no input and no bug can grow their cardinality.
func (r Reason) Known() bool {
	_, ok := severity[r]
	return ok
}

// Reasons returns every reason code, sorted.
func Reasons() []Reason {
	out := make([]Reason, 0, len(severity))
	for r := range severity {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// Decide turns a list of reasons into a decision: any decline reason declines, any review
// reason sends the transaction to review, no reason approves it.
func Decide(reasons []Reason) Decision {
	d := Approve
	for _, r := range reasons {
		switch severity[r] {
		case Decline:
			return Decline
		case Review:
			d = Review
		}
	}
	return d
}

// PAN is a primary account number held in memory only while a request is decided. Its
// String, GoString, LogValue and MarshalJSON all redact it, so an accidental %v, slog
// attribute or JSON encoding of a struct holding one never writes the number out.
type PAN string

// String redacts the PAN to its last four digits.
func (p PAN) String() string {
	if len(p) < 4 {
		return "[redacted]"
	}
	return "****" + string(p[len(p)-4:])
}

// GoString redacts the PAN for %#v.
func (p PAN) GoString() string { return p.String() }

// Format redacts the PAN for every fmt verb, %s and %q included.
func (p PAN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(p.String())) }

// LogValue redacts the PAN for slog.
func (p PAN) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalJSON redacts the PAN in JSON.
func (p PAN) MarshalJSON() ([]byte, error) { return []byte(`"` + p.String() + `"`), nil }

// Reveal returns the digits, for the few functions that must compute on them.
func (p PAN) Reveal() string { return string(p) }

// Transaction is a request to validate, after schema checks.
type Transaction struct {
	MerchantID  string
	AmountMinor int64
	Currency    string
	PAN         PAN    // normalised digits; empty when Token is set
	Token       string // a vault token standing for a card; empty when PAN is set
	ExpiryMonth int
	ExpiryYear  int
	CVV         string // digits or empty; never stored, never logged
	Country     string
	Timestamp   time.Time
}

// LogValue keeps card data out of logs even when a whole Transaction is logged.
func (t Transaction) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("merchant_id", t.MerchantID),
		slog.Int64("amount_minor", t.AmountMinor),
		slog.String("currency", t.Currency),
		slog.String("country", t.Country),
		slog.Bool("tokenized", t.Token != ""),
	)
}

// Format keeps card data out of fmt output (%v, %+v, %#v, %s) as LogValue does for slog.
func (t Transaction) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{merchant_id:%s amount_minor:%d currency:%s country:%s tokenized:%t}",
		t.MerchantID, t.AmountMinor, t.Currency, t.Country, t.Token != "")
}

// Result is the answer to one validation request.
type Result struct {
	RequestID string
	Decision  Decision
	Reasons   []Reason
	DecidedAt time.Time
	// Replayed is true when Result is the stored answer to an earlier request with the
	// same idempotency key.
	Replayed bool
}

// Stored is what the audit log keeps about a decided request, for idempotent replays:
// the request's fingerprint (a keyed hash of its canonical form) and its answer.
type Stored struct {
	Fingerprint []byte
	Result      Result
}

// AuditRecord is one row of the audit log. It holds no PAN, no CVV and no token: only
// their keyed hash, the last four digits and the brand.
type AuditRecord struct {
	RequestID      string
	MerchantID     string
	IdempotencyKey string
	Fingerprint    []byte
	CardHash       []byte
	CardLast4      string
	CardBrand      string
	AmountMinor    int64
	Currency       string
	Country        string
	TxnTime        time.Time
	Decision       Decision
	Reasons        []Reason
	DecidedAt      time.Time
	// Test marks a test transaction an operator submitted from the operator console. It
	// is set only by the validator's console-test listener, never from a request body,
	// and is stored with the decision so that reports can leave it out.
	Test bool
}

// Attempt is one request as the shared admission state sees it: the idempotency key it
// claims and the card and merchant whose velocity it counts toward.
type Attempt struct {
	MerchantID     string
	IdempotencyKey string
	// RequestID owns the claim: only the request that took it may release it.
	RequestID string
	// CardKey identifies the card by a keyed hash; never the PAN.
	CardKey string
	At      time.Time
	// Test attempts (AuditRecord.Test) are counted apart from real traffic: a test never
	// pushes a real merchant or card over its velocity limit, nor the other way round.
	Test bool
}

// Admitted is what Admission.Admit found.
type Admitted struct {
	// Limited is true when the service-wide rate limit refused the attempt. Then nothing
	// of it is held or counted, and RetryAfter is how long until the limit would admit
	// one more.
	Limited    bool
	RetryAfter time.Duration
	// Claimed is true when this attempt now holds its idempotency key, false when another
	// request holds it (that request is in flight, or decided within the claim's lifetime).
	Claimed bool
	// Counts include this attempt.
	Counts VelocityCounts
}

// VelocityCounts are the numbers of attempts seen in the current window.
type VelocityCounts struct {
	Card     int64
	Merchant int64
}

// Admission is the state shared by replicas that a request passes before it is decided:
// the service-wide rate limit (MAX_TRANSACTIONS_PER_SECOND, one budget for all replicas),
// a short exclusive claim on its idempotency key, and the one-minute velocity counters of
// its card and merchant. Admit takes all of it at once, so a networked store answers in
// one round trip. A claim only keeps concurrent requests with one key apart and lapses on
// its own; what was decided under a key, and for how long the key stays bound, is the
// audit log's (AuditLog.Lookup).
type Admission interface {
	// Admit spends one unit of the rate limit, claims the attempt's idempotency key and
	// counts the attempt. An attempt the limit refuses comes back Limited, holding and
	// counting nothing. Claim and counts are kept by the attempt's request id: an attempt
	// admitted twice (its first send ran, but its answer was lost) holds its claim and is
	// counted once. When Admit fails, its commands may or may not have run: the caller
	// calls GiveBack.
	Admit(ctx context.Context, a Attempt) (Admitted, error)
	// Uncount takes back the counts of an attempt that was not decided, if it was counted.
	Uncount(ctx context.Context, a Attempt) error
	// Release frees the attempt's claim, if it still holds it, so that a retry may run.
	Release(ctx context.Context, a Attempt) error
	// GiveBack is Release and Uncount at once (one round trip on a networked store). It
	// takes back exactly what the attempt holds, nothing when Admit never ran, so it is
	// safe after any failure and when repeated.
	GiveBack(ctx context.Context, a Attempt) error
	// Refund gives back the unit of the rate limit that an admitted attempt spent, when
	// its decision then failed to become durable. (After a failed Admit it is not known
	// whether the unit was spent; it is not refunded then, and is back within one
	// emission interval, 1 ms at 1,000 a second.)
	Refund(ctx context.Context) error
}

// MerchantLimits answers per-merchant ceilings on one transaction's amount.
type MerchantLimits interface {
	// MaxAmount is the merchant's ceiling in currency's minor units, if it has one.
	MaxAmount(merchantID, currency string) (int64, bool)
}

// AuditLog durably records decisions; it is also the source of truth for idempotency.
type AuditLog interface {
	// Record commits rec and returns nil once it is durable. When the merchant already
	// used rec.IdempotencyKey within the TTL, nothing is written and the earlier decision
	// is returned as existing.
	Record(ctx context.Context, rec AuditRecord) (existing *Stored, err error)
	// Lookup returns the decision bound to the merchant's idempotency key at time at, or
	// nil when the key is free (never used, or used longer than the TTL before at).
	Lookup(ctx context.Context, merchantID, key string, at time.Time) (*Stored, error)
}

// ErrUnavailable wraps failures of a backing store: the caller answers 503.
var ErrUnavailable = errors.New("dependency unavailable")
