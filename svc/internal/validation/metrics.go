package validation

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// Metric names are part of the service's contract with its dashboards, alerts and the
// HPA's metrics adapter; a test in the app package fails if one disappears.
const (
	MetricRequests    = "txv_validate_requests_total"
	MetricDuration    = "txv_validate_request_duration_seconds"
	MetricRateLimited = "txv_rate_limited_total"
	MetricReasons     = "txv_validate_reasons_total"
)

// otherReason labels a reason that is not one of payment's codes: the reason label has
// at most len(payment.Reasons())+1 values whatever reaches it.
const otherReason = "other"

// Metrics instruments the validation endpoint.
type Metrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited prometheus.Counter
	reasons     *prometheus.CounterVec
}

// NewMetrics registers the endpoint's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricRequests,
			Help: "Validation requests answered, by decision (none when no decision was made) and HTTP status code.",
		}, []string{"decision", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: MetricDuration,
			Help: "Time to answer a validation request, by decision.",
			// Dense below 10 ms, where the latency objective (p99 <= 5 ms) sits.
			Buckets: []float64{.0005, .001, .002, .003, .005, .0075, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"decision"}),
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricRateLimited,
			Help: "Validation requests rejected by the service-wide rate limit.",
		}),
		reasons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: MetricReasons,
			Help: "Reasons given with validation decisions, one count per reason of each decided request (replays not counted again), by decision and reason code (\"other\" for a code the service does not know).",
		}, []string{"decision", "reason"}),
	}
	// Every reason starts at zero with the decision it forces on its own, so rate() and
	// the dashboard see a reason before its first occurrence.
	for _, r := range payment.Reasons() {
		m.reasons.WithLabelValues(string(payment.Decide([]payment.Reason{r})), string(r))
	}
	reg.MustRegister(m.requests, m.duration, m.rateLimited, m.reasons)
	return m
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// instrument assigns the request id, then counts and times every answer.
func (m *Metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		o := &outcome{decision: "none"}
		ctx := context.WithValue(context.WithValue(r.Context(), requestIDKey, id), outcomeKey, o)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		if rec.status == http.StatusTooManyRequests {
			m.rateLimited.Inc()
		}
		m.requests.WithLabelValues(o.decision, strconv.Itoa(rec.status)).Inc()
		for _, r := range o.reasons {
			label := string(r)
			if !r.Known() {
				label = otherReason
			}
			m.reasons.WithLabelValues(o.decision, label).Inc()
		}
		m.duration.WithLabelValues(o.decision).Observe(time.Since(start).Seconds())
	})
}
