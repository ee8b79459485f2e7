#!/usr/bin/env bash
# demo/session.sh: the marketplace demo's path, in a running cluster that
# the PG* environment variables point to (as a superuser, password
# authentication over TCP for the logins it creates).  demo/run.sh (`make
# demo`) runs it in a throw-away cluster; test/sql/demo.sh at a small scale.
#
#   1. a database with seller_analytics (and pg_cron's compaction job when
#      the cluster's pg_cron runs in it), the marketplace of
#      demo/generator.sql: DEMO_SELLERS sellers, DEMO_DAYS local days
#      ending DEMO_LAST_DAY
#   2. DEMO_LOADERS loaders stream the days in order as a login of
#      seller_analytics_ingest, each its share of the sellers: INSERT ... ON
#      CONFLICT DO NOTHING into events, and COPY into event_intake every
#      third day; late events, replays and refunds arrive as they would;
#      compact() every few seconds beside pg_cron; a progress line
#   3. publishes the cohort benchmarks of every closed week and month
#   4. a login for one seller (assign_seller_role) reads its dashboard over
#      libpq (psql): the last 14 days, traffic sources, order-value
#      percentiles, its benchmarks
#   5. the chart: the seller's weekly conversion rate against its cohort's
#      p25-p75 band and median (gnuplot, in the terminal and as a PNG)
#   6. verify_rollups over the whole range, the ingest rate, the
#      publication time, the dashboard's latency over many requests
#      (pgbench as the seller's login)
#
# Environment (defaults in brackets): DEMO_SELLERS [2000], DEMO_DAYS [90],
# DEMO_LAST_DAY [two days ago, UTC], DEMO_SEED [20261206], DEMO_LOADERS [3],
# DEMO_DB [demo], DEMO_ROLE_SUFFIX [''] (appended to the logins' names),
# DEMO_SELLER [the most active seller], DEMO_OUT [demo/out: the chart],
# DEMO_LATENCY_SECONDS [5], DEMO_BEFORE_PUBLISH_SQL (run as the superuser
# before publishing, e.g. to change benchmark_settings).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELLERS=${DEMO_SELLERS:-2000}
DAYS=${DEMO_DAYS:-90}
LAST_DAY=${DEMO_LAST_DAY:-$(date -u -d '2 days ago' +%F)}
FIRST_DAY=$(date -u -d "$LAST_DAY - $((DAYS - 1)) days" +%F)
SEED=${DEMO_SEED:-20261206}
LOADERS=${DEMO_LOADERS:-3}
DB=${DEMO_DB:-demo}
SFX=${DEMO_ROLE_SUFFIX:-}
OUT=${DEMO_OUT:-$HERE/out}
LAT_SECONDS=${DEMO_LATENCY_SECONDS:-5}
LOADER=demo_loader$SFX
PW="demo-$$-$RANDOM$RANDOM"

mkdir -p "$OUT"
work=$(mktemp -d "${TMPDIR:-/tmp}/demo_session.XXXXXX")
bg_pids=()
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

psql_su() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
val() { psql_su -At -c "$1"; }
psql_as() {			# psql_as ROLE ARGS...: a login with its password
	local role=$1
	shift
	PGUSER=$role PGPASSWORD=$PW psql -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"
}
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }
section() { printf '\n== %s\n' "$*"; }

# --- 1. the database and the marketplace -------------------------------------
section "a marketplace of $SELLERS sellers, $DAYS days ($FIRST_DAY to $LAST_DAY), seed $SEED"
psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
psql_su -c 'CREATE EXTENSION seller_analytics'
HAVE_BENCHMARKS=$(val "SELECT to_regprocedure('seller_analytics.my_benchmarks(date, date)') IS NOT NULL")
if [ "$(val "SELECT current_setting('cron.database_name', true) IS NOT DISTINCT FROM current_database()
                 AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_cron')")" = t ]; then
	psql_su -c 'CREATE EXTENSION pg_cron'
	echo "pg_cron compacts every minute:"
	psql_su -c 'SELECT jobname, schedule, command FROM seller_analytics.schedule_jobs()'
	# the demo publishes directly once every event is in (step 3)
	psql_su -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname = 'seller_analytics_publish_benchmarks'" >/dev/null
else
	echo "(pg_cron does not run in database $DB here: compaction by the loaders' compact() calls only)"
fi
psql_su -v seed="$SEED" -v sellers="$SELLERS" -v days="$DAYS" -v first_day="$FIRST_DAY" \
	-f "$HERE/generator.sql" >/dev/null
psql_su <<-SQL
	INSERT INTO seller_analytics.sellers (seller_id, name, category, region, product_type, time_zone)
	SELECT seller_id, initcap(category) || ' shop ' || seller_id, category, region, product_type, time_zone
	FROM demo.seller_params ORDER BY seller_id;
	\pset footer off
	SELECT count(*) AS sellers, count(DISTINCT category) AS categories,
	       count(DISTINCT region) AS regions, count(DISTINCT product_type) AS product_types,
	       round(100 * sum(lambda) FILTER (WHERE rnk <= greatest(1, $SELLERS / 100)) / sum(lambda), 1)
	           AS "top 1 % share of sessions",
	       round(100 * sum(lambda) FILTER (WHERE rnk > $SELLERS / 2) / sum(lambda), 1)
	           AS "bottom half's share"
	FROM demo.seller_params;
SQL
if [ "$HAVE_BENCHMARKS" = t ]; then
	psql_su -c 'SELECT seller_analytics.declare_public_taxonomy()' >/dev/null
fi

# the loader's login, a member of the ingest role; it may run the generator
psql_su >/dev/null <<-SQL
	CREATE ROLE $LOADER LOGIN PASSWORD '$PW';
	GRANT seller_analytics_ingest TO $LOADER;
	GRANT USAGE ON SCHEMA demo TO $LOADER;
	GRANT SELECT ON ALL TABLES IN SCHEMA demo TO $LOADER;
SQL

# --- 2. loading -------------------------------------------------------------------
section "streaming $DAYS days of events: $LOADERS loaders as $LOADER (a member of seller_analytics_ingest)"
echo "each loader delivers a day at a time, its share of the sellers: INSERT ... ON CONFLICT DO NOTHING"
echo "into seller_analytics.events, or COPY into seller_analytics.event_intake every third day;"
echo "late events, replayed files and refunds arrive days after; compact() every 5 s beside pg_cron"
last_delivery=$((DAYS + 3))

# loader K: delivery days 0 .. DAYS + 3 (the last four: late events only)
loader() {
	local k=$1 dd out
	for ((dd = 0; dd <= last_delivery; dd++)); do
		echo "$dd" >"$work/day_$k"
		if (((dd + k) % 3 == 0)); then
			out=$(psql_su -c "COPY (SELECT * FROM demo.delivery($dd, $LOADERS, $k)) TO STDOUT" |
				psql_as "$LOADER" -c 'COPY seller_analytics.event_intake FROM STDIN' -c '\echo :ROW_COUNT')
			echo "copy $out" >>"$work/loaded_$k"
		else
			out=$(psql_as "$LOADER" -c "INSERT INTO seller_analytics.events
				SELECT * FROM demo.delivery($dd, $LOADERS, $k) ON CONFLICT DO NOTHING" -c '\echo :ROW_COUNT')
			echo "insert $out" >>"$work/loaded_$k"
		fi
	done
	echo "done" >"$work/day_$k"
}

compactor() {
	while :; do
		sleep 5
		psql_su -At -c 'SELECT count(*) FROM seller_analytics.compact()' >/dev/null 2>&1 || true
		echo x >>"$work/compactions"
	done
}

events_in() {
	val "SELECT coalesce(n_tup_ins, 0) FROM pg_stat_user_tables WHERE relid = 'seller_analytics.events'::regclass"
}

progress() {			# progress T0: one line
	local t0=$1 ev pend s day k d
	ev=$(events_in)
	pend=$(val 'SELECT count(*) FROM seller_analytics.pending_deltas')
	s=$((($(date +%s%N) - t0) / 1000000))
	day=$last_delivery
	for ((k = 0; k < LOADERS; k++)); do
		d=$(cat "$work/day_$k" 2>/dev/null || echo 0)
		[ "$d" = "done" ] && d=$last_delivery
		((d < day)) && day=$d
	done
	printf '  %5.1f s  day %3d/%d  %9d events  %7d events/s  %6d pending rows  %3d compactions\n' \
		"$(awk -v s="$s" 'BEGIN { print s / 1000 }')" "$day" "$last_delivery" "$ev" \
		"$(awk -v e="$ev" -v s="$s" 'BEGIN { print (s > 0 ? int(e * 1000 / s) : 0) }')" "$pend" \
		"$(wc -l <"$work/compactions" 2>/dev/null || echo 0)"
}

psql_su -c 'SELECT pg_stat_reset()' >/dev/null
: >"$work/compactions"
t_load=$(date +%s%N)
compactor &
bg_pids+=($!)
loader_pids=()
for ((k = 0; k < LOADERS; k++)); do
	loader "$k" &
	loader_pids+=($!)
	bg_pids+=($!)
done
(
	while sleep 5; do
		progress "$t_load"
	done
) &
monitor=$!
bg_pids+=("$monitor")
load_rc=0
for p in "${loader_pids[@]}"; do
	wait "$p" || load_rc=1
done
load_ms=$(ms_since "$t_load")
kill "$monitor" 2>/dev/null || true
if [ "$load_rc" -ne 0 ]; then
	echo "error: a loader failed" >&2
	exit 1
fi
sleep 1				# the loaders' statistics reach pg_stat
progress "$t_load"
t0=$(date +%s%N)
psql_su -At -c 'SELECT count(*) FROM seller_analytics.compact()' >/dev/null
final_compact_ms=$(ms_since "$t0")
read -r events pending <<<"$(val "SELECT count(*), (SELECT count(*) FROM seller_analytics.pending_deltas)
                                  FROM seller_analytics.events" | tr '|' ' ')"
delivered=$(cat "$work"/loaded_* | awk '{ n += $2 } END { print n + 0 }')
ingest_rate=$(awk -v e="$events" -v ms="$load_ms" 'BEGIN { printf "%d", e * 1000 / ms }')
echo "loaded $events events in $(awk -v ms="$load_ms" 'BEGIN { printf "%.1f", ms / 1000 }') s: $ingest_rate events/s"
echo "($delivered rows delivered: replays and late copies counted once; last compact() $final_compact_ms ms, $pending pending rows left)"
psql_su <<-SQL
	\pset footer off
	SELECT event_type, count(*) AS events, round(100.0 * count(*) / sum(count(*)) OVER (), 1) AS "%"
	FROM seller_analytics.events GROUP BY 1 ORDER BY 2 DESC;
	SELECT round(100.0 * sum(orders) / sum(sessions), 2) AS "conversion %",
	       sum(orders) AS orders, sum(refunds) AS refunds, sum(revenue) AS revenue,
	       round(seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), 0.5)::numeric, 2) AS "order p50",
	       round(seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), 0.99)::numeric, 2) AS "order p99"
	FROM seller_analytics.daily_metrics;
SQL

# --- 3. publication ---------------------------------------------------------------
pub_ms=0
pub_count=0
if [ "$HAVE_BENCHMARKS" = t ]; then
	section "publishing the cohort benchmarks of the closed weeks and months"
	if [ -n "${DEMO_BEFORE_PUBLISH_SQL:-}" ]; then
		psql_su -c "$DEMO_BEFORE_PUBLISH_SQL" >/dev/null
	fi
	periods=$(val "SELECT w || ' ' || (w + 6) FROM generate_series(date_trunc('week', DATE '$FIRST_DAY' + 6), DATE '$LAST_DAY' - 6, interval '1 week') g, LATERAL (SELECT g::date AS w) x
	               UNION ALL
	               SELECT m || ' ' || ((m + interval '1 month')::date - 1) FROM generate_series(date_trunc('month', DATE '$FIRST_DAY' + 30), DATE '$LAST_DAY', interval '1 month') g, LATERAL (SELECT g::date AS m) x
	               WHERE m >= DATE '$FIRST_DAY' AND (m + interval '1 month')::date - 1 <= DATE '$LAST_DAY'")
	while read -r p0 p1; do
		[ -n "$p0" ] || continue
		t0=$(date +%s%N)
		val "SELECT seller_analytics.publish_benchmarks('$p0', '$p1')" >/dev/null
		pub_ms=$((pub_ms + $(ms_since "$t0")))
		pub_count=$((pub_count + 1))
	done <<<"$periods"
	psql_su <<-SQL
		\pset footer off
		SELECT period_kind AS kind, period_start AS "from", period_end AS "to", cohorts,
		       cohorts_released AS released, releases AS figures,
		       round(max_cell_epsilon::numeric, 2) AS "cell epsilon",
		       round(extract(epoch FROM finished_at - started_at)::numeric * 1000) AS ms
		FROM seller_analytics.benchmark_publications ORDER BY period_kind DESC, period_start;
	SQL
	echo "$pub_count periods published in $pub_ms ms"
else
	section "cohort benchmarks: skipped (seller_analytics.my_benchmarks does not exist in this build)"
fi

# --- 4. the seller's dashboard ------------------------------------------------------
SID=${DEMO_SELLER:-$(val 'SELECT seller_id FROM demo.seller_params ORDER BY rnk LIMIT 1')}
SELLER_ROLE=seller_${SID}_bi$SFX
D0=$(date -u -d "$LAST_DAY - 13 days" +%F)
psql_su >/dev/null <<-SQL
	CREATE ROLE $SELLER_ROLE LOGIN PASSWORD '$PW';
	SELECT seller_analytics.assign_seller_role('$SELLER_ROLE', $SID);
SQL
read -r sname scat sreg stype stz <<<"$(val "SELECT replace(name, ' ', '_'), category, region, product_type, time_zone
                                           FROM seller_analytics.sellers WHERE seller_id = $SID" | tr '|' ' ')"
section "seller $SID (${sname//_/ }: $scat, $sreg, $stype, $stz), logged in as $SELLER_ROLE over libpq"
echo "CREATE ROLE $SELLER_ROLE LOGIN PASSWORD '...'; SELECT seller_analytics.assign_seller_role('$SELLER_ROLE', $SID);"
# the benchmarks of the last released month, else of the last released week
bm_period=""
if [ "$HAVE_BENCHMARKS" = t ]; then
	bm_period=$(val "SELECT period_start || ' ' || period_end FROM seller_analytics.benchmark_releases
	                 GROUP BY period_start, period_end, period_kind
	                 ORDER BY period_kind = 'month' DESC, period_start DESC LIMIT 1")
fi
read -r BM0 BM1 <<<"${bm_period:-x x}"
SHOW_BENCHMARKS=$HAVE_BENCHMARKS
if [ "$HAVE_BENCHMARKS" = t ] && [ -z "$bm_period" ]; then
	SHOW_BENCHMARKS=f
	echo "(no week or month of these $DAYS days has closed: no benchmarks to show)"
fi
psql_as "$SELLER_ROLE" -v d0="$D0" -v d1="$LAST_DAY" -v benchmarks="$SHOW_BENCHMARKS" \
	-v bm0="$BM0" -v bm1="$BM1" -f "$HERE/dashboard.sql"

# --- 5. the chart ---------------------------------------------------------------------
if [ "$SHOW_BENCHMARKS" = t ]; then
	# the seller's category, else its first cohort with released weeks
	psql_as "$SELLER_ROLE" -At -F' ' >"$work/history" <<-SQL
		WITH h AS (SELECT * FROM seller_analytics.my_benchmark_history('conversion_rate', 12)),
		c AS (SELECT cohort FROM h GROUP BY cohort
		      ORDER BY count(*) FILTER (WHERE released) DESC, (cohort LIKE 'category=%' AND cohort NOT LIKE '%,%') DESC,
		               cohort LIMIT 1)
		SELECT h.period_start, round(100 * h.my_value::numeric, 3),
		       coalesce(round(100 * h.cohort_p25::numeric, 3)::text, 'NaN'),
		       coalesce(round(100 * h.cohort_p50::numeric, 3)::text, 'NaN'),
		       coalesce(round(100 * h.cohort_p75::numeric, 3)::text, 'NaN'), replace(h.cohort, ' ', '')
		FROM h JOIN c USING (cohort) ORDER BY h.period_start;
	SQL
	if [ -s "$work/history" ] && awk '$3 != "NaN" { found = 1 } END { exit !found }' "$work/history"; then
		cohort=$(awk 'NR == 1 { print $6 }' "$work/history")
		png="$OUT/conversion-seller-$SID.png"
		section "seller $SID's weekly conversion rate (%) against sellers like it ($cohort): p25-p75 band, median"
		# the terminal: the band's edges and the median as lines; the PNG: a
		# filled band
		x0=$(date -u -d "$(awk 'NR == 1 { print $1 }' "$work/history") - 3 days" +%F)
		x1=$(date -u -d "$(awk 'END { print $1 }' "$work/history") + 3 days" +%F)
		cat >"$work/axes.gp" <<-EOF
			set xdata time
			set timefmt '%Y-%m-%d'
			set xrange ['$x0':'$x1']
			set format x '%m-%d'
			set xtics 14 * 86400
			set key top left
			set yrange [0:*]
			set ylabel 'conversion %'
		EOF
		{
			echo "set terminal dumb size 100,26"
			cat "$work/axes.gp"
			echo "plot '$work/history' using 1:5 with lines title 'cohort p75', \\"
			echo "     '' using 1:4 with lines title 'cohort median', \\"
			echo "     '' using 1:3 with lines title 'cohort p25', \\"
			echo "     '' using 1:2 with linespoints pt 7 title 'seller $SID'"
		} | gnuplot
		{
			echo "set terminal pngcairo size 900,450 font 'sans,10'"
			echo "set output '$png'"
			echo "set title \"seller $SID: weekly conversion rate against its cohort ($cohort)\""
			cat "$work/axes.gp"
			echo "plot '$work/history' using 1:3:5 with filledcurves fc rgb '#c6dbef' title 'cohort p25-p75', \\"
			echo "     '' using 1:4 with lines lw 2 lc rgb '#2171b5' title 'cohort median', \\"
			echo "     '' using 1:2 with linespoints lw 2 pt 7 lc rgb '#d94801' title 'seller $SID'"
		} | gnuplot
		echo "(the same chart: ${png#"$PWD"/})"
	else
		section "chart: no released weekly conversion benchmark for seller $SID's cohorts"
	fi
fi

# --- 6. checks and figures -----------------------------------------------------------------
section "figures"
verify=$(val "SELECT count(*) FROM seller_analytics.verify_rollups(DATE '$FIRST_DAY' - 1, DATE '$LAST_DAY' + 1)")
echo "verify_rollups('$(date -u -d "$FIRST_DAY - 1 day" +%F)', '$(date -u -d "$LAST_DAY + 1 day" +%F)'): $verify rows (no difference between the rollups and the raw events)"

# the dashboard as pgbench requests of the seller's login: every query above
{
	sed -n '/^-- request$/,/^-- end of request$/p' "$HERE/dashboard.sql" | grep -v '^--' |
		sed -e "s/:'d0'/'$D0'/g" -e "s/:'d1'/'$LAST_DAY'/g" -e '/^\\/d'
	if [ "$SHOW_BENCHMARKS" = t ]; then
		echo "SELECT metric, cohort, summary FROM seller_analytics.my_benchmarks('$BM0', '$BM1');"
	fi
} | tr '\n' ' ' | sed -e 's/;/;\n/g' >"$work/dash.sql"
(cd "$work" && PGUSER=$SELLER_ROLE PGPASSWORD=$PW pgbench -n -d "$DB" -c 2 -j 2 -T "$LAT_SECONDS" \
	-l --log-prefix="$work/lat" -f "$work/dash.sql" >"$work/pgbench.out" 2>&1) || {
	cat "$work/pgbench.out" >&2
	exit 1
}
lat=$(cat "$work"/lat.* | awk '{ print $3 }' | sort -g | awk '
	{ v[NR] = $1 }
	function at(q,   k) { k = int(q * NR); if (k < q * NR) k++; if (k < 1) k = 1; return v[k] / 1000 }
	END { printf "%.2f %.2f %d", at(0.5), at(0.99), NR }')
read -r p50 p99 nreq <<<"$lat"
echo "ingest: $events events in $(awk -v ms="$load_ms" 'BEGIN { printf "%.1f", ms / 1000 }') s by $LOADERS loaders, $ingest_rate events/s (compacting meanwhile)"
if [ "$HAVE_BENCHMARKS" = t ]; then
	echo "publication: $pub_count periods (weeks and months) in $(awk -v ms="$pub_ms" 'BEGIN { printf "%.1f", ms / 1000 }') s"
fi
echo "dashboard as $SELLER_ROLE: p50 $p50 ms, p99 $p99 ms over $nreq requests (pgbench, 2 clients, ${LAT_SECONDS} s; a request is every query of the dashboard above)"
{
	echo "seller $SID"
	echo "first_day $FIRST_DAY"
	echo "last_day $LAST_DAY"
	echo "events $events"
	echo "verify $verify"
	echo "requests $nreq"
} >"$OUT/figures.txt"
