// Package dbauth holds how the services log in to PostgreSQL: with the password that
// DATABASE_URL carries ("password", the default), or with a fresh AWS IAM authentication
// token for every new connection ("iam": RDS Proxy's IAM_AUTH, infra's
// client_auth = "iam"), signed with the pod's own credentials (its IRSA role in EKS).
//
// In IAM mode no database password exists anywhere: DATABASE_URL names the proxy and the
// user and nothing else, and the token, valid for 15 minutes, is made when a connection
// is opened. The proxy checks it only then, so pooled connections outlive it.
package dbauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	rdsauth "github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Mode is how a pool logs in: the value of DATABASE_AUTH.
type Mode string

const (
	// Password logs in with the password in DATABASE_URL (or none, for trust auth).
	Password Mode = "password"
	// IAM logs in with an RDS IAM authentication token made for each new connection.
	IAM Mode = "iam"
)

// ErrConfig marks a setting that cannot work; the process should not start with it.
var ErrConfig = errors.New("database auth config")

// ParseMode reads DATABASE_AUTH. Empty means Password, so that nothing changes for a
// deployment that does not set it; anything but the two modes is refused rather than
// guessed at.
func ParseMode(s string) (Mode, error) {
	switch Mode(s) {
	case "", Password:
		return Password, nil
	case IAM:
		return IAM, nil
	}
	return "", fmt.Errorf("%w: DATABASE_AUTH=%q: must be %q or %q", ErrConfig, s, Password, IAM)
}

// TokenSource returns the password for one new connection to endpoint (host:port) as
// user. It is called once per connection, never cached by the caller.
type TokenSource func(ctx context.Context, endpoint, user string) (string, error)

// Auth is how a pool logs in. The zero value is password mode.
type Auth struct {
	Mode Mode
	// Tokens makes each connection's password in IAM mode; NewRDSTokenSource in
	// production, a test's own function otherwise.
	Tokens TokenSource
}

// New returns the Auth for mode. In IAM mode the tokens are signed with the default AWS
// credential chain (IRSA's web identity in EKS) for the region in AWS_REGION; without a
// region it fails, since a token signed for the wrong region is refused only when the
// first connection is tried.
func New(ctx context.Context, mode Mode) (Auth, error) {
	if mode != IAM {
		return Auth{Mode: Password}, nil
	}
	tokens, err := NewRDSTokenSource(ctx)
	if err != nil {
		return Auth{}, err
	}
	return Auth{Mode: IAM, Tokens: tokens}, nil
}

// NewRDSTokenSource loads the default AWS configuration (environment, shared files, web
// identity, container or instance role) and returns a TokenSource signing with it.
// optFns are config.LoadDefaultConfig's options.
func NewRDSTokenSource(ctx context.Context, optFns ...func(*awsconfig.LoadOptions) error) (TokenSource, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("%w: DATABASE_AUTH=iam: loading AWS configuration: %w", ErrConfig, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("%w: DATABASE_AUTH=iam needs AWS_REGION: IAM tokens are signed for the database's region", ErrConfig)
	}
	if cfg.Credentials == nil {
		return nil, fmt.Errorf("%w: DATABASE_AUTH=iam: no AWS credential provider found", ErrConfig)
	}
	return RDSTokenSource(cfg.Region, cfg.Credentials), nil
}

// RDSTokenSource signs tokens for region with creds. LoadDefaultConfig's provider
// already caches the credentials until shortly before they expire, so a token costs a
// local signature, not an STS call.
func RDSTokenSource(region string, creds aws.CredentialsProvider) TokenSource {
	return func(ctx context.Context, endpoint, user string) (string, error) {
		tok, err := rdsauth.BuildAuthToken(ctx, endpoint, region, user, creds)
		if err != nil {
			return "", fmt.Errorf("IAM auth token for %s at %s: %w", user, endpoint, err)
		}
		return tok, nil
	}
}

// Configure checks cfg, parsed from DATABASE_URL, against a's mode and in IAM mode
// makes every new connection of the pool log in with a fresh token from a.Tokens.
// Errors name the problem but never quote the URL.
func (a Auth) Configure(cfg *pgxpool.Config) error {
	switch a.Mode {
	case "", Password:
		return nil
	case IAM:
	default:
		return fmt.Errorf("%w: unknown mode %q", ErrConfig, a.Mode)
	}
	if a.Tokens == nil {
		return fmt.Errorf("%w: IAM mode without a token source", ErrConfig)
	}
	cc := cfg.ConnConfig
	if cc.User == "" {
		return fmt.Errorf("%w: DATABASE_AUTH=iam: DATABASE_URL must name the database user (the token is signed for it)", ErrConfig)
	}
	if cc.Password != "" {
		// Either the URL is a password-mode one deployed by mistake or a secret is lying
		// around (pgx also takes PGPASSWORD and the .pgpass file); both are worth stopping
		// for rather than silently ignoring.
		return fmt.Errorf("%w: DATABASE_AUTH=iam: DATABASE_URL must carry no password, nor PGPASSWORD or a .pgpass file supply one (each connection's password is an IAM token)", ErrConfig)
	}
	if len(cc.Fallbacks) > 0 {
		// A fallback is another host, or the same one without TLS (sslmode prefer/allow):
		// the token is signed for one endpoint and must never travel in clear text.
		return fmt.Errorf("%w: DATABASE_AUTH=iam: DATABASE_URL must name one host with sslmode=verify-full", ErrConfig)
	}
	if tc := cc.TLSConfig; tc == nil || tc.InsecureSkipVerify || tc.ServerName == "" {
		// The token is a bearer credential for 15 minutes: it may only go to a server
		// whose certificate matches the host name (pgx sets exactly this for verify-full).
		return fmt.Errorf("%w: DATABASE_AUTH=iam needs sslmode=verify-full in DATABASE_URL: the IAM token may only be sent to a verified server", ErrConfig)
	}
	tokens := a.Tokens
	// pgxpool calls BeforeConnect with a copy of the configuration for every connection
	// it opens, so the password set here lives only in that connection's attempt.
	cfg.BeforeConnect = func(ctx context.Context, c *pgx.ConnConfig) error {
		endpoint := net.JoinHostPort(c.Host, strconv.Itoa(int(c.Port)))
		tok, err := tokens(ctx, endpoint, c.User)
		if err != nil {
			return err
		}
		c.Password = tok
		return nil
	}
	return nil
}
