package postdeploy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/transaction-validator/transaction-validator/svc/internal/card"
	"github.com/transaction-validator/transaction-validator/svc/internal/inmem"
	"github.com/transaction-validator/transaction-validator/svc/internal/payment"
	"github.com/transaction-validator/transaction-validator/svc/internal/postdeploy"
	"github.com/transaction-validator/transaction-validator/svc/internal/validation"
)

// slowAudit commits like a database does, in a few milliseconds: the window in which a
// second request with the same key finds it claimed and undecided (409).
type slowAudit struct{ *inmem.AuditLog }

func (a slowAudit) Record(ctx context.Context, rec payment.AuditRecord) (*payment.Stored, error) {
	time.Sleep(20 * time.Millisecond)
	return a.AuditLog.Record(ctx, rec)
}

// service is the real validation service (transport, endpoint, service) on in-memory
// stores, admitting perSecond requests a second.
func service(t *testing.T, perSecond int) http.Handler {
	t.Helper()
	h, err := card.NewHasher(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := validation.NewService(validation.Deps{
		Admission: inmem.NewAdmission(10*time.Second, perSecond),
		Limits:    inmem.Limits{},
		Audit:     slowAudit{inmem.NewAuditLog(24 * time.Hour)},
		Hasher:    h,
		Logger:    log,
		Now:       time.Now,
	}, validation.DefaultRules())
	ep := validation.Timeout(5 * time.Second)(validation.MakeValidateEndpoint(svc))
	return validation.NewHTTPHandler(ep, validation.NewMetrics(prometheus.NewRegistry()), log)
}

func run(t *testing.T, h http.Handler, maxBurst int) ([]postdeploy.Result, error) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return postdeploy.Run(ctx, postdeploy.Config{BaseURL: srv.URL, MaxBurst: maxBurst, Run: t.Name()})
}

func TestChecksPassOnTheService(t *testing.T) {
	results, err := run(t, service(t, 40), 400)
	if err != nil {
		t.Fatalf("%v: %+v", err, results)
	}
}

// TestChecksPassUnderATightLimit: a service-wide limit below the 409 check's burst of
// identical requests is no reason to fail it (the rounds wait for Retry-After).
func TestChecksPassUnderATightLimit(t *testing.T) {
	results, err := run(t, service(t, 8), 400)
	if err != nil {
		t.Fatalf("%v: %+v", err, results)
	}
	if len(results) != 7 {
		t.Fatalf("%d results, want 7: %+v", len(results), results)
	}
	for _, r := range results {
		if !r.OK {
			t.Errorf("%s: %s", r.Check, r.Detail)
		}
	}
}

// rewrite wraps a handler and lets a test change its answers, as a broken version would.
type rewrite struct {
	next http.Handler
	edit func(req *http.Request, body []byte, rec *httptest.ResponseRecorder)
}

func (rw rewrite) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	rw.next.ServeHTTP(rec, req)
	rw.edit(req, body, rec)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// TestChecksCatchBrokenVersions: each way a version can break the API's promises fails
// its check, and only the checks it breaks.
func TestChecksCatchBrokenVersions(t *testing.T) {
	cases := []struct {
		name      string
		perSecond int
		edit      func(req *http.Request, body []byte, rec *httptest.ResponseRecorder)
		fails     []string
	}{
		{"echoes the card number in a header", 40, func(req *http.Request, body []byte, rec *httptest.ResponseRecorder) {
			i := bytes.Index(body, []byte(`"number":"`))
			rec.Header().Set("X-Debug-Card", string(body[i+10:i+26]))
		}, []string{"card number never echoed"}},
		{"no rate limit", 1_000_000, nil, []string{"429 with Retry-After"}},
		{"429 without Retry-After", 40, func(_ *http.Request, _ []byte, rec *httptest.ResponseRecorder) {
			if rec.Code == http.StatusTooManyRequests {
				rec.Header().Del("Retry-After")
			}
		}, []string{"429 with Retry-After"}},
		{"replays without saying so", 40, func(_ *http.Request, _ []byte, rec *httptest.ResponseRecorder) {
			rec.Header().Del("Idempotent-Replayed")
		}, []string{"idempotent replay"}},
		{"accepts a reused key", 40, func(_ *http.Request, _ []byte, rec *httptest.ResponseRecorder) {
			if rec.Code == http.StatusUnprocessableEntity {
				rec.Code = http.StatusOK
			}
		}, []string{"422 key reused with another request"}},
		{"approves expired cards", 40, func(_ *http.Request, _ []byte, rec *httptest.ResponseRecorder) {
			if strings.Contains(rec.Body.String(), "card_expired") {
				rec.Body = bytes.NewBufferString(strings.ReplaceAll(strings.ReplaceAll(rec.Body.String(), `"decline"`, `"approve"`), `"card_expired"`, ""))
			}
		}, []string{"decline with reason"}},
		{"answers a key in flight 503", 40, func(_ *http.Request, _ []byte, rec *httptest.ResponseRecorder) {
			if rec.Code == http.StatusConflict {
				rec.Code = http.StatusServiceUnavailable
			}
		}, []string{"409 key in flight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var h http.Handler = service(t, c.perSecond)
			if c.edit != nil {
				h = rewrite{h, c.edit}
			}
			results, err := run(t, h, 300)
			if !errors.Is(err, postdeploy.ErrFailed) {
				t.Fatalf("err %v, want ErrFailed: %+v", err, results)
			}
			for _, r := range results {
				want := !contains(c.fails, r.Check)
				if r.OK != want {
					t.Errorf("%s: ok=%v (%s), want ok=%v", r.Check, r.OK, r.Detail, want)
				}
				if testPAN.MatchString(r.Detail) {
					t.Errorf("%s: the detail quotes a card number: %s", r.Check, r.Detail)
				}
			}
		})
	}
}

// testPAN is a card number of the Visa test range the checks send.
var testPAN = regexp.MustCompile(`400000[0-9]{10}`)

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
