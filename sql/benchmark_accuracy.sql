--
-- Cohort benchmarks at the default settings: statistical tests of what
-- doc/benchmarks.md promises, run on the mechanisms publish_benchmarks()
-- calls (benchmark_noisy_count, benchmark_noisy_stats) with the default
-- parameters of the conversion rate.
--
-- 1. Accuracy.  For synthetic cohorts of 50, 200 and 1,000 sellers
--    (conversion rates log-normal around 2.5 %, a new cohort each trial),
--    the documented error holds 90 % of the time for the mean and for p25,
--    p50 and p75 (in percentage points: 50 sellers 0.6 / 0.7 / 1.0 / 3.0;
--    200 sellers 0.2 / 0.5 / 0.5 / 0.5; 1,000 sellers 0.05 / 0.06 / 0.06 /
--    0.12).  Each of the 12 checks runs 200 trials and passes when at least
--    150 (75 %) are within (a cohort not released counts as a miss).  If
--    the documented 90 % holds, a check fails with probability at most
--    exp(-200 KL(0.75 || 0.9)) = 9.4e-9 (Chernoff).
-- 2. The release threshold.  2,000 noisy counts of a cohort of 4 true
--    sellers (released with probability <= 1e-6 each) may reach the
--    threshold at most twice: probability of more at most C(2000, 3) 1e-18
--    = 1.3e-9.  2,000 of a cohort of 25 (documented: 0.0310) at most 110
--    times: probability of more at most exp(-2000 KL(0.055 || 0.031)) =
--    1.6e-7.  The same for a week's count (epsilon 0.125, threshold 110)
--    and a cohort of 4: at most twice, 1.3e-9.
-- False-failure probability of the whole file: at most 12 x 9.4e-9 + 2 x
-- 1.3e-9 + 1.6e-7 < 3e-7.
--
-- Each check also fails a mechanism that is much noisier than documented
-- (a tenfold scale misses far more than a quarter of the time) or biased.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS seller_analytics;
CREATE EXTENSION seller_analytics;
RESET client_min_messages;

-- the defaults this file relies on
SELECT s.count_epsilon, s.min_true_sellers, s.release_probability, m.lower_bound,
       m.upper_bound, m.bins, m.bin_scale, m.epsilon_mean, m.epsilon_histogram,
       seller_analytics.benchmark_threshold(s.count_epsilon, s.min_true_sellers,
                                            s.release_probability) AS threshold
FROM seller_analytics.benchmark_settings s, seller_analytics.benchmark_metrics m
WHERE m.metric = 'conversion_rate';

--
-- 1. Accuracy by cohort size
--
CREATE TEMP TABLE documented (n integer, what text, error_points double precision);
INSERT INTO documented VALUES
    (50, 'mean', 0.6), (50, 'p25', 0.7), (50, 'p50', 1.0), (50, 'p75', 3.0),
    (200, 'mean', 0.2), (200, 'p25', 0.5), (200, 'p50', 0.5), (200, 'p75', 0.5),
    (1000, 'mean', 0.05), (1000, 'p25', 0.06), (1000, 'p50', 0.06), (1000, 'p75', 0.12);

CREATE TEMP TABLE trials AS
SELECT s.n, t.t,
       (SELECT array_agg(least(0.1, exp(ln(0.025) + 0.5 * sqrt(-2 * ln(1 - random()))
                                                        * cos(2 * pi() * random()))))
        FROM generate_series(1, s.n) i
        WHERE t.t IS NOT NULL) AS vals
FROM (VALUES (50), (200), (1000)) s(n), generate_series(1, 200) t(t);

CREATE TEMP TABLE outcomes AS
SELECT x.n, x.t, x.truth_mean, x.truth_q, c.noisy >= thr.t AS released, st.*
FROM (SELECT tr.n, tr.t, tr.vals,
             (SELECT avg(v) FROM unnest(tr.vals) v) AS truth_mean,
             (SELECT percentile_cont(ARRAY[0.25, 0.5, 0.75]) WITHIN GROUP (ORDER BY v)
              FROM unnest(tr.vals) v) AS truth_q
      FROM trials tr) x
CROSS JOIN (SELECT seller_analytics.benchmark_threshold(s.count_epsilon, s.min_true_sellers,
                                                        s.release_probability) AS t,
                   s.count_epsilon
            FROM seller_analytics.benchmark_settings s) thr
CROSS JOIN seller_analytics.benchmark_metrics m
CROSS JOIN LATERAL (SELECT seller_analytics.benchmark_noisy_count(x.n, thr.count_epsilon) AS noisy) c
CROSS JOIN LATERAL seller_analytics.benchmark_noisy_stats(x.vals, c.noisy, m.lower_bound,
                                                          m.upper_bound, m.bins,
                                                          m.bin_scale = 'log', m.epsilon_mean,
                                                          m.epsilon_histogram) st
WHERE m.metric = 'conversion_rate';

SELECT d.n, d.what, d.error_points, count(*) AS trials,
       count(*) FILTER (WHERE o.released AND 100 * abs(CASE d.what
                   WHEN 'mean' THEN o.average - o.truth_mean
                   WHEN 'p25' THEN o.p25 - o.truth_q[1]
                   WHEN 'p50' THEN o.p50 - o.truth_q[2]
                   ELSE o.p75 - o.truth_q[3] END) <= d.error_points) >= 150 AS within_at_least_150
FROM documented d JOIN outcomes o USING (n)
GROUP BY d.n, d.what, d.error_points
ORDER BY d.n, d.what;

--
-- 2. Cohorts below the threshold
--
SELECT k, epsilon, threshold, count(*) AS draws,
       count(*) FILTER (WHERE seller_analytics.benchmark_noisy_count(k, epsilon) >= threshold)
           <= max_released AS rare_enough
FROM (VALUES (4, 0.5, 31, 2), (25, 0.5, 31, 110), (4, 0.125, 110, 2)) v(k, epsilon, threshold, max_released),
     generate_series(1, 2000) g
GROUP BY k, epsilon, threshold, max_released
ORDER BY epsilon DESC, k;
SELECT round(seller_analytics.benchmark_release_probability(25, 0.5, 31)::numeric, 4) AS documented_25,
       seller_analytics.benchmark_release_probability(4, 0.5, 31) <= 1e-6 AS month_4,
       seller_analytics.benchmark_release_probability(4, 0.125, 110) <= 1e-6 AS week_4;
