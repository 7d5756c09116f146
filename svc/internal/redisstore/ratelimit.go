package redisstore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// The service-wide rate limit (MAX_TRANSACTIONS_PER_SECOND): one budget for every
// replica, a generic cell rate algorithm (GCRA) over a single Redis key. It is not a
// store of its own: Admission queues its script at the head of the admission pipeline,
// with the idempotency claim and the velocity counts, so an admitted request costs one
// round trip in all. TestRateLimitAgreesWithRedisRate holds it to go-redis/redis_rate.

// RateLimitKey is the one Redis key holding the shared budget.
const RateLimitKey = "txv:ratelimit:validate"

// gcraScript is the generic cell rate algorithm (as in go-redis/redis_rate, which cannot
// be queued in a pipeline): the key holds the theoretical arrival time (TAT) in
// microseconds of Redis's clock, so every replica reads one clock. An attempt is admitted
// when the TAT it would leave is at most the burst tolerance ahead of now. The reply is 0
// when admitted, else the microseconds to wait.
var gcraScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000000 + t[2]
local tat = tonumber(redis.call("GET", KEYS[1])) or now
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[1])
local wait = new_tat - tonumber(ARGV[2]) - now
if wait > 0 then return math.ceil(wait) end
redis.call("SET", KEYS[1], new_tat, "PX", math.ceil((new_tat - now) / 1000))
return 0`)

// refuseUntil moves the local refusal horizon forward to t, never back: concurrent
// refusals may report their waits out of order.
func (s *Admission) refuseUntil(t int64) {
	for {
		cur := s.refusedUntil.Load()
		if t <= cur || s.refusedUntil.CompareAndSwap(cur, t) {
			return
		}
	}
}

// refundScript gives one emission interval back to the limit: an admitted request that
// then failed (its decision never became durable) did not use the budget it spent. The
// TAT never moves before now, so a refund cannot bank budget beyond the burst.
var refundScript = redis.NewScript(`
local t = redis.call("TIME")
local now = t[1] * 1000000 + t[2]
local tat = tonumber(redis.call("GET", KEYS[1]))
if not tat then return 0 end
local new_tat = tat - tonumber(ARGV[1])
if new_tat <= now then
  redis.call("DEL", KEYS[1])
  return 1
end
redis.call("SET", KEYS[1], new_tat, "PX", math.ceil((new_tat - now) / 1000))
return 1`)

// Refund implements payment.Admission. It is sent once, never re-sent (see noRetries),
// and only for an attempt Admit admitted.
func (s *Admission) Refund(ctx context.Context) error {
	s.refusedUntil.Store(0)
	return refundScript.Run(ctx, s.rdb, []string{RateLimitKey}, s.gcraArgs[0]).Err()
}
