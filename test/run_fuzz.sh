#!/usr/bin/env bash
# Runs the libFuzzer harnesses; called by `make fuzz` after they are built.
#
#   test/run_fuzz.sh BUILD_DIR/fuzz/fuzz_NAME ...
#
# FUZZ_SECONDS (default 60) is split evenly across the harnesses, each getting
# at least FUZZ_MIN_SECONDS (default 5).  Seeds come from
# test/fuzz/corpus/fuzz_NAME/ when present; they are copied into
# BUILD_DIR/fuzz/corpus/fuzz_NAME/, which also receives the new inputs, so the
# source tree is never written to.  A dictionary test/fuzz/fuzz_NAME.dict is
# used when present.  Crash reproducers go to BUILD_DIR/fuzz/artifacts/.
# Exits non-zero if any harness crashed, leaked or timed out.
set -euo pipefail

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_MIN_SECONDS=${FUZZ_MIN_SECONDS:-5}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
BUILD_DIR=${BUILD_DIR:-build}

if [ $# -eq 0 ]; then
	echo "no fuzz harnesses (test/fuzz/fuzz_*.c)"
	exit 0
fi

per=$(( FUZZ_SECONDS / $# ))
[ "$per" -ge "$FUZZ_MIN_SECONDS" ] || per=$FUZZ_MIN_SECONDS

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for bin in "$@"; do
	name=$(basename "$bin")
	corpus="$BUILD_DIR/fuzz/corpus/$name"
	artifacts="$BUILD_DIR/fuzz/artifacts/$name"
	log="$BUILD_DIR/fuzz/$name.log"
	mkdir -p "$corpus" "$artifacts"
	seeds=()
	if [ -d "test/fuzz/corpus/$name" ]; then
		seeds=("test/fuzz/corpus/$name")
	fi
	opts=()
	if [ -f "test/fuzz/$name.dict" ]; then
		opts+=("-dict=test/fuzz/$name.dict")
	fi
	# shellcheck disable=SC2206 # FUZZ_FLAGS is a list of options
	opts+=($FUZZ_FLAGS)

	echo "--- $name: ${per}s"
	rc=0
	# the outer timeout only guards against a hung harness
	timeout --kill-after=10 $(( per + 120 )) \
		"$bin" -max_total_time="$per" -rss_limit_mb=2048 -timeout=25 \
		-print_final_stats=1 -artifact_prefix="$artifacts/" \
		"${opts[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: $name: exit status $rc; last 60 lines of $log:"
		tail -n 60 "$log"
		ls -l "$artifacts" 2>/dev/null || true
		failed+=("$name")
	else
		# "Done N runs in S second(s)" and the final stats
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
		echo "ok: $name ($(find "$corpus" -type f | wc -l) corpus files)"
	fi
done

nfail=${#failed[@]}
echo "fuzz: $(( $# - nfail )) of $# harnesses passed"
if [ "$nfail" -ne 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
	exit 1
fi
