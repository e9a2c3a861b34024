#!/usr/bin/env bash
# deploy/verify.sh — checks the deployment files for real:
#   seccomp    deploy/seccomp-io_uring.json is the runtime's default profile plus io_uring
#   systemd    systemd-analyze verify and security (exposure score) of deploy/systemd/wisp.service
#   k8s        deploy/k8s against the Kubernetes schema and what the deployment relies on;
#              the ConfigMap holds exactly examples/pingpong
#   container  builds deploy/Containerfile with podman and runs examples/pingpong in it: JSON log
#              lines, the health check and admin probes (when `wisp --help` lists --admin), exit 0
#              on `podman stop` within the grace period, exit 1 on a second signal, epoll fallback
#              under the default seccomp profile and io_uring under deploy/seccomp-io_uring.json;
#              then wisp.service under a real systemd (PID 1 of a privileged container): its
#              sandbox, io_uring through its SystemCallFilter, the epoll fallback without it, stop
#
# Usage: deploy/verify.sh [--only=seccomp,systemd,k8s,container] [--bases=auto|pull|debootstrap]
#                         [--keep]
#   --bases   where the Debian base images come from. pull: docker.io debian:12 and 12-slim.
#             debootstrap: built here from Debian's packages (minbase bookworm, imported as
#             localhost/wisp-verify-debian:12-slim, used for both stages), for machines that reach
#             a Debian mirror but no container registry. auto (default): local images if present,
#             else pull, else debootstrap.
#   --keep    leave the test containers behind (they are removed by default; images are kept).
# Environment: WISP_DEBIAN_MIRROR, WISP_DEBIAN_SECURITY_MIRROR (debootstrap), WISP_VERIFY_CACHE
# (npm modules for the k8s check; default ~/.cache/wisp-verify).
# Exit status: 0 all passed; 1 something failed; 77 nothing failed but containers cannot run on
# this machine ("cannot run containers on this machine: <reason>").
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
ONLY="seccomp,systemd,k8s,container"
BASES=auto
KEEP=0
for a in "$@"; do
  case $a in
    --only=*) ONLY=${a#--only=} ;;
    --bases=auto | --bases=pull | --bases=debootstrap) BASES=${a#--bases=} ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "verify.sh: unknown argument \"$a\" (see --help)" >&2; exit 2 ;;
  esac
done
wanted() { [[ ",$ONLY," == *",$1,"* ]]; }
for s in ${ONLY//,/ }; do
  case $s in seccomp | systemd | k8s | container) ;;
    *) echo "verify.sh: unknown section \"$s\" in --only (seccomp, systemd, k8s, container)" >&2; exit 2 ;;
  esac
done

PASS=0 FAILED=0 SKIPPED=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAILED=$((FAILED + 1)); echo "FAIL - $*"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "skip - $*"; }
note() { echo "       $*"; }
section() { echo; echo "== $* =="; }
check() { # check "description" command... : ok when the command succeeds
  local what=$1; shift
  if "$@"; then ok "$what"; else bad "$what"; fi
}

SUDO=""
[ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo"
apt_install() { # apt_install [--with-recommends] PACKAGE... : quietly; 1 when not possible
  local rec=--no-install-recommends
  [ "${1:-}" = --with-recommends ] && { rec=--install-recommends; shift; }
  command -v apt-get >/dev/null 2>&1 || return 1
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
      "$rec" "$@"; } >"$WORK/apt.log" 2>&1
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wisp-verify.XXXXXX")
CONTAINERS=()
cleanup() {
  if [ "$KEEP" = 0 ] && [ ${#CONTAINERS[@]} -gt 0 ]; then
    podman "${PG[@]}" rm -f "${CONTAINERS[@]}" >/dev/null 2>&1
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
PG=() # global podman flags found to be needed here (e.g. --runtime runc)
PR=() # podman run/build flags found to be needed here (e.g. --ulimit)

# ---------------------------------------------------------------------------------------------
if wanted seccomp; then
  section "seccomp profile"
  if out=$(python3 deploy/seccomp-io_uring.py --check 2>&1); then ok "$out"; else bad "$out"; fi
fi

# ---------------------------------------------------------------------------------------------
if wanted systemd; then
  section "systemd unit"
  if ! command -v systemd-analyze >/dev/null 2>&1; then
    skip "systemd-analyze not installed (Debian package systemd): unit not checked"
  else
    # verify wants ExecStart's binary to exist: point it at a built wisp when there is one
    bin=""
    for b in "${WISP_BIN:-}" build/wisp build-*/wisp; do [ -n "$b" ] && [ -x "$b" ] && { bin=$(realpath "$b"); break; }; done
    unit="$WORK/wisp.service"
    if [ -n "$bin" ]; then
      sed "s#/usr/local/bin/wisp#$bin#g" deploy/systemd/wisp.service >"$unit"
      note "ExecStart points at $bin for the check"
    else
      printf '#!/bin/sh\nexit 0\n' >"$WORK/wisp" && chmod +x "$WORK/wisp"
      sed "s#/usr/local/bin/wisp#$WORK/wisp#g" deploy/systemd/wisp.service >"$unit"
      note "no built wisp found: ExecStart points at a stand-in executable for the check"
    fi
    if out=$(systemd-analyze verify "$unit" 2>&1) && [ -z "$out" ]; then
      ok "systemd-analyze verify: no complaints"
    else
      bad "systemd-analyze verify:"; echo "$out" | sed 's/^/       /'
    fi
    if sec=$(systemd-analyze security --offline=yes "$unit" 2>&1); then
      score=$(echo "$sec" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
      line=$(echo "$sec" | grep "Overall exposure level")
      if [ -n "$score" ] && awk "BEGIN{exit !($score < 2.0)}"; then ok "systemd-analyze security: ${line#→ }"
      else bad "systemd-analyze security: exposure ${score:-unknown}, expected below 2.0"; fi
      echo "$sec" | grep "^✗" | sed 's/  */ /g; s/^/       /'
    else
      bad "systemd-analyze security --offline=yes failed:"; echo "$sec" | tail -5 | sed 's/^/       /'
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
if wanted k8s; then
  section "Kubernetes manifests"
  if ! python3 -c 'import yaml' 2>/dev/null; then apt_install python3-yaml; fi
  if out=$(python3 deploy/k8s/make-configmap.py examples/pingpong --check deploy/k8s/configmap-pingpong.yaml 2>&1)
  then ok "$out"; else bad "$out"; fi

  cache=${WISP_VERIFY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp-verify}/k8s
  mods="$cache/node_modules"
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    skip "node/npm not installed (scripts/setup.sh installs them): schema validation not done"
  else
    if [ ! -f "$mods/kubernetes-models/package.json" ] || [ ! -f "$mods/yaml/package.json" ]; then
      mkdir -p "$cache"
      npm install --prefix "$cache" --no-save --no-audit --no-fund --loglevel=error \
        kubernetes-models@4.5.1 yaml@2.9.1 >"$WORK/npm.log" 2>&1 || { tail -5 "$WORK/npm.log"; }
    fi
    if [ -f "$mods/kubernetes-models/package.json" ]; then
      note "schema: npm kubernetes-models 4.5.1 (Kubernetes OpenAPI; unknown field names are not flagged)"
      while IFS= read -r l; do
        case $l in
          "ok   "*) ok "${l#ok   }" ;;
          "FAIL "*) bad "${l#FAIL }" ;;
          "skip "*) skip "${l#skip }" ;;
          "note "*) note "${l#note }" ;;
          *) note "$l" ;;
        esac
      done < <(node deploy/k8s/validate.cjs "$mods" deploy/k8s/*.yaml 2>&1)
    else
      skip "npm could not install kubernetes-models: schema validation not done"
    fi
  fi
  if command -v kubectl >/dev/null 2>&1; then
    if out=$(KUBECONFIG=/dev/null kubectl kustomize deploy/k8s 2>&1); then
      ok "kubectl kustomize deploy/k8s renders $(echo "$out" | grep -c '^kind:') objects"
    else
      bad "kubectl kustomize deploy/k8s: $out"
    fi
  else
    skip "kubectl not installed: kustomization.yaml not rendered"
  fi
fi

# ---------------------------------------------------------------------------------------------
CANNOT="" # set when containers cannot run here: the reason
VERSION=$(sed -n 's/^project(wisp VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
IMAGE="localhost/wisp:${VERSION:-dev}"
BASE_TAG=localhost/wisp-verify-debian:12-slim

# bootstrap_base: a Debian 12 image made from Debian's packages (no container registry), trimmed
# like the official debian:12-slim (debuerreotype's slimify: no docs, man pages or locales; apt
# keeps no package caches).
bootstrap_base() {
  podman "${PG[@]}" image exists "$BASE_TAG" && { note "reusing $BASE_TAG"; return 0; }
  if [ "$(id -u)" -ne 0 ]; then echo "debootstrap needs root"; return 1; fi
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap || { echo "cannot install debootstrap"; return 1; }
  local mirror=${WISP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  local security=${WISP_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
  local rootfs="$WORK/rootfs"
  note "debootstrap --variant=minbase bookworm from $mirror (a minute or two)"
  if ! debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
    tail -5 "$WORK/debootstrap.log"; return 1
  fi
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'APT::Install-Recommends "false";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-recommends"
  find "$rootfs/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete 2>/dev/null
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null
  rm -rf "$rootfs"/usr/share/{groff,info,linda,man}/* "$rootfs"/usr/share/lintian/overrides/*
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$rootfs" -c . |
    podman "${PG[@]}" import --change 'CMD ["bash"]' - "$BASE_TAG" >"$WORK/import.log" 2>&1 ||
    { tail -3 "$WORK/import.log"; echo "podman import failed"; return 1; }
  rm -rf "$rootfs"
}

# probe_run IMAGE: finds the podman flags this machine needs to start a container and sets PG and
# PR; prints what it needed. Call it directly, not in $(...): it sets variables.
probe_run() {
  local img=$1 out tries nofile="" nproc=""
  for ((tries = 0; tries < 8; tries++)); do
    PR=(${nofile:+--ulimit "nofile=$nofile"} ${nproc:+--ulimit "nproc=$nproc:$nproc"})
    out=$(podman "${PG[@]}" run --rm "${PR[@]}" "$img" true 2>&1) && return 0
    case $out in
      *setrlimit*RLIMIT_NOFILE* | *"rlimit type 7"*)
        # the runtime's default limits exceed what this host lets it set (no CAP_SYS_RESOURCE)
        [ -n "$nofile" ] && break
        nofile="$(ulimit -Hn):$(ulimit -Hn)"
        note "needs --ulimit nofile=$nofile (cannot raise RLIMIT_NOFILE here)" ;;
      *setrlimit*RLIMIT_NPROC* | *"rlimit type 6"*)
        if [ -z "$nproc" ]; then nproc=$(ulimit -Hu); [ "$nproc" = unlimited ] && nproc=65536
        else nproc=$((nproc / 4)); fi
        [ "$nproc" -lt 1024 ] && break
        note "trying --ulimit nproc=$nproc:$nproc (cannot raise RLIMIT_NPROC here)" ;;
      *"cgroups in hybrid mode not supported"*)
        [[ " ${PG[*]} " == *" --runtime "* ]] && break
        command -v runc >/dev/null 2>&1 || apt_install runc || break
        PG+=(--runtime runc)
        note "needs --runtime runc (crun refuses this host's hybrid cgroup v1/v2 layout)" ;;
      *overlay*)
        [[ " ${PG[*]} " == *" --storage-driver "* ]] && break
        PG+=(--storage-driver vfs)
        note "needs --storage-driver vfs (overlay unavailable)" ;;
      *) break ;;
    esac
  done
  PROBE_ERROR=$(echo "$out" | tail -1)
  return 1
}

log_has() { podman "${PG[@]}" logs "$1" 2>&1 | grep -q -- "$2"; }

wait_log() { # wait_log CONTAINER TEXT SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    log_has "$1" "$2" && return 0
    [ "$(podman "${PG[@]}" inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || { log_has "$1" "$2"; return; }
    sleep 0.1
  done
  return 1
}

json_lines() { # json_lines FILE: every line a JSON object with ts, level and msg
  python3 - "$1" <<'EOF'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
bad = []
for l in lines:
    try:
        o = json.loads(l)
        if not (isinstance(o, dict) and {"ts", "level", "msg"} <= o.keys()):
            bad.append(l)
    except ValueError:
        bad.append(l)
print("%d lines, %d not JSON log objects" % (len(lines), len(bad)))
for l in bad[:3]:
    print("       not JSON: " + l.rstrip()[:160])
sys.exit(1 if bad or not lines else 0)
EOF
}

fd_kinds() { # fd_kinds CONTAINER: the anon inodes (io_uring, eventpoll) its PID 1 holds, read
  # from inside (same uid as PID 1, so this works for rootless podman too)
  podman "${PG[@]}" exec "$1" bash -c 'for f in /proc/1/fd/*; do readlink "$f"; done' 2>/dev/null |
    grep -o 'anon_inode:\[[a-z_]*\]' | sort | uniq -c | tr -s ' ' | tr '\n' ' '
}

admin_get() { # admin_get CONTAINER PATH: the HTTP response from inside the container
  podman "${PG[@]}" exec "$1" bash -c 'exec 3<>/dev/tcp/127.0.0.1/9090 && printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "$0" >&3 && timeout 3 cat <&3' "$2" 2>&1
}

# run_case NAME SECCOMP_DESC EXPECT(uring|epoll) podman-run-args...
run_case() {
  local name=$1 desc=$2 expect=$3; shift 3
  local ctr="wisp-verify-$name-$$"
  CONTAINERS+=("$ctr")
  echo "-- $desc"
  local run=(podman "${PG[@]}" run -d --name "$ctr" "${PR[@]}" --read-only --cap-drop ALL
             --security-opt no-new-privileges "$@")
  if [ "$ADMIN" = 1 ]; then run+=("$IMAGE"); else
    run+=(--no-healthcheck --entrypoint /usr/local/bin/wisp "$IMAGE" run /app); fi
  if ! out=$("${run[@]}" 2>&1); then bad "$desc: container did not start: $out"; return; fi
  if wait_log "$ctr" '"msg":"pong"' 15; then
    ok "$desc: container started, services exchange messages"
  else
    bad "$desc: no pong within 15 s"; podman "${PG[@]}" logs "$ctr" 2>&1 | tail -5 | sed 's/^/       /'
  fi
  check "$desc: PID 1 runs as uid 10001" \
    test "$(podman "${PG[@]}" exec "$ctr" id -u 2>&1)" = 10001

  local kinds; kinds=$(fd_kinds "$ctr")
  local fallback; fallback=$(podman "${PG[@]}" logs "$ctr" 2>&1 | grep "io_uring unavailable")
  if [ "$expect" = epoll ]; then
    if [ -n "$fallback" ] && [[ $kinds == *eventpoll* ]] && [[ $kinds != *io_uring* ]]; then
      ok "$desc: io_uring refused, epoll fallback logged: \"$fallback\""
    else bad "$desc: expected the epoll fallback; log: \"${fallback:-none}\", fds: $kinds"; fi
  elif [ "$URING_HOST" = 0 ]; then
    skip "$desc: io_uring is disabled on this host (kernel.io_uring_disabled), cannot expect it here"
  else
    if [ -z "$fallback" ] && [[ $kinds == *io_uring* ]]; then
      ok "$desc: io_uring in use (PID 1 fds: $kinds)"
    else bad "$desc: expected io_uring; log: \"${fallback:-none}\", fds: $kinds"; fi
  fi

  if [ "$ADMIN" = 1 ]; then
    local hc; hc=$(podman "${PG[@]}" healthcheck run "$ctr" 2>&1)
    if [ $? -eq 0 ]; then ok "$desc: HEALTHCHECK passes (podman healthcheck run: ${hc:-healthy})"
    else bad "$desc: HEALTHCHECK failed: $hc"; fi
    local p r
    for p in /healthz /readyz /metrics; do
      r=$(admin_get "$ctr" "$p")
      if [[ ${r%%$'\r'*} == "HTTP/1."?" 200"* ]]; then ok "$desc: GET $p on the admin port: ${r%%$'\r'*}"
      else bad "$desc: GET $p on the admin port: ${r:0:120}"; fi
    done
    if echo "$r" | grep -Eq '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eE]+|NaN|[+-]Inf'; then
      ok "$desc: /metrics answers in Prometheus text format"
    else bad "$desc: /metrics has no sample line"; fi
  else
    skip "$desc: health check and /healthz /readyz /metrics: \`wisp --help\` does not list --admin yet"
  fi

  local t0 t1 code
  t0=$(date +%s.%N)
  podman "${PG[@]}" stop -t "$GRACE" "$ctr" >/dev/null 2>&1
  t1=$(date +%s.%N)
  code=$(podman "${PG[@]}" inspect -f '{{.State.ExitCode}}' "$ctr")
  local took; took=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
  if [ "$code" = 0 ] && awk "BEGIN{exit !($took < $GRACE)}" && log_has "$ctr" '"msg":"stopped","exit_code":0'; then
    ok "$desc: podman stop (SIGTERM) -> exit 0 after ${took}s (grace ${GRACE}s)"
  else
    bad "$desc: podman stop -> exit $code after ${took}s (grace ${GRACE}s)"
  fi
  podman "${PG[@]}" logs "$ctr" 2>/dev/null >"$WORK/$name.out"
  podman "${PG[@]}" logs "$ctr" 2>"$WORK/$name.err" >/dev/null
  if out=$(json_lines "$WORK/$name.out"); then ok "$desc: stdout is JSON lines ($out)"
  else bad "$desc: stdout is not only JSON lines: $out"; fi
  [ -s "$WORK/$name.err" ] && note "stderr (plain text): $(head -c 300 "$WORK/$name.err" | tr '\n' '|')"
}

# ws_case: a WebSocket round trip from inside the container to a peer on the host's loopback
# (Python websockets from Debian, host network namespace shared with the container).
ws_case() {
  local dir="$WORK/ws" port
  mkdir -p "$dir"
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat >"$dir/echo.py" <<'EOF'
import asyncio, sys, websockets
async def echo(ws, path=None):
    async for m in ws:
        await ws.send(m)
async def main():
    async with websockets.serve(echo, "127.0.0.1", int(sys.argv[1])):
        await asyncio.Future()
asyncio.run(main())
EOF
  cat >"$dir/roundtrip.lua" <<'EOF'
local websocket = require("websocket")
local c = assert(websocket.connect(..., { dial_timeout = "5s" }))
assert(c:send("hello from the container"))
local m = assert(c:channel():receive())
assert(m.data == "hello from the container", m.data)
c:close()
print("roundtrip ok")
EOF
  chmod -R a+rX "$dir"
  /usr/bin/python3 "$dir/echo.py" "$port" >"$dir/echo.log" 2>&1 &
  local peer=$!
  sleep 0.5
  local out
  out=$(podman "${PG[@]}" run --rm "${PR[@]}" --network host --read-only --cap-drop ALL --no-healthcheck \
          -v "$dir:/ws:ro" --entrypoint /usr/local/bin/wisp "$IMAGE" --log-format text exec /ws/roundtrip.lua \
          "ws://127.0.0.1:$port/" 2>&1)
  kill "$peer" 2>/dev/null; wait "$peer" 2>/dev/null
  if [[ $out == *"roundtrip ok"* ]]; then ok "WebSocket round trip from the container to a peer on the host's loopback"
  else bad "WebSocket round trip from the container: ${out:0:300}"; fi
}

# unit_case: deploy/systemd/wisp.service under a real systemd (PID 1 of a privileged container,
# so that the unit's namespaces, seccomp filter and DynamicUser are set up by systemd itself)
unit_case() {
  echo "-- deploy/systemd/wisp.service under systemd (in a container)"
  local dir="$WORK/unit" img=localhost/wisp-verify-systemd ctr="wisp-verify-systemd-$$"
  mkdir -p "$dir"
  cp deploy/systemd/wisp.service "$dir/"
  cp -r examples/pingpong "$dir/app"
  cat >"$dir/Containerfile" <<'EOF'
ARG BASE
ARG WISP_IMAGE
FROM ${WISP_IMAGE} AS wisp
FROM ${BASE}
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends systemd \
      liblua5.4-0 liburing2 libwolfssl35 zlib1g libjansson4 libfyaml0 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin
COPY --from=wisp /usr/local/bin/wisp /usr/local/bin/wisp
COPY wisp.service /etc/systemd/system/wisp.service
COPY app /srv/wisp/app
RUN chmod -R a+rX /srv/wisp && systemctl enable wisp.service
STOPSIGNAL SIGRTMIN+3
CMD ["/lib/systemd/systemd"]
EOF
  if ! podman "${PG[@]}" build "${PR[@]}" --build-arg "BASE=$SYSTEMD_BASE" --build-arg "WISP_IMAGE=$IMAGE" \
         -t "$img" "$dir" >"$WORK/unit-build.log" 2>&1; then
    bad "systemd test image did not build:"; tail -5 "$WORK/unit-build.log" | sed 's/^/       /'; return
  fi
  CONTAINERS+=("$ctr")
  local out
  if ! out=$(podman "${PG[@]}" run -d --name "$ctr" "${PR[@]}" --systemd=always --privileged "$img" 2>&1); then
    skip "systemd in a container: cannot start: $(echo "$out" | tail -1)"; return
  fi
  sx() { podman "${PG[@]}" exec "$ctr" bash -c "$1" 2>&1; }
  local i state=""
  for ((i = 0; i < 100; i++)); do
    state=$(sx 'systemctl is-active wisp')
    [ "$state" = active ] && sx 'journalctl -u wisp -o cat --no-pager' | grep -q '"msg":"pong"' && break
    sleep 0.2
  done
  if [ "$state" != active ]; then
    skip "systemd in a container did not bring wisp.service up ($state): $(sx 'systemctl status wisp --no-pager | tail -3' | tr '\n' ' ')"
    return
  fi
  ok "wisp.service active under systemd $(sx 'systemctl --version | head -1 | cut -d" " -f2'), ExecStartPre wisp check passed"
  local st
  st=$(sx 'pid=$(systemctl show -p MainPID --value wisp); grep -E "^(Uid|CapEff|NoNewPrivs|Seccomp):" /proc/$pid/status | tr -s "\t" " " | tr "\n" " "; for f in /proc/$pid/fd/*; do readlink $f; done | grep -o "anon_inode:\[io_uring\]"')
  if [[ $st == *"CapEff: 0000000000000000"* && $st == *"NoNewPrivs: 1"* && $st == *"Seccomp: 2"* && $st != *"Uid: 0 "* ]]; then
    ok "dynamic non-root user, no capabilities, no_new_privs, seccomp filter: ${st%% anon_inode*}"
  else bad "sandbox not as expected: $st"; fi
  if [[ $st == *"anon_inode:[io_uring]"* ]] && ! sx 'journalctl -u wisp -o cat --no-pager' | grep -q "io_uring unavailable"; then
    ok "io_uring in use under SystemCallFilter=@system-service io_uring_*"
  elif [ "$URING_HOST" = 0 ]; then skip "io_uring disabled on this host"
  else bad "io_uring not in use under the unit's SystemCallFilter"; fi
  if [ "$ADMIN" = 1 ]; then
    local r; r=$(sx 'exec 3<>/dev/tcp/127.0.0.1/9090 && printf "GET /readyz HTTP/1.0\r\n\r\n" >&3 && head -1 <&3')
    r=${r%$'\r'}
    if [[ $r == "HTTP/1."?" 200"* ]]; then ok "GET /readyz on 127.0.0.1:9090: $r"; else bad "GET /readyz: $r"; fi
  fi
  local res; res=$(sx 'systemctl stop wisp; echo "$(systemctl show wisp -p Result --value) $(systemctl show wisp -p ExecMainStatus --value)"')
  if [ "$res" = "success 0" ] && sx 'journalctl -u wisp -o cat --no-pager' | grep -q '"msg":"stopped","exit_code":0'; then
    ok "systemctl stop: SIGTERM, exit 0, Result=success"
  else bad "systemctl stop: Result/ExecMainStatus = $res"; fi
  # without the io_uring calls in the filter, wisp must fall back to epoll, not fail
  res=$(sx 'mkdir -p /run/systemd/system/wisp.service.d && printf "[Service]\nSystemCallFilter=~io_uring_setup io_uring_enter io_uring_register\n" >/run/systemd/system/wisp.service.d/no-uring.conf && systemctl daemon-reload && systemctl start wisp && sleep 1 && systemctl is-active wisp && journalctl -u wisp -o cat --no-pager | grep "io_uring unavailable" | tail -1')
  if [[ $res == active*"using epoll"* ]]; then ok "io_uring filtered out: still active, \"$(tail -1 <<<"$res")\""
  else bad "io_uring filtered out: $res"; fi
  sx 'systemctl stop wisp' >/dev/null
}

if wanted container; then
  section "container (podman)"
  GRACE=30
  if ! command -v podman >/dev/null 2>&1; then
    note "podman missing: installing it (Debian package podman)"
    apt_install --with-recommends podman || CANNOT="podman is not installed and apt-get install podman failed: $(tail -1 "$WORK/apt.log" 2>/dev/null)"
  fi
  if [ -z "$CANNOT" ] && ! out=$(podman "${PG[@]}" info 2>&1); then
    PG+=(--storage-driver vfs)
    out=$(podman "${PG[@]}" info 2>&1) || CANNOT="podman info fails: $(echo "$out" | tail -1)"
  fi

  BUILD_ARGS=()
  if [ -z "$CANNOT" ]; then
    have_official() { podman "${PG[@]}" image exists docker.io/library/debian:12 && podman "${PG[@]}" image exists docker.io/library/debian:12-slim; }
    use=""
    case $BASES in
      auto) if have_official; then use=official
            elif timeout 180 podman "${PG[@]}" pull -q docker.io/library/debian:12 >/dev/null 2>&1 &&
                 timeout 180 podman "${PG[@]}" pull -q docker.io/library/debian:12-slim >/dev/null 2>&1; then use=official
            else use=debootstrap; fi ;;
      pull) if have_official || { podman "${PG[@]}" pull -q docker.io/library/debian:12 >/dev/null &&
                                   podman "${PG[@]}" pull -q docker.io/library/debian:12-slim >/dev/null; }
            then use=official; else CANNOT="cannot pull docker.io/library/debian:12 and 12-slim"; fi ;;
      debootstrap) use=debootstrap ;;
    esac
    if [ "$use" = debootstrap ]; then
      if out=$(bootstrap_base 2>&1); then
        [ -n "$out" ] && echo "$out"
        BUILD_ARGS=(--build-arg "BUILD_IMAGE=$BASE_TAG" --build-arg "RUNTIME_IMAGE=$BASE_TAG")
        PROBE_IMAGE=$BASE_TAG
        SYSTEMD_BASE=$BASE_TAG
        note "base images: $BASE_TAG (debootstrap minbase bookworm) for both stages"
      else
        CANNOT="no Debian base image: $(echo "$out" | tail -1)"
      fi
    elif [ "$use" = official ]; then
      PROBE_IMAGE=docker.io/library/debian:12-slim
      SYSTEMD_BASE=docker.io/library/debian:12
      note "base images: docker.io/library/debian:12 and 12-slim"
    fi
  fi
  if [ -z "$CANNOT" ]; then
    if ! probe_run "$PROBE_IMAGE"; then
      CANNOT="podman run fails: $PROBE_ERROR"
    else
      ok "podman can run containers here${PG[*]:+ (global: ${PG[*]})}${PR[*]:+ (run: ${PR[*]})}"
    fi
  fi

  if [ -n "$CANNOT" ]; then
    skip "container checks: cannot run containers on this machine: $CANNOT"
  else
    note "building $IMAGE (log: build.log)"
    t0=$(date +%s)
    if podman "${PG[@]}" build "${PR[@]}" --format docker -f deploy/Containerfile \
         --ignorefile deploy/Containerfile.dockerignore "${BUILD_ARGS[@]}" -t "$IMAGE" . >"$WORK/build.log" 2>&1; then
      ok "podman build -f deploy/Containerfile -> $IMAGE in $(( $(date +%s) - t0 ))s, $(podman "${PG[@]}" image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.1f MB", $1/1e6}')"
      BUILT=1
    else
      bad "podman build failed:"; tail -20 "$WORK/build.log" | sed 's/^/       /'
      BUILT=0
    fi
    if [ "$BUILT" = 1 ]; then
      cfg=$(podman "${PG[@]}" image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}}' "$IMAGE")
      check "image runs as 10001:10001, ENTRYPOINT wisp --admin 0.0.0.0:9090 run /app ($cfg)" \
        test "$cfg" = '10001:10001 ["/usr/local/bin/wisp","--admin","0.0.0.0:9090","run","/app"]'
      hc=$(podman "${PG[@]}" image inspect -f '{{json .HealthCheck}}' "$IMAGE" 2>/dev/null)
      [ -z "$hc" ] || [ "$hc" = null ] && hc=$(podman "${PG[@]}" image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE" 2>/dev/null)
      check "image keeps its HEALTHCHECK ($hc)" grep -q wisp-healthcheck <<<"$hc"
      libs=$(podman "${PG[@]}" run --rm "${PR[@]}" --no-healthcheck --entrypoint /usr/bin/dpkg-query "$IMAGE" \
               -W -f '${Package} ' liblua5.4-0 liburing2 libwolfssl35 zlib1g libjansson4 libfyaml0 ca-certificates 2>/dev/null)
      check "runtime libraries installed: $libs" test "$(wc -w <<<"$libs")" = 7
      if podman "${PG[@]}" run --rm "${PR[@]}" --no-healthcheck --entrypoint /usr/bin/dpkg-query "$IMAGE" -W gcc cmake >/dev/null 2>&1; then
        bad "the runtime image carries build tools"
      else ok "no compiler or cmake in the runtime image"; fi

      help=$(podman "${PG[@]}" run --rm "${PR[@]}" --no-healthcheck --entrypoint /usr/local/bin/wisp "$IMAGE" --help 2>/dev/null)
      if grep -q -- "--admin" <<<"$help"; then ADMIN=1
      else
        ADMIN=0
        note "\`wisp --help\` does not list --admin yet: running without it, probe checks skipped"
      fi
      URING_HOST=1
      [ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" = 0 ] || URING_HOST=0

      run_case default "default seccomp profile, app copied into the image" epoll
      run_case uring "deploy/seccomp-io_uring.json, app mounted at /app" uring \
        --security-opt "seccomp=$ROOT/deploy/seccomp-io_uring.json" -v "$ROOT/examples/pingpong:/app:ro"

      # a service that ignores cancellation: shutdown_timeout bounds the stop, a 2nd signal ends it
      echo "-- shutdown_timeout and the second signal"
      app="$WORK/stubborn"
      mkdir -p "$app"
      cat >"$app/_index.yaml" <<'EOF'
version: "1.0"
namespace: app
shutdown_timeout: 3s
entries:
  - name: stubborn
    kind: process.lua
    source: file://stubborn.lua
    method: main
    modules: [logger]
  - name: svc
    kind: process.service
    process: app:stubborn
    lifecycle:
      auto_start: true
EOF
      cat >"$app/stubborn.lua" <<'EOF'
-- Ignores cancellation: only shutdown_timeout (or a second signal) ends it.
local logger = require("logger")
local function main()
  local events = process.events()
  logger:info("stubborn: up")
  while true do
    local ev = events:receive()
    logger:info("stubborn: ignoring", { kind = tostring(ev.kind) })
  end
end
return { main = main }
EOF
      chmod -R a+rX "$app"
      for mode in timeout second; do
        ctr="wisp-verify-stubborn-$mode-$$"
        CONTAINERS+=("$ctr")
        if ! out=$(podman "${PG[@]}" run -d --name "$ctr" "${PR[@]}" --read-only --cap-drop ALL --no-healthcheck \
                     -v "$app:/app:ro" --entrypoint /usr/local/bin/wisp "$IMAGE" run /app 2>&1); then
          bad "stubborn app did not start: $out"; continue
        fi
        wait_log "$ctr" "stubborn: up" 10 || { bad "stubborn app: no start-up line"; continue; }
        t0=$(date +%s.%N)
        if [ "$mode" = timeout ]; then
          podman "${PG[@]}" stop -t "$GRACE" "$ctr" >/dev/null 2>&1
        else
          podman "${PG[@]}" kill -s TERM "$ctr" >/dev/null; sleep 0.5
          podman "${PG[@]}" kill -s TERM "$ctr" >/dev/null
          podman "${PG[@]}" wait "$ctr" >/dev/null 2>&1
        fi
        t1=$(date +%s.%N)
        took=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
        code=$(podman "${PG[@]}" inspect -f '{{.State.ExitCode}}' "$ctr")
        if [ "$mode" = timeout ]; then
          if [ "$code" = 0 ] && awk "BEGIN{exit !($took >= 2.9 && $took < $GRACE)}" &&
             log_has "$ctr" "did not stop in time"; then
            ok "service ignoring cancel: terminated after shutdown_timeout 3s, exit 0 after ${took}s (< grace ${GRACE}s)"
          else bad "service ignoring cancel: exit $code after ${took}s, expected 0 after ~3s"; fi
        else
          if [ "$code" = 1 ] && awk "BEGIN{exit !($took < 2.5)}"; then
            ok "second SIGTERM during shutdown: exit 1 after ${took}s ($(podman "${PG[@]}" logs "$ctr" 2>&1 >/dev/null | tail -1))"
          else bad "second SIGTERM during shutdown: exit $code after ${took}s, expected 1 at once"; fi
        fi
      done

      ws_case
      unit_case
    fi
  fi
fi

# ---------------------------------------------------------------------------------------------
echo
echo "$PASS passed, $FAILED failed, $SKIPPED skipped"
if [ "$FAILED" -gt 0 ]; then exit 1; fi
if [ -n "$CANNOT" ]; then echo "cannot run containers on this machine: $CANNOT"; exit 77; fi
exit 0
