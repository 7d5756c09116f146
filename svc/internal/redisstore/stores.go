package redisstore

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// Admission is a payment.Admission on Redis. The rate limit is a GCRA over one key shared
// by every replica; the claim is SET NX with a short expiry holding the owner's request
// id; the counters are one per card and per merchant per UTC minute. Admit sends all of it
// as one pipeline: one round trip on a single Redis, one per shard touched, in parallel, in
// cluster mode (the keys need not share a slot).
//
// Nothing here lives longer than a few minutes: the decision bound to an idempotency key
// for its 24 hours is in PostgreSQL, written in the same commit as the audit row. At 2,000
// requests a second, keeping answers in Redis for 24 hours would hold ~170 million keys.
type Admission struct {
	rdb      redis.UniversalClient
	claimTTL time.Duration
	// gcraArgs are the limit's emission interval and burst tolerance, in microseconds.
	gcraArgs []any
	// refusedUntil is when, on the local monotonic clock (nanoseconds since epoch), the
	// shared limit may admit again, as the last refusal said. Until then Admit refuses
	// without asking Redis: the limit's state only moves forward, so no other replica can
	// bring that time closer, and a replica under a flood of refused requests sends Redis
	// one of them per wait instead of all of them.
	refusedUntil atomic.Int64
	epoch        time.Time
}

// NewAdmission returns the store on rdb. The rate limit admits perSecond requests a second
// across all replicas, with a burst of the same size. A claim not released lapses after
// claimTTL, which must exceed the longest a request may take.
func NewAdmission(rdb redis.UniversalClient, claimTTL time.Duration, perSecond int) *Admission {
	interval := 1e6 / float64(perSecond)
	return &Admission{
		rdb:      rdb,
		claimTTL: claimTTL,
		gcraArgs: []any{strconv.FormatFloat(interval, 'g', -1, 64), strconv.FormatFloat(interval*float64(perSecond), 'g', -1, 64)},
		epoch:    time.Now(),
	}
}

func claimKey(merchantID, key string) string { return "txv:idem:" + merchantID + ":" + key }

// windowTTL outlives the window so the count is still there for its last request.
const windowTTL = 2 * time.Minute

func velocityKeys(a payment.Attempt) (card, merchant string) {
	w := strconv.FormatInt(a.At.Unix()/60, 10)
	return "txv:vel:c:" + a.CardKey + ":" + w, "txv:vel:m:" + a.MerchantID + ":" + w
}

func (s *Admission) monotonic() int64 { return int64(time.Since(s.epoch)) }

// Admit implements payment.Admission. The limit, the claim and the counts go in one
// pipeline, so an attempt the limit refuses has taken a claim and counts that it then
// gives back in a second round trip; refusals are the rare path, and after one the
// replica refuses locally for the wait it was given.
func (s *Admission) Admit(ctx context.Context, a payment.Attempt) (payment.Admitted, error) {
	sent := s.monotonic()
	if wait := s.refusedUntil.Load() - sent; wait > 0 {
		return payment.Admitted{Limited: true, RetryAfter: time.Duration(wait)}, nil
	}
	ck, mk := velocityKeys(a)
	var claim *redis.BoolCmd
	var c, m *redis.IntCmd
	gcra, err := s.pipelineAfterScript(ctx, gcraScript, []string{RateLimitKey}, s.gcraArgs, func(p redis.Pipeliner) {
		claim = p.SetNX(ctx, claimKey(a.MerchantID, a.IdempotencyKey), a.RequestID, s.claimTTL)
		c = p.Incr(ctx, ck)
		p.Expire(ctx, ck, windowTTL)
		m = p.Incr(ctx, mk)
		p.Expire(ctx, mk, windowTTL)
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
	if wait, err := gcra.Int64(); err != nil {
		return payment.Admitted{}, err
	} else if wait > 0 {
		// Redis read its clock after sent, so nothing is admitted before sent + wait.
		s.refuseUntil(sent + wait*int64(time.Microsecond))
		if err := s.takeBack(ctx, a, claim.Val()); err != nil {
			return payment.Admitted{}, err
		}
		return payment.Admitted{Limited: true, RetryAfter: time.Duration(wait) * time.Microsecond}, nil
	}
	return payment.Admitted{Claimed: claim.Val(), Counts: payment.VelocityCounts{Card: c.Val(), Merchant: m.Val()}}, nil
}

// pipelineAfterScript sends script and then the commands queue adds, in one pipeline, and
// returns the script's reply. A shard that lost its script cache (a restart or a
// failover) answers the script with NOSCRIPT: the script's body is then sent once, alone,
// which also caches it again.
func (s *Admission) pipelineAfterScript(ctx context.Context, script *redis.Script, keys []string, args []any, queue func(redis.Pipeliner)) (*redis.Cmd, error) {
	var reply *redis.Cmd
	cmds, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		reply = script.EvalSha(ctx, p, keys, args...)
		queue(p)
		return nil
	})
	if !redis.HasErrorPrefix(reply.Err(), "NOSCRIPT") {
		return reply, err
	}
	for _, c := range cmds[1:] {
		if err := c.Err(); err != nil {
			return reply, err
		}
	}
	reply = script.Run(ctx, s.rdb, keys, args...)
	return reply, reply.Err()
}

// takeBack undoes what an attempt the limit refused took in the same pipeline: its counts
// and, if it got it, its claim.
func (s *Admission) takeBack(ctx context.Context, a payment.Attempt, claimed bool) error {
	if !claimed {
		return s.Uncount(ctx, a)
	}
	_, err := s.pipelineAfterScript(ctx, releaseScript, []string{claimKey(a.MerchantID, a.IdempotencyKey)}, []any{a.RequestID},
		func(p redis.Pipeliner) { s.queueUncount(ctx, p, a) })
	return err
}

// Uncount implements payment.Admission.
func (s *Admission) Uncount(ctx context.Context, a payment.Attempt) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		s.queueUncount(ctx, p, a)
		return nil
	})
	return err
}

func (s *Admission) queueUncount(ctx context.Context, p redis.Pipeliner, a payment.Attempt) {
	ck, mk := velocityKeys(a)
	p.Decr(ctx, ck)
	p.Decr(ctx, mk)
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
