#!/usr/bin/env bash
# A first look at seller_analytics; `make demo` runs it.
#
# Installs the Debian packages it needs when they are missing, builds and
# installs the extension, then in a throw-away cluster (pg_virtualenv):
#
#   - generates 3 M orders for 300 sellers, each seller with its own
#     lognormal distribution of order values and its own volume
#   - builds one percentile sketch per seller (percentile_agg, GROUP BY)
#   - prints p50, p90 and p99 of a few sellers from their sketches beside the
#     exact percentile_disc answers, and the overall percentiles from the
#     merge of the 300 sketches (percentile_merge) beside the exact ones
#   - prints how long each approach took
#   - part two: loads 600 000 events of 1 000 sellers in five time zones
#     through the capture trigger, shows a seller's live daily metrics and
#     traffic sources before any compaction, a late event, a replay and a
#     correction, compacts, checks verify_rollups, and times a 90-day
#     dashboard from the views against the same answer from raw events;
#     then a seller's own login role reads the views and sees that seller
#     only, and the application's pool role sees the seller it names
#
# Under a minute.  Environment: PG_CONFIG (default: PostgreSQL 15's
# pg_config), JOBS (parallel make jobs).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

demo() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE demo'
	psql -X -q -v ON_ERROR_STOP=1 -d demo <<-'SQL'
		\pset footer off
		\pset null '-'
		\echo
		\echo '== seller_analytics demo: percentiles of order values per seller'
		\echo
		CREATE EXTENSION seller_analytics;      -- in schema seller_analytics
		SET search_path = public, seller_analytics;

		-- 300 sellers: the log of an order value is normal with mean mu and
		-- standard deviation sigma, different for every seller
		SELECT setseed(0.42) \gset
		CREATE TABLE sellers AS
		SELECT seller_id,
			   2.5 + 3 * random() AS mu,         -- typical order: $12 to $245
			   0.3 + random() AS sigma           -- narrow to very spread out
		FROM generate_series(1, 300) AS seller_id;

		-- 3 M orders; seller 1 has the most (about 170 000), seller 300 the
		-- fewest (about 5 000).  The normal variate is Box-Muller's.
		CREATE TABLE orders AS
		SELECT o.order_id, o.seller_id,
			   greatest(0.01, round(exp(s.mu + s.sigma *
					sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()))::numeric, 2))::numeric(12, 2)
				   AS amount
		FROM (SELECT order_id, floor(300 * random() ^ 2)::int + 1 AS seller_id
			  FROM generate_series(1, 3000000) AS order_id) o
		JOIN sellers s USING (seller_id);
		VACUUM (FREEZE, ANALYZE) orders;

		SELECT count(*) AS orders, count(DISTINCT seller_id) AS sellers,
			   min(amount), max(amount), pg_size_pretty(pg_table_size('orders')) AS table_size
		FROM orders;

		\echo '-- 1. one sketch per seller, in one pass over the orders:'
		\echo '--    CREATE TABLE seller_sketch AS'
		\echo '--    SELECT seller_id, percentile_agg(amount) AS sketch FROM orders GROUP BY seller_id;'
		SELECT clock_timestamp() AS t0 \gset
		CREATE TABLE seller_sketch AS
		SELECT seller_id, percentile_agg(amount) AS sketch FROM orders GROUP BY seller_id;
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) AS ms_build \gset

		SELECT count(*) AS sketches,
			   round(avg(pg_column_size(sketch))) AS avg_bytes,
			   pg_size_pretty(sum(pg_column_size(sketch))) AS all_sketches,
			   round((100 * max(sketch_relative_error(sketch)))::numeric, 3) || ' %' AS guaranteed_max_error
		FROM seller_sketch \gset
		SELECT :sketches AS sketches, :avg_bytes AS avg_bytes, :'all_sketches' AS all_sketches,
			   :'guaranteed_max_error' AS guaranteed_max_error;

		\echo '-- 2. percentiles of every seller from the stored sketches:'
		\echo '--    SELECT seller_id, approx_percentile(sketch, ARRAY[0.5, 0.9, 0.99]) FROM seller_sketch;'
		SELECT clock_timestamp() AS t0 \gset
		CREATE TEMP TABLE seller_approx AS
		SELECT seller_id, approx_percentile(sketch, ARRAY[0.5, 0.9, 0.99]) AS p FROM seller_sketch;
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) AS ms_read \gset

		\echo '-- 3. the exact answers, for comparison (sorts the orders of every seller):'
		\echo '--    SELECT seller_id, percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY amount)'
		\echo '--    FROM orders GROUP BY seller_id;'
		SELECT clock_timestamp() AS t0 \gset
		CREATE TEMP TABLE seller_exact AS
		SELECT seller_id, percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY amount) AS p
		FROM orders GROUP BY seller_id;
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) AS ms_exact \gset

		\echo '== eight sellers: sketch and exact percentile_disc'
		SELECT seller_id AS seller,
			   (SELECT sketch_count(sketch) FROM seller_sketch k WHERE k.seller_id = a.seller_id) AS orders,
			   'p' || (100 * q)::int AS pct,
			   round(approx::numeric, 2) AS sketch,
			   exact,
			   round((100 * abs(approx - exact::float8) / exact::float8)::numeric, 3) || ' %' AS rel_error
		FROM seller_approx a
		JOIN seller_exact e USING (seller_id),
			 unnest(ARRAY[0.5, 0.9, 0.99], a.p, e.p) AS u(q, approx, exact)
		WHERE seller_id IN (1, 7, 42, 99, 150, 211, 256, 300)
		ORDER BY seller_id, q;

		SELECT count(*) AS percentiles_compared,
			   round((100 * max(abs(approx - exact::float8) / exact::float8))::numeric, 3) || ' %' AS max_rel_error,
			   round((100 * avg(abs(approx - exact::float8) / exact::float8))::numeric, 3) || ' %' AS mean_rel_error
		FROM seller_approx a
		JOIN seller_exact e USING (seller_id),
			 unnest(a.p, e.p) AS u(approx, exact);
		\echo '(all 300 sellers x 3 percentiles)'
		\echo

		\echo '== all orders: the merge of the 300 seller sketches, and the exact answer'
		\echo '--    SELECT approx_percentile(percentile_merge(sketch), ARRAY[0.5, 0.9, 0.99]) FROM seller_sketch;'
		SELECT clock_timestamp() AS t0 \gset
		SELECT approx_percentile(percentile_merge(sketch), ARRAY[0.5, 0.9, 0.99]) AS overall_approx
		FROM seller_sketch \gset
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) AS ms_merge \gset
		\echo '--    SELECT percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY amount) FROM orders;'
		SELECT clock_timestamp() AS t0 \gset
		SELECT percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY amount) AS overall_exact
		FROM orders \gset
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) AS ms_overall \gset

		SELECT 'p' || (100 * q)::int AS pct,
			   round(approx::numeric, 2) AS merged_sketches,
			   exact,
			   round((100 * abs(approx - exact::float8) / exact::float8)::numeric, 3) || ' %' AS rel_error
		FROM unnest(ARRAY[0.5, 0.9, 0.99], :'overall_approx'::float8[], :'overall_exact'::numeric[])
			AS u(q, approx, exact);

		\echo '== time taken (ms)'
		SELECT what, ms FROM (VALUES
			('sketches:  one per seller, GROUP BY over 3 M orders', :ms_build),
			('sketches:  p50/p90/p99 of all 300 sellers from the sketches', :ms_read),
			('sketches:  overall p50/p90/p99, merging the 300 sketches', :ms_merge),
			('exact:     percentile_disc per seller, GROUP BY over 3 M orders', :ms_exact),
			('exact:     percentile_disc overall, over 3 M orders', :ms_overall)) AS t(what, ms);
		\echo 'The sketches are built once and kept:' :all_sketches 'for the 300 sellers here, against'
		SELECT pg_size_pretty(pg_table_size('orders')) AS orders_size \gset
		\echo :orders_size 'of orders.  Any percentile of any seller, or of any set of sellers'
		\echo 'merged, then comes from them without reading the orders again, within'
		\echo :guaranteed_max_error 'of the exact percentile_disc.'
		\echo
	SQL
}

# Part two: events in, live per-seller metrics out.
demo_live() {
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE demo_live'
	psql -X -q -v ON_ERROR_STOP=1 -d demo_live <<-'SQL'
		\pset footer off
		\pset null '-'
		\echo
		\echo '== seller_analytics demo, part two: events in, live metrics out'
		\echo
		CREATE EXTENSION seller_analytics;
		SET search_path = seller_analytics, public;
		SELECT setseed(0.17) \gset

		-- 1 000 sellers in five time zones
		INSERT INTO sellers (seller_id, name, category, region, time_zone)
		SELECT i, 'seller ' || i, (ARRAY['shoes', 'books', 'toys'])[1 + i % 3],
			   (ARRAY['eu', 'us', 'apac'])[1 + i % 3],
			   (ARRAY['Europe/Berlin', 'America/New_York', 'Asia/Kolkata',
					  'America/Los_Angeles', 'UTC'])[1 + i % 5]
		FROM generate_series(1, 1000) AS i;

		\echo '-- 1. 30 days of events for 1 000 sellers, loaded in batches of 10 000'
		\echo '--    rows (INSERT ... ON CONFLICT DO NOTHING) through the capture trigger'
		SELECT clock_timestamp() AS t0 \gset
		SELECT format($f$
			INSERT INTO events
			SELECT s, 'ev-' || n, t,
				   timestamptz '2026-10-01 00:00+00' + random() * interval '30 days',
				   'sess-' || (n / 5), (ARRAY['direct', 'search', 'social', 'email', 'ads'])[1 + floor(random() ^ 2 * 5)::int],
				   CASE WHEN t IN ('order', 'refund') THEN round((5 + 200 * random() ^ 3)::numeric, 2) END,
				   CASE WHEN t = 'order' THEN 1 + floor(3 * random() ^ 4)::int END
			FROM (SELECT n, 1 + floor(1000 * random() ^ 1.5)::int AS s,
						 (ARRAY['session_start', 'page_view', 'page_view', 'page_view', 'page_view',
								'page_view', 'add_to_cart', 'order', 'session_start', 'refund'])
							 [1 + floor(10 * random() ^ 1.2)::int] AS t
				  FROM generate_series(%s, %s) AS n) g
			ON CONFLICT DO NOTHING$f$, b * 10000 + 1, b * 10000 + 10000)
		FROM generate_series(0, 59) AS b \gexec
		SELECT round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 1) AS s_load \gset
		SELECT count(*) AS events, (SELECT count(*) FROM pending_deltas) AS pending_rows
		FROM events;
		\echo 'loaded in' :s_load 's; nothing compacted yet, yet every event already counts:'
		\echo

		\echo '== seller 42, last 7 days, live (SELECT ... FROM seller_daily_metrics)'
		SELECT day, sessions, page_views, add_to_carts, orders, revenue,
			   round(100 * conversion_rate, 1) || ' %' AS conversion,
			   round(avg_order_value, 2) AS avg_order,
			   round(approx_percentile(order_value, 0.9)::numeric, 2) AS p90_order
		FROM seller_daily_metrics
		WHERE seller_id = 42 AND day BETWEEN date '2026-10-24' AND date '2026-10-30'
		ORDER BY day;

		\echo '== seller 42 by traffic source, whole month (seller_daily_traffic)'
		SELECT traffic_source, sum(sessions) AS sessions, sum(orders) AS orders,
			   sum(revenue) AS revenue,
			   round(100.0 * sum(orders) / nullif(sum(sessions), 0), 1) || ' %' AS conversion
		FROM seller_daily_traffic
		WHERE seller_id = 42
		GROUP BY traffic_source ORDER BY revenue DESC;

		\echo '-- 2. a late event, a replay and a correction: live at commit'
		INSERT INTO events VALUES (42, 'late-1', 'order', '2026-10-02 10:00+00', NULL, 'email', 99.50, 1)
		ON CONFLICT DO NOTHING;
		INSERT INTO events VALUES (42, 'late-1', 'order', '2026-10-02 10:00+00', NULL, 'email', 99.50, 1)
		ON CONFLICT DO NOTHING;
		UPDATE events SET amount = 89.50 WHERE seller_id = 42 AND event_id = 'late-1';
		SELECT day, orders, revenue FROM seller_daily_metrics
		WHERE seller_id = 42 AND day = (SELECT local_day('2026-10-02 10:00+00', 'America/Los_Angeles'));

		\echo '-- 3. compaction folds the pending changes into the metric tables'
		\echo '--    (pg_cron runs it every minute: SELECT seller_analytics.schedule_jobs())'
		SELECT * FROM compact();
		SELECT count(*) AS verify_rollups_rows FROM verify_rollups('2026-09-01', '2026-11-30');
		\echo '(no difference between the live views and a recomputation from raw events)'
		\echo

		\echo '-- 4. the same 90-day dashboard, from the views and from raw events:'
		SELECT clock_timestamp() AS t0 \gset
		SELECT sum(orders) AS orders, sum(revenue) AS revenue,
			   round(approx_percentile(percentile_merge(order_value), 0.5)::numeric, 2) AS p50,
			   round(approx_percentile(percentile_merge(order_value), 0.9)::numeric, 2) AS p90
		FROM seller_daily_metrics
		WHERE seller_id = 42 AND day BETWEEN date '2026-09-01' AND date '2026-11-29';
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 2) AS ms_views \gset
		SELECT clock_timestamp() AS t0 \gset
		SELECT count(*) AS orders, sum(e.amount) AS revenue,
			   percentile_disc(0.5) WITHIN GROUP (ORDER BY e.amount) AS p50_exact,
			   percentile_disc(0.9) WITHIN GROUP (ORDER BY e.amount) AS p90_exact
		FROM events e JOIN sellers s USING (seller_id)
		WHERE e.seller_id = 42 AND e.event_type = 'order'
		  AND local_day(e.occurred_at, s.time_zone) BETWEEN date '2026-09-01' AND date '2026-11-29';
		SELECT round(1000 * extract(epoch FROM clock_timestamp() - :'t0'::timestamptz), 2) AS ms_raw \gset
		\echo 'views:' :ms_views 'ms; raw events:' :ms_raw 'ms (bench/ingest measures this at scale)'
		\echo

		\echo '-- 5. each seller sees its own rows only (row-level security, doc/security.md)'
		\echo '--    CREATE ROLE seller_42_bi LOGIN; SELECT assign_seller_role(''seller_42_bi'', 42);'
		CREATE ROLE seller_42_bi LOGIN;
		SELECT assign_seller_role('seller_42_bi', 42);
		CREATE ROLE shop_app LOGIN;
		GRANT seller_analytics_app TO shop_app;
		SET SESSION AUTHORIZATION seller_42_bi;
		\echo '== logged in as seller_42_bi: the whole view, no filter'
		SELECT current_seller_id(), count(DISTINCT seller_id) AS sellers_seen,
			   count(*) AS days, sum(orders) AS orders
		FROM seller_daily_metrics;
		\echo '== seller_42_bi asks for seller 7, then tries to become seller 7'
		SELECT count(*) AS rows_of_seller_7 FROM seller_daily_metrics WHERE seller_id = 7;
		\set ON_ERROR_STOP 0
		SET seller_analytics.seller_id = 7;
		\set ON_ERROR_STOP 1
		RESET SESSION AUTHORIZATION;
		SET SESSION AUTHORIZATION shop_app;
		\echo '== the application pool: no seller named, no rows; SET LOCAL names one'
		SELECT count(*) AS rows_without_a_seller FROM seller_daily_metrics;
		BEGIN;
		SET LOCAL seller_analytics.seller_id = 7;
		SELECT current_seller_id(), count(DISTINCT seller_id) AS sellers_seen, sum(orders) AS orders
		FROM seller_daily_metrics;
		COMMIT;
		RESET SESSION AUTHORIZATION;
		\echo

		\echo '== private cohort figures: noisy aggregates, paid from a privacy budget'
		\echo '-- each seller once (its average order value over the month), a row per category;'
		\echo '-- the noisy figures change from run to run, and each costs epsilon 0.5'
		SELECT create_privacy_budget('demo_q4', 5);
		SET seller_analytics.privacy_budget = 'demo_q4';
		WITH per_seller AS (
			SELECT s.category, m.seller_id,
				   sum(m.revenue) / nullif(sum(m.orders), 0) AS avg_order
			FROM seller_daily_metrics m JOIN sellers s USING (seller_id)
			GROUP BY s.category, m.seller_id)
		SELECT category,
			   noisy_count(seller_id, 0.5) AS sellers, count(*) AS exact_sellers,
			   round(noisy_avg(seller_id, avg_order, 0, 250, 0.5)::numeric, 2) AS avg_order,
			   round(avg(least(greatest(avg_order, 0), 250))::numeric, 2) AS exact_avg_order
		FROM per_seller WHERE avg_order IS NOT NULL
		GROUP BY category ORDER BY category;
		\echo '-- what was spent: 3 categories x 2 aggregates x 0.5'
		SELECT privacy_budget_remaining('demo_q4') AS epsilon_left,
			   count(*) AS debits, sum(units) AS units
		FROM privacy_ledger WHERE budget = 'demo_q4';
		\echo '-- and when it runs out, nothing more is released (SQLSTATE DP001)'
		\set ON_ERROR_STOP 0
		SELECT noisy_count(2.5) FROM sellers;
		\set ON_ERROR_STOP 1
		\echo
	SQL
}

if [ "${1:-}" = "--in-virtualenv" ]; then
	demo
	demo_live
	exit 0
fi

bench_section "packages"
bench_packages "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	postgresql-common make gcc
bench_section "build and install"
bench_build_install
bench_section "demo (pg_virtualenv, a throw-away cluster)"
bench_virtualenv bash "$HERE/demo.sh" --in-virtualenv
bench_section "done"
