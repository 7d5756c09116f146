#!/usr/bin/env bash
# The infrastructure delivery suite (to become scripts/suites/25-infra-emulator.sh once its
# destroy step has been seen passing): infrastructure delivery, run for real against an AWS API emulator (moto_server,
# on 127.0.0.1, with AWS-managed IAM policies loaded): the `local` environment is infra/envs
# with dev.tfvars, its AWS being the emulator. Steps (timed, in $TXV_EMULATOR_TIMINGS):
#   1. bootstrap: infra/bootstrap applied (state bucket + its KMS key, local state);
#   2. plan: init -lockfile=readonly against the S3 backend on the emulator, then
#      plan.txt, plan.json and the plan's SHA-256, as ci/infra.go's plan writes them;
#      the same plan without exclusions is the count of what the code asks for (M);
#   3. apply of that plan only: a plan whose SHA-256 is not the approved one is refused,
#      and an apply of the approved one proceeds; while it runs, a second tofu run on the
#      same state is refused by the state lock (S3-native lock file, use_lockfile);
#   4. smoke: the resources are read back through the AWS API (awscli);
#   5. a second plan: no change in the modules whose attributes the emulator round-trips;
#   6. destroy.
# What the emulator cannot serve is excluded for this environment only (tofu -exclude, the
# list in scripts/infra-emulator.exclude, each with the API that is missing; see
# infra/README.md, "Delivery on an AWS API emulator"). The committed roots are never
# edited: the run works on a copy of infra/, where an override file generated here points
# the provider at the emulator.
#
# Not through the Dagger functions yet: this runs tofu on the host (see infra/README.md).
set -euo pipefail
REPO_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO_ROOT"
# shellcheck source=lib.sh
. scripts/lib.sh

MOTO_VERSION=5.2.1
ENV_NAME=dev
# The platform modules whose attributes the emulator does not return as written, so the
# plan after the apply is not empty there (seen 2026-12-07, infra/README.md): network
# (security-group rule ids), aurora, eks (access_config); the IRSA roles, whose trust policy
# names the cluster's OIDC issuer, unknown again while eks is to be updated; the ETL bucket
# (the emulator keeps the tags S3 Control reads apart from those PutBucketTagging wrote).
# The second plan must show no change in every other module.
NOT_ROUNDTRIP=(network aurora eks etl_bucket fluent_bit_irsa fx_rates_etl_irsa operator_console_irsa
  otel_collector_irsa transaction_validator_irsa)

eval "$(nice -n 10 airgap/iac-tools.sh)"
command -v aws >/dev/null || die "awscli is required (pip install awscli)"
command -v jq >/dev/null || ensure_apt jq
if ! command -v moto_server >/dev/null; then
  log "installing moto[server]==$MOTO_VERSION"
  python3 -m pip install --quiet "moto[server]==$MOTO_VERSION" >&2 || die "pip install moto[server]==$MOTO_VERSION failed"
fi
have=$(python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || true)
[ "$have" = "$MOTO_VERSION" ] || die "moto $have is installed; this suite is measured against $MOTO_VERSION"

work=$(mktemp -d "${TMPDIR:-/tmp}/infra-emulator.XXXXXX")
timings=${TXV_EMULATOR_TIMINGS:-$work/timings.txt}
moto_pid='' apply_pid=''
cleanup() {
  local rc=$?
  [ -z "$apply_pid" ] || kill "$apply_pid" 2>/dev/null || true
  [ -z "$moto_pid" ] || { kill "$moto_pid" 2>/dev/null; wait "$moto_pid" 2>/dev/null || true; }
  if [ $rc != 0 ]; then
    log "suite 25 failed (exit $rc); logs: $work/*.log (the rest of $work is removed)"
    find "$work" -mindepth 1 -maxdepth 1 ! -name '*.log' ! -name 'timings.txt' -exec rm -rf {} +
  else
    cat "$timings" >&2
    rm -rf "$work"
  fi
}
trap cleanup EXIT
step() { log "suite 25: $*"; }
timed() { # NAME CMD...: run, record the wall time
  local name=$1 t rc=0; shift; t=$(date +%s)
  "$@" || rc=$?
  printf '%-48s %5d s\n' "$name" $(($(date +%s) - t)) >>"$timings"
  return $rc
}
suite_start=$(date +%s)

# ---- the emulator ------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
endpoint=http://127.0.0.1:$port
MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto_pid=$!
for _ in $(seq 60); do
  curl -fsS "$endpoint/moto-api/data.json" >/dev/null 2>&1 && break
  kill -0 "$moto_pid" 2>/dev/null || { cat "$work/moto.log"; die "moto_server exited"; }
  sleep 0.5
done
curl -fsS "$endpoint/moto-api/data.json" >/dev/null || die "moto_server did not answer on $endpoint"

# Credentials the emulator accepts; AWS_ENDPOINT_URL sends every AWS SDK client of the
# provider, of tofu's S3 backend and of awscli to it.
export AWS_ACCESS_KEY_ID=emulator AWS_SECRET_ACCESS_KEY=emulator AWS_SESSION_TOKEN=
unset AWS_PROFILE AWS_SESSION_TOKEN
export AWS_REGION=eu-central-1 AWS_DEFAULT_REGION=eu-central-1 AWS_ENDPOINT_URL=$endpoint
# S3 Control (the provider lists every bucket's tags with it) is addressed as
# <account-id>.<endpoint host>, which no name server resolves for 127.0.0.1. Its requests go
# to the S3 Control host name the emulator routes by, through the emulator itself as the
# HTTP proxy (Go never proxies loopback addresses, so every other call goes straight to it).
export AWS_ENDPOINT_URL_S3_CONTROL=http://s3-control.$AWS_REGION.amazonaws.com
export HTTP_PROXY=$endpoint NO_PROXY=127.0.0.1,localhost
export TF_IN_AUTOMATION=1 TF_INPUT=0
export TF_PLUGIN_CACHE_DIR=$CACHE_ROOT/iac-plugin-cache-$IAC_MIRROR_KEY
mkdir -p "$TF_PLUGIN_CACHE_DIR"
awsq() { aws --output json "$@"; }

# ---- a copy of infra/ with the local environment's provider settings ----------------------
cp -r infra "$work/infra"
find "$work/infra" -name .terraform -prune -exec rm -rf {} +
# Path-style S3 (the emulator has no per-bucket host names) and few retries (the emulator
# answers an unimplemented call with a 500, which the SDK would otherwise retry for minutes).
for root in envs bootstrap; do
  cat >"$work/infra/$root/zz_local_emulator_override.tf" <<'TF'
# Generated by scripts/infra-emulator.sh for the local environment; never committed.
provider "aws" {
  s3_use_path_style = true
  max_retries       = 2
}
TF
done
envs=$work/infra/envs boot=$work/infra/bootstrap
backend_args=(-backend-config="$ENV_NAME.s3.tfbackend" -backend-config=use_path_style=true)
bucket=$(sed -n 's/^bucket *= *"\(.*\)"/\1/p' "infra/envs/$ENV_NAME.s3.tfbackend")
state_key=$(sed -n 's/^key *= *"\(.*\)"/\1/p' "infra/envs/$ENV_NAME.s3.tfbackend")
{ [ -n "$bucket" ] && [ -n "$state_key" ]; } || die "no bucket/key in infra/envs/$ENV_NAME.s3.tfbackend"

# The exclusions of the local environment, per root: ROOT ADDRESS, each with its reason
# after a '#'.
exclude_list=scripts/infra-emulator.exclude
excluded() { sed 's/#.*//' "$exclude_list" | awk -v r="$1" '$1 == r && $2 != "" {print $2}'; }
boot_excludes=() excludes=()
while read -r a; do boot_excludes+=(-exclude="$a"); done < <(excluded bootstrap)
while read -r a; do excludes+=(-exclude="$a"); done < <(excluded envs)

# ---- 1. bootstrap ------------------------------------------------------------------------
step "1. bootstrap (state bucket $bucket)"
boot_vars=(-var environment="$ENV_NAME" -var state_bucket_name="$bucket")
TF_DATA_DIR=$work/boot-data tofu -chdir="$boot" init -lockfile=readonly -no-color >"$work/boot-init.log" 2>&1 ||
  { cat "$work/boot-init.log"; die "bootstrap init failed"; }
timed "bootstrap apply" env TF_DATA_DIR="$work/boot-data" timeout 10m tofu -chdir="$boot" apply -auto-approve -no-color \
  -state="$work/bootstrap.tfstate" "${boot_vars[@]}" "${boot_excludes[@]}" >"$work/boot-apply.log" 2>&1 ||
  { tail -40 "$work/boot-apply.log"; die "bootstrap apply failed"; }
awsq s3api get-bucket-encryption --bucket "$bucket" | jq -e '.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "aws:kms"' >/dev/null ||
  die "state bucket $bucket is not KMS-encrypted by default"
awsq s3api get-bucket-versioning --bucket "$bucket" | jq -e '.Status == "Enabled"' >/dev/null ||
  die "state bucket $bucket is not versioned"

# ---- 2. plan -----------------------------------------------------------------------------
step "2. plan --env $ENV_NAME"
export TF_DATA_DIR=$work/envs-data
timed "init (S3 backend on the emulator)" tofu -chdir="$envs" init -lockfile=readonly -no-color "${backend_args[@]}" \
  >"$work/init.log" 2>&1 || { cat "$work/init.log"; die "init -lockfile=readonly against the emulator's backend failed"; }
mkdir -p "$work/plan"
# What the code asks for, nothing excluded: the M of "N applied of M planned".
timed "plan, everything (plan level)" tofu -chdir="$envs" plan -no-color -lock-timeout=1m -var-file="$ENV_NAME.tfvars" \
  -out="$work/full.tfplan" >"$work/plan-full.log" 2>&1 || { tail -40 "$work/plan-full.log"; die "full plan failed"; }
tofu -chdir="$envs" show -json "$work/full.tfplan" >"$work/full.json"
planned=$(jq '[.resource_changes[] | select(.mode == "managed" and (.change.actions | index("create")))] | length' "$work/full.json")
# The plan of the local environment, as ci/infra.go's planScript writes it.
timed "plan (local exclusions)" tofu -chdir="$envs" plan -no-color -lock-timeout=1m -var-file="$ENV_NAME.tfvars" \
  "${excludes[@]}" -out="$work/plan/tfplan" >"$work/plan.log" 2>&1 || { tail -40 "$work/plan.log"; die "plan failed"; }
tofu -chdir="$envs" show -no-color "$work/plan/tfplan" >"$work/plan/plan.txt"
tofu -chdir="$envs" show -json "$work/plan/tfplan" >"$work/plan/plan.json"
sha256sum "$work/plan/tfplan" | cut -d' ' -f1 >"$work/plan/tfplan.sha256"
to_apply=$(jq '[.resource_changes[] | select(.mode == "managed" and (.change.actions | index("create")))] | length' "$work/plan/plan.json")
log "plan: $to_apply to create of $planned the code asks for"
# Every excluded resource is still in the full plan: covered at plan level.
while read -r addr; do
  jq -e --arg a "$addr" '[.resource_changes[] | select(.address == $a or (.address | startswith($a + "[")) or (.address | startswith($a + ".")))] | length > 0' \
    "$work/full.json" >/dev/null || die "excluded $addr is not in the full plan: stale entry in $exclude_list"
done < <(excluded envs)

# ---- 3. apply of the approved plan only, and the lock ------------------------------------
step "3. apply the approved plan"
approved=$(cat "$work/plan/tfplan.sha256")
# approved_apply PLAN SHA256: ci/infra.go's Apply on the host: the plan's digest must be the
# approved one, then `tofu apply PLAN`.
approved_apply() {
  local got
  got=$(sha256sum "$1" | cut -d' ' -f1)
  if [ "$got" != "$(tr 'A-F' 'a-f' <<<"$2" | tr -d '[:space:]')" ]; then
    echo "refusing to apply: the plan's SHA-256 is $got, the approved one $2"; return 1
  fi
  timeout 20m tofu -chdir="$envs" apply -no-color -lock-timeout=1m "$1"
}
cp "$work/plan/tfplan" "$work/other.tfplan"; printf 'x' >>"$work/other.tfplan"
if approved_apply "$work/other.tfplan" "$approved" >"$work/refused.log" 2>&1; then
  die "a plan whose SHA-256 differs from the approved one was applied"
fi
grep -q 'refusing to apply' "$work/refused.log" || { cat "$work/refused.log"; die "the altered plan failed, but not at the digest check"; }
approved_apply "$work/plan/tfplan" "$approved" >"$work/apply.log" 2>&1 &
apply_pid=$!
apply_t0=$(date +%s)
# While the apply holds the state lock (a .tflock object next to the state), a second run on
# the same state must be refused.
lock_seen=0
for _ in $(seq 120); do
  if awsq s3api head-object --bucket "$bucket" --key "$state_key.tflock" >/dev/null 2>&1; then lock_seen=1; break; fi
  kill -0 "$apply_pid" 2>/dev/null || break
  sleep 0.5
done
[ $lock_seen = 1 ] || die "no lock object $state_key.tflock appeared in $bucket during the apply"
if tofu -chdir="$envs" plan -no-color -lock-timeout=0s -var-file="$ENV_NAME.tfvars" "${excludes[@]}" >"$work/concurrent.log" 2>&1; then
  die "a second run on the state was not refused while the apply held the lock"
fi
grep -q 'Error acquiring the state lock' "$work/concurrent.log" || { cat "$work/concurrent.log"; die "the concurrent run failed, but not on the lock"; }
log "a concurrent run was refused by the state lock"
apply_rc=0; wait "$apply_pid" || apply_rc=$?; apply_pid=''
printf '%-48s %5d s\n' "apply (approved plan)" $(($(date +%s) - apply_t0)) >>"$timings"
[ $apply_rc = 0 ] || { grep -A8 '^Error' "$work/apply.log" | head -80; die "apply failed"; }
applied=$(tofu -chdir="$envs" state list | grep -vc '^data\.\|\.data\.')
printf '%-48s %5s\n' "resources applied of planned" "$applied/$planned" >>"$timings"
log "applied $applied of $planned planned resources"

# ---- 4. smoke: the real resources, read back through the AWS API --------------------------
step "4. post-apply smoke through the AWS API"
smoke_t0=$(date +%s)
tofu -chdir="$envs" show -json >"$work/state.json"
# res TYPE: the values of every managed resource of TYPE in the state (a JSON array).
res() {
  jq --arg t "$1" '[.values.root_module | recurse(.child_modules[]?) | .resources[]? | select(.mode == "managed" and .type == $t) | .values]' "$work/state.json"
}
check() { # DESCRIPTION JQ-FILTER JSON: the filter must hold, else the suite fails
  jq -e "$2" <<<"$3" >/dev/null || { log "smoke: NOT $1:"; jq . <<<"$3" | head -40 >&2; die "smoke: $1"; }
  log "smoke: $1"
  smoke_ok=$((smoke_ok + 1))
}
smoke_ok=0
vpc=$(res aws_vpc | jq -r '.[0].id')
check "three availability zones with private, public and database subnets" \
  '[.Subnets[].AvailabilityZone] | unique | length == 3' \
  "$(awsq ec2 describe-subnets --filters "Name=vpc-id,Values=$vpc")"
want_nat=3
grep -Eq '^single_nat_gateway *= *true' "infra/envs/$ENV_NAME.tfvars" && want_nat=1
check "$want_nat NAT gateway(s), as $ENV_NAME.tfvars configures, each in its own AZ" \
  "([.NatGateways[] | select(.State == \"available\")] | length) == $want_nat and ([.NatGateways[].SubnetId] | unique | length) == $want_nat" \
  "$(awsq ec2 describe-nat-gateways --filter "Name=vpc-id,Values=$vpc")"
cluster_id=$(res aws_rds_cluster | jq -r '.[0].cluster_identifier')
retention=$(sed -n 's/^aurora_backup_retention_days *= *\([0-9]*\).*/\1/p' "infra/envs/$ENV_NAME.tfvars")
check "Aurora $cluster_id encrypted with a customer key, $retention days of backups, IAM auth" \
  ".DBClusters[0] | .StorageEncrypted and (.KmsKeyId | test(\"^arn:aws:kms:\")) and .BackupRetentionPeriod == $retention and .IAMDatabaseAuthenticationEnabled" \
  "$(awsq rds describe-db-clusters --db-cluster-identifier "$cluster_id")"
check "Aurora instances in the cluster, not publicly accessible" \
  '(.DBInstances | length) >= 2 and all(.DBInstances[]; .PubliclyAccessible == false)' \
  "$(awsq rds describe-db-instances --filters "Name=db-cluster-id,Values=$cluster_id")"
eks=$(res aws_eks_cluster | jq -r '.[0].name')
check "EKS $eks encrypts secrets with a KMS key, private endpoint" \
  '.cluster | (.encryptionConfig[0].resources == ["secrets"]) and (.encryptionConfig[0].provider.keyArn | test("^arn:aws:kms:")) and .resourcesVpcConfig.endpointPrivateAccess' \
  "$(awsq eks describe-cluster --name "$eks")"
topic=$(res aws_sns_topic | jq -r '.[0].arn')
check "alerts topic $topic encrypted with a KMS key" \
  '.Attributes.KmsMasterKeyId | length > 0' \
  "$(awsq sns get-topic-attributes --topic-arn "$topic")"
n_subs=$(res aws_sns_topic_subscription | jq length)
check "the alerts topic has the $n_subs subscriber(s) $ENV_NAME.tfvars names" \
  "(.Subscriptions | length) == $n_subs" \
  "$(awsq sns list-subscriptions-by-topic --topic-arn "$topic")"
acl=$(res aws_wafv2_web_acl | jq '.[0] | {name, id}')
check "WAF web ACL $(jq -r .name <<<"$acl") with its rate-based rule" \
  '[.WebACL.Rules[] | select(.Statement.RateBasedStatement)] | length >= 1' \
  "$(awsq wafv2 get-web-acl --scope REGIONAL --name "$(jq -r .name <<<"$acl")" --id "$(jq -r .id <<<"$acl")")"
etl=$(res aws_s3_bucket | jq -r '[.[] | select(.bucket | endswith("-etl-data"))][0].bucket')
check "ETL bucket $etl encrypted with KMS by default" \
  '.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm == "aws:kms"' \
  "$(awsq s3api get-bucket-encryption --bucket "$etl")"
check "ETL bucket $etl blocks all public access" \
  '.PublicAccessBlockConfiguration | .BlockPublicAcls and .BlockPublicPolicy and .IgnorePublicAcls and .RestrictPublicBuckets' \
  "$(awsq s3api get-public-access-block --bucket "$etl")"
for key in $(res aws_kms_key | jq -r '.[].key_id'); do
  awsq kms get-key-rotation-status --key-id "$key" | jq -e .KeyRotationEnabled >/dev/null || die "smoke: KMS key $key does not rotate"
done
log "smoke: every KMS key rotates"
printf '%-48s %5d s\n' "smoke ($smoke_ok checks through the AWS API)" $(($(date +%s) - smoke_t0)) >>"$timings"

# ---- 5. a second plan: nothing to change where the emulator round-trips -------------------
step "5. plan again: no changes expected"
timed "second plan" tofu -chdir="$envs" plan -no-color -lock-timeout=1m -var-file="$ENV_NAME.tfvars" "${excludes[@]}" \
  -out="$work/again.tfplan" >"$work/plan-again.log" 2>&1 || { tail -40 "$work/plan-again.log"; die "second plan failed"; }
tofu -chdir="$envs" show -json "$work/again.tfplan" >"$work/again.json"
# Changes per platform submodule (module.platform.module.NAME...; "platform" for its own).
jq -r '.resource_changes[] | select(.change.actions != ["no-op"] and .change.actions != ["read"]) |
  (.address | capture("^module\\.platform\\.module\\.(?<m>[^.]+)\\.").m // "platform") + " " + .address + " " + (.change.actions | join(","))' \
  "$work/again.json" >"$work/drift.txt"
drifted=()
while read -r mod addr actions; do
  if [[ " ${NOT_ROUNDTRIP[*]} " == *" $mod "* ]]; then
    log "second plan: $addr $actions (module $mod: the emulator does not round-trip it)"
  else
    log "second plan: $addr $actions"; drifted+=("$addr")
  fi
done <"$work/drift.txt"
[ ${#drifted[@]} = 0 ] || die "the second plan changes ${#drifted[@]} resource(s) of modules the emulator round-trips (above)"
log "second plan: no changes outside ${NOT_ROUNDTRIP[*]}"

# ---- 6. destroy ----------------------------------------------------------------------------
step "6. destroy"
timed "destroy" timeout 15m tofu -chdir="$envs" destroy -auto-approve -no-color -lock-timeout=1m -var-file="$ENV_NAME.tfvars" \
  "${excludes[@]}" >"$work/destroy.log" 2>&1 || { grep -A8 '^Error' "$work/destroy.log" | head -60; die "destroy failed"; }
left=$(tofu -chdir="$envs" state list | grep -vc '^data\.\|\.data\.' || true)
[ "$left" = 0 ] || { tofu -chdir="$envs" state list >&2; die "destroy left $left resources in the state"; }
printf '%-48s %5d s\n' "suite total" $(($(date +%s) - suite_start)) >>"$timings"
log "suite 25 passed: $applied of $planned planned resources applied, smoke-tested, planned again and destroyed"
