# shellcheck shell=bash
# Shared by the benchmarks (accept.sh, relay.sh), sourced, not run: the Release build, a private
# Postfix and a Bulwark on loopback, peak-memory and CPU sampling, and the cleanup that stops every
# process the benchmark started. Inputs are our own configuration; nothing here reads the network.

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-bench}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-600}

WORK=$(mktemp -d /tmp/bulwark-bench-XXXXXX)
chmod 755 "$WORK"
BULWARK_PID=""
POSTFIX_CONFIG=""
SAMPLER_PID=""
EXTRA_PIDS=()   # other helpers a benchmark starts (the sink): stopped on exit

cleanup() {
  set +e
  [ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
  if [ -n "$BULWARK_PID" ]; then
    kill "$BULWARK_PID" 2>/dev/null
    wait "$BULWARK_PID" 2>/dev/null
  fi
  [ -n "$POSTFIX_CONFIG" ] && postfix -c "$POSTFIX_CONFIG" stop >/dev/null 2>&1
  local pid
  for pid in "${EXTRA_PIDS[@]}"; do
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ "${KEEP:-0}" = 1 ]; then echo "files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

build_release() {   # the Release binaries: the targets given, by default bulwark and smtp_load
  local targets=("$@")
  [ ${#targets[@]} -eq 0 ] && targets=(bulwark smtp_load)
  echo "== building Release in $BUILD"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF \
    -DBULWARK_SANITIZE=OFF >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; exit 1; }
  ninja -C "$BUILD" "${targets[@]}" >"$WORK/build.log" 2>&1 || { tail -50 "$WORK/build.log"; exit 1; }
  LOAD="$BUILD/bench/smtp_load"
}

# ---- memory and CPU sampling ----
# Bulwark is one process: the kernel keeps its peak (VmHWM). Postfix is many processes (master,
# smtpd per session, cleanup, qmgr, smtp, ...): sample the sum of their VmRSS and keep the highest.
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

cpu_ticks() {   # $1: pid; user + system clock ticks of the process and of its reaped children
  # /proc/PID/stat: the command (field 2) may hold spaces, so count from the closing parenthesis.
  awk '{ sub(/^.*\) /, ""); print $12 + $13 + $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

tree_cpu_seconds() {   # $1: pid; CPU seconds of it, its reaped children and its live children
  local ticks=0 pid
  for pid in $1 $(pgrep -P "$1" 2>/dev/null); do ticks=$((ticks + $(cpu_ticks "$pid"))); done
  awk -v t="$ticks" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", t / hz }'
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

mib() { awk -v k="${1:-0}" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# ---- Bulwark ----
start_bulwark() {   # $1: folder, $2: the configuration after data_dir, hostname and log_level
  local folder=$1
  mkdir -p "$folder"
  {
    echo "data_dir = \"$folder/data\""
    echo 'hostname = "mx.bench.test"'
    echo 'log_level = "warning"'
    echo
    echo "$2"
  } >"$folder/bulwark.toml"
  "$BUILD/bulwark" serve --config "$folder/bulwark.toml" >"$folder/stdout" 2>"$folder/stderr" &
  BULWARK_PID=$!
  for _ in $(seq 1 300); do
    # The background shell may not have opened stdout yet: no file is no port yet.
    BULWARK_PORT=$(awk '$1 == "ready" && $2 == "smtp" {print $5; exit}' "$folder/stdout" 2>/dev/null || true)
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

# ---- a private Postfix ----
start_postfix() {   # $1: folder, $2: main.cf lines added to the common ones
  local folder=$1
  POSTFIX_PORT=$(free_port)
  mkdir -p "$folder/etc" "$folder/spool" "$folder/data"
  chown postfix "$folder/data"
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
smtpd_client_connection_count_limit = 1000
$2
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
      # shellcheck disable=SC2034 # read by the benchmark scripts
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

run_load() {   # $1: port, $2: mode (plain or starttls), $3: recipient; prints msgs/s
  local tls_flag=() output
  [ "$2" = starttls ] && tls_flag=(--starttls)
  output=$(timeout "$LOAD_TIMEOUT" "$LOAD" --host 127.0.0.1 --port "$1" --sessions "$SESSIONS" \
    --messages "$MESSAGES" --size "$SIZE" --per-connection "$PER_CONNECTION" --to "$3" \
    "${tls_flag[@]}") || { echo "$output" >&2; echo "smtp_load failed" >&2; }
  echo "$output" >&2
  echo "$output" | sed -n 's/.* \([0-9.]*\) msgs\/s.*/\1/p' | head -1
}
