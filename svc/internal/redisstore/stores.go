package redisstore

import (
	"context"
	"errors"
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
// cluster mode (the keys need not share a slot). The pipelines of concurrent Admit calls
// travel together (batcher), so under load one round trip serves several requests.
//
// A time-out does not tell whether Redis ran what was sent (a stalled server runs it when
// it resumes), so the claim and the counts are kept by request id: the claim's value is
// the request id, and a counter is a hash whose fields are the request ids it counts
// (HSETNX, then HLEN). Sending an attempt twice claims and counts it once, and GiveBack
// takes back exactly what the attempt holds, whether or not Admit's commands ever ran.
// The client must still not re-send the pipeline on its own (NewClient turns go-redis's
// retries off): the rate limit's script is not idempotent.
//
// Nothing here lives longer than a few minutes: the decision bound to an idempotency key
// for its 24 hours is in PostgreSQL, written in the same commit as the audit row. At 2,000
// requests a second, keeping answers in Redis for 24 hours would hold ~170 million keys.
type Admission struct {
	rdb      redis.UniversalClient
	batch    *batcher
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
		batch:    newBatcher(rdb),
		claimTTL: claimTTL,
		gcraArgs: []any{strconv.FormatFloat(interval, 'g', -1, 64), strconv.FormatFloat(interval*float64(perSecond), 'g', -1, 64)},
		epoch:    time.Now(),
	}
}

func claimKey(merchantID, key string) string { return "txv:idem:" + merchantID + ":" + key }

// windowTTL outlives the window so the count is still there for its last request.
const windowTTL = 2 * time.Minute

// velocityKeys name the attempt's counters. (Counters were strings under txv:vel:c: and
// txv:vel:m: before they were kept by request id; the new names keep a rolling deploy
// from sending HSETNX to an old string key.)
// Test attempts have counters of their own (txv:vel:test:...), so the operator console's
// test transactions never count toward a real merchant's or card's velocity.
func velocityKeys(a payment.Attempt) (card, merchant string) {
	w := strconv.FormatInt(a.At.Unix()/60, 10)
	prefix := "txv:vel:"
	if a.Test {
		prefix = "txv:vel:test:"
	}
	return prefix + "card:" + a.CardKey + ":" + w, prefix + "merchant:" + a.MerchantID + ":" + w
}

func (s *Admission) monotonic() int64 { return int64(time.Since(s.epoch)) }

// Admit implements payment.Admission. The limit, the claim and the counts go in one
// pipeline, sent together with those of the attempts admitted at the same time (batcher),
// so an attempt the limit refuses has taken a claim and counts that it then
// gives back in a second round trip; refusals are the rare path, and after one the
// replica refuses locally for the wait it was given. When Admit fails, the caller gives
// back with GiveBack whatever may have been taken.
func (s *Admission) Admit(ctx context.Context, a payment.Attempt) (payment.Admitted, error) {
	sent := s.monotonic()
	if wait := s.refusedUntil.Load() - sent; wait > 0 {
		return payment.Admitted{Limited: true, RetryAfter: time.Duration(wait)}, nil
	}
	ck, mk := velocityKeys(a)
	var claim *redis.Cmd
	var c, m *redis.IntCmd
	gcra, err := s.pipelineAfterScript(ctx, gcraScript, []string{RateLimitKey}, s.gcraArgs, func(p redis.Pipeliner) {
		// NX GET answers the value already there: none, or this request's own id when
		// Redis ran an earlier send of this attempt, is a claim that is ours.
		claim = p.Do(ctx, "SET", claimKey(a.MerchantID, a.IdempotencyKey), a.RequestID, "NX", "GET", "PX", s.claimTTL.Milliseconds())
		p.HSetNX(ctx, ck, a.RequestID, 1)
		c = p.HLen(ctx, ck)
		p.PExpire(ctx, ck, windowTTL)
		p.HSetNX(ctx, mk, a.RequestID, 1)
		m = p.HLen(ctx, mk)
		p.PExpire(ctx, mk, windowTTL)
	})
	if err != nil {
		return payment.Admitted{}, err
	}
	holder, err := claim.Text()
	switch {
	case errors.Is(err, redis.Nil):
		holder = a.RequestID
	case err != nil:
		return payment.Admitted{}, err
	}
	claimed := holder == a.RequestID
	if wait, err := gcra.Int64(); err != nil {
		return payment.Admitted{}, err
	} else if wait > 0 {
		// Redis read its clock after sent, so nothing is admitted before sent + wait.
		s.refuseUntil(sent + wait*int64(time.Microsecond))
		if err := s.GiveBack(ctx, a); err != nil {
			return payment.Admitted{}, err
		}
		return payment.Admitted{Limited: true, RetryAfter: time.Duration(wait) * time.Microsecond}, nil
	}
	return payment.Admitted{Claimed: claimed, Counts: payment.VelocityCounts{Card: c.Val(), Merchant: m.Val()}}, nil
}

// pipelineAfterScript sends script and then the commands queue adds, in one pipeline
// (shared with the concurrent calls': see batcher), and returns the script's reply. A shard that lost its script cache (a restart or a
// failover) answers the script with NOSCRIPT: the script's body is then sent once, alone,
// which also caches it again.
func (s *Admission) pipelineAfterScript(ctx context.Context, script *redis.Script, keys []string, args []any, queue func(redis.Pipeliner)) (*redis.Cmd, error) {
	var reply *redis.Cmd
	cmds, err := s.batch.do(ctx, func(p redis.Pipeliner) {
		reply = script.EvalSha(ctx, p, keys, args...)
		queue(p)
	})
	if err != nil {
		return nil, err
	}
	// A nil reply (redis.Nil: SET ... GET on a free key) is an answer, not a failure.
	for _, c := range cmds[1:] {
		if err := c.Err(); err != nil && !errors.Is(err, redis.Nil) {
			return reply, err
		}
	}
	if !redis.HasErrorPrefix(reply.Err(), "NOSCRIPT") {
		return reply, reply.Err()
	}
	reply = script.Run(ctx, s.rdb, keys, args...)
	return reply, reply.Err()
}

// GiveBack implements payment.Admission: in one round trip it frees the claim if the
// attempt holds it and deletes the attempt's fields from its counters. Both act only on
// what carries the attempt's request id, so GiveBack is exact after any failure, even
// one where Admit's commands never reached Redis, and harmless if sent twice.
func (s *Admission) GiveBack(ctx context.Context, a payment.Attempt) error {
	keys, args := []string{claimKey(a.MerchantID, a.IdempotencyKey)}, []any{a.RequestID}
	var release *redis.Cmd
	cmds, _ := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		release = releaseScript.EvalSha(ctx, p, keys, args...)
		s.queueUncount(ctx, p, a)
		return nil
	})
	// In cluster mode the claim and the counters may be on different shards: a shard
	// that lost its scripts gets the release on its own, whatever the counters' shards did.
	err := release.Err()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		err = releaseScript.Run(ctx, s.rdb, keys, args...).Err()
	}
	for _, c := range cmds[1:] {
		err = errors.Join(err, c.Err())
	}
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
	p.HDel(ctx, ck, a.RequestID)
	p.HDel(ctx, mk, a.RequestID)
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
