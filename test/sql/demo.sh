#!/usr/bin/env bash
# The demo's whole path (demo/session.sh, what `make demo` runs) at a small
# scale, and what it prints checked against the database.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`), as a superuser.  Creates its own
# database and login roles, with names ending in this process's id, and
# drops them on exit, failure or not.
#
#   1. demo/session.sh: 40 sellers, 14 days (a closed week at least) ending two days ago, 2 loaders,
#      the benchmark settings opened up (threshold of 1 seller) so that the
#      small cohorts are released; it must succeed
#   2. the load: the events table holds exactly the distinct events of every
#      delivery, as generated again with one loader instead of two (same
#      seed, same events; nothing lost or doubled by replays and late
#      copies); the deliveries hold replays (about 17 expected among some
#      1,700 sessions: none at all has probability below 1e-7); the overall
#      conversion rate lies within 0.5 % to 6 % (the sellers' rates, fixed by
#      the seed, average 2.7 %)
#   3. the seller's dashboard as printed: each day's sales, orders,
#      sessions, conversion, refunds and average order against a
#      recomputation from raw events in the seller's time zone; the traffic
#      sources likewise; the order-value p50/p90/p99 within the sketch's
#      relative error of percentile_disc over the raw orders (all three
#      empty when the seller had no order)
#   4. the benchmarks as printed: every row (sellers, average, median) as
#      stored in benchmark_releases for the seller's four cohorts, all 24 of
#      them, the seller's own value against raw events; the summaries
#   5. the chart's PNG exists; verify_rollups printed 0 rows; the latency
#      line comes from requests that ran
#
# Skips part 4 and the chart with a printed reason when the cohort
# benchmarks are not part of this build.  Prints a summary; exits non-zero
# on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../pg_tools.sh
. "$HERE/../pg_tools.sh"

DB=demo_test_$$
SFX=_t$$
LOADERS=2
work=$(mktemp -d)

cleanup() {
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	for role in $("$PSQL" -X -At -d postgres -c "SELECT rolname FROM pg_roles WHERE rolname LIKE '%$SFX'" 2>/dev/null); do
		"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT

q() { "$PSQL" -X -At -F'|' -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# --- 1. the demo ------------------------------------------------------------------
rc=0
PATH="$(dirname "$PSQL"):$PATH" DEMO_DB=$DB DEMO_ROLE_SUFFIX=$SFX DEMO_SELLERS=40 DEMO_DAYS=14 \
	DEMO_LOADERS=$LOADERS DEMO_OUT="$work/out" DEMO_LATENCY_SECONDS=1 \
	DEMO_BEFORE_PUBLISH_SQL="UPDATE seller_analytics.benchmark_settings SET count_epsilon = 100, min_true_sellers = 1, release_probability = 0.5" \
	bash "$HERE/../../demo/session.sh" >"$work/demo.out" 2>&1 || rc=$?
check "the demo's path succeeds" 0 "$rc"
if [ "$rc" -ne 0 ]; then
	cat "$work/demo.out"
	exit 1
fi
sed -n '1,400p' "$work/demo.out"
fig() { awk -v k="$1" '$1 == k { print $2 }' "$work/out/figures.txt"; }
SID=$(fig seller)
LAST=$(fig last_day)
D0=$(date -u -d "$LAST - 13 days" +%F)
DAYS=14

# the printed table under the line starting with HEADER: its rows, fields
# '|'-separated, numbers to 4 decimals
printed() {
	awk -v h="$1" '
		index($0, h) == 1 { on = 1; next }
		on && /^-- / { exit }
		on && /^[ -]*[a-z_]+[ a-z_%]*\|/ && !seen { seen = 1; next }
		on && /^-+\+/ { next }
		on && NF == 0 { if (seen) exit; next }
		on && seen { print }' "$work/demo.out" | norm
}
norm() {			# trims fields, numbers to 4 decimals
	awk -F'|' '{
		line = ""
		for (i = 1; i <= NF; i++) {
			f = $i; gsub(/^ +| +$/, "", f)
			if (f ~ /^-?[0-9]+(\.[0-9]+)?$/) f = sprintf("%.4f", f)
			line = line (i > 1 ? "|" : "") f
		}
		print line
	}'
}

# --- 2. the load --------------------------------------------------------------------
check "events: the distinct deliveries of one loader, none missing" 0 "$(q "
	SELECT count(*) FROM (
	  SELECT DISTINCT d.* FROM generate_series(0, $DAYS + 3) dd, demo.delivery(dd, 1, 0) d
	  EXCEPT SELECT * FROM seller_analytics.events) x")"
check "events: none that the generator did not make" 0 "$(q "
	SELECT count(*) FROM (
	  SELECT * FROM seller_analytics.events
	  EXCEPT SELECT d.* FROM generate_series(0, $DAYS + 3) dd, demo.delivery(dd, 1, 0) d) x")"
check "deliveries hold replays and late events (more rows than events)" t "$(q "
	SELECT count(*) > (SELECT count(*) FROM seller_analytics.events)
	FROM generate_series(0, $DAYS + 3) dd, demo.delivery(dd, 1, 0) d")"
check "overall conversion within 0.5 % to 6 %" t "$(q "
	SELECT count(*) FILTER (WHERE event_type = 'order')::numeric
	       / count(*) FILTER (WHERE event_type = 'session_start') BETWEEN 0.005 AND 0.06
	FROM seller_analytics.events")"

# --- 3. the dashboard ------------------------------------------------------------------
raw_days=$(q "
	WITH f AS (SELECT seller_analytics.local_day(e.occurred_at, s.time_zone) AS day, e.*
	           FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
	           WHERE e.seller_id = $SID)
	SELECT day, coalesce(sum(amount) FILTER (WHERE event_type = 'order'), 0),
	       count(*) FILTER (WHERE event_type = 'order'),
	       count(*) FILTER (WHERE event_type = 'session_start'),
	       coalesce(round(100.0 * count(*) FILTER (WHERE event_type = 'order')
	                      / nullif(count(*) FILTER (WHERE event_type = 'session_start'), 0), 2)::text, '-'),
	       count(*) FILTER (WHERE event_type = 'refund'),
	       coalesce(round(avg(amount) FILTER (WHERE event_type = 'order'), 2)::text, '-')
	FROM f
	WHERE day BETWEEN '$D0' AND '$LAST'
	GROUP BY day ORDER BY day" | norm)
shown_days=$(printed '-- sales, orders, sessions and conversion')
check "dashboard: days shown" "$(echo "$raw_days" | wc -l)" "$(echo "$shown_days" | grep -c .)"
check "dashboard: each day's figures as recomputed from raw events" "$raw_days" "$shown_days"

raw_src=$(q "
	SELECT coalesce(traffic_source, 'unknown'),
	       count(*) FILTER (WHERE event_type = 'session_start'),
	       count(*) FILTER (WHERE event_type = 'order'),
	       coalesce(sum(amount) FILTER (WHERE event_type = 'order'), 0),
	       coalesce(round(100.0 * count(*) FILTER (WHERE event_type = 'order')
	                      / nullif(count(*) FILTER (WHERE event_type = 'session_start'), 0), 2)::text, '-')
	FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
	WHERE e.seller_id = $SID AND seller_analytics.local_day(e.occurred_at, s.time_zone) BETWEEN '$D0' AND '$LAST'
	GROUP BY 1 ORDER BY 1" | norm)
shown_src=$(printed '-- traffic sources' | sort)
check "dashboard: traffic sources as recomputed from raw events" "$raw_src" "$shown_src"

# p50 | p90 | p99 printed, against percentile_disc of the raw orders: within
# the merged sketch's relative error (and the printed rounding)
read -r exact alpha <<<"$(q "
	SELECT array_to_string(percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY amount), ','),
	       (SELECT seller_analytics.sketch_relative_error(seller_analytics.percentile_merge(order_value))
	        FROM seller_analytics.seller_daily_metrics WHERE seller_id = $SID AND day BETWEEN '$D0' AND '$LAST')
	FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
	WHERE e.seller_id = $SID AND e.event_type = 'order'
	  AND seller_analytics.local_day(e.occurred_at, s.time_zone) BETWEEN '$D0' AND '$LAST'" | tr '|' ' ')"
shown_pct=$(printed '-- order value p50' | awk -F'|' '{ print $3 "," $4 "," $5 }')
check "dashboard: order-value p50/p90/p99 within the sketch's error of the exact ones" ok \
	"$(awk -v e="$exact" -v s="$shown_pct" -v a="$alpha" 'BEGIN {
		if (e == "" && s == "-,-,-") { print "ok"; exit }
		n = split(e, x, ","); m = split(s, y, ",")
		if (n != 3 || m != 3 || a == "") { print "missing: exact " e " shown " s; exit }
		for (i = 1; i <= 3; i++) {
			d = y[i] - x[i]; if (d < 0) d = -d
			if (d > a * x[i] + 0.006) { print "p" i ": shown " y[i] ", exact " x[i] ", error " a; exit }
		}
		print "ok" }')"

# --- 4. the benchmarks ------------------------------------------------------------------
if [ "$(q "SELECT to_regprocedure('seller_analytics.my_benchmarks(date, date)') IS NOT NULL")" != t ]; then
	echo "skipped: the benchmarks' checks (seller_analytics.my_benchmarks is not part of this build)"
else
	shown_bm=$(printed '-- my benchmarks')
	read -r BM0 BM1 <<<"$(echo "$shown_bm" | awk -F'|' 'NR == 1 { print $3, $4 }')"
	stored_bm=$(q "
		WITH s AS (SELECT * FROM seller_analytics.sellers WHERE seller_id = $SID)
		SELECT r.metric, r.cohort, r.period_start, r.period_end, coalesce(r.cohort_sellers::text, '-'),
		       coalesce(round(r.cohort_average::numeric, 4)::text, '-'),
		       coalesce(round(r.cohort_p50::numeric, 4)::text, '-')
		FROM seller_analytics.benchmark_releases r, s
		WHERE r.period_start = '$BM0' AND r.period_end = '$BM1'
		  AND r.cohort IN ('category=' || s.category, 'region=' || s.region,
		                   'product_type=' || s.product_type, 'category=' || s.category || ', region=' || s.region)
		ORDER BY 1, 2" | norm)
	check "benchmarks: 24 rows shown (six metrics, four cohorts)" 24 "$(echo "$shown_bm" | grep -c .)"
	check "benchmarks: released ones among them" t "$(q "SELECT count(*) > 0 FROM seller_analytics.benchmark_releases WHERE released AND period_start = '$BM0'")"
	check "benchmarks: every row as stored in benchmark_releases" "$stored_bm" \
		"$(echo "$shown_bm" | cut -d'|' -f1-7)"
	raw_conv=$(q "
		SELECT round(count(*) FILTER (WHERE event_type = 'order')::numeric
		             / nullif(count(*) FILTER (WHERE event_type = 'session_start'), 0), 4)
		FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
		WHERE e.seller_id = $SID AND seller_analytics.local_day(e.occurred_at, s.time_zone) BETWEEN '$BM0' AND '$BM1'" | norm)
	check "benchmarks: the seller's own conversion rate as recomputed from raw events" "$raw_conv" \
		"$(echo "$shown_bm" | awk -F'|' '$1 == "conversion_rate" { print $8 }' | sort -u)"
	check "benchmarks: eight summaries in words" 8 "$(grep -c '^Sellers in ' "$work/demo.out")"
	png=$(find "$work/out" -name 'conversion-seller-*.png' | head -1)
	check "the chart's PNG" PNG "$(head -c 4 "$png" 2>/dev/null | tail -c 3)"
	check "the chart in the terminal" t "$(grep -q "seller $SID's weekly conversion rate" "$work/demo.out" && echo t || echo f)"
fi

# --- 5. the last figures ------------------------------------------------------------------
check "verify_rollups printed no row" 1 "$(grep -c '^verify_rollups(.*): 0 rows' "$work/demo.out")"
check "the figures' events are the table's" "$(q 'SELECT count(*) FROM seller_analytics.events')" "$(fig events)"
check "the latency comes from requests that ran" t "$(awk -v n="$(fig requests)" 'BEGIN { print (n > 0 ? "t" : "f") }')"

echo "demo: $failures failed check(s)"
[ "$failures" -eq 0 ]
