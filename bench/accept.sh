#!/usr/bin/env bash
# Acceptance benchmark: messages per second acknowledged (250 after DATA) by Bulwark and by Postfix
# at the same durability (both fsync the queue file before 250, both deliver to a Maildir), plain and
# STARTTLS, with the peak memory of each server. Loopback only; every process is stopped on exit.
# Environment: MESSAGES (4000), SESSIONS (20), SIZE (4096), PER_CONNECTION (10), KEEP=1 keeps files.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
MESSAGES=${MESSAGES:-4000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-4096}
PER_CONNECTION=${PER_CONNECTION:-10}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}

WORK=$(mktemp -d /tmp/bulwark-bench-XXXXXX)
chmod 755 "$WORK"
BULWARK_PID=""
POSTFIX_CONFIG=""
SAMPLER_PID=""

cleanup() {
  set +e
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
  if [ -n "$BULWARK_PID" ]; then
    kill "$BULWARK_PID" 2>/dev/null
    wait "$BULWARK_PID" 2>/dev/null
  fi
  [ -n "$POSTFIX_CONFIG" ] && postfix -c "$POSTFIX_CONFIG" stop >/dev/null 2>&1
  if [ "${KEEP:-0}" = 1 ]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- build ----
echo "== building Release in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF \
  -DBULWARK_SANITIZE=OFF >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; exit 1; }
ninja -C "$BUILD" bulwark smtp_load >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log"; exit 1; }
LOAD="$BUILD/bench/smtp_load"

# ---- memory sampling ----
# Bulwark is one process: the kernel keeps its peak (VmHWM). Postfix is many processes (master,
# smtpd per session, cleanup, qmgr, virtual, ...): sample the sum of their VmRSS and keep the highest.
status_kb() {   # $1: pid, $2: field; 0 when the process is gone or has no such field
  local value
  value=$(awk -v field="$2:" '$1 == field {print $2}' "/proc/$1/status" 2>/dev/null)
  echo "${value:-0}"
}
rss_kb() { status_kb "$1" VmRSS; }
hwm_kb() { status_kb "$1" VmHWM; }

pss_kb() {   # proportional set size: shared library pages divided among the processes using them
  local value
  value=$(awk '$1 == "Pss:" {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null)
  echo "${value:-0}"
}

postfix_tree_kb() {   # $1: master pid; "RSS PSS" summed over master and its children (all daemons)
  local rss=0 pss=0 pid
  for pid in $1 $(pgrep -P "$1" 2>/dev/null); do
    rss=$((rss + $(rss_kb "$pid")))
    pss=$((pss + $(pss_kb "$pid")))
  done
  echo "$rss $pss"
}

start_postfix_sampler() {   # $1: master pid, $2: file that gets "peak-RSS peak-PSS processes" in KiB
  echo "0 0 0" >"$2"
  (
    peak_rss=0 peak_pss=0 peak_processes=0
    while kill -0 "$1" 2>/dev/null; do
      read -r rss pss <<<"$(postfix_tree_kb "$1")"
      processes=$(($(pgrep -c -P "$1" 2>/dev/null || echo 0) + 1))
      [ "$rss" -gt "$peak_rss" ] && peak_rss=$rss
      [ "$pss" -gt "$peak_pss" ] && peak_pss=$pss
      [ "$processes" -gt "$peak_processes" ] && peak_processes=$processes
      echo "$peak_rss $peak_pss $peak_processes" >"$2"
      sleep 0.1
    done
  ) &
  SAMPLER_PID=$!
}

stop_sampler() {
  if [ -n "$SAMPLER_PID" ]; then
    kill "$SAMPLER_PID" 2>/dev/null || true
    wait "$SAMPLER_PID" 2>/dev/null || true
  fi
  SAMPLER_PID=""
}

# ---- one TLS certificate for Postfix (Bulwark generates its own) ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=postfix.bench.test" \
  -keyout "$WORK/postfix-key.pem" -out "$WORK/postfix-cert.pem" >/dev/null 2>&1

start_bulwark() {   # $1: folder
  local folder=$1
  mkdir -p "$folder"
  cat >"$folder/bulwark.toml" <<EOF
data_dir = "$folder/data"
hostname = "mx.bench.test"
log_level = "warning"

[[receive_connector]]
name = "bench"
listen = "127.0.0.1:0"
tls = "starttls"
auth = false
[receive_connector.limits]
max_connections_per_client = 1000

[[local_domain]]
name = "bench.test"
EOF
  "$BUILD/bulwark" serve --config "$folder/bulwark.toml" >"$folder/stdout" 2>"$folder/stderr" &
  BULWARK_PID=$!
  for _ in $(seq 1 300); do
    BULWARK_PORT=$(awk '$1 == "ready" && $2 == "smtp" {print $5; exit}' "$folder/stdout")
    [ -n "$BULWARK_PORT" ] && return 0
    kill -0 "$BULWARK_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "bulwark did not start:"; cat "$folder/stderr"; exit 1
}

stop_bulwark() {
  kill "$BULWARK_PID" 2>/dev/null || echo "warning: bulwark had already exited" >&2
  wait "$BULWARK_PID" || true
  BULWARK_PID=""
}

start_postfix() {   # $1: folder
  local folder=$1
  POSTFIX_PORT=$(free_port)
  mkdir -p "$folder/etc" "$folder/spool" "$folder/data" "$folder/mail"
  chown postfix "$folder/data"
  chown nobody:nogroup "$folder/mail"
  cat >"$folder/etc/main.cf" <<EOF
compatibility_level = 3.6
config_directory = $folder/etc
queue_directory = $folder/spool
data_directory = $folder/data
maillog_file = $folder/maillog
maillog_file_prefixes = $folder
myhostname = postfix.bench.test
mydomain = bench.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
biff = no
smtpd_tls_cert_file = $WORK/postfix-cert.pem
smtpd_tls_key_file = $WORK/postfix-key.pem
smtpd_tls_security_level = may
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $folder/mail
virtual_mailbox_maps = static:bench/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_minimum_uid = 1
smtpd_client_connection_count_limit = 1000
EOF
  # The same minimal master.cf as the interop tests' private Postfix (one copy of it).
  python3 -c 'import sys; sys.path.insert(0, sys.argv[1])
from postfix_instance import MASTER_CF
print(MASTER_CF.format(port=sys.argv[2]), end="")' "$ROOT/tests/interop" "127.0.0.1:$POSTFIX_PORT" \
    >"$folder/etc/master.cf"
  POSTFIX_CONFIG="$folder/etc"
  postfix -c "$POSTFIX_CONFIG" start >/dev/null 2>&1 || {
    echo "postfix did not start:"; cat "$folder/maillog" 2>/dev/null; exit 1; }
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$POSTFIX_PORT") 2>/dev/null; then
      POSTFIX_MASTER=$(tr -d ' ' <"$folder/spool/pid/master.pid")
      return 0
    fi
    sleep 0.1
  done
  echo "postfix did not listen:"; cat "$folder/maillog"; exit 1
}

stop_postfix() {
  postfix -c "$POSTFIX_CONFIG" stop >/dev/null 2>&1 || true
  POSTFIX_CONFIG=""
}

delivered_count() {   # $1: Maildir; messages delivered so far
  find "$1/new" -type f 2>/dev/null | wc -l
}

wait_delivered() {   # $1: Maildir, $2: count, $3: server pid; at most 120 s
  for _ in $(seq 1 1200); do
    [ "$(delivered_count "$1")" -ge "$2" ] && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  echo "warning: only $(delivered_count "$1") of $2 delivered in $1" >&2
}

run_load() {   # $1: port, $2: mode; prints msgs/s
  local tls_flag=() output
  [ "$2" = starttls ] && tls_flag=(--starttls)
  output=$(timeout "$LOAD_TIMEOUT" "$LOAD" --host 127.0.0.1 --port "$1" --sessions "$SESSIONS" \
    --messages "$MESSAGES" --size "$SIZE" --per-connection "$PER_CONNECTION" --to bench@bench.test \
    "${tls_flag[@]}") || { echo "$output" >&2; echo "smtp_load failed" >&2; }
  echo "$output" >&2
  echo "$output" | sed -n 's/.* \([0-9.]*\) msgs\/s.*/\1/p' | head -1
}

declare -A RATE RSS PSS PROCESSES
for mode in plain starttls; do
  echo "== $mode: Bulwark"
  start_bulwark "$WORK/bulwark-$mode"
  RATE[bulwark-$mode]=$(run_load "$BULWARK_PORT" "$mode")
  wait_delivered "$WORK/bulwark-$mode/data/mail/bench.test/bench" "$MESSAGES" "$BULWARK_PID"
  RSS[bulwark-$mode]=$(hwm_kb "$BULWARK_PID")
  PSS[bulwark-$mode]=$(pss_kb "$BULWARK_PID")   # at the end of the run, not a peak
  stop_bulwark

  echo "== $mode: Postfix"
  start_postfix "$WORK/postfix-$mode"
  start_postfix_sampler "$POSTFIX_MASTER" "$WORK/postfix-$mode/peak"
  RATE[postfix-$mode]=$(run_load "$POSTFIX_PORT" "$mode")
  wait_delivered "$WORK/postfix-$mode/mail/bench" "$MESSAGES" "$POSTFIX_MASTER"
  stop_sampler
  read -r "RSS[postfix-$mode]" "PSS[postfix-$mode]" "PROCESSES[postfix-$mode]" <"$WORK/postfix-$mode/peak"
  stop_postfix
done

mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
echo
echo "messages=$MESSAGES sessions=$SESSIONS size=$SIZE per_connection=$PER_CONNECTION cores=$(nproc)"
printf '%-9s %14s %14s %6s %17s %17s\n' mode "Bulwark msg/s" "Postfix msg/s" ratio \
  "Bulwark peak RSS" "Postfix peak RSS"
for mode in plain starttls; do
  bulwark_rate=${RATE[bulwark-$mode]:-0}
  postfix_rate=${RATE[postfix-$mode]:-0}
  ratio=$(awk -v b="$bulwark_rate" -v p="$postfix_rate" 'BEGIN { if (p > 0) printf "%.2f", b / p; else print "n/a" }')
  printf '%-9s %14s %14s %6s %17s %17s\n' "$mode" "$bulwark_rate" "$postfix_rate" "$ratio" \
    "$(mib "${RSS[bulwark-$mode]}")" "$(mib "${RSS[postfix-$mode]}")"
done
echo
echo "Bulwark peak RSS: VmHWM of its one process. Postfix peak RSS: highest sum of VmRSS over master"
echo "and its daemons sampled every 0.1 s (shared libraries counted once per process); proportional"
echo "set size (PSS, shared pages divided) for a fairer view:"
for mode in plain starttls; do
  echo "  $mode: Bulwark PSS at end $(mib "${PSS[bulwark-$mode]}"); Postfix peak PSS" \
    "$(mib "${PSS[postfix-$mode]}") over up to ${PROCESSES[postfix-$mode]:-?} processes"
done
