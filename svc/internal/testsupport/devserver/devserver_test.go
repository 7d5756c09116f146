package devserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/redisstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

func TestPostgresStopStart(t *testing.T) {
	ctx := context.Background()
	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	url, err := pg.CreateDatabase(ctx, "smoke")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	pg.Stop()
	if c, err := pgx.Connect(ctx, url); err == nil {
		c.Close(ctx)
		t.Fatal("connected to a stopped server")
	}
	if err := pg.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := pgx.Connect(ctx, url); err != nil {
		t.Fatalf("database lost across restart: %v", err)
	} else {
		c.Close(ctx)
	}
}

func TestRedisTLSCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := devtest.Redis(t, devserver.RedisOptions{TLS: true, ClusterNodes: 3})
	rdb, err := redisstore.NewClient(redisstore.Options{Endpoint: r.Endpoint, ClusterMode: true, CAFile: r.CAFile, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// Keys that hash to different slots must land on different nodes and still work.
	for _, k := range []string{"a", "b", "c", "d", "e", "f"} {
		if err := rdb.Set(ctx, k, k, time.Minute).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	nodes, err := rdb.ClusterNodes(ctx).Result()
	if err != nil || len(r.Addrs) != 3 {
		t.Fatalf("cluster nodes: %v %v", nodes, err)
	}
	// A client without the CA must refuse the server.
	bad, _ := redisstore.NewClient(redisstore.Options{Endpoint: r.Endpoint, ClusterMode: true, Timeout: time.Second})
	defer bad.Close()
	if err := bad.Ping(ctx).Err(); err == nil {
		t.Fatal("TLS accepted a certificate from an unknown CA")
	}
}
