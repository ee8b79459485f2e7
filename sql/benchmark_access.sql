--
-- Cohort benchmarks: who reads what.  A seller, through its own login or
-- through the application with its tenant setting (SET LOCAL), reads the
-- released figures of every cohort and its own values, and nothing of any
-- other seller; reading spends nothing and returns the same rows every
-- time.  Analysts read the releases and the log, never a seller's value.
-- Nobody but the owner publishes.
--
-- Noisy figures differ at every run: the test prints what is certain and
-- checks the rest.  The SQLSTATE of each error is printed after it.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS seller_analytics;
CREATE EXTENSION seller_analytics;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'ba\_%' LOOP
        EXECUTE format('DROP OWNED BY %I', r.rolname);
        EXECUTE format('DROP ROLE %I', r.rolname);
    END LOOP;
END
$$;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE ROLE ba_seller7 LOGIN;
CREATE ROLE ba_seller8 LOGIN;
CREATE ROLE ba_seller9 LOGIN;
CREATE ROLE ba_app LOGIN IN ROLE seller_analytics_app;
CREATE ROLE ba_analyst LOGIN IN ROLE seller_analytics_analyst;

INSERT INTO seller_analytics.sellers (seller_id, category, region, product_type)
SELECT g, (ARRAY['Electronics', 'Home', 'Toys'])[1 + g % 3], (ARRAY['EU', 'US'])[1 + g % 2],
       (ARRAY['new', 'used'])[1 + (g / 6) % 2]
FROM generate_series(1, 600) g;
-- a seller alone in its category
INSERT INTO seller_analytics.sellers (seller_id, category, region, product_type)
VALUES (601, 'Garden', 'EU', 'new');
INSERT INTO seller_analytics.daily_metrics (seller_id, day, sessions, orders, revenue, refunds)
SELECT s, d::date, 100 + s % 7, 1 + s % 5, (1 + s % 5) * (20 + s % 50), s % 2
FROM generate_series(1, 601) s,
     generate_series(date '2026-09-01', date '2026-10-31', interval '1 day') d;
SELECT seller_analytics.declare_public_taxonomy() AS declared;
SELECT seller_analytics.assign_seller_role('ba_seller7', 7);
SELECT seller_analytics.assign_seller_role('ba_seller8', 8);
SELECT seller_analytics.publish_benchmarks('2026-09-01', '2026-09-30') > 0 AS september,
       seller_analytics.publish_benchmarks('2026-10-01', '2026-10-31') > 0 AS october,
       seller_analytics.publish_benchmarks('2026-10-05', '2026-10-11') > 0 AS week_41,
       seller_analytics.publish_benchmarks('2026-10-12', '2026-10-18') > 0 AS week_42;

-- what seller 7's own values are (read here as the owner would)
CREATE TABLE own_values AS
SELECT t.seller_id, m.metric,
       seller_analytics.benchmark_value(m.metric, t.sessions, t.orders, t.revenue, t.refunds) AS value
FROM (SELECT seller_id, sum(sessions)::numeric AS sessions, sum(orders)::numeric AS orders,
             sum(revenue) AS revenue, sum(refunds)::numeric AS refunds
      FROM seller_analytics.daily_metrics WHERE day BETWEEN '2026-10-01' AND '2026-10-31'
      GROUP BY seller_id) t
CROSS JOIN seller_analytics.benchmark_metrics m;
GRANT SELECT ON own_values TO PUBLIC;

-- my_benchmarks reads as its caller (row-level security applies)
SELECT p.proname, p.prosecdef
FROM pg_proc p WHERE p.proname IN ('my_benchmarks', 'my_benchmark_history') ORDER BY 1;

--
-- A seller's login: the latest month, four cohorts per metric
--
SET SESSION AUTHORIZATION ba_seller7;
SELECT metric, cohort, period_start, period_end, cohort_sellers IS NOT NULL AS released,
       my_value = (SELECT o.value FROM own_values o
                   WHERE o.seller_id = 7 AND o.metric = b.metric) AS my_value_is_mine,
       my_percentile BETWEEN 0 AND 100 AS percentile_ok,
       regexp_replace(regexp_replace(summary, '[0-9]+(st|nd|rd|th) percentile', 'Nth percentile'),
                      '[0-9]+(\.[0-9]+)?', '#', 'g') AS summary
FROM seller_analytics.my_benchmarks() b;
-- the numbers of a summary are the row's
SELECT count(*) AS rows,
       count(*) FILTER (WHERE summary LIKE '%' || round((cohort_average * 100)::numeric, 1)::text || ' %'
                          AND summary LIKE '%' || round(my_percentile)::integer::text || '%percentile.')
           AS consistent
FROM seller_analytics.my_benchmarks()
WHERE metric = 'conversion_rate';
-- another period, by its start or both ends; unknown periods: nothing
SELECT period_start, period_end, count(*) FROM seller_analytics.my_benchmarks('2026-09-01')
GROUP BY 1, 2;
SELECT period_start, period_end, count(*) FROM seller_analytics.my_benchmarks('2026-10-05', '2026-10-11')
GROUP BY 1, 2;
SELECT count(*) FROM seller_analytics.my_benchmarks('2026-08-01', '2026-08-31');
-- the weekly band: the caller's weekly value beside each cohort's quartiles
SELECT period_start, period_end, cohort, round(my_value::numeric, 4) AS my_value,
       NOT released OR (cohort_p25 <= cohort_p50 AND cohort_p50 <= cohort_p75) AS ordered
FROM seller_analytics.my_benchmark_history('conversion_rate', 4);
SELECT count(*) FROM seller_analytics.my_benchmark_history('conversion_rate', 1);
SELECT * FROM seller_analytics.my_benchmark_history('nothing');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM seller_analytics.my_benchmark_history('orders', 0);
\echo :LAST_ERROR_SQLSTATE

-- released figures of every cohort are public; nothing else is
SELECT count(*) AS releases, count(DISTINCT cohort) AS cohorts
FROM seller_analytics.benchmark_releases;
SELECT count(*) AS own_rows, min(seller_id) AS seller FROM seller_analytics.daily_metrics;
SELECT count(*) FROM seller_analytics.benchmark_publications;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM seller_analytics.privacy_ledger;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.publish_benchmarks('2026-08-01', '2026-08-31');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.benchmark_noisy_count(1, 1);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budgets(ARRAY['x'], ARRAY[1]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.declare_public_taxonomy();
\echo :LAST_ERROR_SQLSTATE
UPDATE seller_analytics.benchmark_releases SET cohort_average = 0;
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;

-- a seller alone in its category: that cohort says why it has no figures
SELECT seller_analytics.assign_seller_role('ba_seller9', 601);
SET SESSION AUTHORIZATION ba_seller9;
SELECT cohort, cohort_sellers, cohort_average, my_value IS NOT NULL AS has_value, summary
FROM seller_analytics.my_benchmarks()
WHERE metric = 'conversion_rate' AND cohort LIKE 'category=Garden%';
RESET SESSION AUTHORIZATION;

--
-- The application: SET LOCAL names the seller for one transaction
--
SET SESSION AUTHORIZATION ba_seller7;
CREATE TEMP TABLE login_rows AS SELECT * FROM seller_analytics.my_benchmarks();
RESET SESSION AUTHORIZATION;
GRANT SELECT ON login_rows TO ba_app;
SET SESSION AUTHORIZATION ba_app;
BEGIN;
SET LOCAL seller_analytics.seller_id = '7';
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (a.*)::text = (l.*)::text) AS same_as_login
FROM seller_analytics.my_benchmarks() a
JOIN login_rows l USING (metric, cohort);
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = '8';
SELECT count(*) AS rows,
       count(*) FILTER (WHERE b.my_value = (SELECT o.value FROM own_values o
                                            WHERE o.seller_id = 8 AND o.metric = b.metric)) AS mine,
       count(*) FILTER (WHERE b.my_value = (SELECT o.value FROM own_values o
                                            WHERE o.seller_id = 7 AND o.metric = b.metric)
                          AND b.metric = 'orders') AS sevens_orders
FROM seller_analytics.my_benchmarks() b;
COMMIT;
-- no seller named: no rows
SELECT count(*) FROM seller_analytics.my_benchmarks();
SELECT seller_analytics.publish_benchmarks('2026-08-01', '2026-08-31');
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;

--
-- An analyst: the releases and the log, no seller's value
--
SET SESSION AUTHORIZATION ba_analyst;
SELECT count(*) > 0 AS reads_releases FROM seller_analytics.benchmark_releases;
SELECT period_start, status FROM seller_analytics.benchmark_publications ORDER BY id;
SELECT * FROM seller_analytics.my_benchmarks();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM seller_analytics.my_benchmark_history('orders');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM seller_analytics.daily_metrics;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.publish_benchmarks('2026-08-01', '2026-08-31');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.benchmark_release_probability(30, 0.5, 31) > 0.3 AS public_arithmetic;
RESET SESSION AUTHORIZATION;

--
-- 10,000 reads: the same rows every time, and not one unit spent
--
CREATE TEMP TABLE spent_before AS
SELECT (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) AS spent,
       (SELECT count(*) FROM seller_analytics.privacy_ledger) AS ledger_rows,
       (SELECT count(*) FROM seller_analytics.benchmark_publications) AS publications;
SET SESSION AUTHORIZATION ba_seller7;
DO $$
DECLARE
    first text;
    this text;
    differ integer := 0;
BEGIN
    SELECT string_agg(b::text, '|') INTO first FROM seller_analytics.my_benchmarks() b;
    FOR i IN 1 .. 10000 LOOP
        SELECT string_agg(b::text, '|') INTO this FROM seller_analytics.my_benchmarks() b;
        IF this IS DISTINCT FROM first THEN
            differ := differ + 1;
        END IF;
    END LOOP;
    RAISE NOTICE '10000 reads, % differ from the first', differ;
END
$$;
RESET SESSION AUTHORIZATION;
SELECT (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) = b.spent AS same_spent,
       (SELECT count(*) FROM seller_analytics.privacy_ledger) = b.ledger_rows AS same_ledger,
       (SELECT count(*) FROM seller_analytics.benchmark_publications) = b.publications AS no_publication
FROM spent_before b;
DROP TABLE own_values;
