package console

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// Search is one investigation query: filters, a time range and a page. Every filter is
// optional; the range defaults to the last DefaultRange.
type Search struct {
	MerchantID string
	Last4      string
	RequestID  string
	// IdempotencyKey matches the key the merchant sent, exactly. The console cannot
	// read keys, only ask which decisions carry one (migration 00005).
	IdempotencyKey string
	Decision       string
	Reason         string
	From, To       time.Time // decided_at in [From, To)
	Limit          int
	// After is the last row of the previous page (keyset paging): the next page starts
	// strictly below it in (decided_at, request_id) order. Nil for the first page.
	After *Cursor
}

// Cursor is a position in the (decided_at DESC, request_id DESC) order.
type Cursor struct {
	DecidedAt time.Time
	RequestID string
}

// Paging limits and the default range of a search.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	DefaultRange = 24 * time.Hour
)

// FieldError is a search parameter the console cannot use; the page shows Message next
// to Field.
type FieldError struct {
	Field, Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

var (
	merchantRE = regexp.MustCompile(`^[A-Za-z0-9_.\-]{1,64}$`)
	last4RE    = regexp.MustCompile(`^[0-9]{4}$`)
	reasonRE   = regexp.MustCompile(`^[a-z_]{1,64}$`)
)

// ParseSearch reads a search from the query string; now anchors the default range.
func ParseSearch(q url.Values, now time.Time) (Search, error) {
	s := Search{
		MerchantID: strings.TrimSpace(q.Get("merchant")), Last4: strings.TrimSpace(q.Get("last4")),
		RequestID: strings.TrimSpace(q.Get("request_id")), Decision: q.Get("decision"), Reason: q.Get("reason"),
		// Not trimmed: a key is the merchant's bytes, spaces included.
		IdempotencyKey: q.Get("idempotency_key"),
		Limit:          DefaultLimit,
	}
	// Only what the validator would have accepted can be stored under a key.
	if s.IdempotencyKey != "" && !validation.ValidIdempotencyKey(s.IdempotencyKey) {
		return s, &FieldError{"idempotency_key", "1 to 255 printable ASCII characters, as the merchant sent it"}
	}
	if s.MerchantID != "" && !merchantRE.MatchString(s.MerchantID) {
		return s, &FieldError{"merchant", "1 to 64 letters, digits, '_', '.' or '-'"}
	}
	if s.Last4 != "" && !last4RE.MatchString(s.Last4) {
		return s, &FieldError{"last4", "exactly four digits"}
	}
	if s.RequestID != "" {
		id, err := uuid.Parse(s.RequestID)
		if err != nil {
			return s, &FieldError{"request_id", "not a request id (a UUID)"}
		}
		s.RequestID = id.String()
	}
	switch s.Decision {
	case "", "approve", "review", "decline":
	default:
		return s, &FieldError{"decision", "approve, review or decline"}
	}
	if s.Reason != "" && !reasonRE.MatchString(s.Reason) {
		return s, &FieldError{"reason", "a reason code such as card_expired"}
	}
	var err error
	s.To = now
	if v := q.Get("to"); v != "" {
		if s.To, err = time.Parse(time.RFC3339, v); err != nil {
			return s, &FieldError{"to", "a date and time with its zone (RFC 3339)"}
		}
	}
	s.From = s.To.Add(-DefaultRange)
	if v := q.Get("from"); v != "" {
		if s.From, err = time.Parse(time.RFC3339, v); err != nil {
			return s, &FieldError{"from", "a date and time with its zone (RFC 3339)"}
		}
	}
	if !s.From.Before(s.To) {
		return s, &FieldError{"from", "must be before the end of the range"}
	}
	if v := q.Get("limit"); v != "" {
		if s.Limit, err = strconv.Atoi(v); err != nil || s.Limit < 1 || s.Limit > MaxLimit {
			return s, &FieldError{"limit", fmt.Sprintf("a number from 1 to %d", MaxLimit)}
		}
	}
	if v := q.Get("cursor"); v != "" {
		c, err := decodeCursor(v)
		if err != nil {
			return s, &FieldError{"cursor", "not a page position this console made"}
		}
		s.After = &c
	}
	return s, nil
}

// Encode is the cursor as the page passes it back: opaque, URL-safe.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.DecidedAt.UTC().Format(time.RFC3339Nano) + "|" + c.RequestID))
}

func decodeCursor(s string) (Cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, err
	}
	at, id, ok := strings.Cut(string(raw), "|")
	if !ok {
		return Cursor{}, errors.New("cursor: no separator")
	}
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return Cursor{}, err
	}
	u, err := uuid.Parse(id)
	if err != nil {
		return Cursor{}, err
	}
	return Cursor{DecidedAt: t, RequestID: u.String()}, nil
}

// decisionColumns are what the search and the detail view read: the columns the
// console's database role may SELECT (migrations 00002 to 00006), no card hash,
// fingerprint or idempotency key.
const decisionColumns = `request_id::text, decided_at, txn_time, merchant_id, amount_minor, currency, country,
	card_brand, card_last4, decision, reasons, test, replica`

// SQL builds the query: only the filters that are set, every value a parameter, rows in
// (decided_at DESC, request_id DESC) order, one more than the page to tell whether
// there is a next one. The range and the keyset condition are on the indexed
// (decided_at, request_id) (migration 00004), so a page costs the rows it returns, not
// the rows before it, as OFFSET would. ORDER BY names the table's columns: bare
// request_id would be the output column request_id::text, a different order from the
// keyset's (and one no index has).
func (s Search) SQL() (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where = append(where, "decided_at >= "+arg(s.From), "decided_at < "+arg(s.To))
	if s.MerchantID != "" {
		where = append(where, "merchant_id = "+arg(s.MerchantID))
	}
	if s.Last4 != "" {
		where = append(where, "card_last4 = "+arg(s.Last4))
	}
	if s.RequestID != "" {
		where = append(where, "request_id = "+arg(s.RequestID)+"::uuid")
	}
	if s.IdempotencyKey != "" {
		where = append(where, "request_id IN (SELECT console_decisions_by_idempotency_key("+arg(s.IdempotencyKey)+"))")
	}
	if s.Decision != "" {
		where = append(where, "decision = "+arg(s.Decision))
	}
	if s.Reason != "" {
		where = append(where, "reasons @> ARRAY["+arg(s.Reason)+"::text]")
	}
	if s.After != nil {
		where = append(where, "(decided_at, request_id) < ("+arg(s.After.DecidedAt)+", "+arg(s.After.RequestID)+"::uuid)")
	}
	limit := s.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	return "SELECT " + decisionColumns + " FROM audit_decisions WHERE " + strings.Join(where, " AND ") +
		" ORDER BY audit_decisions.decided_at DESC, audit_decisions.request_id DESC LIMIT " + strconv.Itoa(limit+1), args
}

// Detail is one decision as the detail view shows it.
type Detail struct {
	RequestID   string    `json:"request_id"`
	DecidedAt   time.Time `json:"decided_at"`
	TxnTime     time.Time `json:"txn_time"`
	MerchantID  string    `json:"merchant_id"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Country     string    `json:"country"`
	CardBrand   string    `json:"card_brand"`
	CardLast4   string    `json:"card_last4"`
	Decision    string    `json:"decision"`
	Reasons     []string  `json:"reasons"`
	Test        bool      `json:"test"`
	// Replica is the validator pod that decided; empty for decisions recorded before
	// migration 00006.
	Replica string `json:"replica"`
}

// Investigation is what the detail view adds to a decision: how often it was replayed.
type Investigation struct {
	Detail
	// Replays counts the idempotent replays answered with this decision (the merchant
	// retried with the same key and request); LastReplayAt is the latest, if any.
	Replays      int64      `json:"replays"`
	LastReplayAt *time.Time `json:"last_replay_at"`
}

func scanDetail(row pgx.Row, extra ...any) (Detail, error) {
	var d Detail
	err := row.Scan(append([]any{&d.RequestID, &d.DecidedAt, &d.TxnTime, &d.MerchantID, &d.AmountMinor, &d.Currency, &d.Country,
		&d.CardBrand, &d.CardLast4, &d.Decision, &d.Reasons, &d.Test, &d.Replica}, extra...)...)
	d.Currency, d.Country = strings.TrimSpace(d.Currency), strings.TrimSpace(d.Country)
	return d, err
}

// Page is one page of search results.
type Page struct {
	Decisions []Detail `json:"decisions"`
	// Next is the cursor of the following page, empty on the last one.
	Next string `json:"next_cursor,omitempty"`
}

// Find runs a search on the audit log.
func Find(ctx context.Context, db interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, s Search) (Page, error) {
	q, args := s.SQL()
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return Page{}, err
	}
	defer rows.Close()
	p := Page{Decisions: []Detail{}}
	for rows.Next() {
		d, err := scanDetail(rows)
		if err != nil {
			return Page{}, err
		}
		p.Decisions = append(p.Decisions, d)
	}
	if err := rows.Err(); err != nil {
		return Page{}, err
	}
	limit := s.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if len(p.Decisions) > limit {
		p.Decisions = p.Decisions[:limit]
		last := p.Decisions[limit-1]
		p.Next = Cursor{DecidedAt: last.DecidedAt, RequestID: last.RequestID}.Encode()
	}
	return p, nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	q, err := ParseSearch(r.URL.Query(), s.Now())
	var fe *FieldError
	if errors.As(err, &fe) {
		s.Metrics.searches.WithLabelValues("invalid").Inc()
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{
			"code": "invalid_search", "field": fe.Field, "message": fe.Message}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	page, err := Find(ctx, s.Audit, q)
	if err != nil {
		s.Metrics.searches.WithLabelValues("unavailable").Inc()
		s.Log.Warn("search failed", "error", err)
		consoleError(w, http.StatusServiceUnavailable, "audit_unavailable",
			"the audit database did not answer; the search was not run")
		return
	}
	s.Metrics.searches.WithLabelValues("ok").Inc()
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) detail(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{
			"code": "invalid_search", "field": "request_id", "message": "not a request id (a UUID)"}})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var inv Investigation
	inv.Detail, err = scanDetail(s.Audit.QueryRow(ctx, detailSQL, id.String()), &inv.Replays, &inv.LastReplayAt)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		consoleError(w, http.StatusNotFound, "not_found", "no decision with this request id")
	case err != nil:
		s.Log.Warn("decision detail failed", "error", err)
		consoleError(w, http.StatusServiceUnavailable, "audit_unavailable", "the audit database did not answer")
	default:
		writeJSON(w, http.StatusOK, inv)
	}
}

// detailSQL is one decision and its replays (audit_replays_request, migration 00006).
const detailSQL = "SELECT " + decisionColumns + `,
	(SELECT count(*) FROM audit_replays r WHERE r.request_id = audit_decisions.request_id),
	(SELECT max(replayed_at) FROM audit_replays r WHERE r.request_id = audit_decisions.request_id)
	FROM audit_decisions WHERE request_id = $1::uuid`
