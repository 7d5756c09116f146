package app_test

import "testing"

// TestReplayIsTheOriginalAnswer is issue 21's sixth finding: a replay from PostgreSQL
// must be the first answer, byte for byte where it matters: the same decided_at (it was
// cut to PostgreSQL's microseconds on the replay only), and an X-Request-Id header that
// names the same request as the body (it carried the new request's id).
func TestReplayIsTheOriginalAnswer(t *testing.T) {
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds})
	first := r.post(t, "replay-1", txn("4111111111111111", 100))
	if first.Status != 200 {
		t.Fatalf("%d %s", first.Status, first.Raw)
	}
	if first.Header.Get("X-Request-Id") != first.Body["request_id"] {
		t.Fatalf("first answer: header %q, body %v", first.Header.Get("X-Request-Id"), first.Body["request_id"])
	}
	// The first request's claim is still held, so the repeat reads its decision from PostgreSQL.
	again := r.post(t, "replay-1", txn("4111111111111111", 100))
	if again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("not a replay: %s", again.Raw)
	}
	if again.Body["decided_at"] != first.Body["decided_at"] || again.Body["request_id"] != first.Body["request_id"] {
		t.Fatalf("replay %s differs from the first answer %s", again.Raw, first.Raw)
	}
	if again.Header.Get("X-Request-Id") != again.Body["request_id"] {
		t.Fatalf("replay: X-Request-Id %q, body request_id %v", again.Header.Get("X-Request-Id"), again.Body["request_id"])
	}
}
