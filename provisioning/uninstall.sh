#!/usr/bin/env bash
# Removes the AnchIAle agent: stops and disables its units, removes the app and the units.
# Keeps the configuration (/etc/anchiale), the state and models (/var/lib/anchiale) and the user
# unless --purge.
#
# usage: uninstall.sh [--root DIR] [--purge]
#   --purge     also remove /etc/anchiale, /var/lib/anchiale (models included), /var/cache/anchiale
#               and the user and group anchiale
#   --root DIR  work on DIR (image, tests): nothing is stopped, accounts in DIR/etc/{passwd,group}
set -euo pipefail
umask 0022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=provisioning/lib.sh
source "$SCRIPT_DIR/lib.sh"

usage() { usage_of "${BASH_SOURCE[0]}" "${1:-0}"; }

ROOT_ARG='' PURGE=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --root) [[ $# -ge 2 ]] || die "--root needs a directory"; ROOT_ARG=$2; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h | --help) usage 0 ;;
    *) printf 'error: unknown option %s\n\n' "$1" >&2; usage 2 ;;
  esac
done
use_root "$ROOT_ARG"
[[ -n $ROOT || $(id -u) == 0 ]] || die "run as root (or with --root DIR)"

step "Units"
if systemd_running; then
  # Stopping the agent runs its ExecStopPost (the card back to its minimum power limit) while
  # the helper script is still there.
  for unit in anchiale-agent.service anchiale-power-limit.path anchiale-power-limit.service; do
    if systemctl is-active --quiet "$unit"; then
      systemctl stop "$unit"
      changed "stopped $unit"
    fi
  done
fi
for unit in "${ENABLED_UNITS[@]}"; do
  if [[ -f $UNIT_DIR/$unit ]] && "${SYSTEMCTL[@]}" is-enabled --quiet "$unit" 2>/dev/null; then
    "${SYSTEMCTL[@]}" disable --quiet "$unit"
    changed "disabled $unit"
  fi
done
for unit in "${UNITS[@]}"; do remove_path "$UNIT_DIR/$unit"; done
remove_path "$UNIT_DIR/anchiale-agent.service.d"
remove_path "$TMPFILES_CONF"
if systemd_running; then
  systemctl daemon-reload
  systemctl reset-failed anchiale-agent.service anchiale-power-limit.service 2>/dev/null || true
  remove_path /run/anchiale
fi

step "Application"
remove_path "$OPT"

if [[ $PURGE == 1 ]]; then
  step "Configuration, state, user (--purge)"
  remove_path "$ETC"
  remove_path "$STATE"
  remove_path "$CACHE"
  if has_user anchiale; then
    userdel "${PREFIX_ARGS[@]}" anchiale
    changed "removed user anchiale"
  fi
  if has_group anchiale; then
    groupdel "${PREFIX_ARGS[@]}" anchiale
    changed "removed group anchiale"
  fi
else
  for kept in "$ETC" "$STATE"; do
    if [[ -e $kept ]]; then note "kept ${kept#"$ROOT"} (--purge removes it)"; fi
  done
  if has_user anchiale; then note "kept user anchiale (--purge removes it)"; fi
fi
summary
