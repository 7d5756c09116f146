// Package devtest starts devserver servers from tests. When the server binaries are
// missing a test is skipped with a message saying how to install them, unless
// TXV_REQUIRE_SERVERS=1 (set by scripts/test.sh and CI), where it fails instead: the
// integration suites can never be skipped silently in CI.
package devtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
)

// Check skips or fails the test for a server start-up error err (nil passes), by the
// rule in the package comment. Use it for servers started once in TestMain.
func Check(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if errors.Is(err, devserver.ErrNotInstalled) && os.Getenv("TXV_REQUIRE_SERVERS") != "1" {
		t.Skipf("skipping: %v; run scripts/test.sh, which installs PostgreSQL and Redis", err)
	}
	t.Fatal(err)
}

// Postgres starts a PostgreSQL server for the test and stops it at cleanup.
func Postgres(t testing.TB, o devserver.PostgresOptions) *devserver.Postgres {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, err := devserver.StartPostgres(ctx, o)
	Check(t, err)
	t.Cleanup(pg.Close)
	return pg
}

// Redis starts a Redis server (or cluster) for the test and stops it at cleanup.
func Redis(t testing.TB, o devserver.RedisOptions) *devserver.Redis {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := devserver.StartRedis(ctx, o)
	Check(t, err)
	t.Cleanup(r.Close)
	return r
}

// S3 starts an S3-compatible server (versitygw) for the test and stops it at cleanup.
func S3(t testing.TB) *devserver.S3 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := devserver.StartS3(ctx)
	Check(t, err)
	t.Cleanup(s.Close)
	return s
}

// LogBuffer collects log output written from many goroutines, for tests that search
// what the service logged.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
