package restoredrill_test

import (
	"context"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/restoredrill"
)

// TestRestoreDrill loses a PostgreSQL that is recording decisions and restores it twice,
// bounded to two minutes. It fails when a restore lacks a decision acknowledged before its
// recovery point, holds one recorded after its target, or when the loss cost more than
// the archive interval allows.
func TestRestoreDrill(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	o := restoredrill.Options{Load: 4 * time.Second, Clients: 4, ArchiveTimeout: time.Second}
	rep, err := restoredrill.Run(ctx, o)
	devtest.Check(t, err)
	t.Logf("acknowledged %d (%d approved); RPO %v (%d lost); RTO %v (latest), %v (target); rows %d / %d",
		rep.Acknowledged, rep.Approved, rep.RPO, rep.Latest.LostAcknowledged,
		rep.Latest.RTO, rep.Target.RTO, rep.Latest.Rows, rep.Target.Rows)
	if err := rep.Err(); err != nil {
		t.Fatal(err)
	}
	// The archive ships at least every ArchiveTimeout: a loss costs at most that much
	// plus one segment switch in progress. A far larger RPO means the restore did not
	// replay the archive (only the base backup).
	if limit := 3 * o.ArchiveTimeout; rep.RPO > limit || rep.RPO < 0 {
		t.Errorf("RPO %v, want between 0 and %v", rep.RPO, limit)
	}
	// The target restore must hold what came before the target and nothing after.
	if rep.Target.Rows >= rep.Latest.Rows {
		t.Errorf("target restore holds %d rows, the latest %d: the target was not applied", rep.Target.Rows, rep.Latest.Rows)
	}
	if rep.Target.RecoveryPoint.After(rep.Target.Target) {
		t.Errorf("target restore replayed up to %v, after its target %v", rep.Target.RecoveryPoint, rep.Target.Target)
	}
}
