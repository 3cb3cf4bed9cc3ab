# Top-level entry points. Everything goes through CMake; this file only picks
# build directories and makes sure the Debian packages are there first.
MAKEFLAGS   += --no-print-directory
# jobs at once: the CPUs make may run on, cut to its cgroup's CPU quota
# (a container's cpu.max); scripts/jobs.sh
JOBS        ?= $(shell scripts/jobs.sh 2>/dev/null || echo 2)
BUILD       ?= build
CMAKE_FLAGS ?=
WATTLENS     = $(BUILD)/wattlens

.PHONY: all deps build run check check-asan check-tsan fuzz bench format clean FORCE

all: build

# scripts/deps.sh: the missing Debian packages; an optional one that could
# not be installed is noted once (in $(BUILD)/deps-optional-missing) and
# tried again only by the target that needs it (--retry-optional)
deps:
	@scripts/deps.sh $(BUILD)

# The configure stamp: written only after cmake succeeded, and holding the
# CMAKE_FLAGS it ran with. CMake writes CMakeCache.txt even when the
# configure fails or is interrupted (no build system then): keyed on the
# cache, every later make skipped the configure and died in `cmake --build`
# ("Makefile: No such file or directory") until build/ was deleted. The
# configure runs again when the stamp is missing or other flags are given
# (`make CMAKE_FLAGS=...` on a configured tree used to be ignored).
CONFIGURED = $(BUILD)/wl-configured
sq = '$(subst ','\'',$(1))'
ifneq ($(file <$(CONFIGURED)),CMAKE_FLAGS=$(strip $(CMAKE_FLAGS)))
$(CONFIGURED): FORCE
endif
$(CONFIGURED): | deps
	@rm -f $@
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)
	@printf '%s\n' $(call sq,CMAKE_FLAGS=$(strip $(CMAKE_FLAGS))) >$@

build: deps $(CONFIGURED)
	cmake --build $(BUILD) -j $(JOBS)

FORCE:

# The main job: profile a generation on the built-in default model.
run: build
	@scripts/main-job.sh $(WATTLENS)

# Tests labelled `timing` assert on rates and durations that a loaded, shared
# machine can disturb (sampling rate, baseline length, a signal mid-decode);
# they run after the others, one at a time (two at once on two cores starve
# each other's sampler and fake-sensor threads), and get up to three
# attempts. Everything else runs once, in parallel.
CTEST = ctest --output-on-failure -j $(JOBS)
CTEST_TIMING = -j 1 --repeat until-pass:3

check: build
	cd $(BUILD) && $(CTEST) -LE timing && $(CTEST) -L timing $(CTEST_TIMING)

# The sanitizer runs' environment. Their runtimes (gcc 12) cannot place
# their shadow memory when the kernel randomizes mmap with more than 28 bits
# (Ubuntu >= 23.10 hosts have 32; TSan dies with "unexpected memory mapping",
# ASan loops on DEADLYSIGNAL): there the tests run with address
# randomization off (setarch -R). A caller's LD_PRELOAD would load before
# the ASan runtime, which then refuses to start: it is unset (a test that
# preloads a library of its own sets LD_PRELOAD itself).
MMAP_RND_BITS ?= $(shell cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
SAN_RUN = env -u LD_PRELOAD $(if $(shell [ "$(MMAP_RND_BITS)" -gt 28 ] 2>/dev/null && echo y),setarch $(shell uname -m) -R)

check-asan: deps
	cmake -S . -B build-asan -DWL_SANITIZE=address -DCMAKE_BUILD_TYPE=Debug -DWL_BUILD_BENCH=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		$(SAN_RUN) sh -c '$(CTEST) -LE "no-asan|timing" && $(CTEST) -L timing -LE no-asan $(CTEST_TIMING)'

check-tsan: deps
	cmake -S . -B build-tsan -DWL_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug -DWL_BUILD_BENCH=OFF
	cmake --build build-tsan -j $(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		$(SAN_RUN) sh -c '$(CTEST) -LE "no-tsan|timing" && $(CTEST) -L timing -LE no-tsan $(CTEST_TIMING)'

# libFuzzer targets (clang): build-fuzz/fuzz_<name>; see docs/fuzzing.md.
fuzz:
	@scripts/deps.sh --retry-optional $(BUILD)
	CC=clang cmake -S . -B build-fuzz -DWL_FUZZ=ON -DWL_BUILD_TESTS=OFF -DWL_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build build-fuzz -j $(JOBS)

bench: build
	@scripts/bench.sh $(BUILD)

format:
	@scripts/deps.sh --retry-optional $(BUILD)
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-fuzz
