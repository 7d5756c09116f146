package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// Idempotency is a payment.IdempotencyStore on Redis. A claim is SET NX with a short
// expiry (so a crashed replica's claim frees itself); the answer then replaces it with
// the full TTL. The audit log in PostgreSQL stays the source of truth: this store only
// serialises concurrent requests and answers repeats without a database round trip.
type Idempotency struct {
	rdb        redis.UniversalClient
	ttl        time.Duration
	pendingTTL time.Duration
}

// NewIdempotency keeps answers for ttl; a claim not completed within pendingTTL lapses.
func NewIdempotency(rdb redis.UniversalClient, ttl, pendingTTL time.Duration) *Idempotency {
	return &Idempotency{rdb: rdb, ttl: ttl, pendingTTL: pendingTTL}
}

// entry is the stored value. Pending entries carry only the fingerprint.
type entry struct {
	Pending     bool             `json:"p,omitempty"`
	Fingerprint []byte           `json:"f"`
	RequestID   string           `json:"id,omitempty"`
	Decision    payment.Decision `json:"d,omitempty"`
	Reasons     []payment.Reason `json:"r,omitempty"`
	DecidedAt   time.Time        `json:"t"`
}

func idemKey(merchantID, key string) string { return "txv:idem:" + merchantID + ":" + key }

// Claim implements payment.IdempotencyStore.
func (s *Idempotency) Claim(ctx context.Context, merchantID, key string, fp []byte) (payment.Claim, error) {
	k := idemKey(merchantID, key)
	pending, _ := json.Marshal(entry{Pending: true, Fingerprint: fp})
	// Two tries: a value can expire between the failed SET NX and the GET.
	for try := 0; try < 2; try++ {
		ok, err := s.rdb.SetNX(ctx, k, pending, s.pendingTTL).Result()
		if err != nil {
			return payment.Claim{}, err
		}
		if ok {
			return payment.Claim{State: payment.Claimed}, nil
		}
		raw, err := s.rdb.Get(ctx, k).Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return payment.Claim{}, err
		}
		var e entry
		if err := json.Unmarshal(raw, &e); err != nil {
			return payment.Claim{}, errors.New("corrupt idempotency entry")
		}
		if e.Pending {
			return payment.Claim{State: payment.InProgress}, nil
		}
		return payment.Claim{State: payment.Done, Stored: payment.Stored{
			Fingerprint: e.Fingerprint,
			Result:      payment.Result{RequestID: e.RequestID, Decision: e.Decision, Reasons: e.Reasons, DecidedAt: e.DecidedAt},
		}}, nil
	}
	return payment.Claim{State: payment.InProgress}, nil
}

// Complete implements payment.IdempotencyStore.
func (s *Idempotency) Complete(ctx context.Context, merchantID, key string, st payment.Stored) error {
	v, _ := json.Marshal(entry{
		Fingerprint: st.Fingerprint, RequestID: st.Result.RequestID, Decision: st.Result.Decision,
		Reasons: st.Result.Reasons, DecidedAt: st.Result.DecidedAt,
	})
	// The key lives for the TTL counted from the decision, not from this write.
	ttl := s.ttl - time.Since(st.Result.DecidedAt)
	if ttl <= 0 {
		return nil
	}
	return s.rdb.Set(ctx, idemKey(merchantID, key), v, ttl).Err()
}

// releaseScript deletes the key only while it still holds this request's pending claim,
// so a slow request cannot delete a later request's claim or answer.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Release implements payment.IdempotencyStore.
func (s *Idempotency) Release(ctx context.Context, merchantID, key string, fp []byte) error {
	pending, _ := json.Marshal(entry{Pending: true, Fingerprint: fp})
	return releaseScript.Run(ctx, s.rdb, []string{idemKey(merchantID, key)}, pending).Err()
}

// Velocity is a payment.VelocityCounter on Redis: one counter per card and per merchant
// per UTC minute, incremented and given an expiry in one pipelined round trip.
type Velocity struct{ rdb redis.UniversalClient }

// NewVelocity returns a counter on rdb.
func NewVelocity(rdb redis.UniversalClient) *Velocity { return &Velocity{rdb: rdb} }

// windowTTL outlives the window so the count is still there for its last request.
const windowTTL = 2 * time.Minute

func velocityKeys(cardKey, merchantID string, now time.Time) (string, string) {
	w := strconv.FormatInt(now.Unix()/60, 10)
	return "txv:vel:c:" + cardKey + ":" + w, "txv:vel:m:" + merchantID + ":" + w
}

// Hit implements payment.VelocityCounter.
func (v *Velocity) Hit(ctx context.Context, cardKey, merchantID string, now time.Time) (payment.VelocityCounts, error) {
	ck, mk := velocityKeys(cardKey, merchantID, now)
	var c, m *redis.IntCmd
	_, err := v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		c = p.Incr(ctx, ck)
		p.Expire(ctx, ck, windowTTL)
		m = p.Incr(ctx, mk)
		p.Expire(ctx, mk, windowTTL)
		return nil
	})
	if err != nil {
		return payment.VelocityCounts{}, err
	}
	return payment.VelocityCounts{Card: c.Val(), Merchant: m.Val()}, nil
}

// Undo implements payment.VelocityCounter.
func (v *Velocity) Undo(ctx context.Context, cardKey, merchantID string, now time.Time) error {
	ck, mk := velocityKeys(cardKey, merchantID, now)
	_, err := v.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Decr(ctx, ck)
		p.Decr(ctx, mk)
		return nil
	})
	return err
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
