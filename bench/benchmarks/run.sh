#!/usr/bin/env bash
# Benchmark of the cohort benchmarks (doc/benchmarks.md); `make
# bench-benchmarks` runs it.
#
# Installs the Debian packages it needs when they are missing, builds and
# installs the extension, then in a throw-away cluster (pg_virtualenv, with
# the settings in bench/lib.sh, the extension preloaded):
#
# Publication.  BM_SELLERS sellers in a public taxonomy of BM_CATEGORIES
# categories x BM_REGIONS regions x BM_TYPES product types (so 4 dimension
# sets: categories, regions, product types, categories x regions; the
# default settings' 6 metrics), with a row of daily metrics per seller and
# day (log-normal sessions, conversion rates, order values; refunds) for
# BM_PUBLISH months, compacted.  publish_benchmarks() of each month,
# timed from the client; the ledger's share is benchmark_publications'
# debit_ms (one batch debit, one background worker, per publication).
# Target: at most 10 s a month.
#
# Accuracy.  BM_TRIALS synthetic cohorts of each size (50, 200, 1,000
# sellers; conversion rates log-normal around 2.5 %, sigma 0.5) released
# by the mechanisms publish_benchmarks() calls, at the default settings:
# the 90th percentile of the error of the mean, p25, p50, p75 and p90 (in
# percentage points) and the share released.  Targets (200 sellers): mean
# within 0.2 and each quartile within 0.5 points 90 % of the time.  Also
# the release probability by true cohort size, from the threshold, 1 to 40.
#
# Reads.  my_benchmarks() (the latest month, 24 rows) as a seller's login
# against the seller's 90-day dashboard (bench/lib.sh's dash_rollup_sql,
# three statements) as the same login, and my_benchmarks() through the
# application (SET LOCAL seller_analytics.seller_id, a random seller per
# transaction): pgbench -M simple (BI tools send unprepared queries), 16
# clients, BM_READ_SECONDS seconds each, interleaved for BM_READ_ROUNDS
# rounds; p50 and p99 of the transaction latencies.  Targets:
# my_benchmarks() p50 <= 2 ms, p99 <= 10 ms at 16 clients.
#
# The report goes to bench/results/benchmarks-YYYY-MM-DD.md; a summary with
# PASS/FAIL per target is printed at the end.
#
# Environment (defaults in parentheses):
#   BM_SELLERS (10000)  BM_CATEGORIES (20)  BM_REGIONS (8)  BM_TYPES (10)
#   BM_PUBLISH (3)  BM_DASH_DAYS (90)  BM_TRIALS (1000)
#   BM_READ_SECONDS (15)  BM_READ_ROUNDS (3)  BM_CLIENTS (16)
#   PG_CONFIG, JOBS as for bench/lib.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

BENCH_SETTINGS="BM_SELLERS BM_CATEGORIES BM_REGIONS BM_TYPES BM_PUBLISH BM_DASH_DAYS BM_TRIALS
	BM_READ_SECONDS BM_READ_ROUNDS BM_CLIENTS"
if [ "${1:-}" != "--in-virtualenv" ]; then
	bench_command bench-benchmarks
fi

BM_SELLERS=${BM_SELLERS:-10000}
BM_CATEGORIES=${BM_CATEGORIES:-20}
BM_REGIONS=${BM_REGIONS:-8}
BM_TYPES=${BM_TYPES:-10}
BM_PUBLISH=${BM_PUBLISH:-3}
BM_DASH_DAYS=${BM_DASH_DAYS:-90}
BM_TRIALS=${BM_TRIALS:-1000}
BM_READ_SECONDS=${BM_READ_SECONDS:-15}
BM_READ_ROUNDS=${BM_READ_ROUNDS:-3}
BM_CLIENTS=${BM_CLIENTS:-16}
export BM_SELLERS BM_CATEGORIES BM_REGIONS BM_TYPES BM_PUBLISH BM_DASH_DAYS BM_TRIALS \
	BM_READ_SECONDS BM_READ_ROUNDS BM_CLIENTS

BENCH_PG_OPTS+=("shared_preload_libraries=pg_cron,seller_analytics" "max_connections=100")

# the months published: the BM_PUBLISH months before the last one, which
# ends the dashboard's 90 days
LAST_MONTH=2026-10-01

in_virtualenv() {
	REPORT=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_benchmarks.XXXXXX")
	chmod 755 "$WORK"
	trap 'rm -rf "$WORK"' EXIT
	: >"$WORK/summary"
	: >"$WORK/head"
	: >"$WORK/body"
	report() { cat >>"$WORK/body"; }
	local today first_day last_day
	today=$(date +%F)
	last_day=$(date -d "$LAST_MONTH + 1 month - 1 day" +%F)
	first_day=$(date -d "$LAST_MONTH + 1 month - $BM_DASH_DAYS day" +%F)
	if [ "$(date -d "$LAST_MONTH - $((BM_PUBLISH - 1)) month" +%s)" -lt "$(date -d "$first_day" +%s)" ]; then
		first_day=$(date -d "$LAST_MONTH - $((BM_PUBLISH - 1)) month" +%F)
	fi

	bench_section "data: $BM_SELLERS sellers, $first_day to $last_day"
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b >/dev/null <<-SQL
		CREATE EXTENSION seller_analytics;
		INSERT INTO seller_analytics.sellers (seller_id, name, category, region, product_type)
		SELECT i, 'seller ' || i, 'category ' || (1 + i % $BM_CATEGORIES),
			   'region ' || (1 + (i / $BM_CATEGORIES) % $BM_REGIONS),
			   'type ' || (1 + (i / 7) % $BM_TYPES)
		FROM generate_series(1, $BM_SELLERS) i;
		SELECT seller_analytics.declare_public_taxonomy();
		-- each seller's level: log-normal sessions a day, conversion around
		-- 2.5 %, order values around 45
		CREATE TABLE seller_level AS
		SELECT i AS seller_id,
			   exp(ln(200) + 0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS sessions,
			   least(0.1, exp(ln(0.025) + 0.5 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))) AS conversion,
			   exp(ln(45) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) AS order_value
		FROM generate_series(1, $BM_SELLERS) i;
		INSERT INTO seller_analytics.daily_metrics
			(seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue, refunds, refund_amount)
		SELECT l.seller_id, d::date, s.sessions, 4 * s.sessions, s.orders * 2, s.orders, s.orders,
			   round((s.orders * l.order_value)::numeric, 2), (random() < 0.05)::int, 0
		FROM seller_level l
		CROSS JOIN generate_series(DATE '$first_day', DATE '$last_day', interval '1 day') d
		CROSS JOIN LATERAL (SELECT greatest(1, round(l.sessions * (0.7 + 0.6 * random())))::bigint AS sessions) s0
		CROSS JOIN LATERAL (SELECT s0.sessions,
								   floor(s0.sessions * l.conversion + random())::bigint AS orders) s;
		INSERT INTO seller_analytics.daily_traffic (seller_id, day, traffic_source, sessions, page_views, orders, revenue)
		SELECT m.seller_id, m.day, t.source, m.sessions * t.share, m.page_views * t.share,
			   m.orders * t.share, m.revenue * t.share
		FROM seller_analytics.daily_metrics m
		CROSS JOIN (VALUES ('search', 0.5), ('direct', 0.3), ('social', 0.2)) t(source, share);
		VACUUM ANALYZE;
		CREATE FUNCTION public.format_probability(p double precision) RETURNS text
		LANGUAGE sql IMMUTABLE
		RETURN CASE WHEN p < 0.001 THEN btrim(to_char(p, '9.99EEEE')) ELSE round(p::numeric, 4)::text END;
	SQL
	local metric_rows
	metric_rows=$(rows 'SELECT count(*) FROM seller_analytics.daily_metrics')

	{
		echo "# Cohort benchmarks benchmark, $today"
		echo
		echo 'Written by `make bench-benchmarks` (bench/benchmarks/run.sh): the publication of'
		echo 'a month of cohort benchmarks (`publish_benchmarks`), their accuracy by cohort size'
		echo 'at the default settings, and the cost of `my_benchmarks()` for a seller beside its'
		echo '90-day dashboard.'
		echo
		bench_machine
		bench_server_head
		echo
		echo "Data: $BM_SELLERS sellers; taxonomy of $BM_CATEGORIES categories, $BM_REGIONS regions,"
		echo "$BM_TYPES product types ($((BM_CATEGORIES * BM_REGIONS * BM_TYPES)) finest cells, $((BM_CATEGORIES + BM_REGIONS + BM_TYPES + BM_CATEGORIES * BM_REGIONS)) cohorts);"
		echo "$metric_rows rows of daily metrics ($first_day to $last_day), compacted."
		echo
	} >"$WORK/head"

	# --- publication ------------------------------------------------------------
	bench_section "publication: $BM_PUBLISH months"
	local m month month_end t0 t1 ms pub_rows="" times=""
	for ((m = BM_PUBLISH - 1; m >= 0; m--)); do
		month=$(date -d "$LAST_MONTH - $m month" +%F)
		month_end=$(date -d "$month + 1 month - 1 day" +%F)
		t0=$(date +%s%N)
		psql_b -c "SELECT seller_analytics.publish_benchmarks('$month', '$month_end')" >/dev/null
		t1=$(date +%s%N)
		ms=$(((t1 - t0) / 1000000))
		times="$times $ms"
		pub_rows="$pub_rows$(rows "SELECT '$month', $ms, round(p.debit_ms::numeric, 1), round(($ms - p.debit_ms)::numeric), p.cohorts, p.cohorts_released, p.releases, p.cells_charged, p.max_cell_epsilon,
			(SELECT count(*) FROM seller_analytics.privacy_ledger l WHERE l.at >= p.started_at AND l.at <= p.finished_at)
			FROM seller_analytics.benchmark_publications p WHERE p.period_start = '$month' AND p.status = 'published'")
"
		echo "   $month: $ms ms" >&2
	done
	local pub_max pub_med debit_med
	pub_max=$(echo "$times" | tr ' ' '\n' | grep . | sort -g | tail -1)
	pub_med=$(echo "$times" | tr ' ' '\n' | grep . | median)
	debit_med=$(echo "$pub_rows" | awk -F'|' 'NF { print $3 }' | median)
	summary_add "publish a month ($BM_SELLERS sellers, 6 metrics, 4 dimension sets)" \
		"${pub_med} ms median, ${pub_max} ms max" "<= 10000 ms" "$(pass_if "$pub_max <= 10000")"
	summary_add "of which the ledger (one batch debit)" "${debit_med} ms median" "reported" "-"
	{
		echo '## Publication'
		echo
		echo "Each month published once (\`SELECT seller_analytics.publish_benchmarks(first day, last day)\`),"
		echo 'timed from the client; the debit is the one batch debit of every cell charged (one'
		echo 'background worker, one transaction), timed inside the function; ledger rows are the'
		echo 'rows that debit appended.'
		echo
		echo "$pub_rows" | grep . | md_table 'month|total ms|debit ms|rest ms|cohorts|cohorts released|figures rows released|cells charged|epsilon per cell|ledger rows'
		echo
	} | report

	# --- accuracy ------------------------------------------------------------------
	bench_section "accuracy: $BM_TRIALS trials per cohort size"
	psql_b >/dev/null <<-SQL
		CREATE TABLE acc AS
		SELECT x.n, x.truth_mean, x.truth_q, c.noisy >= thr.t AS released, st.*
		FROM (SELECT tr.n, tr.vals,
					 (SELECT avg(v) FROM unnest(tr.vals) v) AS truth_mean,
					 (SELECT percentile_cont(ARRAY[0.25, 0.5, 0.75, 0.9]) WITHIN GROUP (ORDER BY v)
					  FROM unnest(tr.vals) v) AS truth_q
			  FROM (SELECT s.n, t.t,
						   (SELECT array_agg(least(0.1, exp(ln(0.025) + 0.5 * sqrt(-2 * ln(1 - random()))
																		* cos(2 * pi() * random()))))
							FROM generate_series(1, s.n) i WHERE t.t IS NOT NULL) AS vals
					FROM (VALUES (50), (200), (1000)) s(n), generate_series(1, $BM_TRIALS) t(t)) tr) x
		CROSS JOIN (SELECT seller_analytics.benchmark_threshold(s.count_epsilon, s.min_true_sellers,
																s.release_probability) AS t, s.count_epsilon
					FROM seller_analytics.benchmark_settings s) thr
		CROSS JOIN seller_analytics.benchmark_metrics m
		CROSS JOIN LATERAL (SELECT seller_analytics.benchmark_noisy_count(x.n, thr.count_epsilon) AS noisy) c
		CROSS JOIN LATERAL seller_analytics.benchmark_noisy_stats(x.vals, c.noisy, m.lower_bound, m.upper_bound,
																   m.bins, m.bin_scale = 'log', m.epsilon_mean,
																   m.epsilon_histogram) st
		WHERE m.metric = 'conversion_rate';
		CREATE TABLE acc_q AS
		SELECT n, round((100 * avg(released::int))::numeric, 2) AS released_pct,
			   round((100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(average - truth_mean)) FILTER (WHERE released))::numeric, 3) AS mean90,
			   round((100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(p25 - truth_q[1])) FILTER (WHERE released))::numeric, 3) AS p25_90,
			   round((100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(p50 - truth_q[2])) FILTER (WHERE released))::numeric, 3) AS p50_90,
			   round((100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(p75 - truth_q[3])) FILTER (WHERE released))::numeric, 3) AS p75_90,
			   round((100 * percentile_cont(0.9) WITHIN GROUP (ORDER BY abs(p90 - truth_q[4])) FILTER (WHERE released))::numeric, 3) AS p90_90,
			   round((100 * avg((abs(average - truth_mean) <= 0.002)::int) FILTER (WHERE released))::numeric, 1) AS mean_within_02,
			   round((100 * avg((abs(p25 - truth_q[1]) <= 0.005 AND abs(p50 - truth_q[2]) <= 0.005
								AND abs(p75 - truth_q[3]) <= 0.005)::int) FILTER (WHERE released))::numeric, 1) AS quartiles_within_05
		FROM acc GROUP BY n ORDER BY n;
	SQL
	local a200_mean a200_q
	a200_mean=$(rows 'SELECT mean90 FROM acc_q WHERE n = 200')
	a200_q=$(rows 'SELECT greatest(p25_90, p50_90, p75_90) FROM acc_q WHERE n = 200')
	summary_add "cohort of 200: mean's error, 90th percentile" "$a200_mean points" "<= 0.2" "$(pass_if "$a200_mean <= 0.2")"
	summary_add "cohort of 200: worst quartile's error, 90th percentile" "$a200_q points" "<= 0.5" "$(pass_if "$a200_q <= 0.5")"
	{
		echo '## Accuracy by cohort size (conversion rate, default settings)'
		echo
		echo "$BM_TRIALS synthetic cohorts per size, conversion rates log-normal (median 2.5 %, sigma 0.5, at"
		echo 'most 10 %), each released once by `benchmark_noisy_count` and `benchmark_noisy_stats`'
		echo '(the mechanisms of `publish_benchmarks`) with the default parameters. Errors are'
		echo 'against the true mean and quantiles (`percentile_cont`) of each cohort, in percentage'
		echo 'points: the 90th percentile over the released trials.'
		echo
		rows 'SELECT n, released_pct, mean90, p25_90, p50_90, p75_90, p90_90, mean_within_02, quartiles_within_05 FROM acc_q ORDER BY n' |
			md_table 'sellers|released %|mean|p25|p50|p75|p90|% mean within 0.2|% all quartiles within 0.5'
		echo
		echo 'Release probability by true cohort size (`benchmark_release_probability`): a month'
		echo '(count epsilon 0.5, threshold 31) and a week (0.125, threshold 110).'
		echo
		rows "SELECT k, public.format_probability(seller_analytics.benchmark_release_probability(k, 0.5, 31)),
				public.format_probability(seller_analytics.benchmark_release_probability(k, 0.125, 110))
			  FROM generate_series(1, 40) k ORDER BY k" | md_table 'true sellers|month|week'
		echo
	} | report

	# --- reads ---------------------------------------------------------------------
	bench_section "reads: $BM_CLIENTS clients, $BM_READ_ROUNDS rounds of ${BM_READ_SECONDS}s"
	# password logins (pg_virtualenv's cluster asks for passwords over TCP)
	local password
	password=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	psql_b >/dev/null <<-SQL
		CREATE ROLE bench_seller LOGIN PASSWORD '$password';
		CREATE ROLE bench_app LOGIN PASSWORD '$password' IN ROLE seller_analytics_app;
		SELECT seller_analytics.assign_seller_role('bench_seller', least(4242, $BM_SELLERS));
	SQL
	echo 'SELECT * FROM seller_analytics.my_benchmarks();' >"$WORK/mine.sql"
	dash_rollup_sql "$first_day" "$last_day" '' >"$WORK/dash.sql"
	cat >"$WORK/app.sql" <<-EOF2
		\set sid random(1, $BM_SELLERS)
		BEGIN;
		SET LOCAL seller_analytics.seller_id = :sid;
		SELECT * FROM seller_analytics.my_benchmarks();
		COMMIT;
	EOF2
	local round c
	for ((round = 1; round <= BM_READ_ROUNDS; round++)); do
		for c in mine dash app; do
			local user=bench_seller
			[ "$c" = app ] && user=bench_app
			(cd "$WORK" && PGUSER=$user PGPASSWORD=$password pgbench -n -d bench -M simple -c "$BM_CLIENTS" -j 2 \
				-T "$BM_READ_SECONDS" -l --log-prefix="$WORK/log_${c}_$round" -f "$WORK/$c.sql" \
				>"$WORK/pgb_${c}_$round" 2>&1) || true
			echo "   round $round $c: $(pgb_parse "$WORK/pgb_${c}_$round" | cut -d'|' -f1) tps" >&2
		done
	done
	local read_rows="" tps p
	for c in mine dash app; do
		p=$(cat "$WORK"/log_"${c}"_* | awk '{ print $3 }' | percentiles)
		tps=$(for ((round = 1; round <= BM_READ_ROUNDS; round++)); do pgb_parse "$WORK/pgb_${c}_$round" | cut -d'|' -f1; done | median)
		read_rows="$read_rows$c|$p|$tps
"
	done
	local mine_p50 mine_p99 dash_p50
	mine_p50=$(echo "$read_rows" | awk -F'|' '$1 == "mine" { print $2 }')
	mine_p99=$(echo "$read_rows" | awk -F'|' '$1 == "mine" { print $4 }')
	dash_p50=$(echo "$read_rows" | awk -F'|' '$1 == "dash" { print $2 }')
	summary_add "my_benchmarks() as a seller's login, $BM_CLIENTS clients: p50" "$mine_p50 ms" "<= 2 ms" "$(pass_if "$mine_p50 <= 2")"
	summary_add "my_benchmarks() as a seller's login, $BM_CLIENTS clients: p99" "$mine_p99 ms" "<= 10 ms" "$(pass_if "$mine_p99 <= 10")"
	summary_add "the seller's 90-day dashboard, same clients: p50" "$dash_p50 ms (ratio $(ratio "$mine_p50" "$dash_p50"))" "beside it" "-"
	{
		echo '## Reads'
		echo
		echo "pgbench -M simple, $BM_CLIENTS clients (-j 2), $BM_READ_ROUNDS rounds of $BM_READ_SECONDS s per contender,"
		echo 'interleaved; latencies of every transaction of every round (per-transaction log).'
		echo
		echo '- mine: `SELECT * FROM seller_analytics.my_benchmarks()` as a seller'"'"'s login (24 rows)'
		echo '- dash: the same login'"'"'s 90-day dashboard (daily metrics, traffic by source,'
		echo '  order-value p50/p90: three statements)'
		echo '- app: the application role, `BEGIN; SET LOCAL seller_analytics.seller_id = <random>;'
		echo '  SELECT * FROM seller_analytics.my_benchmarks(); COMMIT`'
		echo
		echo "$read_rows" | grep . | awk -F'|' '{ print $1 "|" $2 "|" $3 "|" $4 "|" $5 "|" $6 "|" $7 }' |
			md_table 'contender|p50 ms|p90 ms|p99 ms|mean ms|transactions|tps (median round)'
		echo
		echo "my_benchmarks() p50 / dashboard p50: $(ratio "$mine_p50" "$dash_p50")."
		echo
		echo 'One call, EXPLAIN ANALYZE of its query as the seller (the function'"'"'s statements run'
		echo 'as plain queries):'
		echo
		echo '```'
		PGUSER=bench_seller PGPASSWORD=$password psql -X -q -d bench -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT * FROM seller_analytics.my_benchmarks()" 2>&1
		echo '```'
		echo
	} | report

	bench_assemble_report "${BENCH_COMMAND:-make bench-benchmarks}"
	echo
	echo "== Cohort benchmarks benchmark, $today ($(nproc) CPUs, PostgreSQL $(rows 'SHOW server_version'))"
	echo
	bench_print_summary
}

if [ "${1:-}" = "--in-virtualenv" ]; then
	in_virtualenv "$2"
	exit 0
fi

bench_section "packages"
bench_packages "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	"postgresql-client-$PG_MAJOR" "postgresql-$PG_MAJOR-cron" postgresql-common make gcc procps
bench_section "build and install"
bench_build_install

bench_report benchmarks "$HERE/run.sh"
