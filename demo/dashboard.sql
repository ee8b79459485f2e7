-- demo/dashboard.sql: a seller's dashboard, as the seller's own login reads
-- it (row-level security picks the seller: no seller filter here).
-- psql variables: d0, d1 (the days shown), benchmarks (t when the cohort
-- benchmarks exist), bm0 and bm1 (their period).  demo/session.sh also times the queries between
-- "request" and "end of request" with pgbench, one line each.
\pset footer off
\pset null '-'
\echo
\echo '-- sales, orders, sessions and conversion, last 14 days (seller_daily_metrics: live)'
-- request
SELECT day, revenue AS sales, orders, sessions, round(100 * conversion_rate, 2) AS "conversion %", refunds, round(avg_order_value, 2) AS "avg order" FROM seller_analytics.seller_daily_metrics WHERE day BETWEEN :'d0' AND :'d1' ORDER BY day;
\echo '-- traffic sources, the same 14 days (seller_daily_traffic)'
SELECT traffic_source AS source, sum(sessions) AS sessions, sum(orders) AS orders, sum(revenue) AS sales, round(100 * sum(orders) / nullif(sum(sessions), 0), 2) AS "conversion %" FROM seller_analytics.seller_daily_traffic WHERE day BETWEEN :'d0' AND :'d1' GROUP BY traffic_source ORDER BY sessions DESC, source;
\echo '-- order value p50 / p90 / p99, the same 14 days (percentile sketches, merged)'
SELECT count(*) FILTER (WHERE orders > 0) AS "days with orders", sum(orders) AS orders, round(seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), 0.5)::numeric, 2) AS p50, round(seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), 0.9)::numeric, 2) AS p90, round(seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), 0.99)::numeric, 2) AS p99 FROM seller_analytics.seller_daily_metrics WHERE day BETWEEN :'d0' AND :'d1';
-- end of request
\if :benchmarks
\echo '-- my benchmarks,' :bm0 'to' :bm1 '(my_benchmarks(): figures released with differential privacy, beside mine)'
SELECT metric, cohort, period_start AS "from", period_end AS "to", cohort_sellers AS sellers, round(cohort_average::numeric, 4) AS average, round(cohort_p50::numeric, 4) AS median, round(my_value::numeric, 4) AS mine, my_percentile AS "my pct" FROM seller_analytics.my_benchmarks(:'bm0', :'bm1') ORDER BY metric, cohort;
\echo '-- in words'
\pset format unaligned
\pset tuples_only on
SELECT summary FROM seller_analytics.my_benchmarks(:'bm0', :'bm1') WHERE metric IN ('conversion_rate', 'average_order_value');
\pset format aligned
\pset tuples_only off
\endif
