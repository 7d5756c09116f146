package app_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// One PostgreSQL and one Redis serve the package's tests; each test gets its own
// database and an emptied Redis. Tests that stop or freeze a server start their own.
var (
	sharedPG    *devserver.Postgres
	sharedRedis *devserver.Redis
	setupErr    error
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	sharedPG, setupErr = devserver.StartPostgres(ctx, devserver.PostgresOptions{})
	if setupErr == nil {
		sharedRedis, setupErr = devserver.StartRedis(ctx, devserver.RedisOptions{})
	}
	cancel()
	code := m.Run()
	if sharedPG != nil {
		sharedPG.Close()
	}
	if sharedRedis != nil {
		sharedRedis.Close()
	}
	os.Exit(code)
}

var dbCounter int

// freshDB returns a new database on the shared server and empties the shared Redis.
func freshDB(t *testing.T) (dbURL, redisURL string) {
	t.Helper()
	devtest.Check(t, setupErr)
	dbCounter++
	ctx := context.Background()
	url, err := sharedPG.CreateDatabase(ctx, fmt.Sprintf("t%d_%d", os.Getpid(), dbCounter))
	if err != nil {
		t.Fatal(err)
	}
	if err := sharedRedis.FlushAll(ctx); err != nil {
		t.Fatal(err)
	}
	return url, sharedRedis.Endpoint
}
