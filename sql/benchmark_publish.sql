--
-- Cohort benchmarks: publish_benchmarks() releases, for a closed week or
-- month, every cohort of the public taxonomy (released or not, and why),
-- after one batch debit of the cells it charges; a period published again
-- spends nothing and changes nothing; late events change nothing released.
--
-- Noisy figures are not printed (they differ at every run): the test
-- prints what follows from the public parameters and checks the rest.
-- The SQLSTATE of each error is printed after it (LAST_ERROR_SQLSTATE).
--
-- The ledger is append-only, so the test starts from a new extension.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS seller_analytics;
CREATE EXTENSION seller_analytics;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- 600 sellers: three categories x two regions x two product types, and a
-- fourth category (Garden) in the taxonomy with no seller; one more seller
-- whose category is not public belongs to no cohort
INSERT INTO seller_analytics.sellers (seller_id, category, region, product_type)
SELECT g, (ARRAY['Electronics', 'Home', 'Toys'])[1 + g % 3], (ARRAY['EU', 'US'])[1 + g % 2],
       (ARRAY['new', 'used'])[1 + (g / 6) % 2]
FROM generate_series(1, 600) g;
INSERT INTO seller_analytics.sellers (seller_id, category, region, product_type)
VALUES (601, 'Secret', 'EU', 'new');
-- September and October 2026: the same figures every day of both months
INSERT INTO seller_analytics.daily_metrics (seller_id, day, sessions, orders, revenue, refunds)
SELECT s, d::date, 100, 1 + s % 5, (1 + s % 5) * (20 + s % 50), s % 2
FROM generate_series(1, 601) s,
     generate_series(date '2026-09-01', date '2026-10-31', interval '1 day') d;

-- nothing public yet
SELECT seller_analytics.publish_benchmarks('2026-10-01', '2026-10-31');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.declare_public_taxonomy() AS declared;
DELETE FROM seller_analytics.benchmark_taxonomy WHERE value = 'Secret';
INSERT INTO seller_analytics.benchmark_taxonomy (dimension, value) VALUES ('category', 'Garden');
SELECT dimension, value FROM seller_analytics.benchmark_taxonomy ORDER BY 1, 2;

-- periods: a Monday-to-Sunday week or a calendar month, over everywhere
SELECT seller_analytics.publish_benchmarks('2026-10-01', '2026-10-30');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.publish_benchmarks('2026-10-06', '2026-10-12');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.publish_benchmarks(date_trunc('month', now())::date,
                                           (date_trunc('month', now()) + interval '1 month')::date - 1);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.publish_benchmarks(NULL, '2026-10-31');
\echo :LAST_ERROR_SQLSTATE
SELECT p.s, p.e, seller_analytics.benchmark_period_kind(p.s, p.e)
FROM (VALUES (date '2026-10-05', date '2026-10-11'), ('2026-10-01', '2026-10-31'),
             ('2026-02-01', '2026-02-28'), ('2024-02-01', '2024-02-29'),
             ('2026-10-01', '2026-10-07')) p(s, e);

-- the threshold at the defaults: a cohort needs a noisy count of 31 sellers
-- in a month (count epsilon 0.5), 110 in a week (0.125); fewer than 5 true
-- sellers are released with probability at most 1e-6
SELECT seller_analytics.benchmark_threshold(0.5, 5, 1e-6) AS month_threshold,
       seller_analytics.benchmark_threshold(0.125, 5, 1e-6) AS week_threshold;
SELECT k, seller_analytics.benchmark_release_probability(k, 0.5, 31) <= 1e-6 AS at_most_1e_6
FROM generate_series(1, 6) k;
SELECT k, round(seller_analytics.benchmark_release_probability(k, 0.5, 31)::numeric, 4) AS p
FROM (VALUES (20), (30), (31), (40)) v(k);

--
-- A month
--
SELECT seller_analytics.publish_benchmarks('2026-10-01', '2026-10-31') AS released;
-- one row per cohort and metric, empty or not: 4 + 2 + 2 + 4 x 2 cohorts
SELECT dimension_set, count(DISTINCT cohort) AS cohorts, count(*) AS rows,
       count(*) FILTER (WHERE released) AS released
FROM seller_analytics.benchmark_releases
GROUP BY dimension_set ORDER BY 1;
-- the empty cohorts have their rows, unreleased, without figures
SELECT cohort, metric, released, reason, cohort_sellers, cohort_average, cdf
FROM seller_analytics.benchmark_releases
WHERE category = 'Garden' AND metric = 'conversion_rate' ORDER BY cohort;
-- the released figures: counts near the truth (Electronics has 200
-- sellers, each region 300; the noise of scale 2 exceeds 40 with
-- probability below 1e-8), means and quantiles inside the bounds, quantiles
-- in order, a CDF from 0 to 1 that never falls, and the margin from the
-- public values alone
SELECT r.cohort, r.metric
FROM seller_analytics.benchmark_releases r
JOIN seller_analytics.benchmark_metrics m USING (metric)
WHERE r.released AND NOT (
        r.cohort_average BETWEEN m.lower_bound AND m.upper_bound
    AND m.lower_bound <= r.cohort_p25 AND r.cohort_p25 <= r.cohort_p50
    AND r.cohort_p50 <= r.cohort_p75 AND r.cohort_p75 <= r.cohort_p90
    AND r.cohort_p90 <= m.upper_bound
    AND r.cdf[1] = 0 AND r.cdf[m.bins + 1] = 1
    AND cardinality(r.cdf) = m.bins + 1 AND cardinality(r.cdf_edges) = m.bins + 1
    AND NOT EXISTS (SELECT 1 FROM generate_series(1, m.bins) i WHERE r.cdf[i] > r.cdf[i + 1])
    AND abs(r.margin - (m.upper_bound - m.lower_bound) / 2 / m.epsilon_mean * ln(10)
                       / greatest(r.cohort_sellers, 1)) < 1e-9 * r.margin);
SELECT cohort, abs(cohort_sellers - 200) <= 40 AS near_200
FROM seller_analytics.benchmark_releases
WHERE dimension_set = 'category' AND metric = 'sessions' AND category <> 'Garden' ORDER BY 1;
SELECT cohort, abs(cohort_sellers - 300) <= 40 AS near_300
FROM seller_analytics.benchmark_releases
WHERE dimension_set = 'region' AND metric = 'conversion_rate' ORDER BY 1;
-- a metric's epsilon: its seller count's, its mean's and its distribution's
SELECT metric, min(epsilon) AS epsilon, min(threshold) AS threshold, max(threshold) AS same
FROM seller_analytics.benchmark_releases GROUP BY metric ORDER BY metric;

-- the log: cohorts released and skipped (Garden's, with why), the epsilon
-- of one cohort's release (two counts at 0.5, conversion 0.5 + 0.5, four
-- metrics 0.2 + 0.2, refund rate 0.2 + 0.2: 4), 4 x 2 x 2 cells charged by
-- four cohorts each (16 epsilon)
SELECT period_start, period_end, period_kind, status, cohorts, cohorts_released,
       cohorts_skipped, releases, skipped, cohort_epsilon, cells_charged, max_cell_epsilon,
       units_spent, debit_ms > 0 AS timed
FROM seller_analytics.benchmark_publications ORDER BY id;

-- the ledger: one row per cell, all from one debit (one backend, one
-- transaction: the same timestamp window), each budget created with the
-- year's total of 420
SELECT count(*) AS rows, count(DISTINCT budget) AS cells, min(units) AS units,
       max(units) AS max_units, count(DISTINCT backend_pid) AS backends
FROM seller_analytics.privacy_ledger;
SELECT count(*) AS budgets, min(total_units) AS total, min(spent_units) AS spent,
       max(spent_units) AS max_spent
FROM seller_analytics.privacy_budgets;
SELECT year, category, region, product_type, epsilon_total, epsilon_spent
FROM seller_analytics.benchmark_cell_budgets
WHERE category = 'Electronics' ORDER BY 2, 3, 4;

--
-- Publishing again returns what is stored and spends nothing
--
CREATE TEMP TABLE before AS
SELECT md5(string_agg(r::text, '|' ORDER BY r.cohort, r.metric)) AS releases,
       (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) AS spent,
       (SELECT count(*) FROM seller_analytics.privacy_ledger) AS ledger
FROM seller_analytics.benchmark_releases r;
SELECT seller_analytics.publish_benchmarks('2026-10-01', '2026-10-31') AS released;
SELECT status, cohorts, releases, units_spent FROM seller_analytics.benchmark_publications
ORDER BY id DESC LIMIT 1;

-- late events of the period: the live views see them, the releases do not
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, amount)
SELECT s, 'late-' || s || '-' || i, 'order', '2026-10-15 12:00+00', 999
FROM generate_series(1, 600) s, generate_series(1, 3) i;
SELECT sum(orders) - (SELECT sum(orders) FROM seller_analytics.daily_metrics
                      WHERE day = '2026-10-15') AS late_orders_seen_live
FROM seller_analytics.seller_daily_metrics WHERE day = '2026-10-15';
SELECT seller_analytics.publish_benchmarks('2026-10-01', '2026-10-31') AS released;
SELECT b.releases = md5(string_agg(r::text, '|' ORDER BY r.cohort, r.metric)) AS same_releases,
       b.spent = (SELECT sum(spent_units) FROM seller_analytics.privacy_budgets) AS same_spent,
       b.ledger = (SELECT count(*) FROM seller_analytics.privacy_ledger) AS same_ledger
FROM before b, seller_analytics.benchmark_releases r GROUP BY b.releases, b.spent, b.ledger;

--
-- The noise is real: September's data is October's, its releases are not.
-- (Two released means of a cohort of 200 agree exactly with probability
-- below 1e-9: the noise is an integer in units far finer than a value.)
--
SELECT seller_analytics.publish_benchmarks('2026-09-01', '2026-09-30') AS released;
SELECT count(*) AS compared,
       count(*) FILTER (WHERE o.cohort_average = s.cohort_average) AS same_average,
       count(*) FILTER (WHERE o.cdf = s.cdf) AS same_distribution
FROM seller_analytics.benchmark_releases o
JOIN seller_analytics.benchmark_releases s USING (cohort, metric)
WHERE o.period_start = '2026-10-01' AND s.period_start = '2026-09-01'
  AND o.released AND s.released AND o.metric = 'conversion_rate';
-- the true means are the same in both months, and both releases are near
-- them: within 10 margins (each misses with probability below 1e-9)
SELECT r.period_start, count(*) AS cohorts,
       count(*) FILTER (WHERE abs(r.cohort_average - t.mean) <= 10 * r.margin) AS near_truth
FROM seller_analytics.benchmark_releases r
JOIN (SELECT 'category=' || s.category AS cohort,
             avg(least(greatest((1 + s.seller_id % 5) / 100.0, 0), 0.1)) AS mean
      FROM seller_analytics.sellers s WHERE s.category <> 'Secret'
      GROUP BY s.category) t USING (cohort)
WHERE r.metric = 'conversion_rate' AND r.released
GROUP BY r.period_start ORDER BY 1;

--
-- A week: the weekly share of the epsilon (a quarter), and its threshold
--
-- (the category x region cohorts of about 100 sellers reach it at random:
-- only what is certain is printed)
SELECT seller_analytics.publish_benchmarks('2026-10-05', '2026-10-11') >= 24 AS released_24_or_more;
SELECT period_kind, cohort_epsilon, max_cell_epsilon, cells_charged
FROM seller_analytics.benchmark_publications ORDER BY id DESC LIMIT 1;
SELECT DISTINCT metric, epsilon, threshold FROM seller_analytics.benchmark_releases
WHERE period_kind = 'week' ORDER BY metric;
-- cohorts of 100 sellers (category x region) rarely reach 110 in a week;
-- the regions (300) always do (the noise of scale 8 exceeds 190 with
-- probability below 1e-9)
SELECT cohort, released FROM seller_analytics.benchmark_releases
WHERE period_kind = 'week' AND metric = 'sessions' AND dimension_set = 'region' ORDER BY 1;
