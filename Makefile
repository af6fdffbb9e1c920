# The two commands of the README: `make run` and `make test`. Each installs what is missing
# (scripts/install-deps is quiet when nothing is), configures, builds and runs.
BUILD_DIR ?= build
TEST_BUILD_DIR ?= build-test
JOBS ?= $(shell nproc)
CONFIG ?=

.PHONY: all deps build run test bench clean

all: build

deps:
	@scripts/install-deps

# Release build of the server: build/bulwark.
build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBULWARK_TESTS=OFF >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts `bulwark serve` on the embedded default (./var, SMTP on 127.0.0.1:2525), or CONFIG=file.
run: build
	./$(BUILD_DIR)/bulwark serve $(if $(CONFIG),--config $(CONFIG),)

# Every test (unit, conformance, integration, interop) at -O0 under ASan/UBSan, through ctest.
test: deps
	@cmake -S . -B $(TEST_BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBULWARK_SANITIZE=ON >/dev/null
	@cmake --build $(TEST_BUILD_DIR) -j $(JOBS)
	cd $(TEST_BUILD_DIR) && ctest --output-on-failure -j $(JOBS) --timeout 900

bench: deps
	bench/accept.sh

clean:
	rm -rf $(BUILD_DIR) $(TEST_BUILD_DIR) build-bench
