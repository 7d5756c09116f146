package app_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestExternalServers runs the service against a PostgreSQL and a Redis it did not start
// and cannot control: reached over a network by name, as in a cluster. The pipeline's
// test stage provides them as Dagger services (ci/test.go) and sets
// TXV_REQUIRE_EXTERNAL=1, so their absence fails there instead of skipping.
func TestExternalServers(t *testing.T) {
	dbURL, redisEndpoint := os.Getenv("TXV_EXTERNAL_DATABASE_URL"), os.Getenv("TXV_EXTERNAL_REDIS_ENDPOINT")
	if dbURL == "" || redisEndpoint == "" {
		if os.Getenv("TXV_REQUIRE_EXTERNAL") == "1" {
			t.Fatal("TXV_REQUIRE_EXTERNAL=1 but TXV_EXTERNAL_DATABASE_URL or TXV_EXTERNAL_REDIS_ENDPOINT is not set")
		}
		t.Skip("set TXV_EXTERNAL_DATABASE_URL and TXV_EXTERNAL_REDIS_ENDPOINT (the pipeline's test stage does)")
	}
	r := start(t, map[string]string{"DATABASE_URL": dbURL, "REDIS_ENDPOINT": redisEndpoint})

	// Distinct keys per run: the servers may outlive this test (a re-run on the same
	// services must not replay the previous run's answers).
	run := fmt.Sprint(time.Now().UnixNano())
	approve := r.post(t, "ext-approve-"+run, txn("4111111111111111", 1500))
	if approve.Status != 200 || approve.Body["decision"] != "approve" {
		t.Fatalf("valid card: %d %s", approve.Status, approve.Raw)
	}
	replay := r.post(t, "ext-approve-"+run, txn("4111111111111111", 1500))
	if replay.Body["idempotent_replayed"] != true || replay.Body["request_id"] != approve.Body["request_id"] {
		t.Errorf("replay through the external Redis/PostgreSQL: %s", replay.Raw)
	}
	decline := r.post(t, "ext-decline-"+run, txn("4111111111111112", 1500))
	if decline.Body["decision"] != "decline" {
		t.Errorf("bad check digit: %d %s", decline.Status, decline.Raw)
	}

	// Both decisions are in the audit table, the card number nowhere in it.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM audit_decisions
		WHERE idempotency_key IN ($1, $2) AND card_last4 IN ('1111', '1112')
		  AND position('4111111111111111' in audit_decisions::text) = 0`,
		"ext-approve-"+run, "ext-decline-"+run).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("audit rows for the two decisions: %d, want 2", n)
	}
}
