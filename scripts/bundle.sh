#!/usr/bin/env bash
# Builds the offline installation bundle of the AnchIAle agent (npm run bundle):
#   dist-bundle/anchiale-agent-<version>.tar.gz and …tar.gz.sha256
# holding anchiale-agent-<version>/ with package.json, package-lock.json, dist/, the production
# node_modules, provisioning/, systemd/, schema/, examples/, README.md.
# Install it with: provisioning/install.sh --bundle anchiale-agent-<version>.tar.gz …
#
# usage: scripts/bundle.sh [--project DIR] [--out DIR] [--backends LIST] [--no-build]
#   --project DIR    the project (default: the directory above this script)
#   --out DIR        where the bundle goes (default: <project>/dist-bundle)
#   --backends LIST  node-llama-cpp GPU builds to ship, comma-separated: cuda, vulkan
#                    or none (default cuda,vulkan; the CPU build always ships). A Vulkan-only site saves
#                    ~540 MB with --backends vulkan.
#   --no-build       use the dist/ already there instead of running npm run build
#
# Excluded from node_modules: development dependencies (npm ls --omit=dev decides), .bin/
# links, and node-llama-cpp's prebuilt binaries for other platforms than linux-x64
# (@node-llama-cpp/linux-arm64, linux-armv7l, mac-*, win-*: npm installs the arm ones on x64
# too, they cannot load there), and typescript (an optional peer of node-llama-cpp that npm ls
# reports because it is a dev dependency; the daemon never loads it). Reproducible: sorted, owner 0, mtime SOURCE_DATE_EPOCH
# (default: the last commit), gzip -n.
set -euo pipefail
umask 0022

PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT='' BACKENDS=cuda,vulkan BUILD=1
usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'
  exit "${1:-0}"
}
die() {
  printf 'bundle: error: %s\n' "$*" >&2
  exit 1
}
while [[ $# -gt 0 ]]; do
  case $1 in
    --project) [[ $# -ge 2 ]] || usage 2; PROJECT=$(cd "$2" && pwd); shift 2 ;;
    --out) [[ $# -ge 2 ]] || usage 2; OUT=$2; shift 2 ;;
    --backends) [[ $# -ge 2 ]] || usage 2; BACKENDS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h | --help) usage 0 ;;
    *) printf 'error: unknown option %s\n\n' "$1" >&2; usage 2 ;;
  esac
done
OUT=${OUT:-$PROJECT/dist-bundle}
[[ $BACKENDS == none || ,$BACKENDS, =~ ^,((cuda|vulkan),)+$ ]] || die "--backends: cuda, vulkan, both comma-separated, or none"
cd "$PROJECT"

VERSION=$(node -p 'require("./package.json").version')
NAME=$(node -p 'require("./package.json").name')
[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]] || die "package.json has no usable version ($VERSION)"
BASE=$NAME-$VERSION

if [[ $BUILD == 1 ]]; then npm run build; fi
[[ -f dist/agent/main.js ]] || die "no dist/agent/main.js: the build did not run or failed"

# node_modules paths (relative to the project) that never ship.
excluded() {
  case $1 in
    node_modules/@node-llama-cpp/linux-x64) return 1 ;;
    node_modules/@node-llama-cpp/linux-x64-cuda | node_modules/@node-llama-cpp/linux-x64-cuda-ext) [[ ,$BACKENDS, != *,cuda,* ]] ;;
    node_modules/@node-llama-cpp/linux-x64-vulkan) [[ ,$BACKENDS, != *,vulkan,* ]] ;;
    node_modules/@node-llama-cpp/*) return 0 ;; # linux-arm64, linux-armv7l, mac-*, win-*
    # An optional peer dependency of node-llama-cpp (types for its CLI), present only because it
    # is a development dependency here: 23 MB the daemon never loads.
    node_modules/typescript) return 0 ;;
    *) return 1 ;;
  esac
}

mkdir -p "$OUT"
STAGE=$(mktemp -d "$OUT/.stage.XXXXXX")
trap 'rm -rf -- "$STAGE"' EXIT
APP=$STAGE/$BASE
mkdir "$APP"

for f in package.json package-lock.json README.md LICENSE; do
  if [[ -f $f ]]; then cp -p "$f" "$APP/"; elif [[ $f == README.md || $f == package.json ]]; then printf 'bundle: warning: no %s\n' "$f" >&2; fi
done
for d in dist provisioning systemd schema examples; do
  if [[ -d $d ]]; then cp -a "$d" "$APP/"; else printf 'bundle: warning: no %s/\n' "$d" >&2; fi
done

# Production dependencies, package by package, each without its nested node_modules (nested
# packages are listed on their own, so dev-only nested ones stay out).
list=$(npm ls --omit=dev --all --parseable 2>/dev/null || true)
[[ -n $list ]] || die "npm ls --omit=dev gave nothing: run npm ci first"
skipped=()
count=0
while IFS= read -r path; do
  [[ $path == "$PROJECT"/node_modules/* ]] || continue
  rel=${path#"$PROJECT"/}
  parent_skipped=0
  for s in "${skipped[@]}"; do [[ $rel == "$s"/* ]] && parent_skipped=1; done
  if ((parent_skipped)) || excluded "$rel"; then
    ((parent_skipped)) || skipped+=("$rel")
    continue
  fi
  mkdir -p "$APP/$rel"
  tar -C "$path" --exclude=./node_modules -cf - . | tar -C "$APP/$rel" -xf -
  count=$((count + 1))
done < <(LC_ALL=C sort -u <<<"$list")
printf 'bundle: %d production packages' "$count"
if ((${#skipped[@]} > 0)); then printf '; excluded: %s' "${skipped[*]#node_modules/}"; fi
printf '\n'

# Executable scripts stay executable whatever the checkout's modes.
chmod 0755 "$APP"/provisioning/*.sh
chmod -R u+rwX,go+rX,go-w "$APP"

SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$PROJECT" log -1 --format=%ct 2>/dev/null || date +%s)}
TARBALL=$OUT/$BASE.tar.gz
tar -C "$STAGE" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
  --format=gnu -cf - "$BASE" | gzip -n -6 >"$TARBALL.tmp"
mv -f "$TARBALL.tmp" "$TARBALL"
(cd "$OUT" && sha256sum "$BASE.tar.gz" >"$BASE.tar.gz.sha256")
unpacked=$(du -sh "$APP" | cut -f1)
packed=$(du -h "$TARBALL" | cut -f1)
printf 'bundle: %s (%s, %s unpacked)\nbundle: %s\n' "$TARBALL" "$packed" "$unpacked" "$(cat "$TARBALL.sha256")"
