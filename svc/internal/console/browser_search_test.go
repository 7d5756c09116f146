package console_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
)

// browser starts headless Chromium for one test; it is closed when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	profile, err := os.MkdirTemp("", "txv-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(profile),
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx)
		cancelTimeout()
		cancel()
		cancelAlloc()
		os.RemoveAll(profile)
	})
	return ctx
}

func screenshot(t *testing.T, name string, png []byte) {
	t.Helper()
	dir := os.Getenv("TXV_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
}

func poll(expr string) chromedp.Action {
	return chromedp.Poll(expr, nil, chromedp.WithPollingTimeout(20*time.Second))
}

// TestInvestigationInARealBrowser: a viewer searches, pages and opens a decision's
// detail by keyboard; a bad field is named and marked; at 390 px the page fits the
// screen; and with the audit database stopped the page says so instead of showing
// zeros. Screenshots at 1280 and 390 px.
func TestInvestigationInARealBrowser(t *testing.T) {
	pg := startPostgres(t)
	sc := startSearchConsoleOn(t, pg, 3000)
	// m_7's decisions were made by one replica and each replayed twice (migration 00006).
	for _, q := range []string{
		`UPDATE audit_decisions SET replica = 'transaction-validator-5c9d7-x2k4q' WHERE merchant_id = 'm_7'`,
		`INSERT INTO audit_replays SELECT request_id, decided_at + make_interval(secs => n), 'transaction-validator-5c9d7-q8w7e'
		 FROM audit_decisions, generate_series(1, 2) AS n WHERE merchant_id = 'm_7'`,
	} {
		if _, err := sc.admin.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	ctx := browser(t)
	var status, detail, amount, errText, invalid, counts, recentErr, searchErr string
	var wide, narrow, down []byte
	var overflow, chartsDrawn bool
	var debugWide, chartAlt string
	var chartRows int
	var staleRows int
	err := chromedp.Run(ctx,
		network.Enable(),
		network.SetExtraHTTPHeaders(network.Headers{albauth.Header: sc.viewer}),
		chromedp.Navigate(sc.url+"/console/"),
		chromedp.WaitVisible(`#search-form`, chromedp.ByQuery),
		// The charts: both SVGs loaded and drawn, their numbers in the tables.
		poll(`document.querySelectorAll("#chart-decisions-table tr").length > 0 && document.getElementById("chart-reasons").complete`),
		poll(`document.getElementById("chart-decisions").complete && document.getElementById("chart-decisions").naturalWidth > 0`),
		chromedp.Evaluate(`document.getElementById("chart-decisions").naturalWidth === 640 && document.getElementById("chart-reasons").naturalWidth === 640`, &chartsDrawn),
		chromedp.Evaluate(`document.getElementById("chart-reasons").alt`, &chartAlt),
		chromedp.Evaluate(`document.querySelectorAll("#chart-reasons-table tr").length`, &chartRows),
		chromedp.SetValue(`#search-form input[name=merchant]`, "m_7", chromedp.ByQuery),
		chromedp.Click(`#search-submit`, chromedp.ByQuery),
		poll(`document.querySelectorAll("#results tr").length === 3`),
		chromedp.Text(`#results-status`, &status, chromedp.ByQuery),
		// Open the first row's detail with the keyboard: focus its button, press Enter.
		chromedp.Focus(`#results tr button`, chromedp.ByQuery),
		chromedp.KeyEvent("\r"),
		poll(`!document.getElementById("detail").hidden && document.activeElement.id === "detail"`),
		chromedp.Text(`#detail-fields`, &detail, chromedp.ByQuery),
		chromedp.Text(`#results tr td:nth-child(3)`, &amount, chromedp.ByQuery),
		chromedp.FullScreenshot(&wide, 100),
		// A field the server refuses is named, marked invalid and focused.
		chromedp.Evaluate(`document.querySelector("#search-form input[name=merchant]").value = ""`, nil),
		chromedp.SetValue(`#search-form input[name=last4]`, "12", chromedp.ByQuery),
		chromedp.Click(`#search-submit`, chromedp.ByQuery),
		poll(`!document.getElementById("search-error").hidden`),
		chromedp.Text(`#search-error`, &errText, chromedp.ByQuery),
		chromedp.Evaluate(`document.activeElement.name + "=" + document.activeElement.getAttribute("aria-invalid")`, &invalid),
		// A phone: 390 px wide, nothing wider than the screen.
		emulation.SetDeviceMetricsOverride(390, 844, 1, true),
		chromedp.Evaluate(`document.documentElement.scrollWidth > 390`, &overflow),
		chromedp.Evaluate(`document.documentElement.scrollWidth + " " + [...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > 391).slice(0, 8).map(e => e.tagName + "#" + e.id + "." + e.className + ":" + Math.round(e.getBoundingClientRect().right)).join(" ")`, &debugWide),
		chromedp.FullScreenshot(&narrow, 100),
		emulation.ClearDeviceMetricsOverride(),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !chartsDrawn || chartRows != 2 || !strings.HasPrefix(chartAlt, "Top reasons: card_expired ") {
		t.Errorf("charts: drawn %v, %d reason rows, alt %q", chartsDrawn, chartRows, chartAlt)
	}
	if !strings.Contains(status, "3 decisions shown") {
		t.Errorf("results status %q", status)
	}
	// m_7's decisions in the day: i = 2007, 1007, 7; amounts 100 + i minor units of EUR.
	if !strings.Contains(amount, "21.07") || !strings.Contains(amount, "€") {
		t.Errorf("amount %q, want €21.07 (2107 minor units)", amount)
	}
	if !strings.Contains(detail, "m_7") || !strings.Contains(detail, "Decided at") || !strings.Contains(detail, "UTC") && !strings.Contains(detail, "GMT") ||
		!strings.Contains(detail, "transaction-validator-5c9d7-x2k4q") || !strings.Contains(detail, "2, the latest at") {
		t.Errorf("detail %q", detail)
	}
	if !strings.Contains(errText, "last4") || invalid != "last4=true" {
		t.Errorf("field error %q, focused %q", errText, invalid)
	}
	if overflow {
		t.Errorf("at 390 px the page is wider than the screen: %s", debugWide)
	}

	// The audit database goes away: the page says so, and shows no zeros.
	pg.Stop()
	err = chromedp.Run(ctx,
		poll(`!document.getElementById("recent-error").hidden`),
		chromedp.Text(`#recent-error`, &recentErr, chromedp.ByQuery),
		chromedp.Text(`#counts`, &counts, chromedp.ByQuery),
		chromedp.Evaluate(`document.querySelectorAll("#recent tr").length`, &staleRows),
		chromedp.Evaluate(`document.querySelector("#search-form input[name=last4]").value = ""`, nil),
		chromedp.Click(`#search-submit`, chromedp.ByQuery),
		poll(`document.getElementById("search-error").textContent.includes("unavailable")`),
		chromedp.Text(`#search-error`, &searchErr, chromedp.ByQuery),
		chromedp.FullScreenshot(&down, 100),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(recentErr, "audit database is unavailable") || strings.Contains(counts, "0") || staleRows != 0 {
		t.Errorf("database down: message %q, counts %q, %d rows still listed", recentErr, counts, staleRows)
	}
	if r := do(t, "GET", sc.url+"/readyz", "", ""); r.StatusCode != 503 {
		t.Errorf("/readyz with the database stopped: %d, want 503", r.StatusCode)
	}
	if !strings.Contains(searchErr, "audit database is unavailable") {
		t.Errorf("search with the database down: %q", searchErr)
	}
	screenshot(t, "operator-console-search-1280.png", wide)
	screenshot(t, "operator-console-search-390.png", narrow)
	screenshot(t, "operator-console-db-down.png", down)
}
