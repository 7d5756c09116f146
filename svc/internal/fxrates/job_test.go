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
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/transaction-validator/transaction-validator/svc/internal/devserver/devtest"
	"github.com/transaction-validator/transaction-validator/svc/internal/fxrates"
)

const apiKey = "test-api-key-from-secrets-manager"

// secretsManager is the narrowest stand-in for AWS Secrets Manager: it speaks the real
// JSON 1.1 protocol of GetSecretValue to the real SDK, and insists on a SigV4 signature.
func secretsManager(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
// *date is "garbage", and only to a caller presenting the API key.
func source(t *testing.T, date *atomic.Value) *httptest.Server {
	raw, err := os.ReadFile("testdata/eurofxref-daily.xml")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+apiKey {
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

func TestJobAgainstS3(t *testing.T) {
	store := devtest.S3(t)
	sm := secretsManager(t)
	var date atomic.Value
	// Monday 23 November 2026, 18:00 in Frankfurt: that day's rates are due.
	now := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	today := now.Format(time.DateOnly)
	date.Store(today)
	src := source(t, &date)

	t.Setenv("AWS_ACCESS_KEY_ID", store.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", store.SecretKey)
	t.Setenv("AWS_REGION", store.Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	env := map[string]string{"FX_SOURCE_URL": src.URL, "FX_API_KEY_SECRET_ID": "fx/api-key", "S3_BUCKET": "fx-data",
		"S3_ENDPOINT": store.Endpoint, "S3_FORCE_PATH_STYLE": "true", "SECRETSMANAGER_ENDPOINT": sm.URL}
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
	logs := &devtest.LogBuffer{}
	job := &fxrates.Job{Config: cfg, S3: s3c, Secrets: smc, Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Now: func() time.Time { return now }}

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
	objs, _ := s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("fx-data")})
	if len(objs.Contents) != 1 {
		t.Fatalf("%d objects after a rejected run", len(objs.Contents))
	}

	// Last business day's rates when today's are due: stale, nothing written.
	date.Store("2026-11-20")
	_, err = job.Run(ctx)
	var se *fxrates.StaleError
	if !errors.As(err, &se) || se.Due != today {
		t.Fatalf("stale rates accepted: %v", err)
	}
	objs, _ = s3c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("fx-data")})
	if len(objs.Contents) != 1 {
		t.Fatalf("%d objects after a stale run", len(objs.Contents))
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
