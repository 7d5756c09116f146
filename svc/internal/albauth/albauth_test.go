package albauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/transaction-validator/transaction-validator/svc/internal/albauth"
	"github.com/transaction-validator/transaction-validator/svc/internal/albauth/albauthtest"
)

func newVerifier(t testing.TB, ks *albauthtest.KeyService) *albauth.Verifier {
	t.Helper()
	v, err := albauth.New(albauthtest.Config(ks))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerify(t *testing.T) {
	ks := albauthtest.NewKeyService(t)
	good := ks.NewKey(t, "11111111-1111-1111-1111-111111111111")
	other := ks.NewKey(t, "22222222-2222-2222-2222-222222222222")
	v := newVerifier(t, ks)

	viewer := albauthtest.Claims("u-viewer", "viewer@example.com", albauthtest.ViewerGroup)
	tester := albauthtest.Claims("u-tester", "tester@example.com", "other", albauthtest.TesterGroup)
	stranger := albauthtest.Claims("u-stranger", "", "sales")
	with := func(c jwt.MapClaims, k string, val any) jwt.MapClaims {
		out := jwt.MapClaims{}
		for kk, vv := range c {
			out[kk] = vv
		}
		if val == nil {
			delete(out, k)
		} else {
			out[k] = val
		}
		return out
	}
	// A key published under good's id that is not good's: the signature cannot match.
	wrongKey := albauthtest.Key{ID: "33333333-3333-3333-3333-333333333333", Private: other.Private}
	ks.Publish(t, wrongKey.ID, &good.Private.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(&good.Private.PublicKey)
	hs256, err := jwt.NewWithClaims(jwt.SigningMethodHS256, viewer).SignedString(der)
	if err != nil {
		t.Fatal(err)
	}
	hsWithHeader := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, viewer)
		tok.Header["kid"], tok.Header["signer"] = good.ID, albauthtest.ALB
		s, _ := tok.SignedString(der)
		return s
	}()
	unpadded := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, viewer)
		tok.Header["kid"], tok.Header["signer"] = good.ID, albauthtest.ALB
		s, err := tok.SignedString(good.Private)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}()
	otherALB := strings.Replace(albauthtest.ALB, "tv-test", "tv-evil", 1)
	otherAccount := strings.Replace(albauthtest.ALB, "123456789012", "210987654321", 1)

	for _, c := range []struct {
		name   string
		header string
		role   albauth.Role
		sub    string
	}{
		{"valid viewer", albauthtest.Sign(t, good, albauthtest.ALB, viewer), albauth.RoleViewer, "u-viewer"},
		{"valid tester", albauthtest.Sign(t, good, albauthtest.ALB, tester), albauth.RoleTester, "u-tester"},
		{"valid, unpadded segments", unpadded, albauth.RoleViewer, "u-viewer"},
		{"padding stripped after signing", strings.ReplaceAll(albauthtest.Sign(t, good, albauthtest.ALB, viewer), "=", ""), 0, ""},
		{"valid, in no console group", albauthtest.Sign(t, good, albauthtest.ALB, stranger), albauth.RoleNone, "u-stranger"},
		{"groups claim as one string", albauthtest.Sign(t, good, albauthtest.ALB, with(viewer, "groups", albauthtest.TesterGroup)), albauth.RoleTester, "u-viewer"},
		{"expired", albauthtest.Sign(t, good, albauthtest.ALB, with(viewer, "exp", time.Now().Add(-2*time.Minute).Unix())), 0, ""},
		{"expired within leeway", albauthtest.Sign(t, good, albauthtest.ALB, with(viewer, "exp", time.Now().Add(-5*time.Second).Unix())), albauth.RoleViewer, "u-viewer"},
		{"no exp", albauthtest.Sign(t, good, albauthtest.ALB, with(viewer, "exp", nil)), 0, ""},
		{"wrong key (kid resolves to another key)", albauthtest.Sign(t, wrongKey, albauthtest.ALB, viewer), 0, ""},
		{"unknown kid", albauthtest.Sign(t, albauthtest.Key{ID: "44444444-4444-4444-4444-444444444444", Private: good.Private}, albauthtest.ALB, viewer), 0, ""},
		{"wrong issuer", albauthtest.Sign(t, good, albauthtest.ALB, with(viewer, "iss", "https://evil.example")), 0, ""},
		{"wrong signer (another ALB)", albauthtest.Sign(t, good, otherALB, viewer), 0, ""},
		{"wrong signer (same name, other account)", albauthtest.Sign(t, good, otherAccount, viewer), 0, ""},
		{"no sub", albauthtest.Sign(t, good, albauthtest.ALB, with(viewer, "sub", nil)), 0, ""},
		{"missing header", "", 0, ""},
		{"malformed header", "not.a.jwt", 0, ""},
		{"two segments", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0", 0, ""},
		{"forged unsigned (alg none)", albauthtest.Unsigned(
			map[string]any{"alg": "none", "kid": good.ID, "signer": albauthtest.ALB}, viewer, nil), 0, ""},
		{"HS256 keyed with the public key", hs256, 0, ""},
		{"HS256 keyed with the public key, ALB header", hsWithHeader, 0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			id, err := v.Verify(context.Background(), c.header)
			if c.sub == "" {
				var e *albauth.Error
				if err == nil || !errors.As(err, &e) {
					t.Fatalf("accepted: %+v, %v", id, err)
				}
				if c.header != "" && strings.Contains(err.Error(), c.header) {
					t.Fatal("the error repeats the header")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if id.Role != c.role || id.Subject != c.sub {
				t.Fatalf("got %+v, want role %v subject %s", id, c.role, c.sub)
			}
		})
	}
}

func TestKeysAreCachedByKid(t *testing.T) {
	ks := albauthtest.NewKeyService(t)
	k := ks.NewKey(t, "11111111-1111-1111-1111-111111111111")
	v := newVerifier(t, ks)
	h := albauthtest.Sign(t, k, albauthtest.ALB, albauthtest.Claims("u", "", albauthtest.ViewerGroup))
	for range 5 {
		if _, err := v.Verify(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if n := ks.Fetches(); n != 1 {
		t.Fatalf("%d key fetches for one kid, want 1", n)
	}
}

// A key id is never fetched unless it looks like one: it becomes part of the key URL.
func TestOddKidsAreNotFetched(t *testing.T) {
	ks := albauthtest.NewKeyService(t)
	k := ks.NewKey(t, "11111111-1111-1111-1111-111111111111")
	v := newVerifier(t, ks)
	for _, kid := range []string{"", "../" + k.ID, k.ID + "?x=1", "a/b", strings.Repeat("a", 65)} {
		h := albauthtest.Sign(t, albauthtest.Key{ID: kid, Private: k.Private}, albauthtest.ALB, albauthtest.Claims("u", "", albauthtest.ViewerGroup))
		if _, err := v.Verify(context.Background(), h); err == nil {
			t.Errorf("kid %q accepted", kid)
		}
	}
	if n := ks.Fetches(); n != 0 {
		t.Fatalf("%d key fetches for malformed kids", n)
	}
}

// Made-up key ids in forged headers cannot turn into unbounded requests to the key
// service, and keys already cached keep working meanwhile.
func TestKeyFetchesAreBounded(t *testing.T) {
	ks := albauthtest.NewKeyService(t)
	k := ks.NewKey(t, "11111111-1111-1111-1111-111111111111")
	v := newVerifier(t, ks)
	claims := albauthtest.Claims("u", "", albauthtest.ViewerGroup)
	valid := albauthtest.Sign(t, k, albauthtest.ALB, claims)
	if _, err := v.Verify(context.Background(), valid); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 100 {
		kid := fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		if _, err := v.Verify(context.Background(), albauthtest.Sign(t, albauthtest.Key{ID: kid, Private: k.Private}, albauthtest.ALB, claims)); err == nil {
			t.Fatal("unknown kid accepted")
		}
	}
	// The limiter allows a burst of 10 and one more a second: on a loaded machine the loop
	// can take seconds, so the bound grows with the time it took, never towards 100.
	elapsed := time.Since(start)
	if n, most := ks.Fetches(), 10+int(elapsed/time.Second)+2; n > most {
		t.Fatalf("%d key fetches for 100 made-up kids in %v; want at most %d (the burst of 10, one a second)", n, elapsed.Round(time.Millisecond), most)
	}
	if _, err := v.Verify(context.Background(), valid); err != nil {
		t.Fatalf("a cached key stopped working during the flood: %v", err)
	}
}

func TestSignerMatchesNameOrFullARN(t *testing.T) {
	ks := albauthtest.NewKeyService(t)
	k := ks.NewKey(t, "11111111-1111-1111-1111-111111111111")
	claims := albauthtest.Claims("u", "", albauthtest.ViewerGroup)
	byName := albauthtest.Config(ks)
	byName.ALBs = []string{"arn:aws:elasticloadbalancing:eu-central-1:123456789012:loadbalancer/app/tv-test"}
	v, err := albauth.New(byName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), albauthtest.Sign(t, k, albauthtest.ALB, claims)); err != nil {
		t.Fatalf("ALB named in config refused: %v", err)
	}
	// A signer without its id is not an ALB's ARN.
	if _, err := v.Verify(context.Background(), albauthtest.Sign(t, k, byName.ALBs[0], claims)); err == nil {
		t.Fatal("signer without an id accepted")
	}
	other := strings.Replace(albauthtest.ALB, "50dc6c495c0c9188", "0000000000000001", 1)
	if _, err := newVerifier(t, ks).Verify(context.Background(), albauthtest.Sign(t, k, other, claims)); err == nil {
		t.Fatal("a full ARN in config accepted another ALB id")
	}
}

func TestNewNamesEachMissingSetting(t *testing.T) {
	_, err := albauth.New(albauth.Config{ALBs: []string{"arn:aws:s3:::bucket"}})
	if err == nil {
		t.Fatal("empty config accepted")
	}
	for _, want := range []string{"issuer", "groups claim", "viewer and tester", "not an ALB ARN"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestMiddleware(t *testing.T) {
	ks := albauthtest.NewKeyService(t)
	k := ks.NewKey(t, "11111111-1111-1111-1111-111111111111")
	v := newVerifier(t, ks)
	h := v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := albauth.FromContext(r.Context())
		if r.Method == http.MethodPost {
			albauth.RequireTester(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = w.Write([]byte("secret data for " + id.Subject))
			})).ServeHTTP(w, r)
			return
		}
		_, _ = w.Write([]byte("secret data for " + id.Subject))
	}))
	for _, c := range []struct {
		name, method, header string
		want                 int
	}{
		{"viewer reads", "GET", albauthtest.Sign(t, k, albauthtest.ALB, albauthtest.Claims("v", "", albauthtest.ViewerGroup)), 200},
		{"viewer submits", "POST", albauthtest.Sign(t, k, albauthtest.ALB, albauthtest.Claims("v", "", albauthtest.ViewerGroup)), 403},
		{"tester submits", "POST", albauthtest.Sign(t, k, albauthtest.ALB, albauthtest.Claims("t", "", albauthtest.TesterGroup)), 200},
		{"no console group", "GET", albauthtest.Sign(t, k, albauthtest.ALB, albauthtest.Claims("s", "", "sales")), 403},
		{"no header", "GET", "", 401},
		{"garbage", "GET", "x.y.z", 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(c.method, "/console/", nil)
			if c.header != "" {
				req.Header.Set(albauth.Header, c.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, c.want)
			}
			if c.want != 200 {
				var body struct {
					Error struct{ Code string } `json:"error"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code == "" ||
					strings.Contains(rec.Body.String(), "secret data") {
					t.Fatalf("refusal is not a JSON error: %s", rec.Body)
				}
			}
		})
	}
}

// FuzzVerify: no header, however broken, panics the verifier or gets an identity without
// a signature from the trusted key.
func FuzzVerify(f *testing.F) {
	ks := albauthtest.NewKeyService(f)
	k := ks.NewKey(f, "11111111-1111-1111-1111-111111111111")
	v := newVerifier(f, ks)
	valid := albauthtest.Sign(f, k, albauthtest.ALB, albauthtest.Claims("u", "", albauthtest.ViewerGroup))
	f.Add(valid)
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(strings.Repeat("=", 100))
	stranger, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := albauthtest.Sign(f, albauthtest.Key{ID: k.ID, Private: stranger}, albauthtest.ALB, albauthtest.Claims("u", "", albauthtest.ViewerGroup))
	f.Add(forged)
	f.Fuzz(func(t *testing.T, header string) {
		id, err := v.Verify(context.Background(), header)
		if err != nil {
			return
		}
		// Accepted: it must be the one valid token, modulo base64 padding/encoding slack
		// in the signature segment that still decodes to the same signature.
		if id.Subject != "u" || strings.Count(header, ".") != 2 {
			t.Fatalf("accepted %q as %+v", header, id)
		}
	})
}
