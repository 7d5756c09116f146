#!/usr/bin/env bash
# Suite 50: the pipeline (dagger.json + ci/) for real, on the offline Dagger engine and the
# throwaway Kubernetes cluster of airgap/:
#   1. the module's own unit tests (dagger run go test);
#   2. `dagger call --airgapped ci` is green on this checkout, timed;
#   3. a second, unchanged `ci` comes from the engine's cache, timed (goal: <= 10% of 2.),
#      and its summary says so, step by step (CACHED, with the first run's time);
#   4. seeded defects in one copy of the checkout fail `ci`, and the summary names each
#      stage with its finding: an unformatted .tf and a go vet finding in airgap/awsprovider
#      (lint), a privileged container, a PAN filter that keeps card numbers (LuaJIT) and a
#      module tofu validate rejects (validate), a stale terraform-docs table and a stale
#      diagram (docs), a failing Go test (test), a HIGH finding in Terraform (scan), an AWS
#      key pair in a Go test file (scan: trivy's built-in allow rules skip test files, which
#      trivy-secret.yaml turns off; gitleaks finds it too), a private key in another Go test
#      file and, in a git history given as --history, a key committed and deleted again
#      (scan: gitleaks' tree and history scans); ci-report exports that run's summary and
#      reports, the findings in its SARIF;
#   5. deploy --env local: a good version rolls out through the canary; a version whose
#      pods never become Ready and one whose error rate is high are rolled back on their
#      own (the stable version keeps serving, the canary is gone); rollback returns to the
#      previous revision.
# Timings go to $TXV_PIPELINE_TIMINGS (default: a temp file, printed at the end).
#
# Like suite 45, it needs root (and builds the engine if nothing has yet). It starts the
# engine and the cluster if they are not running and stops only what it started.
set -euo pipefail
REPO_ROOT=${REPO_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=/dev/null
. "$REPO_ROOT/airgap/dagger/common.sh"
cd "$REPO_ROOT"

skip() { printf '\n!!!!! SKIP 50-pipeline: %s\n\n' "$*"; exit 3; }
[ "$(id -u)" -eq 0 ] || skip "needs root (the offline Dagger engine); run as root"

work=$(mktemp -d "${TMPDIR:-/tmp}/pipeline.XXXXXX")
timings=${TXV_PIPELINE_TIMINGS:-$work/timings.txt}
engine_started=0 cluster_started=0
cleanup() {
  local rc=$?
  [ $cluster_started = 0 ] || K8S_STATE=$work/k8s airgap/k8s/down.sh >/dev/null 2>&1 || true
  [ $engine_started = 0 ] || airgap/dagger/down.sh >/dev/null 2>&1 || true
  if [ $rc != 0 ]; then
    # Keep the logs of a failure (not the seeded copies): they are all there is to go on.
    find "$work" -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
    log "suite 50 failed; its logs are kept in $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT
step() { log "suite 50: $*"; }
timed() { # NAME CMD...: run, record the wall time
  local name=$1 t; shift; t=$(date +%s)
  "$@"; local rc=$?
  printf '%-44s %5d s\n' "$name" $(($(date +%s) - t)) | tee -a "$timings" >&2
  return $rc
}

airgap/dagger/status.sh >/dev/null 2>&1 || { airgap/dagger/up.sh >&2; engine_started=1; }
# Free space decides how much of the engine's cache its GC keeps (minFreeSpace): a first
# `ci` much slower than usual may be an evicted cache, not a slower change.
df -h --output=avail,size "$DAGGER_STATE" | tail -1 | awk '{print "disk at start: " $1 " free of " $2}' >>"$timings"
# shellcheck source=/dev/null
. "$DAGGER_STATE/client.env"
dc() { dagger --progress=plain call --airgapped "$@"; }
# dc_in DIR ARGS...: dc in the checkout DIR (a copy), so that the module's uploads (the
# checkout, and infra/, svc/ and the Go tests' files on their own: ci/main.go) all come from
# it, each keyed by its own content. (With --source DIR and friends the engine filters
# copies of one upload instead, keyed by the whole of it.)
dc_in() { local dir=$1; shift; (cd "$dir" && dc "$@"); }
# stage_times LABEL FILE: the stage lines of a ci summary in FILE go with the suite's
# timings (what a CI run's time budget went on).
# A failing ci prints its summary twice in the log (the report, then the error that
# carries it): each stage line is kept once.
stage_times() {
  grep -E '^ *[a-z-]+ +(ok|FAILED)? *[0-9.]+s$' "$2" | sed -E "s/^ */  $1 /" | awk '!seen[$0]++' >>"$timings" || true
}
# The fuzz targets had their 15 s each in suite 10; here the test stage only has to show it
# runs them (the same short time in every call, so the unchanged run stays cached).
ci_fuzz=--fuzz-time=3s

# seed NAME: a copy of the checkout in $work/NAME (checkout_copy, scripts/lib.sh).
seed() { checkout_copy "$work/$1"; }
# ---- 1. unit tests of the module (the SDK's generated code comes from `dagger develop`)
step "dagger develop + module unit tests (in a copy)"
# In a copy: `dagger develop` rewrites dagger.json and ci/go.* (same content, new time and
# attribute stamp), and the engine keys a step by the whole tree it was cut from, so a
# develop here would make this suite's `ci` miss every step suites 20, 21 and 30 just ran
# through the same functions on this checkout.
module=$(seed module)
# The RBAC test renders staging and prod with the toolchain's kustomize (KUSTOMIZE).
eval "$(airgap/manifest-tools.sh)"
# The gitleaks tests run the pinned binary on .gitleaks.toml and planted keys.
GITLEAKS=$(gitleaks_bin) || die "building gitleaks failed"
export GITLEAKS
(cd "$module" && dagger --progress=plain develop) >"$work/develop.log" 2>&1 || { tail -20 "$work/develop.log"; die "dagger develop failed"; }
(cd "$module/ci" && dagger --progress=plain run go test -count=1 ./...) >"$work/unit.log" 2>&1 ||
  { tail -40 "$work/unit.log"; die "the pipeline module's unit tests failed"; }
grep -E '^(ok|FAIL)' "$work/unit.log" >&2
rm -rf "$module"

# ---- 2./3. ci on this checkout, then again unchanged -------------------------------------
step "dagger call ci (this checkout)"
timed "ci, first run on this checkout" dc ci "$ci_fuzz" >"$work/ci.out" 2>"$work/ci.log" ||
  { tail -80 "$work/ci.log"; die "dagger call ci failed on the checkout"; }
cat "$work/ci.out" >&2
stage_times "ci stage" "$work/ci.out"
step "dagger call ci again, nothing changed"
timed "ci, second run, nothing changed" dc ci "$ci_fuzz" >"$work/ci2.out" 2>"$work/ci2.log" ||
  { tail -80 "$work/ci2.log"; die "the second dagger call ci failed"; }
# The call itself ran again (ci is never answered whole from the function cache), and its
# summary says which steps the engine answered from its cache: here, every stamped one,
# each with the first run's time.
for s in "tofu fmt" "gofmt + go vet" "tflint" "tofu init + validate + test" "go test (modules but the root)" "terraform-docs" "go test" "go build transaction-validator"; do
  grep -qF "CACHED $s: the result of a run at" "$work/ci2.out" ||
    { cat "$work/ci2.out" >&2; die "the unchanged run's summary does not say '$s' came from the cache"; }
done

# ---- 3b. one area changed: a step re-runs only when what it reads changed -----------------
# infra/, go.mod + go.sum + svc/ and the Go tests' files are uploaded on their own
# (ci/main.go), so the steps that read only one of them come from the cache after a change
# elsewhere. Each area is also seen re-running after a change in it (gofmt + go vet here,
# build and the tests in the seeded copy), or a cache that ignores inputs would pass.
# area_call LABEL DIR OUT FUNCTION ARGS...: FUNCTION run in the copy DIR (dc_in), timed as
# LABEL; its result in OUT, its log in OUT.log.
area_call() {
  local label=$1 dir=$2 out=$3; shift 3
  timed "$label" dc_in "$dir" "$@" >"$out" 2>"$out.log" || { tail -80 "$out.log"; die "$label: $1 failed"; }
  cat "$out" >&2
}
# cached OUT STEP WHY: the summary in OUT must say STEP came from the cache, or the suite
# fails saying WHY.
cached() { grep -qF "CACHED $2: the result of a run at" "$1" || die "$3"; }
step "lint on a copy with a change in svc/ only"
c=$(seed svc-change)
printf '\n// A change in svc/ only (suite 50).\n' >>"$c/svc/internal/card/card.go"
area_call "lint, only svc/ changed" "$c" "$work/area-lint.out" lint
for s in "tofu fmt" "tflint"; do
  cached "$work/area-lint.out" "$s" \
    "after a change in svc/ only, lint's '$s' (it reads only infra/) ran again instead of coming from the cache"
done
! grep -qF "CACHED gofmt + go vet:" "$work/area-lint.out" ||
  die "after a change in svc/, 'gofmt + go vet' came from the cache: the change did not reach its input"
rm -rf "$c"
step "build and test on a copy with a change in infra/ only"
c=$(seed infra-change)
printf '\n# A change in infra/ only (suite 50).\n' >>"$c/infra/modules/ecr/main.tf"
area_call "build, only infra/ changed" "$c" "$work/area-build.out" build
for w in transaction-validator operator-console fx-rates-etl canary-check; do
  cached "$work/area-build.out" "go build $w" \
    "after a change in infra/ only, build compiled $w again instead of taking it from the cache"
done
area_call "test, only infra/ changed" "$c" "$work/area-test.out" test "$ci_fuzz"
cached "$work/area-test.out" "go test" "after a change in infra/ only, the Go tests ran again instead of coming from the cache"
rm -rf "$c"

# ---- 4. seeded defects -------------------------------------------------------------------
# add_patch DIR FILE: lists FILE (a JSON6902 patch of the validator's Deployment, in the
# overlay directory) first under the dev overlay's patches.
add_patch() {
  local k=$1/kustomize/overlays/dev/kustomization.yaml
  grep -q '^patches:' "$k" || echo 'patches:' >>"$k"
  sed -i "/^patches:/a\\  - {path: $2, target: {kind: Deployment, name: transaction-validator}}" "$k"
}
# stage_report LOG STAGE: the failure details ci prints for STAGE (its "== STAGE" section).
stage_report() {
  awk -v s="== $2" '$0 == s {on = 1; next} /^== / {on = 0} on' "$1"
}

# All the defects go into one copy and one `ci`: the stages run side by side and each
# reports on its own, so one run shows every stage catching its defect (a run per defect costs
# minutes more of the same work). Each stage must be named as failed and its report must
# carry its own defect's finding, so one stage's failure cannot stand in for another's.
d=$(seed seeded-defects)
# lint: an unformatted .tf
sed -i '0,/^  [a-z]/s/^  \([a-z]\)/      \1/' "$d/infra/modules/ecr/main.tf"
# validate and scan: a privileged container in the dev overlay
cat >"$d/kustomize/overlays/dev/seeded-privileged.yaml" <<'YAML'
- {op: add, path: /spec/template/spec/containers/0/securityContext/privileged, value: true}
YAML
add_patch "$d" seeded-privileged.yaml
# test: a failing Go test
cat >>"$d/svc/internal/card/card_test.go" <<'GO'

func TestSeededDefect(t *testing.T) { t.Fatal("seeded defect: this test always fails") }
GO
# scan: a HIGH finding in Terraform (SSH open to the internet)
cat >>"$d/infra/modules/ecr/main.tf" <<'TF'

resource "aws_security_group" "seeded" {
  name        = "seeded-defect"
  description = "Seeded defect: SSH open to the internet"
  vpc_id      = "vpc-0123456789abcdef0"

  ingress {
    description = "SSH from anywhere"
    from_port   = 22
    to_port     = 22
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}
TF
# scan: an AWS key pair pasted into a compiled Go test file. Made up here at random, so no
# key-shaped string is ever committed (the scan of this repository would flag this script).
key_id=AKIA$(head -c 2048 /dev/urandom | tr -dc 'A-Z2-7' | cut -c1-16)
key_secret=$(head -c 2048 /dev/urandom | tr -dc 'A-Za-z0-9/+' | cut -c1-40)
if [ ${#key_id} != 20 ] || [ ${#key_secret} != 40 ]; then die "could not make the seeded key pair"; fi
mkdir -p "$d/svc/internal/x"
cat >"$d/svc/internal/x/y_test.go" <<GO
package x

import "testing"

const (
	awsAccessKeyID     = "$key_id"
	awsSecretAccessKey = "$key_secret"
)

func TestSeededCredentials(t *testing.T) {
	if len(awsAccessKeyID)+len(awsSecretAccessKey) != 60 {
		t.Fatal("seeded key pair changed")
	}
}
GO
# scan (gitleaks tree): a private key in a Go test file, made up here (openssl) like the
# key pair above.
key_pem=$(openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 2>/dev/null) ||
  die "could not make the seeded private key"
cat >"$d/svc/internal/x/tls_test.go" <<GO
package x

// seededTLSKey is what a test that loads a TLS key would carry.
const seededTLSKey = \`$key_pem\`
GO
# scan (gitleaks history): a git history in which a key pair was committed and deleted in
# the next commit, so no tree holds it; given as --history (default: this checkout's .git).
h=$work/seeded-history
git init -q -b main "$h"
hgit() { git -C "$h" -c user.name=suite50 -c user.email=suite50@example.invalid -c commit.gpgsign=false "$@"; }
printf 'package seeded\n\nconst (\n\tawsAccessKeyID     = "%s"\n\tawsSecretAccessKey = "%s"\n)\n' \
  "AKIA$(head -c 2048 /dev/urandom | tr -dc 'A-Z2-7' | cut -c1-16)" \
  "$(head -c 2048 /dev/urandom | tr -dc 'A-Za-z0-9/+' | cut -c1-40)" >"$h/creds_test.go"
if ! { hgit add creds_test.go && hgit commit -q -m "seeded: a key pair" && hgit rm -q creds_test.go &&
  hgit commit -q -m "seeded: the key pair removed, still in the history"; }; then
  die "could not seed the history"
fi
# lint: a go vet finding in a module the hand-kept module list once missed (the list now
# comes from the go.mod files)
cat >"$d/airgap/awsprovider/seeded_vet.go" <<'GO'
package main

import "fmt"

func seededVet() { fmt.Printf("%d\n", "seeded defect: not a number") }
GO
# validate: the Fluent Bit PAN filter keeps card numbers (its tests need LuaJIT, which the
# engine must have: they fail rather than skip there)
sed -i 's/^local REPLACEMENT = "\[PAN REDACTED\]"/local REPLACEMENT = "[PAN KEPT]"/' "$d/kustomize/components/logging/redact-pan.lua"
grep -q 'PAN KEPT' "$d/kustomize/components/logging/redact-pan.lua" || die "could not seed the PAN-filter defect"
# validate: tofu validate of a module (a reference to an undeclared variable)
printf '\noutput "seeded_defect" {\n  value = var.seeded_undeclared\n}\n' >>"$d/infra/modules/kms/outputs.tf"
# docs: a module input the README's terraform-docs table lacks, and a diagram whose source
# changed without its rendering
printf '\nvariable "seeded_undocumented" {\n  description = "Seeded defect."\n  type        = string\n  default     = "x"\n}\n' \
  >>"$d/infra/modules/ecr/variables.tf"
dot=$(compgen -G "$d/docs/*.dot" | head -1) || die "no docs/*.dot to seed"
sed -i '0,/{/s/{/{\n  seeded_defect_node;/' "$dot"
step "a --source whose infra/ or svc/ differs from --infra's or --svc's is refused"
# The seeded copy's infra/ and svc/ differ from the checkout's, which --infra and --svc
# default to.
if dc --source="$d" lint >"$work/mixed.out" 2>"$work/mixed.log"; then
  die "lint ran on --source of the seeded copy with the checkout's infra/"
fi
grep -qF -- "--infra's infra/ differs from --source's" "$work/mixed.log" ||
  { tail -20 "$work/mixed.log"; die "the refusal of a mismatched --infra does not say so"; }
if dc --source="$d" --infra="$d" lint >"$work/mixed.out" 2>"$work/mixed.log"; then
  die "lint ran on --source of the seeded copy with the checkout's svc/"
fi
grep -qF -- "--svc's svc/ differs from --source's" "$work/mixed.log" ||
  { tail -20 "$work/mixed.log"; die "the refusal of a mismatched --svc does not say so"; }
step "seeded defects: ci must fail in lint, validate, docs, scan and test, each naming its defect"
if timed "ci, seeded defects" dc_in "$d" ci "$ci_fuzz" --history="$h" >"$work/seeded.out" 2>"$work/seeded.log"; then
  die "ci passed on a copy with seeded defects"
fi
stage_times "seeded ci stage" "$work/seeded.log"
# The seeded svc/ is a new input of the build and the tests: they must have run again.
! grep -qE "CACHED go (build|test:)" "$work/seeded.log" ||
  die "the seeded copy's build or Go tests came from the cache although its svc/ changed"
failed_line=$(grep -E '^FAILED stages: ' "$work/seeded.log") ||
  { tail -60 "$work/seeded.log"; die "the seeded run has no 'FAILED stages:' summary"; }
echo "$failed_line" >&2
for stage in lint validate docs scan test; do
  grep -qE "\b$stage\b" <<<"$failed_line" || { tail -60 "$work/seeded.log"; die "the summary does not name stage $stage"; }
done
# Each finding in the report of the stage that must catch it.
for want in "lint=tofu fmt" "validate=[Pp]rivileged" "scan=[Pp]rivileged" "test=TestSeededDefect" \
            "scan=(HIGH|CRITICAL) (AVD-)?AWS-0107" \
            "lint=seeded_vet\.go:.*Printf" "validate=TestRedactPANRemovesPlantedCardNumbers" \
            "validate=infra/modules/kms \(validate\)" "docs=seeded\\\\?_undocumented" "docs=docs/img/.*out of date" \
            "scan=CRITICAL secret aws-access-key-id svc/internal/x/y_test\.go:" \
            "scan=CRITICAL secret aws-secret-access-key svc/internal/x/y_test\.go:" \
            "scan=gitleaks tree: aws-access-token svc/internal/x/y_test\.go:[0-9]+" \
            "scan=gitleaks tree: private-key svc/internal/x/tls_test\.go:[0-9]+" \
            "scan=gitleaks history: aws-access-token creds_test\.go:[0-9]+ \(commit [0-9a-f]{12}\)"; do
  # Into a variable first: under pipefail, grep -q leaving a long report early would fail
  # the pipeline on awk's SIGPIPE, although it matched (seen: the validate report).
  report=$(stage_report "$work/seeded.log" "${want%%=*}")
  grep -qE -- "${want#*=}" <<<"$report" ||
    { tail -40 <<<"$report"; die "the ${want%%=*} report does not show /${want#*=}/"; }
done

# ci-report on the same copy: the call succeeds, and its export says failed, names the
# stages and carries the findings for code scanning. The stages that passed come from the
# engine's cache; those that failed run again (a failure is never cached).
step "seeded defects: ci-report exports the failing run's summary and reports"
timed "ci-report, seeded defects" dc_in "$d" ci-report "$ci_fuzz" --history="$h" export --path="$work/report" \
  >"$work/report.out" 2>"$work/report.log" || { tail -40 "$work/report.log"; die "ci-report failed on the seeded copy"; }
[ "$(cat "$work/report/status")" = failed ] || die "ci-report status is '$(cat "$work/report/status")', want failed"
grep -qE '^## dagger call ci: FAILED stages: .*\bscan\b' "$work/report/summary.md" || die "summary.md does not name the scan stage"
for f in secrets.json secrets.sarif image-transaction-validator.json image-transaction-validator.sarif code-scanning.sarif; do
  [ -s "$work/report/reports/$f" ] || die "ci-report has no reports/$f"
done
for want in '"trivy/secrets/"' 'aws-access-key-id' 'svc/internal/x/y_test.go'; do
  grep -qF "$want" "$work/report/reports/code-scanning.sarif" ||
    die "code-scanning.sarif lacks $want (the seeded key's finding, under category trivy/secrets/)"
done

# ---- 5. deploy --env local ---------------------------------------------------------------
# shellcheck source=../../airgap/k8s/deploy-target.sh
. airgap/k8s/deploy-target.sh
deploy_target "$work/k8s" "${TXV_PIPELINE_K8S_PORT:-27443}"
# Built once, scanned, signed with the air-gapped key pair (ci/sign.go); deploy verifies it.
eval "$(airgap/sign-tools.sh --key)"
publish() { # SOURCE TAG VERSION -> prints the digest reference
  dc_in "$1" sign --repository="$repo" --version="$3" --signing-key="file:$COSIGN_KEY" \
    --signing-password="file:$COSIGN_PASSWORD_FILE" --registry="tcp://$REGISTRY_ADDR" 2>"$work/publish-$2.log" | tail -1 ||
    { tail -30 "$work/publish-$2.log" >&2; die "sign $2 failed"; }
}
deploy() { # SOURCE IMAGE NAME
  timed "deploy --env local: $3" dc_in "$1" deploy --env=local --image="$2" \
    --signed-by="$COSIGN_PUB" --registry="tcp://$REGISTRY_ADDR" \
    --kubeconfig="file:$deployer_kubeconfig" --kube-api="$api" --timeout=90s >"$work/deploy-$3.out" 2>"$work/deploy-$3.log"
}
serving() { k -n "$ns" get deployment transaction-validator -o jsonpath='{.spec.template.spec.containers[0].image}'; }
no_canary() {
  [ -z "$(k -n "$ns" get deployment transaction-validator-canary --ignore-not-found -o name)" ] ||
    die "a canary Deployment is left behind"
}

d=$(seed deploy-good)
good1=$(publish "$d" good-1 good-1)
[[ $good1 == "$repo@sha256:"* ]] || die "publish printed '$good1', want $repo@sha256:..."
step "deploy to a cluster without the CRDs the overlays use: refused before anything is applied"
if deploy "$d" "$good1" no-crds; then die "deploy went ahead on a cluster without the CRDs"; fi
grep -q 'no matches for kind' "$work/deploy-no-crds.log" ||
  { tail -30 "$work/deploy-no-crds.log"; die "the refusal does not name the kind the cluster lacks"; }
[ -z "$(k get namespace "$ns" --ignore-not-found -o name)" ] || die "the refused deploy created namespace $ns"
deploy_crds

# The newcomer's command (airgap/deploy-local) deploys the first version, to this cluster
# (deploy_target exported its K8S_STATE and K8S_PORT_BASE); its sign call is the one
# publish made above, so the engine answers it from its cache with the same digest.
step "deploy a good version with airgap/deploy-local: $good1"
deployed=$(timed "deploy --env local: good-1" airgap/deploy-local --source "$d" --version good-1 -- --timeout=90s \
  2>"$work/deploy-good-1.log") || { tail -40 "$work/deploy-good-1.log"; die "airgap/deploy-local failed"; }
[ "$deployed" = "$good1" ] || die "airgap/deploy-local deployed '$deployed', want $good1 (the same source and version)"
[ "$(serving)" = "$good1" ] || die "after deploy the Deployment runs $(serving), want $good1"
k -n "$ns" rollout status deployment/transaction-validator --timeout=60s >/dev/null
no_canary
grep -q "canary healthy" "$work/deploy-good-1.log" || die "the deploy log does not show the canary gate"

good2=$(publish "$d" good-2 good-2)
step "deploy a second good version: $good2"
deploy "$d" "$good2" good-2 || { tail -40 "$work/deploy-good-2.log"; die "deploying the second version failed"; }
[ "$(serving)" = "$good2" ] || die "after the second deploy the Deployment runs $(serving)"

step "a version whose pods never become Ready is rolled back"
d=$(seed never-ready)
cat >"$d/kustomize/overlays/dev/seeded-never-ready.yaml" <<'YAML'
- {op: add, path: /spec/template/metadata/labels/kwok.txv.io~1never-ready, value: "true"}
YAML
add_patch "$d" seeded-never-ready.yaml
if deploy "$d" "$good2" never-ready; then die "a never-ready version was deployed"; fi
grep -q "ROLLED BACK: canary never became ready" "$work/deploy-never-ready.log" ||
  { tail -30 "$work/deploy-never-ready.log"; die "no automatic rollback reported for the never-ready version"; }
[ "$(serving)" = "$good2" ] || die "after the rollback the Deployment runs $(serving), want $good2"
no_canary

step "a version with a high error rate is rolled back"
d=$(seed high-error-rate)
# One request in four fails inside the service (a 5xx), as a bad release would.
sed -i 's|return s.Validate(ctx, request.(Request))|if k := request.(Request).IdempotencyKey; k[len(k)-1]%4 == 0 {\n\t\t\treturn nil, context.DeadlineExceeded\n\t\t}\n\t\treturn s.Validate(ctx, request.(Request))|' \
  "$d/svc/internal/validation/endpoint.go"
grep -q DeadlineExceeded "$d/svc/internal/validation/endpoint.go" || die "could not seed the error-rate defect"
bad=$(publish "$d" bad-errors bad-errors)
if deploy "$d" "$bad" high-error-rate; then die "a version failing 25% of requests was deployed"; fi
grep -q "ROLLED BACK: canary unhealthy" "$work/deploy-high-error-rate.log" ||
  { tail -30 "$work/deploy-high-error-rate.log"; die "no automatic rollback reported for the failing version"; }
grep -qE "error ratio [0-9.]+% above" "$work/deploy-high-error-rate.log" ||
  { tail -30 "$work/deploy-high-error-rate.log"; die "the rollback does not say the error ratio was the reason"; }
[ "$(serving)" = "$good2" ] || die "after the rollback the Deployment runs $(serving), want $good2"
no_canary

step "rollback --env local returns to the previous revision"
timed "rollback --env local" dc rollback --env=local --kubeconfig="file:$deployer_kubeconfig" --kube-api="$api" \
  >"$work/rollback.out" 2>"$work/rollback.log" || { tail -30 "$work/rollback.log"; die "rollback failed"; }
[ "$(serving)" = "$good1" ] || die "after rollback the Deployment runs $(serving), want $good1"

step "timings:"
cat "$timings" >&2
step "all pipeline checks passed"
