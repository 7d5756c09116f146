// Package console is the operator console: a small web UI, served by its own Go service,
// where an operator submits a test transaction to the validator and watches recent
// decisions by outcome. The browser talks only to this service; this service calls the
// validator over the cluster network and reads the audit log through a read-only
// database role. Card data passes through in one request and is kept nowhere.
package console

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
)

//go:embed web
var web embed.FS

// Server is the console's backend.
type Server struct {
	// ValidatorURL is the base URL of the validator's console-test listener
	// (CONSOLE_TEST_ADDR) inside the cluster: every transaction the console sends is a
	// test, and that listener is what marks it so (stored as such, kept out of real
	// velocity and the production metrics). The console has no route to the public API.
	ValidatorURL string
	// Audit reads audit_decisions; its role needs SELECT on that table and nothing else.
	Audit  *pgxpool.Pool
	Client *http.Client
	Log    *slog.Logger
	Now    func() time.Time
	// Auth verifies the operator identity the ALB forwards; every route but the probes
	// is behind it, and there is no way to serve the console without it.
	Auth *albauth.Verifier
	// Origin is the console's public origin (https://HOST): a state-changing request
	// must come from a page of it.
	Origin string
	// Metrics counts requests, refusals, searches and test transactions; nil gets a set
	// on a registry of its own (nothing scrapes it).
	Metrics *Metrics
}

// securityHeaders keep the console's pages from being framed, from loading anything
// but its own files, and from being cached anywhere (they show card-adjacent data).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		// Two years, subdomains included: the browser never tries plain HTTP again.
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

// sameOrigin guards state-changing requests against cross-site request forgery. The
// ALB's session cookie goes with any request the browser sends to the console, so a
// page elsewhere could otherwise make an operator's browser submit a test transaction.
// JSON only (415 otherwise): a cross-site form or a "simple" fetch cannot send it
// without a CORS preflight, which the console never answers. And the Origin must be
// the console's own (or, from a browser that sends none, Sec-Fetch-Site same-origin).
func (s *Server) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			consoleError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json")
			return
		}
		origin := r.Header.Get("Origin")
		if origin == "" && r.Header.Get("Sec-Fetch-Site") == "same-origin" {
			origin = s.Origin
		}
		if s.Origin == "" || origin != s.Origin {
			consoleError(w, http.StatusForbidden, "cross_origin", "requests must come from the console's own pages")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Handler serves the UI under /console/, its API under /console/api/, and probes. All
// but the probes answer only to an operator the ALB authenticated (albauth): 401
// without a valid identity, 403 outside the console's groups, and submitting a test
// transaction needs the tester group.
func (s *Server) Handler() http.Handler {
	if s.Auth == nil {
		panic("console: Server.Auth is required; the console has no unauthenticated mode")
	}
	if s.Metrics == nil {
		s.Metrics = NewMetrics(prometheus.NewRegistry())
	}
	static, _ := fs.Sub(web, "web")
	app := http.NewServeMux()
	app.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	app.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, static, "index.html")
	})
	app.Handle("POST /console/api/test-transaction", albauth.RequireTester(http.HandlerFunc(s.testTransaction)))
	app.HandleFunc("GET /console/api/recent", s.recent)
	app.HandleFunc("GET /console/api/decisions", s.search)
	app.HandleFunc("GET /console/api/decisions/{id}", s.detail)
	app.HandleFunc("GET /console/api/stats", s.stats)
	app.HandleFunc("GET /console/charts/decisions.svg", s.chart(DecisionsSVG))
	app.HandleFunc("GET /console/charts/reasons.svg", s.chart(ReasonsSVG))

	mux := http.NewServeMux()
	// The kubelet's probes carry no identity; they reveal nothing but up or down.
	mux.HandleFunc("GET /livez", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := s.Audit.Ping(ctx); err != nil {
			http.Error(w, "audit database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	mux.Handle("/", s.Auth.Middleware(s.audit(s.sameOrigin(app))))
	return securityHeaders(s.instrument(mux))
}

// actions name what an operator did, by method and path; static files are not actions.
var actions = map[string]string{
	"GET /console/":                      "page_view",
	"GET /console/api/recent":            "recent",
	"POST /console/api/test-transaction": "test_transaction",
	"GET /console/api/decisions":         "search",
	"GET /console/api/stats":             "stats",
	"GET /console/charts/decisions.svg":  "chart",
	"GET /console/charts/reasons.svg":    "chart",
}

// statusRecorder remembers the status a handler answered with.
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

// audit writes one "operator action" line per console action: who (the IdP subject,
// email and groups the ALB vouched for), what, and how it ended. It logs no request or
// response body, so no card data can reach the log.
func (s *Server) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/console/static/") {
			next.ServeHTTP(w, r)
			return
		}
		action := route(r)
		start := s.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		id, _ := albauth.FromContext(r.Context())
		attrs := []any{"subject", id.Subject, "groups", id.Groups, "role", id.Role.String(),
			"action", action, "method", r.Method, "path", r.URL.Path,
			"status", rec.status, "outcome", outcome(rec.status), "duration_ms", s.Now().Sub(start).Milliseconds()}
		if id.Email != "" {
			attrs = append(attrs, "email", id.Email)
		}
		// What was searched for: merchant, last four, request id, decision, reason, range.
		// None of it is card data beyond the last four digits PCI DSS allows to show.
		if action == "search" && r.URL.RawQuery != "" {
			attrs = append(attrs, "query", r.URL.Query())
		}
		s.Log.Info("operator action", attrs...)
	})
}

func outcome(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return "denied"
	case status >= 500:
		return "error"
	case status >= 400:
		return "rejected"
	}
	return "ok"
}

// testForm is what the UI posts: the form's fields, amount already in minor units.
type testForm struct {
	MerchantID  string `json:"merchant_id"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Country     string `json:"country"`
	CardNumber  string `json:"card_number"`
	ExpiryMonth int    `json:"expiry_month"`
	ExpiryYear  int    `json:"expiry_year"`
	CVV         string `json:"cvv"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func consoleError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// testTransaction forwards the form to the validator with a fresh idempotency key and
// returns the validator's answer: the decision, or the validator's own error.
func (s *Server) testTransaction(w http.ResponseWriter, r *http.Request) {
	var f testForm
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		consoleError(w, http.StatusBadRequest, "invalid_request", "the form could not be read")
		return
	}
	card := map[string]any{"number": f.CardNumber, "expiry_month": f.ExpiryMonth, "expiry_year": f.ExpiryYear}
	if f.CVV != "" {
		card["cvv"] = f.CVV
	}
	body, _ := json.Marshal(map[string]any{
		"merchant_id": f.MerchantID, "amount": f.Amount, "currency": f.Currency, "country": f.Country,
		"timestamp": s.Now().UTC().Format(time.RFC3339), "card": card,
	})
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, s.ValidatorURL+"/api/validate", bytes.NewReader(body))
	if err != nil {
		consoleError(w, http.StatusInternalServerError, "internal", "bad validator URL")
		return
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "console-"+uuid.NewString())
	resp, err := s.Client.Do(req)
	if err != nil {
		s.Metrics.tests.WithLabelValues("unreachable").Inc()
		s.Log.Warn("validator unreachable", "error", err)
		consoleError(w, http.StatusBadGateway, "validator_unavailable", "the validator did not answer")
		return
	}
	defer resp.Body.Close()
	s.Metrics.tests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil || !json.Valid(raw) {
		consoleError(w, http.StatusBadGateway, "validator_unavailable", "the validator's answer could not be read")
		return
	}
	// The validator's answers carry no card data; pass them on as they are.
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(raw)
}

// Decision is one row of the recent-decisions view: no card data beyond brand and last four.
type Decision struct {
	DecidedAt   time.Time `json:"decided_at"`
	MerchantID  string    `json:"merchant_id"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	CardBrand   string    `json:"card_brand"`
	CardLast4   string    `json:"card_last4"`
	Decision    string    `json:"decision"`
	Reasons     []string  `json:"reasons"`
	// Test marks a test transaction sent from this console.
	Test bool `json:"test"`
}

// Window is how far back the recent view looks.
const Window = 15 * time.Minute

func (s *Server) recent(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	since := s.Now().Add(-Window)
	// The counts are real traffic only; test transactions are counted on their own.
	counts := map[string]int64{"approve": 0, "review": 0, "decline": 0}
	var tests int64
	rows, err := s.Audit.Query(ctx, `SELECT decision, test, count(*) FROM audit_decisions WHERE decided_at > $1 GROUP BY decision, test`, since)
	if err == nil {
		for rows.Next() {
			var d string
			var test bool
			var n int64
			if err = rows.Scan(&d, &test, &n); err != nil {
				break
			}
			if test {
				tests += n
			} else {
				counts[d] = n
			}
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	var recent []Decision
	if err == nil {
		recent, err = s.lastDecisions(ctx, since)
	}
	if err != nil {
		s.Log.Warn("recent decisions query failed", "error", err)
		consoleError(w, http.StatusServiceUnavailable, "audit_unavailable", "recent decisions are unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": counts, "tests": tests, "recent": recent, "window_seconds": int(Window.Seconds())})
}

func (s *Server) lastDecisions(ctx context.Context, since time.Time) ([]Decision, error) {
	rows, err := s.Audit.Query(ctx, `SELECT decided_at, merchant_id, amount_minor, currency, card_brand, card_last4, decision, reasons, test
		FROM audit_decisions WHERE decided_at > $1 ORDER BY decided_at DESC LIMIT 20`, since)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Decision{}
	for rows.Next() {
		var d Decision
		if err := rows.Scan(&d.DecidedAt, &d.MerchantID, &d.AmountMinor, &d.Currency, &d.CardBrand, &d.CardLast4, &d.Decision, &d.Reasons, &d.Test); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("recent decisions: %w", err)
	}
	return out, nil
}

// ErrConfig is returned for a console started without its settings.
var ErrConfig = errors.New("console: configuration")
