// Package inmem implements the payment stores in process memory. It backs the service
// when neither DATABASE_URL nor REDIS_ENDPOINT is set, so a first `go run` works with
// nothing else installed, and it keeps the same semantics as the Redis and PostgreSQL
// stores (the validation tests run against both). Nothing here survives a restart or is
// shared between replicas: it is not for production.
package inmem

import (
	"bytes"
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

type idemEntry struct {
	fp      []byte
	done    bool
	stored  payment.Stored
	expires time.Time
}

// Idempotency is an in-memory payment.IdempotencyStore.
type Idempotency struct {
	mu         sync.Mutex
	entries    map[string]*idemEntry
	ttl        time.Duration
	pendingTTL time.Duration
	now        func() time.Time
}

// NewIdempotency keeps answers for ttl and abandons unfinished claims after pendingTTL.
func NewIdempotency(ttl, pendingTTL time.Duration) *Idempotency {
	return &Idempotency{entries: map[string]*idemEntry{}, ttl: ttl, pendingTTL: pendingTTL, now: time.Now}
}

func idemKey(merchantID, key string) string { return merchantID + "\x00" + key }

// Claim implements payment.IdempotencyStore.
func (s *Idempotency) Claim(_ context.Context, merchantID, key string, fp []byte) (payment.Claim, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	k := idemKey(merchantID, key)
	if e, ok := s.entries[k]; ok && now.Before(e.expires) {
		if e.done {
			return payment.Claim{State: payment.Done, Stored: e.stored}, nil
		}
		return payment.Claim{State: payment.InProgress}, nil
	}
	s.entries[k] = &idemEntry{fp: bytes.Clone(fp), expires: now.Add(s.pendingTTL)}
	s.gcLocked(now)
	return payment.Claim{State: payment.Claimed}, nil
}

// Complete implements payment.IdempotencyStore.
func (s *Idempotency) Complete(_ context.Context, merchantID, key string, st payment.Stored) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[idemKey(merchantID, key)] = &idemEntry{fp: st.Fingerprint, done: true, stored: st, expires: s.now().Add(s.ttl)}
	return nil
}

// Release implements payment.IdempotencyStore.
func (s *Idempotency) Release(_ context.Context, merchantID, key string, fp []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := idemKey(merchantID, key)
	if e, ok := s.entries[k]; ok && !e.done && bytes.Equal(e.fp, fp) {
		delete(s.entries, k)
	}
	return nil
}

// gcLocked drops expired entries once the map has grown, amortising the scan.
func (s *Idempotency) gcLocked(now time.Time) {
	if len(s.entries) < 4096 || len(s.entries)%1024 != 0 {
		return
	}
	for k, e := range s.entries {
		if !now.Before(e.expires) {
			delete(s.entries, k)
		}
	}
}

// Velocity is an in-memory payment.VelocityCounter with one-minute fixed windows.
type Velocity struct {
	mu     sync.Mutex
	window int64
	counts map[string]int64
}

// NewVelocity returns an empty counter.
func NewVelocity() *Velocity { return &Velocity{counts: map[string]int64{}} }

func (v *Velocity) roll(now time.Time) {
	if w := now.Unix() / 60; w != v.window {
		v.window, v.counts = w, map[string]int64{}
	}
}

// Hit implements payment.VelocityCounter.
func (v *Velocity) Hit(_ context.Context, cardKey, merchantID string, now time.Time) (payment.VelocityCounts, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.roll(now)
	v.counts["c:"+cardKey]++
	v.counts["m:"+merchantID]++
	return payment.VelocityCounts{Card: v.counts["c:"+cardKey], Merchant: v.counts["m:"+merchantID]}, nil
}

// Undo implements payment.VelocityCounter.
func (v *Velocity) Undo(_ context.Context, cardKey, merchantID string, now time.Time) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if now.Unix()/60 == v.window {
		v.counts["c:"+cardKey]--
		v.counts["m:"+merchantID]--
	}
	return nil
}

// RateLimiter is a process-local token bucket (x/time/rate), a payment.RateLimiter.
type RateLimiter struct{ l *rate.Limiter }

// NewRateLimiter admits perSecond requests a second with a burst of the same size, which
// is what the Redis GCRA limiter does too.
func NewRateLimiter(perSecond int) *RateLimiter {
	return &RateLimiter{l: rate.NewLimiter(rate.Limit(perSecond), perSecond)}
}

// Allow implements payment.RateLimiter.
func (r *RateLimiter) Allow(context.Context) (bool, time.Duration, error) {
	now := time.Now()
	res := r.l.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return false, d, nil
	}
	return true, 0, nil
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
	k := idemKey(rec.MerchantID, rec.IdempotencyKey)
	if i, ok := a.byKey[k]; ok {
		prev := a.records[i]
		if rec.DecidedAt.Sub(prev.DecidedAt) < a.ttl {
			return &payment.Stored{Fingerprint: prev.Fingerprint, Result: payment.Result{
				RequestID: prev.RequestID, Decision: prev.Decision, Reasons: prev.Reasons, DecidedAt: prev.DecidedAt,
			}}, nil
		}
	}
	a.byKey[k] = len(a.records)
	a.records = append(a.records, rec)
	return nil, nil
}

// Records returns a copy of every record, oldest first.
func (a *AuditLog) Records() []payment.AuditRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]payment.AuditRecord(nil), a.records...)
}
