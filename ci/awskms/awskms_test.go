package awskms

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The Terraform that makes the key: the module call of the image-signing key and the kms
// module it calls, read by the test so that the key made on the emulator is the key the
// module asks AWS for, and the actions cosign calls are held to the ones its policy grants.
const (
	ciIdentitiesTF = "../../infra/modules/ci-identities/main.tf"
	kmsTF          = "../../infra/modules/kms/main.tf"
)

// namePrefix stands for the module's name_prefix (tv-<env> in infra/envs).
const namePrefix = "tv-test"

// moduleKey is what the Terraform makes: the alias, key spec and key usage of the
// image-signing key, and the actions its policy grants the signer and the verifiers.
type moduleKey struct {
	alias, spec, usage         string
	signActions, verifyActions []string
}

// readModuleKey reads moduleKey from the Terraform source (a regular expression per value,
// as kustomize's tests read infra/envs/outputs.tf; each one failing loudly if it no longer
// matches, so a refactoring of the module cannot silently leave this test behind).
func readModuleKey(t *testing.T) moduleKey {
	t.Helper()
	ci := readFile(t, ciIdentitiesTF)
	block := submatch(t, ciIdentitiesTF, `(?ms)^module "image_signing_key" \{\n(.*?)^\}`, ci)
	kms := readFile(t, kmsTF)
	return moduleKey{
		alias: "alias/" + namePrefix + "/" + submatch(t, ciIdentitiesTF, `(?m)^\s*alias\s*=\s*"\$\{var\.name_prefix\}/([a-z0-9/_-]+)"\s*$`, block),
		spec:  submatch(t, ciIdentitiesTF, `(?m)^\s*key_spec\s*=\s*"([A-Z0-9_]+)"\s*$`, block),
		// The usage of a key made with `signing`, the first branch of the conditional.
		usage:         submatch(t, kmsTF, `(?m)^\s*key_usage\s*=\s*local\.signing \? "([A-Z_]+)" : "[A-Z_]+"\s*$`, kms),
		signActions:   quoted(submatch(t, kmsTF, `(?m)^\s*sign_actions\s*=\s*\[([^\]]*)\]\s*$`, kms)),
		verifyActions: quoted(submatch(t, kmsTF, `(?m)^\s*verify_actions\s*=\s*\[([^\]]*)\]\s*$`, kms)),
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func submatch(t *testing.T, file, re, s string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%s no longer matches %s: update the test with the module", file, re)
	}
	return m[1]
}

// quoted returns the quoted strings of an HCL list's inside.
func quoted(list string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`"([^"]+)"`).FindAllStringSubmatch(list, -1) {
		out = append(out, m[1])
	}
	return out
}

// tool finds a program the test drives. Absent, it skips the test with the way to get
// it, except under TXV_REQUIRE_SERVERS=1, where it fails (as kustomize's Lua tests do).
func tool(t *testing.T, env, name, hint string) string {
	t.Helper()
	if p := os.Getenv(env); env != "" && p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found: %s", name, hint)
	if os.Getenv("TXV_REQUIRE_SERVERS") == "1" {
		t.Fatal(msg)
	}
	t.Skip("skipping: " + msg)
	return ""
}

// emulator is a moto_server on the loopback that records every request it serves.
type emulator struct {
	endpoint  string
	recording string
}

// startMoto starts moto_server on a free loopback port with its request recorder on, and
// stops it (this process only) when the test ends.
func startMoto(t *testing.T, bin string) *emulator {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	dir := t.TempDir()
	e := &emulator{endpoint: "http://" + addr, recording: filepath.Join(dir, "requests.jsonl")}
	var log bytes.Buffer
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", port)
	cmd.Env = append(os.Environ(), "MOTO_ENABLE_RECORDING=True", "MOTO_RECORDER_FILEPATH="+e.recording)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("moto_server did not listen on %s within 60 s:\n%s", addr, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// request is one KMS request the emulator served: its action and its JSON body.
type request struct {
	action string
	body   map[string]any
}

// take returns the KMS requests recorded since the last call and clears the recording.
func (e *emulator) take(t *testing.T) []request {
	t.Helper()
	b, err := os.ReadFile(e.recording)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.recording, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	var out []request
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var entry struct {
			Headers     map[string]string `json:"headers"`
			Body        string            `json:"body"`
			BodyEncoded bool              `json:"body_encoded"`
		}
		if err := json.Unmarshal(sc.Bytes(), &entry); err != nil {
			t.Fatalf("recording: %v", err)
		}
		target := ""
		for k, v := range entry.Headers {
			if strings.EqualFold(k, "X-Amz-Target") {
				target = v
			}
		}
		op, ok := strings.CutPrefix(target, "TrentService.")
		if !ok {
			continue // not KMS
		}
		body := []byte(entry.Body)
		if entry.BodyEncoded {
			if body, err = base64.StdEncoding.DecodeString(entry.Body); err != nil {
				t.Fatalf("recording: %v", err)
			}
		}
		r := request{action: "kms:" + op}
		if err := json.Unmarshal(body, &r.body); err != nil {
			t.Fatalf("recording: %s body: %v", op, err)
		}
		out = append(out, r)
	}
	return out
}

// actions are the distinct actions of requests, sorted.
func actions(rs []request) []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.action) {
			out = append(out, r.action)
		}
	}
	slices.Sort(out)
	return out
}

// run runs a command with env and returns its stdout; stderr goes into the error.
func run(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// awsEnv is the environment of every AWS client here: dummy credentials of no profile, one
// region, and every SDK client sent to the emulator (AWS_ENDPOINT_URL, which both the AWS
// CLI and cosign's aws-sdk-go-v2 read).
func awsEnv(endpoint string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"AWS_ACCESS_KEY_ID=testing", "AWS_SECRET_ACCESS_KEY=testing",
		"AWS_REGION=eu-central-1", "AWS_DEFAULT_REGION=eu-central-1",
		"AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent",
		"AWS_ENDPOINT_URL="+endpoint)
}

// digestHash is the hash cosign signs with for an ECC key spec (KMS's ECDSA_SHA_*).
var digestHash = map[string]crypto.Hash{
	"ECC_NIST_P256": crypto.SHA256,
	"ECC_NIST_P384": crypto.SHA384,
	"ECC_NIST_P521": crypto.SHA512,
}

func sum(h crypto.Hash, b []byte) []byte {
	w := h.New()
	w.Write(b)
	return w.Sum(nil)
}

// TestCosignSignsWithTheModulesKeyThroughAWSKMS proves the online signing path without AWS:
// the image-signing key is made on moto_server the way infra/modules/ci-identities makes it
// (its key spec and usage, its alias), then cosign, the offline build of the pinned
// version, reaches it as `awskms:///alias/...` the way `dagger call sign --kms-key` does:
//
//   - `cosign public-key` prints the key's own public key (KMS GetPublicKey, the root's
//     signing_public_key output), which deploy is given as SIGNING_PUBLIC_KEY;
//   - `cosign sign-blob` asks KMS to sign the blob's digest (MessageType DIGEST, the key's
//     algorithm) and calls only actions the key policy grants the signer (../kms's
//     sign_actions); `cosign verify-blob --key awskms://` only the verifiers' actions;
//   - `cosign verify-blob` with that public key accepts the signature.
//
// moto 5.2.1 ignores MessageType=DIGEST and hashes the digest again before signing
// (getmoto/moto#10202, open), so its signature is over SHA-256 of the digest and no
// verifier accepts it, where AWS's would be accepted. The last subtest then skips, after
// checking that exactly this happened; the others hold against it.
func TestCosignSignsWithTheModulesKeyThroughAWSKMS(t *testing.T) {
	cosign := tool(t, "COSIGN", "cosign", `eval "$(airgap/sign-tools.sh)" sets COSIGN`)
	moto := tool(t, "", "moto_server", "pip install 'moto[server]==5.2.1' (scripts/staged/23-infra-emulator.sh pins it)")
	awscli := tool(t, "", "aws", "apt-get install awscli (or pip install awscli)")
	key := readModuleKey(t)
	h, ok := digestHash[key.spec]
	if !ok {
		t.Fatalf("the module's key spec %s is not one this test knows the digest of (ECC_NIST_P256/384/521)", key.spec)
	}

	e := startMoto(t, moto)
	env := awsEnv(e.endpoint)
	// cosign keeps its TUF cache under HOME; this one is the test's.
	cosignEnv := append(slices.Clone(env), "HOME="+t.TempDir())
	id, err := run(t, env, awscli, "kms", "create-key", "--key-spec", key.spec, "--key-usage", key.usage,
		"--description", "image signing (test)", "--query", "KeyMetadata.KeyId", "--output", "text")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, env, awscli, "kms", "create-alias", "--alias-name", key.alias, "--target-key-id", strings.TrimSpace(id)); err != nil {
		t.Fatal(err)
	}
	ref := "awskms:///" + key.alias
	dir := t.TempDir()
	pubFile := filepath.Join(dir, "cosign.pub")
	blobFile, sigFile := filepath.Join(dir, "blob"), filepath.Join(dir, "blob.sig")
	blob := []byte("an image digest stands here: sha256:0123456789abcdef\n")
	digest := sum(h, blob)
	var pub *ecdsa.PublicKey
	e.take(t)

	// cosign's public key is the key's own (what the root outputs as signing_public_key).
	if !t.Run("public-key is the key's own", func(t *testing.T) {
		pubPEM, err := run(t, cosignEnv, cosign, "public-key", "--key", ref)
		if err != nil {
			t.Fatalf("cosign could not read the public key of %s: %v", ref, err)
		}
		der, err := run(t, env, awscli, "kms", "get-public-key", "--key-id", key.alias, "--query", "PublicKey", "--output", "text")
		if err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(der))
		if err != nil {
			t.Fatal(err)
		}
		if want := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: raw})); strings.TrimSpace(pubPEM) != strings.TrimSpace(want) {
			t.Fatalf("cosign public-key printed\n%s\nKMS's public key is\n%s", pubPEM, want)
		}
		if got := actions(e.take(t)); !subset(got, key.signActions) {
			t.Errorf("cosign public-key called %v; the signer is granted %v", got, key.signActions)
		}
		block, _ := pem.Decode([]byte(pubPEM))
		parsed, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		var ok bool
		if pub, ok = parsed.(*ecdsa.PublicKey); !ok {
			t.Fatalf("the public key is a %T, not ECDSA", parsed)
		}
		if err := os.WriteFile(pubFile, []byte(pubPEM), 0o600); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}

	// sign-blob: KMS is asked to sign the blob's digest, through the signer's actions only.
	if !t.Run("sign-blob asks KMS to sign the digest", func(t *testing.T) {
		if err := os.WriteFile(blobFile, blob, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := run(t, cosignEnv, cosign, "sign-blob", "--yes", "--tlog-upload=false", "--key", ref,
			"--output-signature", sigFile, blobFile); err != nil {
			t.Fatalf("cosign could not sign with %s: %v", ref, err)
		}
		reqs := e.take(t)
		if got := actions(reqs); !subset(got, key.signActions) || !slices.Contains(got, "kms:Sign") {
			t.Errorf("cosign sign-blob called %v; the signer is granted %v", got, key.signActions)
		}
		for _, r := range reqs {
			if r.action != "kms:Sign" {
				continue
			}
			msg, _ := base64.StdEncoding.DecodeString(fmt.Sprint(r.body["Message"]))
			if r.body["MessageType"] != "DIGEST" || !bytes.Equal(msg, digest) || r.body["KeyId"] != key.alias {
				t.Errorf("KMS was asked to sign %v (MessageType %v, key %v), not the blob's digest %x as DIGEST with %s",
					r.body["Message"], r.body["MessageType"], r.body["KeyId"], digest, key.alias)
			}
		}
	}) {
		return
	}

	// verify-blob with the key reference reads only what the verifiers are granted (the
	// signature's validity is the next subtest's).
	t.Run("verify-blob --key awskms uses the verifiers' actions", func(t *testing.T) {
		_, _ = run(t, cosignEnv, cosign, "verify-blob", "--insecure-ignore-tlog", "--key", ref, "--signature", sigFile, blobFile)
		if got := actions(e.take(t)); len(got) == 0 || !subset(got, key.verifyActions) {
			t.Errorf("cosign verify-blob --key %s called %v; the verifiers are granted %v", ref, got, key.verifyActions)
		}
	})

	// verify-blob with the public key, as deploy verifies with SIGNING_PUBLIC_KEY.
	t.Run("verify-blob accepts the signature", func(t *testing.T) {
		b64, err := os.ReadFile(sigFile)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b64)))
		if err != nil {
			t.Fatalf("signature file: %v", err)
		}
		_, verr := run(t, cosignEnv, cosign, "verify-blob", "--insecure-ignore-tlog", "--key", pubFile, "--signature", sigFile, blobFile)
		switch {
		case ecdsa.VerifyASN1(pub, digest, sig):
			if verr != nil {
				t.Fatalf("the key signed the blob's digest, yet cosign verify-blob refused it: %v", verr)
			}
		case ecdsa.VerifyASN1(pub, sum(h, digest), sig):
			if verr == nil {
				t.Fatal("cosign verify-blob accepted a signature that is not over the blob's digest")
			}
			t.Skip("moto hashed the digest cosign sent as MessageType=DIGEST again before signing it (moto 5.2.1 ignores " +
				"MessageType: getmoto/moto#10202), so no verifier accepts this signature; AWS signs the digest as given. " +
				"Not checked here: that cosign verify-blob accepts a KMS signature")
		default:
			t.Fatalf("the signature verifies neither over the blob's digest nor over its hash: not made by %s", key.alias)
		}
	})
}

// subset reports whether every element of a is in b.
func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
