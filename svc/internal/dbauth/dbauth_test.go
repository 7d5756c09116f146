package dbauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
)

func TestParseMode(t *testing.T) {
	for in, want := range map[string]dbauth.Mode{"": dbauth.Password, "password": dbauth.Password, "iam": dbauth.IAM} {
		if got, err := dbauth.ParseMode(in); err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"IAM", "token", "iam "} {
		_, err := dbauth.ParseMode(in)
		if !errors.Is(err, dbauth.ErrConfig) || !strings.Contains(err.Error(), "DATABASE_AUTH") {
			t.Errorf("ParseMode(%q): want a DATABASE_AUTH config error, got %v", in, err)
		}
	}
}

func noToken(context.Context, string, string) (string, error) { return "", errors.New("not called") }

func parse(t *testing.T, u string) *pgxpool.Config {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// IAM mode refuses, before any connection, every URL with which a token could leak or
// be signed for the wrong thing, and says what to change without quoting the URL.
func TestIAMConfigErrors(t *testing.T) {
	const proxy = "txv.proxy-abc.eu-central-1.rds.amazonaws.com"
	iam := dbauth.Auth{Mode: dbauth.IAM, Tokens: noToken}
	for _, tc := range []struct {
		name, url, want string
		auth            dbauth.Auth
	}{
		{"password in URL", "postgres://transaction_validator:hunter2@" + proxy + ":5432/payments?sslmode=verify-full", "must carry no password", iam},
		{"password from PGPASSWORD", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=verify-full", "nor PGPASSWORD", iam},
		{"sslmode require", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=require", "sslmode=verify-full", iam},
		{"sslmode verify-ca", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=verify-ca", "sslmode=verify-full", iam},
		{"sslmode disable", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=disable", "sslmode=verify-full", iam},
		// prefer (libpq's default) falls back to clear text: refused though it tries TLS first.
		{"sslmode prefer", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=prefer", "one host with sslmode=verify-full", iam},
		{"no sslmode", "postgres://transaction_validator@" + proxy + ":5432/payments", "one host with sslmode=verify-full", iam},
		{"two hosts", "postgres://transaction_validator@" + proxy + ":5432,other:5432/payments?sslmode=verify-full", "one host", iam},
		{"no token source", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=verify-full", "without a token source", dbauth.Auth{Mode: dbauth.IAM}},
		{"unknown mode", "postgres://transaction_validator@" + proxy + ":5432/payments?sslmode=verify-full", "unknown mode", dbauth.Auth{Mode: "kerberos", Tokens: noToken}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PGSSLMODE", "")
			t.Setenv("PGPASSWORD", "")
			if tc.name == "password from PGPASSWORD" {
				t.Setenv("PGPASSWORD", "hunter2")
			}
			cfg := parse(t, tc.url)
			err := tc.auth.Configure(cfg)
			if !errors.Is(err, dbauth.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want a config error saying %q, got %v", tc.want, err)
			}
			if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), proxy) {
				t.Errorf("error quotes the URL: %v", err)
			}
			if cfg.BeforeConnect != nil {
				t.Error("a refused config still got a BeforeConnect hook")
			}
		})
	}
}

// An empty user is refused too; pgx fills in the OS user when the URL names none, so
// this is reachable only by a config built by hand.
func TestIAMNeedsAUser(t *testing.T) {
	cfg := parse(t, "postgres://u@db.example.com:5432/payments?sslmode=verify-full")
	cfg.ConnConfig.User = ""
	err := dbauth.Auth{Mode: dbauth.IAM, Tokens: noToken}.Configure(cfg)
	if !errors.Is(err, dbauth.ErrConfig) || !strings.Contains(err.Error(), "must name the database user") {
		t.Fatalf("got %v", err)
	}
}

// Password mode, the default, leaves the configuration exactly as parsed: deployments
// that set nothing keep working as before.
func TestPasswordModeChangesNothing(t *testing.T) {
	for _, a := range []dbauth.Auth{{}, {Mode: dbauth.Password}} {
		cfg := parse(t, "postgres://u:p@db:5432/x?sslmode=disable")
		if err := a.Configure(cfg); err != nil || cfg.BeforeConnect != nil || cfg.ConnConfig.Password != "p" {
			t.Fatalf("password mode %+v: err %v, hook set %v", a, err, cfg.BeforeConnect != nil)
		}
	}
}

// The hook asks the token source for the connection's own host:port and user, and the
// token becomes that connection's password.
func TestIAMHookPutsTheTokenInThePassword(t *testing.T) {
	t.Setenv("PGPASSWORD", "") // pgx's default password would be refused in IAM mode
	var gotEndpoint, gotUser string
	tokens := func(_ context.Context, endpoint, user string) (string, error) {
		gotEndpoint, gotUser = endpoint, user
		return "the-token", nil
	}
	cfg := parse(t, "postgres://operator_console@db.example.com:6432/payments?sslmode=verify-full")
	if err := (dbauth.Auth{Mode: dbauth.IAM, Tokens: tokens}).Configure(cfg); err != nil {
		t.Fatal(err)
	}
	cc := cfg.ConnConfig.Copy()
	if err := cfg.BeforeConnect(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	if cc.Password != "the-token" || gotEndpoint != "db.example.com:6432" || gotUser != "operator_console" {
		t.Fatalf("password %q, endpoint %q, user %q", cc.Password, gotEndpoint, gotUser)
	}
	if cfg.ConnConfig.Password != "" {
		t.Error("the token was written into the shared config, not the connection's copy")
	}
}

// The token is what RDS checks: a SigV4-presigned URL for the endpoint, Action=connect,
// DBUser, the rds-db service in the given region, valid 900 s, signed with the given
// credentials (the session token included, as IRSA's credentials have one).
func TestRDSTokenSourceSignsForEndpointUserAndRegion(t *testing.T) {
	creds := credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session-token")
	const endpoint = "txv.proxy-abc.eu-central-1.rds.amazonaws.com:5432"
	before := time.Now().UTC()
	tok, err := dbauth.RDSTokenSource("eu-central-1", creds)(context.Background(), endpoint, "transaction_validator")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse("https://" + tok)
	if err != nil {
		t.Fatalf("token is not a URL without its scheme: %v", err)
	}
	q := u.Query()
	if !strings.HasPrefix(tok, endpoint+"?") || u.Host != endpoint {
		t.Errorf("token is for %q, want %q (host:port?query)", u.Host, endpoint)
	}
	for k, want := range map[string]string{
		"Action": "connect", "DBUser": "transaction_validator", "X-Amz-Expires": "900",
		"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Security-Token": "session-token",
		"X-Amz-SignedHeaders": "host",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// AKID/yyyymmdd/region/service/aws4_request.
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) != 5 || cred[0] != "AKIDEXAMPLE" || cred[2] != "eu-central-1" || cred[3] != "rds-db" || cred[4] != "aws4_request" {
		t.Errorf("X-Amz-Credential = %q", q.Get("X-Amz-Credential"))
	}
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil || signed.Before(before.Truncate(time.Second)) || signed.After(time.Now().UTC()) {
		t.Errorf("X-Amz-Date %q is not now (%v)", q.Get("X-Amz-Date"), err)
	}
	if len(q.Get("X-Amz-Signature")) != 64 {
		t.Errorf("X-Amz-Signature = %q, want 64 hex digits", q.Get("X-Amz-Signature"))
	}
	if strings.Contains(tok, "secret") {
		t.Error("the token carries the secret key")
	}

	// An endpoint without a port cannot be signed; the error says for whom.
	if _, err := dbauth.RDSTokenSource("eu-central-1", creds)(context.Background(), "db.example.com", "u"); err == nil ||
		!strings.Contains(err.Error(), "IAM auth token for u at db.example.com") {
		t.Errorf("endpoint without port: %v", err)
	}
}

// isolateAWS keeps the host's AWS files and variables out of a test of the default
// credential chain.
func isolateAWS(t *testing.T) {
	t.Helper()
	for _, k := range []string{"AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_DEFAULT_REGION", "AWS_REGION",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Start-up stops on a missing region instead of signing tokens the proxy would refuse.
func TestNewIAMNeedsARegion(t *testing.T) {
	isolateAWS(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	_, err := dbauth.New(context.Background(), dbauth.IAM)
	if !errors.Is(err, dbauth.ErrConfig) || !strings.Contains(err.Error(), "AWS_REGION") {
		t.Fatalf("want an AWS_REGION config error, got %v", err)
	}

	// With the region, the default chain's credentials sign the tokens.
	t.Setenv("AWS_REGION", "eu-west-1")
	a, err := dbauth.New(context.Background(), dbauth.IAM)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Tokens(context.Background(), "db.example.com:5432", "operator_console")
	if err != nil {
		t.Fatal(err)
	}
	if cred := mustQuery(t, tok).Get("X-Amz-Credential"); !strings.HasPrefix(cred, "AKIDEXAMPLE/") || !strings.Contains(cred, "/eu-west-1/rds-db/") {
		t.Fatalf("X-Amz-Credential = %q", cred)
	}

	// Password mode needs no AWS configuration at all.
	t.Setenv("AWS_REGION", "")
	if a, err := dbauth.New(context.Background(), dbauth.Password); err != nil || a.Mode != dbauth.Password || a.Tokens != nil {
		t.Fatalf("password mode: %+v, %v", a, err)
	}
}

func mustQuery(t *testing.T, tok string) url.Values {
	t.Helper()
	u, err := url.Parse("https://" + tok)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// fakeSTS answers AssumeRoleWithWebIdentity the way STS does, and records the calls.
type fakeSTS struct {
	mu    sync.Mutex
	calls []url.Values
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, r.PostForm)
	f.mu.Unlock()
	if r.PostForm.Get("Action") != "AssumeRoleWithWebIdentity" {
		http.Error(w, "unexpected action", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>ASIAIRSAEXAMPLE</AccessKeyId>
      <SecretAccessKey>irsa-secret</SecretAccessKey>
      <SessionToken>irsa-session</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/txv-dev-transaction-validator/pod</Arn>
      <AssumedRoleId>AROAEXAMPLE:pod</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

// In EKS the pod's credentials are IRSA's: the webhook sets AWS_ROLE_ARN and
// AWS_WEB_IDENTITY_TOKEN_FILE, and the default chain exchanges the projected service
// account token at STS. Tokens are then signed with those role credentials, and the
// credentials are cached, so opening connections costs no STS call each.
func TestNewIAMSignsWithIRSAWebIdentity(t *testing.T) {
	isolateAWS(t)
	sts := &fakeSTS{}
	srv := httptest.NewServer(sts)
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("projected-sa-jwt"), 0o600); err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::123456789012:role/txv-dev-transaction-validator"
	t.Setenv("AWS_REGION", "eu-central-1")
	t.Setenv("AWS_ROLE_ARN", role)
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tokenFile)
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)

	a, err := dbauth.New(context.Background(), dbauth.IAM)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		tok, err := a.Tokens(context.Background(), "txv.proxy-abc.eu-central-1.rds.amazonaws.com:5432", "transaction_validator")
		if err != nil {
			t.Fatal(err)
		}
		q := mustQuery(t, tok)
		if !strings.HasPrefix(q.Get("X-Amz-Credential"), "ASIAIRSAEXAMPLE/") || q.Get("X-Amz-Security-Token") != "irsa-session" {
			t.Fatalf("token not signed with the role's credentials: %s %s", q.Get("X-Amz-Credential"), q.Get("X-Amz-Security-Token"))
		}
	}
	sts.mu.Lock()
	defer sts.mu.Unlock()
	if len(sts.calls) != 1 {
		t.Fatalf("%d STS calls for 3 tokens, want 1 (credentials cached)", len(sts.calls))
	}
	if c := sts.calls[0]; c.Get("RoleArn") != role || c.Get("WebIdentityToken") != "projected-sa-jwt" {
		t.Fatalf("STS asked for role %q with token %q", c.Get("RoleArn"), c.Get("WebIdentityToken"))
	}
}
