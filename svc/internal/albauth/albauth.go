// Package albauth verifies the identity an AWS Application Load Balancer forwards after
// it has authenticated a user with OIDC (an `authenticate-oidc` listener rule), and turns
// it into an operator's identity and role.
//
// The ALB sends the user's claims in the x-amzn-oidc-data header: a JWT signed with
// ES256 by the ALB's regional key service. Its header carries the key id (kid) and the
// signer (the ALB's ARN); its payload carries the IdP's claims, exp and iss. The public
// key is fetched by key id from https://public-keys.auth.elb.REGION.amazonaws.com/KID.
// A request that did not pass through the ALB (a port-forward, a pod next door) has no
// header the key service signed for this ALB, so it gets a 401 and no data.
package albauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

// Header is the request header the ALB puts the signed claims in.
const Header = "X-Amzn-Oidc-Data"

// maxHeaderBytes bounds what is parsed at all: the ALB's tokens are a few kilobytes.
const maxHeaderBytes = 16 << 10

// Role is what an authenticated operator may do in the console.
type Role int

const (
	// RoleNone: authenticated by the IdP but in neither console group.
	RoleNone Role = iota
	// RoleViewer may read (the page, recent decisions).
	RoleViewer
	// RoleTester may read and submit test transactions.
	RoleTester
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleTester:
		return "tester"
	}
	return "none"
}

// Identity is the verified operator behind a request.
type Identity struct {
	Subject string
	Email   string
	Groups  []string
	Role    Role
}

// Config holds what a Verifier checks a header against.
type Config struct {
	// Issuer must equal the payload's iss (the IdP's issuer URL).
	Issuer string
	// ALBs are the load balancers allowed to sign (the header's signer). Each is a full
	// ALB ARN, or one without its trailing id (arn:...:loadbalancer/app/NAME), which
	// matches the ALB of that name: names are unique per account and region, and the
	// Load Balancer Controller sets the id only when it creates the ALB.
	ALBs []string
	// KeysURL overrides the key service's base URL; empty means the signer's regional
	// endpoint, https://public-keys.auth.elb.REGION.amazonaws.com (partition aws).
	KeysURL string
	// GroupsClaim names the claim listing the user's groups (a list of strings, or one).
	GroupsClaim string
	// ViewerGroup and TesterGroup are the IdP groups mapped to RoleViewer and RoleTester.
	ViewerGroup, TesterGroup string
	// Leeway tolerates clock skew on exp (default 30 s).
	Leeway time.Duration
	// Client fetches public keys (default: 5 s timeout).
	Client *http.Client
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives why a header was refused (never the header itself).
	Log *slog.Logger
}

// Verifier checks x-amzn-oidc-data headers.
type Verifier struct {
	cfg    Config
	albs   []albARN
	parser *jwt.Parser
	keys   *keyCache
	// fetches bounds key-service requests: a forged header can name any kid, and a flood
	// of made-up ones must not become a flood of outbound requests. The ALB rotates keys
	// rarely, so the few it uses are fetched once and then served from the cache.
	fetches *rate.Limiter
}

// albARN is arn:PARTITION:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME/ID.
type albARN struct{ partition, region, account, name, id string }

var albARNPattern = regexp.MustCompile(`^arn:(aws[a-z-]*):elasticloadbalancing:([a-z0-9-]+):([0-9]{12}):loadbalancer/app/([A-Za-z0-9-]{1,32})(?:/([0-9a-f]{1,32}))?$`)

func parseALB(s string) (albARN, bool) {
	m := albARNPattern.FindStringSubmatch(s)
	if m == nil {
		return albARN{}, false
	}
	return albARN{m[1], m[2], m[3], m[4], m[5]}, true
}

// allows: a configured ARN without id pins the name; with an id, exactly that ALB.
func (a albARN) allows(signer albARN) bool {
	return signer.id != "" && a.partition == signer.partition && a.region == signer.region &&
		a.account == signer.account && a.name == signer.name && (a.id == "" || a.id == signer.id)
}

// New checks the configuration and returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("issuer is required"))
	}
	if cfg.GroupsClaim == "" {
		errs = append(errs, errors.New("groups claim is required"))
	}
	if cfg.ViewerGroup == "" || cfg.TesterGroup == "" {
		errs = append(errs, errors.New("viewer and tester groups are required"))
	}
	if len(cfg.ALBs) == 0 {
		errs = append(errs, errors.New("at least one ALB ARN is required"))
	}
	v := &Verifier{cfg: cfg, keys: newKeyCache(64), fetches: rate.NewLimiter(rate.Every(time.Second), 10)}
	for _, s := range cfg.ALBs {
		a, ok := parseALB(strings.TrimSpace(s))
		if !ok {
			errs = append(errs, fmt.Errorf("%q is not an ALB ARN (arn:aws:elasticloadbalancing:REGION:ACCOUNT:loadbalancer/app/NAME[/ID])", s))
			continue
		}
		v.albs = append(v.albs, a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if v.cfg.Leeway == 0 {
		v.cfg.Leeway = 30 * time.Second
	}
	if v.cfg.Client == nil {
		v.cfg.Client = &http.Client{Timeout: 5 * time.Second}
	}
	if v.cfg.Now == nil {
		v.cfg.Now = time.Now
	}
	if v.cfg.Log == nil {
		v.cfg.Log = slog.New(slog.DiscardHandler)
	}
	v.parser = jwt.NewParser(
		// Only the ALB's algorithm: no "none", no HS256 keyed with the public key.
		jwt.WithValidMethods([]string{jwt.SigningMethodES256.Alg()}),
		// The ALB pads its base64url segments, which RFC 7515 leaves out.
		jwt.WithPaddingAllowed(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithLeeway(v.cfg.Leeway),
		jwt.WithTimeFunc(v.cfg.Now),
	)
	return v, nil
}

// Error is why a header was refused; its text never contains the header.
type Error struct{ Reason string }

func (e *Error) Error() string { return "albauth: " + e.Reason }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// ALB key ids are UUIDs; anything else is refused before it becomes part of a URL.
var kidPattern = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// Verify checks one header value and returns the operator it names.
func (v *Verifier) Verify(ctx context.Context, header string) (Identity, error) {
	if header == "" {
		return Identity{}, refuse("no %s header", Header)
	}
	if len(header) > maxHeaderBytes {
		return Identity{}, refuse("header longer than %d bytes", maxHeaderBytes)
	}
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(header, claims, func(t *jwt.Token) (any, error) {
		signerStr, _ := t.Header["signer"].(string)
		signer, ok := parseALB(signerStr)
		if !ok || !slices.ContainsFunc(v.albs, func(a albARN) bool { return a.allows(signer) }) {
			return nil, refuse("signer is not a configured ALB")
		}
		kid, _ := t.Header["kid"].(string)
		if !kidPattern.MatchString(kid) {
			return nil, refuse("missing or malformed kid")
		}
		base := v.cfg.KeysURL
		if base == "" {
			if signer.partition != "aws" {
				return nil, refuse("no key endpoint known for partition %s; set the keys URL", signer.partition)
			}
			base = "https://public-keys.auth.elb." + signer.region + ".amazonaws.com"
		}
		return v.key(ctx, strings.TrimRight(base, "/")+"/"+kid)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return Identity{}, e
		}
		return Identity{}, refuse("%v", err)
	}
	id := Identity{}
	id.Subject, _ = claims["sub"].(string)
	id.Email, _ = claims["email"].(string)
	if id.Subject == "" {
		return Identity{}, refuse("no sub claim")
	}
	switch g := claims[v.cfg.GroupsClaim].(type) {
	case string:
		id.Groups = []string{g}
	case []any:
		for _, x := range g {
			if s, ok := x.(string); ok {
				id.Groups = append(id.Groups, s)
			}
		}
	}
	switch {
	case slices.Contains(id.Groups, v.cfg.TesterGroup):
		id.Role = RoleTester
	case slices.Contains(id.Groups, v.cfg.ViewerGroup):
		id.Role = RoleViewer
	}
	return id, nil
}

// key returns the public key at url, from the cache or the key service.
func (v *Verifier) key(ctx context.Context, url string) (*ecdsa.PublicKey, error) {
	if k, ok := v.keys.get(url); ok {
		return k, nil
	}
	if !v.fetches.Allow() {
		return nil, refuse("too many key fetches; refusing an uncached kid")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, refuse("key request: %v", err)
	}
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return nil, refuse("key service unreachable: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 8<<10))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, refuse("key service answered %d", resp.StatusCode)
	}
	k, err := parsePublicKey(raw)
	if err != nil {
		return nil, refuse("key service sent %v", err)
	}
	v.keys.put(url, k)
	return k, nil
}

func parsePublicKey(raw []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("no PEM public key")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, errors.New("a key that is not ECDSA P-256")
	}
	return k, nil
}

// keyCache keeps keys by URL (so by key id), at most max of them: the ALB rotates
// keys rarely, and a flood of made-up key ids cannot grow it without bound.
type keyCache struct {
	mu    sync.Mutex
	max   int
	order []string
	keys  map[string]*ecdsa.PublicKey
}

func newKeyCache(max int) *keyCache {
	return &keyCache{max: max, keys: map[string]*ecdsa.PublicKey{}}
}

func (c *keyCache) get(url string) (*ecdsa.PublicKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[url]
	return k, ok
}

func (c *keyCache) put(url string, k *ecdsa.PublicKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.keys[url]; ok {
		return
	}
	if len(c.order) >= c.max {
		delete(c.keys, c.order[0])
		c.order = c.order[1:]
	}
	c.order = append(c.order, url)
	c.keys[url] = k
}

type ctxKey struct{}

// FromContext returns the operator a Middleware verified for this request.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// WithIdentity returns ctx carrying id (for handlers tested without the middleware).
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// Middleware lets through only requests with a valid header from a user in the viewer
// or tester group: 401 without a valid header, 403 for a user in neither group. The
// identity is in the request's context for the handlers (FromContext).
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := v.Verify(r.Context(), r.Header.Get(Header))
		if err != nil {
			v.cfg.Log.Warn("operator not authenticated", "path", r.URL.Path, "reason", err.Error())
			writeError(w, http.StatusUnauthorized, "unauthenticated", "a valid ALB OIDC identity is required")
			return
		}
		if id.Role == RoleNone {
			v.cfg.Log.Warn("operator not authorized", "path", r.URL.Path, "subject", id.Subject, "groups", id.Groups)
			writeError(w, http.StatusForbidden, "forbidden", "not a member of the console's viewer or tester group")
			return
		}
		next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
	})
}

// RequireTester lets through only operators with RoleTester (403 otherwise); use it
// behind Middleware.
func RequireTester(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := FromContext(r.Context()); !ok || id.Role != RoleTester {
			writeError(w, http.StatusForbidden, "forbidden", "submitting test transactions needs the tester group")
			return
		}
		next.ServeHTTP(w, r)
	})
}
