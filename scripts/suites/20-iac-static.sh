#!/usr/bin/env bash
# Suite 20: static checks of infra/: formatting, tflint (terraform + aws rulesets), trivy's
# misconfiguration checks (suppressions: see the trivy step), and that the offline AWS
# provider build covers exactly the services infra/ uses. Suite 21 does init/validate/test.
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=../lib.sh
. scripts/lib.sh

eval "$(nice -n 10 airgap/iac-tools.sh)"

status=0
step() { printf '\n--- %s\n' "$*"; }

step "tofu fmt -check -recursive infra"
tofu fmt -check -recursive -diff infra || { log "FAIL: run 'tofu fmt -recursive infra'"; status=1; }

step "tflint --recursive (terraform preset 'all' + aws ruleset $TFLINT_RULESET_AWS_VERSION)"
# --recursive visits every directory with .tf files: each module, env root and bootstrap.
(cd infra && tflint --recursive --config "$PWD/.tflint.hcl" --format compact) || { log "FAIL: tflint"; status=1; }

step "trivy config $TRIVY_VERSION (embedded checks, no update, every severity)"
# Modules and bootstrap are scanned with their (secure) defaults; the environments' root once
# per environment with its <env>.tfvars, so trivy judges the values that will really be
# applied. Suppressions: inline `#trivy:ignore:<ID> <reason>` on the one resource concerned,
# or an environment's own <env>.trivyignore (each entry with its reason), used only for that
# environment's scan.
trivy_scan() { # DIR [extra trivy flags]
  local dir=$1; shift
  printf '  %s %s\n' "$dir" "$*"
  trivy config --quiet --skip-check-update --exit-code 1 \
    --severity UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL "$@" "$dir"
}
trivy_failed=0
trivy_scan infra/modules || trivy_failed=1
trivy_scan infra/bootstrap || trivy_failed=1
for vars in infra/envs/*.tfvars; do
  env=${vars%.tfvars}
  flags=(--tf-vars "$vars")
  [ -f "$env.trivyignore" ] && flags+=(--ignorefile "$env.trivyignore")
  trivy_scan infra/envs "${flags[@]}" || trivy_failed=1
done
[ $trivy_failed = 0 ] || { log "FAIL: trivy config"; status=1; }

# The offline AWS provider is compiled with only TF_PROVIDER_AWS_SERVICES (airgap/awsprovider):
# a type of another service would fail `tofu validate` in suite 21, and a listed service no
# type needs would cost build time for nothing. Checked here, against the pinned source.
step "the offline AWS provider's services are exactly those infra/ uses"
(cd airgap/awsprovider && go test -count=1 ./...) || { log "FAIL: airgap/awsprovider tests"; status=1; }
aws_src=$(go mod download -json "$TF_PROVIDER_AWS_MODULE@$TF_PROVIDER_AWS_PSEUDO" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
[ -d "$aws_src" ] || die "go mod download $TF_PROVIDER_AWS_MODULE@$TF_PROVIDER_AWS_PSEUDO failed"
(cd airgap/awsprovider && go run . check -src "$aws_src" -services "$TF_PROVIDER_AWS_SERVICES" "$REPO_ROOT/infra") ||
  { log "FAIL: edit TF_PROVIDER_AWS_SERVICES in airgap/versions.env to match (above)"; status=1; }

# A suppression without a reason is a finding too: inline ones need text after the ID,
# and every ID in a (<env>.).trivyignore needs a comment line right above it.
step "every trivy suppression carries a reason"
if grep -rnE '#trivy:ignore:[A-Za-z0-9-]+\s*$' --include='*.tf' infra; then
  log "FAIL: inline trivy suppressions above have no reason"; status=1
fi
while IFS= read -r f; do
  if ! awk '/^[[:space:]]*$/ {next} /^#/ {c=1; next} { if (!c) { print FILENAME": "$0; bad=1 } c=0 } END {exit bad}' "$f"; then
    log "FAIL: $f has entries without a reason comment above them"; status=1
  fi
done < <(find infra -name .trivyignore -o -name '*.trivyignore')

exit $status
