// Package albauthtest plays the ALB's part in tests: a key service serving PEM public
// keys by key id over HTTP, and a signer producing x-amzn-oidc-data headers the way the
// ALB does (ES256, kid and signer in the JWT header, padded base64url segments).
package albauthtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
)

// Defaults a test's Verifier is configured with (see Config).
const (
	Issuer      = "https://idp.test.example/oauth2"
	ALB         = "arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/tv-test/50dc6c495c0c9188"
	ViewerGroup = "txv-console-viewers"
	TesterGroup = "txv-console-testers"
	GroupsClaim = "groups"
)

// KeyService serves public keys by key id, like public-keys.auth.elb.REGION.amazonaws.com.
type KeyService struct {
	URL string

	mu      sync.Mutex
	pems    map[string][]byte
	fetches int
}

// Key is one signing key with its id.
type Key struct {
	ID      string
	Private *ecdsa.PrivateKey
}

// NewKeyService starts a key service, stopped when the test ends.
func NewKeyService(t testing.TB) *KeyService {
	t.Helper()
	ks := &KeyService{pems: map[string][]byte{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks.mu.Lock()
		defer ks.mu.Unlock()
		ks.fetches++
		p, ok := ks.pems[strings.TrimPrefix(r.URL.Path, "/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(p)
	}))
	t.Cleanup(srv.Close)
	ks.URL = srv.URL
	return ks
}

// NewKey makes a P-256 key and publishes its public half under id.
func (ks *KeyService) NewKey(t testing.TB, id string) Key {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ks.Publish(t, id, &k.PublicKey)
	return Key{ID: id, Private: k}
}

// Publish serves pub under id (a test may publish another key under a signer's id).
func (ks *KeyService) Publish(t testing.TB, id string, pub *ecdsa.PublicKey) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.pems[id] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Fetches is how many key requests the service has answered.
func (ks *KeyService) Fetches() int {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	return ks.fetches
}

// Claims returns the payload the ALB would send for a user in groups, valid for a minute.
func Claims(sub, email string, groups ...string) jwt.MapClaims {
	return jwt.MapClaims{
		"sub": sub, "email": email, GroupsClaim: groups,
		"iss": Issuer, "exp": time.Now().Add(time.Minute).Unix(),
	}
}

// Sign returns claims as an x-amzn-oidc-data value signed by k for the ALB signer. Like
// the ALB, it pads the base64url segments and signs the padded text.
func Sign(t testing.TB, k Key, signer string, claims jwt.MapClaims) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "ES256", "typ": "JWT", "kid": k.ID, "signer": signer,
		"iss": claims["iss"], "client": "console-client", "exp": claims["exp"]})
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	text := base64.URLEncoding.EncodeToString(h) + "." + base64.URLEncoding.EncodeToString(c)
	sig, err := jwt.SigningMethodES256.Sign(text, k.Private)
	if err != nil {
		t.Fatal(err)
	}
	return text + "." + base64.URLEncoding.EncodeToString(sig)
}

// Unsigned builds a token by hand with any header (alg "none", a forged signer...) and
// the given signature bytes.
func Unsigned(header, claims map[string]any, sig []byte) string {
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." +
		base64.RawURLEncoding.EncodeToString(sig)
}

// Config is a Verifier configuration that trusts ks, Issuer and ALB.
func Config(ks *KeyService) albauth.Config {
	return albauth.Config{Issuer: Issuer, ALBs: []string{ALB}, KeysURL: ks.URL, GroupsClaim: GroupsClaim,
		ViewerGroup: ViewerGroup, TesterGroup: TesterGroup}
}
