#!/usr/bin/env bash
# Transport rules benchmark (issue 5): CPU microseconds to evaluate 10, 100 and 1,000 rules on a
# 4 KiB, a 100 KiB and a 1 MiB message, for rules with word lists (5 words each, one of them a
# phrase), RE2 patterns (one each), and half of each. Goal: 1,000 rules on a 100 KiB message under
# 1 ms of CPU. bench/rules_bench (Release) evaluates in one thread; CPU time of the process, so
# other load on a shared machine counts against no one. The MIME view is built by hand (the
# parse is measured separately once mime::parseMessage is merged). "matched" is how many rules
# matched (planted words), so reasons are computed too. "load ms": loading and compiling the rules.
# Environment: RUN_SECONDS (1, CPU seconds per measurement), KEEP=1.
set -euo pipefail

RUN_SECONDS=${RUN_SECONDS:-1}

# shellcheck source=bench/lib.sh
source "$(dirname "$0")/lib.sh"
build_release rules_bench
"$BUILD/bench/rules_bench" "$RUN_SECONDS" | tee "$WORK/rules.txt"
awk '$1 == "mixed" && $2 == 1000 && $3 == "100K" {
       verdict = ($4 < 1000) ? "met" : "NOT met";
       printf "goal (1,000 rules, 100 KiB, < 1000 us): %s (%s us)\n", verdict, $4 }' "$WORK/rules.txt"
