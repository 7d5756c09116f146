package validation

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	httptransport "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	outcomeKey
	consoleTestKey
)

// outcome travels in the request context so the instrumenting wrapper, which sees only
// the http.ResponseWriter, learns which decision was answered and for which reasons.
type outcome struct {
	decision string
	reasons  []payment.Reason // nil for a replay: its reasons were counted when decided
}

// RequestIDFrom returns the request id set for ctx by the HTTP transport.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// NewHTTPHandler serves POST /api/validate with the endpoint ep. Other methods get 405.
func NewHTTPHandler(ep endpoint.Endpoint, m *Metrics, logger *slog.Logger) http.Handler {
	server := httptransport.NewServer(ep, decodeRequest, encodeResponse,
		httptransport.ServerErrorEncoder(errorEncoder(logger)),
	)
	mux := http.NewServeMux()
	mux.Handle("POST /api/validate", server)
	return m.instrument(mux)
}

// MetricConsoleTests counts the operator console's test transactions. They are kept out
// of MetricRequests and MetricDuration, which dashboards, alerts and the HPA read as
// real traffic.
const MetricConsoleTests = "txv_console_test_transactions_total"

// NewConsoleTestHandler serves POST /api/validate for the operator console's test
// transactions, on a listener of its own that only the console can reach (its
// NetworkPolicy; the ALB routes nothing to it). Every request it decides is marked
// Test: stored as such in the audit log, counted apart from real velocity, and counted
// in MetricConsoleTests instead of the production request metrics. The body is the
// public API's, unchanged: there is no field that could mark a request as a test.
func NewConsoleTestHandler(ep endpoint.Endpoint, reg prometheus.Registerer, logger *slog.Logger) http.Handler {
	answered := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: MetricConsoleTests,
		Help: "Test transactions from the operator console answered, by decision (none when no decision was made) and HTTP status code.",
	}, []string{"decision", "code"})
	reg.MustRegister(answered)
	server := httptransport.NewServer(ep, decodeRequest, encodeResponse,
		httptransport.ServerErrorEncoder(errorEncoder(logger)),
	)
	mux := http.NewServeMux()
	mux.Handle("POST /api/validate", server)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		o := &outcome{decision: "none"}
		ctx := context.WithValue(context.WithValue(context.WithValue(r.Context(), requestIDKey, id), outcomeKey, o), consoleTestKey, true)
		rec := &statusRecorder{ResponseWriter: w}
		mux.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		answered.WithLabelValues(o.decision, strconv.Itoa(rec.status)).Inc()
	})
}

func decodeRequest(ctx context.Context, r *http.Request) (any, error) {
	// A body is read as UTF-8 JSON only when the client says it is: no Content-Type, or
	// another charset, is refused rather than guessed at (RFC 8259 JSON is UTF-8).
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if cs, ok := params["charset"]; err != nil || mt != "application/json" || ok && !strings.EqualFold(cs, "utf-8") {
		return nil, &RequestError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: "Content-Type must be application/json (charset utf-8, if given)"}
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return nil, &RequestError{Status: http.StatusBadRequest, Code: "idempotency_key_required", Field: "Idempotency-Key", Message: "header is required"}
	}
	if !ValidIdempotencyKey(key) {
		return nil, &RequestError{Status: http.StatusBadRequest, Code: "invalid_request", Field: "Idempotency-Key", Message: "must be 1 to 255 printable ASCII characters"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &RequestError{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: "body exceeds " + strconv.Itoa(MaxBodyBytes) + " bytes"}
		}
		return nil, &RequestError{Status: http.StatusBadRequest, Code: "invalid_request", Message: "could not read the body"}
	}
	tx, err := DecodeTransaction(body)
	if err != nil {
		return nil, err
	}
	// The test marker comes from the listener the request arrived on, never from its body.
	isTest, _ := ctx.Value(consoleTestKey).(bool)
	return Request{RequestID: RequestIDFrom(ctx), IdempotencyKey: key, Txn: tx, Test: isTest}, nil
}

type responseBody struct {
	RequestID string           `json:"request_id"`
	Decision  payment.Decision `json:"decision"`
	Reasons   []payment.Reason `json:"reasons"`
	DecidedAt time.Time        `json:"decided_at"`
	Replayed  bool             `json:"idempotent_replayed"`
}

func encodeResponse(ctx context.Context, w http.ResponseWriter, response any) error {
	res := response.(payment.Result)
	if o, ok := ctx.Value(outcomeKey).(*outcome); ok {
		o.decision = string(res.Decision)
		if !res.Replayed {
			o.reasons = res.Reasons
		}
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if res.Replayed {
		h.Set("Idempotent-Replayed", "true")
		// The answer is the original request's, and so is its id: header and body agree.
		h.Set("X-Request-Id", res.RequestID)
	}
	return json.NewEncoder(w).Encode(responseBody{
		RequestID: res.RequestID, Decision: res.Decision, Reasons: res.Reasons,
		DecidedAt: res.DecidedAt, Replayed: res.Replayed,
	})
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// errorEncoder writes every error as JSON with a stable code. Only an error the service
// did not anticipate becomes a 500, and its details stay in the log.
func errorEncoder(logger *slog.Logger) httptransport.ErrorEncoder {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		var body errorBody
		body.RequestID = RequestIDFrom(ctx)
		status := http.StatusInternalServerError
		h := w.Header()
		var reqErr *RequestError
		var rateErr *RateLimitedError
		var unavailErr *UnavailableError
		switch {
		case errors.As(err, &reqErr):
			status, body.Error.Code, body.Error.Message, body.Error.Field = reqErr.Status, reqErr.Code, reqErr.Message, reqErr.Field
		case errors.As(err, &rateErr):
			status, body.Error.Code, body.Error.Message = http.StatusTooManyRequests, "rate_limited", err.Error()
			for k, v := range rateErr.Headers() {
				h[k] = v
			}
		case errors.Is(err, ErrIdempotencyKeyReused):
			status, body.Error.Code, body.Error.Message = http.StatusUnprocessableEntity, "idempotency_key_reused", err.Error()
		case errors.Is(err, ErrIdempotencyKeyInUse):
			status, body.Error.Code, body.Error.Message = http.StatusConflict, "idempotency_key_in_use", err.Error()
			h.Set("Retry-After", "1")
		case errors.Is(err, ErrOverloaded):
			status, body.Error.Code, body.Error.Message = http.StatusServiceUnavailable, "overloaded", err.Error()
			h.Set("Retry-After", "1")
		case errors.As(err, &unavailErr), errors.Is(err, context.DeadlineExceeded):
			status, body.Error.Code = http.StatusServiceUnavailable, "dependency_unavailable"
			body.Error.Message = "a backing store is unavailable; nothing was recorded, retry with the same Idempotency-Key"
			h.Set("Retry-After", "1")
			logger.Warn("request failed on a backing store", "request_id", body.RequestID, "error", err)
		default:
			body.Error.Code, body.Error.Message = "internal", "internal error"
			logger.Error("unexpected error", "request_id", body.RequestID, "error", err)
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(body)
	}
}

// newRequestID returns a UUIDv7: time-ordered, so audit rows keyed by it index well.
func newRequestID() string {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.NewString()
	}
	return id.String()
}
