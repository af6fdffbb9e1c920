#!/usr/bin/env bash
# Acceptance benchmark: messages per second acknowledged (250 after DATA) by Bulwark and by Postfix
# at the same durability (both fsync the queue file before 250, both deliver to a Maildir), plain and
# STARTTLS, with the peak memory of each server. Loopback only; every process is stopped on exit.
# Environment: MESSAGES (4000), SESSIONS (20), SIZE (4096), PER_CONNECTION (10), KEEP=1 keeps files.
set -euo pipefail

MESSAGES=${MESSAGES:-4000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-4096}
PER_CONNECTION=${PER_CONNECTION:-10}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
build_release

# ---- one TLS certificate for Postfix (Bulwark generates its own) ----
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=postfix.bench.test" \
  -keyout "$WORK/postfix-key.pem" -out "$WORK/postfix-cert.pem" >/dev/null 2>&1

BULWARK_CONFIG='[[receive_connector]]
name = "bench"
listen = "127.0.0.1:0"
tls = "starttls"
auth = false
[receive_connector.limits]
max_connections_per_client = 1000

[[local_domain]]
name = "bench.test"

# Like for like: the Postfix here runs no SPF/DKIM/DMARC milter (bench/dkim.sh measures those).
[authentication]
verify = false'

postfix_delivery() {   # $1: folder; main.cf lines for Maildir delivery by virtual(8) as nobody
  mkdir -p "$1/mail"
  chown nobody:nogroup "$1/mail"
  cat <<EOF
smtpd_tls_cert_file = $WORK/postfix-cert.pem
smtpd_tls_key_file = $WORK/postfix-key.pem
smtpd_tls_security_level = may
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $1/mail
virtual_mailbox_maps = static:bench/
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
virtual_minimum_uid = 1
EOF
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

declare -A RATE RSS PSS PROCESSES
for mode in plain starttls; do
  echo "== $mode: Bulwark"
  start_bulwark "$WORK/bulwark-$mode" "$BULWARK_CONFIG"
  RATE[bulwark-$mode]=$(run_load "$BULWARK_PORT" "$mode" bench@bench.test)
  wait_delivered "$WORK/bulwark-$mode/data/mail/bench.test/bench" "$MESSAGES" "$BULWARK_PID"
  RSS[bulwark-$mode]=$(hwm_kb "$BULWARK_PID")
  PSS[bulwark-$mode]=$(pss_kb "$BULWARK_PID")   # at the end of the run, not a peak
  stop_bulwark

  echo "== $mode: Postfix"
  start_postfix "$WORK/postfix-$mode" "$(postfix_delivery "$WORK/postfix-$mode")"
  start_postfix_sampler "$POSTFIX_MASTER" "$WORK/postfix-$mode/peak"
  RATE[postfix-$mode]=$(run_load "$POSTFIX_PORT" "$mode" bench@bench.test)
  wait_delivered "$WORK/postfix-$mode/mail/bench" "$MESSAGES" "$POSTFIX_MASTER"
  stop_sampler
  read -r "RSS[postfix-$mode]" "PSS[postfix-$mode]" "PROCESSES[postfix-$mode]" <"$WORK/postfix-$mode/peak"
  stop_postfix
done

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
