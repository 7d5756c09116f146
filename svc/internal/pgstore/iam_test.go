package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/dbauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/pgstore"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver"
	"github.com/transaction-validator/transaction-validator/svc/internal/testsupport/devserver/devtest"
)

// tokenSource stands in for RDS: it returns whatever "token" the test says is valid now
// (the login's current password on the test server) and records every call.
type tokenSource struct {
	mu        sync.Mutex
	token     string
	err       error
	calls     int
	endpoints []string
	users     []string
}

func (s *tokenSource) get(_ context.Context, endpoint, user string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	s.endpoints = append(s.endpoints, endpoint)
	s.users = append(s.users, user)
	return s.token, s.err
}

func (s *tokenSource) set(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = token
}

func (s *tokenSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// iamServer starts a server that admits the application login only over TLS with a
// cleartext password, as RDS Proxy takes IAM tokens, creates the login with password
// and returns the URL DATABASE_AUTH=iam deploys: user, host, verify-full, no password.
func iamServer(t *testing.T, login, password string) (*devserver.Postgres, string) {
	t.Helper()
	// pgx takes a password from PGPASSWORD when the URL has none, and IAM mode refuses
	// one; ci's test stage had it set for its own PostgreSQL service.
	t.Setenv("PGPASSWORD", "")
	srv := devtest.Postgres(t, devserver.PostgresOptions{TLS: true})
	ctx := context.Background()
	asSuperuser(t, srv, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", pgx.Identifier{login}.Sanitize(), password))
	// Like RDS Proxy's require_tls: the right password in clear text is not enough.
	if c, err := pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=disable", login, password, srv.Port)); err == nil {
		c.Close(ctx)
		t.Fatal("the test server let the application login in without TLS")
	}
	return srv, fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s",
		login, srv.Port, url.QueryEscape(srv.CAFile))
}

// asSuperuser runs sql on srv as its superuser (trust over plain TCP).
func asSuperuser(t *testing.T, srv *devserver.Postgres, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

// With DATABASE_AUTH=iam every new connection logs in with a token made for it: the
// first at start-up, none while the connection is reused, and a new one, with the value
// valid by then, once the pool's max lifetime has retired the first connection. That is
// what keeps a pool working past a token's 15 minutes.
func TestIAMPoolLogsInWithAFreshTokenPerConnection(t *testing.T) {
	srv, dbURL := iamServer(t, "transaction_validator", "token-1")
	tokens := &tokenSource{token: "token-1"}
	ctx := context.Background()
	pool, err := pgstore.NewPool(ctx, dbURL, pgstore.PoolOptions{
		MaxConns: 1, MaxConnLifetime: time.Second, StatementMode: "exec",
		Auth: dbauth.Auth{Mode: dbauth.IAM, Tokens: tokens.get},
	})
	if err != nil {
		t.Fatalf("IAM pool did not start: %v\n%s", err, srv.Log())
	}
	t.Cleanup(pool.Close)
	if n := tokens.count(); n != 1 {
		t.Fatalf("start-up made %d tokens, want 1 (one connection)", n)
	}
	wantEndpoint := fmt.Sprintf("127.0.0.1:%d", srv.Port)
	if tokens.endpoints[0] != wantEndpoint || tokens.users[0] != "transaction_validator" {
		t.Fatalf("token asked for %s as %s, want %s as transaction_validator", tokens.endpoints[0], tokens.users[0], wantEndpoint)
	}
	var user string
	var tls bool
	if err := pool.QueryRow(ctx, "SELECT current_user::text, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&user, &tls); err != nil {
		t.Fatal(err)
	}
	if user != "transaction_validator" || !tls {
		t.Fatalf("logged in as %q, TLS %v; want transaction_validator over TLS", user, tls)
	}
	if n := tokens.count(); n != 1 {
		t.Fatalf("a query on the open connection made a token (%d calls): tokens are for logins only", n)
	}

	// The old token stops working; only a connection that asks again can log in.
	asSuperuser(t, srv, "ALTER ROLE transaction_validator PASSWORD 'token-2'")
	tokens.set("token-2")
	time.Sleep(1200 * time.Millisecond) // past MaxConnLifetime plus its 10% jitter
	if err := pool.Ping(ctx); err != nil {
		t.Fatalf("connection after max lifetime: %v", err)
	}
	if n := tokens.count(); n != 2 {
		t.Fatalf("after max lifetime: %d token calls, want 2", n)
	}
	if s := pool.Stat(); s.TotalConns() != 1 || s.NewConnsCount() != 2 {
		t.Fatalf("pool opened %d connections (%d open), want 2 (1)", s.NewConnsCount(), s.TotalConns())
	}
}

// A token the server refuses stops start-up with an error that says an IAM login as
// which user failed, and does not print the token.
func TestIAMPoolWrongTokenFailsClearly(t *testing.T) {
	_, dbURL := iamServer(t, "operator_console", "the-valid-token")
	tokens := &tokenSource{token: "stale-token-xyz"}
	_, err := pgstore.NewPool(context.Background(), dbURL, pgstore.PoolOptions{
		MaxConns: 1, Auth: dbauth.Auth{Mode: dbauth.IAM, Tokens: tokens.get},
	})
	if err == nil {
		t.Fatal("a wrong token logged in")
	}
	msg := err.Error()
	for _, want := range []string{`IAM token login as "operator_console"`, "password authentication failed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "stale-token-xyz") {
		t.Errorf("error prints the token: %s", msg)
	}
	if tokens.count() == 0 {
		t.Error("the token source was never asked")
	}

	// A token source that cannot sign (no credentials) fails start-up with its reason.
	noCreds := errors.New("no EC2 IMDS role found")
	tokens = &tokenSource{err: noCreds}
	_, err = pgstore.NewPool(context.Background(), dbURL, pgstore.PoolOptions{
		MaxConns: 1, Auth: dbauth.Auth{Mode: dbauth.IAM, Tokens: tokens.get},
	})
	if !errors.Is(err, noCreds) {
		t.Fatalf("token source error not returned: %v", err)
	}
}

// The password-mode URL of the same login still works in password mode (nothing changes
// for deployments that do not set DATABASE_AUTH), and is refused in IAM mode before any
// connection is tried.
func TestIAMPoolRefusesAPasswordURL(t *testing.T) {
	_, dbURL := iamServer(t, "transaction_validator", "pw")
	withPassword := strings.Replace(dbURL, "transaction_validator@", "transaction_validator:pw@", 1)
	pool, err := pgstore.NewPool(context.Background(), withPassword, pgstore.PoolOptions{MaxConns: 1})
	if err != nil {
		t.Fatalf("password mode: %v", err)
	}
	pool.Close()
	tokens := &tokenSource{token: "pw"}
	_, err = pgstore.NewPool(context.Background(), withPassword, pgstore.PoolOptions{
		MaxConns: 1, Auth: dbauth.Auth{Mode: dbauth.IAM, Tokens: tokens.get},
	})
	if !errors.Is(err, dbauth.ErrConfig) || tokens.count() != 0 {
		t.Fatalf("IAM mode with a password URL: err %v, %d token calls", err, tokens.count())
	}
}
