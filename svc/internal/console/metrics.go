package console

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
)

// Console metric names, scraped from METRICS_ADDR (never from the console's public
// listener) and alerted on in kustomize/components/observability.
const (
	MetricRequests         = "txv_console_requests_total"
	MetricAuthFailures     = "txv_console_auth_failures_total"
	MetricSearches         = "txv_console_searches_total"
	MetricTestTransactions = "txv_console_test_transactions_total"
)

// Metrics count what the console serves. Every label takes a handful of values: routes
// are the console's actions, never raw paths, and auth failures are a reason class,
// never the refused header or the error's text.
type Metrics struct {
	requests     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	searches     *prometheus.CounterVec
	tests        *prometheus.CounterVec
}

// NewMetrics registers the console's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRequests,
			Help: "Console requests answered, by route (the console's action, \"static\", \"probe\" or \"unknown\") and HTTP status code."},
			[]string{"route", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricAuthFailures,
			Help: "Console requests refused for their operator identity, by reason: missing, expired, wrong_signer, unknown_key, bad_signature, malformed, no_subject, no_console_group, not_tester."},
			[]string{"reason"}),
		searches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricSearches,
			Help: "Decision searches, by outcome: ok, invalid (a field refused) or unavailable (the audit database did not answer)."},
			[]string{"outcome"}),
		tests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricTestTransactions,
			Help: "Test transactions submitted from the console, by the validator's HTTP status code (\"unreachable\" when it did not answer)."},
			[]string{"code"}),
	}
	reg.MustRegister(m.requests, m.authFailures, m.searches, m.tests)
	for _, o := range []string{"ok", "invalid", "unavailable"} {
		m.searches.WithLabelValues(o)
	}
	return m
}

// route names a request for the requests metric and the audit line.
func route(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/console/static/") {
		return "static"
	}
	if r.URL.Path == "/livez" || r.URL.Path == "/readyz" {
		return "probe"
	}
	if a, ok := actions[r.Method+" "+r.URL.Path]; ok {
		return a
	}
	if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/console/api/decisions/") {
		return "decision_detail"
	}
	return "unknown"
}

// authFailureReason classes albauth's refusal of a header. The class comes from the
// error's text, which albauth keeps free of the header; the tests pin each class.
func authFailureReason(header string, err error) string {
	var e *albauth.Error
	msg := err.Error()
	if errors.As(err, &e) {
		msg = e.Reason
	}
	switch {
	case header == "":
		return "missing"
	case strings.Contains(msg, "expired"):
		return "expired"
	case strings.Contains(msg, "signer"):
		return "wrong_signer"
	case strings.Contains(msg, "kid") || strings.Contains(msg, "key"):
		return "unknown_key"
	case strings.Contains(msg, "signature"):
		return "bad_signature"
	case strings.Contains(msg, "no sub"):
		return "no_subject"
	}
	return "malformed"
}

// instrument counts every response by route and status, and classes each refusal.
// It only observes: albauth.Middleware alone decides who gets in. A refused request's
// header is verified a second time to learn why (refusals are cheap, and rare).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		rt := route(r)
		s.Metrics.requests.WithLabelValues(rt, strconv.Itoa(rec.status)).Inc()
		if rt == "probe" {
			return
		}
		switch rec.status {
		case http.StatusUnauthorized:
			h := r.Header.Get(albauth.Header)
			_, err := s.Auth.Verify(r.Context(), h)
			if err == nil {
				err = errors.New("verified on the second try")
			}
			s.Metrics.authFailures.WithLabelValues(authFailureReason(h, err)).Inc()
		case http.StatusForbidden:
			// A verified operator outside the console's groups, or a viewer submitting a
			// test transaction (a cross-origin POST is a 403 too, and is not counted).
			if id, err := s.Auth.Verify(r.Context(), r.Header.Get(albauth.Header)); err == nil {
				switch {
				case id.Role == albauth.RoleNone:
					s.Metrics.authFailures.WithLabelValues("no_console_group").Inc()
				case rt == "test_transaction" && id.Role == albauth.RoleViewer:
					s.Metrics.authFailures.WithLabelValues("not_tester").Inc()
				}
			}
		}
	})
}
