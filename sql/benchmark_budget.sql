--
-- Cohort benchmarks and the privacy budget: one budget per calendar year
-- and finest cell (category x region x product type).  A cohort's release
-- charges every cell it covers, so overlapping cohorts add up in the cells
-- they share and disjoint ones do not; a cell without room stops exactly the
-- cohorts that cover it, logged, while the others publish; a publication
-- that fails after its debit keeps the debit and releases nothing.
--
-- The ledger is append-only, so the test starts from a new extension.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS seller_analytics;
CREATE EXTENSION seller_analytics;
RESET client_min_messages;
\set SHOW_CONTEXT never

INSERT INTO seller_analytics.sellers (seller_id, category, region, product_type)
SELECT g, (ARRAY['Electronics', 'Home', 'Toys'])[1 + g % 3], (ARRAY['EU', 'US'])[1 + g % 2],
       (ARRAY['new', 'used'])[1 + (g / 6) % 2]
FROM generate_series(1, 600) g;
INSERT INTO seller_analytics.daily_metrics (seller_id, day, sessions, orders, revenue, refunds)
SELECT s, d::date, 100, 1 + s % 5, (1 + s % 5) * 30, 0
FROM generate_series(1, 600) s,
     generate_series(date '2025-01-01', date '2026-12-31', interval '1 month') d;
SELECT seller_analytics.declare_public_taxonomy() AS declared;

-- a month's release of one cohort costs 4 epsilon (benchmark_publications
-- shows it), so a cell covered by four cohorts is charged 16
CREATE VIEW cell_charges AS
SELECT c.category, c.region, c.product_type, l.publication,
       sum(l.units) / 1e9 AS epsilon
FROM (SELECT x.budget, x.units,
             (SELECT max(p.id) FROM seller_analytics.benchmark_publications p
              WHERE p.started_at <= x.at) AS publication
      FROM seller_analytics.privacy_ledger x) l
JOIN (SELECT c.value AS category, r.value AS region, p.value AS product_type
      FROM seller_analytics.benchmark_taxonomy c, seller_analytics.benchmark_taxonomy r,
           seller_analytics.benchmark_taxonomy p
      WHERE c.dimension = 'category' AND r.dimension = 'region'
        AND p.dimension = 'product_type') c
  ON l.budget = seller_analytics.benchmark_cell_budget(2026, c.category, c.region, c.product_type)
GROUP BY 1, 2, 3, 4;

--
-- The batch debit on its own: every budget or none
--
SELECT seller_analytics.spend_privacy_budgets(ARRAY['bb_a', 'bb_b'], ARRAY[5, 7]::bigint[], 1.0);
SELECT name, total_units, spent_units FROM seller_analytics.privacy_budgets ORDER BY name;
-- one of them short: an error, and nothing spent from the other
SELECT seller_analytics.spend_privacy_budgets(ARRAY['bb_a', 'bb_b'], ARRAY[5, 999999999]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT name, total_units, spent_units FROM seller_analytics.privacy_budgets ORDER BY name;
SELECT seller_analytics.spend_privacy_budgets(ARRAY['bb_a', 'bb_missing'], ARRAY[1, 1]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budgets(ARRAY['bb_a', 'bb_a'], ARRAY[1, 1]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budgets(ARRAY['bb_a'], ARRAY[0]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budgets(ARRAY['bb_a'], ARRAY[1, 2]::bigint[]);
\echo :LAST_ERROR_SQLSTATE
SELECT budget, units, epsilon FROM seller_analytics.privacy_ledger ORDER BY id;

--
-- One cell nearly spent: (Toys, US, used) has 10 epsilon left of 420
--
SELECT seller_analytics.spend_privacy_budgets(
           ARRAY[seller_analytics.benchmark_cell_budget(2026, 'Toys', 'US', 'used')],
           ARRAY[410000000000]::bigint[], 420) AS units;
SELECT seller_analytics.publish_benchmarks('2026-10-01', '2026-10-31') > 0 AS published;
-- exactly the four cohorts that cover it are stopped, each metric saying why
SELECT cohort, count(*) AS metrics, min(reason) AS reason
FROM seller_analytics.benchmark_releases WHERE reason = 'no privacy budget left'
GROUP BY cohort ORDER BY cohort;
SELECT cohorts, cohorts_skipped, cohort_epsilon, cells_charged, max_cell_epsilon,
       jsonb_path_query_array(skipped, '$[*] ? (@.reason like_regex "budget").cohort') AS no_budget
FROM seller_analytics.benchmark_publications ORDER BY id DESC LIMIT 1;
-- each cell is charged 4 per published cohort covering it: 16 where all
-- four published (overlapping cohorts add up), less where some were
-- stopped; cohorts of other categories never charge a cell of Toys, nor
-- those of EU a cell of US (disjoint cohorts); the short cell: nothing
SELECT category, region, product_type, epsilon
FROM cell_charges WHERE publication = (SELECT max(id) FROM seller_analytics.benchmark_publications)
ORDER BY 1, 2, 3;
SELECT seller_analytics.privacy_budget_remaining(
           seller_analytics.benchmark_cell_budget(2026, 'Toys', 'US', 'used')) AS short_cell_left;

-- the next month: the same cell, the same four cohorts
SELECT seller_analytics.publish_benchmarks('2026-09-01', '2026-09-30') > 0 AS published;
SELECT jsonb_path_query_array(skipped, '$[*] ? (@.reason like_regex "budget").cohort') AS no_budget
FROM seller_analytics.benchmark_publications ORDER BY id DESC LIMIT 1;

--
-- A year whose cells hold one month: the second month publishes nothing,
-- spends nothing and says why
--
UPDATE seller_analytics.benchmark_settings SET cell_budget_per_year = 20;
SELECT seller_analytics.publish_benchmarks('2025-01-01', '2025-01-31') > 0 AS published;
SELECT seller_analytics.publish_benchmarks('2025-02-01', '2025-02-28') AS released;
SELECT period_start, cohorts, cohorts_released, cohorts_skipped, cells_charged, units_spent,
       jsonb_array_length(skipped) AS skipped_logged, skipped -> 0 AS first
FROM seller_analytics.benchmark_publications ORDER BY id DESC LIMIT 1;
SELECT count(*) AS rows, count(*) FILTER (WHERE released) AS released,
       count(DISTINCT reason) AS reasons, min(reason) AS reason
FROM seller_analytics.benchmark_releases WHERE period_start = '2025-02-01';
SELECT count(*) AS budgets_2025, sum(spent_units) / 1e9 AS spent
FROM seller_analytics.privacy_budgets WHERE name LIKE 'benchmarks 2025 %';
UPDATE seller_analytics.benchmark_settings SET cell_budget_per_year = 420;

--
-- A publication that fails after its debit (an error, then a cancel):
-- the debit stays spent, as the ledger says, and nothing is released
--
CREATE FUNCTION fail_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'storage failed' USING ERRCODE = 'io_error';
END
$$;
CREATE TRIGGER fail_release BEFORE INSERT ON seller_analytics.benchmark_releases
    FOR EACH STATEMENT EXECUTE FUNCTION fail_release();
CREATE TEMP TABLE spent_before AS
SELECT sum(spent_units) AS spent, count(*) AS ledger_rows FROM seller_analytics.privacy_budgets,
       LATERAL (SELECT 1) x GROUP BY ();
UPDATE spent_before SET ledger_rows = (SELECT count(*) FROM seller_analytics.privacy_ledger);
SELECT seller_analytics.publish_benchmarks('2026-11-01', '2026-11-30');
\echo :LAST_ERROR_SQLSTATE
SELECT (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) - b.spent AS units_spent,
       (SELECT count(*) FROM seller_analytics.privacy_ledger) - b.ledger_rows AS ledger_rows,
       (SELECT count(*) FROM seller_analytics.benchmark_releases
        WHERE period_start = '2026-11-01') AS releases,
       (SELECT count(*) FROM seller_analytics.benchmark_publications
        WHERE period_start = '2026-11-01') AS logged
FROM spent_before b;
-- cancelled while storing: the same (statement_timeout cancels the sleep)
CREATE OR REPLACE FUNCTION fail_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_sleep(60);
    RETURN NULL;
END
$$;
UPDATE spent_before SET spent = (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets),
                        ledger_rows = (SELECT count(*) FROM seller_analytics.privacy_ledger);
SET statement_timeout = '5s';
SELECT seller_analytics.publish_benchmarks('2026-11-01', '2026-11-30');
\echo :LAST_ERROR_SQLSTATE
RESET statement_timeout;
SELECT (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) - b.spent AS units_spent,
       (SELECT count(*) FROM seller_analytics.privacy_ledger) - b.ledger_rows AS ledger_rows,
       (SELECT count(*) FROM seller_analytics.benchmark_releases
        WHERE period_start = '2026-11-01') AS releases
FROM spent_before b;
-- the ledger and the budgets agree, failures included
SELECT (SELECT sum(units) FROM seller_analytics.privacy_ledger)
     = (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) AS ledger_matches;
DROP TRIGGER fail_release ON seller_analytics.benchmark_releases;
-- published at last, spending again (what failed released nothing)
SELECT seller_analytics.publish_benchmarks('2026-11-01', '2026-11-30') > 0 AS published;
SELECT count(*) AS publications FROM seller_analytics.benchmark_publications
WHERE period_start = '2026-11-01';
