package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/albauth/albauthtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/console"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// stack is a validator on PostgreSQL and Redis, and a console reading the audit log as
// a role with SELECT on audit_decisions only.
type stack struct {
	validatorURL string
	consoleURL   string
	ops          *operators
}

// operators plays the ALB in front of the console: a key service and the key it signs
// operators' identity headers with.
type operators struct {
	keys *albauthtest.KeyService
	key  albauthtest.Key
	auth *albauth.Verifier
}

func newOperators(t testing.TB) *operators {
	t.Helper()
	ks := albauthtest.NewKeyService(t)
	o := &operators{keys: ks, key: ks.NewKey(t, "0b9b3f3e-5d1c-4c55-9d4e-1f2a3b4c5d6e")}
	var err error
	if o.auth, err = albauth.New(albauthtest.Config(ks)); err != nil {
		t.Fatal(err)
	}
	return o
}

// header is the identity the ALB would forward for an operator in groups, valid for ttl.
func (o *operators) header(t testing.TB, sub string, ttl time.Duration, groups ...string) string {
	c := albauthtest.Claims(sub, sub+"@example.com", groups...)
	c["exp"] = jwt.NewNumericDate(time.Now().Add(ttl)).Unix()
	return albauthtest.Sign(t, o.key, albauthtest.ALB, c)
}

func (o *operators) tester(t testing.TB) string {
	return o.header(t, "op-tester", 5*time.Minute, albauthtest.TesterGroup)
}

// do sends a request as the operator whose identity header is id ("" for none).
func do(t *testing.T, method, url, id string, body string, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		req.Header.Set(albauth.Header, id)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	// The whole exchange before the next: the server writes its audit line when the handler
	// returns, which for a page larger than its write buffer is after the client has the
	// headers. A test that went on at the headers sent its next request first, and 1 run
	// in 10 of TestOperatorAudit saw the audit lines out of order.
	read, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(read))
	return resp
}

// testReplica is the validator's pod name in these tests (POD_NAME).
const testReplica = "transaction-validator-5c9d7-x2k4q"

func startStack(t *testing.T) stack {
	t.Helper()
	ctx := context.Background()
	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	rds := devtest.Redis(t, devserver.RedisOptions{})
	svc := devtest.StartService(t, map[string]string{"DATABASE_URL": pg.URL, "REDIS_ENDPOINT": rds.Endpoint,
		"PAN_HMAC_KEY": strings.Repeat("cd", 32), "SHUTDOWN_DRAIN_DELAY": "0s", "LOG_LEVEL": "warn",
		"CONSOLE_TEST_ADDR": "127.0.0.1:0", "POD_NAME": testReplica})

	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		// The console's production grants (migrations), not a test's own.
		`CREATE ROLE console_ro LOGIN IN ROLE txv_audit_reader`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	roURL := strings.Replace(pg.URL, "postgres@", "console_ro@", 1)
	pool, err := pgstore.NewPool(ctx, roURL, pgstore.PoolOptions{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	// The role really is read-only: the console could not write even if it tried.
	if _, err := pool.Exec(ctx, `DELETE FROM audit_decisions`); err == nil {
		t.Fatal("console role can delete audit rows")
	}
	ops := newOperators(t)
	// The console sends its test transactions to the validator's console-test listener,
	// as in the cluster; real traffic goes to the public API (validatorURL).
	s := &console.Server{ValidatorURL: "http://" + svc.ConsoleTest, Audit: pool,
		Client: &http.Client{Timeout: 5 * time.Second}, Log: slog.New(slog.DiscardHandler), Now: time.Now, Auth: ops.auth}
	srv := httptest.NewUnstartedServer(nil)
	s.Origin = "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return stack{validatorURL: "http://" + svc.API, consoleURL: srv.URL, ops: ops}
}

func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM_BIN"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("TXV_REQUIRE_SERVERS") == "1" {
		t.Fatal("chromium not installed (scripts/suites/10-service.sh installs Debian's chromium)")
	}
	t.Skip("skipping: chromium not installed; run scripts/test.sh")
	return ""
}

// TestConsoleInARealBrowser submits a valid and an invalid card through the UI in
// headless Chromium, reads the decisions off the page, checks that no card data stays
// in the page or the browser's storage, and takes a screenshot.
func TestConsoleInARealBrowser(t *testing.T) {
	bin := chromium(t)
	st := startStack(t)
	// Not t.TempDir: Chromium's helpers may still be writing as the test ends, and the
	// profile is removed only after the browser has been closed below.
	profile, err := os.MkdirTemp("", "txv-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(profile)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(profile),
		// This machine's network is closed: keep Chromium from phoning home at start.
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	defer func() { _ = chromedp.Cancel(ctx) }() // closes the browser and waits for it
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	submit := func(pan, cvv, want string) chromedp.Tasks {
		return chromedp.Tasks{
			chromedp.SetValue(`input[name=card_number]`, pan, chromedp.ByQuery),
			chromedp.SetValue(`input[name=cvv]`, cvv, chromedp.ByQuery),
			chromedp.Click(`#submit`, chromedp.ByQuery),
			chromedp.Poll(fmt.Sprintf(`document.getElementById("decision").textContent === %q`, want), nil,
				chromedp.WithPollingTimeout(20*time.Second)),
		}
	}
	var reasons1, reasons2, cardField, approveCount, declineCount, testCount, pageHTML string
	var testBadges int
	var storage int
	var shot []byte
	// The ALB adds the operator's signed identity to every request it forwards.
	identity := st.ops.tester(t)
	err = chromedp.Run(ctx,
		network.Enable(),
		network.SetExtraHTTPHeaders(network.Headers{albauth.Header: identity}),
		chromedp.Navigate(st.consoleURL+"/console/"),
		chromedp.WaitVisible(`#test-form`, chromedp.ByQuery),
		submit("4111 1111 1111 1111", "123", "approve"),
		chromedp.Text(`#reasons`, &reasons1, chromedp.ByQuery),
		submit("4111 1111 1111 1112", "123", "decline"),
		chromedp.Text(`#reasons`, &reasons2, chromedp.ByQuery),
		chromedp.Value(`input[name=card_number]`, &cardField, chromedp.ByQuery),
		// Real traffic, on the public API: the only decision the counts may show.
		chromedp.ActionFunc(func(context.Context) error { return postReal(st.validatorURL, "4111111111111111") }),
		chromedp.Poll(`document.getElementById("count-approve").textContent === "1" && document.getElementById("count-test").textContent === "2"`,
			nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text(`#count-approve`, &approveCount, chromedp.ByQuery),
		chromedp.Text(`#count-decline`, &declineCount, chromedp.ByQuery),
		chromedp.Text(`#count-test`, &testCount, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#recent .badge-test").length`, &testBadges),
		chromedp.Evaluate(`localStorage.length + sessionStorage.length`, &storage),
		chromedp.OuterHTML(`html`, &pageHTML, chromedp.ByQuery),
		chromedp.FullScreenshot(&shot, 100), // 100 = PNG
	)
	if err != nil {
		t.Fatal(err)
	}
	if reasons1 != "none" || !strings.Contains(reasons2, "card_number_invalid") {
		t.Fatalf("reasons on the page: %q then %q", reasons1, reasons2)
	}
	// The two transactions sent from the console are tests: listed and marked, but not
	// counted as traffic; the one real approval is.
	if approveCount != "1" || declineCount != "0" || testCount != "2" || testBadges != 2 {
		t.Fatalf("recent counts: approve %s decline %s test %s; rows marked test: %d", approveCount, declineCount, testCount, testBadges)
	}
	if cardField != "" || storage != 0 {
		t.Fatalf("card data kept in the browser: field %q, storage entries %d", cardField, storage)
	}
	for _, pan := range []string{"4111111111111111", "4111 1111 1111 1111", "4111111111111112", "4111 1111 1111 1112"} {
		if strings.Contains(pageHTML, pan) {
			t.Fatal("a card number is still in the page")
		}
	}
	if !strings.Contains(pageHTML, "••1111") {
		t.Fatal("recent decisions do not show the last four digits")
	}
	dir := os.Getenv("TXV_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "operator-console.png")
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(shot))
}

func TestConsoleAPI(t *testing.T) {
	st := startStack(t)
	id := st.ops.tester(t)
	resp := do(t, "GET", st.consoleURL+"/console/", id, "")
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	json := []string{"Content-Type", "application/json", "Origin", st.consoleURL}
	if bad := do(t, "POST", st.consoleURL+"/console/api/test-transaction", id, `{"card_number":4111}`, json...); bad.StatusCode != 400 {
		t.Fatalf("bad form: %d", bad.StatusCode)
	}
	// The validator's own 4xx reaches the operator.
	inv := do(t, "POST", st.consoleURL+"/console/api/test-transaction", id,
		`{"merchant_id":"m","amount":0,"currency":"EUR","country":"DE","card_number":"4111111111111111","expiry_month":1,"expiry_year":2030}`, json...)
	if inv.StatusCode != 400 {
		t.Fatalf("validator 400 not passed on: %d", inv.StatusCode)
	}
	// Recent decisions need an identity too.
	if r := do(t, "GET", st.consoleURL+"/console/api/recent", "", ""); r.StatusCode != 401 {
		t.Fatalf("recent without identity: %d", r.StatusCode)
	}
	if r := do(t, "GET", st.consoleURL+"/console/api/recent", st.ops.header(t, "op-viewer", time.Minute, albauthtest.ViewerGroup), ""); r.StatusCode != 200 {
		t.Fatalf("recent as viewer: %d", r.StatusCode)
	}
	// A console whose validator is down says so.
	down := &console.Server{ValidatorURL: "http://127.0.0.1:1", Client: &http.Client{Timeout: time.Second},
		Log: slog.New(slog.DiscardHandler), Now: time.Now, Auth: st.ops.auth, Origin: "https://console.example.com"}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/console/api/test-transaction",
		strings.NewReader(`{"merchant_id":"m","amount":1,"currency":"EUR","country":"DE","card_number":"4111111111111111","expiry_month":1,"expiry_year":2030}`))
	req.Header.Set(albauth.Header, id)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "https://console.example.com")
	down.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("validator down: %d %s", rec.Code, rec.Body)
	}
}

// postReal sends one real transaction to the validator's public API, as a merchant would.
func postReal(validatorURL, pan string) error {
	body := fmt.Sprintf(`{"merchant_id":"m_real","amount":500,"currency":"EUR","country":"DE","timestamp":%q,
		"card":{"number":%q,"expiry_month":12,"expiry_year":2031,"cvv":"123"}}`, time.Now().UTC().Format(time.RFC3339), pan)
	req, err := http.NewRequest(http.MethodPost, validatorURL+"/api/validate", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", "real-"+pan)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("real transaction: %s", resp.Status)
	}
	return nil
}

// The detail view shows which replica decided and how often the decision was replayed:
// the real validator records both (migration 00006), the console reads them as
// txv_audit_reader.
func TestReplaysAndReplicaInTheDetail(t *testing.T) {
	st := startStack(t)
	body := fmt.Sprintf(`{"merchant_id":"m_replay","amount":700,"currency":"EUR","country":"DE","timestamp":%q,
		"card":{"number":"4111111111111111","expiry_month":12,"expiry_year":2031}}`, time.Now().UTC().Format(time.RFC3339))
	send := func() (id string, replayed bool) {
		resp := do(t, "POST", st.validatorURL+"/api/validate", "", body, "Content-Type", "application/json", "Idempotency-Key", "order-42")
		var r struct {
			RequestID string `json:"request_id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != 200 {
			t.Fatalf("validate: %d %v", resp.StatusCode, err)
		}
		return r.RequestID, resp.Header.Get("Idempotent-Replayed") == "true"
	}
	id, replayed := send()
	if replayed {
		t.Fatal("first request answered as a replay")
	}
	viewer := st.ops.header(t, "op-viewer", time.Minute, albauthtest.ViewerGroup)
	detail := func() (d console.Investigation) {
		resp := do(t, "GET", st.consoleURL+"/console/api/decisions/"+id, viewer, "")
		if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
			t.Fatalf("detail: %d %v", resp.StatusCode, err)
		}
		return d
	}
	if d := detail(); d.Replica != testReplica || d.Replays != 0 || d.LastReplayAt != nil {
		t.Fatalf("before any replay: replica %q, %d replays, last %v", d.Replica, d.Replays, d.LastReplayAt)
	}
	for range 3 {
		if again, replayed := send(); again != id || !replayed {
			t.Fatalf("retry: %s replayed=%v, want a replay of %s", again, replayed, id)
		}
	}
	// A different request under the same key is refused, not a replay.
	other := strings.Replace(body, `"amount":700`, `"amount":701`, 1)
	if r := do(t, "POST", st.validatorURL+"/api/validate", "", other, "Content-Type", "application/json", "Idempotency-Key", "order-42"); r.StatusCode != 422 {
		t.Fatalf("key reused with another request: %d, want 422", r.StatusCode)
	}
	if d := detail(); d.Replica != testReplica || d.Replays != 3 || d.LastReplayAt == nil || d.LastReplayAt.Before(d.DecidedAt) {
		t.Fatalf("after three replays: replica %q, %d replays, last %v", d.Replica, d.Replays, d.LastReplayAt)
	}
}
