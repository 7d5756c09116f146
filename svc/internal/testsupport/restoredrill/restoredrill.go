// Package restoredrill rehearses, on a local PostgreSQL, the two restores of
// docs/disaster-recovery.md that a laptop can rehearse: the database is lost while the
// validator's audit writer (pgstore.AuditLog, group commit and all) is recording
// decisions, and it is restored from the last base backup plus the WAL archive, once to
// the latest restorable point (the loss) and once to a chosen time before it (the bad
// migration). It measures what each restore costs (RTO: from the loss to a database that
// serves the schema again) and what it loses (RPO: from the loss back to the last
// transaction replayed), and checks the one promise a restore must keep: no decision
// acknowledged to a client before the recovery point is missing.
//
// What this proves and what it does not, for Aurora, is written down in
// docs/disaster-recovery.md: the procedure and the invariant, yes; Aurora's own restore
// times and the cross-region copy, no.
package restoredrill

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
)

// Options bound the drill.
type Options struct {
	// Load is how long decisions are written before the database is lost.
	Load time.Duration
	// Clients is the number of concurrent clients recording decisions.
	Clients int
	// ArchiveTimeout is PostgreSQL's archive_timeout: how often the WAL is shipped to the
	// archive at least, which bounds the RPO of a loss (Aurora ships continuously).
	ArchiveTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Load <= 0 {
		o.Load = 6 * time.Second
	}
	if o.Clients <= 0 {
		o.Clients = 4
	}
	if o.ArchiveTimeout <= 0 {
		o.ArchiveTimeout = 2 * time.Second
	}
}

// Restore is what one restore measured and found.
type Restore struct {
	// Target is the requested recovery target; zero for the latest restorable point.
	Target time.Time
	// RecoveryPoint is the commit time of the last transaction the restore replayed.
	RecoveryPoint time.Time
	// RTO runs from the loss (or the start of the restore, for a target restore) to a
	// promoted database that answers the service's queries.
	RTO time.Duration
	// Rows is the number of decisions in the restored audit log.
	Rows int
	// MissingAcknowledged counts decisions acknowledged at or before the recovery point
	// that the restore lacks: any is a failed drill.
	MissingAcknowledged int
	// MissingApproved is the part of MissingAcknowledged that was approved.
	MissingApproved int
	// LostAcknowledged counts decisions acknowledged after the recovery point, and so lost
	// by design (they are what the RPO measures).
	LostAcknowledged int
	// PresentAfterTarget counts decisions whose recording started after the target that
	// the restore nevertheless holds: any is a failed target restore.
	PresentAfterTarget int
}

// Report is the outcome of a drill.
type Report struct {
	Acknowledged int // decisions acknowledged before the loss
	Approved     int // of which approved
	LostAt       time.Time
	// RPO is LostAt minus Latest.RecoveryPoint: the span of writes the loss took.
	RPO    time.Duration
	Latest Restore // to the latest restorable point, after the loss
	Target Restore // to a time in the middle of the load
}

// Err returns an error naming every broken promise of the report, or nil.
func (r *Report) Err() error {
	var errs []error
	for _, x := range []struct {
		name string
		r    Restore
	}{{"latest restore", r.Latest}, {"target restore", r.Target}} {
		if x.r.MissingAcknowledged > 0 {
			errs = append(errs, fmt.Errorf("%s: %d decisions acknowledged before the recovery point %s are missing (%d approved)",
				x.name, x.r.MissingAcknowledged, x.r.RecoveryPoint.Format(time.RFC3339Nano), x.r.MissingApproved))
		}
		if x.r.PresentAfterTarget > 0 {
			errs = append(errs, fmt.Errorf("%s: %d decisions recorded after the target %s are present",
				x.name, x.r.PresentAfterTarget, x.r.Target.Format(time.RFC3339Nano)))
		}
	}
	if r.Acknowledged == 0 {
		errs = append(errs, errors.New("no decision was acknowledged: the drill tested nothing"))
	}
	if r.Latest.Rows == 0 || r.Target.Rows == 0 {
		errs = append(errs, fmt.Errorf("a restore holds no decision (latest %d, target %d rows)", r.Latest.Rows, r.Target.Rows))
	}
	return errors.Join(errs...)
}

// ack is one decision a client sent, with when it started and when the audit log
// acknowledged it (zero if it never was).
type ack struct {
	id       string
	approved bool
	started  time.Time
	acked    time.Time
}

// Run performs the drill and reports what it measured; the caller judges the report
// (Report.Err). ctx bounds the whole drill.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	pg, err := devserver.StartPostgres(ctx, devserver.PostgresOptions{Durable: true, ArchiveTimeout: o.ArchiveTimeout})
	if err != nil {
		return nil, err
	}
	defer pg.Close()
	dbURL, err := pg.CreateDatabase(ctx, "payments")
	if err != nil {
		return nil, err
	}
	pool, err := pgstore.NewPool(ctx, dbURL, pgstore.PoolOptions{MaxConns: int32(o.Clients + 2)})
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	// The nightly base backup: everything after it comes from the WAL archive.
	backup, err := pg.BaseBackup(ctx)
	if err != nil {
		return nil, err
	}

	audit := pgstore.NewAuditLog(pool, pgstore.AuditOptions{
		Writers: 2, BatchMax: 64, Timeout: 2 * time.Second, IdempotencyTTL: 24 * time.Hour,
	}, prometheus.NewRegistry())
	acks, target, lostAt, err := load(ctx, pg, audit, o)
	audit.Close()
	if err != nil {
		return nil, err
	}

	rep := &Report{LostAt: lostAt}
	for _, a := range acks {
		if !a.acked.IsZero() {
			rep.Acknowledged++
			if a.approved {
				rep.Approved++
			}
		}
	}
	// The loss: the restore starts at once (no detection time; see the DR doc).
	if rep.Latest, err = restore(ctx, pg, backup, time.Time{}, lostAt, acks); err != nil {
		return nil, fmt.Errorf("restore to the latest point: %w", err)
	}
	rep.RPO = lostAt.Sub(rep.Latest.RecoveryPoint)
	if rep.Target, err = restore(ctx, pg, backup, target, time.Now(), acks); err != nil {
		return nil, fmt.Errorf("restore to %s: %w", target.Format(time.RFC3339Nano), err)
	}
	return rep, nil
}

// load records decisions from o.Clients clients for o.Load, notes the target time in the
// middle, and then loses the database (Crash) while they are still writing.
func load(ctx context.Context, pg *devserver.Postgres, audit *pgstore.AuditLog, o Options) (acks []*ack, target, lostAt time.Time, err error) {
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		stop = make(chan struct{})
	)
	for c := 0; c < o.Clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				rec := record(c, i)
				a := &ack{id: rec.RequestID, approved: rec.Decision == payment.Approve, started: time.Now()}
				rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, rerr := audit.Record(rctx, rec)
				cancel()
				if rerr == nil {
					a.acked = time.Now()
				}
				mu.Lock()
				acks = append(acks, a)
				mu.Unlock()
				if rerr != nil {
					// The database is gone (or going): this client stops, as a client
					// that gets 503s would retry elsewhere.
					return
				}
			}
		}(c)
	}
	select {
	case <-time.After(o.Load / 2):
	case <-ctx.Done():
	}
	target = time.Now()
	select {
	case <-time.After(o.Load - o.Load/2):
	case <-ctx.Done():
	}
	lostAt = time.Now()
	crashErr := pg.Crash()
	close(stop)
	wg.Wait()
	if ctx.Err() != nil {
		return nil, target, lostAt, ctx.Err()
	}
	return acks, target, lostAt, crashErr
}

// record is the audit row of one synthetic decision: one in five is declined.
func record(client, i int) payment.AuditRecord {
	id := uuid.Must(uuid.NewV7()).String()
	fp := sha256.Sum256([]byte("fingerprint " + id))
	card := sha256.Sum256([]byte(fmt.Sprintf("card %d", i%50)))
	now := time.Now().UTC()
	rec := payment.AuditRecord{
		RequestID: id, MerchantID: fmt.Sprintf("merchant-%d", client), IdempotencyKey: "drill-" + id,
		Fingerprint: fp[:], CardHash: card[:], CardLast4: "4242", CardBrand: "visa",
		AmountMinor: int64(100 + i), Currency: "EUR", Country: "DE", TxnTime: now,
		Decision: payment.Approve, Reasons: []payment.Reason{}, DecidedAt: now,
	}
	if i%5 == 4 {
		rec.Decision, rec.Reasons = payment.Decline, []payment.Reason{payment.ReasonAmountAboveMax}
	}
	return rec
}

// restore restores backup plus the archive to target (zero: the latest point), waits
// until the audit log serves again, and checks it against what the clients were told.
// The RTO is measured from since.
func restore(ctx context.Context, pg *devserver.Postgres, backup string, target, since time.Time, acks []*ack) (Restore, error) {
	out := Restore{Target: target}
	r, err := pg.Restore(ctx, backup, devserver.RestoreOptions{Target: target})
	if err != nil {
		return out, err
	}
	defer r.Close()
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/payments?sslmode=disable", r.Port)
	pool, err := pgstore.NewPool(ctx, url, pgstore.PoolOptions{MaxConns: 2})
	if err != nil {
		return out, err
	}
	defer pool.Close()
	// Serving again: the schema is the service's (nothing left to migrate) and the audit
	// log answers; what the service's readiness probe and first request need.
	if applied, err := pgstore.Migrate(ctx, pool); err != nil || len(applied) > 0 {
		return out, fmt.Errorf("restored schema: migrations applied %v: %v", applied, err)
	}
	present := map[string]bool{}
	rows, err := pool.Query(ctx, "SELECT request_id::text FROM audit_decisions")
	if err != nil {
		return out, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return out, err
	}
	out.RTO = time.Since(since)
	for _, id := range ids {
		present[id] = true
	}
	out.Rows = len(ids)
	var rp *time.Time
	if err := pool.QueryRow(ctx, "SELECT pg_last_xact_replay_timestamp()").Scan(&rp); err != nil {
		return out, err
	}
	if rp == nil {
		return out, errors.New("the restore replayed no transaction (pg_last_xact_replay_timestamp is null)")
	}
	out.RecoveryPoint = *rp
	for _, a := range acks {
		switch {
		case !a.acked.IsZero() && !a.acked.After(out.RecoveryPoint) && !present[a.id]:
			out.MissingAcknowledged++
			if a.approved {
				out.MissingApproved++
			}
		case !a.acked.IsZero() && a.acked.After(out.RecoveryPoint) && !present[a.id]:
			out.LostAcknowledged++
		}
		if !target.IsZero() && a.started.After(target) && present[a.id] {
			out.PresentAfterTarget++
		}
	}
	return out, nil
}
