package console_test

import (
	"bytes"
	json_ "encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth/albauthtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/console"
)

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fakeConsole is a console in front of a stand-in validator that approves everything:
// enough for the checks that happen before the validator or the database is asked.
type fakeConsole struct {
	url string
	ops *operators
	log *lockedBuffer
	reg *prometheus.Registry
}

const testForm = `{"merchant_id":"m","amount":1,"currency":"EUR","country":"DE","card_number":"4111111111111111","expiry_month":1,"expiry_year":2030,"cvv":"123"}`

func startFakeConsole(t *testing.T) fakeConsole {
	t.Helper()
	validator := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"decision":"approve","reasons":[],"request_id":"req-1"}`))
	}))
	t.Cleanup(validator.Close)
	ops := newOperators(t)
	buf := &lockedBuffer{}
	reg := prometheus.NewRegistry()
	s := &console.Server{ValidatorURL: validator.URL, Client: validator.Client(), Now: time.Now, Auth: ops.auth,
		Log: slog.New(slog.NewJSONHandler(buf, nil)), Metrics: console.NewMetrics(reg)}
	srv := httptest.NewUnstartedServer(nil)
	s.Origin = "http://" + srv.Listener.Addr().String()
	srv.Config.Handler = s.Handler()
	srv.Start()
	t.Cleanup(srv.Close)
	return fakeConsole{url: srv.URL, ops: ops, log: buf, reg: reg}
}

// Nothing but the probes answers without a valid identity from the ALB.
func TestEveryRouteNeedsAnOperator(t *testing.T) {
	fc := startFakeConsole(t)
	expired := fc.ops.header(t, "op-late", -5*time.Minute, albauthtest.TesterGroup)
	foreignKey := albauthtest.NewKeyService(t).NewKey(t, fc.ops.key.ID)
	forged := albauthtest.Sign(t, foreignKey, albauthtest.ALB, albauthtest.Claims("op-forger", "", albauthtest.TesterGroup))
	for _, route := range []struct{ method, path, body string }{
		{"GET", "/console/", ""},
		{"GET", "/console/static/app.js", ""},
		{"GET", "/console/api/recent", ""},
		{"GET", "/console/api/decisions?merchant=m_1", ""},
		{"GET", "/console/api/decisions/00000000-0000-7000-8000-000000000001", ""},
		{"POST", "/console/api/test-transaction", testForm},
		{"GET", "/console/api/stats", ""},
		{"GET", "/console/charts/decisions.svg", ""},
		{"GET", "/console/charts/reasons.svg", ""},
		{"GET", "/console/nowhere", ""},
	} {
		for name, id := range map[string]string{"none": "", "malformed": "a.b.c", "expired": expired, "forged": forged} {
			t.Run(route.method+" "+route.path+" "+name, func(t *testing.T) {
				resp := do(t, route.method, fc.url+route.path, id, route.body, "Content-Type", "application/json", "Origin", fc.url)
				var b bytes.Buffer
				_, _ = b.ReadFrom(resp.Body)
				if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(b.String(), `"unauthenticated"`) ||
					resp.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("%d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), b.String())
				}
			})
		}
	}
	if r := do(t, "GET", fc.url+"/livez", "", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("/livez needs no identity (the kubelet has none): %d", r.StatusCode)
	}
}

func TestRoles(t *testing.T) {
	fc := startFakeConsole(t)
	viewer := fc.ops.header(t, "op-viewer", time.Minute, albauthtest.ViewerGroup)
	tester := fc.ops.tester(t)
	stranger := fc.ops.header(t, "op-sales", time.Minute, "sales")
	post := func(id string) int {
		return do(t, "POST", fc.url+"/console/api/test-transaction", id, testForm,
			"Content-Type", "application/json", "Origin", fc.url).StatusCode
	}
	if code := do(t, "GET", fc.url+"/console/", viewer, "").StatusCode; code != http.StatusOK {
		t.Fatalf("viewer reads the page: %d", code)
	}
	if code := post(viewer); code != http.StatusForbidden {
		t.Fatalf("viewer submits a test transaction: %d, want 403", code)
	}
	if code := post(tester); code != http.StatusOK {
		t.Fatalf("tester submits a test transaction: %d, want 200", code)
	}
	if code := do(t, "GET", fc.url+"/console/", stranger, "").StatusCode; code != http.StatusForbidden {
		t.Fatalf("an IdP user in neither group reads the page: %d, want 403", code)
	}
}

// The server refuses to be built without a verifier: there is no unauthenticated mode.
func TestHandlerNeedsAuth(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Handler built without Auth")
		}
	}()
	(&console.Server{}).Handler()
}

// A page on another site cannot make an operator's browser submit a test transaction:
// the ALB's cookie would authenticate it, so the console checks where it comes from.
func TestCrossSiteRequestsRefused(t *testing.T) {
	fc := startFakeConsole(t)
	tester := fc.ops.tester(t)
	for _, c := range []struct {
		name string
		hdr  []string
		want int
	}{
		{"same origin", []string{"Content-Type", "application/json", "Origin", fc.url}, 200},
		{"same origin, charset", []string{"Content-Type", "application/json; charset=utf-8", "Origin", fc.url}, 200},
		{"no Origin, Sec-Fetch-Site same-origin", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-origin"}, 200},
		{"foreign Origin", []string{"Content-Type", "application/json", "Origin", "https://evil.example"}, 403},
		{"foreign Origin, same-origin claimed", []string{"Content-Type", "application/json", "Origin", "https://evil.example", "Sec-Fetch-Site", "same-origin"}, 403},
		{"null Origin", []string{"Content-Type", "application/json", "Origin", "null"}, 403},
		{"no Origin, cross-site", []string{"Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"}, 403},
		{"no Origin at all", []string{"Content-Type", "application/json"}, 403},
		{"text/plain from a foreign page", []string{"Content-Type", "text/plain", "Origin", "https://evil.example"}, 415},
		{"text/plain, same origin", []string{"Content-Type", "text/plain", "Origin", fc.url}, 415},
		{"form post", []string{"Content-Type", "application/x-www-form-urlencoded", "Origin", fc.url}, 415},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp := do(t, "POST", fc.url+"/console/api/test-transaction", tester, testForm, c.hdr...)
			if resp.StatusCode != c.want {
				t.Fatalf("%d, want %d", resp.StatusCode, c.want)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	fc := startFakeConsole(t)
	for _, p := range []string{"/console/", "/livez"} {
		resp := do(t, "GET", fc.url+p, fc.ops.tester(t), "")
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
			t.Errorf("%s: Strict-Transport-Security %q", p, got)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", p, csp)
		}
	}
}

// Every action leaves one line naming the operator, and a card number submitted in a
// test transaction appears nowhere in the log.
func TestOperatorAudit(t *testing.T) {
	fc := startFakeConsole(t)
	tester := fc.ops.tester(t)
	viewer := fc.ops.header(t, "op-viewer", time.Minute, albauthtest.ViewerGroup)
	json := []string{"Content-Type", "application/json", "Origin", fc.url}
	do(t, "GET", fc.url+"/console/", tester, "")
	do(t, "GET", fc.url+"/console/static/app.js", tester, "")
	if r := do(t, "POST", fc.url+"/console/api/test-transaction", tester, testForm, json...); r.StatusCode != 200 {
		t.Fatalf("test transaction: %d", r.StatusCode)
	}
	do(t, "POST", fc.url+"/console/api/test-transaction", viewer, testForm, json...)
	do(t, "POST", fc.url+"/console/api/test-transaction", tester, testForm, "Content-Type", "application/json", "Origin", "https://evil.example")

	type line struct {
		Msg, Subject, Email, Role, Action, Outcome string
		Groups                                     []string
		Status                                     int
	}
	var got []line
	for _, raw := range strings.Split(strings.TrimSpace(fc.log.String()), "\n") {
		var l line
		if err := json_.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("not a JSON log line: %q", raw)
		}
		if l.Msg == "operator action" {
			got = append(got, l)
		}
	}
	want := []line{
		{Subject: "op-tester", Email: "op-tester@example.com", Role: "tester", Action: "page_view", Outcome: "ok", Groups: []string{albauthtest.TesterGroup}, Status: 200},
		{Subject: "op-tester", Email: "op-tester@example.com", Role: "tester", Action: "test_transaction", Outcome: "ok", Groups: []string{albauthtest.TesterGroup}, Status: 200},
		{Subject: "op-viewer", Email: "op-viewer@example.com", Role: "viewer", Action: "test_transaction", Outcome: "denied", Groups: []string{albauthtest.ViewerGroup}, Status: 403},
		{Subject: "op-tester", Email: "op-tester@example.com", Role: "tester", Action: "test_transaction", Outcome: "denied", Groups: []string{albauthtest.TesterGroup}, Status: 403},
	}
	if len(got) != len(want) {
		t.Fatalf("%d operator action lines, want %d (one per action, none for static files):\n%s", len(got), len(want), fc.log)
	}
	for i := range want {
		want[i].Msg = "operator action"
		if fmt.Sprint(got[i]) != fmt.Sprint(want[i]) {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, secret := range []string{"4111111111111111", "4111 1111", "\"123\"", "cvv", "card_number"} {
		if strings.Contains(fc.log.String(), secret) {
			t.Errorf("the log contains %s:\n%s", secret, fc.log)
		}
	}
}
