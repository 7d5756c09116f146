package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
)

// AuditLog is a payment.AuditLog with group commit: concurrent Record calls are queued,
// and a few writer goroutines each take whatever has queued up (up to BatchMax) and
// write it in one statement, so one commit (one WAL flush) covers many decisions. Under
// light load a batch is a single record and nothing waits for a batch to fill.
type AuditLog struct {
	pool     *pgxpool.Pool
	queue    chan *pending
	batchMax int
	timeout  time.Duration
	ttl      time.Duration
	replica  string

	mu     sync.RWMutex
	closed bool
	wg     sync.WaitGroup

	batchSize prometheus.Histogram
	writeTime prometheus.Histogram
	failures  prometheus.Counter
}

type pending struct {
	rec  payment.AuditRecord
	done chan auditResult
	// link ties the batch's span to the span of the request that queued this record:
	// one commit serves many traces, so it is a link rather than a parent.
	link trace.Link
}

type auditResult struct {
	existing *payment.Stored
	err      error
}

// AuditOptions tune the writer.
type AuditOptions struct {
	Writers  int           // concurrent batch writers: fewer fill each commit more (docs/performance.md)
	BatchMax int           // records per statement at most
	Timeout  time.Duration // per batch
	// IdempotencyTTL is how long a key stays bound to its first request.
	IdempotencyTTL time.Duration
	// Replica names this process (its pod) in every decision and replay it records.
	Replica string
}

// Audit metric names; see validation.MetricRequests for why they are constants.
const (
	MetricAuditBatchSize = "txv_audit_batch_size"
	MetricAuditWrite     = "txv_audit_write_duration_seconds"
	MetricAuditFailures  = "txv_audit_write_failures_total"
)

// NewAuditLog starts the writers. Close stops them after the queue is drained.
func NewAuditLog(pool *pgxpool.Pool, o AuditOptions, reg prometheus.Registerer) *AuditLog {
	a := &AuditLog{
		pool:     pool,
		queue:    make(chan *pending, o.BatchMax*o.Writers*2),
		batchMax: o.BatchMax,
		timeout:  o.Timeout,
		ttl:      o.IdempotencyTTL,
		replica:  o.Replica,
		batchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricAuditBatchSize, Help: "Audit records written per statement (group commit).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		writeTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: MetricAuditWrite, Help: "Time to write and commit one batch of audit records.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: MetricAuditFailures, Help: "Audit batches that failed to commit.",
		}),
	}
	reg.MustRegister(a.batchSize, a.writeTime, a.failures)
	for i := 0; i < o.Writers; i++ {
		a.wg.Add(1)
		go a.writer()
	}
	return a
}

// ErrClosed is returned by Record after Close.
var ErrClosed = errors.New("audit log is closed")

// Record implements payment.AuditLog. It returns once the record is committed, or with
// an error if the commit failed or ctx ended first (then the record may still commit,
// and a retry with the same idempotency key will find it).
func (a *AuditLog) Record(ctx context.Context, rec payment.AuditRecord) (*payment.Stored, error) {
	p := &pending{rec: rec, done: make(chan auditResult, 1), link: trace.LinkFromContext(ctx)}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return nil, ErrClosed
	}
	select {
	case a.queue <- p:
		a.mu.RUnlock()
	case <-ctx.Done():
		a.mu.RUnlock()
		return nil, ctx.Err()
	}
	select {
	case r := <-p.done:
		return r.existing, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close stops accepting records, writes what is queued and waits for the writers.
func (a *AuditLog) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *AuditLog) writer() {
	defer a.wg.Done()
	batch := make([]*pending, 0, a.batchMax)
	for first := range a.queue {
		batch = append(batch[:0], first)
	fill:
		for len(batch) < a.batchMax {
			select {
			case p, ok := <-a.queue:
				if !ok {
					break fill
				}
				batch = append(batch, p)
			default:
				break fill
			}
		}
		a.flush(batch)
	}
}

var tracer = otel.Tracer("github.com/transaction-validator/transaction-validator/svc/internal/pgstore")

func (a *AuditLog) flush(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), a.timeout)
	defer cancel()
	links := make([]trace.Link, 0, len(batch))
	for _, p := range batch {
		if p.link.SpanContext.IsValid() {
			links = append(links, p.link)
		}
	}
	ctx, span := tracer.Start(ctx, "audit.commit", trace.WithLinks(links...), trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.Int("audit.batch_size", len(batch))))
	defer span.End()
	start := time.Now()
	results, err := a.write(ctx, batch)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "audit batch failed")
	}
	a.writeTime.Observe(time.Since(start).Seconds())
	a.batchSize.Observe(float64(len(batch)))
	if err != nil {
		a.failures.Inc()
	}
	for i, p := range batch {
		if err != nil {
			p.done <- auditResult{err: err}
		} else {
			p.done <- results[i]
		}
	}
}

// insertSQL writes a batch in one statement: the idempotency keys first (a key already
// bound within the TTL is skipped), then the audit rows of exactly the keys taken. The
// two commit together, so no decision exists without its key or the other way round.
const insertSQL = `
WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::text[],
                         $7::text[], $8::int8[], $9::text[], $10::text[], $11::timestamptz[],
                         $12::text[], $13::text[], $14::timestamptz[], $16::bool[])
        AS t(request_id, merchant_id, idempotency_key, fingerprint, card_hash, card_last4,
             card_brand, amount_minor, currency, country, txn_time, decision, reasons, decided_at, test)
), claimed AS (
    INSERT INTO idempotency_keys AS k (merchant_id, idempotency_key, request_id, fingerprint, created_at)
    SELECT merchant_id, idempotency_key, request_id::uuid, fingerprint, decided_at FROM input
    ON CONFLICT (merchant_id, idempotency_key) DO UPDATE
        SET request_id = EXCLUDED.request_id, fingerprint = EXCLUDED.fingerprint, created_at = EXCLUDED.created_at
        WHERE k.created_at < EXCLUDED.created_at - make_interval(secs => $15::float8)
    RETURNING k.request_id
)
INSERT INTO audit_decisions (request_id, merchant_id, idempotency_key, fingerprint, card_hash, card_last4,
                             card_brand, amount_minor, currency, country, txn_time, decision, reasons, decided_at, test, replica)
SELECT i.request_id::uuid, i.merchant_id, i.idempotency_key, i.fingerprint, i.card_hash, i.card_last4,
       i.card_brand, i.amount_minor, i.currency, i.country, i.txn_time, i.decision,
       string_to_array(i.reasons, ','), i.decided_at, i.test, $17::text
FROM input i JOIN claimed c ON c.request_id = i.request_id::uuid
RETURNING request_id::text`

// lookupSQL reads the decision bound to each key, for the records whose key was taken.
const lookupSQL = `
SELECT k.merchant_id, k.idempotency_key, k.fingerprint, a.request_id::text, a.decision, a.reasons, a.decided_at
FROM unnest($1::text[], $2::text[]) AS q(merchant_id, idempotency_key)
JOIN idempotency_keys k ON k.merchant_id = q.merchant_id AND k.idempotency_key = q.idempotency_key
JOIN audit_decisions a ON a.request_id = k.request_id`

func (a *AuditLog) write(ctx context.Context, batch []*pending) ([]auditResult, error) {
	n := len(batch)
	var (
		ids, merchants, keys, last4s, brands, currencies, countries, decisions, reasons = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		fps, hashes                                                                     = make([][]byte, 0, n), make([][]byte, 0, n)
		amounts                                                                         = make([]int64, 0, n)
		txnTimes                                                                        = make([]time.Time, 0, n)
		decidedAts                                                                      = make([]time.Time, 0, n)
		tests                                                                           = make([]bool, 0, n)
	)
	// A batch may hold two requests with one key (only if Redis lost a claim); ON
	// CONFLICT cannot touch a row twice in one statement, so the second waits for lookup.
	first := make(map[[2]string]bool, n)
	for _, p := range batch {
		r := p.rec
		k := [2]string{r.MerchantID, r.IdempotencyKey}
		if first[k] {
			continue
		}
		first[k] = true
		rs := make([]string, len(r.Reasons))
		for i, x := range r.Reasons {
			rs[i] = string(x)
		}
		ids, merchants, keys = append(ids, r.RequestID), append(merchants, r.MerchantID), append(keys, r.IdempotencyKey)
		fps, hashes = append(fps, r.Fingerprint), append(hashes, r.CardHash)
		last4s, brands = append(last4s, r.CardLast4), append(brands, r.CardBrand)
		amounts, currencies, countries = append(amounts, r.AmountMinor), append(currencies, r.Currency), append(countries, r.Country)
		txnTimes, decisions = append(txnTimes, r.TxnTime), append(decisions, string(r.Decision))
		reasons, decidedAts = append(reasons, strings.Join(rs, ",")), append(decidedAts, r.DecidedAt)
		tests = append(tests, r.Test)
	}
	rows, err := a.pool.Query(ctx, insertSQL, ids, merchants, keys, fps, hashes, last4s, brands, amounts,
		currencies, countries, txnTimes, decisions, reasons, decidedAts, a.ttl.Seconds(), tests, a.replica)
	if err != nil {
		return nil, fmt.Errorf("audit insert: %w", err)
	}
	inserted := make(map[string]bool, n)
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("audit insert: %w", err)
		}
		inserted[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit insert: %w", err)
	}

	results := make([]auditResult, n)
	var lm, lk []string
	for _, p := range batch {
		if !inserted[p.rec.RequestID] {
			lm, lk = append(lm, p.rec.MerchantID), append(lk, p.rec.IdempotencyKey)
		}
	}
	if len(lm) == 0 {
		return results, nil
	}
	existing, err := a.lookup(ctx, lm, lk)
	if err != nil {
		return nil, err
	}
	for i, p := range batch {
		if inserted[p.rec.RequestID] {
			continue
		}
		st, ok := existing[[2]string{p.rec.MerchantID, p.rec.IdempotencyKey}]
		if !ok {
			results[i] = auditResult{err: errors.New("audit: key taken but its decision not found")}
			continue
		}
		results[i] = auditResult{existing: st}
	}
	return results, nil
}

// Lookup implements payment.AuditLog. It reads the pool directly, not through the
// writers: it serves only duplicates, which are rare.
func (a *AuditLog) Lookup(ctx context.Context, merchantID, key string, at time.Time) (*payment.Stored, error) {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	found, err := a.lookup(ctx, []string{merchantID}, []string{key})
	if err != nil {
		return nil, err
	}
	st := found[[2]string{merchantID, key}]
	// The same rule as insertSQL's: a key is free again once it is older than the TTL.
	if st == nil || st.Result.DecidedAt.Before(at.Add(-a.ttl)) {
		return nil, nil
	}
	return st, nil
}

func (a *AuditLog) lookup(ctx context.Context, merchants, keys []string) (map[[2]string]*payment.Stored, error) {
	rows, err := a.pool.Query(ctx, lookupSQL, merchants, keys)
	if err != nil {
		return nil, fmt.Errorf("audit lookup: %w", err)
	}
	defer rows.Close()
	out := make(map[[2]string]*payment.Stored, len(keys))
	for rows.Next() {
		var m, k, id, decision string
		var fp []byte
		var reasons []string
		var at time.Time
		if err := rows.Scan(&m, &k, &fp, &id, &decision, &reasons, &at); err != nil {
			return nil, fmt.Errorf("audit lookup: %w", err)
		}
		rs := make([]payment.Reason, len(reasons))
		for i, r := range reasons {
			rs[i] = payment.Reason(r)
		}
		out[[2]string{m, k}] = &payment.Stored{Fingerprint: fp, Result: payment.Result{
			RequestID: id, Decision: payment.Decision(decision), Reasons: rs, DecidedAt: at.UTC(),
		}}
	}
	return out, rows.Err()
}

// RecordReplay notes that this replica answered a request with the stored decision
// requestID (an idempotent replay), for the operator console's detail view. Replays are
// rare, so it writes directly rather than through the batch writers.
func (a *AuditLog) RecordReplay(ctx context.Context, requestID string, at time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	if _, err := a.pool.Exec(ctx, `INSERT INTO audit_replays (request_id, replayed_at, replica) VALUES ($1::uuid, $2, $3)`,
		requestID, at, a.replica); err != nil {
		return fmt.Errorf("audit replay: %w", err)
	}
	return nil
}

// PurgeIdempotencyKeys deletes keys older than ttl in chunks, so one run never holds
// long locks, and returns how many it deleted. An advisory lock keeps replicas from
// doing the same work at the same time.
func PurgeIdempotencyKeys(ctx context.Context, pool *pgxpool.Pool, ttl time.Duration) (int64, error) {
	var total int64
	for {
		tag, err := pool.Exec(ctx, `
WITH doomed AS (
    SELECT merchant_id, idempotency_key FROM idempotency_keys
    WHERE created_at < now() - make_interval(secs => $1::float8) AND pg_try_advisory_xact_lock($2)
    LIMIT 5000
)
DELETE FROM idempotency_keys k USING doomed d
WHERE k.merchant_id = d.merchant_id AND k.idempotency_key = d.idempotency_key`, ttl.Seconds(), int64(migrationLockID+1))
		if err != nil {
			return total, fmt.Errorf("purge idempotency keys: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 5000 {
			return total, nil
		}
	}
}
