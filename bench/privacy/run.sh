#!/usr/bin/env bash
# Benchmark of the noisy aggregates against the built-in aggregates, and of
# the privacy budget debit that every evaluation makes; `make bench-privacy`
# runs it.
#
# Installs the Debian packages it needs when they are missing, builds and
# installs the extension, then in a throw-away cluster (pg_virtualenv, with
# the settings in bench/lib.sh and shared_preload_libraries =
# pg_cron,seller_analytics, as the extension is deployed):
#
# Data.  A table orders(seller_id bigint, v double precision) of PRIV_ROWS
# rows: sellers drawn uniformly from 1 .. PRIV_SELLERS, order values
# exp(N(3.5, 0.8)) rounded to cents (setseed, Box-Muller); VACUUM (FREEZE,
# ANALYZE), read once before any timing.  One privacy budget of 5e9
# epsilon, named in seller_analytics.privacy_budget for the database (the
# benchmark runs as the superuser, who may spend any budget).
#
# A. Side by side.  Each noisy aggregate against its built-in equivalent,
# at epsilon 1.0, in two plan shapes: serial (max_parallel_workers_per_gather
# = 0) and parallel (2 workers):
#
#   noisy_avg(v, 0, 1000, 1.0)          avg(v)                     target <= 1.5x
#   noisy_sum(v, 0, 1000, 1.0)          sum(v)
#   noisy_count(1.0)                    count(*)
#   noisy_histogram(v, 0, 1000, 20, 1.0)
#                                       array_agg of count(*) GROUP BY the
#                                       clamped width_bucket(v, 0, 1000, 20)
#   noisy_avg(seller_id, v, 0, 1e6, 1.0)
#                                       avg of the per-seller sums, clamped
#   noisy_count(seller_id, 1.0)         count(*) of the GROUP BY seller_id
#
# and spend_privacy_budget(1.0) alone (the debit every noisy evaluation
# makes).  One psql session per plan shape, timed with \timing; a warm-up
# round, then PRIV_ROUNDS rounds in which every query runs once, each pair
# side by side, the order rotating by one and reversed every other round.  Figures: medians, the
# ratio ours / built-in of the medians and the median of the per-round
# ratios, and the ratio with the median debit taken off.  The target pair is
# also timed by EXPLAIN (ANALYZE, TIMING OFF) in the same rounds, to compare
# the two ways of timing.  The parallel plans must show partial aggregation
# with 2 workers launched.
#
# B. The debit.  (a) PRIV_DEBITS calls of spend_privacy_budget(0.001) in one
# session, one statement (and transaction) each, timed inside the server
# with clock_timestamp() around each call: p50, p90, p99 in ms; with fsync
# as the cluster has it (pg_virtualenv: off), then again with fsync = on
# (ALTER SYSTEM and a reload of this throw-away cluster; reset afterwards).
# (b) A GROUP BY of G groups (G in PRIV_GROUPS, seller_id % G) with
# noisy_count(1.0) against count(*), serial, a warm-up and
# PRIV_GROUP_ROUNDS interleaved rounds: medians, the extra time per group,
# and a least-squares line extra = a + G x b.
#
# C. Sanity checks (not tests): every noisy value released in A and B
# within 20 noise scales of the true value (the chance that a correct
# release is farther is below 1e-8 per value), and the ledger holds exactly
# one row per evaluation made, with the units of its epsilon, and the
# budget's spent_units equal to their sum.
#
# The report goes to bench/results/privacy-YYYY-MM-DD.md; a summary with
# PASS/FAIL per target is printed at the end.  About 2 minutes on 2 cores
# with the defaults (half of it the 1000-group GROUP BY, 1000 debits a run);
# PRIV_ROWS=100000 PRIV_ROUNDS=3 PRIV_DEBITS=50 PRIV_GROUPS="10 100"
# PRIV_GROUP_ROUNDS=1 for a quick check (a few seconds; too small a table for
# parallel plans).
#
# Environment (defaults in parentheses):
#   PRIV_ROWS (1000000)  PRIV_SELLERS (10000)  PRIV_ROUNDS (15)
#   PRIV_DEBITS (300)  PRIV_GROUPS ("10 100 1000")  PRIV_GROUP_ROUNDS (5)
#   PG_CONFIG, JOBS as for bench/lib.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

BENCH_SETTINGS="PRIV_ROWS PRIV_SELLERS PRIV_ROUNDS PRIV_DEBITS PRIV_GROUPS PRIV_GROUP_ROUNDS"
# the command as run, for the report
if [ "${1:-}" != "--in-virtualenv" ]; then
	bench_command bench-privacy
fi

PRIV_ROWS=${PRIV_ROWS:-1000000}
PRIV_SELLERS=${PRIV_SELLERS:-10000}
PRIV_ROUNDS=${PRIV_ROUNDS:-15}
PRIV_DEBITS=${PRIV_DEBITS:-300}
PRIV_GROUPS=${PRIV_GROUPS:-10 100 1000}
PRIV_GROUP_ROUNDS=${PRIV_GROUP_ROUNDS:-5}
export PRIV_ROWS PRIV_SELLERS PRIV_ROUNDS PRIV_DEBITS PRIV_GROUPS PRIV_GROUP_ROUNDS

# The extension as deployed: preloaded (with pg_cron, as the tests run it),
# so that a debit's background worker starts with the module loaded.
BENCH_PG_OPTS+=("shared_preload_libraries=pg_cron,seller_analytics")

# the budget every evaluation spends from, and its size (epsilon)
BUDGET=bench
BUDGET_EPSILON=5e9
# epsilon of every noisy aggregate, and of the debits of B (a)
EPS=1.0
DEBIT_EPS=0.001
# the bounds and bins of the queries
LO=0
HI=1000
BINS=20
SELLER_HI=1e6
# the sanity checks: noise scales a released value may be from the truth
K_SCALES=20

# A's queries: name=SQL; the noisy ones, their built-in equivalents (same
# order), the debit alone, and the target pair once more under EXPLAIN
A_NOISY=(
	"noisy_avg=SELECT noisy_avg(v, $LO, $HI, $EPS) FROM orders"
	"noisy_sum=SELECT noisy_sum(v, $LO, $HI, $EPS) FROM orders"
	"noisy_count=SELECT noisy_count($EPS) FROM orders"
	"noisy_histogram=SELECT noisy_histogram(v, $LO, $HI, $BINS, $EPS) FROM orders"
	"noisy_seller_avg=SELECT noisy_avg(seller_id, v, $LO, $SELLER_HI, $EPS) FROM orders"
	"noisy_seller_count=SELECT noisy_count(seller_id, $EPS) FROM orders"
)
A_BUILTIN=(
	"avg=SELECT avg(v) FROM orders"
	"sum=SELECT sum(v) FROM orders"
	"count=SELECT count(*) FROM orders"
	"histogram=SELECT array_agg(c ORDER BY b) FROM (SELECT greatest(1, least($BINS, width_bucket(v, $LO, $HI, $BINS))) AS b, count(*) AS c FROM orders GROUP BY 1) h"
	"seller_avg=SELECT avg(least(greatest(s, $LO), $SELLER_HI)) FROM (SELECT seller_id, sum(least(greatest(v, $LO), $SELLER_HI)) AS s FROM orders GROUP BY seller_id) x"
	"seller_count=SELECT count(*) FROM (SELECT seller_id FROM orders GROUP BY seller_id) x"
)
A_EXTRA=(
	"debit=SELECT spend_privacy_budget($EPS)"
	"noisy_avg_explain=EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) SELECT noisy_avg(v, $LO, $HI, $EPS) FROM orders"
	"avg_explain=EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) SELECT avg(v) FROM orders"
)
# evaluations (debits) per run of each A query
A_DEBITS_PER_ROUND=$((${#A_NOISY[@]} + 2))
# the pairs side by side in the list (the rounds keep neighbours close in
# time), then the rest
A_PAIRS=()
for ((i = 0; i < ${#A_NOISY[@]}; i++)); do
	A_PAIRS+=("${A_NOISY[i]}" "${A_BUILTIN[i]}")
done
A_QUERIES=("${A_PAIRS[@]}" "${A_EXTRA[@]}")

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: run.sh --in-virtualenv REPORT_FILE

# time_rounds SETUP ROUNDS OUT NAME=SQL...: one psql session: SETUP, then a
# warm-up round (round 0) and ROUNDS rounds, every SQL once per round, the
# order rotating by one from round to round and reversed in odd rounds.
# Timed with \timing, or for EXPLAIN ANALYZE by its Execution Time.  OUT
# gets "name|round|ms|first output line" lines, and OUT.rows every output
# row of a query as "name|round|row".
time_rounds() {
	local setup=$1 rounds=$2 out=$3
	shift 3
	local names=() sqls=() q n r k i
	for q in "$@"; do
		names+=("${q%%=*}")
		sqls+=("${q#*=}")
	done
	n=${#names[@]}
	{
		echo "$setup"
		echo '\timing on'
		for ((r = 0; r <= rounds; r++)); do
			for ((k = 0; k < n; k++)); do
				if ((r % 2)); then i=$((((r - k) % n + n) % n)); else i=$(((k + r) % n)); fi
				echo "\\echo @$r ${names[i]}"
				echo "${sqls[i]};"
			done
		done
	} | psql_b -At -F'|' |
		awk -v rows="$out.rows" '
			$1 ~ /^@[0-9]+$/ && NF == 2 { round = substr($1, 2); name = $2; val = ""; ex = ""; next }
			name == "" { next }
			/^Time: [0-9.]+ ms/ {
				printf "%s|%s|%s|%s\n", name, round, (ex != "" ? ex : $2), val
				name = ""; next
			}
			/^Execution Time: / { ex = $3; next }
			{ if (val == "") val = $0; print name "|" round "|" $0 > rows }' >"$out"
}

# stat_of FILE NAME: "median|IQR / median|samples" of NAME's timed rounds
# (round 0, the warm-up, left out)
stat_of() {
	awk -F'|' -v name="$2" '$1 == name && $2 > 0 { print $3 }' "$1" | sort -g |
		awk '
			{ v[NR] = $1; s = s (NR > 1 ? ", " : "") sprintf("%.1f", $1) }
			function q(p,   h, lo) { h = 1 + (NR - 1) * p; lo = int(h); return v[lo] + (h - lo) * (v[lo + (lo < NR)] - v[lo]) }
			END {
				if (NR == 0) { print "NaN|NaN|"; exit }
				m = q(0.5)
				printf "%.2f|%.3f|%s\n", m, (m > 0 ? (q(0.75) - q(0.25)) / m : 0), s
			}'
}

# less_noisy FILE: which timing of the target pair has the lower spread
# (the mean of noisy_avg's and avg's), with the two spreads
less_noisy() {
	local t e
	t=$(awk -v a="$(stat_of "$1" noisy_avg | cut -d'|' -f2)" -v b="$(stat_of "$1" avg | cut -d'|' -f2)" 'BEGIN { printf "%.3f", (a + b) / 2 }')
	e=$(awk -v a="$(stat_of "$1" noisy_avg_explain | cut -d'|' -f2)" -v b="$(stat_of "$1" avg_explain | cut -d'|' -f2)" 'BEGIN { printf "%.3f", (a + b) / 2 }')
	if awk -v t="$t" -v e="$e" 'BEGIN { exit !(t <= e) }'; then
		echo "\\timing ($t against $e)"
	else
		echo "EXPLAIN ($e against $t)"
	fi
}

# round_ratio FILE A B: the median over the timed rounds of A / B
round_ratio() {
	awk -F'|' -v a="$2" -v b="$3" '
		$2 > 0 && $1 == a { x[$2] = $3 }
		$2 > 0 && $1 == b { y[$2] = $3 }
		END { for (r in x) if (y[r] > 0) print x[r] / y[r] }' "$1" | median
}

# ledger: "rows|units" of the ledger of the benchmark's budget
ledger() {
	rows "SELECT count(*), coalesce(sum(units), 0) FROM seller_analytics.privacy_ledger WHERE budget = '$BUDGET'"
}

# ledger_part PART EVALUATIONS EPSILON BEFORE: a line of $WORK/ledger:
# "part|evaluations|ledger rows|expected units|ledger units"
ledger_part() {
	local part=$1 evals=$2 eps=$3 before=$4 after units
	after=$(ledger)
	units=$(rows "SELECT $evals * seller_analytics.privacy_epsilon_units($eps)")
	echo "$part|$evals|$(($(cut -d'|' -f1 <<<"$after") - $(cut -d'|' -f1 <<<"$before")))|$units|$(($(cut -d'|' -f2 <<<"$after") - $(cut -d'|' -f2 <<<"$before")))" >>"$WORK/ledger"
}

# debit_calls OUT: PRIV_DEBITS debits of DEBIT_EPS, a statement each, in
# one session; OUT gets the µs of each (clock_timestamp() around the call,
# in the server); prints the session's wall-clock ms
debit_calls() {
	local out=$1 i t0 t1
	t0=$(date +%s%N)
	for ((i = 0; i < PRIV_DEBITS; i++)); do
		echo "SELECT bench.timed_debit($DEBIT_EPS);"
	done | psql_b -At >"$out"
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# set_fsync on|off: fsync of the throw-away cluster, by ALTER SYSTEM and a
# reload (fsync takes effect on reload); waits until new sessions see it
set_fsync() {
	local want=$1 i
	if [ "$want" = on ]; then
		psql_b -c 'ALTER SYSTEM SET fsync = on'
	else
		psql_b -c 'ALTER SYSTEM RESET fsync'
	fi
	psql_b -c 'SELECT pg_reload_conf()' >/dev/null
	for ((i = 0; i < 50; i++)); do
		if [ "$(rows 'SHOW fsync')" = "$want" ]; then return 0; fi
		sleep 0.1
	done
	echo "error: fsync did not become $want" >&2
	return 1
}

in_virtualenv() {
	REPORT=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_privacy.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	: >"$WORK/summary"
	: >"$WORK/head"
	: >"$WORK/body"
	: >"$WORK/ledger"
	report() { cat >>"$WORK/body"; }

	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b >/dev/null <<-SQL
		CREATE EXTENSION seller_analytics;
		CREATE SCHEMA bench;
		ALTER DATABASE bench SET search_path = public, seller_analytics;
		SELECT seller_analytics.create_privacy_budget('$BUDGET', $BUDGET_EPSILON);
		ALTER DATABASE bench SET seller_analytics.privacy_budget = '$BUDGET';

		-- one debit, timed in the server: µs
		CREATE FUNCTION bench.timed_debit(epsilon double precision) RETURNS double precision
		LANGUAGE plpgsql AS \$\$
		DECLARE
			t0 timestamptz := clock_timestamp();
		BEGIN
			PERFORM seller_analytics.spend_privacy_budget(epsilon);
			RETURN (1e6 * extract(epoch FROM clock_timestamp() - t0))::double precision;
		END
		\$\$;
	SQL

	# --- machine and server --------------------------------------------------
	local today datadir fstype
	today=$(date +%F)
	datadir=$(rows 'SHOW data_directory')
	fstype=$(df -PT "$datadir" 2>/dev/null | awk 'NR == 2 { print $2 }')
	{
		echo "# Noisy aggregates benchmark, $today"
		echo
		echo 'Written by `make bench-privacy` (bench/privacy/run.sh): the noisy aggregates of'
		echo 'seller_analytics (`noisy_avg`, `noisy_sum`, `noisy_count`, `noisy_histogram` and'
		echo 'the per-seller forms) against the built-in aggregates that compute the same'
		echo 'true values, side by side in one run, serial and parallel; then the cost of the'
		echo 'privacy budget debit that every evaluation makes, alone and in a `GROUP BY`.'
		echo
		bench_machine
		echo "The machine is shared: other work may run beside this benchmark, which is why"
		echo "the queries alternate in every round and the figures are medians and ratios."
		echo
		bench_server_head
		echo "- data directory on: ${fstype:-unknown}"
		echo "- privacy budget \`$BUDGET\` of $BUDGET_EPSILON epsilon, named for the database with \`ALTER DATABASE"
		echo "  bench SET seller_analytics.privacy_budget = '$BUDGET'\`; the benchmark runs as the"
		echo "  superuser, who may spend any budget"
		echo '- settings as seen by the server (sections below change some per query, as stated):'
		echo
		rows "SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings
			  WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather',
				'max_parallel_workers', 'max_worker_processes', 'jit', 'fsync',
				'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'autovacuum',
				'shared_preload_libraries', 'parallel_setup_cost', 'parallel_tuple_cost',
				'min_parallel_table_scan_size')
			  ORDER BY name" | md_table 'setting|value|source'
		echo
	} >"$WORK/head"

	# --- data ----------------------------------------------------------------
	bench_section "data: $PRIV_ROWS rows, $PRIV_SELLERS sellers"
	local N='(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))'
	psql_b <<-SQL
		SELECT setseed(0.2025) \gset
		CREATE TABLE orders (seller_id bigint NOT NULL, v double precision NOT NULL);
		INSERT INTO orders
		SELECT 1 + floor(random() * $PRIV_SELLERS)::bigint, round(exp(3.5 + 0.8 * $N)::numeric, 2)::double precision
		FROM generate_series(1, $PRIV_ROWS);
		VACUUM (FREEZE, ANALYZE) orders;
	SQL
	# the true values the noisy aggregates release with noise: n|clamped
	# sum|clamped avg|sellers|per-seller avg|histogram bins (space-separated)
	local truth
	truth=$(rows "SELECT count(*), sum(least(greatest(v, $LO), $HI)), avg(least(greatest(v, $LO), $HI)),
			(SELECT count(DISTINCT seller_id) FROM orders),
			(SELECT avg(least(greatest(s, $LO), $SELLER_HI)) FROM (SELECT sum(least(greatest(v, $LO), $SELLER_HI)) AS s FROM orders GROUP BY seller_id) x),
			(SELECT string_agg(coalesce(c, 0)::text, ' ' ORDER BY b)
			 FROM generate_series(1, $BINS) b
			 LEFT JOIN (SELECT greatest(1, least($BINS, width_bucket(v, $LO, $HI, $BINS))) AS k, count(*) AS c
						FROM orders GROUP BY 1) h ON h.k = b)
		FROM orders")
	echo "$truth" >"$WORK/truth"
	{
		echo '## Data'
		echo
		echo "\`orders(seller_id bigint, v double precision)\`: $PRIV_ROWS rows, seller_id drawn uniformly from"
		echo "1 .. $PRIV_SELLERS, v an order value exp(N(3.5, 0.8)) rounded to cents (setseed(0.2025),"
		echo "Box-Muller); then VACUUM (FREEZE, ANALYZE), and every query run once (the warm-up"
		echo "round) before any timing."
		echo
		rows "SELECT count(*), count(DISTINCT seller_id), round(avg(v)::numeric, 2), round(max(v)::numeric, 2),
				count(*) FILTER (WHERE v > $HI), pg_size_pretty(pg_table_size('orders'))
			  FROM orders" | md_table "rows|sellers|avg v|max v|rows with v > $HI (clamped)|table size"
		echo
	} | report

	# --- A. side by side ------------------------------------------------------
	local mode label setup before q name plan partial launched
	: >"$WORK/plans"
	: >"$WORK/plan_check"
	for mode in 0 2; do
		if [ "$mode" = 0 ]; then label=serial; else label="parallel (2 workers)"; fi
		setup="SET max_parallel_workers_per_gather = $mode;"
		bench_section "A. $label: warm-up and $PRIV_ROUNDS rounds of $((${#A_NOISY[@]} * 2 + ${#A_EXTRA[@]})) queries"
		before=$(ledger)
		time_rounds "$setup" "$PRIV_ROUNDS" "$WORK/a_$mode" "${A_QUERIES[@]}"
		ledger_part "A. side by side, $label" "$(((PRIV_ROUNDS + 1) * A_DEBITS_PER_ROUND))" "$EPS" "$before"

		# the plans: EXPLAIN ANALYZE in parallel (the workers launched; each
		# noisy one is an evaluation), EXPLAIN in serial
		before=$(ledger)
		for q in "${A_PAIRS[@]}"; do
			name=${q%%=*}
			if [ "$mode" = 2 ]; then
				plan=$(psql_b -At -c "$setup" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${q#*=}")
				partial=no
				if grep -q 'Partial' <<<"$plan"; then partial=yes; fi
				launched=$(awk '/Workers Launched:/ { print $NF; exit }' <<<"$plan")
				echo "$name|$partial|${launched:-0}" >>"$WORK/plan_check"
			else
				plan=$(psql_b -At -c "$setup" -c "EXPLAIN (COSTS OFF) ${q#*=}")
			fi
			printf '%s\n' "-- $label, $name: ${q#*=}" "$plan" "" >>"$WORK/plans"
		done
		if [ "$mode" = 2 ]; then
			ledger_part "A. the parallel plans (EXPLAIN ANALYZE)" "${#A_NOISY[@]}" "$EPS" "$before"
		fi
	done

	# --- B (a). the debit alone ------------------------------------------------
	bench_section "B. $PRIV_DEBITS debits of $DEBIT_EPS, fsync $(rows 'SHOW fsync')"
	local fsync_as_is wall_off wall_on
	fsync_as_is=$(rows 'SHOW fsync')
	before=$(ledger)
	wall_off=$(debit_calls "$WORK/debit_off")
	ledger_part "B (a). spend_privacy_budget($DEBIT_EPS), fsync = $fsync_as_is" "$PRIV_DEBITS" "$DEBIT_EPS" "$before"

	# --- B (b). GROUP BY of G groups ----------------------------------------------
	local g
	: >"$WORK/groups"
	for g in $PRIV_GROUPS; do
		bench_section "B. GROUP BY of $g groups: warm-up and $PRIV_GROUP_ROUNDS rounds"
		before=$(ledger)
		time_rounds 'SET max_parallel_workers_per_gather = 0;' "$PRIV_GROUP_ROUNDS" "$WORK/g_$g" \
			"noisy_count=SELECT seller_id % $g AS g, noisy_count($EPS) FROM orders GROUP BY 1" \
			"count=SELECT seller_id % $g AS g, count(*) FROM orders GROUP BY 1"
		# the groups there are (a small data set may have fewer than G)
		local ng
		ng=$(awk -F'|' '$1 == "count" && $2 == 0' "$WORK/g_$g.rows" | wc -l)
		ledger_part "B (b). noisy_count($EPS) GROUP BY, $ng groups" "$(((PRIV_GROUP_ROUNDS + 1) * ng))" "$EPS" "$before"
		local sn sc
		sn=$(stat_of "$WORK/g_$g" noisy_count)
		sc=$(stat_of "$WORK/g_$g" count)
		echo "$g|$ng|$sc|$sn" >>"$WORK/groups"
	done

	# --- B (a) again with fsync on (last: nothing timed after it) ---------------
	bench_section "B. $PRIV_DEBITS debits of $DEBIT_EPS, fsync on"
	set_fsync on
	before=$(ledger)
	wall_on=$(debit_calls "$WORK/debit_on")
	ledger_part "B (a). spend_privacy_budget($DEBIT_EPS), fsync = on" "$PRIV_DEBITS" "$DEBIT_EPS" "$before"
	set_fsync "$fsync_as_is"

	# --- results: A -------------------------------------------------------------------
	local pair ours builtin so sb mo mb md r rr rd verdict
	local pairs=(noisy_avg:avg noisy_sum:sum noisy_count:count noisy_histogram:histogram
		noisy_seller_avg:seller_avg noisy_seller_count:seller_count)
	for mode in 0 2; do
		: >"$WORK/a_table_$mode"
		md=$(stat_of "$WORK/a_$mode" debit | cut -d'|' -f1)
		for pair in "${pairs[@]}"; do
			ours=${pair%%:*}
			builtin=${pair#*:}
			so=$(stat_of "$WORK/a_$mode" "$ours")
			sb=$(stat_of "$WORK/a_$mode" "$builtin")
			mo=$(cut -d'|' -f1 <<<"$so")
			mb=$(cut -d'|' -f1 <<<"$sb")
			r=$(ratio "$mo" "$mb")
			rr=$(printf '%.2f' "$(round_ratio "$WORK/a_$mode" "$ours" "$builtin")")
			rd=$(awk -v o="$mo" -v d="$md" -v b="$mb" 'BEGIN { if (b > 0) printf "%.2f", (o - d) / b; else print "NaN" }')
			echo "$ours|$builtin|$mb|$mo|**${r}x**|${rr}x|${rd}x|$(awk -v o="$mo" -v b="$mb" 'BEGIN { printf "%.1f", o - b }')" >>"$WORK/a_table_$mode"
			if [ "$mode" = 0 ]; then label=serial; else label="2 workers"; fi
			if [ "$ours" = noisy_avg ]; then
				summary_add "A. noisy_avg(v, $LO, $HI, $EPS) / avg(v), $PRIV_ROWS rows, $label (one debit included)" \
					"${r}x ($mo / $mb ms; per round: ${rr}x; without the debit: ${rd}x)" "<= 1.5x" "$(pass_if "\"$r\" != \"NaN\" && $r <= 1.5")"
			else
				summary_add "A. $ours / $builtin, $label" "${r}x ($mo / $mb ms; without the debit: ${rd}x)" "-" "-"
			fi
		done
	done
	local plans_ok
	plans_ok=$(awk -F'|' '$2 == "yes" && $3 == 2' "$WORK/plan_check" | wc -l)
	verdict=FAIL
	if [ "$plans_ok" = "$(wc -l <"$WORK/plan_check")" ]; then verdict=PASS; fi
	summary_add "A. parallel plans: partial aggregation, 2 workers launched (all queries)" \
		"$plans_ok / $(wc -l <"$WORK/plan_check")" "all" "$verdict"

	{
		echo "## A. Noisy aggregates against the built-ins over $PRIV_ROWS rows"
		echo
		echo "Every noisy evaluation includes one debit of the privacy budget (a background"
		echo "worker that commits the debit before the value is returned); it is part of what"
		echo "is measured here, and B measures it alone."
		echo
		echo "Timing: psql \`\\timing\` over one warm session per plan shape (the client's time"
		echo "from sending a query to its one-row result; the result is tiny).  A warm-up"
		echo "round, then $PRIV_ROUNDS rounds in which every query below runs once, in the order of the"
		echo "list (each noisy aggregate next to its built-in) rotated by one from round to round"
		echo "and reversed every other round, so that each of a pair runs first about half the"
		echo "time, next to the other.  Figures: the median of the $PRIV_ROUNDS rounds (ms); the"
		echo "ratio ours / built-in of the medians; the median of the per-round ratios; and"
		echo "\"without the debit\": (ours - the median of \`spend_privacy_budget($EPS)\` alone in"
		echo "the same rounds) / built-in, what the aggregate itself costs."
		echo
		echo "The queries:"
		echo
		for q in "${A_QUERIES[@]}"; do
			echo "- ${q%%=*}: \`${q#*=}\`"
		done
		echo
		echo "The built-in equivalents compute what the noisy ones release before noise:"
		echo "\`noisy_histogram\` counts values clamped to [$LO, $HI] in $BINS equal bins, which the"
		echo "built-in query does with count(*) GROUP BY width_bucket (clamped to bins 1 .. $BINS),"
		echo "the bins then collected with array_agg; the per-seller forms sum each seller's"
		echo "values clamped to [$LO, $SELLER_HI], clamp each seller's total, and average (or count) over"
		echo "the sellers, which the built-in queries do with a GROUP BY seller_id below the"
		echo "aggregate.  avg(v) and sum(v) do not clamp: the clamping is part of the noisy"
		echo "aggregates' work."
		echo
		local dm
		for mode in 0 2; do
			if [ "$mode" = 0 ]; then
				echo "### serial (max_parallel_workers_per_gather = 0)"
			else
				echo "### parallel (max_parallel_workers_per_gather = 2)"
			fi
			echo
			dm=$(stat_of "$WORK/a_$mode" debit)
			md_table 'ours|built-in|built-in ms|ours ms|ours / built-in|per round|without the debit|ours - built-in ms' <"$WORK/a_table_$mode"
			echo
			echo "The debit alone, \`spend_privacy_budget($EPS)\` in the same rounds: median $(cut -d'|' -f1 <<<"$dm") ms."
			echo
		done
		echo "### How much of the ratio is the debit"
		echo
		echo "ours - built-in (ms) against the debit's median in the same rounds; the rest is"
		echo "the aggregate's own work (its state function per row: the checks, the clamping,"
		echo "the fixed point, the 128-bit sums; the per-seller forms' hash table; the"
		echo "partial states in parallel), also given per row of the $PRIV_ROWS (in parallel, of"
		echo "the elapsed time, not of the CPU time):"
		echo
		for mode in 0 2; do
			if [ "$mode" = 0 ]; then label=serial; else label="2 workers"; fi
			md=$(stat_of "$WORK/a_$mode" debit | cut -d'|' -f1)
			awk -F'|' -v l="$label" -v d="$md" -v n="$PRIV_ROWS" '{
					diff = $4 - $3
					printf "%s|%s|%.1f|%.1f|%s|%.1f\n", l, $1, diff, d, (diff > 0 ? sprintf("%.0f %%", 100 * d / diff) : "-"),
						(diff - d) * 1e6 / n
				}' "$WORK/a_table_$mode"
		done | md_table 'plan|ours|ours - built-in ms|debit ms|debit share of the difference|the rest, ns per row'
		echo
		echo "### Timing method"
		echo
		echo "The target pair was also run as \`EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF)\` in the"
		echo "same rounds, timed by its Execution Time (in the server, without parsing,"
		echo "planning or the round trip).  Spread: interquartile range / median over the"
		echo "rounds (lower is less noisy)."
		echo
		local se sn2 sb2 sbe
		for mode in 0 2; do
			if [ "$mode" = 0 ]; then label=serial; else label="2 workers"; fi
			sn2=$(stat_of "$WORK/a_$mode" noisy_avg)
			sb2=$(stat_of "$WORK/a_$mode" avg)
			se=$(stat_of "$WORK/a_$mode" noisy_avg_explain)
			sbe=$(stat_of "$WORK/a_$mode" avg_explain)
			echo "$label|psql \\timing|$(cut -d'|' -f1 <<<"$sb2")|$(cut -d'|' -f2 <<<"$sb2")|$(cut -d'|' -f1 <<<"$sn2")|$(cut -d'|' -f2 <<<"$sn2")|$(ratio "$(cut -d'|' -f1 <<<"$sn2")" "$(cut -d'|' -f1 <<<"$sb2")")x"
			echo "$label|EXPLAIN ANALYZE, TIMING OFF|$(cut -d'|' -f1 <<<"$sbe")|$(cut -d'|' -f2 <<<"$sbe")|$(cut -d'|' -f1 <<<"$se")|$(cut -d'|' -f2 <<<"$se")|$(ratio "$(cut -d'|' -f1 <<<"$se")" "$(cut -d'|' -f1 <<<"$sbe")")x"
		done | md_table 'plan|timed by|avg ms|avg spread|noisy_avg ms|noisy_avg spread|noisy_avg / avg'
		echo
		local ta te ra re
		ta=$(stat_of "$WORK/a_0" avg | cut -d'|' -f1)
		te=$(stat_of "$WORK/a_0" avg_explain | cut -d'|' -f1)
		ra=$(ratio "$(stat_of "$WORK/a_0" noisy_avg | cut -d'|' -f1)" "$ta")
		re=$(ratio "$(stat_of "$WORK/a_0" noisy_avg_explain | cut -d'|' -f1)" "$te")
		echo "EXPLAIN ANALYZE counts the rows of every plan node even with TIMING OFF: here it"
		echo "took avg(v) from $ta ms to $te ms (serial), the same time per row added to both"
		echo "queries, which pulls the ratio towards 1 (serial: ${re}x against ${ra}x by \\timing)."
		echo "The lower spread (the mean of the two queries') in this run: serial $(less_noisy "$WORK/a_0"),"
		echo "parallel $(less_noisy "$WORK/a_2").  The tables above use \\timing, which"
		echo "measures the queries as a caller runs them, without that bias."
		echo
		echo "### Parallel plans"
		echo
		echo "With max_parallel_workers_per_gather = 2, EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF)"
		echo "of each query: a partial aggregation (Partial Aggregate or Partial HashAggregate)"
		echo "under a Gather, and the workers launched.  The noisy aggregates' final function"
		echo "(and so the debit) runs once, in the leader, above the Gather.  On $(nproc) CPUs the"
		echo "leader and its 2 workers share the cores, so the parallel plans gain little here."
		echo
		md_table 'query|partial aggregation|workers launched' <"$WORK/plan_check"
		echo
		echo '<details><summary>plans (serial: EXPLAIN; parallel: EXPLAIN ANALYZE, TIMING OFF)</summary>'
		echo
		echo '```'
		cat "$WORK/plans"
		echo '```'
		echo
		echo '</details>'
		echo
		echo '<details><summary>every round (ms, sorted)</summary>'
		echo
		for mode in 0 2; do
			if [ "$mode" = 0 ]; then label=serial; else label="2 workers"; fi
			for q in "${A_QUERIES[@]}"; do
				name=${q%%=*}
				echo "$label|$name|$(stat_of "$WORK/a_$mode" "$name" | cut -d'|' -f3)"
			done
		done | md_table 'plan|query|rounds (ms, sorted)'
		echo
		echo '</details>'
		echo
	} | report

	# --- results: B -------------------------------------------------------------------
	local p_off p_on
	p_off=$(percentiles <"$WORK/debit_off")
	p_on=$(percentiles <"$WORK/debit_on")
	summary_add "B. one debit, spend_privacy_budget($DEBIT_EPS), fsync = $fsync_as_is: ms per call p50 / p99" \
		"$(cut -d'|' -f1 <<<"$p_off") / $(cut -d'|' -f3 <<<"$p_off") ms (mean $(cut -d'|' -f4 <<<"$p_off"), $PRIV_DEBITS calls)" "-" "-"
	summary_add "B. the same with fsync = on: p50 / p99" \
		"$(cut -d'|' -f1 <<<"$p_on") / $(cut -d'|' -f3 <<<"$p_on") ms (mean $(cut -d'|' -f4 <<<"$p_on"))" "-" "-"
	# least squares over the G: extra ms = a + b G
	local fit slope icpt
	awk -F'|' '{ printf "%s %s\n", $2, $6 - $3 }' "$WORK/groups" >"$WORK/groups_extra"
	fit=$(awk '{ n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
		END {
			d = n * sxx - sx * sx
			if (n < 2 || d == 0) { if (n > 0 && sx > 0) printf "%.3f|0.0\n", sy / sx; else print "NaN|NaN"; exit }
			b = (n * sxy - sx * sy) / d
			printf "%.3f|%.1f\n", b, (sy - b * sx) / n
		}' "$WORK/groups_extra")
	slope=$(cut -d'|' -f1 <<<"$fit")
	icpt=$(cut -d'|' -f2 <<<"$fit")
	while IFS='|' read -r g ng mc _ _ mn _ _; do
		summary_add "B. GROUP BY $ng groups (seller_id % $g), serial: noisy_count / count(*), extra ms per group" \
			"$mn / $mc ms: $(awk -v a="$mn" -v b="$mc" -v n="$ng" 'BEGIN { printf "%.2f", (a - b) / n }') ms per group" "-" "-"
	done <"$WORK/groups"
	summary_add "B. a GROUP BY of G groups with a noisy aggregate costs about" "G x $slope ms more (fit over G = ${PRIV_GROUPS// /, })" "-" "-"

	{
		echo "## B. The debit's cost"
		echo
		echo "### (a) One debit"
		echo
		echo "\`spend_privacy_budget($DEBIT_EPS)\` makes the debit a noisy aggregate makes at each"
		echo "evaluation, on its own: a dynamic background worker connects to the database,"
		echo "locks the budget's row, adds the units, appends a ledger row and commits, while"
		echo "the caller waits.  $PRIV_DEBITS calls in one session, a statement (and transaction) each;"
		echo "each timed in the server by a PL/pgSQL function that reads clock_timestamp()"
		echo "before and after the call (\`bench.timed_debit\`).  First with fsync as the cluster"
		echo "has it ($fsync_as_is; synchronous_commit $(rows 'SHOW synchronous_commit'); pg_virtualenv sets fsync = off), then with"
		echo "fsync = on (ALTER SYSTEM and a reload of this throw-away cluster, reset afterwards;"
		echo "wal_sync_method $(rows 'SHOW wal_sync_method'), data directory on ${fstype:-unknown}): the worker's commit then waits"
		echo "for its WAL flush, as on a production server.  Wall clock: the whole psql session"
		echo "divided by the calls (connection, round trips and all)."
		echo
		{
			echo "$fsync_as_is|$p_off|$(awk -v w="$wall_off" -v n="$PRIV_DEBITS" 'BEGIN { printf "%.2f", w / n }')"
			echo "on|$p_on|$(awk -v w="$wall_on" -v n="$PRIV_DEBITS" 'BEGIN { printf "%.2f", w / n }')"
		} | md_table 'fsync|p50 ms|p90 ms|p99 ms|mean ms|calls|wall clock ms per call'
		echo
		echo "### (b) A GROUP BY with a noisy aggregate"
		echo
		echo "Every group is an evaluation, so a \`GROUP BY\` of G groups makes G debits, one"
		echo "after the other in the leader.  \`SELECT seller_id % G AS g, noisy_count($EPS) FROM"
		echo "orders GROUP BY 1\` against the same with count(*), over the $PRIV_ROWS rows, serial"
		echo "(max_parallel_workers_per_gather = 0); fsync = $fsync_as_is; a warm-up round, then"
		echo "$PRIV_GROUP_ROUNDS rounds of the two, alternating which goes first; \\timing, medians."
		echo
		awk -F'|' '{ printf "%s|%s|%.1f|%.1f|%.1f|%.2f\n", $1, $2, $3, $6, $6 - $3, ($2 > 0 ? ($6 - $3) / $2 : 0) }' "$WORK/groups" |
			md_table 'G|groups|count(*) ms|noisy_count ms|extra ms|extra ms per group'
		echo
		echo "Least-squares line through the extra times: extra = $icpt ms + G x $slope ms."
		echo
		echo "**A \`GROUP BY\` of G groups with a noisy aggregate costs about G x $slope ms more"
		echo "than the same query with the built-in aggregate** (measured with fsync = $fsync_as_is; a"
		echo "debit's median in (a) was $(cut -d'|' -f1 <<<"$p_off") ms with fsync = $fsync_as_is and $(cut -d'|' -f1 <<<"$p_on") ms with fsync = on).  Each"
		echo "debit is a background worker's start, connection and commit, made one after the"
		echo "other: 1000 groups take about $(awk -v s="$slope" 'BEGIN { printf "%.0f", s }') s more."
		echo
		echo '<details><summary>every round (ms, sorted)</summary>'
		echo
		while IFS='|' read -r g ng _ _ sc _ _ sn; do
			echo "$ng|count(*)|$sc"
			echo "$ng|noisy_count|$sn"
		done <"$WORK/groups" | md_table 'groups|query|rounds (ms, sorted)'
		echo
		echo '</details>'
		echo
	} | report

	# --- C. sanity checks --------------------------------------------------------------
	bench_section "C. sanity checks"
	# every released value of A (all rounds, both plan shapes) against its
	# true value: name|evaluations|true|bound|max |error||within
	{
		for mode in 0 2; do
			awk -F'|' '$1 ~ /^noisy_/ && $1 != "noisy_avg_explain" { print $1 "|" $4 }' "$WORK/a_$mode"
		done
	} | awk -F'|' -v truth="$(cat "$WORK/truth")" -v K="$K_SCALES" -v eps="$EPS" \
		-v lo="$LO" -v hi="$HI" -v shi="$SELLER_HI" -v bins="$BINS" '
		function abs(x) { return x < 0 ? -x : x }
		function max(a, b) { return a > b ? a : b }
		BEGIN {
			split(truth, t, "|")
			n = t[1]; S = t[2]; A = t[3]; sellers = t[4]; SA = t[5]; nb = split(t[6], H, " ")
			tv["noisy_count"] = n;         bd["noisy_count"] = K / eps
			tv["noisy_sum"] = S;           bd["noisy_sum"] = K * max(abs(lo), abs(hi)) / eps + 1e-9 * abs(S)
			tv["noisy_avg"] = A;           bd["noisy_avg"] = (n > 2 * K / eps) ? 2 * K * (hi - lo) / (eps * (n - 2 * K / eps)) : hi - lo
			tv["noisy_seller_count"] = sellers; bd["noisy_seller_count"] = K / eps
			tv["noisy_seller_avg"] = SA;   bd["noisy_seller_avg"] = (sellers > 2 * K / eps) ? 2 * K * (shi - lo) / (eps * (sellers - 2 * K / eps)) : shi - lo
			tv["noisy_histogram"] = "bins " t[6]; bd["noisy_histogram"] = K / eps
		}
		{
			name = $1; cnt[name]++
			if (name == "noisy_histogram") {
				v = $2; gsub(/[{}]/, "", v); m = split(v, x, ",")
				if (m != nb) { bad[name]++; err = 1e300 }
				else { err = 0; for (i = 1; i <= m; i++) err = max(err, abs(x[i] - H[i])) }
			} else
				err = abs($2 - tv[name])
			if ($2 == "" || err > bd[name]) bad[name]++
			maxerr[name] = max(maxerr[name], err)
		}
		END {
			split("noisy_avg noisy_sum noisy_count noisy_histogram noisy_seller_avg noisy_seller_count", order, " ")
			for (i = 1; i <= 6; i++) {
				k = order[i]
				printf "%s|%d|%s|%.6g|%.6g|%d\n", k, cnt[k], tv[k], bd[k], maxerr[k], bad[k] + 0
			}
		}' >"$WORK/check_values"
	# every group of B (b): each noisy count against the group's count(*)
	local gchk=""
	for g in $PRIV_GROUPS; do
		gchk="$gchk$(awk -F'|' -v K="$K_SCALES" -v eps="$EPS" '
			FNR == NR { if ($1 == "count" && $2 == 0) c[$3] = $4; next }
			$1 == "noisy_count" { n++; e = $4 - c[$3]; if (e < 0) e = -e; if (!($3 in c) || e > K / eps) bad++; if (e > m) m = e }
			END { printf "%d|%d|%d ", n, bad + 0, m }' "$WORK/g_$g.rows" "$WORK/g_$g.rows")"
	done
	local gn gb gm
	gn=$(tr ' ' '\n' <<<"$gchk" | awk -F'|' 'NF { s += $1 } END { print s + 0 }')
	gb=$(tr ' ' '\n' <<<"$gchk" | awk -F'|' 'NF { s += $2 } END { print s + 0 }')
	gm=$(tr ' ' '\n' <<<"$gchk" | awk -F'|' 'NF && $3 > m { m = $3 } END { print m + 0 }')
	local vn vb
	vn=$(awk -F'|' '{ s += $2 } END { print s + 0 }' "$WORK/check_values")
	vb=$(awk -F'|' '{ s += $6 } END { print s + 0 }' "$WORK/check_values")
	verdict=PASS
	if [ "$vb" != 0 ] || [ "$gb" != 0 ] || [ "$vn" = 0 ]; then verdict=FAIL; fi
	summary_add "C. released values within $K_SCALES noise scales of the true values (A: all rounds; B (b): every group)" \
		"$((vn - vb + gn - gb)) / $((vn + gn))" "all" "$verdict"

	# the ledger: one row per evaluation, the units of its epsilon, and the
	# budget's spent_units their sum
	local lrows lunits spent total_evals total_units
	lrows=$(cut -d'|' -f1 <<<"$(ledger)")
	lunits=$(cut -d'|' -f2 <<<"$(ledger)")
	spent=$(rows "SELECT spent_units FROM seller_analytics.privacy_budgets WHERE name = '$BUDGET'")
	total_evals=$(awk -F'|' '{ s += $2 } END { print s + 0 }' "$WORK/ledger")
	total_units=$(awk -F'|' '{ s += $4 } END { printf "%.0f\n", s }' "$WORK/ledger")
	verdict=PASS
	if awk -F'|' '$2 != $3 || $4 != $5 { bad = 1 } END { exit !bad }' "$WORK/ledger" ||
		[ "$lrows" != "$total_evals" ] || [ "$lunits" != "$total_units" ] || [ "$spent" != "$lunits" ]; then
		verdict=FAIL
	fi
	summary_add "C. ledger rows = evaluations made; units and the budget's spent_units as expected" \
		"$lrows rows / $total_evals evaluations; spent $(awk -v u="$spent" 'BEGIN { printf "%.3f", u / 1e9 }') epsilon" "equal" "$verdict"

	{
		echo "## C. Sanity checks"
		echo
		echo "Not tests (those are in the test suite), but a guard that the benchmark measured"
		echo "aggregates doing their work."
		echo
		echo "**Released values.** Every noisy value of A (all rounds, warm-up included, both"
		echo "plan shapes) against the true value (the clamped aggregate computed exactly with"
		echo "built-ins), and every group of B (b) against its count(*).  Bound: $K_SCALES noise scales"
		echo "at epsilon $EPS, with the scales of the mechanisms: count 1/epsilon; sum"
		echo "max(|lower|, |upper|)/epsilon; avg, a noisy centred sum (scale (upper - lower)/epsilon in"
		echo "value units) over a noisy count (scale 2/epsilon) of n units, so |error| <="
		echo "2 K (upper - lower) / (epsilon (n - 2 K/epsilon)) with K = $K_SCALES; histogram 1/epsilon per bin."
		echo "The chance that a correct release lies beyond $K_SCALES scales is below 1e-8 per value, so"
		echo "a failure here means an aggregate is wrong, not unlucky."
		echo
		md_table 'aggregate|evaluations|true value|bound|max abs error|beyond the bound' <"$WORK/check_values"
		echo
		echo "GROUP BY (B (b)): $gn noisy group counts, max abs error $gm, $gb beyond $K_SCALES."
		echo
		echo "**The ledger.** The rows the ledger of budget \`$BUDGET\` gained in each part against"
		echo "the evaluations made there (a warm-up, every round, every group, every EXPLAIN"
		echo "ANALYZE of a noisy aggregate and every \`spend_privacy_budget\` call is one), and the"
		echo "units against privacy_epsilon_units(epsilon) per evaluation:"
		echo
		md_table 'part|evaluations|ledger rows|units expected|ledger units' <"$WORK/ledger"
		echo
		echo "In all: $lrows ledger rows for $total_evals evaluations; $lunits units in the ledger,"
		echo "$total_units expected; the budget's spent_units $spent ($(awk -v u="$spent" 'BEGIN { printf "%.3f", u / 1e9 }') of $BUDGET_EPSILON epsilon)."
		echo
	} | report

	# --- summary: the report is the header, the summary, then the sections ---
	bench_assemble_report "${BENCH_COMMAND:-make bench-privacy}"

	echo
	echo "== Noisy aggregates benchmark, $today ($(nproc) CPUs, PostgreSQL $(rows 'SHOW server_version'))"
	echo
	bench_print_summary
}

if [ "${1:-}" = "--in-virtualenv" ]; then
	in_virtualenv "$2"
	exit 0
fi

# ---------------------------------------------------------------------------
# Main run.

bench_section "packages"
bench_packages "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	"postgresql-client-$PG_MAJOR" "postgresql-$PG_MAJOR-cron" postgresql-common make gcc procps
bench_section "build and install"
bench_build_install

bench_report privacy "$HERE/run.sh"
