#!/usr/bin/env bash
# DKIM benchmark (issue 4): signatures and verifications per second per core, for a 4 KiB and a
# 100 KiB message, RSA-2048 and Ed25519 (relaxed/relaxed), for Bulwark, OpenDKIM and dkimpy, next
# to `openssl speed` for the same key types in the same run. How each is measured:
# - openssl speed: `openssl speed -seconds N rsa2048 ed25519`, the raw private/public key operation
#   on a 32-byte digest (RSA) or a short message (Ed25519): the ceiling DKIM can approach.
# - Bulwark: bench/dkim_bench (Release), signDkim and verifyDkim in a loop in one thread; the key is
#   loaded once (as the keyring does); the key record comes from memory (a FakeResolver).
# - OpenDKIM: the same binary, libopendkim 2.11 in-process (dkim_sign or dkim_verify, dkim_chunk,
#   dkim_eom per message, as its milter does); the PEM key is parsed per signature, because
#   libopendkim takes the key text per message; the key record comes from memory (its key lookup
#   callback).
# - dkimpy: bench/dkim_dkimpy.py, dkim.sign and dkim.verify in a loop in one /usr/bin/python3
#   process, the key record from a dict.
# Every rate is operations per CPU second of the measuring process (openssl speed divides by user
# CPU time too, unless -elapsed), so other load on a shared machine counts against no one; "per
# core" below means that. Every signature and verification is checked. Prints a table, Bulwark / openssl speed for 4 KiB
# (goal: at least 0.85) and Bulwark / the fastest peer (goal: above 1).
# Environment: RUN_SECONDS (3, whole seconds per measurement), SIZES ("4096 102400", message bytes), KEEP=1.
# Loopback only; nothing listens; every process is stopped on exit.
set -euo pipefail

RUN_SECONDS=${RUN_SECONDS:-3}
SIZES=${SIZES:-"4096 102400"}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
/usr/bin/python3 -c 'import dkim, nacl' 2>/dev/null ||
  { echo "dkimpy or PyNaCl missing for /usr/bin/python3 (scripts/install-deps)"; exit 1; }
build_release dkim_bench
[ -x "$BUILD/bench/dkim_bench" ] ||
  { echo "dkim_bench was not built: libopendkim-dev is missing (scripts/install-deps)"; exit 1; }

echo "== keys and messages in $WORK"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/rsa.pem" 2>/dev/null
openssl genpkey -algorithm ed25519 -out "$WORK/ed25519.pem"
messages=()
for size in $SIZES; do
  # A plain text mail of exactly `size` bytes: usual headers, then 72-character lines.
  /usr/bin/python3 - "$size" "$WORK/message-$size.eml" <<'EOF'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head = ("From: Alice <alice@bench.example>\r\nTo: Bob <bob@receiver.example>\r\n"
        "Subject: Benchmark message\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        "Message-ID: <bench@bench.example>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n").encode()
line = (b"The quick brown fox jumps over the lazy dog; pack my box with five dozen j" [:70]
        + b"\r\n")
remaining = size - len(head)
body = line * (remaining // len(line))
rest = remaining - len(body)
if rest >= 2:
    body += b"x" * (rest - 2) + b"\r\n"
elif rest == 1:
    body = body[:-2] + b"x\r\n"
assert len(head) + len(body) == size
open(path, "wb").write(head + body)
EOF
  messages+=(--message "$WORK/message-$size.eml")
done

RESULTS="$WORK/results"
: >"$RESULTS"
echo "== load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"

echo "== openssl speed -seconds $RUN_SECONDS rsa2048 ed25519"
openssl speed -seconds "$RUN_SECONDS" rsa2048 ed25519 >"$WORK/openssl-speed.txt" 2>/dev/null
# "rsa 2048 bits 0.000263s 0.000014s   3806.4  70629.3" and
# " 253 bits EdDSA (Ed25519)   0.0000s   0.0001s  32688.3  12128.0": the last two are sign/s, verify/s.
awk '/^rsa 2048 bits/ { print "openssl-speed rsa-sha256 0 sign " $(NF-1);
                        print "openssl-speed rsa-sha256 0 verify " $NF }
     /EdDSA \(Ed25519\)/ { print "openssl-speed ed25519-sha256 0 sign " $(NF-1);
                           print "openssl-speed ed25519-sha256 0 verify " $NF }' \
  "$WORK/openssl-speed.txt" | tee -a "$RESULTS"
[ "$(grep -c '^openssl-speed' "$RESULTS")" -eq 4 ] ||
  { echo "could not read openssl speed's output:"; cat "$WORK/openssl-speed.txt"; exit 1; }

echo "== Bulwark and OpenDKIM (dkim_bench, $RUN_SECONDS s per measurement)"
"$BUILD/bench/dkim_bench" --rsa-key "$WORK/rsa.pem" --ed25519-key "$WORK/ed25519.pem" \
  --seconds "$RUN_SECONDS" "${messages[@]}" | tee -a "$RESULTS"

echo "== dkimpy ($RUN_SECONDS s per measurement)"
message_files=()
for size in $SIZES; do message_files+=("$WORK/message-$size.eml"); done
/usr/bin/python3 "$ROOT/bench/dkim_dkimpy.py" "$RUN_SECONDS" "$WORK/rsa.pem" "$WORK/ed25519.pem" \
  "${message_files[@]}" | tee -a "$RESULTS"

echo
echo "== DKIM operations per second, one core (relaxed/relaxed)"
awk '
  { rate[$1, $2, $3, $4] = $5; if (!seen[$1]++) implementations[++count] = $1
    if ($3 != 0 && !seen_size[$3]++) sizes[++size_count] = $3 }
  END {
    split("rsa-sha256 ed25519-sha256", algorithms, " ")
    printf "%-14s %-15s %9s %12s %12s\n", "", "algorithm", "message", "sign/s", "verify/s"
    for (a = 1; a <= 2; a++) {
      algorithm = algorithms[a]
      printf "%-14s %-15s %9s %12.0f %12.0f\n", "openssl speed", algorithm, "-",
             rate["openssl-speed", algorithm, 0, "sign"], rate["openssl-speed", algorithm, 0, "verify"]
      for (s = 1; s <= size_count; s++)
        for (i = 1; i <= count; i++) {
          name = implementations[i]
          if (name == "openssl-speed") continue
          printf "%-14s %-15s %9s %12.0f %12.0f\n", name, algorithm, sizes[s],
                 rate[name, algorithm, sizes[s], "sign"], rate[name, algorithm, sizes[s], "verify"]
        }
    }
    print ""
    print "Bulwark / openssl speed (goal >= 0.85) and Bulwark / fastest peer (goal > 1):"
    for (a = 1; a <= 2; a++)
      for (s = 1; s <= size_count; s++)
        for (o = 1; o <= 2; o++) {
          algorithm = algorithms[a]; operation = (o == 1 ? "sign" : "verify"); size = sizes[s]
          ours = rate["bulwark", algorithm, size, operation]
          ceiling = rate["openssl-speed", algorithm, 0, operation]
          best = 0; best_name = "-"
          for (i = 1; i <= count; i++) {
            name = implementations[i]
            if (name == "bulwark" || name == "openssl-speed") continue
            if (rate[name, algorithm, size, operation] > best) {
              best = rate[name, algorithm, size, operation]; best_name = name }
          }
          verdict = ""
          if (size == 4096) verdict = (ours >= 0.85 * ceiling ? "goal met" : "GOAL MISSED")
          printf "  %-15s %7s %-6s  %5.2f of openssl speed  %6.2fx %-9s %s\n", algorithm, size,
                 operation, (ceiling > 0 ? ours / ceiling : 0), (best > 0 ? ours / best : 0),
                 best_name, verdict
        }
  }' "$RESULTS"
