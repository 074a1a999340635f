#!/usr/bin/env bash
# Which Node/glibc combinations run the gateway on a native uWS binary, proven by running it
# (README, Node.js versions). Runs scripts/node-lts-smoke.mjs (start, /version, WebSocket
# subscribe + publish round trip, SIGTERM) on the built tree of this repo:
#   - on this host (Debian 12, glibc 2.36) with its Node 20, and with Node 22 (must be refused);
#   - in a Debian 13 (trixie, glibc 2.41) root made with debootstrap, with Node 20, 22 and 24.
# Node binaries come from the npm registry's node-linux-<arch> packages (the `node` package's
# install script downloads from nodejs.org instead). The trixie root and the Node binaries are
# cached under $LUNA_TRIXIE_CACHE (default /var/tmp/luna-trixie). Needs root (debootstrap,
# chroot, mounts), npm, and the Debian mirror and npm registry the first time.
# The repo's node_modules is used as it is: no dependency compiles anything at install (the uWS
# packages carry prebuilt binaries for every Node ABI they support), so one tree serves every Node.
#   scripts/node-lts-check.sh            # prints the results
#   scripts/node-lts-check.sh --write    # and writes them to docs/node-lts-check.txt
#   scripts/node-lts-check.sh --write --tests   # and runs uWS-facing test files on Node 22 and 24
# Exit 0 when every combination did what the README says it does.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LUNA_TRIXIE_CACHE:-/var/tmp/luna-trixie}
ROOT=$CACHE/root
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
case $(uname -m) in x86_64) ARCH=x64 ;; aarch64) ARCH=arm64 ;; *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;; esac
OUT=$(mktemp)
MOUNTS=()

cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -R "${MOUNTS[i]}" 2>/dev/null || umount -R -l "${MOUNTS[i]}" || true; done
  rm -f "$OUT"
}
trap cleanup EXIT

note() { printf '%s\n' "$*" | tee -a "$OUT"; }

# redis-server: for --tests (the integration tests start their own Redis).
PACKAGES=ca-certificates,redis-server
if [ "$(cat "$ROOT/.luna-packages" 2>/dev/null)" != "$PACKAGES" ]; then
  echo "building the trixie root in $ROOT (a few minutes)" >&2
  mkdir -p "$CACHE" && rm -rf "$ROOT.tmp"
  debootstrap --variant=minbase --include=$PACKAGES trixie "$ROOT.tmp" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  echo "$PACKAGES" >"$ROOT.tmp/.luna-packages"
  rm -rf "$ROOT" && mv "$ROOT.tmp" "$ROOT"
fi

# node_dir MAJOR: the newest MAJOR.x Node binary from the npm registry, unpacked once under $CACHE.
node_dir() {
  local dir=$CACHE/node$1
  if [ ! -x "$dir/bin/node" ]; then
    local tgz
    tgz=$(cd "$CACHE" && npm pack --silent "node-linux-$ARCH@$1" | tail -1)
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    tar xzf "$CACHE/$tgz" -C "$dir.tmp" --strip-components=1 package/bin/node
    rm -f "$CACHE/$tgz"
    mv "$dir.tmp" "$dir"
  fi
  printf '%s\n' "$dir"
}

(cd "$REPO" && npm run --silent build)

# The chroot sees the repo (read-only) at /opt/luna-sender and the Node binaries at /opt/node.
mkdir -p "$ROOT/opt/luna-sender" "$ROOT/opt/node" "$ROOT/proc" "$ROOT/dev"
mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
mount --rbind /dev "$ROOT/dev" && mount --make-rslave "$ROOT/dev" && MOUNTS+=("$ROOT/dev")
mount --bind "$REPO" "$ROOT/opt/luna-sender" && MOUNTS+=("$ROOT/opt/luna-sender")
mount -o remount,bind,ro "$ROOT/opt/luna-sender"
mount --bind "$CACHE" "$ROOT/opt/node" && MOUNTS+=("$ROOT/opt/node")

failures=0
# run LABEL EXPECT COMMAND...: EXPECT is ok (exit 0) or refused (the gateway's fatal line, exit 3).
run() {
  local label=$1 expect=$2 got rc=0
  shift 2
  got=$("$@" 2>&1) || rc=$?
  local verdict=FAIL
  if { [ "$expect" = ok ] && [ $rc -eq 0 ]; } || { [ "$expect" = refused ] && [ $rc -eq 3 ]; }; then verdict=as-expected; fi
  [ "$verdict" = FAIL ] && failures=$((failures + 1))
  note "[$label] expect $expect, $verdict: $got"
}

glibc_host=$(ldd --version | sed -n '1s/.* //p')
glibc_trixie=$(chroot "$ROOT" /usr/bin/ldd --version | sed -n '1s/.* //p')
note "node-lts-check $(date -u +%Y-%m-%dT%H:%MZ), $(uname -m), luna-sender $(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet HEAD -- src package.json package-lock.json || echo '+changes')"
note "host: $(. /etc/os-release && echo "$PRETTY_NAME"), glibc $glibc_host; chroot: $(. "$ROOT/etc/os-release" && echo "$PRETTY_NAME"), glibc $glibc_trixie"
note "uWS candidates: $(cd "$REPO" && node -p "const l=require('./package-lock.json').packages; ['uWebSockets.js','uws-node22plus'].map(d=>d+' = '+l['node_modules/'+d].name+'@'+l['node_modules/'+d].version).join(', ')")"
note ""

run "host Debian 12, node 20" ok node "$REPO/scripts/node-lts-smoke.mjs"
n22=$(node_dir 22)
run "host Debian 12, node 22" refused "$n22/bin/node" "$REPO/scripts/node-lts-smoke.mjs"
for major in 20 22 24; do
  node_dir "$major" >/dev/null
  run "chroot Debian 13, node $major" ok chroot "$ROOT" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/root \
    "/opt/node/node$major/bin/node" /opt/luna-sender/scripts/node-lts-smoke.mjs
done

# --tests: also the uWS-facing test files (HTTP, WebSocket, limits, resume, fatal logs) on the
# Node 22 and 24 builds, which CI does not run; from build/ (built here). Full TAP output in
# $CACHE/tests-node<major>.log.
if [ "${1:-}" = --tests ] || [ "${2:-}" = --tests ]; then
  (cd "$REPO" && npm run --silent build:dev)
  files="unit/uws-native ws http headers limits body-limits utf8 resume filters-e2e exclusive-port fatal-log"
  paths=$(for f in $files; do case $f in unit/*) echo "build/test/$f.test.js" ;; *) echo "build/test/integration/$f.test.js" ;; esac; done)
  for major in 22 24; do
    # shellcheck disable=SC2086 # one word per file
    chroot "$ROOT" /usr/bin/env -i PATH="/opt/node/node$major/bin:/usr/bin:/bin" HOME=/root \
      sh -c "cd /opt/luna-sender && node --test --test-reporter=tap --test-concurrency=1 $(echo $paths)" >"$CACHE/tests-node$major.log" 2>&1 || true
    summary=$(grep -E '^# (tests|pass|fail) |^not ok' "$CACHE/tests-node$major.log" | tr '\n' ' ' || true)
    case $summary in *"# fail 0"*) ;; *) failures=$((failures + 1)) ;; esac
    note "[chroot Debian 13, node $major] test files: $files: $summary"
  done
fi

note ""
note "$failures combination(s) not as the README says"
if [ "${1:-}" = --write ] || [ "${2:-}" = --write ]; then cp "$OUT" "$REPO/docs/node-lts-check.txt"; fi
[ "$failures" -eq 0 ]
