#!/bin/sh
# Parse time of the MIME view (bench/mime_bench.cpp), Release build in build-bench.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DBULWARK_TESTS=OFF >/dev/null
cmake --build build-bench --target mime_bench -j2
./build-bench/bench/mime_bench
