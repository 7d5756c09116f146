package console_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/console"
	"github.com/transaction-validator/transaction-validator/svc/internal/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/devserver/devtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
)

// stack is a validator on PostgreSQL and Redis, and a console reading the audit log as
// a role with SELECT on audit_decisions only.
type stack struct {
	validatorURL string
	consoleURL   string
}

func startStack(t *testing.T) stack {
	t.Helper()
	ctx := context.Background()
	pg := devtest.Postgres(t, devserver.PostgresOptions{})
	rds := devtest.Redis(t, devserver.RedisOptions{})
	svc := devtest.StartService(t, map[string]string{"DATABASE_URL": pg.URL, "REDIS_ENDPOINT": rds.Endpoint,
		"PAN_HMAC_KEY": strings.Repeat("cd", 32), "SHUTDOWN_DRAIN_DELAY": "0s", "LOG_LEVEL": "warn"})

	conn, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`CREATE ROLE console_ro LOGIN`,
		`GRANT SELECT ON audit_decisions TO console_ro`,
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
	s := &console.Server{ValidatorURL: "http://" + svc.API, Audit: pool,
		Client: &http.Client{Timeout: 5 * time.Second}, Log: slog.New(slog.DiscardHandler), Now: time.Now}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return stack{validatorURL: "http://" + svc.API, consoleURL: srv.URL}
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
	var reasons1, reasons2, cardField, approveCount, declineCount, pageHTML string
	var storage int
	var shot []byte
	err = chromedp.Run(ctx,
		chromedp.Navigate(st.consoleURL+"/console/"),
		chromedp.WaitVisible(`#test-form`, chromedp.ByQuery),
		submit("4111 1111 1111 1111", "123", "approve"),
		chromedp.Text(`#reasons`, &reasons1, chromedp.ByQuery),
		submit("4111 1111 1111 1112", "123", "decline"),
		chromedp.Text(`#reasons`, &reasons2, chromedp.ByQuery),
		chromedp.Value(`input[name=card_number]`, &cardField, chromedp.ByQuery),
		chromedp.Poll(`document.getElementById("count-decline").textContent === "1"`, nil, chromedp.WithPollingTimeout(20*time.Second)),
		chromedp.Text(`#count-approve`, &approveCount, chromedp.ByQuery),
		chromedp.Text(`#count-decline`, &declineCount, chromedp.ByQuery),
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
	if approveCount != "1" || declineCount != "1" {
		t.Fatalf("recent counts: approve %s decline %s", approveCount, declineCount)
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
	resp, err := http.Get(st.consoleURL + "/console/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != 200 || !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
		resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v", resp.StatusCode, resp.Header)
	}
	bad, _ := http.Post(st.consoleURL+"/console/api/test-transaction", "application/json", strings.NewReader(`{"card_number":4111}`))
	if bad.StatusCode != 400 {
		t.Fatalf("bad form: %d", bad.StatusCode)
	}
	bad.Body.Close()
	// The validator's own 4xx reaches the operator.
	inv, _ := http.Post(st.consoleURL+"/console/api/test-transaction", "application/json",
		strings.NewReader(`{"merchant_id":"m","amount":0,"currency":"EUR","country":"DE","card_number":"4111111111111111","expiry_month":1,"expiry_year":2030}`))
	if inv.StatusCode != 400 {
		t.Fatalf("validator 400 not passed on: %d", inv.StatusCode)
	}
	inv.Body.Close()
	// A console whose validator is down says so.
	down := &console.Server{ValidatorURL: "http://127.0.0.1:1", Client: &http.Client{Timeout: time.Second},
		Log: slog.New(slog.DiscardHandler), Now: time.Now}
	rec := httptest.NewRecorder()
	down.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/console/api/test-transaction",
		strings.NewReader(`{"merchant_id":"m","amount":1,"currency":"EUR","country":"DE","card_number":"4111111111111111","expiry_month":1,"expiry_year":2030}`)))
	if rec.Code != http.StatusBadGateway {
		t.Fatalf("validator down: %d %s", rec.Code, rec.Body)
	}
}
