#!/usr/bin/env bash
# Installs (or upgrades) the AnchIAle agent on a Debian/Ubuntu box with systemd.
# Idempotent: a second run with the same options changes nothing and says so.
#
# usage: install.sh [options]
#   --node-id ID                 topic id of this heater ([a-z0-9_-]); required unless
#                                /etc/anchiale/agent.yaml exists
#   --mqtt-url URL               broker (mqtt://, mqtts://, mqtt+unix://, ws://, wss://); required
#                                likewise
#   --bundle FILE.tar.gz         install offline from a bundle (npm run bundle); FILE.tar.gz.sha256
#                                must sit next to it and match
#   --from-npm [VERSION]         install anchiale-agent@VERSION (default latest) with npm
#                                (default source: the unpacked bundle this script belongs to)
#   --mqtt-username NAME         default: the node id when a password is given
#   --mqtt-password-file FILE    copied to /etc/anchiale/credentials/mqtt_password (0640 root:anchiale)
#   --mqtt-tls-key               make a client key (EC P-256) and a CSR with CN = node id for the
#                                site CA; the signed certificate goes to /etc/anchiale/tls/client.crt
#   --mqtt-ca-file FILE          the broker's CA, copied to /etc/anchiale/tls/ca.pem
#   --site-max-power-w W         site ceiling of the GPU power limit (root-owned
#                                /etc/anchiale/site-max-power-w; default 300 when absent)
#   --gpu-index N                GPU to drive (/etc/anchiale/gpu-index; default 0)
#   --room-temperature-topic T   MQTT topic of the room temperature for a new agent.yaml
#   --node PATH                  the Node binary to run the agent with (default: node on PATH)
#   --no-start                   install and enable, but do not start or restart anything
#   --root DIR                   install into DIR (image building, tests): every path under DIR,
#                                accounts in DIR/etc/{passwd,group}, nothing started
#   --yes, -y                    go on despite preflight warnings, without asking
#
# Layout: /opt/anchiale/versions/<version>/ (the app), /opt/anchiale/current -> versions/<version>,
# /opt/anchiale/previous (for rollback.sh), /opt/anchiale/node -> the Node prefix;
# /etc/anchiale/ (config, credentials, site ceiling); /var/lib/anchiale/ (state, models);
# units in /etc/systemd/system/, /etc/tmpfiles.d/anchiale.conf. See provisioning/README.md.
set -euo pipefail
umask 0022

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=provisioning/lib.sh
source "$SCRIPT_DIR/lib.sh"
APP_SRC_DIR=$(dirname "$SCRIPT_DIR")
NPM_PACKAGE=${ANCHIALE_NPM_PACKAGE:-anchiale-agent}

usage() { usage_of "${BASH_SOURCE[0]}" "${1:-0}"; }

ROOT_ARG='' NODE_ID='' MQTT_URL='' MQTT_USERNAME='' BUNDLE='' FROM_NPM=0 NPM_VERSION=''
PASSWORD_FILE='' TLS_KEY=0 CA_FILE='' SITE_MAX='' GPU_INDEX='' ROOM_TOPIC='' NODE_BIN='' START=1 YES=0
need_arg() { [[ $# -ge 2 && -n $2 ]] || die "$1 needs a value"; }
while [[ $# -gt 0 ]]; do
  case $1 in
    --root) need_arg "$@"; ROOT_ARG=$2; shift 2 ;;
    --node-id) need_arg "$@"; NODE_ID=$2; shift 2 ;;
    --mqtt-url) need_arg "$@"; MQTT_URL=$2; shift 2 ;;
    --mqtt-username) need_arg "$@"; MQTT_USERNAME=$2; shift 2 ;;
    --bundle) need_arg "$@"; BUNDLE=$2; shift 2 ;;
    --from-npm)
      FROM_NPM=1
      if [[ $# -ge 2 && $2 != -* ]]; then NPM_VERSION=$2; shift; fi
      shift ;;
    --mqtt-password-file) need_arg "$@"; PASSWORD_FILE=$2; shift 2 ;;
    --mqtt-tls-key) TLS_KEY=1; shift ;;
    --mqtt-ca-file) need_arg "$@"; CA_FILE=$2; shift 2 ;;
    --site-max-power-w) need_arg "$@"; SITE_MAX=$2; shift 2 ;;
    --gpu-index) need_arg "$@"; GPU_INDEX=$2; shift 2 ;;
    --room-temperature-topic) need_arg "$@"; ROOM_TOPIC=$2; shift 2 ;;
    --node) need_arg "$@"; NODE_BIN=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --yes | -y) YES=1; shift ;;
    -h | --help) usage 0 ;;
    *) printf 'error: unknown option %s\n\n' "$1" >&2; usage 2 ;;
  esac
done

use_root "$ROOT_ARG"
[[ -z $ROOT ]] || START=0

# ---------------------------------------------------------------- arguments (before any change)
[[ -n $BUNDLE && $FROM_NPM == 1 ]] && die "--bundle and --from-npm exclude each other"
CONFIG=$ETC/agent.yaml
config_value() { # config_value SECTION KEY: a scalar of an existing agent.yaml (best effort)
  awk -v s="$1" -v k="$2" '
    /^[^[:space:]#]/ { insec = ($0 ~ "^" s ":") }
    insec && $0 ~ "^[[:space:]]+" k ":" { sub("^[[:space:]]+" k ":[[:space:]]*", ""); sub("[[:space:]]+#.*$", ""); gsub(/^"|"$/, ""); print; exit }
  ' "$CONFIG" 2>/dev/null || true
}
if [[ -f $CONFIG ]]; then
  HAVE_CONFIG=1
  FILE_NODE_ID=$(config_value node id)
  FILE_MQTT_URL=$(config_value mqtt url)
  [[ -n $NODE_ID ]] || NODE_ID=$FILE_NODE_ID
else
  HAVE_CONFIG=0
  [[ -n $NODE_ID ]] || die "--node-id is required (no ${CONFIG#"$ROOT"} yet)"
  [[ -n $MQTT_URL ]] || die "--mqtt-url is required (no ${CONFIG#"$ROOT"} yet)"
fi
if [[ -n $NODE_ID && ! $NODE_ID =~ ^[a-z0-9_-]{1,64}$ ]]; then die "--node-id must match ^[a-z0-9_-]+$ (it is a level of every MQTT topic)"; fi
if [[ -n $MQTT_URL && ! $MQTT_URL =~ ^(mqtt|mqtts|mqtt\+unix|ws|wss)://[^[:space:]\"\\]+$ ]]; then
  die "--mqtt-url must be mqtt://, mqtts://, mqtt+unix://, ws:// or wss:// without spaces or quotes"
fi
if [[ -n $MQTT_USERNAME && ! $MQTT_USERNAME =~ ^[A-Za-z0-9._@-]{1,128}$ ]]; then die "--mqtt-username: letters, digits and ._@- only"; fi
if [[ -n $SITE_MAX ]] && { [[ ! $SITE_MAX =~ ^[1-9][0-9]{0,3}$ ]] || ((SITE_MAX > 2000)); }; then die "--site-max-power-w must be a whole number of watts, 1..2000"; fi
if [[ -n $GPU_INDEX && ! $GPU_INDEX =~ ^[0-9]{1,3}$ ]]; then die "--gpu-index must be a number"; fi
if [[ -n $ROOM_TOPIC && ! $ROOM_TOPIC =~ ^[^[:space:]\"\\#+]+$ ]]; then die "--room-temperature-topic: a topic without spaces, quotes or wildcards"; fi
if [[ -n $PASSWORD_FILE ]]; then [[ -f $PASSWORD_FILE && -s $PASSWORD_FILE ]] || die "--mqtt-password-file $PASSWORD_FILE: not a readable, non-empty file"; fi
if [[ -n $CA_FILE ]]; then [[ -f $CA_FILE ]] || die "--mqtt-ca-file $CA_FILE: no such file"; fi
if [[ $TLS_KEY == 1 && -z $NODE_ID ]]; then die "--mqtt-tls-key needs the node id (--node-id, or node.id in ${CONFIG#"$ROOT"})"; fi
if [[ -n $BUNDLE ]]; then
  [[ -f $BUNDLE ]] || die "--bundle $BUNDLE: no such file"
  BUNDLE=$(cd "$(dirname "$BUNDLE")" && pwd)/$(basename "$BUNDLE")
fi
if [[ -n $ROOT ]]; then
  [[ -f $ROOT/etc/passwd && -f $ROOT/etc/group ]] || die "--root $ROOT needs $ROOT/etc/passwd and $ROOT/etc/group"
elif [[ $(id -u) != 0 ]]; then
  die "run as root (or with --root DIR)"
fi

# ---------------------------------------------------------------- preflight
step "Preflight"
command -v systemctl >/dev/null 2>&1 || die "systemctl not found: the agent runs under systemd"
if [[ -z $ROOT && ! -d /run/systemd/system ]]; then
  warn "systemd is not running as init here (container?): units are installed and enabled, nothing is started"
  START=0
fi

# Node: >= 20 required, 22/24 LTS recommended.
if [[ -z $NODE_BIN ]]; then NODE_BIN=$(command -v node 2>/dev/null) || die "Node.js not found: install Node 22 or 24 LTS (Debian 12 ships 18, too old), or pass --node PATH"; fi
[[ -x $NODE_BIN ]] || die "--node $NODE_BIN: not executable"
NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node' 2>/dev/null) || die "$NODE_BIN does not run"
NODE_MAJOR=${NODE_VERSION%%.*}
[[ $NODE_MAJOR =~ ^[0-9]+$ ]] || die "cannot read the version of $NODE_BIN ($NODE_VERSION)"
if ((NODE_MAJOR < 20)); then
  die "Node $NODE_VERSION at $NODE_BIN is too old: the agent needs >= 20; install Node 22 or 24 LTS (NodeSource, or a nodejs.org tarball unpacked under /opt and --node /opt/node-v24.../bin/node)"
elif ((NODE_MAJOR == 20)); then
  warn "Node $NODE_VERSION: Node 20 is past its end of life (2026-04); install Node 22 or 24 LTS"
elif ((NODE_MAJOR % 2 == 1)); then
  warn "Node $NODE_VERSION is not an LTS release: Node 22 or 24 LTS is recommended"
else
  note "Node $NODE_VERSION ($NODE_BIN)"
fi
NODE_REAL=$(readlink -f "$NODE_BIN")
NODE_PREFIX=$(dirname "$(dirname "$NODE_REAL")")
[[ -x $NODE_PREFIX/bin/node ]] || die "$NODE_REAL is not <prefix>/bin/node: pass --node <prefix>/bin/node"
case $NODE_PREFIX/ in
  /home/* | /root/* | /run/user/*) die "Node lives in $NODE_PREFIX, which the agent's sandbox hides (ProtectHome=): install it under /usr or /opt" ;;
esac

# GPU, driver, persistence mode, inference backends.
GPU=${GPU_INDEX:-}
if [[ -z $GPU && -f $ETC/gpu-index ]]; then GPU=$(tr -d '[:space:]' <"$ETC/gpu-index"); fi
GPU=${GPU:-0}
HEATER_BACKEND=sim POWER_LIMIT_METHOD=none
if command -v nvidia-smi >/dev/null 2>&1; then
  if gpu_name=$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader -i "$GPU" 2>/dev/null); then
    note "GPU $GPU: $gpu_name"
    HEATER_BACKEND=nvidia
    persistence=$(nvidia-smi --query-gpu=persistence_mode --format=csv,noheader -i "$GPU" 2>/dev/null || true)
    if [[ $persistence != *Enabled* ]]; then
      warn "persistence mode is off on GPU $GPU (the driver reloads and forgets the power limit between uses); turn it on with:  systemctl enable --now nvidia-persistenced   (or: nvidia-smi -i $GPU -pm 1)"
    fi
    range=$(nvidia-smi --query-gpu=power.min_limit,power.max_limit --format=csv,noheader,nounits -i "$GPU" 2>/dev/null || true)
    if [[ $range =~ ^[[:space:]]*[0-9.]+,[[:space:]]*[0-9.]+[[:space:]]*$ ]]; then
      POWER_LIMIT_METHOD=helper
      note "power limit range: ${range//[[:space:]]/} W"
    else
      warn "GPU $GPU does not report a power-limit range (${range:-no answer}): power management unsupported, heater.power_limit_method: none"
    fi
  else
    warn "nvidia-smi does not answer for GPU $GPU: is the driver loaded? (heater.backend: sim)"
  fi
else
  warn "nvidia-smi not found: no NVIDIA driver, this box can only simulate (heater.backend: sim)"
fi
libs=$(ldconfig -p 2>/dev/null || true)
backends=()
if grep -Eq 'libcudart\.so\.1[23]([^0-9]|$)' <<<"$libs"; then
  backends+=(CUDA)
  grep -Eq 'libcublas\.so\.1[23]([^0-9]|$)' <<<"$libs" || warn "CUDA runtime found but no cuBLAS 12/13 (libcublas.so.12/13): node-llama-cpp's CUDA build needs both"
fi
if grep -Eq 'libvulkan\.so\.1([^0-9]|$)' <<<"$libs"; then backends+=(Vulkan); fi
if ((${#backends[@]} > 0)); then
  note "node-llama-cpp GPU backends usable here: ${backends[*]}"
else
  warn "no CUDA 12/13 runtime (libcudart.so.12/13) and no Vulkan loader (libvulkan.so.1): node-llama-cpp would run on the CPU; install the CUDA runtime + cuBLAS, or libvulkan1 with the NVIDIA Vulkan driver"
fi

if ((${#WARNINGS[@]} > 0)) && [[ $YES != 1 ]]; then
  if [[ -t 0 ]]; then
    read -r -p "Go on despite the warnings above? [y/N] " answer
    [[ $answer == [yY]* ]] || die "stopped"
  else
    die "preflight warnings (above): rerun with --yes to go on"
  fi
fi

# ---------------------------------------------------------------- system user
step "User and groups"
for g in video render anchiale; do
  if ! has_group "$g"; then
    groupadd "${PREFIX_ARGS[@]}" --system "$g"
    changed "group $g"
  fi
done
if ! has_user anchiale; then
  useradd "${PREFIX_ARGS[@]}" --system --gid anchiale --groups video,render --home-dir /var/lib/anchiale \
    --no-create-home --shell /usr/sbin/nologin --comment "AnchIAle heater agent" anchiale
  changed "user anchiale (groups video, render)"
fi
for g in video render; do
  if ! in_group anchiale "$g"; then
    usermod "${PREFIX_ARGS[@]}" --append --groups "$g" anchiale
    changed "user anchiale added to group $g"
  fi
done

# ---------------------------------------------------------------- the app
step "Application"
mkdir -p "$ROOT/opt"
ensure_dir "$OPT" 0755 root:root
ensure_dir "$OPT/versions" 0755 root:root
exec 8>>"$OPT/.install.lock"
flock -n 8 || die "another install.sh, rollback.sh or uninstall.sh is running"

STAGING=''
cleanup() { if [[ -n $STAGING ]]; then rm -rf -- "$STAGING"; fi; }
trap cleanup EXIT

# installed_source VERSION: the source id recorded when versions/VERSION was installed.
installed_source() { cat "$OPT/versions/$1/.anchiale-source" 2>/dev/null || true; }

# The version already installed from exactly this source, if any.
installed_version_for() {
  local d
  for d in "$OPT"/versions/*/; do
    [[ -f $d.anchiale-source && $(cat "$d.anchiale-source") == "$1" ]] && { basename "$d"; return 0; }
  done
  return 1
}

VERSION=''
if [[ -n $BUNDLE ]]; then
  [[ -f $BUNDLE.sha256 ]] || die "no checksum file $BUNDLE.sha256 next to the bundle: refusing to install it"
  expected=$(awk 'NR == 1 { print tolower($1) }' "$BUNDLE.sha256")
  [[ $expected =~ ^[0-9a-f]{64}$ ]] || die "$BUNDLE.sha256 does not hold a SHA-256 checksum"
  actual=$(sha256sum "$BUNDLE" | awk '{ print $1 }')
  [[ $actual == "$expected" ]] || die "checksum mismatch for $BUNDLE (expected $expected, got $actual): refusing to unpack it"
  note "checksum OK: sha256 $actual"
  SOURCE_ID="bundle sha256:$actual"
  VERSION=$(installed_version_for "$SOURCE_ID" || true)
  if [[ -z $VERSION ]]; then
    STAGING=$(mktemp -d "$OPT/versions/.staging.XXXXXX")
    tar -xzf "$BUNDLE" -C "$STAGING" --strip-components=1 --no-same-owner --no-same-permissions
  fi
elif [[ $FROM_NPM == 1 ]]; then
  spec="$NPM_PACKAGE@${NPM_VERSION:-latest}"
  if [[ $NPM_VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then resolved=$NPM_VERSION; else
    resolved=$(npm view "$spec" version 2>/dev/null | tail -n 1) || die "npm cannot resolve $spec"
  fi
  SOURCE_ID="npm $NPM_PACKAGE@$resolved"
  VERSION=$(installed_version_for "$SOURCE_ID" || true)
  if [[ -z $VERSION ]]; then
    STAGING=$(mktemp -d "$OPT/versions/.staging.XXXXXX")
    mkdir "$STAGING/.pack"
    tarball=$(cd "$STAGING/.pack" && npm pack "$NPM_PACKAGE@$resolved" --silent | tail -n 1)
    [[ -n $tarball && -f $STAGING/.pack/$tarball ]] || die "npm pack $NPM_PACKAGE@$resolved made no tarball"
    tar -xzf "$STAGING/.pack/$tarball" -C "$STAGING" --strip-components=1 --no-same-owner --no-same-permissions
    rm -rf "$STAGING/.pack"
    (cd "$STAGING" && npm install --omit=dev --no-audit --no-fund --no-package-lock) || die "npm install of $NPM_PACKAGE@$resolved failed"
  fi
else
  # No source given: the unpacked bundle this script belongs to.
  [[ -f $APP_SRC_DIR/dist/agent/main.js && -d $APP_SRC_DIR/node_modules ]] ||
    die "no --bundle or --from-npm, and $APP_SRC_DIR is not a built app (dist/agent/main.js, node_modules): build a bundle with 'npm run bundle' and pass --bundle"
  [[ ! -e $APP_SRC_DIR/.git ]] || die "$APP_SRC_DIR is a source checkout: build a bundle with 'npm run bundle' and install it with --bundle"
  SOURCE_ID="dir $APP_SRC_DIR"
  VERSION=$(installed_version_for "$SOURCE_ID" || true)
  if [[ -z $VERSION ]]; then
    STAGING=$(mktemp -d "$OPT/versions/.staging.XXXXXX")
    cp -a "$APP_SRC_DIR/." "$STAGING/"
  fi
fi

if [[ -n $STAGING ]]; then
  VERSION=$(version_of "$STAGING") || die "the new app has no readable version in package.json"
  [[ -f $STAGING/dist/agent/main.js ]] || die "the new app has no dist/agent/main.js"
  # Units and helper scripts travel with each version; an npm package without them gets this
  # script's own.
  for d in systemd provisioning; do
    [[ -d $STAGING/$d ]] || cp -a "$APP_SRC_DIR/$d" "$STAGING/$d"
  done
  [[ -x $STAGING/provisioning/power-limit-helper.sh ]] || die "the new app has no provisioning/power-limit-helper.sh"
  printf '%s\n' "$SOURCE_ID" >"$STAGING/.anchiale-source"
  chmod -R u+rwX,go+rX,go-w "$STAGING"
  chmod 0755 "$STAGING"
  if [[ -e $OPT/versions/$VERSION ]]; then
    die "version $VERSION is already installed from another source ($(installed_source "$VERSION")): remove ${OPT#"$ROOT"}/versions/$VERSION first (if it is not current) or install a new version"
  fi
  mv -T "$STAGING" "$OPT/versions/$VERSION"
  STAGING=''
  changed "installed version $VERSION in ${OPT#"$ROOT"}/versions/$VERSION ($SOURCE_ID)"
else
  note "version $VERSION already installed from this source"
fi
ensure_mode_owner "$OPT/versions/$VERSION" 0755 root:root

OLD_CURRENT=$(readlink "$OPT/current" 2>/dev/null || true)
APP_CHANGED=0
if [[ $OLD_CURRENT != "versions/$VERSION" ]]; then
  if [[ -n $OLD_CURRENT && -d $OPT/$OLD_CURRENT ]]; then point_link "$OPT/previous" "$OLD_CURRENT"; fi
  point_link "$OPT/current" "versions/$VERSION"
  APP_CHANGED=1
fi
point_link "$OPT/node" "$NODE_PREFIX"
APP=$OPT/versions/$VERSION

# ---------------------------------------------------------------- configuration and credentials
step "Configuration"
ensure_dir "$ETC" 0750 root:anchiale
if [[ -n $SITE_MAX ]]; then
  printf '%s\n' "$SITE_MAX" | install_content "$ETC/site-max-power-w" 0644 root:root
elif [[ ! -f $ETC/site-max-power-w ]]; then
  printf '300\n' | install_content "$ETC/site-max-power-w" 0644 root:root
  note "site ceiling 300 W (the default of heater.max_power_w): change it with --site-max-power-w W"
else
  ensure_mode_owner "$ETC/site-max-power-w" 0644 root:root
fi
SITE_MAX_W=$(tr -d '[:space:]' <"$ETC/site-max-power-w")
if [[ -n $GPU_INDEX || ! -f $ETC/gpu-index ]]; then
  printf '%s\n' "$GPU" | install_content "$ETC/gpu-index" 0644 root:root
fi

ensure_dir "$ETC/credentials" 0750 root:anchiale
if [[ -n $PASSWORD_FILE ]]; then
  install_file "$PASSWORD_FILE" "$ETC/credentials/mqtt_password" 0640 root:anchiale
fi
if [[ $TLS_KEY == 1 || -n $CA_FILE ]]; then ensure_dir "$ETC/tls" 0750 root:anchiale; fi
if [[ $TLS_KEY == 1 ]]; then
  key=$ETC/credentials/mqtt_client_key csr=$ETC/tls/client.csr
  if [[ ! -f $key ]]; then
    tmp=$(mktemp "$ETC/credentials/.key.XXXXXX")
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp" 2>/dev/null || die "openssl could not make a key"
    chmod 0640 "$tmp"
    mv -f "$tmp" "$key"
    changed "created ${key#"$ROOT"} (EC P-256 client key)"
  fi
  ensure_mode_owner "$key" 0640 root:anchiale
  if [[ ! -f $csr ]] || [[ $(openssl req -in "$csr" -noout -subject -nameopt RFC2253 2>/dev/null) != "subject=CN=$NODE_ID" ]]; then
    tmp=$(mktemp "$ETC/tls/.csr.XXXXXX")
    openssl req -new -key "$key" -subj "/CN=$NODE_ID" -out "$tmp" 2>/dev/null || die "openssl could not make the CSR"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$csr"
    changed "created ${csr#"$ROOT"} (CSR, CN=$NODE_ID)"
  fi
  ensure_mode_owner "$csr" 0644 root:root
  if [[ ! -f $ETC/tls/client.crt ]]; then
    note "have the site CA sign ${csr#"$ROOT"} (CN=$NODE_ID) and put the certificate at /etc/anchiale/tls/client.crt"
  fi
fi
if [[ -n $CA_FILE ]]; then install_file "$CA_FILE" "$ETC/tls/ca.pem" 0644 root:root; fi

yaml_or_null() { if [[ -n $1 ]]; then printf '"%s"' "$1"; else printf 'null'; fi; }
if [[ $HAVE_CONFIG == 1 ]]; then
  note "${CONFIG#"$ROOT"} exists: kept as it is (the operator's file wins)"
  if [[ -n $FILE_NODE_ID && $NODE_ID != "$FILE_NODE_ID" ]]; then note "it says node.id $FILE_NODE_ID: --node-id $NODE_ID not applied"; fi
  if [[ -n $MQTT_URL && $MQTT_URL != "$FILE_MQTT_URL" ]]; then note "it says mqtt.url ${FILE_MQTT_URL:-(none)}: --mqtt-url $MQTT_URL not applied"; fi
  ensure_mode_owner "$CONFIG" 0640 root:anchiale
else
  template=$APP/provisioning/agent.yaml.template
  [[ -f $template ]] || template=$SCRIPT_DIR/agent.yaml.template
  password_name='' username=$MQTT_USERNAME cert='' keyname='' ca=''
  if [[ -f $ETC/credentials/mqtt_password ]]; then password_name=mqtt_password; username=${username:-$NODE_ID}; fi
  if [[ -f $ETC/credentials/mqtt_client_key ]]; then keyname=mqtt_client_key cert=/etc/anchiale/tls/client.crt; fi
  if [[ -f $ETC/tls/ca.pem ]]; then ca=/etc/anchiale/tls/ca.pem; fi
  text=$(<"$template")
  text=${text//@NODE_ID@/$NODE_ID}
  text=${text//@MQTT_URL@/$MQTT_URL}
  text=${text//@MQTT_USERNAME@/$(yaml_or_null "$username")}
  text=${text//@MQTT_PASSWORD_FILE@/$(yaml_or_null "$password_name")}
  text=${text//@MQTT_CA_FILE@/$(yaml_or_null "$ca")}
  text=${text//@MQTT_CERT_FILE@/$(yaml_or_null "$cert")}
  text=${text//@MQTT_KEY_FILE@/$(yaml_or_null "$keyname")}
  text=${text//@ROOM_TEMP_TOPIC@/${ROOM_TOPIC:-building/$NODE_ID/room_temperature}}
  text=${text//@HEATER_BACKEND@/$HEATER_BACKEND}
  text=${text//@GPU_INDEX@/$GPU}
  text=${text//@SITE_MAX_W@/$SITE_MAX_W}
  text=${text//@POWER_LIMIT_METHOD@/$POWER_LIMIT_METHOD}
  printf '%s\n' "$text" | install_content "$CONFIG" 0640 root:anchiale
  if [[ -z $ROOM_TOPIC ]]; then
    note "set inputs.room_temperature in ${CONFIG#"$ROOT"} (now building/$NODE_ID/room_temperature, a placeholder): until it publishes, the heater stays idle"
  fi
fi

# ---------------------------------------------------------------- state
step "State"
mkdir -p "$ROOT/var/lib"
ensure_dir "$STATE" 0750 anchiale:anchiale
ensure_dir "$STATE/models" 0750 anchiale:anchiale

# ---------------------------------------------------------------- systemd
step "systemd units"
units_before=${#CHANGES[@]}
mkdir -p "$UNIT_DIR" "$(dirname "$TMPFILES_CONF")"
for unit in "${UNITS[@]}"; do
  install_file "$APP/systemd/$unit" "$UNIT_DIR/$unit" 0644 root:root
done
# Credentials: LoadCredential= of a missing file fails the unit (243/CREDENTIALS), so the drop-in
# names exactly the credentials present.
dropin_dir=$UNIT_DIR/anchiale-agent.service.d
creds=''
for name in mqtt_password mqtt_client_key; do
  if [[ -f $ETC/credentials/$name ]]; then creds+="LoadCredential=$name:/etc/anchiale/credentials/$name"$'\n'; fi
done
if [[ -n $creds ]]; then
  ensure_dir "$dropin_dir" 0755 root:root
  printf '# Written by provisioning/install.sh: the credentials present in /etc/anchiale/credentials.\n[Service]\n%s' "$creds" |
    install_content "$dropin_dir/credentials.conf" 0644 root:root
else
  remove_path "$dropin_dir/credentials.conf"
fi
install_file "$APP/systemd/anchiale.tmpfiles.conf" "$TMPFILES_CONF" 0644 root:root
UNITS_CHANGED=0
((${#CHANGES[@]} == units_before)) || UNITS_CHANGED=1

if systemd_running; then
  if [[ $UNITS_CHANGED == 1 ]]; then systemctl daemon-reload; fi
  systemd-tmpfiles --create "$TMPFILES_CONF"
fi
for unit in "${ENABLED_UNITS[@]}"; do
  if ! "${SYSTEMCTL[@]}" is-enabled --quiet "$unit" 2>/dev/null; then
    "${SYSTEMCTL[@]}" enable --quiet "$unit"
    changed "enabled $unit"
  fi
done

# ---------------------------------------------------------------- start
if [[ $START == 1 ]]; then
  step "Start"
  if ! systemctl is-active --quiet anchiale-power-limit.path; then
    systemctl start anchiale-power-limit.path
    changed "started anchiale-power-limit.path"
  fi
  check=("$OPT/node/bin/node" "$OPT/current/dist/agent/main.js" config check --config /etc/anchiale/agent.yaml)
  if command -v setpriv >/dev/null 2>&1; then
    check=(setpriv --reuid=anchiale --regid=anchiale --init-groups -- "${check[@]}")
  fi
  if ! check_out=$(CREDENTIALS_DIRECTORY=$ETC/credentials "${check[@]}" 2>&1); then
    warn "the configuration does not pass 'anchiale config check': the agent is not (re)started:"
    printf '%s\n' "$check_out" | sed 's/^/      /' >&2
    say "Fix /etc/anchiale/agent.yaml, then: systemctl restart anchiale-agent"
  elif systemctl is-active --quiet anchiale-agent.service; then
    if [[ $APP_CHANGED == 1 || $UNITS_CHANGED == 1 ]]; then
      systemctl restart anchiale-agent.service
      changed "restarted anchiale-agent.service"
    fi
  else
    systemctl start anchiale-agent.service
    changed "started anchiale-agent.service"
  fi
fi

step "Done: AnchIAle agent $VERSION"
say "Status:    systemctl status anchiale-agent;  journalctl -u anchiale-agent -f"
say "Models:    copy GGUF files to /var/lib/anchiale/models (llm.default_model in agent.yaml)"
say "Rollback:  ${OPT#"$ROOT"}/current/provisioning/rollback.sh"
summary
