#!/usr/bin/env bash
# AnchIAle power-limit helper: applies the GPU power limit the unprivileged agent asks for.
#
#   power-limit-helper.sh --apply     read the request, validate, clamp, apply, write the result
#   power-limit-helper.sh --restore   apply the card's minimum limit (idle/safe), if the agent
#                                     ever asked for a limit since boot
#
# Started as root by anchiale-power-limit.path / .service (--apply) and by the agent unit's
# ExecStopPost=+ (--restore). The agent writes an integer (watts) to <dir>/request; the outcome
# goes to <dir>/result as JSON:
#   {"ok":true,"requested_w":250,"applied_w":250,"ts":"…","limits":{…}}
#   {"ok":false,"requested_w":null,"applied_w":null,"error":"invalid_request","message":"…","ts":"…"}
# The request is clamped to the card's [power.min_limit, power.max_limit] and to the site
# ceiling in /etc/anchiale/site-max-power-w, a file that must be owned by root and writable by
# nobody else (the agent cannot raise its own ceiling). Exit status: 0 ok, 1 not applied.
#
# Environment (tests; the units set none of these):
#   ANCHIALE_HELPER_ROOT      prefix of every path below (default: none)
#   ANCHIALE_POWER_LIMIT_DIR  request/result directory (default /run/anchiale/power-limit)
#   ANCHIALE_SITE_MAX_FILE    site ceiling (default /etc/anchiale/site-max-power-w)
#   ANCHIALE_GPU_INDEX_FILE   GPU index or UUID (default /etc/anchiale/gpu-index; absent: 0)
#   ANCHIALE_NVIDIA_SMI       nvidia-smi command (default: nvidia-smi from PATH)
#   ANCHIALE_TRUSTED_UID      owner required for the site ceiling file (default 0)
#   ANCHIALE_AGENT_UID        owner required for the request file (default: uid of user anchiale)
set -euo pipefail
umask 0027

readonly ROOT="${ANCHIALE_HELPER_ROOT:-}"
readonly DIR="${ANCHIALE_POWER_LIMIT_DIR:-$ROOT/run/anchiale/power-limit}"
readonly SITE_MAX_FILE="${ANCHIALE_SITE_MAX_FILE:-$ROOT/etc/anchiale/site-max-power-w}"
readonly GPU_INDEX_FILE="${ANCHIALE_GPU_INDEX_FILE:-$ROOT/etc/anchiale/gpu-index}"
readonly NVIDIA_SMI="${ANCHIALE_NVIDIA_SMI:-nvidia-smi}"
readonly TRUSTED_UID="${ANCHIALE_TRUSTED_UID:-0}"
readonly REQUEST="$DIR/request"
readonly RESULT="$DIR/result"
# Longest request accepted, in bytes ("65535\n" is 6).
readonly MAX_REQUEST_BYTES=16
# Largest limit that can make sense for one card, in watts (guards against absurd values).
readonly MAX_PLAUSIBLE_W=5000

log() { printf 'power-limit-helper: %s\n' "$*" >&2; }

json_string() {
  # A JSON string for messages written by this script (never the request's content).
  local s
  s=$(printf '%s' "$1" | tr -d '[:cntrl:]')
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# The first 200 bytes of a command's output on one line (json_string escapes the rest).
oneline() { head -c 200 <<<"$1" | tr '\n' ' '; }

json_num_or_null() { if [[ -n ${1:-} ]]; then printf '%s' "$1"; else printf 'null'; fi; }

# write_result OK REQUESTED APPLIED ERROR MESSAGE [LIMITS_JSON]
write_result() {
  local ok=$1 requested=$2 applied=$3 error=$4 message=$5 limits=${6:-}
  local ts json tmp
  ts=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
  json="{\"ok\":$ok,\"requested_w\":$(json_num_or_null "$requested"),\"applied_w\":$(json_num_or_null "$applied")"
  if [[ -n $error ]]; then json+=",\"error\":$(json_string "$error")"; fi
  if [[ -n $message ]]; then json+=",\"message\":$(json_string "$message")"; fi
  if [[ -n $limits ]]; then json+=",\"limits\":$limits"; fi
  json+=",\"ts\":\"$ts\"}"
  if [[ ! -d $DIR ]]; then
    log "no directory $DIR: result not written: $json"
    return 0
  fi
  # Atomic: a temporary file (O_EXCL, in a sticky directory the agent cannot tamper with) renamed
  # over the result; rename replaces a planted symlink instead of following it.
  tmp=$(mktemp "$DIR/.result.XXXXXX")
  printf '%s\n' "$json" >"$tmp"
  chmod 0640 "$tmp"
  mv -f "$tmp" "$RESULT"
}

fail() {
  # fail ERROR MESSAGE [REQUESTED] [LIMITS_JSON]: write an error result and exit 1.
  log "$1: $2"
  write_result false "${3:-}" "" "$1" "$2" "${4:-}"
  # A card without power management has no limit to restore: not a failure of the stop.
  if [[ $MODE == restore && $1 == power_management_unsupported ]]; then exit 0; fi
  exit 1
}

gpu_id() {
  local id=0
  if [[ -f $GPU_INDEX_FILE ]]; then
    id=$(tr -d '[:space:]' <"$GPU_INDEX_FILE")
    [[ -n $id ]] || id=0
  fi
  # An index, a UUID (GPU-…/MIG-…) or a PCI bus id; nothing that could be read as an option.
  if [[ ! $id =~ ^([0-9]{1,3}|(GPU|MIG)-[0-9A-Fa-f-]{8,64}|[0-9A-Fa-f]{4,8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])$ ]]; then
    fail gpu_index_invalid "$GPU_INDEX_FILE holds no GPU index, UUID or PCI bus id"
  fi
  printf '%s' "$id"
}

have_nvidia_smi() { command -v "$NVIDIA_SMI" >/dev/null 2>&1; }

# A watt value as nvidia-smi prints it ("100.00") → integer, or empty for [N/A]/[Not Supported].
to_watts() {
  local v=${1//[[:space:]]/}
  [[ $v =~ ^[0-9]+(\.[0-9]+)?$ ]] || return 0
  printf '%s' "$v"
}

# Sets CARD_MIN and CARD_MAX (integers; min rounded up, max rounded down) or fails.
query_card_range() {
  local gpu=$1 out min max
  if ! out=$("$NVIDIA_SMI" --query-gpu=power.min_limit,power.max_limit --format=csv,noheader,nounits -i "$gpu" 2>&1); then
    fail query_failed "nvidia-smi could not query GPU $gpu: $(oneline "$out")"
  fi
  out=$(head -n 1 <<<"$out")
  min=$(to_watts "${out%%,*}")
  max=$(to_watts "${out#*,}")
  if [[ -z $min || -z $max || $out != *,* ]]; then
    if [[ $out == *"N/A"* || $out == *"Not Supported"* ]]; then
      fail power_management_unsupported "GPU $gpu does not support power management (power.min_limit, power.max_limit: $(oneline "$out"))"
    fi
    fail query_failed "unexpected answer from nvidia-smi for GPU $gpu"
  fi
  # Round inwards so that the value we write is always within the card's range.
  CARD_MIN=$(awk -v v="$min" 'BEGIN { r = int(v); if (r < v) r++; print r }')
  CARD_MAX=$(awk -v v="$max" 'BEGIN { print int(v) }')
  if ((CARD_MIN <= 0 || CARD_MAX < CARD_MIN || CARD_MAX > MAX_PLAUSIBLE_W)); then
    fail query_failed "implausible power range for GPU $gpu: $min..$max W"
  fi
}

# Sets SITE_MAX from the root-owned ceiling file, or fails.
read_site_max() {
  local owner mode content
  if [[ -L $SITE_MAX_FILE || ! -f $SITE_MAX_FILE ]]; then
    fail site_ceiling_missing "no site ceiling file $SITE_MAX_FILE (a plain file written by provisioning/install.sh --site-max-power-w)"
  fi
  owner=$(stat -c %u "$SITE_MAX_FILE")
  mode=$(stat -c %a "$SITE_MAX_FILE")
  if [[ $owner != "$TRUSTED_UID" ]]; then
    fail site_ceiling_untrusted "$SITE_MAX_FILE is owned by uid $owner, not by root: refusing"
  fi
  if (((8#$mode & 8#022) != 0)); then
    fail site_ceiling_untrusted "$SITE_MAX_FILE is writable by group or others (mode $mode): refusing"
  fi
  content=$(head -c 32 "$SITE_MAX_FILE" | tr -d '[:space:]')
  if [[ ! $content =~ ^[1-9][0-9]{0,4}$ ]] || ((content > MAX_PLAUSIBLE_W)); then
    fail site_ceiling_invalid "$SITE_MAX_FILE does not hold a whole number of watts"
  fi
  SITE_MAX=$content
}

# Sets REQUESTED from the request file, or sets REQUEST_ERROR/REQUEST_PROBLEM and returns 1.
# The content is never echoed back.
try_read_request() {
  local agent_uid info ftype owner size raw
  REQUESTED='' REQUEST_ERROR=invalid_request REQUEST_PROBLEM=''
  if [[ ! -e $REQUEST && ! -L $REQUEST ]]; then
    REQUEST_ERROR=request_missing REQUEST_PROBLEM="no request file $REQUEST"
    return 1
  fi
  if [[ -L $REQUEST || ! -f $REQUEST ]]; then
    REQUEST_PROBLEM="$REQUEST is not a plain file"
    return 1
  fi
  agent_uid=${ANCHIALE_AGENT_UID:-$(id -u anchiale 2>/dev/null || true)}
  # Check the file actually opened, not the name (which the agent could swap meanwhile).
  exec 3<"$REQUEST"
  info=$(stat -L -c '%F|%u|%s' /dev/fd/3)
  IFS='|' read -r ftype owner size <<<"$info"
  if [[ $ftype != "regular file" && $ftype != "regular empty file" ]]; then
    REQUEST_PROBLEM="$REQUEST is not a plain file"
  elif [[ -z $agent_uid || $owner != "$agent_uid" ]]; then
    REQUEST_PROBLEM="$REQUEST is not owned by the agent's user"
  elif ((size > MAX_REQUEST_BYTES)); then
    REQUEST_PROBLEM="request too long ($size bytes): expected a whole number of watts"
  fi
  if [[ -n $REQUEST_PROBLEM ]]; then
    exec 3<&-
    return 1
  fi
  raw=$(head -c "$MAX_REQUEST_BYTES" <&3)
  exec 3<&-
  # Digits only ($(…) already dropped the trailing newline; a space or CR is refused).
  if [[ ! $raw =~ ^(0|[1-9][0-9]{0,4})$ ]]; then
    REQUEST_PROBLEM="request is not a whole number of watts"
    return 1
  fi
  REQUESTED=$raw
}

# set_limit GPU WATTS: runs nvidia-smi -pl and reads the limit back; sets APPLIED or fails.
set_limit() {
  local gpu=$1 watts=$2 requested=$3 limits=$4 out readback
  if ! out=$("$NVIDIA_SMI" -i "$gpu" -pl "$watts" 2>&1); then
    if grep -qi 'not supported' <<<"$out"; then
      fail power_management_unsupported "GPU $gpu: changing the power limit is not supported" "$requested" "$limits"
    fi
    fail nvidia_smi_failed "nvidia-smi -i $gpu -pl $watts failed: $(oneline "$out")" "$requested" "$limits"
  fi
  # nvidia-smi may print a warning and exit 0 without applying: trust only the read-back value.
  if ! readback=$("$NVIDIA_SMI" --query-gpu=power.limit --format=csv,noheader,nounits -i "$gpu" 2>&1); then
    fail nvidia_smi_failed "could not read the power limit back from GPU $gpu" "$requested" "$limits"
  fi
  readback=$(to_watts "$(head -n 1 <<<"$readback")")
  if [[ -z $readback ]]; then
    fail nvidia_smi_failed "could not read the power limit back from GPU $gpu" "$requested" "$limits"
  fi
  APPLIED=$(awk -v v="$readback" 'BEGIN { printf "%d", v + 0.5 }')
  if ((APPLIED < watts - 1 || APPLIED > watts + 1)); then
    fail not_applied "GPU $gpu reports a limit of $APPLIED W after setting $watts W" "$requested" "$limits"
  fi
}

apply() {
  local gpu target limits applied_for
  if [[ ! -d $DIR ]]; then
    log "no directory $DIR (made by systemd-tmpfiles from anchiale.conf)"
    exit 1
  fi
  # One helper at a time (--apply from the path unit, --restore from the agent's stop).
  exec 9<"$DIR"
  flock -w 20 9 || { log "another helper holds the lock on $DIR"; exit 1; }
  gpu=$(gpu_id)
  read_site_max
  have_nvidia_smi || fail nvidia_smi_missing "nvidia-smi not found"
  query_card_range "$gpu"
  # A request written while we were applying the previous one starts no second run (the unit is
  # still active): loop until the request we applied is the latest one, a few times at most.
  for _ in 1 2 3 4 5; do
    try_read_request || fail "$REQUEST_ERROR" "$REQUEST_PROBLEM"
    applied_for=$REQUESTED
    target=$REQUESTED
    ((target > SITE_MAX)) && target=$SITE_MAX
    ((target > CARD_MAX)) && target=$CARD_MAX
    # The card cannot go below its minimum, even if the site ceiling is lower.
    ((target < CARD_MIN)) && target=$CARD_MIN
    limits="{\"card_min_w\":$CARD_MIN,\"card_max_w\":$CARD_MAX,\"site_max_w\":$SITE_MAX}"
    set_limit "$gpu" "$target" "$REQUESTED" "$limits"
    write_result true "$REQUESTED" "$APPLIED" "" "" "$limits"
    log "GPU $gpu: requested $REQUESTED W, applied $APPLIED W (card $CARD_MIN..$CARD_MAX W, site ceiling $SITE_MAX W)"
    try_read_request || return 0
    [[ $REQUESTED != "$applied_for" ]] || return 0
  done
}

restore() {
  local gpu limits
  # Only where the helper method is in use: the agent asked for a limit since boot.
  if [[ ! -e $REQUEST ]]; then
    log "no request since boot ($REQUEST): nothing to restore"
    return 0
  fi
  if ! have_nvidia_smi; then
    log "nvidia-smi not found: nothing to restore"
    return 0
  fi
  exec 9<"$DIR"
  flock -w 20 9 || { log "another helper holds the lock on $DIR"; exit 1; }
  gpu=$(gpu_id)
  query_card_range "$gpu"
  limits="{\"card_min_w\":$CARD_MIN,\"card_max_w\":$CARD_MAX}"
  set_limit "$gpu" "$CARD_MIN" "" "$limits"
  write_result true "" "$APPLIED" "" "restored the card's minimum limit" "$limits"
  log "GPU $gpu: restored the minimum limit, $APPLIED W"
}

usage() {
  printf 'usage: %s --apply | --restore\n' "${0##*/}" >&2
  exit 2
}

[[ $# -eq 1 ]] || usage
MODE=''
case $1 in
  --apply) MODE=apply; apply ;;
  --restore) MODE=restore; restore ;;
  *) usage ;;
esac
