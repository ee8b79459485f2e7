#!/usr/bin/env bash
# bench/privacy/error_table.sh: the error of the noisy aggregates by cohort
# size and epsilon, by simulation of their mechanisms (src/dp_mech.c,
# src/dp_noise.c) outside the server.  Compiles bench/privacy/error_table.c
# into a temporary directory, runs it and writes the report
# bench/results/privacy-error-YYYY-MM-DD.md.  Needs a C compiler with 128-bit
# integers (CC, default cc) and no PostgreSQL.  Takes a few seconds.
#
# Environment: RELEASES (releases per cell, default 20000), SEED (default 1),
# CC.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"			# bench_machine
CC=${CC:-cc}
RELEASES=${RELEASES:-20000}
SEED=${SEED:-1}
DAY=$(date +%F)
REPORT_REL=bench/results/privacy-error-$DAY.md
REPORT=$ROOT/$REPORT_REL

# the command as run, for the report
COMMAND=bench/privacy/error_table.sh
[ "$RELEASES" = 20000 ] || COMMAND="RELEASES=$RELEASES $COMMAND"
[ "$SEED" = 1 ] || COMMAND="SEED=$SEED $COMMAND"
[ "$CC" = cc ] || COMMAND="CC=$CC $COMMAND"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

cd "$ROOT"
BUILD=("$CC" -O2 -Isrc src/dp_noise.c src/dp_mech.c bench/privacy/error_table.c -lm)
RUN=(-r "$RELEASES" -s "$SEED")

echo "compiling: ${BUILD[*]} -o error_table" >&2
"${BUILD[@]}" -o "$WORK/error_table"
echo "running: ./error_table ${RUN[*]}" >&2
start=$(date +%s.%N)
"$WORK/error_table" "${RUN[@]}" >"$WORK/tables.md"
end=$(date +%s.%N)
elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')

sources=$(sha256sum src/dp_noise.c src/dp_mech.c bench/privacy/error_table.c |
	awk '{ printf "%s`%s` %s", (NR > 1 ? ", " : ""), $2, substr($1, 1, 12) }')
# the commit, when the mechanisms' sources are the ones it holds
commit=
if git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null 2>&1 &&
	git -C "$ROOT" ls-files --error-unmatch src/dp_noise.c src/dp_mech.c >/dev/null 2>&1 &&
	git -C "$ROOT" diff --quiet HEAD -- src/dp_noise.c src/dp_mech.c 2>/dev/null; then
	commit="; commit $(git -C "$ROOT" rev-parse --short HEAD)"
fi

mkdir -p "$(dirname "$REPORT")"
{
	echo "# Noisy aggregates: error by cohort size and epsilon, $DAY"
	echo
	echo "Written by \`$COMMAND\`: the error (released value minus true"
	echo "value) of \`noisy_count\`, \`noisy_histogram\` (one bin), \`noisy_sum\` and"
	echo "\`noisy_avg\`, measured by simulation of their mechanisms, the C code the"
	echo "server runs (\`src/dp_mech.c\`, \`src/dp_noise.c\`), on synthetic cohorts."
	echo "Only the random source differs: a seeded xoshiro256** generator here,"
	echo "\`pg_strong_random\` in the server. The mechanisms use the source only as"
	echo "uniform random bytes, so the error has the same distribution in the server."
	echo
	bench_machine
	echo "- compiler: $("$CC" --version 2>/dev/null | head -n 1)"
	echo
	echo '## Command'
	echo
	echo '```'
	echo "$COMMAND"
	echo '```'
	echo
	echo 'which, from the top of the source tree, runs'
	echo
	echo '```'
	echo "${BUILD[*]} -o error_table"
	echo "./error_table ${RUN[*]}"
	echo '```'
	echo
	echo "- sources: $sources (sha256 prefixes)$commit"
	echo "- run time of the simulation: ${elapsed} s"
	echo
	echo '## Method'
	echo
	echo "- Cohort sizes n = 10, 30, 100, 1000, 10000 (privacy units: sellers, or"
	echo "  rows in the plain forms); epsilon = 0.1, 0.5, 1, 2."
	echo "- $RELEASES releases per cell (cohort size and epsilon), each with fresh"
	echo "  noise on the same data; seed $SEED for the data and the noise."
	echo "- Cohort A: n values drawn uniformly in [0, 100] (a rate in percent"
	echo "  spread over its whole range; mean near the midpoint of the bounds)."
	echo "  Cohort B: n values drawn uniformly in [0, 10] (a rate of a few percent"
	echo "  under the same bounds [0, 100]; mean far from the midpoint). One data"
	echo "  set per size and cohort, the same for every epsilon."
	echo "- The true value is computed exactly from the same fixed-point values"
	echo "  the mechanism adds noise to (a count; the fixed-point sum of the values"
	echo "  clamped to [0, 100]; the sum divided by n)."
	echo "- SD is the sample standard deviation of the error. For Laplace noise,"
	echo "  its sampling error with $RELEASES releases is about $(awk -v n="$RELEASES" 'BEGIN { printf "%.1f", 100 * sqrt(5 / (4 * n)) }')% of the SD"
	echo "  (one standard error), so simulated and analytic SDs may differ by a"
	echo "  few times that."
	echo "  95% |error| is the 95th percentile of the absolute error: the error is"
	echo "  smaller than it in 95% of releases. The mean error shows the bias of"
	echo "  the average (its clamping to the bounds and its noisy denominator)."
	echo
	echo '## Results'
	echo
	cat "$WORK/tables.md"
	echo
	echo '## Reading the tables'
	echo
	echo "- Count, histogram bin and sum: the noise does not depend on the data, so"
	echo "  the error is the same for every n; only the relative error falls as n"
	echo "  grows (SD / n for a count). The simulated SDs agree with the analytic"
	echo "  ones within sampling error."
	echo "- Average: the error falls as 1/n once the count's noise is small"
	echo "  against n (the first-order figures in brackets). In small cohorts at"
	echo "  small epsilon the noisy count can be near zero or negative, and the"
	echo "  release is clamped to [0, 100]: the error is then limited by the range"
	echo "  rather than described by the first-order figure, the release is biased"
	echo "  (mean error), and the 95% error is a large part of the range. Cohort"
	echo "  B's mean lies far from the midpoint 50, so the count's noise adds to"
	echo "  its error, and clamping at 0 biases it upwards in small cohorts:"
	echo "  bounds close around the expected values give smaller errors."
} >"$REPORT"

echo "report: $REPORT_REL" >&2
