package redisstore

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// batcher sends the pipelines of concurrent calls together, as one pipeline, so that one
// round trip (one write and one read system call on each side, one goroutine wake-up per
// reply instead of a netpoller round per call) serves every call that arrived while the
// previous round trip was in flight. Under load most of a request's Redis cost is those
// system calls, not the commands (docs/performance.md, "Where the time goes").
//
// There is no goroutine of its own: a call that finds fewer than maxRounds round trips in
// flight sends the queue itself (it leads), and when a round trip ends its leader hands
// the lead to a call still queued, which had to be woken anyway. A lone call is
// therefore sent at once, as a plain pipeline would be, and nothing ever waits for a
// batch to fill.
//
// The guarantees of a plain pipeline hold per call. A call whose context ends while it is
// still queued leaves the queue and is never sent, so the give-back that follows its
// failure is not overtaken by its own commands. A call that was sent answers its own
// context's end at once, as a plain pipeline does, and its commands may have run, as
// they may have with a plain pipeline. The round trip runs until its leader's deadline
// (the leader is answered at its deadline too), detached from its cancellation, so one
// client hanging up does not fail the others; go-redis's timeouts still bound it. Nothing
// is re-sent (see noRetries).
//
// go-redis's own AutoPipeliner (v9.23) was not used: it runs queued commands under its
// own long-lived context, not the caller's, so a call that gave up would still be sent
// after its give-back, and one stalled batch holds its ordered stream for the whole read
// time-out; its admission pipeline would also have to avoid Do, which it runs outside
// the batches.
type batcher struct {
	rdb redis.UniversalClient
	// maxRounds is how many round trips may be in flight at once. One batches the most:
	// BenchmarkAdmitConcurrent measured 16 calls per round trip and about a fifth less
	// CPU per call than with two. A stalled Redis holds a second round trip as well, so
	// a second would only help past one slow round trip (a dial after a lost connection),
	// and the calls queued behind it are answered at their own deadlines either way.
	maxRounds int
	// maxCalls bounds one round trip's calls, so one write stays small.
	maxCalls int

	mu    sync.Mutex
	queue []*call // every call here is in state queued
	// rounds counts the leads: round trips in flight, and leads handed to a queued call
	// that has not yet taken it up.
	rounds int
}

// call is one caller's share of a round trip.
type call struct {
	ctx   context.Context
	queue func(redis.Pipeliner)
	// cmds are the replies to what queue added, in its order; set before done.
	cmds []redis.Cmder
	// state and handed are guarded by the batcher's mu.
	state  callState
	handed bool // a lead was handed to this call while it was queued
	// done receives once, when the call is sent and answered, or dropped.
	done chan struct{}
	// lead receives at most once: the call's goroutine is to lead the next round trip.
	lead chan struct{}
}

type callState uint8

const (
	queued  callState = iota // waiting in the queue
	sent                     // taken into a round trip
	dropped                  // left the queue unsent, because its context ended
)

// Default limits of a batcher; docs/performance.md has the measurements behind them.
const (
	defaultMaxRounds = 1
	defaultMaxCalls  = 64
)

func newBatcher(rdb redis.UniversalClient) *batcher {
	return &batcher{rdb: rdb, maxRounds: defaultMaxRounds, maxCalls: defaultMaxCalls}
}

// do queues what queue adds to a pipeline and returns the replies once the round trip
// that carried them is over. Each reply carries its own error, as in a plain pipeline;
// do's own error is ctx's, when ctx ended first.
func (b *batcher) do(ctx context.Context, queue func(redis.Pipeliner)) ([]redis.Cmder, error) {
	c := &call{ctx: ctx, queue: queue, done: make(chan struct{}, 1), lead: make(chan struct{}, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	lead := b.rounds < b.maxRounds
	if lead {
		b.rounds++
	}
	b.mu.Unlock()
	if lead {
		b.run(c)
	}
	for {
		select {
		case <-c.lead:
			b.run(c)
		case <-c.done:
			// state is final once done is sent, and was written before it.
			b.passOnLead(c)
			if c.state == dropped {
				return nil, ctx.Err()
			}
			return c.cmds, nil
		case <-ctx.Done():
			b.mu.Lock()
			if c.state == queued {
				b.remove(c)
				c.state = dropped
			}
			b.mu.Unlock()
			// Sent or not, the caller is answered now; a sent call's commands may
			// have run, as a plain pipeline's may when its context ends.
			b.passOnLead(c)
			return nil, ctx.Err()
		}
	}
}

// passOnLead hands on a lead that reached c after it stopped waiting for one. c is no
// longer queued, so no other lead can reach it after this.
func (b *batcher) passOnLead(c *call) {
	select {
	case <-c.lead:
		b.handOn()
	default:
	}
}

func (b *batcher) remove(c *call) {
	for i, q := range b.queue {
		if q == c {
			copy(b.queue[i:], b.queue[i+1:])
			b.queue[len(b.queue)-1] = nil // a departed call must not stay reachable
			b.queue = b.queue[:len(b.queue)-1]
			return
		}
	}
}

// run leads one round trip for leader's goroutine: it takes leader's own call, if still
// queued, and the oldest other queued calls (maxCalls in all; those whose contexts ended
// are dropped, never sent), sends them, and hands the lead on.
func (b *batcher) run(leader *call) {
	b.mu.Lock()
	var batch []*call
	if leader.state == queued && leader.ctx.Err() == nil {
		b.remove(leader)
		leader.state = sent
		batch = append(batch, leader)
	}
	n := 0
	for _, q := range b.queue {
		switch {
		case q.ctx.Err() != nil:
			q.state = dropped
			q.done <- struct{}{}
		case len(batch) == b.maxCalls:
			b.queue[n] = q
			n++
		default:
			q.state = sent
			batch = append(batch, q)
		}
	}
	clear(b.queue[n:])
	b.queue = b.queue[:n]
	if len(batch) == 0 {
		b.rounds--
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	b.send(leader.ctx, batch)
	b.handOn()
}

// handOn ends a round trip: the newest queued call not yet handed a lead leads the next
// one, or, with none, the round trip's slot is free. The newest, because the round trip
// runs until its leader's deadline (see send), and the newest has the most time left;
// the older calls in it are answered at their own deadlines whatever it does.
func (b *batcher) handOn() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.queue) - 1; i >= 0; i-- {
		if q := b.queue[i]; !q.handed {
			q.handed = true
			q.lead <- struct{}{}
			return
		}
	}
	b.rounds--
}

// send runs the calls' commands in one pipeline and hands each call its replies. The
// round trip runs under the leader's deadline, the latest of the batch as a rule (see
// handOn), and without its cancellation: a leader whose client hung up still carries the
// others' calls. A call with a later deadline than the leader's (a rare exception) may
// thus fail sooner than it had to, never later.
func (b *batcher) send(leaderCtx context.Context, batch []*call) {
	ctx := context.WithoutCancel(leaderCtx)
	if d, ok := leaderCtx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d)
		defer cancel()
	}
	if links := traceLinks(batch); len(links) > 0 {
		// The round trip's spans (redisotel's) fall in the leader's trace; the others
		// reach them through this span's links, as a group commit's requests do.
		var span trace.Span
		ctx, span = tracer.Start(ctx, "redisstore admission round trip", trace.WithLinks(links...),
			trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.Int("redisstore.batch_size", len(batch))))
		defer span.End()
	}
	ends := make([]int, len(batch))
	cmds, _ := b.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, c := range batch {
			c.queue(p)
			ends[i] = p.Len()
		}
		return nil
	})
	start := 0
	for i, c := range batch {
		c.cmds = cmds[start:ends[i]:ends[i]]
		start = ends[i]
		c.done <- struct{}{}
	}
}

var tracer = otel.Tracer("github.com/transaction-validator/transaction-validator/svc/internal/redisstore")

// traceLinks links the round trip to the traces of the calls it carries; none when
// tracing is off, so that costs nothing then.
func traceLinks(batch []*call) []trace.Link {
	var links []trace.Link
	for _, c := range batch {
		if l := trace.LinkFromContext(c.ctx); l.SpanContext.IsValid() {
			links = append(links, l)
		}
	}
	return links
}
