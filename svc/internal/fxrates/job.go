package fxrates

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// DefaultSourceURL is the ECB's daily reference rates, published around 16:00 CET on
// TARGET business days.
const DefaultSourceURL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"

// Config is the job's environment.
type Config struct {
	SourceURL string // FX_SOURCE_URL
	// SourceAuth (FX_SOURCE_AUTH) is how the source wants to be called: "none" (the
	// default; the ECB) or "bearer", an API key read from Secrets Manager secret
	// APIKeySecretID (FX_API_KEY_SECRET_ID) and sent as a bearer token. With "none" the
	// secret is neither read nor sent, even when its name is configured.
	SourceAuth     string
	APIKeySecretID string
	Bucket         string // S3_BUCKET (required)
	Prefix         string // S3_PREFIX, default "fx-rates/"
	// MaxLagDays: how many TARGET business days the publication date may lag behind the
	// latest one due (see CheckFresh); FX_MAX_LAG_DAYS, default 0.
	MaxLagDays  int
	HTTPTimeout time.Duration // FX_HTTP_TIMEOUT per attempt, default 10s
	MaxAttempts int           // FX_MAX_ATTEMPTS, default 5
	// A late publication is fetched again every LatePoll (FX_LATE_POLL, default 5m) until
	// LateWait (FX_LATE_WAIT, default 40m) after the run's start; then the run ends stale.
	LatePoll time.Duration
	LateWait time.Duration
	// MaxRetryAfter (FX_MAX_RETRY_AFTER, default 2m) is the longest Retry-After the job
	// honours on a 429 or 503; a source asking for longer fails the fetch.
	MaxRetryAfter time.Duration
	// RunTimeout (FX_RUN_TIMEOUT, default 50m) bounds the whole run, polling included. It
	// must exceed LateWait by lateMargin, and the CronJob's activeDeadlineSeconds must
	// exceed it.
	RunTimeout time.Duration
	// S3Endpoint and SecretsManagerEndpoint point the SDK at S3- and Secrets Manager-
	// compatible services (VPC endpoints are found by DNS and need neither).
	S3Endpoint             string // S3_ENDPOINT
	S3PathStyle            bool   // S3_FORCE_PATH_STYLE
	SecretsManagerEndpoint string // SECRETSMANAGER_ENDPOINT
}

// ConfigFromEnv reads the job's configuration; AWS credentials and region come from the
// SDK's default chain (IRSA in the cluster).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{
		SourceURL: getenv("FX_SOURCE_URL"), SourceAuth: getenv("FX_SOURCE_AUTH"), APIKeySecretID: getenv("FX_API_KEY_SECRET_ID"),
		Bucket: getenv("S3_BUCKET"), Prefix: getenv("S3_PREFIX"),
		S3Endpoint: getenv("S3_ENDPOINT"), SecretsManagerEndpoint: getenv("SECRETSMANAGER_ENDPOINT"),
		HTTPTimeout: 10 * time.Second, MaxAttempts: 5,
		LatePoll: 5 * time.Minute, LateWait: 40 * time.Minute, RunTimeout: 50 * time.Minute,
		MaxRetryAfter: 2 * time.Minute,
	}
	var errs []error
	if c.SourceURL == "" {
		c.SourceURL = DefaultSourceURL
	}
	if err := checkSourceURL(c.SourceURL); err != nil {
		errs = append(errs, fmt.Errorf("FX_SOURCE_URL: %w", err))
	}
	switch c.SourceAuth {
	case "":
		c.SourceAuth = AuthNone
	case AuthNone:
	case AuthBearer:
		if c.APIKeySecretID == "" {
			errs = append(errs, errors.New("FX_SOURCE_AUTH=bearer needs FX_API_KEY_SECRET_ID"))
		}
	default:
		errs = append(errs, fmt.Errorf("FX_SOURCE_AUTH=%q: must be %s or %s", c.SourceAuth, AuthNone, AuthBearer))
	}
	if c.Prefix == "" {
		c.Prefix = "fx-rates/"
	}
	if c.Bucket == "" {
		errs = append(errs, errors.New("S3_BUCKET is required"))
	}
	// FX_MAX_AGE counted calendar hours, which failed after every long weekend. Refused
	// rather than ignored, so a deployment still setting it learns the rule changed.
	if getenv("FX_MAX_AGE") != "" {
		errs = append(errs, errors.New("FX_MAX_AGE is no longer read: freshness is counted in TARGET business days (FX_MAX_LAG_DAYS)"))
	}
	if v := getenv("FX_MAX_LAG_DAYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10 {
			errs = append(errs, fmt.Errorf("FX_MAX_LAG_DAYS=%q: must be 0 to 10", v))
		}
		c.MaxLagDays = n
	}
	for name, dst := range map[string]*time.Duration{"FX_HTTP_TIMEOUT": &c.HTTPTimeout,
		"FX_LATE_POLL": &c.LatePoll, "FX_LATE_WAIT": &c.LateWait, "FX_RUN_TIMEOUT": &c.RunTimeout,
		"FX_MAX_RETRY_AFTER": &c.MaxRetryAfter} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				errs = append(errs, fmt.Errorf("%s=%q: must be a positive duration", name, v))
			}
			*dst = d
		}
	}
	if v := getenv("FX_MAX_ATTEMPTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10 {
			errs = append(errs, fmt.Errorf("FX_MAX_ATTEMPTS=%q: must be 1 to 10", v))
		}
		c.MaxAttempts = n
	}
	if v := getenv("S3_FORCE_PATH_STYLE"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("S3_FORCE_PATH_STYLE=%q: must be true or false", v))
		}
		c.S3PathStyle = b
	}
	if c.LatePoll > 0 && c.LateWait > 0 && c.LatePoll > c.LateWait {
		errs = append(errs, fmt.Errorf("FX_LATE_POLL=%s is longer than FX_LATE_WAIT=%s", c.LatePoll, c.LateWait))
	}
	if c.RunTimeout > 0 && c.RunTimeout < c.LateWait+lateMargin {
		errs = append(errs, fmt.Errorf("FX_RUN_TIMEOUT=%s must exceed FX_LATE_WAIT=%s by at least %s (the last fetch and the write)",
			c.RunTimeout, c.LateWait, lateMargin))
	}
	if err := errors.Join(errs...); err != nil {
		return c, &ConfigError{Err: err}
	}
	return c, nil
}

// lateMargin is what a run needs after its last poll: up to FX_MAX_ATTEMPTS fetches of
// FX_HTTP_TIMEOUT with back-off (under two minutes with the defaults) and the S3 write.
const lateMargin = 5 * time.Minute

// Clients builds the S3 and Secrets Manager clients from the default credential chain.
func Clients(ctx context.Context, c Config) (*s3.Client, *secretsmanager.Client, error) {
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("aws config: %w", err)
	}
	s3c := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if c.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(c.S3Endpoint)
		}
		o.UsePathStyle = c.S3PathStyle
	})
	smc := secretsmanager.NewFromConfig(awsCfg, func(o *secretsmanager.Options) {
		if c.SecretsManagerEndpoint != "" {
			o.BaseEndpoint = aws.String(c.SecretsManagerEndpoint)
		}
	})
	return s3c, smc, nil
}

// Job is one configured run.
type Job struct {
	Config  Config
	S3      *s3.Client
	Secrets *secretsmanager.Client
	Log     *slog.Logger
	Now     func() time.Time
	// Wait sleeps for d or until ctx is done (nil: a real timer). Tests replace it, and
	// Now, with a clock of their own.
	Wait func(ctx context.Context, d time.Duration) error
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Result is what a run reports.
type Result struct {
	Outcome
	Date  string // the publication date the source carried
	Due   string // the publication date due (see Due)
	Rates int
	Polls int // fetches of a fresh-enough document, late ones included
}

// Run fetches, validates and stores one day's rates, and logs one summary line that is
// also a CloudWatch metric (Embedded Metric Format), whatever the outcome. The whole run
// is bounded by Config.RunTimeout.
func (j *Job) Run(ctx context.Context) (Result, error) {
	start := j.Now()
	if j.Config.RunTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, j.Config.RunTimeout)
		defer cancel()
	}
	res, err := j.run(ctx, start)
	j.emit(res, err, j.Now().Sub(start))
	return res, err
}

func (j *Job) run(ctx context.Context, start time.Time) (Result, error) {
	f := &Fetcher{
		Client: sourceClient(j.Config.HTTPTimeout), URL: j.Config.SourceURL,
		MaxAttempts: j.Config.MaxAttempts, BaseBackoff: 500 * time.Millisecond, MaxBackoff: 8 * time.Second,
		MaxRetryAfter: j.Config.MaxRetryAfter, Now: j.Now, Wait: j.Wait,
		OnRetry: func(attempt int, err error, wait time.Duration) {
			j.Log.Warn("fetch failed, retrying", "attempt", attempt, "error", err, "wait", wait.String())
		},
	}
	// The key goes only to a source configured to need it (over HTTPS, which
	// ConfigFromEnv and the client's redirect check enforce): not to the ECB, even though
	// the deployment names the secret.
	if id := j.Config.APIKeySecretID; j.Config.SourceAuth == AuthBearer {
		out, err := j.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &id})
		if err != nil {
			return Result{}, fmt.Errorf("reading the API key from Secrets Manager: %w", err)
		}
		f.APIKey = aws.ToString(out.SecretString)
	}
	wait := j.Wait
	if wait == nil {
		wait = sleep
	}
	// A late publication: the ECB's file still carries the previous business day. Fetch
	// it again every LatePoll until LateWait after the start, then end stale: a run that
	// published yesterday's rates as today's would hide the delay from everyone.
	lateUntil := start.Add(j.Config.LateWait)
	var res Result
	for {
		res.Polls++
		body, err := f.Fetch(ctx)
		if err != nil {
			return res, err
		}
		rates, err := ParseECB(body)
		if err != nil {
			return res, err
		}
		res.Date, res.Due = rates.Date, Due(j.Now()).Format(time.DateOnly)
		err = CheckFresh(rates.Date, j.Now(), j.Config.MaxLagDays)
		var stale *StaleError
		if !errors.As(err, &stale) {
			if err != nil {
				return res, err
			}
			store := &Store{S3: j.S3, Bucket: j.Config.Bucket, Prefix: j.Config.Prefix}
			res.Outcome, err = store.Put(ctx, rates)
			res.Rates = len(rates.Rates)
			return res, err
		}
		if j.Now().Add(j.Config.LatePoll).After(lateUntil) {
			return res, err
		}
		j.Log.Warn("fx rates publication late, fetching again", "date", stale.Date, "due", stale.Due,
			"poll", res.Polls, "wait", j.Config.LatePoll.String(), "until", lateUntil.UTC().Format(time.RFC3339))
		if err := wait(ctx, j.Config.LatePoll); err != nil {
			return res, fmt.Errorf("waiting for a late publication (%v): %w", stale, err)
		}
	}
}

// MetricNamespace is the CloudWatch namespace of the job's metrics.
const MetricNamespace = "TransactionValidator/FxRatesEtl"

// emit writes the run's summary as one JSON line in CloudWatch Embedded Metric Format:
// CloudWatch Logs turns the _aws block into metrics RunSucceeded, RatesPublished,
// RatesStale and DurationMs by Outcome, with no agent or metrics endpoint in a
// short-lived pod.
func (j *Job) emit(res Result, err error, d time.Duration) {
	outcome, ok, stale := "written", 1, 0
	switch ExitCode(err) {
	case ExitOK:
		if !res.Written {
			outcome = "unchanged"
		}
	case ExitRejected:
		outcome, ok = "rejected", 0
	case ExitStale:
		outcome, ok, stale = "stale", 0, 1
	default:
		outcome, ok = "failed", 0
	}
	emf := map[string]any{
		"Timestamp": j.Now().UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace":  MetricNamespace,
			"Dimensions": [][]string{{"Outcome"}},
			"Metrics": []map[string]string{
				{"Name": "RunSucceeded", "Unit": "Count"},
				{"Name": "RatesPublished", "Unit": "Count"},
				{"Name": "RatesStale", "Unit": "Count"},
				{"Name": "DurationMs", "Unit": "Milliseconds"},
			},
		}},
	}
	attrs := []any{"_aws", emf, "Outcome", outcome, "RunSucceeded", ok, "RatesPublished", res.Rates,
		"RatesStale", stale, "DurationMs", d.Milliseconds(), "date", res.Date, "due", res.Due, "polls", res.Polls,
		"key", res.Key, "sha256", res.SHA256, "exit_code", ExitCode(err)}
	if err != nil {
		j.Log.Error("fx rates run", append(attrs, "error", err.Error())...)
		return
	}
	j.Log.Info("fx rates run", attrs...)
}
