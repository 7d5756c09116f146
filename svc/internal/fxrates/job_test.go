package fxrates_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

const apiKey = "test-api-key-from-secrets-manager"

// secretsManager is the narrowest stand-in for AWS Secrets Manager: it speaks the real
// JSON 1.1 protocol of GetSecretValue to the real SDK, and insists on a SigV4 signature.
func secretsManager(t *testing.T, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		var in struct{ SecretId string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		if r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
			!strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") || in.SecretId != "fx/api-key" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"no such secret"}`))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(map[string]any{"ARN": "arn:aws:secretsmanager:us-east-1:000000000000:secret:fx/api-key",
			"Name": "fx/api-key", "SecretString": apiKey, "VersionId": "v1"})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// source serves the recorded ECB document for the date held in *date, or garbage when
// *date is "garbage"; if requireKey, only to a caller presenting the API key. It keeps
// the Authorization header of the last request in *auth.
func source(t *testing.T, date, auth *atomic.Value, requireKey bool) *httptest.Server {
	raw, err := os.ReadFile("testdata/eurofxref-daily.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth.Store(r.Header.Get("Authorization"))
		if requireKey && r.Header.Get("Authorization") != "Bearer "+apiKey {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		d := date.Load().(string)
		if d == "garbage" {
			_, _ = w.Write([]byte("<html>maintenance</html>"))
			return
		}
		_, _ = w.Write([]byte(strings.Replace(string(raw), "time='DATE'", "time='"+d+"'", 1)))
	}))
	t.Cleanup(srv.Close)
	return srv
}

type emfLine struct {
	Msg            string `json:"msg"`
	Outcome        string
	RunSucceeded   int
	RatesPublished int
	RatesStale     int
	ExitCode       int `json:"exit_code"`
	AWS            struct {
		CloudWatchMetrics []struct{ Namespace string } `json:"CloudWatchMetrics"`
	} `json:"_aws"`
}

func lastEMF(t *testing.T, logs *devtest.LogBuffer) emfLine {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var e emfLine
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &e); err != nil || len(e.AWS.CloudWatchMetrics) != 1 ||
		e.AWS.CloudWatchMetrics[0].Namespace != fxrates.MetricNamespace {
		t.Fatalf("last log line is not an EMF record: %s (%v)", lines[len(lines)-1], err)
	}
	return e
}

// harness is a job wired to versitygw, the Secrets Manager stand-in and a source serving
// the date held in date, on a clock that Wait moves forward instead of sleeping.
type harness struct {
	job   *fxrates.Job
	s3c   *s3.Client
	logs  *devtest.LogBuffer
	date  *atomic.Value
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
	// onWait, if set, is called with the number of waits so far, before Wait returns.
	onWait func(n int)
	// secretReads counts calls to Secrets Manager; auth is the source's last
	// Authorization header.
	secretReads atomic.Int32
	auth        atomic.Value
}

// newHarness: the source requires the API key, and the job is configured to send it
// (FX_SOURCE_AUTH=bearer), unless sourceAuth says otherwise ("" leaves the default).
func newHarness(t *testing.T, now time.Time, sourceAuth ...string) *harness {
	t.Helper()
	store := devtest.S3(t)
	h := &harness{date: &atomic.Value{}, now: now, logs: &devtest.LogBuffer{}}
	sm := secretsManager(t, &h.secretReads)
	h.date.Store(now.Format(time.DateOnly))
	auth := fxrates.AuthBearer
	if len(sourceAuth) > 0 {
		auth = sourceAuth[0]
	}
	src := source(t, h.date, &h.auth, auth == fxrates.AuthBearer)

	t.Setenv("AWS_ACCESS_KEY_ID", store.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", store.SecretKey)
	t.Setenv("AWS_REGION", store.Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env := map[string]string{"FX_SOURCE_URL": src.URL, "FX_API_KEY_SECRET_ID": "fx/api-key", "S3_BUCKET": "fx-data",
		"S3_ENDPOINT": store.Endpoint, "S3_FORCE_PATH_STYLE": "true", "SECRETSMANAGER_ENDPOINT": sm.URL,
		"FX_SOURCE_AUTH": auth}
	cfg, err := fxrates.ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s3c, smc, err := fxrates.Clients(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fx-data")}); err != nil {
		t.Fatal(err)
	}
	h.s3c = s3c
	h.job = &fxrates.Job{Config: cfg, S3: s3c, Secrets: smc, Log: slog.New(slog.NewJSONHandler(h.logs, nil)),
		Now: h.clock, Wait: h.wait}
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) wait(ctx context.Context, d time.Duration) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
	h.waits = append(h.waits, d)
	if h.onWait != nil {
		h.onWait(len(h.waits))
	}
	return ctx.Err()
}

func (h *harness) objects(t *testing.T) int {
	t.Helper()
	objs, err := h.s3c.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("fx-data")})
	if err != nil {
		t.Fatal(err)
	}
	return len(objs.Contents)
}

func TestJobAgainstS3(t *testing.T) {
	// Monday 23 November 2026, 18:00 in Frankfurt: that day's rates are due.
	now := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	today := now.Format(time.DateOnly)
	h := newHarness(t, now)
	job, s3c, logs, date, ctx := h.job, h.s3c, h.logs, h.date, context.Background()
	job.Config.LateWait = 0 // a stale answer ends the run at once (TestLatePublication polls)

	res, err := job.Run(ctx)
	if err != nil || !res.Written || res.Rates != 29 || res.Key != "fx-rates/date="+today+"/eurofxref.json" {
		t.Fatalf("first run: %+v %v", res, err)
	}
	if e := lastEMF(t, logs); e.Outcome != "written" || e.RunSucceeded != 1 || e.RatesPublished != 29 {
		t.Fatalf("EMF: %+v", e)
	}

	st := &fxrates.Store{S3: s3c, Bucket: "fx-data", Prefix: "fx-rates/"}
	r, out, err := st.Verify(ctx, today)
	if err != nil || r.Rates["USD"] != "1.0523" || out.SHA256 != res.SHA256 {
		t.Fatalf("verify: %+v %+v %v", r, out, err)
	}

	// A re-run with the same source data writes nothing.
	again, err := job.Run(ctx)
	if err != nil || again.Written || again.SHA256 != res.SHA256 {
		t.Fatalf("re-run: %+v %v", again, err)
	}
	if e := lastEMF(t, logs); e.Outcome != "unchanged" {
		t.Fatalf("EMF outcome %q", e.Outcome)
	}

	// Bad data from the source: a clear failure, nothing written.
	date.Store("garbage")
	_, err = job.Run(ctx)
	var de *fxrates.DataError
	if !errors.As(err, &de) {
		t.Fatalf("garbage accepted: %v", err)
	}
	if e := lastEMF(t, logs); e.Outcome != "rejected" || e.RunSucceeded != 0 {
		t.Fatalf("EMF after rejection: %+v", e)
	}
	if n := h.objects(t); n != 1 {
		t.Fatalf("%d objects after a rejected run", n)
	}

	// Last business day's rates when today's are due: stale, nothing written.
	date.Store("2026-11-20")
	_, err = job.Run(ctx)
	var se *fxrates.StaleError
	if !errors.As(err, &se) || se.Due != today {
		t.Fatalf("stale rates accepted: %v", err)
	}
	if n := h.objects(t); n != 1 {
		t.Fatalf("%d objects after a stale run", n)
	}
	if e := lastEMF(t, logs); e.Outcome != "stale" || e.RatesStale != 1 || e.RunSucceeded != 0 {
		t.Fatalf("EMF after a stale run: %+v", e)
	}
	if len(h.waits) != 0 {
		t.Fatalf("waited %v with no late window", h.waits)
	}

	// An object changed behind the job's back (even with our metadata) fails
	// verification, and the next run puts the true content back.
	key := res.Key
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("fx-data"), Key: &key,
		Body: bytes.NewReader([]byte(`{"tampered":true}`)), ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		Metadata: map[string]string{"content-sha256": res.SHA256}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Verify(ctx, today); err == nil {
		t.Fatal("tampered object verified")
	}
	date.Store(today)
	fixed, err := job.Run(ctx)
	if err != nil || !fixed.Written {
		t.Fatalf("repair run: %+v %v", fixed, err)
	}
	if _, _, err := st.Verify(ctx, today); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}

// The ECB is late: Friday's rates are still up at Monday 16:15 UTC. The job fetches again
// every LatePoll and publishes Monday's when they appear; if they never do, it ends stale
// when LateWait has passed, with nothing written and exit code ExitStale.
func TestLatePublication(t *testing.T) {
	monday := time.Date(2026, 11, 23, 16, 15, 0, 0, time.UTC)
	h := newHarness(t, monday)
	h.job.Config.LatePoll, h.job.Config.LateWait = 5*time.Minute, 40*time.Minute
	ctx := context.Background()

	// Published after two more polls.
	h.date.Store("2026-11-20")
	h.onWait = func(n int) {
		if n == 2 {
			h.date.Store("2026-11-23")
		}
	}
	res, err := h.job.Run(ctx)
	if err != nil || !res.Written || res.Date != "2026-11-23" || res.Polls != 3 {
		t.Fatalf("late publication: %+v %v", res, err)
	}
	if !slices.Equal(h.waits, []time.Duration{5 * time.Minute, 5 * time.Minute}) {
		t.Fatalf("waits %v", h.waits)
	}
	if n := strings.Count(h.logs.String(), `"msg":"fx rates publication late, fetching again"`); n != 2 {
		t.Fatalf("%d late-publication lines:\n%s", n, h.logs)
	}
	if e := lastEMF(t, h.logs); e.Outcome != "written" || e.RatesStale != 0 {
		t.Fatalf("EMF: %+v", e)
	}

	// Never published: polls at 0, 5, ..., 40 minutes, then stale.
	h.date.Store("2026-11-23")
	h.mu.Lock()
	h.now, h.waits, h.onWait = monday.AddDate(0, 0, 1), nil, nil // Tuesday: Tuesday's rates due, Monday's served
	h.mu.Unlock()
	res, err = h.job.Run(ctx)
	var se *fxrates.StaleError
	if !errors.As(err, &se) || se.Date != "2026-11-23" || se.Due != "2026-11-24" || fxrates.ExitCode(err) != fxrates.ExitStale {
		t.Fatalf("never published: %+v %v", res, err)
	}
	if res.Polls != 9 || len(h.waits) != 8 {
		t.Fatalf("%d polls, waits %v", res.Polls, h.waits)
	}
	if n := h.objects(t); n != 1 {
		t.Fatalf("%d objects after a stale run", n)
	}
	// What an alarm matches (docs/fx-rates-etl.md): the summary line's Outcome and the
	// EMF metric RatesStale.
	if e := lastEMF(t, h.logs); e.Msg != "fx rates run" || e.Outcome != "stale" || e.RatesStale != 1 || e.ExitCode != fxrates.ExitStale {
		t.Fatalf("EMF after a stale run: %+v", e)
	}
}

// The deployment names the API-key secret (FX_API_KEY_SECRET_ID), but the ECB needs no
// key: with FX_SOURCE_AUTH left at its default the job neither reads the secret nor sends
// an Authorization header.
func TestNoKeyToASourceThatNeedsNone(t *testing.T) {
	h := newHarness(t, time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC), "")
	if h.job.Config.SourceAuth != fxrates.AuthNone || h.job.Config.APIKeySecretID == "" {
		t.Fatalf("config: %+v", h.job.Config)
	}
	res, err := h.job.Run(context.Background())
	if err != nil || !res.Written {
		t.Fatalf("%+v %v", res, err)
	}
	if got := h.auth.Load().(string); got != "" || h.secretReads.Load() != 0 {
		t.Fatalf("source saw Authorization %q; %d Secrets Manager calls", got, h.secretReads.Load())
	}
}
