# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables set here are used by the scripts that source this file
# Shared by install.sh, rollback.sh and uninstall.sh: messages, --root paths, users, files.
# Every change goes through the helpers below, which compare before they write: a second run
# with the same options changes nothing and says so.

CHANGES=()
WARNINGS=()

say() { printf '%s\n' "$*"; }
step() { printf '==> %s\n' "$*"; }
changed() {
  CHANGES+=("$*")
  printf '  + %s\n' "$*"
}
note() { printf '  - %s\n' "$*"; }
warn() {
  WARNINGS+=("$*")
  printf '  ! %s\n' "$*" >&2
}
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# usage_of SCRIPT [CODE]: prints the script's header comment (its usage), exits with CODE.
usage_of() {
  sed -n '2,/^set -euo/p' "$1" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
  exit "${2:-0}"
}

# use_root DIR: the --root argument as given ("" = the real system): checked, made absolute
# ("/" is the real system too), then set_root.
use_root() {
  local dir=$1
  if [[ -n $dir ]]; then
    [[ -d $dir ]] || die "--root $dir: no such directory"
    dir=$(cd "$dir" && pwd)
    [[ $dir != / ]] || dir=''
  fi
  set_root "$dir"
}

# set_root DIR: every path of the installation lives under DIR ("" = the real system).
set_root() {
  ROOT=${1%/}
  OPT=$ROOT/opt/anchiale
  ETC=$ROOT/etc/anchiale
  STATE=$ROOT/var/lib/anchiale
  CACHE=$ROOT/var/cache/anchiale
  UNIT_DIR=$ROOT/etc/systemd/system
  TMPFILES_CONF=$ROOT/etc/tmpfiles.d/anchiale.conf
  if [[ -n $ROOT ]]; then SYSTEMCTL=(systemctl "--root=$ROOT"); else SYSTEMCTL=(systemctl); fi
  # Extra arguments of useradd/groupadd/usermod/userdel/groupdel.
  if [[ -n $ROOT ]]; then PREFIX_ARGS=(--prefix "$ROOT"); else PREFIX_ARGS=(); fi
}

# The system's users and groups: the real ones, or DIR/etc/{passwd,group} with --root (so that an
# image or a test fixture never looks at the host's accounts).
account_line() { # account_line passwd|group NAME
  if [[ -n $ROOT ]]; then
    awk -F: -v n="$2" '$1 == n { print; found = 1; exit } END { exit !found }' "$ROOT/etc/$1"
  else
    getent "$1" "$2"
  fi
}
has_user() { account_line passwd "$1" >/dev/null 2>&1; }
has_group() { account_line group "$1" >/dev/null 2>&1; }
uid_of() { account_line passwd "$1" | cut -d: -f3; }
gid_of() { account_line group "$1" | cut -d: -f3; }
in_group() { # in_group USER GROUP: USER is a listed member of GROUP
  local members
  members=$(account_line group "$2" | cut -d: -f4)
  [[ ,$members, == *,"$1",* ]]
}

# owner_ids USER:GROUP → "uid:gid" (numeric: chown must not resolve names on the host with --root).
owner_ids() {
  local u=${1%%:*} g=${1#*:} uid gid
  uid=$(uid_of "$u") || die "no user $u"
  gid=$(gid_of "$g") || die "no group $g"
  printf '%s:%s' "$uid" "$gid"
}

# ensure_mode_owner PATH MODE USER:GROUP
ensure_mode_owner() {
  local path=$1 mode=$2 owner=$3 ids have
  have=$(stat -c %a "$path")
  if [[ $((8#$have)) != $((8#$mode)) ]]; then
    chmod "$mode" "$path"
    changed "mode $mode on ${path#"$ROOT"}"
  fi
  ids=$(owner_ids "$owner")
  have=$(stat -c %u:%g "$path")
  if [[ $have != "$ids" ]]; then
    chown "$ids" "$path"
    changed "owner $owner on ${path#"$ROOT"}"
  fi
}

# ensure_dir DIR MODE USER:GROUP
ensure_dir() {
  if [[ ! -d $1 ]]; then
    mkdir -p "$(dirname "$1")"
    mkdir -m "$2" "$1"
    changed "created ${1#"$ROOT"}/"
  fi
  ensure_mode_owner "$1" "$2" "$3"
}

# install_content DEST MODE USER:GROUP < content: replaces DEST (atomically) only if it differs.
install_content() {
  local dest=$1 tmp
  tmp=$(mktemp "$(dirname "$dest")/.install.XXXXXX")
  cat >"$tmp"
  if [[ -f $dest && ! -L $dest ]] && cmp -s "$tmp" "$dest"; then
    rm -f "$tmp"
  else
    chmod "$2" "$tmp"
    if [[ -e $dest || -L $dest ]]; then changed "updated ${dest#"$ROOT"}"; else changed "created ${dest#"$ROOT"}"; fi
    mv -f "$tmp" "$dest"
  fi
  ensure_mode_owner "$dest" "$2" "$3"
}

# install_file SRC DEST MODE USER:GROUP
install_file() { install_content "$2" "$3" "$4" <"$1"; }

# remove_path PATH: removes a file, link or tree, saying so.
remove_path() {
  if [[ -e $1 || -L $1 ]]; then
    rm -rf -- "$1"
    changed "removed ${1#"$ROOT"}"
  fi
}

# point_link LINK TARGET: makes LINK point at TARGET with one atomic rename (never a moment
# without the link): a temporary link renamed over the old one.
point_link() {
  local link=$1 target=$2 tmp
  if [[ -L $link && $(readlink "$link") == "$target" ]]; then return 0; fi
  if [[ -e $link && ! -L $link ]]; then die "${link#"$ROOT"} exists and is not a link: refusing to replace it"; fi
  tmp="$(dirname "$link")/.$(basename "$link").tmp.$$"
  ln -sfn "$target" "$tmp"
  mv -T "$tmp" "$link"
  changed "${link#"$ROOT"} -> $target"
}

# version_of DIR: the "version" of DIR/package.json (no Node needed).
version_of() {
  local v
  v=$(sed -n -E 's/^[[:space:]]*"version"[[:space:]]*:[[:space:]]*"([^"]+)".*/\1/p' "$1/package.json" 2>/dev/null | head -n 1)
  [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || return 1
  printf '%s' "$v"
}

# The systemd units this project installs.
UNITS=(anchiale-agent.service anchiale-power-limit.path anchiale-power-limit.service)
ENABLED_UNITS=(anchiale-agent.service anchiale-power-limit.path)

# systemd is running as init (not in a chroot, an image build or a container without it).
systemd_running() { [[ -z $ROOT && -d /run/systemd/system ]]; }

summary() {
  if ((${#CHANGES[@]} == 0)); then
    say "Nothing changed: the system already matched."
  else
    say "${#CHANGES[@]} change(s) made."
  fi
  if ((${#WARNINGS[@]} > 0)); then say "${#WARNINGS[@]} warning(s): see the lines marked '!' above."; fi
}
