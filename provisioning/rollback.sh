#!/usr/bin/env bash
# Switches the AnchIAle agent back to the previous version (or to VERSION), then restarts it.
#
# usage: rollback.sh [--root DIR] [--no-restart] [VERSION]
#
# One link change: /opt/anchiale/current -> versions/<target>, atomically (/opt/anchiale/previous
# then points at the version left, so a second rollback goes forward again). The units and the
# configuration stay as they are. Installed versions: ls /opt/anchiale/versions
set -euo pipefail
umask 0022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=provisioning/lib.sh
source "$SCRIPT_DIR/lib.sh"

usage() { usage_of "${BASH_SOURCE[0]}" "${1:-0}"; }

ROOT_ARG='' TARGET_VERSION='' RESTART=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --root) [[ $# -ge 2 ]] || die "--root needs a directory"; ROOT_ARG=$2; shift 2 ;;
    --no-restart) RESTART=0; shift ;;
    -h | --help) usage 0 ;;
    -*) printf 'error: unknown option %s\n\n' "$1" >&2; usage 2 ;;
    *) [[ -z $TARGET_VERSION ]] || usage 2; TARGET_VERSION=$1; shift ;;
  esac
done
use_root "$ROOT_ARG"
[[ -n $ROOT || $(id -u) == 0 ]] || die "run as root (or with --root DIR)"
[[ -d $OPT/versions ]] || die "no installation in ${OPT#"$ROOT"}"
exec 8>>"$OPT/.install.lock"
flock -n 8 || die "another install.sh, rollback.sh or uninstall.sh is running"

installed_versions() { find "$OPT/versions" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%f\n' | LC_ALL=C sort | tr '\n' ' '; }

current=$(readlink "$OPT/current" 2>/dev/null) || die "${OPT#"$ROOT"}/current is not a link: nothing to roll back"
if [[ -n $TARGET_VERSION ]]; then
  [[ $TARGET_VERSION =~ ^[0-9A-Za-z.+-]+$ ]] || die "not a version: $TARGET_VERSION"
  target=versions/$TARGET_VERSION
else
  target=$(readlink "$OPT/previous" 2>/dev/null) ||
    die "no previous version recorded; name one: $(installed_versions)"
fi
[[ -f $OPT/$target/dist/agent/main.js ]] ||
  die "${OPT#"$ROOT"}/$target is not an installed version; installed: $(installed_versions)"

step "Rollback"
if [[ $target == "$current" ]]; then
  note "already at ${target#versions/}"
else
  point_link "$OPT/current" "$target"
  point_link "$OPT/previous" "$current"
  for unit in "${UNITS[@]}"; do
    if [[ -f $OPT/$target/systemd/$unit && -f $UNIT_DIR/$unit ]] && ! cmp -s "$OPT/$target/systemd/$unit" "$UNIT_DIR/$unit"; then
      warn "$unit of ${target#versions/} differs from the installed one (kept); to install it: ${OPT#"$ROOT"}/current/provisioning/install.sh --bundle <its bundle>"
    fi
  done
  if [[ $RESTART == 1 ]] && systemd_running; then
    systemctl try-restart anchiale-agent.service
    note "anchiale-agent.service restarted (if it was running)"
  fi
fi
summary
