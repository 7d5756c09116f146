// Package validation decides whether a payment transaction may go on to a processor. It
// follows go-kit's layering: Service holds the business rules, endpoint.go adapts it to
// go-kit endpoints (and bounds each request's time), transport.go speaks HTTP/JSON. The
// service-wide rate limit is not a middleware here: it is part of admission
// (payment.Admission; on Redis, redisstore/ratelimit.go), spent in the same round trip as
// the idempotency claim and the velocity counts.
package validation

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/currency"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// Request is one validation request after decoding.
type Request struct {
	RequestID      string
	IdempotencyKey string
	Txn            payment.Transaction
	// Test is true for a test transaction from the operator console. Only the console-test
	// handler (NewConsoleTestHandler) sets it; the public API's decoder has no field for it.
	Test bool
}

// Service decides on transactions.
type Service interface {
	Validate(ctx context.Context, req Request) (payment.Result, error)
}

// Rules are the tunable thresholds of the decision.
type Rules struct {
	VelocityCardPerMinute     int64
	VelocityMerchantPerMinute int64
	// MaxClockSkew is how far in the future a transaction timestamp may lie.
	MaxClockSkew time.Duration
	// MaxAge is how old a transaction may be when it is validated.
	MaxAge time.Duration
	// MaxExpiryYears is how far ahead a card's expiry may lie; issuers print at most
	// ten years, so twenty leaves room without accepting typos like 2099.
	MaxExpiryYears int
}

// DefaultRules returns the thresholds used when configuration does not override them.
func DefaultRules() Rules {
	return Rules{VelocityCardPerMinute: 10, VelocityMerchantPerMinute: 60000, MaxClockSkew: 5 * time.Minute, MaxAge: 24 * time.Hour, MaxExpiryYears: 20}
}

// Deps are the stores and tools the service decides with.
type Deps struct {
	Admission payment.Admission
	Limits    payment.MerchantLimits
	Audit     payment.AuditLog
	Hasher    *card.Hasher
	Logger    *slog.Logger
	Now       func() time.Time
	// AdmissionTimeout is one call to the admission store (REDIS_TIMEOUT). Admit gets
	// twice that, room for a new connection's dial and handshake before its pipeline (a
	// burst of requests on an empty pool needs it); the give-back after a failure gets
	// it once, and is retried in the background if that is not enough. A 503 from a
	// stalled admission store thus comes within three times this. Zero leaves Admit to
	// the request's deadline and gives the give-back cleanupTimeout.
	AdmissionTimeout time.Duration
}

// Errors the service returns besides RequestError; transport.go maps them to statuses.
var (
	// ErrIdempotencyKeyReused: the key was used before with a different request (422).
	ErrIdempotencyKeyReused = errors.New("this Idempotency-Key was already used with a different request")
	// ErrIdempotencyKeyInUse: a request with this key is being decided right now (409).
	ErrIdempotencyKeyInUse = errors.New("a request with this Idempotency-Key is being processed; retry later")
)

// hash domains keep hashes of different kinds of data apart.
const (
	domainPAN         = "pan"
	domainToken       = "token"
	domainFingerprint = "request"
)

type service struct {
	deps  Deps
	rules Rules
	// pendingGiveBacks counts give-backs being retried in the background.
	pendingGiveBacks atomic.Int64
}

// NewService returns the decision service.
func NewService(deps Deps, rules Rules) Service {
	if deps.Now == nil {
		deps.Now = time.Now
	}
	return &service{deps: deps, rules: rules}
}

// Validate runs, in order: admission (the service-wide rate limit, the idempotency claim
// and the velocity counts, one round trip), static rules, durable audit. The answer is
// returned only after its audit row is committed. A request whose key another request
// holds is answered from the audit log (a replay), or told to retry while the other is
// still being decided. On any store failure (admission's own included: a time-out does
// not say whether the store ran the commands) the claim is released and the counts
// taken back before the 503 is answered, so a retry starts from a clean slate and a 503
// never changes a later decision; the audit log is the source of truth for what was
// decided.
func (s *service) Validate(ctx context.Context, req Request) (payment.Result, error) {
	tx := req.Txn
	fp := s.deps.Hasher.Sum(domainFingerprint, canonical(tx))
	// PostgreSQL keeps microseconds: a decision time with more would be answered
	// differently the first time and on a replay.
	now := s.deps.Now().UTC().Truncate(time.Microsecond)
	rec, cardKey := s.auditRecord(req, fp[:], now)
	att := payment.Attempt{MerchantID: tx.MerchantID, IdempotencyKey: req.IdempotencyKey, RequestID: req.RequestID, CardKey: cardKey, At: now, Test: req.Test}
	adm, err := s.admit(ctx, att)
	if err != nil {
		s.giveBack(ctx, att)
		return payment.Result{}, unavailable("admission store", err)
	}
	if adm.Limited {
		return payment.Result{}, &RateLimitedError{RetryAfter: adm.RetryAfter}
	}
	if !adm.Claimed {
		s.uncount(ctx, att)
		stored, err := s.deps.Audit.Lookup(ctx, tx.MerchantID, req.IdempotencyKey, now)
		if err != nil {
			return payment.Result{}, unavailable("audit log", err)
		}
		if stored == nil {
			return payment.Result{}, ErrIdempotencyKeyInUse
		}
		return s.replay(ctx, *stored, fp[:], now)
	}

	reasons := s.staticReasons(tx, rec.CardBrand, now)
	if adm.Counts.Card > s.rules.VelocityCardPerMinute {
		reasons = append(reasons, payment.ReasonVelocityCard)
	}
	if adm.Counts.Merchant > s.rules.VelocityMerchantPerMinute {
		reasons = append(reasons, payment.ReasonVelocityMerchant)
	}
	if reasons == nil {
		reasons = []payment.Reason{}
	}
	rec.Reasons = reasons
	rec.Decision = payment.Decide(reasons)
	res := payment.Result{RequestID: req.RequestID, Decision: rec.Decision, Reasons: reasons, DecidedAt: now}

	existing, err := s.deps.Audit.Record(ctx, rec)
	if err != nil {
		s.giveBack(ctx, att)
		s.refund(ctx)
		return payment.Result{}, unavailable("audit log", err)
	}
	if existing != nil {
		// The claim had lapsed (or the admission store lost it) but the key is still bound
		// in the audit log: this request is a duplicate after all.
		s.giveBack(ctx, att)
		return s.replay(ctx, *existing, fp[:], now)
	}
	s.deps.Logger.LogAttrs(ctx, slog.LevelInfo, "decision",
		slog.String("request_id", res.RequestID),
		slog.String("merchant_id", tx.MerchantID),
		slog.String("decision", string(res.Decision)),
		slog.Any("reasons", res.Reasons),
		slog.Int64("amount_minor", tx.AmountMinor),
		slog.String("currency", tx.Currency),
		slog.String("card_brand", rec.CardBrand),
		slog.String("card_last4", rec.CardLast4),
		slog.Bool("test", req.Test),
	)
	return res, nil
}

// ReplayRecorder is an audit log that also records each idempotent replay (pgstore's;
// the operator console shows the count).
type ReplayRecorder interface {
	RecordReplay(ctx context.Context, requestID string, at time.Time) error
}

// replay answers with the stored decision if the request is the one it decided, and
// records the replay. A replay that could not be recorded is still answered: the decision
// is durable, and the count is for investigation, not for the decision.
func (s *service) replay(ctx context.Context, stored payment.Stored, fp []byte, now time.Time) (payment.Result, error) {
	if !bytes.Equal(stored.Fingerprint, fp) {
		return payment.Result{}, ErrIdempotencyKeyReused
	}
	res := stored.Result
	res.Replayed = true
	if r, ok := s.deps.Audit.(ReplayRecorder); ok {
		if err := r.RecordReplay(ctx, res.RequestID, now); err != nil {
			s.deps.Logger.LogAttrs(ctx, slog.LevelWarn, "replay not recorded",
				slog.String("request_id", res.RequestID), slog.String("error", err.Error()))
		}
	}
	return res, nil
}

// auditRecord builds the stored form of the request: card hash, last four and brand, and
// nothing else of the card. It also returns the key velocity is counted under.
func (s *service) auditRecord(req Request, fp []byte, now time.Time) (payment.AuditRecord, string) {
	tx := req.Txn
	rec := payment.AuditRecord{
		RequestID:      req.RequestID,
		MerchantID:     tx.MerchantID,
		IdempotencyKey: req.IdempotencyKey,
		Fingerprint:    fp,
		AmountMinor:    tx.AmountMinor,
		Currency:       tx.Currency,
		Country:        tx.Country,
		TxnTime:        tx.Timestamp,
		DecidedAt:      now,
		Test:           req.Test,
	}
	var h [32]byte
	if tx.Token != "" {
		h = s.deps.Hasher.Sum(domainToken, []byte(tx.Token))
		rec.CardBrand = "token"
	} else {
		pan := tx.PAN.Reveal()
		h = s.deps.Hasher.Sum(domainPAN, []byte(pan))
		rec.CardLast4 = card.Last4(pan)
		rec.CardBrand = string(card.DetectBrand(pan))
	}
	rec.CardHash = h[:]
	// 128 bits of the keyed hash are plenty to tell cards apart in a one-minute window.
	return rec, hex.EncodeToString(h[:16])
}

// staticReasons applies the rules that need no shared state.
func (s *service) staticReasons(tx payment.Transaction, brand string, now time.Time) []payment.Reason {
	var reasons []payment.Reason
	add := func(r payment.Reason) { reasons = append(reasons, r) }

	if tx.PAN != "" {
		pan := tx.PAN.Reveal()
		switch {
		case !card.LuhnValid(pan):
			add(payment.ReasonLuhnInvalid)
		case card.Brand(brand) == card.Unknown:
			add(payment.ReasonBrandUnsupported)
		case tx.CVV != "" && len(tx.CVV) != card.CVVLength(card.Brand(brand)):
			add(payment.ReasonCVVInvalid)
		}
	}
	if tx.ExpiryYear != 0 {
		// A card is valid through the last day of its expiry month.
		cur := now.Year()*12 + int(now.Month()) - 1
		exp := tx.ExpiryYear*12 + tx.ExpiryMonth - 1
		switch {
		case exp < cur:
			add(payment.ReasonCardExpired)
		case exp > cur+12*s.rules.MaxExpiryYears:
			add(payment.ReasonExpiryTooFar)
		}
	}
	if cur, ok := currency.Lookup(tx.Currency); !ok {
		add(payment.ReasonCurrencyUnknown)
	} else {
		b := currency.AmountBounds(cur)
		switch {
		case tx.AmountMinor < b.Min:
			add(payment.ReasonAmountBelowMin)
		case tx.AmountMinor > b.Max:
			add(payment.ReasonAmountAboveMax)
		default:
			if max, ok := s.deps.Limits.MaxAmount(tx.MerchantID, tx.Currency); ok && tx.AmountMinor > max {
				add(payment.ReasonMerchantLimit)
			}
		}
	}
	if !isAssignedCountry(tx.Country) {
		add(payment.ReasonCountryUnsupported)
	}
	switch {
	case tx.Timestamp.After(now.Add(s.rules.MaxClockSkew)):
		add(payment.ReasonTimestampInFuture)
	case tx.Timestamp.Before(now.Add(-s.rules.MaxAge)):
		add(payment.ReasonTimestampTooOld)
	}
	return reasons
}

// cleanupTimeout bounds a give-back when no AdmissionTimeout is set.
const cleanupTimeout = time.Second

func (s *service) admit(ctx context.Context, att payment.Attempt) (payment.Admitted, error) {
	if d := s.deps.AdmissionTimeout; d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*d)
		defer cancel()
	}
	return s.deps.Admission.Admit(ctx, att)
}

// cleanupContext is detached from the request's cancellation, which may be what just
// failed it, but keeps its values (the trace), and has a short deadline of its own.
func (s *service) cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d := s.deps.AdmissionTimeout
	if d <= 0 {
		d = cleanupTimeout
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// Give-backs that fail (the store is still stalled) are tried again in the background,
// which is safe because GiveBack is exact and idempotent by request id: for as long as a
// velocity counter lives (two minutes), at most maxPendingGiveBacks at a time.
const (
	giveBackPatience    = 2 * time.Minute
	maxPendingGiveBacks = 10000
)

// giveBack takes back what att holds before the failure is answered; if the store does
// not answer in time, it keeps trying after the answer, so that the state a 503 left
// behind is gone as soon as the store is back.
func (s *service) giveBack(ctx context.Context, att payment.Attempt) {
	detached := context.WithoutCancel(ctx)
	cctx, cancel := s.cleanupContext(detached)
	err := s.deps.Admission.GiveBack(cctx, att)
	cancel()
	if err == nil {
		return
	}
	if s.pendingGiveBacks.Add(1) > maxPendingGiveBacks {
		s.pendingGiveBacks.Add(-1)
		s.deps.Logger.Warn("give-back failed and too many are pending; the claim lapses on its own, the counts may stay one too high this minute",
			"request_id", att.RequestID, "error", err)
		return
	}
	go func() {
		defer s.pendingGiveBacks.Add(-1)
		deadline := time.Now().Add(giveBackPatience)
		for wait := 50 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 2*time.Second) {
			time.Sleep(wait)
			cctx, cancel := s.cleanupContext(detached)
			err = s.deps.Admission.GiveBack(cctx, att)
			cancel()
			if err == nil {
				return
			}
		}
		s.deps.Logger.Warn("give-back failed for two minutes; the claim has lapsed, the counts may stay one too high this minute",
			"request_id", att.RequestID, "error", err)
	}()
}

// refund gives back the rate-limit unit of an admitted request whose decision failed.
func (s *service) refund(ctx context.Context) {
	ctx, cancel := s.cleanupContext(ctx)
	defer cancel()
	if err := s.deps.Admission.Refund(ctx); err != nil {
		s.deps.Logger.Warn("rate-limit refund failed; the unit is back within one emission interval", "error", err)
	}
}

func (s *service) uncount(ctx context.Context, att payment.Attempt) {
	ctx, cancel := s.cleanupContext(ctx)
	defer cancel()
	if err := s.deps.Admission.Uncount(ctx, att); err != nil {
		s.deps.Logger.Warn("velocity uncount failed; counts stay one too high for this minute",
			"request_id", att.RequestID, "error", err)
	}
}

// RateLimitedError is a 429: the service-wide transaction rate is exhausted.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limit of the validation service reached; retry after %s", e.RetryAfter)
}

// StatusCode is 429 Too Many Requests.
func (e *RateLimitedError) StatusCode() int { return http.StatusTooManyRequests }

// Headers carries Retry-After in whole seconds, rounded up as RFC 9110 requires.
func (e *RateLimitedError) Headers() http.Header {
	secs := int((e.RetryAfter + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	return http.Header{"Retry-After": []string{strconv.Itoa(secs)}}
}

// UnavailableError is a 503: a backing store failed or timed out. Nothing was half
// written; the client may retry with the same Idempotency-Key.
type UnavailableError struct {
	Store string
	Err   error
}

func (e *UnavailableError) Error() string { return fmt.Sprintf("%s unavailable: %v", e.Store, e.Err) }

// Unwrap exposes the cause and payment.ErrUnavailable to errors.Is.
func (e *UnavailableError) Unwrap() []error { return []error{e.Err, payment.ErrUnavailable} }

// StatusCode is 503 Service Unavailable.
func (e *UnavailableError) StatusCode() int { return http.StatusServiceUnavailable }

func unavailable(store string, err error) error { return &UnavailableError{Store: store, Err: err} }
