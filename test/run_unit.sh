#!/usr/bin/env bash
# Runs the C unit tests; called by `make unit` after the binaries are built.
#
#   test/run_unit.sh [--weak BUILD_DIR/unit/NAME]... BUILD_DIR/unit/NAME ...
#
# For each NAME, runs BUILD_DIR/unit/asan/NAME (ASan + UBSan) and then
# BUILD_DIR/unit/plain/NAME (no sanitizers) under valgrind.  For each --weak
# NAME, also runs BUILD_DIR/unit/weak/NAME (ASan + UBSan), the test built
# with -DDP_WEAKEN_FOR_TEST: it reports its checks of a deliberately broken
# mechanism, and passes only when they reject it.  A run passes when it
# exits 0 and its last line of output is "N passed, 0 failed".
# Exits non-zero if any run failed.
#
# Each run has UNIT_MODE set in its environment, to "asan" or "valgrind", so a
# test can shrink its workload under valgrind (which runs code some 20-50
# times slower) or skip checks valgrind cannot emulate (it computes long
# double arithmetic at double precision).  Each run is stopped after
# UNIT_TIMEOUT (default 180) or VALGRIND_TIMEOUT (default 300) seconds.
set -euo pipefail

UNIT_TIMEOUT=${UNIT_TIMEOUT:-180}
VALGRIND_TIMEOUT=${VALGRIND_TIMEOUT:-300}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

weak=()
while [ $# -gt 0 ] && [ "$1" = --weak ]; do
	if [ $# -lt 2 ]; then
		echo "--weak needs a test" >&2
		exit 2
	fi
	weak+=("$2")
	shift 2
done

if [ $# -eq 0 ]; then
	echo "no unit tests (test/unit/*.c)"
	exit 0
fi

if ! command -v valgrind >/dev/null 2>&1; then
	echo "valgrind not found" >&2
	exit 1
fi

failed=()
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run LABEL TIMEOUT COMMAND...
run() {
	local label=$1 limit=$2
	shift 2
	local rc=0 last
	echo "--- $label"
	timeout --kill-after=10 "$limit" "$@" >"$log" 2>&1 || rc=$?
	cat "$log"
	last=$(tail -n 1 "$log")
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		echo "FAIL: $label: timed out after ${limit}s"
		failed+=("$label")
	elif [ "$rc" -ne 0 ]; then
		echo "FAIL: $label: exit status $rc"
		failed+=("$label")
	elif ! [[ "$last" =~ ^[0-9]+\ passed,\ 0\ failed$ ]]; then
		# valgrind -q prints nothing of its own when all is well, so the
		# program's summary is still the last line
		echo "FAIL: $label: last line is not 'N passed, 0 failed': $last"
		failed+=("$label")
	else
		echo "ok: $label"
	fi
}

for path in "$@"; do
	dir=$(dirname "$path")
	name=$(basename "$path")
	run "$name (asan+ubsan)" "$UNIT_TIMEOUT" \
		env UNIT_MODE=asan "$dir/asan/$name"
done

for path in ${weak[@]+"${weak[@]}"}; do
	dir=$(dirname "$path")
	name=$(basename "$path")
	run "$name (weakened build, must be rejected)" "$UNIT_TIMEOUT" \
		env UNIT_MODE=asan "$dir/weak/$name"
done

for path in "$@"; do
	dir=$(dirname "$path")
	name=$(basename "$path")
	run "$name (valgrind)" "$VALGRIND_TIMEOUT" \
		env UNIT_MODE=valgrind valgrind -q --error-exitcode=1 --leak-check=full \
		--errors-for-leak-kinds=definite,indirect,possible \
		--track-origins=yes "$dir/plain/$name"
done

total=$(( 2 * $# + ${#weak[@]} ))
nfail=${#failed[@]}
echo "unit: $(( total - nfail )) of $total runs passed"
if [ "$nfail" -ne 0 ]; then
	printf 'failed: %s\n' "${failed[@]}"
	exit 1
fi
