// Package inmem implements the payment stores in process memory. It backs the service
// when neither DATABASE_URL nor REDIS_ENDPOINT is set, so a first `go run` works with
// nothing else installed, and it keeps the same semantics as the Redis and PostgreSQL
// stores (the validation tests run against both). Nothing here survives a restart or is
// shared between replicas: it is not for production.
package inmem

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// Admission is an in-memory payment.Admission: a process-local token bucket
// (x/time/rate) for the rate limit, claims that lapse after claimTTL, and velocity
// counters in one-minute fixed windows. As on Redis, a counter is the set of request ids
// it counts, so admitting an attempt twice counts it once and GiveBack is exact.
type Admission struct {
	limit    *rate.Limiter
	mu       sync.Mutex
	claims   map[string]claim
	claimTTL time.Duration
	window   int64
	counts   map[string]map[string]struct{}
}

type claim struct {
	owner   string
	expires time.Time
}

// NewAdmission returns an empty store that admits perSecond requests a second with a
// burst of the same size, as the Redis store's GCRA does, and whose claims lapse after
// claimTTL.
func NewAdmission(claimTTL time.Duration, perSecond int) *Admission {
	return &Admission{
		limit:    rate.NewLimiter(rate.Limit(perSecond), perSecond),
		claims:   map[string]claim{},
		claimTTL: claimTTL,
		counts:   map[string]map[string]struct{}{},
	}
}

func idemKey(merchantID, key string) string { return merchantID + "\x00" + key }

// Admit implements payment.Admission.
func (s *Admission) Admit(_ context.Context, a payment.Attempt) (payment.Admitted, error) {
	now := time.Now()
	res := s.limit.ReserveN(now, 1)
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return payment.Admitted{Limited: true, RetryAfter: wait}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey(a.MerchantID, a.IdempotencyKey)
	claimed := false
	if c, ok := s.claims[k]; !ok || !now.Before(c.expires) {
		s.claims[k] = claim{owner: a.RequestID, expires: now.Add(s.claimTTL)}
		claimed = true
		s.gcLocked(now)
	} else if c.owner == a.RequestID {
		claimed = true
	}
	if w := a.At.Unix() / 60; w != s.window {
		s.window, s.counts = w, map[string]map[string]struct{}{}
	}
	return payment.Admitted{Claimed: claimed, Counts: payment.VelocityCounts{
		Card: s.countLocked(cardCounter(a), a.RequestID), Merchant: s.countLocked(merchantCounter(a), a.RequestID),
	}}, nil
}

// Test attempts are counted apart from real ones, as in redisstore.
func counterPrefix(a payment.Attempt) string {
	if a.Test {
		return "test:"
	}
	return ""
}

func cardCounter(a payment.Attempt) string     { return counterPrefix(a) + "c:" + a.CardKey }
func merchantCounter(a payment.Attempt) string { return counterPrefix(a) + "m:" + a.MerchantID }

func (s *Admission) countLocked(key, requestID string) int64 {
	set := s.counts[key]
	if set == nil {
		set = map[string]struct{}{}
		s.counts[key] = set
	}
	set[requestID] = struct{}{}
	return int64(len(set))
}

// Uncount implements payment.Admission.
func (s *Admission) Uncount(_ context.Context, a payment.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.uncountLocked(a)
	return nil
}

func (s *Admission) uncountLocked(a payment.Attempt) {
	if a.At.Unix()/60 == s.window {
		delete(s.counts[cardCounter(a)], a.RequestID)
		delete(s.counts[merchantCounter(a)], a.RequestID)
	}
}

// Release implements payment.Admission.
func (s *Admission) Release(_ context.Context, a payment.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(a)
	return nil
}

func (s *Admission) releaseLocked(a payment.Attempt) {
	k := idemKey(a.MerchantID, a.IdempotencyKey)
	if c, ok := s.claims[k]; ok && c.owner == a.RequestID {
		delete(s.claims, k)
	}
}

// Refund implements payment.Admission: a reservation of -1 returns a token (the limiter
// caps its tokens at the burst when it next advances).
func (s *Admission) Refund(context.Context) error {
	s.limit.ReserveN(time.Now(), -1)
	return nil
}

// GiveBack implements payment.Admission.
func (s *Admission) GiveBack(_ context.Context, a payment.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLocked(a)
	s.uncountLocked(a)
	return nil
}

// gcLocked drops lapsed claims once the map has grown, amortising the scan.
func (s *Admission) gcLocked(now time.Time) {
	if len(s.claims) < 4096 || len(s.claims)%1024 != 0 {
		return
	}
	for k, c := range s.claims {
		if !now.Before(c.expires) {
			delete(s.claims, k)
		}
	}
}

// Limits is a fixed table of per-merchant ceilings, a payment.MerchantLimits.
type Limits map[string]map[string]int64

// MaxAmount implements payment.MerchantLimits.
func (l Limits) MaxAmount(merchantID, currency string) (int64, bool) {
	v, ok := l[merchantID][currency]
	return v, ok
}

// AuditLog keeps audit records in memory, a payment.AuditLog.
type AuditLog struct {
	mu      sync.Mutex
	records []payment.AuditRecord
	byKey   map[string]int
	ttl     time.Duration
}

// NewAuditLog returns an empty log that treats idempotency keys older than ttl as free.
func NewAuditLog(ttl time.Duration) *AuditLog {
	return &AuditLog{byKey: map[string]int{}, ttl: ttl}
}

// Record implements payment.AuditLog.
func (a *AuditLog) Record(_ context.Context, rec payment.AuditRecord) (*payment.Stored, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev := a.boundLocked(rec.MerchantID, rec.IdempotencyKey, rec.DecidedAt); prev != nil {
		return prev, nil
	}
	a.byKey[idemKey(rec.MerchantID, rec.IdempotencyKey)] = len(a.records)
	a.records = append(a.records, rec)
	return nil, nil
}

// Lookup implements payment.AuditLog.
func (a *AuditLog) Lookup(_ context.Context, merchantID, key string, at time.Time) (*payment.Stored, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.boundLocked(merchantID, key, at), nil
}

// boundLocked is the decision the key is bound to at time at, if any.
func (a *AuditLog) boundLocked(merchantID, key string, at time.Time) *payment.Stored {
	i, ok := a.byKey[idemKey(merchantID, key)]
	if !ok {
		return nil
	}
	prev := a.records[i]
	if at.Sub(prev.DecidedAt) >= a.ttl {
		return nil
	}
	return &payment.Stored{Fingerprint: prev.Fingerprint, Result: payment.Result{
		RequestID: prev.RequestID, Decision: prev.Decision, Reasons: prev.Reasons, DecidedAt: prev.DecidedAt,
	}}
}

// Records returns a copy of every record, oldest first.
func (a *AuditLog) Records() []payment.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]payment.AuditRecord(nil), a.records...)
}
