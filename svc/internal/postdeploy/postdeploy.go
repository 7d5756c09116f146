// Package postdeploy holds the checks a release must pass once it is promoted: requests
// sent to the API the way a client sends them, whose answers must keep the API's promises
// (svc/api/openapi.yaml). The deploy pipeline runs them (cmd/postdeploy-check) after the
// rollout and reverts the whole release when one fails.
//
// They are not the canary gate, which judges a version by its metrics under load; they
// prove behaviour: a valid transaction is approved, an expired card is declined with its
// reason, the same request under the same Idempotency-Key is answered from the record,
// the key reused with another request is refused (422), a request with a key being
// decided right now is told to retry (409), the service-wide rate limit answers 429 with
// Retry-After, and no answer ever carries a card number that was sent.
//
// Their traffic is not a customer's: one merchant id reserved for it (DefaultMerchant),
// test cards (card.TestPAN), each check on cards of its own so the per-card velocity limit
// never decides a check. The 429 check needs the service-wide limit exhausted: it sends at
// most MaxBurst requests, and a run against an environment whose limit is above that
// fails rather than flooding it (the pipeline gives the version it checks a limit the
// burst reaches).
package postdeploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/synthetic"
)

// DefaultMerchant is the merchant id of post-deploy traffic, kept apart from real
// merchants' limits and counters.
const DefaultMerchant = "postdeploy-check"

// ErrFailed says at least one check failed; the results say which and why.
var ErrFailed = errors.New("post-deploy checks failed")

// Config says where the checks go and how hard they push.
type Config struct {
	// BaseURL is the API, e.g. http://transaction-validator (the Service).
	BaseURL string
	// Client sends the requests; nil is a client with a 10 s timeout.
	Client *http.Client
	// Merchant is the merchant id of every request; empty is DefaultMerchant.
	Merchant string
	// Run tells this run's idempotency keys and cards from earlier runs'; empty is the
	// current time.
	Run string
	// Concurrency is how many identical requests the 409 check sends at once (16).
	Concurrency int
	// Rounds is how many times the 409 check tries to catch a request in flight (20).
	Rounds int
	// MaxBurst is the most requests the 429 check sends (1000).
	MaxBurst int
	// Now is the clock of the transactions' timestamps; nil is time.Now.
	Now func() time.Time
}

// Result is the outcome of one check.
type Result struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// decision is the body of a 200.
type decision struct {
	RequestID          string   `json:"request_id"`
	Decision           string   `json:"decision"`
	Reasons            []string `json:"reasons"`
	IdempotentReplayed bool     `json:"idempotent_replayed"`
}

// apiError is the body of an error answer.
type apiError struct {
	Error struct {
		Code string `json:"code"`
	} `json:"error"`
}

// answer is one response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// runner sends the requests of one run and remembers every card it sent and every answer.
type runner struct {
	cfg    Config
	serial int
	mu     sync.Mutex
	pans   []string
	leaks  []string
}

// Run runs every check and returns their results, with ErrFailed if any failed. The
// checks run one after the other, the rate-limit check last: it leaves the limit spent.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Merchant == "" {
		cfg.Merchant = DefaultMerchant
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Run == "" {
		cfg.Run = strconv.FormatInt(cfg.Now().UnixNano(), 36)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 16
	}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 20
	}
	if cfg.MaxBurst <= 0 {
		cfg.MaxBurst = 1000
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	// Cards of this run start at a serial of its own (Visa test range: 10^9 serials).
	h := fnv.New32a()
	h.Write([]byte(cfg.Run))
	r := &runner{cfg: cfg, serial: int(h.Sum32() % 900_000_000)}

	checks := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"approve", r.approve},
		{"decline with reason", r.decline},
		{"idempotent replay", r.replay},
		{"422 key reused with another request", r.reused},
		{"409 key in flight", r.inFlight},
		{"429 with Retry-After", r.rateLimited},
	}
	var results []Result
	failed := false
	for _, c := range checks {
		err := c.fn(ctx)
		res := Result{Check: c.name, OK: err == nil, Detail: "ok"}
		if err != nil {
			res.Detail, failed = err.Error(), true
		}
		results = append(results, res)
	}
	leak := Result{Check: "card number never echoed", OK: true, Detail: "ok"}
	r.mu.Lock()
	if len(r.leaks) > 0 {
		leak.OK, leak.Detail, failed = false, strings.Join(r.leaks, "; "), true
	}
	r.mu.Unlock()
	results = append(results, leak)
	if failed {
		return results, ErrFailed
	}
	return results, nil
}

// card returns a test PAN of this run no other check uses.
func (r *runner) card() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pan, err := card.TestPAN(card.Visa, r.serial)
	r.serial++
	if err == nil {
		r.pans = append(r.pans, pan)
	}
	return pan, err
}

func (r *runner) key(name string) string { return "postdeploy-" + r.cfg.Run + "-" + name }

// send posts t under key and reads the whole answer, which must not hold any card number
// this run sent, in its headers or its body.
func (r *runner) send(ctx context.Context, key string, t synthetic.Transaction) (answer, error) {
	req, err := synthetic.NewRequest(ctx, r.cfg.BaseURL+"/api/validate", key, t)
	if err != nil {
		return answer{}, err
	}
	resp, err := r.cfg.Client.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return answer{}, err
	}
	a := answer{status: resp.StatusCode, header: resp.Header, body: body}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pan := range r.pans {
		for name, values := range resp.Header {
			for _, v := range values {
				if strings.Contains(v, pan) {
					r.leaks = append(r.leaks, fmt.Sprintf("header %s of the answer to %s carries the card number", name, key))
				}
			}
		}
		if strings.Contains(string(body), pan) {
			r.leaks = append(r.leaks, fmt.Sprintf("the answer to %s (%d) carries the card number", key, a.status))
		}
	}
	return a, nil
}

func (r *runner) transaction() (synthetic.Transaction, error) {
	pan, err := r.card()
	if err != nil {
		return synthetic.Transaction{}, err
	}
	return synthetic.New(r.cfg.Merchant, 1250, pan, r.cfg.Now()), nil
}

// decide sends t and wants a 200 decision.
func (r *runner) decide(ctx context.Context, key string, t synthetic.Transaction) (decision, answer, error) {
	a, err := r.send(ctx, key, t)
	if err != nil {
		return decision{}, a, err
	}
	if a.status != http.StatusOK {
		return decision{}, a, fmt.Errorf("status %d, want 200: %s", a.status, r.snippet(a.body))
	}
	var d decision
	if err := json.Unmarshal(a.body, &d); err != nil || d.RequestID == "" || d.Decision == "" {
		return d, a, fmt.Errorf("200 without a decision: %s", r.snippet(a.body))
	}
	return d, a, nil
}

func (r *runner) approve(ctx context.Context) error {
	t, err := r.transaction()
	if err != nil {
		return err
	}
	d, _, err := r.decide(ctx, r.key("approve"), t)
	if err != nil {
		return err
	}
	if d.Decision != "approve" || len(d.Reasons) != 0 || d.IdempotentReplayed {
		return fmt.Errorf("a valid transaction got %s %v (replayed %v), want approve with no reason", d.Decision, d.Reasons, d.IdempotentReplayed)
	}
	return nil
}

func (r *runner) decline(ctx context.Context) error {
	t, err := r.transaction()
	if err != nil {
		return err
	}
	past := r.cfg.Now().AddDate(-1, 0, 0)
	t.Card.ExpiryYear, t.Card.ExpiryMonth = past.Year(), int(past.Month())
	d, _, err := r.decide(ctx, r.key("decline"), t)
	if err != nil {
		return err
	}
	if d.Decision != "decline" || !slices.Contains(d.Reasons, "card_expired") {
		return fmt.Errorf("an expired card got %s %v, want decline with card_expired", d.Decision, d.Reasons)
	}
	return nil
}

func (r *runner) replay(ctx context.Context) error {
	t, err := r.transaction()
	if err != nil {
		return err
	}
	key := r.key("replay")
	first, _, err := r.decide(ctx, key, t)
	if err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	again, a, err := r.decide(ctx, key, t)
	if err != nil {
		return fmt.Errorf("same request again: %w", err)
	}
	if again.RequestID != first.RequestID || again.Decision != first.Decision || !again.IdempotentReplayed ||
		a.header.Get("Idempotent-Replayed") != "true" {
		return fmt.Errorf("the same request under the same key got request %s %s (replayed %v, header %q), want the first answer %s %s replayed",
			again.RequestID, again.Decision, again.IdempotentReplayed, a.header.Get("Idempotent-Replayed"), first.RequestID, first.Decision)
	}
	return nil
}

func (r *runner) reused(ctx context.Context) error {
	t, err := r.transaction()
	if err != nil {
		return err
	}
	key := r.key("reused")
	if _, _, err := r.decide(ctx, key, t); err != nil {
		return fmt.Errorf("first request: %w", err)
	}
	t.Amount++
	a, err := r.send(ctx, key, t)
	if err != nil {
		return err
	}
	if a.status != http.StatusUnprocessableEntity || errorCode(a.body) != "idempotency_key_reused" {
		return fmt.Errorf("the key reused with another amount got %d %s, want 422 idempotency_key_reused", a.status, r.snippet(a.body))
	}
	return nil
}

// inFlight sends Concurrency identical requests at once under a fresh key, up to Rounds
// times, until one is answered 409 while another is being decided. Every answer must be
// one decision (the same request id) or a 409 with Retry-After; a round in which the
// service-wide limit answered 429 is followed by a pause of its Retry-After.
func (r *runner) inFlight(ctx context.Context) error {
	for round := range r.cfg.Rounds {
		t, err := r.transaction()
		if err != nil {
			return err
		}
		key := r.key("inflight-" + strconv.Itoa(round))
		answers := make([]answer, r.cfg.Concurrency)
		errs := make([]error, r.cfg.Concurrency)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[i], errs[i] = r.send(ctx, key, t)
			}()
		}
		close(start)
		wg.Wait()
		ids := map[string]bool{}
		conflicts, limited := 0, 0
		for i, a := range answers {
			if errs[i] != nil {
				return errs[i]
			}
			switch a.status {
			case http.StatusTooManyRequests:
				// The service-wide limit, not this key: the round proves nothing, the
				// next one comes after Retry-After.
				limited++
			case http.StatusOK:
				var d decision
				if err := json.Unmarshal(a.body, &d); err != nil || d.RequestID == "" {
					return fmt.Errorf("200 without a decision: %s", r.snippet(a.body))
				}
				ids[d.RequestID] = true
			case http.StatusConflict:
				if errorCode(a.body) != "idempotency_key_in_use" || !retryAfter(a.header) {
					return fmt.Errorf("409 %s (Retry-After %q), want idempotency_key_in_use with Retry-After", r.snippet(a.body), a.header.Get("Retry-After"))
				}
				conflicts++
			default:
				return fmt.Errorf("%d identical requests at once: one got %d %s, want 200 or 409", r.cfg.Concurrency, a.status, r.snippet(a.body))
			}
		}
		if len(ids) > 1 {
			return fmt.Errorf("one key decided %d times at once: %d request ids", len(ids), len(ids))
		}
		if conflicts > 0 {
			return nil
		}
		if limited > 0 {
			secs, _ := strconv.Atoi(answers[0].header.Get("Retry-After"))
			for _, a := range answers {
				if n, err := strconv.Atoi(a.header.Get("Retry-After")); err == nil && n > secs {
					secs = n
				}
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(max(secs, 1)) * time.Second):
			}
		}
	}
	return fmt.Errorf("%d rounds of %d identical requests at once, no 409: the key in flight is not guarded, or every request was answered from the record", r.cfg.Rounds, r.cfg.Concurrency)
}

// rateLimited sends distinct valid requests, Concurrency at a time, until one is answered
// 429, at most MaxBurst of them.
func (r *runner) rateLimited(ctx context.Context) error {
	sent := 0
	for sent < r.cfg.MaxBurst {
		n := min(r.cfg.Concurrency, r.cfg.MaxBurst-sent)
		answers := make([]answer, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			t, err := r.transaction()
			if err != nil {
				return err
			}
			key := r.key("burst-" + strconv.Itoa(sent+i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				answers[i], errs[i] = r.send(ctx, key, t)
			}()
		}
		wg.Wait()
		sent += n
		for i, a := range answers {
			if errs[i] != nil {
				return errs[i]
			}
			switch a.status {
			case http.StatusOK:
			case http.StatusTooManyRequests:
				if errorCode(a.body) != "rate_limited" || !retryAfter(a.header) {
					return fmt.Errorf("429 %s (Retry-After %q), want rate_limited with Retry-After in whole seconds >= 1", r.snippet(a.body), a.header.Get("Retry-After"))
				}
				return nil
			default:
				return fmt.Errorf("request %d of the burst got %d %s, want 200 or 429", sent-n+i, a.status, r.snippet(a.body))
			}
		}
	}
	return fmt.Errorf("%d requests sent, none answered 429: the rate limit is above the burst, or not enforced", sent)
}

func retryAfter(h http.Header) bool {
	secs, err := strconv.Atoi(h.Get("Retry-After"))
	return err == nil && secs >= 1
}

func errorCode(body []byte) string {
	var e apiError
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// snippet is the start of a body for an error message, with any card number this run
// sent masked: a leak is reported once, by the card-number check, not copied into logs.
func (r *runner) snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	r.mu.Lock()
	for _, pan := range r.pans {
		s = strings.ReplaceAll(s, pan, "[card number]")
	}
	r.mu.Unlock()
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
