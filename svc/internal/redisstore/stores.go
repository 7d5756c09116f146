package redisstore

import (
	"context"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// Admission is a payment.Admission on Redis. The claim is SET NX with a short expiry
// holding the owner's request id; the counters are one per card and per merchant per UTC
// minute. Admit sends all of it as one pipeline: one round trip on a single Redis, one per
// shard touched, in parallel, in cluster mode (the keys need not share a slot).
//
// Nothing here lives longer than a few minutes: the decision bound to an idempotency key
// for its 24 hours is in PostgreSQL, written in the same commit as the audit row. At 2,000
// requests a second, keeping answers in Redis for 24 hours would hold ~170 million keys.
type Admission struct {
	rdb      redis.UniversalClient
	claimTTL time.Duration
}

// NewAdmission returns the store on rdb. A claim not released lapses after claimTTL,
// which must exceed the longest a request may take.
func NewAdmission(rdb redis.UniversalClient, claimTTL time.Duration) *Admission {
	return &Admission{rdb: rdb, claimTTL: claimTTL}
}

func claimKey(merchantID, key string) string { return "txv:idem:" + merchantID + ":" + key }

// windowTTL outlives the window so the count is still there for its last request.
const windowTTL = 2 * time.Minute

func velocityKeys(a payment.Attempt) (card, merchant string) {
	w := strconv.FormatInt(a.At.Unix()/60, 10)
	return "txv:vel:c:" + a.CardKey + ":" + w, "txv:vel:m:" + a.MerchantID + ":" + w
}

// Admit implements payment.Admission.
func (s *Admission) Admit(ctx context.Context, a payment.Attempt) (payment.Admitted, error) {
	ck, mk := velocityKeys(a)
	var claim *redis.BoolCmd
	var c, m *redis.IntCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		claim = p.SetNX(ctx, claimKey(a.MerchantID, a.IdempotencyKey), a.RequestID, s.claimTTL)
		c = p.Incr(ctx, ck)
		p.Expire(ctx, ck, windowTTL)
		m = p.Incr(ctx, mk)
		p.Expire(ctx, mk, windowTTL)
		return nil
	})
	if err != nil {
		// In cluster mode one shard can fail while another took the claim: give it back.
		if claim.Err() == nil && claim.Val() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			_ = s.Release(rctx, a)
			cancel()
		}
		return payment.Admitted{}, err
	}
	return payment.Admitted{Claimed: claim.Val(), Counts: payment.VelocityCounts{Card: c.Val(), Merchant: m.Val()}}, nil
}

// Uncount implements payment.Admission.
func (s *Admission) Uncount(ctx context.Context, a payment.Attempt) error {
	ck, mk := velocityKeys(a)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Decr(ctx, ck)
		p.Decr(ctx, mk)
		return nil
	})
	return err
}

// releaseScript deletes the claim only while it is still this request's, so a slow
// request cannot free a claim a later request took after its own lapsed.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Release implements payment.Admission.
func (s *Admission) Release(ctx context.Context, a payment.Attempt) error {
	return releaseScript.Run(ctx, s.rdb, []string{claimKey(a.MerchantID, a.IdempotencyKey)}, a.RequestID).Err()
}

// RateLimiter is the service-wide limit as a GCRA in Redis (go-redis/redis_rate), so all
// replicas share one budget of MAX_TRANSACTIONS_PER_SECOND.
type RateLimiter struct {
	l     *redis_rate.Limiter
	limit redis_rate.Limit
}

// RateLimitKey is the one Redis key holding the shared budget.
const RateLimitKey = "txv:ratelimit:validate"

// NewRateLimiter admits perSecond requests a second, with a burst of the same size.
func NewRateLimiter(rdb redis.UniversalClient, perSecond int) *RateLimiter {
	return &RateLimiter{l: redis_rate.NewLimiter(rdb), limit: redis_rate.PerSecond(perSecond)}
}

// Allow implements payment.RateLimiter.
func (r *RateLimiter) Allow(ctx context.Context) (bool, time.Duration, error) {
	res, err := r.l.Allow(ctx, RateLimitKey, r.limit)
	if err != nil {
		return false, 0, err
	}
	return res.Allowed > 0, res.RetryAfter, nil
}
