package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// The operator console's test transactions (issue 18, item 4) are decided and audited
// like real ones, but marked in the audit log, counted apart from real velocity and kept
// out of the production request metrics. Only the console-test listener marks them; the
// public API has no way to.
func TestConsoleTestTransactionsAreKeptApart(t *testing.T) {
	db, rds := freshDB(t)
	r := start(t, map[string]string{"DATABASE_URL": db, "REDIS_ENDPOINT": rds,
		"CONSOLE_TEST_ADDR": "127.0.0.1:0", "VELOCITY_CARD_PER_MINUTE": "2"})
	const pan = "4111111111111111"

	// Three test transactions on one card: the third is over the card's limit of two a
	// minute among the tests themselves, so tests are still bounded.
	var testIDs []any
	for i := range 3 {
		a := r.postTo(t, r.consoleTest, fmt.Sprintf("console-%d", i), txn(pan, 1000+i))
		if a.Status != 200 {
			t.Fatalf("test transaction %d: %d %s", i, a.Status, a.Raw)
		}
		testIDs = append(testIDs, a.Body["request_id"])
		if i == 2 && a.Body["decision"] != "decline" {
			t.Errorf("third test transaction on one card in a minute: %s, want a velocity decline", a.Raw)
		}
	}
	// The same card on the real API starts from zero: the tests did not count toward it.
	for i := range 2 {
		a := r.post(t, fmt.Sprintf("real-%d", i), txn(pan, 2000+i))
		if a.Status != 200 || a.Body["decision"] != "approve" {
			t.Fatalf("real transaction %d after three tests on its card: %d %s (tests counted toward real velocity)", i, a.Status, a.Raw)
		}
	}

	if n := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE test`); n != 3 {
		t.Errorf("%d audit rows marked test, want 3", n)
	}
	for _, id := range testIDs {
		if n := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE request_id = $1 AND test`, id); n != 1 {
			t.Errorf("test transaction %v not stored as a test", id)
		}
	}
	if n := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE NOT test`); n != 2 {
		t.Errorf("%d audit rows not marked test, want the 2 real ones", n)
	}

	// The production request metrics saw the two real requests only; the tests have
	// their own counter.
	_, metrics := r.get(t, r.metrics+"/metrics")
	for _, want := range []string{
		validation.MetricRequests + `{code="200",decision="approve"} 2`,
		validation.MetricConsoleTests + `{code="200",decision="approve"} 2`,
		validation.MetricConsoleTests + `{code="200",decision="decline"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(metrics, validation.MetricRequests+`{code="200",decision="decline"}`) {
		t.Errorf("the test decline reached %s", validation.MetricRequests)
	}
	if !strings.Contains(r.logs.String(), `"test":true`) {
		t.Error("no decision log line marked test")
	}

	// A public request cannot mark itself: the strict decoder refuses the field, and
	// nothing it could send is stored as a test.
	body := strings.Replace(txn("5555555555554444", 500), `"merchant_id"`, `"test":true,"merchant_id"`, 1)
	if a := r.post(t, "real-marked", body); a.Status != 400 {
		t.Errorf("public request with \"test\":true: %d %s, want 400", a.Status, a.Raw)
	}
	if n := countRows(t, db, `SELECT count(*) FROM audit_decisions WHERE test`); n != 3 {
		t.Errorf("%d audit rows marked test after a public attempt to mark one, want 3", n)
	}
}

// Without CONSOLE_TEST_ADDR there is no console-test listener at all.
func TestConsoleTestListenerIsOffByDefault(t *testing.T) {
	r := start(t, nil)
	if r.consoleTest != "" || r.app.ConsoleTestHandler() != nil {
		t.Fatal("console-test handler exists without CONSOLE_TEST_ADDR")
	}
	if err := r.app.ServeConsoleTests(nil); err == nil {
		t.Fatal("ServeConsoleTests without CONSOLE_TEST_ADDR: no error")
	}
}
