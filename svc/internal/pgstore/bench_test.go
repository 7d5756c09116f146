package pgstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
)

// BenchmarkAuditRecord measures Record from many goroutines (as under HTTP load), on a
// durable server (fsync and synchronous_commit on, as production), so that group commit
// is what is measured. Report: ns/op is per decision.
func BenchmarkAuditRecord(b *testing.B) {
	ctx := context.Background()
	srv, err := devserver.StartPostgres(ctx, devserver.PostgresOptions{Durable: true})
	if err != nil {
		b.Skip(err)
	}
	defer srv.Close()
	url, _ := srv.CreateDatabase(ctx, "bench")
	pool, err := pgstore.NewPool(ctx, url, pgstore.PoolOptions{MaxConns: 24})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	for _, writers := range []int{1, 4, 8, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			log := pgstore.NewAuditLog(pool, pgstore.AuditOptions{Writers: writers, BatchMax: 256, Timeout: 10 * time.Second, IdempotencyTTL: 24 * time.Hour}, prometheus.NewRegistry())
			defer log.Close()
			var seq atomic.Int64
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := int(seq.Add(1)) + writers*10_000_000
					if _, err := log.Record(ctx, record(n, fmt.Sprintf("b%d", n), time.Now().UTC())); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
