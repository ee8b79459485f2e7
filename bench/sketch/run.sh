#!/usr/bin/env bash
# Benchmark of the percentile sketch; `make bench` runs it.
#
# Installs the Debian packages it needs when they are missing, builds and
# installs the extension, then in a throw-away cluster (pg_virtualenv, with
# the settings in bench/lib.sh) compares, on the same tables:
#
#   a. aggregation time over 5 M rows, serial and with 2 parallel workers:
#      avg(x), percentile_cont(0.5), percentile_agg(x) (ours) and the
#      tdigest extension's tdigest(x, 100): median of ROUNDS interleaved
#      rounds after a warm-up, as ms and as ratios to avg()
#   b. accuracy against the exact percentile_disc at p50, p90, p99 and p99.9
#      on six data sets, over each whole data set and over 1000 groups of
#      each, for ours and for tdigest, with the sketch's stated bound
#   c. bytes per stored sketch of 60 values, ours and tdigest's
#   d. memory of a 60 000-group GROUP BY (HashAggregate "Memory Usage")
#   e. time to merge 60 000 stored sketches, into one and into 600 groups
#
# The report goes to bench/results/sketch-YYYY-MM-DD.md; a summary with
# PASS/FAIL per target is printed at the end.  About 10 minutes on 2 cores.
#
# Environment: PG_CONFIG (default: PostgreSQL 15's pg_config), ROUNDS (timed
# rounds per contender, default 9), JOBS (parallel make jobs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

ROUNDS=${ROUNDS:-9}
QS='ARRAY[0.5, 0.9, 0.99, 0.999]::float8[]'

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: run.sh --in-virtualenv REPORT_FILE

# time_rounds SETUP_SQL OUT_FILE NAME=SQL...
# Runs every SQL once as a warm-up, then ROUNDS rounds in which every SQL runs
# once, the order rotating from round to round; one psql session, timed with
# \timing, results discarded.  OUT_FILE gets "name round ms" lines; prints
# "name|median_ms|sample,sample,..." lines.
time_rounds() {
	local setup=$1 out=$2
	shift 2
	local names=() sqls=() pair n r k i
	for pair in "$@"; do
		names+=("${pair%%=*}")
		sqls+=("${pair#*=}")
	done
	n=${#names[@]}
	{
		echo "$setup"
		echo '\o /dev/null'
		echo '\timing on'
		for ((r = 0; r <= ROUNDS; r++)); do
			for ((k = 0; k < n; k++)); do
				i=$(((k + r) % n))
				echo "\\echo @$r ${names[i]}"
				echo "${sqls[i]};"
			done
		done
	} | psql_b |
		awk '$1 ~ /^@/ { round = substr($1, 2); name = $2; next }
			$1 == "Time:" && round > 0 { print name, round, $2 }' >"$out"
	for ((k = 0; k < n; k++)); do
		awk -v name="${names[k]}" '$1 == name { print $3 }' "$out" | sort -g |
			awk -v name="${names[k]}" '
				{ v[NR] = $1; s = s (NR > 1 ? ", " : "") sprintf("%.1f", $1) }
				END {
					if (NR == 0) { print name "|NaN|"; exit }
					m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
					printf "%s|%.1f|%s\n", name, m, s
				}'
	done
}

# field NAME FILE: the median of NAME in time_rounds output
median_of() {
	awk -F'|' -v name="$1" '$1 == name { print $2 }' "$2"
}

in_virtualenv() {
	REPORT=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_bench.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	: >"$WORK/summary"
	: >"$WORK/head"
	: >"$WORK/body"
	report() { cat >>"$WORK/body"; }

	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b <<-'SQL'
		CREATE EXTENSION seller_analytics;
		CREATE EXTENSION tdigest;
		ALTER DATABASE bench SET search_path = public, seller_analytics;
	SQL
	psql_b <<-'SQL'
		CREATE FUNCTION rel_err(approx float8, exact float8) RETURNS float8
		IMMUTABLE LANGUAGE sql AS $$
			SELECT CASE WHEN approx = exact THEN 0
						WHEN exact = 0 THEN 'Infinity'::float8
						ELSE abs(approx - exact) / abs(exact) END
		$$;
		CREATE FUNCTION fmt_e(float8) RETURNS text IMMUTABLE LANGUAGE sql AS $$
			SELECT CASE WHEN $1 = 0 THEN '0'
						WHEN $1 = 'Infinity' THEN 'inf'
						ELSE btrim(to_char($1, '0.00EEEE')) END
		$$;
		CREATE FUNCTION fmt_v(float8) RETURNS text IMMUTABLE LANGUAGE sql AS $$
			SELECT CASE WHEN $1 = 0 THEN '0'
						WHEN abs($1) >= 1e6 OR abs($1) < 1e-3
						THEN btrim(to_char($1, '0.00000EEEE'))
						ELSE round($1::numeric, 4)::text END
		$$;
		CREATE FUNCTION fmt_q(float8) RETURNS text IMMUTABLE LANGUAGE sql AS $$
			SELECT 'p' || ($1 * 100)::text
		$$;
	SQL

	# --- machine and server --------------------------------------------------
	local today
	today=$(date +%F)
	{
		echo "# Percentile sketch benchmark, $today"
		echo
		echo 'Written by `make bench` (bench/sketch/run.sh): the percentile sketch of'
		echo 'seller_analytics (`percentile_agg`) against `avg()`, the exact'
		echo '`percentile_cont`/`percentile_disc` and the tdigest extension'
		echo '(`tdigest(x, 100)`), on the same tables in one run.'
		echo
		bench_machine
		bench_server_head
		echo '- settings as seen by the server (sections below change some per query, as stated):'
		echo
		rows "SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings
			  WHERE name IN ('shared_buffers', 'work_mem', 'hash_mem_multiplier',
				'max_parallel_workers_per_gather', 'max_parallel_workers',
				'max_worker_processes', 'jit', 'fsync', 'autovacuum',
				'max_wal_size', 'checkpoint_timeout', 'effective_cache_size',
				'random_page_cost', 'parallel_setup_cost', 'parallel_tuple_cost',
				'min_parallel_table_scan_size')
			  ORDER BY name" | md_table 'setting|value|source'
		echo
	} >"$WORK/head"

	# --- data ----------------------------------------------------------------
	bench_section "generating data"
	# N: a standard normal variate (Box-Muller); random() is in [0, 1).
	local N='(sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))'
	psql_b <<-SQL
		SELECT setseed(0.2024) \gset
		CREATE TABLE d_lognormal AS
			SELECT (i % 1000)::int AS g, exp(4 + 1.0 * $N) AS x
			FROM generate_series(0, 4999999) i;
		CREATE TABLE d_pareto AS
			SELECT (i % 1000)::int AS g, 10 * power(1 - random(), -1 / 1.2::float8) AS x
			FROM generate_series(0, 999999) i;
		CREATE TABLE d_zeros40 AS
			SELECT (i % 1000)::int AS g,
				   CASE WHEN random() < 0.4 THEN 0 ELSE exp(3 + 1.5 * $N) END AS x
			FROM generate_series(0, 999999) i;
		CREATE TABLE d_signed AS
			SELECT (i % 1000)::int AS g,
				   CASE WHEN random() < 0.3 THEN -1 ELSE 1 END * exp(3 + 1.5 * $N) AS x
			FROM generate_series(0, 999999) i;
		CREATE TABLE d_integer AS
			SELECT (i % 1000)::int AS g, floor(exp(3 + 1.2 * $N))::bigint AS x
			FROM generate_series(0, 999999) i;
		CREATE TABLE d_uniform AS
			SELECT (i % 1000)::int AS g, 1000 * random() AS x
			FROM generate_series(0, 999999) i;
		-- 60 000 groups of 60 values, a different lognormal per group, the
		-- groups' rows interleaved
		CREATE TABLE t60 AS
			SELECT g, exp(1 + (g % 97) / 24.0 + 0.8 * $N) AS x
			FROM generate_series(1, 60) i, generate_series(0, 59999) g;
		VACUUM (FREEZE, ANALYZE) d_lognormal, d_pareto, d_zeros40, d_signed,
			d_integer, d_uniform, t60;
	SQL
	# The data sets: table|description
	local datasets=(
		"d_lognormal|lognormal: exp(N(4, 1))"
		"d_pareto|Pareto: alpha 1.2, minimum 10"
		"d_zeros40|40 % zeros, else exp(N(3, 1.5))"
		"d_signed|signed: 30 % negative, magnitude exp(N(3, 1.5))"
		"d_integer|integer-valued (bigint column): floor(exp(N(3, 1.2)))"
		"d_uniform|uniform on [0, 1000)"
	)
	{
		echo '## Data'
		echo
		echo "Generated with setseed(0.2024) and random(); N(mu, sigma) by Box-Muller."
		echo
		local d t desc
		for d in "${datasets[@]}"; do
			t=${d%%|*}
			desc=${d#*|}
			echo "$t|$desc|$(rows "SELECT count(*) FROM $t")|$(rows "SELECT pg_size_pretty(pg_table_size('$t'))")"
		done | md_table 'table|values x|rows|size'
		echo
		echo "t60: 60 000 groups g of 60 values exp(N(1 + (g % 97)/24, 0.8)), $(rows "SELECT count(*) FROM t60") rows, $(rows "SELECT pg_size_pretty(pg_table_size('t60'))")."
		echo
	} | report

	# --- a. time over 5 M rows ------------------------------------------------
	local T=d_lognormal
	local contenders=(
		"avg=SELECT avg(x) FROM $T"
		"percentile_cont=SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x) FROM $T"
		"ours=SELECT approx_percentile(percentile_agg(x), 0.5) FROM $T"
		"tdigest=SELECT tdigest_percentile(d, 0.5) FROM (SELECT tdigest(x, 100) AS d FROM $T) s"
	)
	local mode label setup plans_ok
	plans_ok=1
	: >"$WORK/plans"
	for mode in 0 2; do
		setup="SET max_parallel_workers_per_gather = $mode;"
		if [ "$mode" = 0 ]; then label=serial; else label="parallel (2 workers)"; fi
		bench_section "a. timing, $label"
		if [ "$mode" = 2 ]; then
			# the plans, and the workers actually launched
			local c name sql plan
			for c in "${contenders[@]}"; do
				name=${c%%=*}
				sql=${c#*=}
				if [ "$name" = percentile_cont ]; then
					plan=$(psql_b -At -c "$setup" -c "EXPLAIN (COSTS OFF) $sql")
				else
					plan=$(psql_b -At -c "$setup" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) $sql")
				fi
				local partial=no launched=0
				if grep -q 'Partial Aggregate' <<<"$plan"; then partial=yes; fi
				launched=$(awk '/Workers Launched:/ { print $NF; exit }' <<<"$plan")
				launched=${launched:-0}
				printf '%s\n' "-- $name: $sql" "$plan" "" >>"$WORK/plans"
				echo "$name|$partial|$launched" >>"$WORK/plan_check"
				if [ "$name" != percentile_cont ] && { [ "$partial" != yes ] || [ "$launched" != 2 ]; }; then
					plans_ok=0
				fi
			done
		fi
		time_rounds "$setup" "$WORK/samples_$mode" "${contenders[@]}" >"$WORK/times_$mode"
	done

	local s_avg s_ours s_td p_avg p_ours p_td
	s_avg=$(median_of avg "$WORK/times_0")
	s_ours=$(median_of ours "$WORK/times_0")
	s_td=$(median_of tdigest "$WORK/times_0")
	p_avg=$(median_of avg "$WORK/times_2")
	p_ours=$(median_of ours "$WORK/times_2")
	p_td=$(median_of tdigest "$WORK/times_2")
	local r_s r_p t_s t_p
	r_s=$(ratio "$s_ours" "$s_avg")
	r_p=$(ratio "$p_ours" "$p_avg")
	t_s=$(ratio "$s_td" "$s_ours")
	t_p=$(ratio "$p_td" "$p_ours")
	summary_add "a. ours / avg, serial" "${r_s}x" "<= 1.3x" "$(pass_if "$r_s <= 1.3")"
	summary_add "a. ours / avg, 2 workers" "${r_p}x" "<= 1.3x" "$(pass_if "$r_p <= 1.3")"
	summary_add "a. tdigest / ours, serial" "${t_s}x" ">= 2.5x" "$(pass_if "$t_s >= 2.5")"
	summary_add "a. tdigest / ours, 2 workers" "${t_p}x" ">= 2.5x" "$(pass_if "$t_p >= 2.5")"
	summary_add "a. parallel plans: Partial Aggregate, 2 workers launched (avg, ours, tdigest)" \
		"$([ "$plans_ok" = 1 ] && echo yes || echo no)" "yes" "$([ "$plans_ok" = 1 ] && echo PASS || echo FAIL)"

	{
		echo "## a. Aggregation time over $(rows "SELECT count(*) FROM $T") rows ($T)"
		echo
		echo "One value per query (the median of x, or avg); results discarded by psql,"
		echo "timed with \\timing.  A warm-up run of every query, then $ROUNDS rounds, each"
		echo "running every contender once (order rotating from round to round); the"
		echo "figure is the median of the $ROUNDS rounds.  work_mem 64MB."
		echo
		local c
		for c in "${contenders[@]}"; do
			echo "- ${c%%=*}: \`${c#*=}\`"
		done
		echo
		for mode in 0 2; do
			if [ "$mode" = 0 ]; then
				echo "### serial (max_parallel_workers_per_gather = 0)"
			else
				echo "### parallel (max_parallel_workers_per_gather = 2)"
			fi
			echo
			local a
			a=$(median_of avg "$WORK/times_$mode")
			awk -F'|' -v a="$a" '{ printf "%s|%.1f|%.2fx|%s\n", $1, $2, (a > 0 ? $2 / a : 0), $3 }' \
				"$WORK/times_$mode" | md_table 'contender|median ms|ratio to avg|samples (ms, sorted)'
			echo
		done
		echo "tdigest / ours: serial ${t_s}x, parallel ${t_p}x."
		echo
		echo "Parallel plans (max_parallel_workers_per_gather = 2; percentile_cont, an"
		echo "ordered-set aggregate, has no partial aggregation and runs serially):"
		echo
		awk -F'|' '{ print }' "$WORK/plan_check" | md_table 'contender|Partial Aggregate|Workers Launched'
		echo
		echo '<details><summary>plans (EXPLAIN ANALYZE, TIMING OFF)</summary>'
		echo
		echo '```'
		cat "$WORK/plans"
		echo '```'
		echo
		echo '</details>'
		echo
	} | report

	# same sketch, serial or parallel (the canonical form does not depend on
	# how the values were combined)
	local md5_serial md5_parallel
	md5_serial=$(psql_b -At -c 'SET max_parallel_workers_per_gather = 0' \
		-c "SELECT md5(percentile_agg(x)::text) FROM $T")
	md5_parallel=$(psql_b -At -c 'SET max_parallel_workers_per_gather = 2' \
		-c "SELECT md5(percentile_agg(x)::text) FROM $T")
	summary_add "a. parallel sketch identical to serial sketch" \
		"$([ "$md5_serial" = "$md5_parallel" ] && echo yes || echo no)" "yes" \
		"$([ "$md5_serial" = "$md5_parallel" ] && echo PASS || echo FAIL)"

	# --- b. accuracy ------------------------------------------------------------
	psql_b <<-'SQL'
		CREATE TABLE acc (
			id bigserial, dataset text, g int,	-- g = -1: the whole data set
			q float8, exact float8, exact_cont float8, ours float8, td float8,
			bound float8);
	SQL
	for d in "${datasets[@]}"; do
		t=${d%%|*}
		bench_section "b. accuracy, $t"
		psql_b <<-SQL
			INSERT INTO acc (dataset, g, q, exact, exact_cont, ours, td, bound)
			SELECT '$t', -1, u.q, u.exact, u.exact_cont, u.ours, u.td, sketch_relative_error(o.s)
			FROM (SELECT percentile_disc($QS) WITHIN GROUP (ORDER BY x)::float8[] AS v,
						 percentile_cont($QS) WITHIN GROUP (ORDER BY x) AS c
				  FROM $t) e,
				 (SELECT percentile_agg(x) AS s FROM $t) o,
				 (SELECT tdigest_percentile(x::float8, 100, $QS) AS v FROM $t) td,
				 unnest($QS, e.v, e.c, approx_percentile(o.s, $QS), td.v)
					AS u(q, exact, exact_cont, ours, td);
			INSERT INTO acc (dataset, g, q, exact, exact_cont, ours, td, bound)
			SELECT '$t', g, u.q, u.exact, u.exact_cont, u.ours, u.td, sketch_relative_error(o.s)
			FROM (SELECT g, percentile_disc($QS) WITHIN GROUP (ORDER BY x)::float8[] AS v,
						 percentile_cont($QS) WITHIN GROUP (ORDER BY x) AS c
				  FROM $t GROUP BY g) e
			JOIN (SELECT g, percentile_agg(x) AS s FROM $t GROUP BY g) o USING (g)
			JOIN (SELECT g, tdigest_percentile(x::float8, 100, $QS) AS v
				  FROM $t GROUP BY g) td USING (g),
				 unnest($QS, e.v, e.c, approx_percentile(o.s, $QS), td.v)
					AS u(q, exact, exact_cont, ours, td);
		SQL
	done
	# violations: an error above the sketch's own bound (1e-9 relative slack
	# for the rounding of the error computation itself)
	local viol
	viol=$(rows "SELECT count(*) FROM acc WHERE ours IS NULL OR rel_err(ours, exact) > bound * (1 + 1e-9)")
	rows "SELECT dataset, fmt_e(max(rel_err(ours, exact))), fmt_e(max(bound)),
				 round((max(rel_err(ours, exact) / bound))::numeric, 4),
				 fmt_e(max(rel_err(td, exact))), fmt_e(max(rel_err(td, exact_cont))),
				 CASE WHEN count(*) FILTER (WHERE ours IS NULL OR rel_err(ours, exact) > bound * (1 + 1e-9)) = 0
					  THEN 'PASS' ELSE 'FAIL' END
		  FROM acc GROUP BY dataset ORDER BY min(id)" >"$WORK/acc_summary"
	while IFS='|' read -r t e_o b _ e_t _ st; do
		summary_add "b. accuracy $t: ours max rel. error (tdigest)" "$e_o ($e_t)" "<= bound $b" "$st"
	done <"$WORK/acc_summary"
	{
		echo '## b. Accuracy against the exact percentile_disc'
		echo
		echo "Relative error |approx - exact| / |exact| (inf when exact is 0 and approx is"
		echo "not).  ours: \`approx_percentile(percentile_agg(x), q)\`, whose stated bound is"
		echo "\`sketch_relative_error(sketch)\`; tdigest: \`tdigest_percentile(x, 100, q)\`"
		echo "(a tdigest(x, 100)), which states no bound.  tdigest interpolates between"
		echo "values, like percentile_cont, so its error is also given against the exact"
		echo "percentile_cont (\"vs cont\").  Whole data sets, and each data set split into"
		echo "1000 groups (g = row number % 1000: 5000 or 1000 values per group)."
		echo
		echo '### Summary (max over the whole data set and all groups, all four percentiles)'
		echo
		md_table 'data set|ours max error|bound|ours max error / bound|tdigest max error|tdigest max error vs cont|ours within bound' <"$WORK/acc_summary"
		echo
		echo "Percentiles above the bound: $viol."
		echo
		echo '### Whole data sets'
		echo
		rows "SELECT dataset, fmt_q(q), fmt_v(exact), fmt_v(ours), fmt_e(rel_err(ours, exact)),
					 fmt_e(bound), fmt_v(td), fmt_e(rel_err(td, exact)), fmt_v(exact_cont),
					 fmt_e(rel_err(td, exact_cont))
			  FROM acc WHERE g = -1 ORDER BY id" |
			md_table 'data set|q|exact (disc)|ours|ours error|bound|tdigest|tdigest error|exact cont|tdigest error vs cont'
		echo
		echo '### 1000 groups per data set (max over the groups)'
		echo
		rows "SELECT dataset, fmt_q(q), count(*), fmt_e(max(rel_err(ours, exact))), fmt_e(max(bound)),
					 count(*) FILTER (WHERE ours IS NULL OR rel_err(ours, exact) > bound * (1 + 1e-9)),
					 fmt_e(max(rel_err(td, exact))), fmt_e(max(rel_err(td, exact_cont)))
			  FROM acc WHERE g >= 0 GROUP BY dataset, q ORDER BY min(id), q" |
			md_table 'data set|q|groups|ours max error|bound|above bound|tdigest max error|tdigest max error vs cont'
		echo
	} | report

	# --- c. bytes per 60-value sketch ------------------------------------------
	bench_section "c. sketches of 60 values"
	psql_b <<-'SQL'
		SET work_mem = '1GB';
		CREATE TABLE sk60 AS SELECT g, percentile_agg(x) AS s FROM t60 GROUP BY g;
		CREATE TABLE td60 AS SELECT g, tdigest(x, 100) AS d FROM t60 GROUP BY g;
		VACUUM (FREEZE, ANALYZE) sk60, td60;
	SQL
	rows "SELECT 'ours: percentile_agg(x)', count(*), round(avg(pg_column_size(s)), 1),
				 min(pg_column_size(s)), max(pg_column_size(s)), pg_size_pretty(pg_table_size('sk60'))
		  FROM sk60
		  UNION ALL
		  SELECT 'tdigest(x, 100)', count(*), round(avg(pg_column_size(d)), 1),
				 min(pg_column_size(d)), max(pg_column_size(d)), pg_size_pretty(pg_table_size('td60'))
		  FROM td60" >"$WORK/sizes"
	local b_ours b_td
	b_ours=$(awk -F'|' 'NR == 1 { print $3 }' "$WORK/sizes")
	b_td=$(awk -F'|' 'NR == 2 { print $3 }' "$WORK/sizes")
	summary_add "c. bytes per 60-value sketch, ours (tdigest)" "$b_ours B ($b_td B)" "<= 160 B" "$(pass_if "$b_ours <= 160")"
	{
		echo '## c. Bytes per stored sketch of 60 values'
		echo
		echo 'pg_column_size of the stored values, over the 60 000 groups of t60.'
		echo
		md_table 'sketch|sketches|avg bytes|min|max|table size' <"$WORK/sizes"
		echo
	} | report

	# --- d. memory of a 60k-group GROUP BY --------------------------------------
	bench_section "d. GROUP BY memory"
	local agg expr plan mem
	: >"$WORK/mem"
	: >"$WORK/mem_plans"
	for agg in "ours|percentile_agg(x)" "tdigest|tdigest(x, 100)" "avg|avg(x)" "count|count(*)"; do
		name=${agg%%|*}
		expr=${agg#*|}
		plan=$(psql_b -At -c "SET work_mem = '1GB'" -c 'SET max_parallel_workers_per_gather = 0' \
			-c 'SET enable_sort = off' \
			-c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT g, $expr FROM t60 GROUP BY g")
		printf '%s\n' "-- $name: SELECT g, $expr FROM t60 GROUP BY g" "$plan" "" >>"$WORK/mem_plans"
		mem=$(awk '/Memory Usage:/ { for (i = 1; i < NF; i++) if ($i == "Usage:") { v = $(i + 1); sub(/kB/, "", v); print v; exit } }' <<<"$plan")
		local node batches disk
		node=$(awk '/Aggregate/ { sub(/^[ ->]*/, ""); sub(/ *\(.*/, ""); print; exit }' <<<"$plan")
		batches=$(awk '/Batches:/ { for (i = 1; i < NF; i++) if ($i == "Batches:") { print $(i + 1); exit } }' <<<"$plan")
		disk=$(awk '/Disk Usage:/ { for (i = 1; i < NF; i++) if ($i == "Usage:" && $(i - 1) == "Disk") { print $(i + 1); exit } }' <<<"$plan")
		echo "$name|\`$expr\`|$node|${batches:-?}|$(awk -v m="${mem:-0}" 'BEGIN { printf "%.1f", m / 1024 }')|${disk:-0}" >>"$WORK/mem"
	done
	local m_ours m_td
	m_ours=$(awk -F'|' '$1 == "ours" { print $5 }' "$WORK/mem")
	m_td=$(awk -F'|' '$1 == "tdigest" { print $5 }' "$WORK/mem")
	summary_add "d. 60k-group GROUP BY memory, ours (tdigest)" "$m_ours MB ($m_td MB)" "<= 30 MB" \
		"$(pass_if "$m_ours > 0 && $m_ours <= 30")"
	{
		echo '## d. Memory of a 60 000-group GROUP BY (3.6 M rows, 60 per group)'
		echo
		echo '`EXPLAIN (ANALYZE, BUFFERS) SELECT g, <aggregate> FROM t60 GROUP BY g` with'
		echo 'work_mem 1GB (no spilling), no parallel workers and enable_sort off (so that the'
		echo 'plan is a HashAggregate); "Memory Usage" of the HashAggregate, in MB (1024 kB).'
		echo 'avg and count(*) for reference: count(*) is about the hash table alone.  The'
		echo 'figure is the memory the aggregate'"'"'s contexts allocated, which grow in blocks'
		echo 'of up to 8 MB.'
		echo
		md_table 'aggregate|expression|node|batches|memory MB|disk kB' <"$WORK/mem"
		echo
		echo '<details><summary>plans</summary>'
		echo
		echo '```'
		cat "$WORK/mem_plans"
		echo '```'
		echo
		echo '</details>'
		echo
	} | report

	# --- e. merging 60k stored sketches ------------------------------------------
	bench_section "e. merging 60k stored sketches"
	time_rounds 'SET max_parallel_workers_per_gather = 0;' "$WORK/samples_merge" \
		"ours_1=SELECT pg_column_size(percentile_merge(s)) FROM sk60" \
		"ours_600=SELECT g % 600, pg_column_size(percentile_merge(s)) FROM sk60 GROUP BY 1" \
		"tdigest_1=SELECT pg_column_size(tdigest(d)) FROM td60" \
		"tdigest_600=SELECT g % 600, pg_column_size(tdigest(d)) FROM td60 GROUP BY 1" \
		>"$WORK/times_merge"
	local mo1 mo600 mt1 mt600
	mo1=$(median_of ours_1 "$WORK/times_merge")
	mo600=$(median_of ours_600 "$WORK/times_merge")
	mt1=$(median_of tdigest_1 "$WORK/times_merge")
	mt600=$(median_of tdigest_600 "$WORK/times_merge")
	# a merge is the sketch of the union of the values
	local same1 diff600
	same1=$(rows "SELECT (SELECT percentile_merge(s)::text FROM sk60) = (SELECT percentile_agg(x)::text FROM t60)")
	diff600=$(rows "SELECT count(*) FILTER (WHERE m.s::text IS DISTINCT FROM a.s::text)
		FROM (SELECT g % 600 AS k, percentile_merge(s) AS s FROM sk60 GROUP BY 1) m
		FULL JOIN (SELECT g % 600 AS k, percentile_agg(x) AS s FROM t60 GROUP BY 1) a USING (k)")
	local merge_ok=FAIL
	if [ "$same1" = t ] && [ "$diff600" = 0 ]; then merge_ok=PASS; fi
	summary_add "e. merge 60k sketches into 1, ours (tdigest)" "$mo1 ms ($mt1 ms, $(ratio "$mt1" "$mo1")x)" "-" "-"
	summary_add "e. merge 60k sketches into 600 groups, ours (tdigest)" "$mo600 ms ($mt600 ms, $(ratio "$mt600" "$mo600")x)" "-" "-"
	summary_add "e. merged sketches identical to the sketches of the values" \
		"$([ "$merge_ok" = PASS ] && echo yes || echo "no (1 group: $same1, 600 groups: $diff600 differ)")" "yes" "$merge_ok"
	{
		echo '## e. Merging 60 000 stored sketches'
		echo
		echo "The 60 000 sketches of c. (tables sk60 and td60), merged into one and into"
		echo "600 groups (g % 600, 100 sketches each); serial (max_parallel_workers_per_gather"
		echo "= 0).  pg_column_size() of the merged sketch, so that the time is that of the"
		echo "merge (and the final function), not of printing it.  Warm-up, then the median"
		echo "of $ROUNDS interleaved rounds."
		echo
		echo "- ours_1: \`SELECT pg_column_size(percentile_merge(s)) FROM sk60\`"
		echo "- ours_600: \`SELECT g % 600, pg_column_size(percentile_merge(s)) FROM sk60 GROUP BY 1\`"
		echo "- tdigest_1: \`SELECT pg_column_size(tdigest(d)) FROM td60\`"
		echo "- tdigest_600: \`SELECT g % 600, pg_column_size(tdigest(d)) FROM td60 GROUP BY 1\`"
		echo
		md_table 'query|median ms|samples (ms, sorted)' <"$WORK/times_merge"
		echo
		echo "tdigest / ours: into one $(ratio "$mt1" "$mo1")x, into 600 groups $(ratio "$mt600" "$mo600")x."
		echo
		echo "percentile_merge over sk60 equal to percentile_agg over t60 (text form): one"
		echo "group: $([ "$same1" = t ] && echo yes || echo no); 600 groups: $diff600 of 600 differ."
		echo
	} | report

	# --- summary: the report is the header, the summary, then the sections ---
	bench_assemble_report

	echo
	echo "== Percentile sketch benchmark, $today ($(nproc) CPUs, PostgreSQL $(rows 'SHOW server_version'))"
	echo
	printf '%s\n' "a. time over 5 M rows (median ms; ratio to avg):"
	for mode in 0 2; do
		if [ "$mode" = 0 ]; then label="serial"; else label="2 workers"; fi
		local a
		a=$(median_of avg "$WORK/times_$mode")
		awk -F'|' -v a="$a" -v l="$label" '{ printf "   %-10s %-16s %9.1f ms %6.2fx\n", l, $1, $2, (a > 0 ? $2 / a : 0) }' "$WORK/times_$mode"
	done
	echo
	printf '%s\n' "e. merge 60k stored sketches (median ms):"
	awk -F'|' '{ printf "   %-12s %9.1f ms\n", $1, $2 }' "$WORK/times_merge"
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
	"postgresql-$PG_MAJOR-tdigest" postgresql-common make gcc procps
bench_section "build and install"
bench_build_install

bench_report sketch "$HERE/run.sh"
