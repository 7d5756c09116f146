package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/config"
	"github.com/transaction-validator/transaction-validator/svc/internal/synthetic"
)

// Issue 21's overload goal: at twice the sustainable rate every request is answered
// within a second, 200 or 503 with Retry-After, none left to the client's time-out, and
// the sustainable rate's p99 is back within 5 s of the burst's end.
const (
	answerBound  = time.Second
	restoreBound = 5 * time.Second
	// The client's own time-out, well past answerBound: a request still unanswered then
	// is what issue 21 saw clients give up on at 10 to 20 s.
	clientTimeout = 5 * time.Second
	// The sustainable rate is this share of the closed loop's rate, measured in the same
	// run: the HPA scales a replica out at 70% CPU, so that is the load it is meant to
	// carry. The burst, twice that, is 1.4 times what the closed loop completed, and an
	// open loop takes less than a closed one (each request arrives alone, and parks and
	// wakes its goroutines on its own: 220 against 75 µs of CPU per request in
	// docs/performance.md), so the burst is an overload by a wide margin.
	sustainableShare = 0.7
	// The phases, all at a fixed schedule (see openLoop).
	beforeBurst = 2 * time.Second
	burst       = 4 * time.Second
	afterBurst  = restoreBound + 2*time.Second
)

// TestOverloadAnsweredWithinASecond runs the service on the real PostgreSQL and Redis,
// measures what it sustains on this machine, now, and then sends twice that for a few
// seconds. Without load shedding (MAX_IN_FLIGHT past any queue the burst builds) the
// requests queue on the processor and the pools, their answers take seconds, and the
// backlog outlasts the burst by seconds more; with it, the replica answers the excess
// 503 overloaded at once and the rest in time. The thresholds are counts and a p99
// relative to the same run's, not a machine's speed. TXV_OVERLOAD_MAX_IN_FLIGHT sets the
// service's limit, to see the test fail without shedding (docs/performance.md).
//
// It runs only with TXV_LOAD_TESTS=1: its bounds are times, and on a shared two-core
// machine, or under the race detector (suite 10's run, where every request costs several
// times the CPU, the load generator's in this same process included), its outcome says
// as much about the neighbours as about the service (docs/performance.md has the runs).
func TestOverloadAnsweredWithinASecond(t *testing.T) {
	if os.Getenv("TXV_LOAD_TESTS") != "1" {
		t.Skip("a load test with time bounds (about 20 s); run it with TXV_LOAD_TESTS=1 on a quiet machine, without -race")
	}
	db, rds := freshDB(t)
	env := map[string]string{
		"DATABASE_URL": db, "REDIS_ENDPOINT": rds, "LOG_LEVEL": "warn",
		// The production time-out: a store call starved past it is a 503 within the budget.
		"REDIS_TIMEOUT":                "250ms",
		"VELOCITY_CARD_PER_MINUTE":     "1000000",
		"VELOCITY_MERCHANT_PER_MINUTE": "100000000",
	}
	if v := os.Getenv("TXV_OVERLOAD_MAX_IN_FLIGHT"); v != "" {
		env["MAX_IN_FLIGHT"] = v
	}
	r := start(t, env)
	g := newLoad(t, r.base+"/api/validate")

	// The sustainable rate, measured: a share of what workers back to back complete, as
	// many as the service admits at once less a margin (so none is shed, and the loop is
	// bound by the processor, not by its own round trips).
	workers := maxInFlight(env) * 3 / 4
	g.closedLoop(workers, time.Second) // warm-up: connections, statement cache
	closed := g.closedLoop(workers, 2*time.Second)
	rate := sustainableShare * closed
	t.Logf("closed loop (%d workers) %.0f req/s; sustainable rate %.0f req/s, burst %.0f req/s", workers, closed, rate, 2*rate)
	if rate < 20 {
		t.Fatalf("the service completed only %.0f req/s: too few for a load test", closed)
	}
	// An open loop opens more connections than the closed loop's 16: open them first.
	g.openLoop([]step{{rate, time.Second}})
	shots := g.openLoop([]step{{rate, beforeBurst}, {2 * rate, burst}, {rate, afterBurst}})
	burstStart, burstEnd := beforeBurst, beforeBurst+burst

	var late, failed, bad, shed, unavailable int
	var worst time.Duration
	for _, s := range shots {
		switch {
		case s.err != nil:
			failed++
			if failed <= 3 {
				t.Logf("no answer: %v", s.err)
			}
		case s.latency > answerBound:
			late++
		}
		worst = max(worst, s.latency)
		switch {
		case s.err != nil:
		case s.status == http.StatusOK:
		case s.status == http.StatusServiceUnavailable && s.retryAfter:
			if s.code == "overloaded" {
				shed++
			} else {
				unavailable++
			}
		default:
			bad++
			if bad <= 3 {
				t.Logf("unexpected answer: %d %s retry-after=%v", s.status, s.code, s.retryAfter)
			}
		}
	}
	for from := time.Duration(0); from < burstEnd+afterBurst; from += time.Second {
		t.Logf("second %2d: sent %4d, 200 %4d, shed %4d, p99 %s, generator lag p99 %s", from/time.Second,
			count(shots, from, from+time.Second, 0), count(shots, from, from+time.Second, http.StatusOK),
			count(shots, from, from+time.Second, http.StatusServiceUnavailable),
			p99(shots, from, from+time.Second).Round(time.Microsecond), lagP99(shots, from, from+time.Second).Round(time.Microsecond))
	}
	before := p99(shots, 0, burstStart)
	t.Logf("%d requests: %d shed (503 overloaded), %d 503 store time-outs, %d over %s, %d unanswered within the client's %s; slowest %s; generator lag p99 %s",
		len(shots), shed, unavailable, late, answerBound, failed, clientTimeout, worst.Round(time.Millisecond), lagP99(shots, 0, burstEnd+afterBurst).Round(time.Microsecond))
	t.Logf("p99 at the sustainable rate before the burst %s; during the burst %s",
		before.Round(time.Microsecond), p99(shots, burstStart, burstEnd).Round(time.Microsecond))

	if failed > 0 {
		t.Errorf("%d requests were not answered within the client's time-out of %s", failed, clientTimeout)
	}
	if late > 0 {
		t.Errorf("%d requests were answered after %s (slowest %s)", late, answerBound, worst)
	}
	if bad > 0 {
		t.Errorf("%d answers were neither 200 nor 503 with Retry-After", bad)
	}
	// Restored: each second from restoreBound after the burst on has a p99 within twice
	// the one before it (plus 10 ms, for a quiet run whose p99 is a few milliseconds and
	// whose neighbours' noise alone moves it by that much).
	bound := 2*before + 10*time.Millisecond
	for from := burstEnd; from+time.Second <= burstEnd+afterBurst; from += time.Second {
		w := p99(shots, from, from+time.Second)
		since := from - burstEnd
		t.Logf("p99 %s to %s after the burst: %s", since, since+time.Second, w.Round(time.Microsecond))
		if since+time.Second >= restoreBound && w > bound {
			t.Errorf("p99 %s to %s after the burst is %s, not back within %s (2 x %s + 10ms)", since, since+time.Second, w, bound, before)
		}
	}
}

// maxInFlight is the service's MAX_IN_FLIGHT in env, or its default.
func maxInFlight(env map[string]string) int {
	if n, err := strconv.Atoi(env["MAX_IN_FLIGHT"]); err == nil {
		return min(n, 64)
	}
	c, _ := config.FromEnv(func(string) string { return "" })
	return c.MaxInFlight
}

// load sends distinct valid transactions, each with its own idempotency key, from a pool
// of 1,000 test cards and 50 merchants (the same mix as cmd/loadgen).
type load struct {
	t     *testing.T
	url   string
	cl    *http.Client
	cards []string
	seq   atomic.Int64
	now   time.Time
}

func newLoad(t *testing.T, url string) *load {
	g := &load{t: t, url: url, now: time.Now(), cl: &http.Client{Timeout: clientTimeout, Transport: &http.Transport{
		// A client's connection pool, as a payment gateway would have: requests beyond it
		// wait for a connection, and that wait counts in their latency.
		MaxConnsPerHost: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute,
	}}}
	t.Cleanup(g.cl.CloseIdleConnections)
	for i := range 1000 {
		pan, err := card.TestPAN(card.Visa, i)
		if err != nil {
			t.Fatal(err)
		}
		g.cards = append(g.cards, pan)
	}
	return g
}

// shot is one request's outcome; at is its scheduled send time from the loop's start.
type shot struct {
	at, lag, latency time.Duration
	status           int
	code             string
	retryAfter       bool
	err              error
}

func (g *load) send(s *shot) {
	n := g.seq.Add(1)
	tx := synthetic.New("m_"+strconv.FormatInt(n%50, 10), 100+n%9000, g.cards[n%int64(len(g.cards))], g.now)
	tx.Card.CVV = "123"
	req, err := synthetic.NewRequest(context.Background(), g.url, fmt.Sprintf("ov-%d-%d", g.now.UnixNano(), n), tx)
	if err != nil {
		g.t.Error(err)
		return
	}
	resp, err := g.cl.Do(req)
	if err != nil {
		s.err = err
		return
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	s.status, s.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After") != ""
	if s.status != http.StatusOK {
		var body struct{ Error struct{ Code string } }
		_ = json.Unmarshal(raw, &body)
		s.code = body.Error.Code
	}
}

// closedLoop runs workers back to back for d and returns the rate of 200 answers.
func (g *load) closedLoop(workers int, d time.Duration) float64 {
	var ok atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < d {
				var s shot
				g.send(&s)
				if s.err == nil && s.status == http.StatusOK {
					ok.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	return float64(ok.Load()) / time.Since(start).Seconds()
}

type step struct {
	rate float64
	d    time.Duration
}

// openLoop sends at each step's rate for its duration, on a fixed schedule, each request
// on its own goroutine so that a slow answer never delays the next send (no coordinated
// omission: the schedule does not wait for answers). Latency is measured from the send;
// how late the send was against the schedule (the generator's lag: this process starved
// of CPU by its neighbours, as the service is) is recorded apart. Bounded by the steps:
// at most sum(rate x d) requests.
func (g *load) openLoop(steps []step) []shot {
	var at []time.Duration
	var t0 time.Duration
	for _, s := range steps {
		interval := time.Duration(float64(time.Second) / s.rate)
		for x := t0; x < t0+s.d; x += interval {
			at = append(at, x)
		}
		t0 += s.d
	}
	shots := make([]shot, len(at))
	start := time.Now()
	var wg sync.WaitGroup
	for i := range shots {
		shots[i].at = at[i]
		if wait := time.Until(start.Add(at[i])); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func(s *shot) {
			defer wg.Done()
			sent := time.Now()
			s.lag = sent.Sub(start.Add(s.at))
			g.send(s)
			s.latency = time.Since(sent)
		}(&shots[i])
	}
	wg.Wait()
	return shots
}

// p99 of the latencies of the requests scheduled in [from, to).
func p99(shots []shot, from, to time.Duration) time.Duration {
	var l []time.Duration
	for _, s := range shots {
		if s.at >= from && s.at < to {
			l = append(l, s.latency)
		}
	}
	return quantile(l, 0.99)
}

// lagP99 is the generator's own lateness (send time after scheduled time) in [from, to).
func lagP99(shots []shot, from, to time.Duration) time.Duration {
	var l []time.Duration
	for _, s := range shots {
		if s.at >= from && s.at < to {
			l = append(l, s.lag)
		}
	}
	return quantile(l, 0.99)
}

// count is the number of requests scheduled in [from, to) answered status (any, for 0).
func count(shots []shot, from, to time.Duration, status int) int {
	n := 0
	for _, s := range shots {
		if s.at >= from && s.at < to && s.err == nil && (status == 0 || s.status == status) {
			n++
		}
	}
	return n
}

func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return l[int(q*float64(len(l)-1))]
}
