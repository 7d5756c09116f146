#!/usr/bin/env bash
# smoke.sh proves the running engine (up.sh) works offline, end to end:
#   1. a container from the local mirror: docker.io/library/golang resolves through the
#      registry on $REGISTRY_ADDR and runs the host's Go version;
#   2. module mode: `dagger init --sdk=go` and `dagger call` on a module whose function runs
#      the mirrored Debian image; the answer must equal the debootstrapped /etc/debian_version;
#   3. the pipeline's shape: a module function builds a static Go binary in the golang image
#      and runs it in the distroless-style static image (as nonroot, with the CA bundle);
#   4. every tool image of images.env (TOOL_IMAGES), pulled by its name through the engine: it
#      runs as nonroot with a writable HOME, carries its version label and runs its tool;
#      tofu inits and validates a config requiring hashicorp/random from the in-image mirror,
#      kubeconform validates a Deployment with -strict against /schemas (and rejects a
#      misspelt field), tflint loads the AWS ruleset, actionlint finds shellcheck;
#   5. the golang image has cgo's toolchain: `go test -race` passes on a tiny package and
#      reports the data race planted in another test.
# A tool image missing from the registry fails step 4 loudly, naming the image and the cause.
# Each exec carries a fresh nonce, so the engine's cache cannot answer in place of a container.
# The queries set the nonce before `from`: the engine caches a `from(tag)` result while any
# session holds it, so on an engine someone else is using a plain `from` may answer with the
# digest the tag had when their session started, without asking the registry.
# Prints the time of each step; exits non-zero on the first failure.
set -euo pipefail
. "$(dirname "$0")/common.sh"
trap 'log "smoke: FAILED at line $LINENO"' ERR
[ -f "$DAGGER_STATE/client.env" ] || die "engine not up: run airgap/dagger/up.sh"
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"
pid_is_ours "$(cat "$ENGINE_PIDFILE" 2>/dev/null)" dagger-engine || die "engine not running: run up.sh"

ensure_apt jq   # reads the answers of `dagger query`
nonce=$(date +%s%N)
want_go="go version $(go env GOVERSION) linux/amd64"
want_debian=$(cat "$ROOTFS_CACHE/rootfs/etc/debian_version")
out=$DAGGER_STATE/smoke; rm -rf "$out"; mkdir -p "$out"

# 0 -------------------------------------------------------------------------------------
# Nothing we start may listen beyond loopback: the engine has only its unix socket, the
# registry only $REGISTRY_ADDR.
for pid in "$(cat "$ENGINE_PIDFILE")" "$(cat "$REGISTRY_PIDFILE")"; do
  ss -Hltnup | awk -v p="pid=$pid," 'index($0, p) {print $5}' | while read -r addr; do
    case $addr in 127.0.0.1:*|\[::1\]:*) ;; *) die "pid $pid listens on $addr, beyond loopback" ;; esac
  done
done
ss -Hltn "sport = :${REGISTRY_ADDR##*:}" | grep -qF "$REGISTRY_ADDR" || die "registry is not on $REGISTRY_ADDR"
log "smoke 0/5: engine and registry listen on loopback / unix socket only"
# The engine must run with up.sh's cache bounds, not its defaults (75% of the disk).
to_bytes() { numfmt --from=iec "${1%B}"; }   # buildkit reads 30GB as 30 GiB
policy=$(dagger query --progress=plain 2>"$out/policy.log" <<GQL
{ engine { localCache { maxUsedSpace minFreeSpace reservedSpace } } }
GQL
) || { tail -20 "$out/policy.log" >&2; die "dagger query engine.localCache failed"; }
for k in maxUsedSpace:$ENGINE_GC_MAX_USED minFreeSpace:$ENGINE_GC_MIN_FREE reservedSpace:$ENGINE_GC_RESERVED; do
  got=$(jq -r ".engine.localCache.${k%%:*}" <<<"$policy")
  [ "$got" = "$(to_bytes "${k#*:}")" ] || die "engine GC ${k%%:*} is $got bytes, want ${k#*:} (engine.toml not applied?)"
done
log "smoke 0/5: engine GC keeps its cache under $ENGINE_GC_MAX_USED and $ENGINE_GC_MIN_FREE free"

# 1 -------------------------------------------------------------------------------------
log "smoke 1/5: container from $IMAGE_GOLANG via the mirror"
reg_lines=$(wc -l <"$REGISTRY_LOG")
t=$(date +%s)
got=$(dagger query --progress=plain 2>"$out/query.log" <<GQL | tee "$out/query.json"
{ container { withEnvVariable(name: "SMOKE_NONCE", value: "$nonce") {
    from(address: "$IMAGE_GOLANG") {
      withExec(args: ["go", "version"]) { stdout } } } } }
GQL
) || { tail -30 "$out/query.log" >&2; die "dagger query failed (log: $out/query.log)"; }
grep -qF "$want_go" <<<"$got" || die "container printed $got, want '$want_go'"
# The image must have come from our registry, not from anything else the engine can reach.
tail -n +"$((reg_lines + 1))" "$REGISTRY_LOG" | grep -q "/v2/$(registry_path "${IMAGE_GOLANG%:*}")/manifests/" ||
  die "registry $REGISTRY_ADDR saw no request for $IMAGE_GOLANG: the mirror is not in use"
log "smoke 1/5: ok in $(($(date +%s) - t)) s: $want_go"

# 2 -------------------------------------------------------------------------------------
log "smoke 2/5: dagger init --sdk=go + dagger call"
mod=$out/module; mkdir -p "$mod"
t=$(date +%s)
# --license= : otherwise init downloads a licence text, which cannot work offline.
(cd "$mod" && dagger init --sdk=go --name=smoke --license= --progress=plain >"$out/init.log" 2>&1) ||
  { tail -30 "$out/init.log" >&2; die "dagger init failed (log: $out/init.log)"; }
log "smoke 2/5: init in $(($(date +%s) - t)) s"
cat >"$mod/main.go" <<GO
// Module used by airgap/dagger/smoke.sh to check module mode against the offline engine.
package main

import (
	"context"
	"dagger/smoke/internal/dagger"
)

type Smoke struct{}

const helloSrc = \`package main

import (
	"fmt"
	"os"
)

func main() {
	_, err := os.Stat("/etc/ssl/certs/ca-certificates.crt")
	fmt.Printf("uid=%d ca=%v\\n", os.Getuid(), err == nil)
}
\`

// StaticHello builds a static binary with the golang image and runs it in the static
// runtime image; only the run carries the nonce, so the build stays cached between runs.
func (m *Smoke) StaticHello(ctx context.Context, nonce string) (string, error) {
	bin := dag.Container().From("$IMAGE_GOLANG").
		WithNewFile("/src/main.go", helloSrc).
		WithWorkdir("/src").
		WithEnvVariable("CGO_ENABLED", "0").
		WithExec([]string{"go", "build", "-o", "/out/hello", "main.go"}).
		File("/out/hello")
	return dag.Container().From("$IMAGE_STATIC").
		WithFile("/usr/local/bin/hello", bin, dagger.ContainerWithFileOpts{Permissions: 0o755}).
		WithEnvVariable("SMOKE_NONCE", nonce).
		WithExec([]string{"hello"}).
		Stdout(ctx)
}

// DebianVersion runs the mirrored Debian image; the nonce keeps the engine from answering
// from its cache.
func (m *Smoke) DebianVersion(ctx context.Context, nonce string) (string, error) {
	return dag.Container().From("$IMAGE_DEBIAN").
		WithEnvVariable("SMOKE_NONCE", nonce).
		WithExec([]string{"cat", "/etc/debian_version"}).
		Stdout(ctx)
}
GO
t=$(date +%s)
got=$(cd "$mod" && dagger call --progress=plain debian-version --nonce="$nonce" 2>"$out/call.log") ||
  { tail -40 "$out/call.log" >&2; die "dagger call failed (log: $out/call.log)"; }
[ "$(echo "$got" | tr -d '[:space:]')" = "$want_debian" ] ||
  die "dagger call printed '$got', want the debootstrapped Debian version $want_debian"
log "smoke 2/5: ok, dagger call in $(($(date +%s) - t)) s: debian $want_debian"

# 3 -------------------------------------------------------------------------------------
log "smoke 3/5: build in $IMAGE_GOLANG, run in $IMAGE_STATIC"
t=$(date +%s)
got=$(cd "$mod" && dagger call --progress=plain static-hello --nonce="$nonce" 2>"$out/static.log") ||
  { tail -40 "$out/static.log" >&2; die "dagger call static-hello failed (log: $out/static.log)"; }
[ "$(echo "$got" | tr -d '[:space:]')" = "uid=65532ca=true" ] ||
  die "static image printed '$got', want 'uid=65532 ca=true' (nonroot user, CA bundle present)"
log "smoke 3/5: ok in $(($(date +%s) - t)) s: $got"

# 4 -------------------------------------------------------------------------------------
# tool_exec NAME IMAGE SCRIPT: runs SCRIPT with sh in IMAGE as the image's own user and
# workdir, after printing uid, HOME's writability; leaves the answer in $out/NAME.json and
# sets TOOL_USER, TOOL_VERSION (the OCI version label) and TOOL_OUT (stdout+stderr).
tool_exec() {
  local name=$1 image=$2 script args
  # shellcheck disable=SC2016 # expanded by the container's shell, not here
  script='echo "uid=$(id -u)"; touch "$HOME/.smoke" && echo "home $HOME writable"; '$3
  args=$(jq -cn --arg s "$script" '["sh", "-c", "(" + $s + ") 2>&1"]')
  dagger query --progress=plain >"$out/$name.json" 2>"$out/$name.log" <<GQL ||
{ container { withEnvVariable(name: "SMOKE_NONCE", value: "$nonce") { from(address: "$image") {
    user
    version: label(name: "org.opencontainers.image.version")
    withExec(args: $args) { stdout } } } } }
GQL
    { tail -30 "$out/$name.log" >&2; die "$name: running $image failed (log: $out/$name.log)"; }
  TOOL_USER=$(jq -r .container.withEnvVariable.from.user "$out/$name.json")
  TOOL_VERSION=$(jq -r .container.withEnvVariable.from.version "$out/$name.json")
  TOOL_OUT=$(jq -r .container.withEnvVariable.from.withExec.stdout "$out/$name.json")
}

# expect NAME STRING...: every STRING must be in TOOL_OUT.
expect() {
  local name=$1 s; shift
  for s in "$@"; do
    grep -qF -- "$s" <<<"$TOOL_OUT" || { printf '%s\n' "$TOOL_OUT" >&2; die "$name: output lacks '$s' (above)"; }
  done
}

tofu_script=$(cat <<'SH'
set -e
tofu version
test -x "/usr/local/share/opentofu/mirror/registry.opentofu.org/hashicorp/aws/$AWS_V/linux_amd64/terraform-provider-aws_v${AWS_V}_x5" && echo "aws provider $AWS_V in the mirror"
mkdir -p smoke && cd smoke
cat >main.tf <<'HCL'
terraform {
  required_providers {
    random = { source = "hashicorp/random" }
  }
}
resource "random_id" "smoke" {
  byte_length = 4
}
HCL
tofu init -input=false -no-color
tofu validate -no-color
SH
)
tofu_script="AWS_V=$TF_PROVIDER_AWS_VERSION; $tofu_script"

kubeconform_script=$(cat <<'SH'
set -e
cat >deploy.yaml <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: smoke
spec:
  minReadySeconds: 5
  selector:
    matchLabels: {app: smoke}
  template:
    metadata:
      labels: {app: smoke}
    spec:
      containers:
        - name: smoke
          image: registry.example/smoke:1
YAML
sed 's/minReadySeconds/minReadySecond/' deploy.yaml >misspelt.yaml
kubeconform -v
set -- -strict -summary -output text -kubernetes-version "$K8S_V" -schema-location /schemas \
  -schema-location '/schemas/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json'
kubeconform "$@" deploy.yaml
if kubeconform "$@" misspelt.yaml; then echo "misspelt field ACCEPTED"; exit 1; fi
echo "misspelt field rejected"
SH
)
kubeconform_script="K8S_V=${KUBERNETES_VERSION#v}; $kubeconform_script"

# tflint lists the plugins its config enables: the AWS ruleset must load from TFLINT_PLUGIN_DIR.
tflint_script=$(cat <<'SH'
set -e
printf 'plugin "aws" {\n  enabled = true\n}\n' >.tflint.hcl
tflint --version
SH
)

# promtool at the upstream image's path checks a good rule file and rejects a broken one.
promtool_script=$(cat <<'SH'
set -e
printf 'groups:\n  - name: smoke\n    rules:\n      - alert: Up\n        expr: up == 0\n' >good.yaml
sed 's/up == 0/up ==/' good.yaml >broken.yaml
/bin/promtool check rules good.yaml
if /bin/promtool check rules broken.yaml; then echo "broken rule ACCEPTED"; exit 1; fi
echo "broken rule rejected"
SH
)

# cosign at the path the pipeline runs it from signs a blob with a key pair made here, verifies
# it, and refuses the signature on other content: no transparency log, as air-gapped signing is.
cosign_script=$(cat <<'SH'
set -e
cd "$HOME"
export COSIGN_PASSWORD=smoke
/usr/local/bin/cosign version
/usr/local/bin/cosign generate-key-pair >/dev/null
echo signed >blob && echo tampered >other
/usr/local/bin/cosign sign-blob --yes --tlog-upload=false --key cosign.key --output-signature blob.sig blob
/usr/local/bin/cosign verify-blob --insecure-ignore-tlog=true --key cosign.pub --signature blob.sig blob && echo "signature verified"
if /usr/local/bin/cosign verify-blob --insecure-ignore-tlog=true --key cosign.pub --signature blob.sig other; then
  echo "tampered content ACCEPTED"; exit 1
fi
echo "tampered content refused"
SH
)

log "smoke 4/5: tool images ($TOOL_IMAGES) by name through the mirror"
t4=$(date +%s)
for tool in $TOOL_IMAGES; do
  var=IMAGE_${tool^^}; image=${!var}
  path=$(registry_path "$image")
  # Missing from the registry: say why instead of letting the pull fail obscurely.
  curl -fsS -o /dev/null -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://$REGISTRY_ADDR/v2/${path%:*}/manifests/${path##*:}" ||
    die "$tool: $image is not in the registry on $REGISTRY_ADDR. Build it with
    airgap/dagger/build.sh tool-images    (the reason it failed is printed there)
  then run airgap/dagger/up.sh, which pushes it into the running registry."
  t=$(date +%s)
  case $tool in
    tofu) tool_exec "$tool" "$image" "$tofu_script"
      expect "$tool" "OpenTofu $TOFU_VERSION" "aws provider $TF_PROVIDER_AWS_VERSION in the mirror" \
        "Installed hashicorp/random" "The configuration is valid" ;;
    tflint) tool_exec "$tool" "$image" "$tflint_script"
      expect "$tool" "TFLint version ${TFLINT_VERSION#v}" "ruleset.aws (${TFLINT_RULESET_AWS_VERSION#v})" ;;
    trivy) tool_exec "$tool" "$image" "trivy --version"
      # Built without release ldflags, trivy calls itself "dev"; the label carries the pin.
      expect "$tool" "Version:" ;;
    kubeconform) tool_exec "$tool" "$image" "$kubeconform_script"
      expect "$tool" "Valid: 1, Invalid: 0" "misspelt field rejected" ;;
    kustomize) tool_exec "$tool" "$image" "kustomize version"
      expect "$tool" "$KUSTOMIZE_VERSION" ;;
    actionlint) tool_exec "$tool" "$image" "actionlint -version && shellcheck --version"
      expect "$tool" "$ACTIONLINT_VERSION" "ShellCheck - shell script analysis tool" ;;
    kubectl) tool_exec "$tool" "$image" "kubectl version --client"
      expect "$tool" "Client Version: $KUBERNETES_VERSION" ;;
    versitygw) tool_exec "$tool" "$image" "/app/versitygw --version"
      expect "$tool" "BuildTime" ;;
    prometheus) tool_exec "$tool" "$image" "$promtool_script"
      expect "$tool" "SUCCESS: 1 rules found" "broken rule rejected" ;;
    cosign) tool_exec "$tool" "$image" "$cosign_script"
      expect "$tool" "GitVersion:    $COSIGN_VERSION" "signature verified" "tampered content refused" ;;
    *) die "$tool: smoke.sh has no check for it (add one)" ;;
  esac
  expect "$tool" "uid=65532" "writable"
  [ "$TOOL_USER" = 65532:65532 ] || die "$tool: image user is '$TOOL_USER', want 65532:65532"
  want=${image##*:}; want=${want#v}
  [ "$TOOL_VERSION" = "$want" ] || die "$tool: version label '$TOOL_VERSION', want '$want'"
  log "smoke 4/5: $tool ok in $(($(date +%s) - t)) s ($image)"
done
log "smoke 4/5: ok, ${TOOL_IMAGES// /, } in $(($(date +%s) - t4)) s"

# 5 -------------------------------------------------------------------------------------
race_script=$(cat <<'SH'
set -e
mkdir -p /tmp/race && cd /tmp/race
printf 'module smoke/race\n\ngo 1.26\n' >go.mod
cat >race_test.go <<'GO'
package race

import (
	"sync"
	"testing"
)

func count(locked bool) int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	n := 0
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if locked {
				mu.Lock()
				defer mu.Unlock()
			}
			n++
		}()
	}
	wg.Wait()
	return n
}

func TestLocked(t *testing.T) { count(true) }

func TestRacy(t *testing.T) { count(false) }
GO
gcc --version | head -1
go test -race -count=1 -run TestLocked .
if go test -race -count=1 -run TestRacy . >racy.log 2>&1; then cat racy.log; echo "race NOT detected"; exit 1; fi
grep -q 'WARNING: DATA RACE' racy.log && echo "race detected in TestRacy"
SH
)
log "smoke 5/5: go test -race in $IMAGE_GOLANG"
t=$(date +%s)
args=$(jq -cn --arg s "($race_script) 2>&1" '["sh", "-c", $s]')
dagger query --progress=plain >"$out/race.json" 2>"$out/race.log" <<GQL ||
{ container { withEnvVariable(name: "SMOKE_NONCE", value: "$nonce") {
    from(address: "$IMAGE_GOLANG") {
      withExec(args: $args) { stdout } } } } }
GQL
  { tail -30 "$out/race.log" >&2; die "go test -race in $IMAGE_GOLANG failed (log: $out/race.log)"; }
TOOL_OUT=$(jq -r .container.withEnvVariable.from.withExec.stdout "$out/race.json")
expect golang "gcc (Debian" "ok  	smoke/race" "race detected in TestRacy"
log "smoke 5/5: ok in $(($(date +%s) - t)) s: $(head -1 <<<"$TOOL_OUT")"
