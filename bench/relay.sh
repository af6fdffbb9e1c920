#!/usr/bin/env bash
# Relay benchmark: end-to-end messages per second (receive -> queue -> deliver) through Bulwark and
# through Postfix to the same next hop, Postfix's smtp-sink on loopback, at the same durability (both
# fsync the queue file before 250) and the same per-destination connection limit. Time runs from the
# first connection of the load to the moment the sink has counted every message. Also prints CPU
# seconds and peak memory of each MTA. Loopback only; every process is stopped on exit.
# Environment: MESSAGES (2000), SESSIONS (20), SIZE (4096), PER_CONNECTION (10), CONCURRENCY (20,
# connections to the sink at most, both MTAs), MODES ("plain"; "plain starttls" adds STARTTLS from
# the load to the MTA; the relay hop is plain because smtp-sink has no TLS), ROUNDS (1: how many
# times each mode runs, alternating Bulwark and Postfix), PAUSE (10 s before each run: on ext4
# without a journal, creating files soon after thousands were deleted costs more CPU, and that would
# charge one MTA for the files of the run before), RELAY_TIMEOUT (300 s), KEEP=1 keeps files.
set -euo pipefail

MESSAGES=${MESSAGES:-2000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-4096}
PER_CONNECTION=${PER_CONNECTION:-10}
CONCURRENCY=${CONCURRENCY:-20}
MODES=${MODES:-plain}
ROUNDS=${ROUNDS:-1}
RELAY_TIMEOUT=${RELAY_TIMEOUT:-300}
PAUSE=${PAUSE:-10}
RECIPIENT=bench@sink.test

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
command -v smtp-sink >/dev/null || PATH=$PATH:/usr/sbin
command -v smtp-sink >/dev/null || { echo "smtp-sink (package postfix) is not installed"; exit 1; }
build_release

# ---- the next hop: smtp-sink, one fresh instance per run so its counter starts at zero ----
SINK_PID=""
start_sink() {   # $1: folder; sets SINK_PORT and SINK_OUTPUT
  mkdir -p "$1"
  SINK_PORT=$(free_port)
  SINK_OUTPUT="$1/sink.out"
  # -c: a "sess=N quit=N mesg=N" counter line after every message (separated by carriage returns).
  smtp-sink -c -u nobody "127.0.0.1:$SINK_PORT" 1000 >"$SINK_OUTPUT" 2>"$1/sink.err" &
  SINK_PID=$!
  EXTRA_PIDS=("$SINK_PID")
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "smtp-sink did not listen:"; cat "$1/sink.err"; exit 1
}

stop_sink() {
  kill "$SINK_PID" 2>/dev/null || true
  wait "$SINK_PID" 2>/dev/null || true
  SINK_PID=""
  EXTRA_PIDS=()
}

# Waits until the sink has counted $1 messages while server $2 lives; prints the wall-clock time
# (seconds since the epoch) at which it had, or "count/expected" when it gave up.
wait_sink() {
  python3 - "$SINK_OUTPUT" "$1" "$2" "$RELAY_TIMEOUT" <<'EOF'
import os, re, sys, time
path, expected, server, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
deadline = time.time() + timeout
count = 0
while True:
    with open(path, "rb") as sink:
        sink.seek(max(0, os.path.getsize(path) - 200))
        found = re.findall(rb"mesg=(\d+)", sink.read())
    count = int(found[-1]) if found else 0
    if count >= expected:
        print(f"{time.time():.3f}")
        break
    try:
        os.kill(server, 0)
    except ProcessLookupError:
        print(f"{count}/{expected}")
        break
    if time.time() > deadline:
        print(f"{count}/{expected}")
        break
    time.sleep(0.01)
EOF
}

# Connections the sink saw, less the one start_sink made to see it listen. Read after the MTA
# stopped: a connection is counted when it ends, and Postfix keeps some open in its cache.
sink_connections() {
  sleep 0.2
  tr '\r' '\n' <"$SINK_OUTPUT" | awk -F'[ =]' '/^sess=/ { sessions = $2 } END { print sessions - 1 }'
}

# Relay rate from the start time and the wait_sink answer; "failed (n/m)" when not all arrived.
relay_rate() {   # $1: start, $2: wait_sink answer
  case $2 in
    */*) echo "failed($2)" ;;
    *) awk -v start="$1" -v end="$2" -v count="$MESSAGES" 'BEGIN { printf "%.1f", count / (end - start) }' ;;
  esac
}

if [[ " $MODES " == *" starttls "* ]]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=postfix.bench.test" \
    -keyout "$WORK/postfix-key.pem" -out "$WORK/postfix-cert.pem" >/dev/null 2>&1
fi

bulwark_relay_config() {   # relays everything from 127.0.0.1 to the sink, no TLS on that hop
  cat <<EOF
[delivery]
max_connections_per_destination = $CONCURRENCY

[[receive_connector]]
name = "bench"
listen = "127.0.0.1:0"
tls = "starttls"
auth = false
relay_networks = ["127.0.0.1"]
[receive_connector.limits]
max_connections_per_client = 1000

[[local_domain]]
name = "bench.test"

[[send_connector]]
name = "sink"
domains = ["*"]
smart_host = "[127.0.0.1]:$SINK_PORT"
tls = "none"
EOF
}

postfix_relay_config() {   # relays everything from 127.0.0.0/8 to the sink, no TLS on that hop
  cat <<EOF
relayhost = [127.0.0.1]:$SINK_PORT
smtp_tls_security_level = none
smtp_dns_support_level = disabled
smtp_host_lookup = native
default_process_limit = 200
default_destination_concurrency_limit = $CONCURRENCY
EOF
  if [ -f "$WORK/postfix-cert.pem" ]; then
    cat <<EOF
smtpd_tls_cert_file = $WORK/postfix-cert.pem
smtpd_tls_key_file = $WORK/postfix-key.pem
smtpd_tls_security_level = may
EOF
  fi
}

now() { date +%s.%N; }
cpu_since() { awk -v before="$1" -v after="$(tree_cpu_seconds "$2")" 'BEGIN { printf "%.2f", after - before }'; }

declare -A RATE ACCEPT CPU RSS PROCESSES CONNECTIONS
ROWS=()
for round in $(seq 1 "$ROUNDS"); do
  for mode in $MODES; do
    row="$mode#$round"
    ROWS+=("$row")

    sleep "$PAUSE"
    echo "== $row: Bulwark"
    start_sink "$WORK/bulwark-$row"
    start_bulwark "$WORK/bulwark-$row" "$(bulwark_relay_config)"
    cpu_before=$(tree_cpu_seconds "$BULWARK_PID")
    started=$(now)
    ACCEPT[bulwark-$row]=$(run_load "$BULWARK_PORT" "$mode" "$RECIPIENT")
    RATE[bulwark-$row]=$(relay_rate "$started" "$(wait_sink "$MESSAGES" "$BULWARK_PID")")
    CPU[bulwark-$row]=$(cpu_since "$cpu_before" "$BULWARK_PID")
    RSS[bulwark-$row]=$(hwm_kb "$BULWARK_PID")
    stop_bulwark
    CONNECTIONS[bulwark-$row]=$(sink_connections)
    stop_sink

    sleep "$PAUSE"
    echo "== $row: Postfix"
    start_sink "$WORK/postfix-$row"
    start_postfix "$WORK/postfix-$row" "$(postfix_relay_config)"
    start_postfix_sampler "$POSTFIX_MASTER" "$WORK/postfix-$row/peak"
    cpu_before=$(tree_cpu_seconds "$POSTFIX_MASTER")
    started=$(now)
    ACCEPT[postfix-$row]=$(run_load "$POSTFIX_PORT" "$mode" "$RECIPIENT")
    RATE[postfix-$row]=$(relay_rate "$started" "$(wait_sink "$MESSAGES" "$POSTFIX_MASTER")")
    CPU[postfix-$row]=$(cpu_since "$cpu_before" "$POSTFIX_MASTER")
    stop_sampler
    read -r "RSS[postfix-$row]" _ "PROCESSES[postfix-$row]" <"$WORK/postfix-$row/peak"
    stop_postfix
    CONNECTIONS[postfix-$row]=$(sink_connections)
    stop_sink
  done
done

echo
echo "messages=$MESSAGES sessions=$SESSIONS size=$SIZE per_connection=$PER_CONNECTION" \
  "concurrency=$CONCURRENCY cores=$(nproc)"
format='%-12s %8s %8s %6s %9s %9s %8s %8s %8s %8s %10s %10s\n'
# shellcheck disable=SC2059
printf "$format" mode Bulwark Postfix ratio "B accept" "P accept" "B CPU s" "P CPU s" \
  "B conns" "P conns" "B RSS" "P RSS"
for row in "${ROWS[@]}"; do
  bulwark_rate=${RATE[bulwark-$row]:-0}
  postfix_rate=${RATE[postfix-$row]:-0}
  ratio=$(awk -v b="$bulwark_rate" -v p="$postfix_rate" \
    'BEGIN { if (b + 0 > 0 && p + 0 > 0) printf "%.2f", b / p; else print "n/a" }')
  # shellcheck disable=SC2059
  printf "$format" "$row" "$bulwark_rate" "$postfix_rate" "$ratio" "${ACCEPT[bulwark-$row]:-?}" \
    "${ACCEPT[postfix-$row]:-?}" "${CPU[bulwark-$row]}" "${CPU[postfix-$row]}" \
    "${CONNECTIONS[bulwark-$row]}" "${CONNECTIONS[postfix-$row]}" \
    "$(mib "${RSS[bulwark-$row]}")" "$(mib "${RSS[postfix-$row]}")"
done
echo
echo "Bulwark, Postfix: relay msg/s, from the first connection to the last message counted by the"
echo "sink. accept: msg/s acknowledged to the load generator meanwhile. CPU s: user + system seconds"
echo "of the MTA (Postfix: master and all its daemons, live and exited) during the run (start-up"
echo "excluded). conns: connections the sink received. RSS: peak memory, Bulwark's VmHWM; Postfix's"
echo "highest sum of VmRSS over master and its daemons sampled every 0.1 s (shared libraries counted"
echo "once per process; up to $(printf '%s\n' "${PROCESSES[@]}" | sort -n | tail -1) processes)."
