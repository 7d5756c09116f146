// Package canary decides whether a freshly deployed version of the validator may take
// more traffic. It drives a bounded burst of synthetic transactions at the version under
// test, then reads that version's own Prometheus metrics and compares the server-side
// error ratio and p99 latency with the thresholds of the release.
//
// The verdict comes from the service's metrics, not from the probe's own timings: they
// are what the alerts and dashboards use, so a canary that passes here is one the
// on-call engineer would also have seen as healthy.
package canary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/synthetic"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// Thresholds are the limits a canary must stay within.
type Thresholds struct {
	// MaxErrorRatio is the highest share of 5xx answers allowed (0.01 = 1 %).
	MaxErrorRatio float64
	// MaxP99 is the highest 99th-percentile server-side latency allowed.
	MaxP99 time.Duration
	// MinRequests is how many requests the metrics must have counted for a verdict;
	// fewer means the traffic did not reach the version under test.
	MinRequests int
}

// Report is what Analyze found.
type Report struct {
	Requests     float64       `json:"requests"`
	ServerErrors float64       `json:"server_errors"`
	ErrorRatio   float64       `json:"error_ratio"`
	P99          time.Duration `json:"p99_ns"`
	P99Text      string        `json:"p99"`
	Probe        ProbeResult   `json:"probe"`
	Healthy      bool          `json:"healthy"`
	Reasons      []string      `json:"reasons,omitempty"`
}

// Analyze reads the Prometheus text exposition of the validator (its /metrics page) and
// judges it against t, together with what the probe saw from the client's side: requests
// never answered (connection refused, time-out) and 5xx answers from whatever stands in
// front of the version (a proxy, a load balancer) never reach the version's metrics. The
// error ratio is the worse of the two sides.
func Analyze(metrics io.Reader, probe ProbeResult, t Thresholds) (Report, error) {
	return AnalyzeAll([]io.Reader{metrics}, probe, t)
}

// AnalyzeAll is Analyze over the metrics pages of several instances of the version (the
// canary's pods): their counters and histograms add up.
func AnalyzeAll(pages []io.Reader, probe ProbeResult, t Thresholds) (Report, error) {
	r := Report{Probe: probe}
	var durations []*dto.Metric
	for _, page := range pages {
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(page)
		if err != nil {
			return Report{}, fmt.Errorf("canary: parse metrics: %w", err)
		}
		reqs, ok := families[validation.MetricRequests]
		if !ok {
			return Report{}, fmt.Errorf("canary: metric %s %w: is this the validator's metrics port?", validation.MetricRequests, errNoRequestSeries)
		}
		for _, m := range reqs.GetMetric() {
			v := m.GetCounter().GetValue()
			r.Requests += v
			for _, l := range m.GetLabel() {
				if l.GetName() == "code" && strings.HasPrefix(l.GetValue(), "5") {
					r.ServerErrors += v
				}
			}
		}
		hist, ok := families[validation.MetricDuration]
		if !ok {
			return Report{}, fmt.Errorf("canary: metric %s not exported", validation.MetricDuration)
		}
		durations = append(durations, hist.GetMetric()...)
	}
	r.P99 = quantile(0.99, mergeBuckets(durations))
	r.P99Text = r.P99.String()
	if r.Requests > 0 {
		r.ErrorRatio = r.ServerErrors / r.Requests
	}
	if probe.Sent > 0 {
		r.ErrorRatio = math.Max(r.ErrorRatio, float64(probe.Unanswered+probe.ServerErrors)/float64(probe.Sent))
	}
	if r.Requests < float64(t.MinRequests) {
		r.Reasons = append(r.Reasons, fmt.Sprintf("only %.0f requests counted, want at least %d", r.Requests, t.MinRequests))
	}
	if r.ErrorRatio > t.MaxErrorRatio {
		r.Reasons = append(r.Reasons, fmt.Sprintf("error ratio %.2f%% above %.2f%%", 100*r.ErrorRatio, 100*t.MaxErrorRatio))
	}
	if t.MaxP99 > 0 && r.P99 > t.MaxP99 {
		r.Reasons = append(r.Reasons, fmt.Sprintf("p99 %s above %s", r.P99, t.MaxP99))
	}
	r.Healthy = len(r.Reasons) == 0
	return r, nil
}

type bucket struct {
	upper float64
	count float64
}

// mergeBuckets adds the cumulative buckets of every series of a histogram (one per
// decision label) into one histogram.
func mergeBuckets(ms []*dto.Metric) []bucket {
	byUpper := map[float64]float64{}
	for _, m := range ms {
		hasInf := false
		for _, b := range m.GetHistogram().GetBucket() {
			byUpper[b.GetUpperBound()] += float64(b.GetCumulativeCount())
			hasInf = hasInf || math.IsInf(b.GetUpperBound(), 1)
		}
		if !hasInf { // an exposition may leave the +Inf bucket to _count
			byUpper[math.Inf(1)] += float64(m.GetHistogram().GetSampleCount())
		}
	}
	out := make([]bucket, 0, len(byUpper))
	for u, c := range byUpper {
		out = append(out, bucket{u, c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].upper < out[j].upper })
	return out
}

// quantile estimates the q-quantile by linear interpolation inside the bucket that holds
// it, as PromQL's histogram_quantile does; a quantile in the +Inf bucket is reported as
// the highest finite bound.
func quantile(q float64, bs []bucket) time.Duration {
	if len(bs) == 0 || bs[len(bs)-1].count == 0 {
		return 0
	}
	rank := q * bs[len(bs)-1].count
	lowerBound, lowerCount := 0.0, 0.0
	for _, b := range bs {
		if b.count >= rank {
			if math.IsInf(b.upper, 1) {
				return seconds(lowerBound)
			}
			if b.count == lowerCount {
				return seconds(b.upper)
			}
			return seconds(lowerBound + (b.upper-lowerBound)*(rank-lowerCount)/(b.count-lowerCount))
		}
		lowerBound, lowerCount = b.upper, b.count
	}
	return seconds(lowerBound)
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Probe sends synthetic traffic to a validator.
type Probe struct {
	// BaseURL is the API's address, e.g. http://canary:8080.
	BaseURL string
	// Requests is how many transactions to send (bounded: at most 100 000).
	Requests int
	// Concurrency is how many are in flight at once.
	Concurrency int
	// First is the index of the first synthetic transaction (SyntheticTransaction), so
	// that probes sent one after another use distinct test cards.
	First int
	// Client sends them; nil means a client with a 5 s time-out.
	Client *http.Client
	// Now dates the transactions; nil means time.Now.
	Now func() time.Time
}

// maxProbeRequests bounds one probe, so a mistyped flag cannot turn a canary check into
// a load test against production.
const maxProbeRequests = 100_000

// ProbeResult is what the probe saw from the client's side.
type ProbeResult struct {
	Sent         int `json:"sent"`
	Unanswered   int `json:"unanswered"`
	ServerErrors int `json:"server_errors"`
}

// Run sends the traffic and counts, from the client's side, the requests that got no
// answer and those answered with a 5xx.
func (p Probe) Run(ctx context.Context) (ProbeResult, error) {
	if p.Requests <= 0 || p.Requests > maxProbeRequests {
		return ProbeResult{}, fmt.Errorf("canary: requests must be 1..%d, got %d", maxProbeRequests, p.Requests)
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	client := p.Client
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	url := strings.TrimSuffix(p.BaseURL, "/") + "/api/validate"
	run := strconv.FormatInt(now().UnixNano(), 36)
	var (
		mu  sync.Mutex
		res ProbeResult
		wg  sync.WaitGroup
	)
	next := make(chan int)
	for w := 0; w < p.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				status := p.send(ctx, client, url, run, p.First+i, now())
				mu.Lock()
				res.Sent++
				switch {
				case status == 0:
					res.Unanswered++
				case status >= 500:
					res.ServerErrors++
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < p.Requests && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return res, ctx.Err()
}

// send posts the i-th transaction and returns the answer's status, 0 for none.
func (p Probe) send(ctx context.Context, client *http.Client, url, run string, i int, now time.Time) int {
	tx, err := SyntheticTransaction(i, now)
	if err != nil {
		return 0
	}
	req, err := synthetic.NewRequest(ctx, url, "canary-"+run+"-"+strconv.Itoa(i), tx)
	if err != nil {
		return 0
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// SyntheticTransaction is the i-th probe transaction: a distinct test card per request
// (so the per-card velocity limit does not turn the probe into a rate-limit test), a
// merchant reserved for canaries, and every tenth card with a broken check digit, so the
// decline path is exercised too. i runs from 0 to the Visa test range's capacity
// (card.TestPAN), far above maxProbeRequests.
func SyntheticTransaction(i int, now time.Time) (synthetic.Transaction, error) {
	number, err := card.TestPAN(card.Visa, i)
	if err != nil {
		return synthetic.Transaction{}, fmt.Errorf("canary: transaction %d: %w", i, err)
	}
	if i%10 == 9 {
		last := number[len(number)-1] - '0'
		number = number[:len(number)-1] + strconv.Itoa(int(last+1)%10)
	}
	return synthetic.New("canary-probe", int64(1000+i%5000), number, now), nil
}

// errNoRequestSeries: a page without the request counter, which is also what the
// validator exports before its first request.
var errNoRequestSeries = errors.New("not exported")

// ErrUnhealthy is returned by Check when the canary breached a threshold.
var ErrUnhealthy = errors.New("canary unhealthy")

// Check runs probe against the API, then fetches metricsURL and analyzes it.
func Check(ctx context.Context, probe Probe, metricsURL string, t Thresholds) (Report, error) {
	seen, err := probe.Run(ctx)
	if err != nil {
		return Report{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return Report{}, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return Report{}, fmt.Errorf("canary: fetch metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Report{}, fmt.Errorf("canary: fetch metrics: %s", resp.Status)
	}
	r, err := Analyze(resp.Body, seen, t)
	if err != nil {
		return r, err
	}
	if !r.Healthy {
		return r, fmt.Errorf("%w: %s", ErrUnhealthy, strings.Join(r.Reasons, "; "))
	}
	return r, nil
}

// WaitReady polls baseURL/readyz until it answers 200 or ctx ends: a version that never
// becomes ready fails here, before any traffic is judged.
func WaitReady(ctx context.Context, baseURL string) error {
	url := strings.TrimSuffix(baseURL, "/") + "/readyz"
	var last string
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else if last == "" || ctx.Err() == nil {
			// A request cut by the deadline says less than the answer before it.
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("canary: %s never became ready (last: %s)", url, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
}
