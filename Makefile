# Zhicheng: the two commands a newcomer needs are `make demo` and `make test`.
# Each installs what it needs (Debian packages via scripts/install-deps, npm packages from
# the lock file), builds, and runs.
#
#   make build   configure + compile; the binary ends at build/zhicheng
#   make test    unit tests (ctest) + behaviour tests against the real binary (node --test)
#   make demo    the platform on http://localhost:8080 with sample entities of Gaoming
#   make bench   benchmarks side by side with their baselines (see docs/benchmarks.md)
#   make format  clang-format every C++ file in place (format-check: fail on a difference)
#   make lint    clang-tidy over src/ (slow: minutes per core)
#   make fuzz    libFuzzer targets, FUZZ_SECONDS each (fuzz/README.md; fuzz-smoke: 20 s each)
#   make sanitize  unit and behaviour tests against ASan+UBSan and TSan builds (scripts/sanitize)

BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build test unit-test api-test sanitize demo bench format format-check lint clean

all: build

deps:
	scripts/install-deps

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) $(CMAKE_FLAGS)

build: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

tests/node_modules/.package-lock.json: tests/package-lock.json
	cd tests && npm ci --no-audit --no-fund

api-test: build tests/node_modules/.package-lock.json
	cd tests && ZHICHENG_BIN=$(abspath $(BUILD_DIR))/zhicheng node --test api/

test: unit-test api-test fuzz-smoke

# Sanitizer builds in build-address/ and build-thread/ (about 25 minutes on 2 cores; CI runs it).
sanitize: deps tests/node_modules/.package-lock.json
	scripts/sanitize

demo: build
	scripts/demo

bench: build
	scripts/install-deps --bench
	bench/run

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

format-check:
	git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

# clang-tidy 16: Debian's clang 14 cannot read libstdc++ 12's <expected>; clang 16 can once
# told that its concepts are complete (see the ZHICHENG_FUZZ block of CMakeLists.txt).
CLANG_TIDY ?= clang-tidy-16
TIDY_ARGS = --extra-arg=-U__cpp_concepts --extra-arg=-D__cpp_concepts=202002L \
            --extra-arg=-Wno-unknown-warning-option --extra-arg=-std=c++2b
# (Through sh, so that a clang-tidy crash fails its batch without stopping xargs: every file
# is still checked, and the target fails at the end. A batch of 4 files takes under a
# minute; TIDY_TIMEOUT bounds one that hangs, so that CI fails rather than runs on.)
TIDY_TIMEOUT ?= 600
lint: $(BUILD_DIR)/build.ninja
	git ls-files 'src/*.cpp' | xargs -P $(JOBS) -n 4 sh -c \
	  'timeout $(TIDY_TIMEOUT) $(CLANG_TIDY) -p $(BUILD_DIR) --quiet $(TIDY_ARGS) "$$@" || \
	   { echo "lint: clang-tidy failed or ran over $(TIDY_TIMEOUT) s on: $$*" >&2; exit 1; }' lint

# libFuzzer targets built with clang + ASan/UBSan in their own build directory (fuzz/README.md).
FUZZ_BUILD_DIR ?= build-fuzz
FUZZ_CC ?= clang-16
FUZZ_CXX ?= clang++-16
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20

.PHONY: fuzz-build fuzz-smoke fuzz

$(FUZZ_BUILD_DIR)/build.ninja:
	CC=$(FUZZ_CC) CXX=$(FUZZ_CXX) cmake -S . -B $(FUZZ_BUILD_DIR) -G Ninja -DZHICHENG_FUZZ=ON

fuzz-build: deps $(FUZZ_BUILD_DIR)/build.ninja
	cmake --build $(FUZZ_BUILD_DIR) --target fuzz_targets -j $(JOBS)

fuzz-smoke: fuzz-build
	BUILD=$(FUZZ_BUILD_DIR) fuzz/run $(FUZZ_SMOKE_SECONDS)

fuzz: fuzz-build
	BUILD=$(FUZZ_BUILD_DIR) fuzz/run $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR)
