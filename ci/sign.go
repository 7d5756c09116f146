package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"

	"dagger/transaction-validator/internal/dagger"
	"dagger/transaction-validator/pins"
)

// Build once, sign, attest, deploy only that (docs/pipeline.md, "Signed images").
//
// sign builds a workload's image once, scans that very container, and only when the scan
// passes pushes it and signs its digest with cosign, attaching two in-toto attestations to
// the same digest: its CycloneDX SBOM and the scan result. publish copies that digest with
// its signature and attestations to the target registry (cosign copy: no rebuild, same
// digest). deploy verifies, before it touches the cluster, that every image it is given is
// signed by the pipeline's key and carries a passing scan attestation for its own digest.
//
// Signing is key-based (an AWS KMS key online, a local key pair air-gapped) with no
// transparency-log upload in either mode: air-gapped, Rekor and Fulcio are unreachable,
// and one mode means the path tested offline is the one that runs online. The record of
// each signing online is the KMS key's CloudTrail log.

// scanPredicateType is the in-toto predicate type of the scan-result attestation.
const scanPredicateType = "https://transaction-validator.dev/attestations/image-scan/v1"

// scanPassed is the verdict a scan attestation must carry for deploy to accept an image.
const scanPassed = "passed"

// scanPredicate is the body of the scan-result attestation: what was scanned for, by
// which scanner, the gate it was held to and its verdict, and the scanner's own report.
type scanPredicate struct {
	Scanner  string          `json:"scanner"`
	Scanners []string        `json:"scanners"`
	NotRun   []string        `json:"notRun,omitempty"`
	Gate     string          `json:"gate"`
	Result   string          `json:"result"`
	Findings []string        `json:"findings"`
	Version  string          `json:"version,omitempty"`
	Revision string          `json:"revision,omitempty"`
	Report   json.RawMessage `json:"report,omitempty"`
}

// signer is how cosign reaches the signing key and the registry: the key's flags, the
// container with the key material, credentials and registry tunnel mounted, and the
// extra flags every registry call needs.
type signer struct {
	c *dagger.Container
	// key is the value of cosign's --key: a KMS URI, or the mounted key file.
	key string
	// tunnel is the port of the caller's loopback registry reached as registry:PORT
	// (empty: none).
	tunnel string
}

// cosign returns the cosign tool image with registry credentials for hosts and the
// caller's loopback registry bound as "registry" when given.
func (m *TransactionValidator) cosign(ctx context.Context, hosts []string, username string, password *dagger.Secret,
	registry *dagger.Service) (*signer, error) {
	c := dag.Container().From(pins.Cosign).
		WithUser("0").
		WithEnvVariable("HOME", "/root").
		// The registry credentials are written for each call into a tmpfs that lives for
		// that call only, never into a layer the engine keeps.
		WithMountedTemp("/root/.docker")
	s := &signer{c: c}
	if registry != nil {
		endpoint, err := registry.Endpoint(ctx)
		if err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
		_, port, err := net.SplitHostPort(endpoint)
		if err != nil {
			return nil, fmt.Errorf("registry endpoint %q: %w", endpoint, err)
		}
		s.c = s.c.WithServiceBinding("registry", registry)
		s.tunnel = port
	}
	if password != nil {
		seen := make([]string, 0, len(hosts))
		for _, h := range hosts {
			seen = append(seen, s.hostFor(h))
		}
		s.c = s.c.WithSecretVariable("REGISTRY_PASSWORD", password).
			WithEnvVariable("REGISTRY_USER", username).
			WithEnvVariable("REGISTRY_HOSTS", strings.Join(seen, " "))
	}
	return s, nil
}

// withKey mounts the signing key: an AWS KMS key URI (awskms://...) with the AWS
// credentials file and region cosign's KMS client reads, or a cosign key file with its
// password. Exactly one of kmsKey and keyFile.
func (s *signer) withKey(kmsKey string, keyFile, keyPassword, awsCredentials *dagger.Secret, awsRegion string) error {
	switch {
	case kmsKey != "" && keyFile != nil:
		return fmt.Errorf("give either --kms-key or --signing-key, not both")
	case kmsKey != "":
		if !strings.HasPrefix(kmsKey, "awskms://") {
			return fmt.Errorf("kms-key %q is not an AWS KMS key reference (awskms:///alias/NAME or awskms:///arn:aws:kms:...)", kmsKey)
		}
		s.key = kmsKey
		if awsCredentials != nil {
			s.c = s.c.WithMountedSecret("/run/aws/credentials", awsCredentials, dagger.ContainerWithMountedSecretOpts{Mode: 0o400}).
				WithEnvVariable("AWS_SHARED_CREDENTIALS_FILE", "/run/aws/credentials")
		}
		if awsRegion != "" {
			s.c = s.c.WithEnvVariable("AWS_REGION", awsRegion)
		}
	case keyFile != nil:
		if keyPassword == nil {
			return fmt.Errorf("--signing-key needs --signing-password (the key file is encrypted with it)")
		}
		s.key = "/run/cosign/cosign.key"
		s.c = s.c.WithMountedSecret(s.key, keyFile, dagger.ContainerWithMountedSecretOpts{Mode: 0o400}).
			WithSecretVariable("COSIGN_PASSWORD", keyPassword)
	default:
		return fmt.Errorf("no signing key: give --kms-key=awskms://... (online) or --signing-key with --signing-password (air-gapped)")
	}
	return nil
}

// ref is the reference cosign uses for r: a registry on the caller's loopback goes
// through the tunnel, under the name registry:PORT, over plain HTTP.
func (s *signer) ref(r string) (string, error) {
	host, rest, _ := strings.Cut(r, "/")
	if !isLoopback(host) {
		return r, nil
	}
	if s.tunnel == "" {
		return "", fmt.Errorf("image %q is on the caller's loopback, which the engine's containers do not reach: pass --registry=tcp://%s", r, host)
	}
	return "registry:" + s.tunnel + "/" + rest, nil
}

// hostFor is the registry host cosign sees for host.
func (s *signer) hostFor(host string) string {
	if isLoopback(host) && s.tunnel != "" {
		return "registry:" + s.tunnel
	}
	return host
}

// flags are the registry flags of every cosign call. Through the tunnel to the caller's
// loopback registry (plain HTTP) every call needs --allow-http-registry, and `cosign
// verify` also --allow-insecure-registry: in cosign v2.6.1 verify builds its image
// reference's name options from that flag alone (cmd/cosign/cli/verify.go), so with the
// first only it still dials https://registry:PORT. Both apply to the tunnel only; a real
// registry (ECR) is always spoken to over verified TLS.
func (s *signer) flags() []string {
	if s.tunnel != "" {
		return []string{"--allow-http-registry", "--allow-insecure-registry"}
	}
	return nil
}

// isLoopback reports whether a registry host (host[:port]) is the caller's own machine.
func isLoopback(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// cosignScript runs cosign with its arguments after writing the registry credentials, when
// there are any, for every host in REGISTRY_HOSTS.
const cosignScript = `if [ -n "${REGISTRY_HOSTS:-}" ]; then
  auth=$(printf '%s:%s' "$REGISTRY_USER" "$REGISTRY_PASSWORD" | base64 -w0)
  sep=
  { printf '{"auths":{'
    for h in $REGISTRY_HOSTS; do printf '%s"%s":{"auth":"%s"}' "$sep" "$h" "$auth"; sep=,; done
    printf '}}'; } >/root/.docker/config.json
fi
unset REGISTRY_PASSWORD
exec cosign "$@"`

// run runs cosign with args and the registry flags (c: s.c with more mounted; nil: s.c).
func (s *signer) run(ctx context.Context, step string, c *dagger.Container, args ...string) (string, error) {
	if c == nil {
		c = s.c
	}
	args = append(args, s.flags()...)
	return run(ctx, c.WithEnvVariable("TXV_NONCE", nonce()), step, append([]string{"sh", "-ec", cosignScript, "cosign"}, args...)...)
}

// Sign builds one image once, scans it, then pushes, signs and attests that digest.
//
// Nothing is pushed or signed unless the scan passes. The image is scanned by scan-image's gate (no HIGH/CRITICAL findings); then it is
// pushed to repository, signed with cosign (no transparency log: key-based, see
// docs/pipeline.md) and given two attestations on the same digest: its CycloneDX SBOM
// (predicate type https://cyclonedx.org/bom) and the scan result (predicate type
// https://transaction-validator.dev/attestations/image-scan/v1). Returns
// REPOSITORY@sha256:..., what publish copies and deploy verifies.
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Sign(
	ctx context.Context,
	// Repository the signed image goes to, e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/transaction-validator-candidates.
	repository string,
	// Which workload: transaction-validator, operator-console, fx-rates-etl or canary-check.
	// +default="transaction-validator"
	name string,
	// Version stamped into the binary and the image labels: the commit on main. It is
	// stamped once, here; publish adds release tags without rebuilding.
	// +default="dev"
	version string,
	// Commit the image is built from (org.opencontainers.image.revision).
	// +optional
	revision string,
	// Tag to push under, when it is not the version (a second image in one repository,
	// e.g. canary-check's <sha>-canary-check beside the validator's <sha>).
	// +optional
	tag string,
	// Signing key online: an AWS KMS key, awskms:///alias/NAME or awskms:///arn:aws:kms:...
	// +optional
	kmsKey string,
	// Signing key air-gapped: a cosign key file (cosign.key, encrypted), as a secret.
	// +optional
	signingKey *dagger.Secret,
	// The password of --signing-key.
	// +optional
	signingPassword *dagger.Secret,
	// AWS credentials file (shared-credentials format) of a principal the key's policy lets sign (kms:Sign, kms:GetPublicKey, kms:DescribeKey).
	// +optional
	awsCredentials *dagger.Secret,
	// AWS region of --kms-key when it is an alias.
	// +optional
	awsRegion string,
	// Registry user name (ECR: AWS).
	// +optional
	username string,
	// Registry password (ECR: `aws ecr get-login-password`), as a secret.
	// +optional
	password *dagger.Secret,
	// The registry when only the caller's machine reaches it, e.g. tcp://127.0.0.1:5055
	// (the air-gapped engine's); spoken to over plain HTTP.
	// +optional
	registry *dagger.Service,
) (string, error) {
	host, _, _ := strings.Cut(repository, "/")
	s, err := m.cosign(ctx, []string{host}, username, password, registry)
	if err != nil {
		return "", err
	}
	if err := s.withKey(kmsKey, signingKey, signingPassword, awsCredentials, awsRegion); err != nil {
		return "", err
	}
	image, err := m.Image(ctx, name, version, revision)
	if err != nil {
		return "", err
	}
	// The scan gate runs on this very container: what is pushed below is what was scanned.
	predicate, err := m.scanAttestation(ctx, name, image, version, revision)
	if err != nil {
		return "", fmt.Errorf("not signing %s: %w", name, err)
	}
	if password != nil {
		image = image.WithRegistryAuth(host, username, password)
	}
	if tag == "" {
		tag = version
	}
	if !validTag(tag) {
		return "", fmt.Errorf("tag %q is not a valid image tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})", tag)
	}
	pushed, err := image.Publish(ctx, repository+":"+tag)
	if err != nil {
		return "", err
	}
	_, digest, ok := strings.Cut(pushed, "@")
	if !ok {
		return "", fmt.Errorf("push returned %q, which has no digest", pushed)
	}
	out := repository + "@" + digest
	target, err := s.ref(out)
	if err != nil {
		return "", err
	}
	// Version metadata goes into the signature's annotations, not into a rebuild.
	annotations := []string{"-a", "org.opencontainers.image.version=" + version}
	if revision != "" {
		annotations = append(annotations, "-a", "org.opencontainers.image.revision="+revision)
	}
	if _, err := s.run(ctx, "cosign sign "+name, nil, append(append([]string{"sign", "--yes", "--tlog-upload=false", "--key", s.key},
		annotations...), target)...); err != nil {
		return "", err
	}
	c := s.c.
		WithFile("/run/att/sbom.cdx.json", image.File("/usr/share/sbom/"+name+".cdx.json")).
		WithNewFile("/run/att/scan.json", string(predicate))
	for _, att := range []struct{ what, typ, file string }{
		{"SBOM", "cyclonedx", "/run/att/sbom.cdx.json"},
		{"scan result", scanPredicateType, "/run/att/scan.json"},
	} {
		if _, err := s.run(ctx, "cosign attest "+att.what+" "+name, c, "attest", "--yes", "--tlog-upload=false",
			"--key", s.key, "--type", att.typ, "--predicate", att.file, target); err != nil {
			return "", err
		}
	}
	return out, nil
}

// validTag reports whether t is a valid OCI tag.
func validTag(t string) bool {
	if t == "" || len(t) > 128 {
		return false
	}
	for i, r := range t {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') || (i > 0 && (r == '.' || r == '-'))
		if !ok {
			return false
		}
	}
	return true
}

// scanAttestation scans image with scan-image's gate and returns the scan-result
// predicate, or the gate's error when the scan does not pass.
func (m *TransactionValidator) scanAttestation(ctx context.Context, name string, image *dagger.Container, version, revision string) ([]byte, error) {
	scanners := imageScanners(m.Airgapped)
	reports := m.imageReportsOf(name, image.AsTarball(), scanners)
	if _, err := gate(ctx, reports, "image "+name); err != nil {
		return nil, err
	}
	report, err := reports.File("image-" + name + ".json").Contents(ctx)
	if err != nil {
		return nil, err
	}
	p := scanPredicate{
		Scanner:  "trivy " + strings.TrimPrefix(pins.Trivy[strings.LastIndex(pins.Trivy, ":")+1:], "v"),
		Scanners: strings.Split(scanners, ","),
		Gate:     "no HIGH or CRITICAL finding",
		Result:   scanPassed,
		Findings: []string{},
		Version:  version,
		Revision: revision,
		Report:   json.RawMessage(report),
	}
	if m.Airgapped {
		p.NotRun = []string{"vuln: no vulnerability database offline"}
	}
	return json.Marshal(p)
}

// Publish copies a signed image, with its signature and attestations, to a repository.
//
// No rebuild: cosign copies the manifest as it is, so the digest published is the digest
// sign scanned and signed; publish checks that the tag it pushed resolves to it. Returns
// REPOSITORY@sha256:..., the only form deploy accepts. Credentials come as a Dagger secret
// (env:, file:, cmd:), never as a plain argument, and are used for both registries.
//
// It acts on the world outside the engine, so its result is never cached.
//
// +cache="never"
func (m *TransactionValidator) Publish(
	ctx context.Context,
	// The signed image, by digest (what sign returned).
	image string,
	// Repository to copy it to, e.g. 123456789012.dkr.ecr.eu-central-1.amazonaws.com/transaction-validator.
	repository string,
	// Tag to push (the digest is what deploys use).
	tag string,
	// Registry user name (ECR: AWS).
	// +optional
	username string,
	// Registry password (ECR: `aws ecr get-login-password`), as a secret.
	// +optional
	password *dagger.Secret,
	// The registry when only the caller's machine reaches it, e.g. tcp://127.0.0.1:5055.
	// +optional
	registry *dagger.Service,
) (string, error) {
	if !digestRef.MatchString(image) {
		return "", fmt.Errorf("image %q is not a reference by digest (REGISTRY/REPO@sha256:<64 hex>): publish copies the exact image sign signed", image)
	}
	if !validTag(tag) {
		return "", fmt.Errorf("tag %q is not a valid image tag", tag)
	}
	_, digest, _ := strings.Cut(image, "@")
	srcHost, _, _ := strings.Cut(image, "/")
	dstHost, _, _ := strings.Cut(repository, "/")
	hosts := []string{srcHost}
	if dstHost != srcHost {
		hosts = append(hosts, dstHost)
	}
	s, err := m.cosign(ctx, hosts, username, password, registry)
	if err != nil {
		return "", err
	}
	src, err := s.ref(image)
	if err != nil {
		return "", err
	}
	dst, err := s.ref(repository + ":" + tag)
	if err != nil {
		return "", err
	}
	if _, err := s.run(ctx, "cosign copy", nil, "copy", "--force", src, dst); err != nil {
		return "", err
	}
	// triangulate resolves the tag just pushed and names its signature's tag,
	// sha256-<digest>.sig: the digest in it is what the tag points at now.
	out, err := s.run(ctx, "resolve "+repository+":"+tag, nil, "triangulate", dst)
	if err != nil {
		return "", err
	}
	if got := triangulatedDigest(out); got != digest {
		return "", fmt.Errorf("published %s:%s resolves to %q, not the signed %s", repository, tag, got, digest)
	}
	return repository + "@" + digest, nil
}

// triangulatedDigest reads the image digest from `cosign triangulate`'s output, the
// signature tag REPO:sha256-<hex>.sig.
func triangulatedDigest(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	i := strings.LastIndex(last, ":sha256-")
	if i < 0 || !strings.HasSuffix(last, ".sig") {
		return ""
	}
	return "sha256:" + strings.TrimSuffix(last[i+len(":sha256-"):], ".sig")
}

// VerifyImage checks an image as deploy does before it touches a cluster.
//
// The image must be signed by the key and carry a passing scan attestation for its own
// digest.
func (m *TransactionValidator) VerifyImage(
	ctx context.Context,
	// The image, by digest.
	image string,
	// The public key images must be signed with (cosign.pub; for the AWS KMS key,
	// `cosign public-key --key awskms:///alias/NAME` prints it).
	signedBy *dagger.File,
	// Registry user name.
	// +optional
	username string,
	// Registry password, as a secret.
	// +optional
	password *dagger.Secret,
	// The registry when only the caller's machine reaches it, e.g. tcp://127.0.0.1:5055.
	// +optional
	registry *dagger.Service,
) (string, error) {
	return m.verifyImages(ctx, []string{image}, signedBy, username, password, registry)
}

// verifyImages refuses any of images (empty ones are skipped) that is not signed by the
// key signedBy or lacks a passing scan attestation for its own digest. deploy calls it
// before anything is applied.
func (m *TransactionValidator) verifyImages(ctx context.Context, images []string, signedBy *dagger.File,
	username string, password *dagger.Secret, registry *dagger.Service) (string, error) {
	if signedBy == nil {
		return "", fmt.Errorf("deploy refused: no --signed-by public key; only images signed by the pipeline's key are deployed (docs/pipeline.md, \"Signed images\")")
	}
	var hosts []string
	for _, img := range images {
		if img == "" {
			continue
		}
		if !digestRef.MatchString(img) {
			return "", fmt.Errorf("deploy refused: image %q is not a reference by digest", img)
		}
		h, _, _ := strings.Cut(img, "/")
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	s, err := m.cosign(ctx, compact(hosts), username, password, registry)
	if err != nil {
		return "", err
	}
	c := s.c.WithFile("/run/cosign/cosign.pub", signedBy)
	var log strings.Builder
	for _, img := range images {
		if img == "" {
			continue
		}
		ref, err := s.ref(img)
		if err != nil {
			return "", err
		}
		_, digest, _ := strings.Cut(img, "@")
		if out, err := s.run(ctx, "verify signature", c, "verify", "--insecure-ignore-tlog", "--key", "/run/cosign/cosign.pub", ref); err != nil {
			return "", fmt.Errorf("deploy refused: image %s has no valid signature by the given key (unsigned, tampered or signed by another key):\n%s",
				img, tail(out+errText(err), 6))
		}
		out, err := s.run(ctx, "verify scan attestation", c, "verify-attestation", "--insecure-ignore-tlog",
			"--key", "/run/cosign/cosign.pub", "--type", scanPredicateType, ref)
		if err != nil {
			return "", fmt.Errorf("deploy refused: image %s is signed but has no scan-result attestation signed by the given key:\n%s",
				img, tail(out+errText(err), 6))
		}
		if err := passingScan(out, digest); err != nil {
			return "", fmt.Errorf("deploy refused: image %s: %w", img, err)
		}
		fmt.Fprintf(&log, "verified %s: signed, scan attestation %q\n", img, scanPassed)
	}
	return log.String(), nil
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// compact removes adjacent duplicates from a sorted slice.
func compact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// passingScan checks the output of `cosign verify-attestation` (one DSSE envelope per
// line, each already verified against the key) for an in-toto statement about digest
// whose scan-result predicate says passed. A statement about another digest, of another
// type, or with any other verdict does not count.
func passingScan(out, digest string) error {
	want := strings.TrimPrefix(digest, "sha256:")
	var verdicts []string
	statements := 0
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "{") {
			continue // cosign's own log lines
		}
		var env struct {
			PayloadType string `json:"payloadType"`
			Payload     string `json:"payload"`
		}
		if err := json.Unmarshal([]byte(line), &env); err != nil || env.Payload == "" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(env.Payload)
		if err != nil {
			return fmt.Errorf("attestation payload is not base64: %w", err)
		}
		var st struct {
			PredicateType string `json:"predicateType"`
			Subject       []struct {
				Digest map[string]string `json:"digest"`
			} `json:"subject"`
			Predicate scanPredicate `json:"predicate"`
		}
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("attestation is not an in-toto statement: %w", err)
		}
		statements++
		if st.PredicateType != scanPredicateType {
			continue
		}
		about := false
		for _, s := range st.Subject {
			if s.Digest["sha256"] == want {
				about = true
			}
		}
		if !about {
			verdicts = append(verdicts, "a scan result about another image")
			continue
		}
		if st.Predicate.Result == scanPassed {
			return nil
		}
		verdicts = append(verdicts, fmt.Sprintf("scan result %q", st.Predicate.Result))
	}
	if statements == 0 {
		return fmt.Errorf("no scan-result attestation (%s) found", scanPredicateType)
	}
	return fmt.Errorf("no passing scan-result attestation: found %s", strings.Join(verdicts, ", "))
}
