/* control/seller_analytics--0.5--0.6.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.6'" to load this file. \quit

-------------------------------------------------------------------------------
-- issue 12: serving through a transaction pooler; the live read
-------------------------------------------------------------------------------

-- The live read.  A settled seller-day (nothing pending, no recompute mark)
-- is read as its compacted row; only the unsettled ones are computed as
-- before (rollup plus pending deltas, or a recomputation from raw events).
-- So the views plan and run as a scan of the rollup table with a per-row
-- filter, beside a set-returning function that returns at once when the
-- reader has nothing pending (src/live.c; doc/ingestion.md, "Reading live").

CREATE FUNCTION seller_analytics.pending_day(seller_id bigint, day date)
RETURNS boolean
AS 'MODULE_PATHNAME', 'seller_analytics_pending_day'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.pending_day(bigint, date) IS
    'whether the seller-day has changes not compacted yet (pending deltas or a recompute mark) that the caller can see';

CREATE FUNCTION seller_analytics.any_pending_day()
RETURNS boolean
AS 'MODULE_PATHNAME', 'seller_analytics_any_pending_day'
LANGUAGE C STABLE PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.any_pending_day() IS
    'whether any seller-day that the caller can see has changes not compacted yet';

-- the live rows of the unsettled seller-days: what the views computed for
-- every seller-day before 0.6.  PL/pgSQL, so that it is planned once per
-- session and never inlined into the reader's query; no SET clause, whose
-- cost every dashboard would pay (every name in it is qualified, and it
-- runs as its caller).
CREATE FUNCTION seller_analytics.pending_daily_metrics()
RETURNS TABLE (seller_id bigint, day date, sessions bigint, page_views bigint,
               add_to_carts bigint, orders bigint, units bigint, revenue numeric,
               refunds bigint, refund_amount numeric,
               order_value seller_analytics.percentile_sketch,
               conversion_rate numeric, avg_order_value numeric)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED ROWS 10
AS $$
BEGIN
    -- the common case, in a seller's dashboard: nothing is pending
    IF NOT seller_analytics.any_pending_day() THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT u.seller_id, u.day,
           sum(u.sessions)::bigint, sum(u.page_views)::bigint,
           sum(u.add_to_carts)::bigint, sum(u.orders)::bigint,
           sum(u.units)::bigint, sum(u.revenue), sum(u.refunds)::bigint,
           sum(u.refund_amount), seller_analytics.percentile_merge(u.order_value),
           sum(u.orders) / nullif(sum(u.sessions), 0)::numeric,
           sum(u.revenue) / nullif(sum(u.orders), 0)
    FROM (SELECT d.seller_id, d.day, d.sessions, d.page_views, d.add_to_carts,
                 d.orders, d.units, d.revenue, d.refunds, d.refund_amount,
                 d.order_value
          FROM seller_analytics.daily_metrics d
          WHERE EXISTS (SELECT 1 FROM seller_analytics.pending_deltas p
                        WHERE p.seller_id = d.seller_id AND p.day = d.day)
            AND NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                            WHERE m.seller_id = d.seller_id AND m.day = d.day)
          UNION ALL
          SELECT l.seller_id, l.day, l.sessions, l.page_views, l.add_to_carts,
                 l.orders, l.units, l.revenue, l.refunds, l.refund_amount,
                 l.order_value
          FROM seller_analytics.live_deltas l) u
    GROUP BY u.seller_id, u.day
    HAVING sum(u.sessions) <> 0 OR sum(u.page_views) <> 0 OR sum(u.add_to_carts) <> 0
        OR sum(u.orders) <> 0 OR sum(u.refunds) <> 0;
END
$$;

COMMENT ON FUNCTION seller_analytics.pending_daily_metrics() IS
    'seller_daily_metrics'' rows of the seller-days with changes not compacted yet';

CREATE FUNCTION seller_analytics.pending_daily_traffic()
RETURNS TABLE (seller_id bigint, day date, traffic_source text, sessions bigint,
               page_views bigint, orders bigint, revenue numeric,
               conversion_rate numeric, avg_order_value numeric)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED ROWS 10
AS $$
BEGIN
    -- the common case, in a seller's dashboard: nothing is pending
    IF NOT seller_analytics.any_pending_day() THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT u.seller_id, u.day, u.traffic_source,
           sum(u.sessions)::bigint, sum(u.page_views)::bigint,
           sum(u.orders)::bigint, sum(u.revenue),
           sum(u.orders) / nullif(sum(u.sessions), 0)::numeric,
           sum(u.revenue) / nullif(sum(u.orders), 0)
    FROM (SELECT t.seller_id, t.day, t.traffic_source, t.sessions, t.page_views,
                 t.orders, t.revenue
          FROM seller_analytics.daily_traffic t
          WHERE EXISTS (SELECT 1 FROM seller_analytics.pending_deltas p
                        WHERE p.seller_id = t.seller_id AND p.day = t.day)
            AND NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                            WHERE m.seller_id = t.seller_id AND m.day = t.day)
          UNION ALL
          SELECT l.seller_id, l.day, l.traffic_source, l.sessions, l.page_views,
                 l.orders, l.revenue
          FROM seller_analytics.live_deltas l) u
    GROUP BY u.seller_id, u.day, u.traffic_source
    HAVING sum(u.sessions) <> 0 OR sum(u.page_views) <> 0 OR sum(u.orders) <> 0;
END
$$;

COMMENT ON FUNCTION seller_analytics.pending_daily_traffic() IS
    'seller_daily_traffic''s rows of the seller-days with changes not compacted yet';

CREATE OR REPLACE VIEW seller_analytics.seller_daily_metrics
    WITH (security_invoker = true) AS
SELECT d.seller_id, d.day, d.sessions, d.page_views, d.add_to_carts,
       d.orders, d.units, d.revenue, d.refunds, d.refund_amount, d.order_value,
       d.orders / nullif(d.sessions, 0)::numeric AS conversion_rate,
       d.revenue / nullif(d.orders, 0)::numeric AS avg_order_value
FROM seller_analytics.daily_metrics d
WHERE (d.sessions <> 0 OR d.page_views <> 0 OR d.add_to_carts <> 0
       OR d.orders <> 0 OR d.refunds <> 0)
  AND NOT seller_analytics.pending_day(d.seller_id, d.day)
UNION ALL
SELECT p.seller_id, p.day, p.sessions, p.page_views, p.add_to_carts,
       p.orders, p.units, p.revenue, p.refunds, p.refund_amount, p.order_value,
       p.conversion_rate, p.avg_order_value
FROM seller_analytics.pending_daily_metrics() p;

CREATE OR REPLACE VIEW seller_analytics.seller_daily_traffic
    WITH (security_invoker = true) AS
SELECT t.seller_id, t.day, t.traffic_source, t.sessions, t.page_views,
       t.orders, t.revenue,
       t.orders / nullif(t.sessions, 0)::numeric AS conversion_rate,
       t.revenue / nullif(t.orders, 0)::numeric AS avg_order_value
FROM seller_analytics.daily_traffic t
WHERE (t.sessions <> 0 OR t.page_views <> 0 OR t.orders <> 0)
  AND NOT seller_analytics.pending_day(t.seller_id, t.day)
UNION ALL
SELECT p.seller_id, p.day, p.traffic_source, p.sessions, p.page_views,
       p.orders, p.revenue, p.conversion_rate, p.avg_order_value
FROM seller_analytics.pending_daily_traffic() p;

ALTER FUNCTION seller_analytics.pending_day(bigint, date) OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.any_pending_day() OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.pending_daily_metrics() OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.pending_daily_traffic() OWNER TO seller_analytics_owner;

-- the views' readers call them as themselves; everyone else may not
REVOKE EXECUTE ON FUNCTION seller_analytics.pending_day(bigint, date),
                           seller_analytics.any_pending_day(),
                           seller_analytics.pending_daily_metrics(),
                           seller_analytics.pending_daily_traffic()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION seller_analytics.pending_day(bigint, date),
                          seller_analytics.any_pending_day(),
                          seller_analytics.pending_daily_metrics(),
                          seller_analytics.pending_daily_traffic()
TO seller_analytics_app, seller_analytics_seller;

-- (end of section: issue 12)


-------------------------------------------------------------------------------
-- issue 13: ledger and aggregate defects
-------------------------------------------------------------------------------

-- (end of section: issue 13, ledger and aggregate defects)


-------------------------------------------------------------------------------
-- issue 13: cohort benchmarks
-------------------------------------------------------------------------------

--
-- Cohort benchmarks (doc/benchmarks.md): "sellers like you convert at
-- 2.5 %; you are in the 75th percentile".
--
--   benchmark_settings      one row: the seller count's epsilon, the weekly
--                           releases' share, the cells' yearly budget, the
--                           release threshold's terms, the grace period
--   benchmark_metrics       per metric: clamp bounds, bins, epsilons
--   benchmark_taxonomy      the public list of categories, regions and
--                           product types (declare_public_taxonomy())
--   publish_benchmarks()    one closed week or month: per cohort and metric
--                           a noisy seller count, a noisy mean and a noisy
--                           distribution, after one batch debit of every
--                           cell it charges; stored once
--   benchmark_releases      what was released (or why not)
--   benchmark_publications  the log of publications
--   my_benchmarks(), my_benchmark_history()
--                           what a seller reads: released numbers and its
--                           own values (row-level security), nothing else
--
-- Budgets: one privacy budget per calendar year and finest cell (category
-- x region x product type), in the ledger, named 'benchmarks YEAR ' plus
-- the md5 of the cell (benchmark_cell_budget()).  A cohort's release
-- charges every finest cell it covers; every cell lies in exactly one
-- cohort of each of the four dimension sets.
-------------------------------------------------------------------------------

CREATE TABLE seller_analytics.benchmark_settings (
    singleton           boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    count_epsilon       double precision NOT NULL DEFAULT 0.5
        CHECK (count_epsilon >= 0.001 AND count_epsilon <= 100),
    week_epsilon_scale  double precision NOT NULL DEFAULT 0.25
        CHECK (week_epsilon_scale > 0 AND week_epsilon_scale <= 1),
    cell_budget_per_year double precision NOT NULL DEFAULT 420
        CHECK (cell_budget_per_year > 0 AND cell_budget_per_year < 1e9),
    min_true_sellers    integer NOT NULL DEFAULT 5
        CHECK (min_true_sellers BETWEEN 1 AND 1000),
    release_probability double precision NOT NULL DEFAULT 1e-6
        CHECK (release_probability >= 1e-15 AND release_probability < 1),
    grace_period        interval NOT NULL DEFAULT '2 days'
        CHECK (grace_period >= '0' AND grace_period <= '90 days')
);

INSERT INTO seller_analytics.benchmark_settings DEFAULT VALUES;

COMMENT ON TABLE seller_analytics.benchmark_settings IS
    'the benchmarks'' settings (one row): count_epsilon of each noisy seller count, week_epsilon_scale (a weekly release spends this share of a monthly one), cell_budget_per_year (each finest cell''s budget for a calendar year), min_true_sellers and release_probability (a cohort of fewer true sellers is released with at most this probability: the threshold), grace_period (how long after a period closes the scheduled publication waits for late events)';

CREATE TABLE seller_analytics.benchmark_metrics (
    metric              text PRIMARY KEY
        CHECK (metric IN ('conversion_rate', 'average_order_value', 'revenue', 'orders',
                          'sessions', 'refund_rate')),
    position            integer NOT NULL UNIQUE,
    population          text NOT NULL
        CHECK (population IN ('sessions', 'orders')),
    phrase              text NOT NULL CHECK (phrase <> ''),
    unit                text NOT NULL CHECK (unit IN ('percent', 'amount', 'count')),
    lower_bound         double precision NOT NULL,
    upper_bound         double precision NOT NULL,
    bins                integer NOT NULL CHECK (bins BETWEEN 1 AND 1000),
    bin_scale           text NOT NULL CHECK (bin_scale IN ('linear', 'log')),
    epsilon_mean        double precision NOT NULL
        CHECK (epsilon_mean >= 0.001 AND epsilon_mean <= 100),
    epsilon_histogram   double precision NOT NULL
        CHECK (epsilon_histogram >= 0.001 AND epsilon_histogram <= 100),
    CONSTRAINT benchmark_metrics_bounds
        CHECK (lower_bound < upper_bound
               AND lower_bound > '-1e15' AND upper_bound < '1e15'),
    CONSTRAINT benchmark_metrics_log_bins
        CHECK (bin_scale = 'linear' OR lower_bound > 0),
    CONSTRAINT benchmark_metrics_population
        CHECK ((population = 'orders') = (metric IN ('average_order_value', 'refund_rate')))
);

INSERT INTO seller_analytics.benchmark_metrics VALUES
    ('conversion_rate', 1, 'sessions', 'convert at', 'percent', 0, 0.10, 20, 'linear', 0.5, 0.5),
    ('average_order_value', 2, 'orders', 'have an average order value of', 'amount', 0, 500, 25, 'linear', 0.2, 0.2),
    ('revenue', 3, 'sessions', 'take in', 'amount', 10, 100000, 16, 'log', 0.2, 0.2),
    ('orders', 4, 'sessions', 'take', 'count', 1, 2000, 16, 'log', 0.2, 0.2),
    ('sessions', 5, 'sessions', 'get', 'count', 1, 100000, 16, 'log', 0.2, 0.2),
    ('refund_rate', 6, 'orders', 'refund', 'percent', 0, 0.20, 20, 'linear', 0.2, 0.2);

COMMENT ON TABLE seller_analytics.benchmark_metrics IS
    'the released metrics: one value per seller and period (population: the sellers with sessions, or with orders, in the period); values clamped to [lower_bound, upper_bound]; bins of the released distribution (linear or log); epsilon_mean and epsilon_histogram, this metric''s share of a monthly release''s epsilon beside the seller counts'' (benchmark_settings.count_epsilon per population).  Changes apply to publications made after them';

CREATE TABLE seller_analytics.benchmark_taxonomy (
    dimension           text NOT NULL
        CHECK (dimension IN ('category', 'region', 'product_type')),
    value               text NOT NULL
        CHECK (octet_length(value) BETWEEN 1 AND 200),
    declared_at         timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (dimension, value)
);

COMMENT ON TABLE seller_analytics.benchmark_taxonomy IS
    'the public list of categories, regions and product types that cohorts are made of; the DBA declares them public (declare_public_taxonomy() copies the values of sellers)';

CREATE TABLE seller_analytics.benchmark_publications (
    id                  bigserial PRIMARY KEY,
    period_start        date NOT NULL,
    period_end          date NOT NULL,
    period_kind         text NOT NULL CHECK (period_kind IN ('week', 'month')),
    status              text NOT NULL CHECK (status IN ('published', 'already published')),
    started_at          timestamptz NOT NULL,
    finished_at         timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    cohorts             integer NOT NULL,
    cohorts_released    integer NOT NULL,
    cohorts_skipped     integer NOT NULL,
    releases            integer NOT NULL,
    skipped             jsonb NOT NULL DEFAULT '[]',
    cohort_epsilon      double precision,
    cells_charged       integer NOT NULL DEFAULT 0,
    max_cell_epsilon    double precision NOT NULL DEFAULT 0,
    units_spent         bigint NOT NULL DEFAULT 0,
    debit_ms            double precision,
    published_by        name NOT NULL DEFAULT session_user
);

CREATE INDEX benchmark_publications_period
    ON seller_analytics.benchmark_publications (period_start, period_end);

COMMENT ON TABLE seller_analytics.benchmark_publications IS
    'every call of publish_benchmarks(): period, cohorts released and skipped (skipped: which and why), the epsilon of one cohort''s release, the cells charged, the most epsilon one cell (so one seller) was charged, the ledger units spent and the debit''s duration';

CREATE TABLE seller_analytics.benchmark_releases (
    period_start        date NOT NULL,
    period_end          date NOT NULL,
    period_kind         text NOT NULL CHECK (period_kind IN ('week', 'month')),
    cohort              text NOT NULL,
    metric              text NOT NULL,
    dimension_set       text NOT NULL
        CHECK (dimension_set IN ('category', 'region', 'product_type', 'category, region')),
    category            text,
    region              text,
    product_type        text,
    released            boolean NOT NULL,
    reason              text,
    cohort_sellers      bigint,
    cohort_average      double precision,
    margin              double precision,
    cohort_p25          double precision,
    cohort_p50          double precision,
    cohort_p75          double precision,
    cohort_p90          double precision,
    cohort_name         text NOT NULL,
    summary_head        text NOT NULL,
    cdf_edges           double precision[],
    cdf                 double precision[],
    bin_scale           text NOT NULL,
    lower_bound         double precision NOT NULL,
    upper_bound         double precision NOT NULL,
    epsilon             double precision NOT NULL,
    threshold           bigint NOT NULL,
    publication_id      bigint NOT NULL REFERENCES seller_analytics.benchmark_publications (id),
    PRIMARY KEY (period_start, period_end, cohort, metric),
    CONSTRAINT benchmark_releases_reason
        CHECK (released = (reason IS NULL)
               AND (released OR (cohort_sellers IS NULL AND cohort_average IS NULL
                                 AND cohort_p50 IS NULL AND cdf IS NULL)))
);

CREATE INDEX benchmark_releases_history
    ON seller_analytics.benchmark_releases (metric, cohort, period_kind, period_start);
CREATE INDEX benchmark_releases_kind
    ON seller_analytics.benchmark_releases (period_kind, period_start);

COMMENT ON TABLE seller_analytics.benchmark_releases IS
    'released benchmarks, one row per period, cohort and metric, stored once: noisy seller count, mean (margin: half-width of the 90 % interval of its noise), quartiles and p90 of the noisy distribution (cdf at cdf_edges); a row not released says why (reason) and has no figures.  epsilon: what this metric''s mechanisms spent, its seller count''s included; threshold: the noisy count it needed';

SELECT pg_catalog.pg_extension_config_dump('seller_analytics.benchmark_taxonomy', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.benchmark_publications', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.benchmark_publications_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.benchmark_releases', '');

-- What a seller reads: composite types, so that the functions' parameters
-- may share the names of the columns they return.
CREATE TYPE seller_analytics.my_benchmark AS (
    metric              text,
    cohort              text,
    period_start        date,
    period_end          date,
    cohort_sellers      bigint,
    cohort_average      double precision,
    cohort_p25          double precision,
    cohort_p50          double precision,
    cohort_p75          double precision,
    cohort_p90          double precision,
    margin              double precision,
    my_value            double precision,
    my_percentile       double precision,
    summary             text
);

COMMENT ON TYPE seller_analytics.my_benchmark IS
    'a row of my_benchmarks(): a cohort''s released figures for one metric beside the caller''s own value';

CREATE TYPE seller_analytics.my_benchmark_point AS (
    period_start        date,
    period_end          date,
    cohort              text,
    my_value            double precision,
    cohort_p25          double precision,
    cohort_p50          double precision,
    cohort_p75          double precision,
    released            boolean
);

COMMENT ON TYPE seller_analytics.my_benchmark_point IS
    'a row of my_benchmark_history(): one weekly period of one of the caller''s cohorts';

-- the mechanisms (src/benchmark.c); the owner's alone

CREATE FUNCTION seller_analytics.benchmark_noisy_count(n bigint, epsilon double precision)
RETURNS bigint
AS 'MODULE_PATHNAME', 'seller_analytics_benchmark_noisy_count'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.benchmark_noisy_count(bigint, double precision) IS
    'n plus discrete Laplace noise of scale 1/epsilon; spends nothing itself (publish_benchmarks debits first): the owner''s';

CREATE FUNCTION seller_analytics.benchmark_noisy_stats(
    vals double precision[], noisy_count bigint, lower_bound double precision,
    upper_bound double precision, bins integer, log_bins boolean,
    epsilon_mean double precision, epsilon_histogram double precision,
    OUT average double precision, OUT margin double precision,
    OUT p25 double precision, OUT p50 double precision, OUT p75 double precision,
    OUT p90 double precision, OUT edges double precision[], OUT cdf double precision[])
RETURNS record
AS 'MODULE_PATHNAME', 'seller_analytics_benchmark_noisy_stats'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.benchmark_noisy_stats(double precision[], bigint, double precision, double precision, integer, boolean, double precision, double precision) IS
    'a cohort''s noisy mean (noisy centred sum over the noisy count) and noisy distribution (CDF and quantiles) of clamped values; spends nothing itself: the owner''s';

CREATE FUNCTION seller_analytics.benchmark_percentile(value double precision,
                                                      edges double precision[],
                                                      cdf double precision[],
                                                      log_bins boolean)
RETURNS double precision
AS 'MODULE_PATHNAME', 'seller_analytics_benchmark_percentile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION seller_analytics.benchmark_percentile(double precision, double precision[], double precision[], boolean) IS
    'the share (0 to 100) of a released distribution at or below a value: reading public figures, free';

CREATE FUNCTION seller_analytics.spend_privacy_budgets(budgets text[], units bigint[],
                                                       new_budget_epsilon double precision DEFAULT NULL)
RETURNS bigint
AS 'MODULE_PATHNAME', 'seller_analytics_spend_privacy_budgets'
LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION seller_analytics.spend_privacy_budgets(text[], bigint[], double precision) IS
    'one debit of many budgets, each its own units, in one committed transaction (every budget or none); creates the missing ones with new_budget_epsilon when given; the owner''s';

-- the release threshold and its probabilities

CREATE FUNCTION seller_analytics.benchmark_threshold(count_epsilon double precision,
                                                     min_true_sellers integer,
                                                     release_probability double precision)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- the noise is calibrated on epsilon rounded down to a multiple of 2^-32
    e double precision := floor(count_epsilon * 4294967296.0) / 4294967296.0;
    q double precision;
    m bigint;
BEGIN
    IF NOT (e > 0) OR min_true_sellers < 1 OR NOT (release_probability > 0 AND release_probability < 1) THEN
        RAISE EXCEPTION 'invalid benchmark threshold parameters'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The count''s epsilon must be at least 2^-32, the sellers at least 1 and the probability in (0, 1).';
    END IF;
    q := exp(-e);
    -- P(noise >= m) = q^m / (1 + q) for m >= 1: the least m that makes it small enough
    m := greatest(1, ceil((ln(1 / release_probability) - ln(1 + q)) / e)::bigint);
    WHILE m > 1 AND exp(-e * (m - 1)) / (1 + q) <= release_probability LOOP
        m := m - 1;
    END LOOP;
    WHILE exp(-e * m) / (1 + q) > release_probability LOOP
        m := m + 1;
    END LOOP;
    RETURN (min_true_sellers - 1) + m;
END
$$;

COMMENT ON FUNCTION seller_analytics.benchmark_threshold(double precision, integer, double precision) IS
    'the noisy seller count a cohort needs to be released: the least t with P(k + noise >= t) <= release_probability for every k < min_true_sellers, the noise discrete Laplace of scale 1/count_epsilon';

CREATE FUNCTION seller_analytics.benchmark_release_probability(true_sellers bigint,
                                                               count_epsilon double precision,
                                                               threshold bigint)
RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN CASE WHEN threshold - true_sellers >= 1
            THEN exp(-(floor(count_epsilon * 4294967296.0) / 4294967296.0)
                     * (threshold - true_sellers))
                 / (1 + exp(-(floor(count_epsilon * 4294967296.0) / 4294967296.0)))
            ELSE 1 - exp(-(floor(count_epsilon * 4294967296.0) / 4294967296.0)
                         * (1 - (threshold - true_sellers)))
                     / (1 + exp(-(floor(count_epsilon * 4294967296.0) / 4294967296.0))) END;

COMMENT ON FUNCTION seller_analytics.benchmark_release_probability(bigint, double precision, bigint) IS
    'the probability that a cohort of true_sellers sellers is released: P(true_sellers + noise >= threshold), the noise discrete Laplace of scale 1/count_epsilon';

-- the budgets of the cells

CREATE FUNCTION seller_analytics.benchmark_cell_budget(year integer, category text, region text,
                                                       product_type text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN 'benchmarks ' || year::text || ' '
       || md5(category || chr(31) || region || chr(31) || product_type);

COMMENT ON FUNCTION seller_analytics.benchmark_cell_budget(integer, text, text, text) IS
    'the name of the privacy budget of a finest cell (category, region, product type) for a calendar year';

CREATE VIEW seller_analytics.benchmark_cell_budgets AS
SELECT y.year, c.value AS category, r.value AS region, p.value AS product_type,
       b.name AS budget,
       b.total_units::double precision / 1e9 AS epsilon_total,
       b.spent_units::double precision / 1e9 AS epsilon_spent
FROM seller_analytics.benchmark_taxonomy c
CROSS JOIN seller_analytics.benchmark_taxonomy r
CROSS JOIN seller_analytics.benchmark_taxonomy p
CROSS JOIN (SELECT DISTINCT extract(year FROM pb.period_start)::integer AS year
            FROM seller_analytics.benchmark_publications pb) y
JOIN seller_analytics.privacy_budgets b
  ON b.name = seller_analytics.benchmark_cell_budget(y.year, c.value, r.value, p.value)
WHERE c.dimension = 'category' AND r.dimension = 'region' AND p.dimension = 'product_type';

COMMENT ON VIEW seller_analytics.benchmark_cell_budgets IS
    'each finest cell''s privacy budget per year, as the ledger holds it (budgets are made by the first publication that charges them)';

-- The helpers below are SQL-standard bodies (RETURN): parsed once, when
-- the script runs, so no caller's search_path changes what they mean, and
-- inlined into the queries that call them.

-- one seller's value of a metric over a period, from its summed rollups;
-- NULL: not in that metric's release (no sessions, or no orders)
CREATE FUNCTION seller_analytics.benchmark_value(metric text, sessions numeric, orders numeric,
                                                 revenue numeric, refunds numeric)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (CASE metric
            WHEN 'conversion_rate' THEN CASE WHEN sessions > 0 THEN orders / sessions END
            WHEN 'sessions' THEN CASE WHEN sessions > 0 THEN sessions END
            WHEN 'orders' THEN CASE WHEN sessions > 0 THEN orders END
            WHEN 'revenue' THEN CASE WHEN sessions > 0 THEN revenue END
            WHEN 'average_order_value' THEN CASE WHEN orders > 0 THEN revenue / orders END
            WHEN 'refund_rate' THEN CASE WHEN orders > 0 THEN refunds / orders END
        END)::double precision;

COMMENT ON FUNCTION seller_analytics.benchmark_value(text, numeric, numeric, numeric, numeric) IS
    'a seller''s value of a benchmark metric from its totals over a period; NULL when it has no sessions (no orders for average_order_value and refund_rate)';

-- a figure as the summaries print it
CREATE FUNCTION seller_analytics.benchmark_format(value double precision, unit text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE unit
           WHEN 'percent' THEN round((value * 100)::numeric, 1)::text || ' %'
           WHEN 'amount' THEN round(value::numeric, 2)::text
           ELSE round(value::numeric, CASE WHEN abs(value) < 10 THEN 1 ELSE 0 END)::text
       END;

COMMENT ON FUNCTION seller_analytics.benchmark_format(double precision, text) IS
    'a benchmark figure as text: percent with one decimal, amounts with two, counts whole';

-- the sentence of a row of my_benchmarks(), in two parts: the cohort's,
-- written when it is published (stored in benchmark_releases), and the
-- caller's, added when it reads
CREATE FUNCTION seller_analytics.benchmark_summary_head(cohort_name text, phrase text, unit text,
                                                        released boolean, reason text,
                                                        average double precision,
                                                        margin double precision)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN NOT released THEN
        'Sellers in ' || cohort_name || ': no benchmark for this period (' || reason || ').'
    ELSE
        'Sellers in ' || cohort_name || ' ' || phrase || ' '
        || seller_analytics.benchmark_format(average, unit) || ' on average (± '
        || CASE unit WHEN 'percent' THEN round((margin * 100)::numeric, 1)::text
                     ELSE seller_analytics.benchmark_format(margin, unit) END || ')'
    END;

COMMENT ON FUNCTION seller_analytics.benchmark_summary_head(text, text, text, boolean, text, double precision, double precision) IS
    'the cohort''s part of a my_benchmarks() summary: "Sellers in Electronics / EU convert at 2.5 % on average (± 0.2)", or why it was not released';

CREATE FUNCTION seller_analytics.benchmark_summary_tail(unit text, my_value double precision,
                                                        my_percentile double precision)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN my_value IS NULL OR my_percentile IS NULL THEN
        '; you have no value of your own for this period.'
    ELSE
        '; your ' || seller_analytics.benchmark_format(my_value, unit) || ' puts you in the '
        || greatest(1, least(99, round(my_percentile)))::integer::text
        || CASE WHEN greatest(1, least(99, round(my_percentile)))::integer % 100 IN (11, 12, 13) THEN 'th'
                WHEN greatest(1, least(99, round(my_percentile)))::integer % 10 = 1 THEN 'st'
                WHEN greatest(1, least(99, round(my_percentile)))::integer % 10 = 2 THEN 'nd'
                WHEN greatest(1, least(99, round(my_percentile)))::integer % 10 = 3 THEN 'rd'
                ELSE 'th' END
        || ' percentile.'
    END;

COMMENT ON FUNCTION seller_analytics.benchmark_summary_tail(text, double precision, double precision) IS
    'the caller''s part of a my_benchmarks() summary: "; your 3.1 % puts you in the 75th percentile."';

-------------------------------------------------------------------------------
-- The taxonomy and the publication
-------------------------------------------------------------------------------

CREATE FUNCTION seller_analytics.declare_public_taxonomy()
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    added integer;
BEGIN
    INSERT INTO seller_analytics.benchmark_taxonomy (dimension, value)
    SELECT d.dimension, d.value
    FROM (SELECT 'category' AS dimension, s.category AS value FROM seller_analytics.sellers s
          UNION
          SELECT 'region', s.region FROM seller_analytics.sellers s
          UNION
          SELECT 'product_type', s.product_type FROM seller_analytics.sellers s) d
    WHERE d.value IS NOT NULL AND octet_length(d.value) BETWEEN 1 AND 200
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS added = ROW_COUNT;
    RETURN added;
END
$$;

COMMENT ON FUNCTION seller_analytics.declare_public_taxonomy() IS
    'adds every category, region and product type of the sellers table to benchmark_taxonomy, declaring them public; returns how many were new';

CREATE FUNCTION seller_analytics.benchmark_period_kind(period_start date, period_end date)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE
    WHEN period_start IS NULL OR period_end IS NULL THEN NULL
    WHEN extract(isodow FROM period_start) = 1 AND period_end = period_start + 6 THEN 'week'
    WHEN extract(day FROM period_start) = 1
         AND period_end = (period_start + interval '1 month')::date - 1 THEN 'month'
END;

COMMENT ON FUNCTION seller_analytics.benchmark_period_kind(date, date) IS
    'week for a Monday-to-Sunday week, month for a calendar month, NULL for any other period';

CREATE FUNCTION seller_analytics.publish_benchmarks(period_start date, period_end date)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_start date := publish_benchmarks.period_start;
    p_end date := publish_benchmarks.period_end;
    kind text := seller_analytics.benchmark_period_kind(p_start, p_end);
    cfg seller_analytics.benchmark_settings;
    started timestamptz := clock_timestamp();
    scale double precision;
    count_eps double precision;
    thr bigint;
    cohort_units bigint;
    cohort_eps double precision;
    pub_id bigint;
    stored integer;
    budget_names text[];
    budget_units bigint[];
    spent bigint := 0;
    debit_started timestamptz;
    debit_ms double precision;
    n_cohorts integer;
    n_released integer;
    n_skipped integer;
    n_releases integer;
    skipped_list jsonb;
    max_cell bigint;
BEGIN
    IF p_start IS NULL OR p_end IS NULL THEN
        RAISE EXCEPTION 'period_start and period_end must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind IS NULL THEN
        RAISE EXCEPTION 'benchmarks are published for a week or a calendar month'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('%s to %s is neither a Monday-to-Sunday week nor a calendar month.',
                                             p_start, p_end);
    END IF;
    -- every local day of the period is over, in every time zone (UTC-12 ends last)
    IF clock_timestamp() < ((p_end + 1)::timestamp + interval '12 hours') AT TIME ZONE 'UTC' THEN
        RAISE EXCEPTION 'the period % to % has not ended', p_start, p_end
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A period is published once its last local day is over in every time zone.';
    END IF;
    -- one publication at a time; readers are not blocked
    LOCK TABLE seller_analytics.benchmark_publications IN SHARE ROW EXCLUSIVE MODE;

    SELECT count(*) INTO stored FROM seller_analytics.benchmark_releases r
    WHERE r.period_start = p_start AND r.period_end = p_end;
    IF stored > 0 THEN
        SELECT count(*) FILTER (WHERE r.released) INTO stored FROM seller_analytics.benchmark_releases r
        WHERE r.period_start = p_start AND r.period_end = p_end;
        INSERT INTO seller_analytics.benchmark_publications
            (period_start, period_end, period_kind, status, started_at, cohorts, cohorts_released,
             cohorts_skipped, releases)
        VALUES (p_start, p_end, kind, 'already published', started, 0, 0, 0, stored);
        RETURN stored;
    END IF;

    SELECT * INTO STRICT cfg FROM seller_analytics.benchmark_settings;
    IF NOT EXISTS (SELECT 1 FROM seller_analytics.benchmark_taxonomy t WHERE t.dimension = 'category')
       OR NOT EXISTS (SELECT 1 FROM seller_analytics.benchmark_taxonomy t WHERE t.dimension = 'region')
       OR NOT EXISTS (SELECT 1 FROM seller_analytics.benchmark_taxonomy t WHERE t.dimension = 'product_type') THEN
        RAISE EXCEPTION 'the public taxonomy is empty'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Cohorts come from seller_analytics.benchmark_taxonomy, which needs at least one category, region and product type.',
                  HINT = 'Declare the values public with seller_analytics.declare_public_taxonomy(), or insert them.';
    END IF;
    scale := CASE kind WHEN 'week' THEN cfg.week_epsilon_scale ELSE 1 END;
    count_eps := cfg.count_epsilon * scale;
    thr := seller_analytics.benchmark_threshold(count_eps, cfg.min_true_sellers, cfg.release_probability);
    -- what one cohort's release spends: two seller counts, and per metric a mean and a distribution
    SELECT 2 * seller_analytics.privacy_epsilon_units(count_eps)
           + sum(seller_analytics.privacy_epsilon_units(m.epsilon_mean * scale)
                 + seller_analytics.privacy_epsilon_units(m.epsilon_histogram * scale))
    INTO cohort_units
    FROM seller_analytics.benchmark_metrics m;
    cohort_eps := cohort_units / 1e9;

    -- the cohorts: every value (and pair) of the public list
    CREATE TEMP TABLE bm_cohorts ON COMMIT DROP AS
    SELECT 'category=' || c.value AS cohort, 'category'::text AS dimension_set,
           c.value AS category, NULL::text AS region, NULL::text AS product_type
    FROM seller_analytics.benchmark_taxonomy c WHERE c.dimension = 'category'
    UNION ALL
    SELECT 'region=' || r.value, 'region', NULL, r.value, NULL
    FROM seller_analytics.benchmark_taxonomy r WHERE r.dimension = 'region'
    UNION ALL
    SELECT 'product_type=' || p.value, 'product_type', NULL, NULL, p.value
    FROM seller_analytics.benchmark_taxonomy p WHERE p.dimension = 'product_type'
    UNION ALL
    SELECT 'category=' || c.value || ', region=' || r.value, 'category, region', c.value, r.value, NULL
    FROM seller_analytics.benchmark_taxonomy c CROSS JOIN seller_analytics.benchmark_taxonomy r
    WHERE c.dimension = 'category' AND r.dimension = 'region';

    -- the finest cells and their budgets for the year: what is left
    CREATE TEMP TABLE bm_cells ON COMMIT DROP AS
    SELECT c.value AS category, r.value AS region, p.value AS product_type,
           seller_analytics.benchmark_cell_budget(extract(year FROM p_start)::integer,
                                                  c.value, r.value, p.value) AS budget,
           NULL::bigint AS remaining, false AS short
    FROM seller_analytics.benchmark_taxonomy c
    CROSS JOIN seller_analytics.benchmark_taxonomy r
    CROSS JOIN seller_analytics.benchmark_taxonomy p
    WHERE c.dimension = 'category' AND r.dimension = 'region' AND p.dimension = 'product_type';
    UPDATE bm_cells x
    SET remaining = coalesce((SELECT b.total_units - b.spent_units
                              FROM seller_analytics.privacy_budgets b WHERE b.name = x.budget),
                             seller_analytics.privacy_epsilon_units(cfg.cell_budget_per_year, false));
    -- four cohorts cover each cell, one per dimension set: a cell without
    -- room for all four stops every one of them
    UPDATE bm_cells SET short = remaining < 4 * cohort_units;

    ALTER TABLE bm_cohorts ADD COLUMN skipped boolean NOT NULL DEFAULT false;
    CREATE TEMP TABLE bm_cover ON COMMIT DROP AS
    SELECT x.budget, x.short, l.cohort
    FROM bm_cells x
    CROSS JOIN LATERAL (VALUES ('category=' || x.category),
                               ('region=' || x.region),
                               ('product_type=' || x.product_type),
                               ('category=' || x.category || ', region=' || x.region)) l(cohort);
    UPDATE bm_cohorts k SET skipped = true
    WHERE k.cohort IN (SELECT v.cohort FROM bm_cover v WHERE v.short);

    -- one debit of every cell charged, each by the cohorts that cover it
    SELECT array_agg(ch.budget ORDER BY ch.budget), array_agg(ch.units ORDER BY ch.budget), max(ch.units)
    INTO budget_names, budget_units, max_cell
    FROM (SELECT v.budget, count(*) * cohort_units AS units
          FROM bm_cover v
          JOIN bm_cohorts k ON k.cohort = v.cohort AND NOT k.skipped
          GROUP BY v.budget) ch;
    debit_started := clock_timestamp();
    IF budget_names IS NOT NULL THEN
        spent := seller_analytics.spend_privacy_budgets(budget_names, budget_units,
                                                        cfg.cell_budget_per_year);
    END IF;
    debit_ms := extract(epoch FROM clock_timestamp() - debit_started) * 1000;

    -- the debit has committed: compute and store the releases
    INSERT INTO seller_analytics.benchmark_publications
        (period_start, period_end, period_kind, status, started_at, cohorts, cohorts_released,
         cohorts_skipped, releases, cohort_epsilon, cells_charged, max_cell_epsilon, units_spent,
         debit_ms)
    VALUES (p_start, p_end, kind, 'published', started, 0, 0, 0, 0, cohort_eps,
            coalesce(cardinality(budget_names), 0), coalesce(max_cell, 0) / 1e9, spent, debit_ms)
    RETURNING id INTO pub_id;

    -- every seller of a finest cell: its totals over its local days of the period
    CREATE TEMP TABLE bm_totals ON COMMIT DROP AS
    SELECT s.seller_id, s.category, s.region, s.product_type, t.sessions, t.orders, t.revenue,
           t.refunds
    FROM (SELECT d.seller_id, sum(d.sessions)::numeric AS sessions, sum(d.orders)::numeric AS orders,
                 sum(d.revenue) AS revenue, sum(d.refunds)::numeric AS refunds
          FROM seller_analytics.seller_daily_metrics d
          WHERE d.day BETWEEN p_start AND p_end
          GROUP BY d.seller_id) t
    JOIN seller_analytics.sellers s ON s.seller_id = t.seller_id
    WHERE EXISTS (SELECT 1 FROM bm_cells x
                  WHERE x.category = s.category AND x.region = s.region
                    AND x.product_type = s.product_type);

    -- per cohort and metric: the sellers' values (a seller without the
    -- metric's denominator is not in it)
    CREATE TEMP TABLE bm_agg ON COMMIT DROP AS
    SELECT k.cohort, bm.metric, count(*) AS n, array_agg(v.value) AS vals
    FROM bm_totals t
    CROSS JOIN LATERAL (VALUES ('category=' || t.category),
                               ('region=' || t.region),
                               ('product_type=' || t.product_type),
                               ('category=' || t.category || ', region=' || t.region)) k(cohort)
    CROSS JOIN seller_analytics.benchmark_metrics bm
    CROSS JOIN LATERAL (SELECT seller_analytics.benchmark_value(bm.metric, t.sessions, t.orders,
                                                                t.revenue, t.refunds) AS value) v
    WHERE v.value IS NOT NULL
    GROUP BY k.cohort, bm.metric;
    CREATE INDEX ON bm_agg (cohort, metric);
    ANALYZE bm_agg;

    -- the noisy seller counts, one per cohort and population
    CREATE TEMP TABLE bm_counts ON COMMIT DROP AS
    SELECT k.cohort, pop.population,
           seller_analytics.benchmark_noisy_count(coalesce(a.n, 0), count_eps) AS noisy
    FROM bm_cohorts k
    CROSS JOIN (VALUES ('sessions', 'sessions'), ('orders', 'average_order_value')) pop(population, metric)
    LEFT JOIN bm_agg a ON a.cohort = k.cohort AND a.metric = pop.metric
    WHERE NOT k.skipped;

    INSERT INTO seller_analytics.benchmark_releases
        (period_start, period_end, period_kind, cohort, metric, dimension_set, category, region,
         product_type, released, reason, cohort_sellers, cohort_average, margin, cohort_p25,
         cohort_p50, cohort_p75, cohort_p90, cohort_name, summary_head, cdf_edges, cdf, bin_scale,
         lower_bound, upper_bound, epsilon, threshold, publication_id)
    SELECT p_start, p_end, kind, k.cohort, bm.metric, k.dimension_set, k.category, k.region,
           k.product_type,
           st.average IS NOT NULL,
           CASE WHEN k.skipped THEN 'no privacy budget left'
                WHEN st.average IS NULL THEN 'too few sellers' END,
           CASE WHEN st.average IS NOT NULL THEN c.noisy END,
           st.average, st.margin, st.p25, st.p50, st.p75, st.p90,
           concat_ws(' / ', k.category, k.region, k.product_type),
           seller_analytics.benchmark_summary_head(
               concat_ws(' / ', k.category, k.region, k.product_type), bm.phrase, bm.unit,
               st.average IS NOT NULL,
               CASE WHEN k.skipped THEN 'no privacy budget left' ELSE 'too few sellers' END,
               st.average, st.margin),
           st.edges, st.cdf,
           bm.bin_scale, bm.lower_bound, bm.upper_bound,
           (seller_analytics.privacy_epsilon_units(count_eps)
            + seller_analytics.privacy_epsilon_units(bm.epsilon_mean * scale)
            + seller_analytics.privacy_epsilon_units(bm.epsilon_histogram * scale)) / 1e9,
           thr, pub_id
    FROM bm_cohorts k
    CROSS JOIN seller_analytics.benchmark_metrics bm
    LEFT JOIN bm_counts c ON c.cohort = k.cohort AND c.population = bm.population
    LEFT JOIN bm_agg a ON a.cohort = k.cohort AND a.metric = bm.metric
    LEFT JOIN LATERAL (
        SELECT s.*
        FROM seller_analytics.benchmark_noisy_stats(
                 coalesce(a.vals, '{}'::double precision[]),
                 c.noisy, bm.lower_bound, bm.upper_bound, bm.bins, bm.bin_scale = 'log',
                 bm.epsilon_mean * scale, bm.epsilon_histogram * scale) s
        WHERE c.noisy >= thr
    ) st ON true;

    SELECT count(*), count(*) FILTER (WHERE x.any_released), count(*) FILTER (WHERE NOT x.all_released),
           coalesce(jsonb_agg(jsonb_build_object('cohort', x.cohort, 'reason', x.reasons)
                              ORDER BY x.cohort) FILTER (WHERE NOT x.all_released), '[]'),
           sum(x.n)
    INTO n_cohorts, n_released, n_skipped, skipped_list, n_releases
    FROM (SELECT r.cohort, bool_or(r.released) AS any_released, bool_and(r.released) AS all_released,
                 count(*) FILTER (WHERE r.released) AS n,
                 string_agg(DISTINCT CASE WHEN NOT r.released THEN r.reason || ': ' || r.metric END,
                            '; ') AS reasons
          FROM seller_analytics.benchmark_releases r
          WHERE r.publication_id = pub_id
          GROUP BY r.cohort) x;
    UPDATE seller_analytics.benchmark_publications
    SET cohorts = n_cohorts, cohorts_released = n_released, cohorts_skipped = n_skipped,
        releases = n_releases, skipped = skipped_list, finished_at = clock_timestamp()
    WHERE id = pub_id;
    DROP TABLE bm_cover, bm_agg, bm_totals, bm_counts, bm_cells, bm_cohorts;
    RETURN n_releases;
END
$$;

COMMENT ON FUNCTION seller_analytics.publish_benchmarks(date, date) IS
    'releases the benchmarks of a closed week or calendar month: per cohort of the public taxonomy and metric, a noisy seller count, mean and distribution, after one debit of every cell charged; a period published already is returned as stored and spends nothing; returns the number of figures rows released';

-- the scheduled publication: every closed week and month, once its grace
-- period for late events is over (the latest two of each kind, so a job
-- that missed a run catches up)
CREATE FUNCTION seller_analytics.publish_due_benchmarks()
RETURNS TABLE (period_start date, period_end date, releases integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grace interval;
    p record;
BEGIN
    SELECT s.grace_period INTO STRICT grace FROM seller_analytics.benchmark_settings s;
    FOR p IN
        WITH candidates AS (
            SELECT (date_trunc('week', now() AT TIME ZONE 'UTC') - w * interval '1 week')::date AS s, 'week' AS kind
            FROM generate_series(1, 2) w
            UNION ALL
            SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') - m * interval '1 month')::date, 'month'
            FROM generate_series(1, 2) m
        )
        SELECT c.s, CASE c.kind WHEN 'week' THEN c.s + 6
                                ELSE (c.s + interval '1 month')::date - 1 END AS e
        FROM candidates c
        ORDER BY 1, 2
    LOOP
        CONTINUE WHEN now() < ((p.e + 1)::timestamp + interval '12 hours') AT TIME ZONE 'UTC' + grace;
        CONTINUE WHEN EXISTS (SELECT 1 FROM seller_analytics.benchmark_releases r
                              WHERE r.period_start = p.s AND r.period_end = p.e);
        period_start := p.s;
        period_end := p.e;
        releases := seller_analytics.publish_benchmarks(p.s, p.e);
        RETURN NEXT;
    END LOOP;
END
$$;

COMMENT ON FUNCTION seller_analytics.publish_due_benchmarks() IS
    'publishes the benchmarks of the last two weeks and months that have closed in every time zone and waited benchmark_settings.grace_period, unless published already; the job schedule_jobs() makes';

-------------------------------------------------------------------------------
-- What a seller reads
-------------------------------------------------------------------------------

-- The caller's cohorts' released figures beside its own values.  SECURITY
-- INVOKER: the caller's own row of sellers and its own rollups are all it
-- reads of any seller (row-level security); the releases are public.
CREATE FUNCTION seller_analytics.my_benchmarks(period_start date DEFAULT NULL,
                                               period_end date DEFAULT NULL)
RETURNS SETOF seller_analytics.my_benchmark
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_start date := my_benchmarks.period_start;
    p_end date := my_benchmarks.period_end;
    me bigint := seller_analytics.current_seller_id();
    s record;
    t record;
    cohorts text[];
BEGIN
    IF me IS NULL THEN
        RETURN;
    END IF;
    IF p_start IS NULL AND p_end IS NULL THEN
        SELECT r.period_start, r.period_end INTO p_start, p_end
        FROM seller_analytics.benchmark_releases r
        WHERE r.period_kind = 'month'
        ORDER BY r.period_start DESC LIMIT 1;
    ELSIF p_end IS NULL THEN
        SELECT max(r.period_end) INTO p_end
        FROM seller_analytics.benchmark_releases r WHERE r.period_start = p_start;
    ELSIF p_start IS NULL THEN
        SELECT min(r.period_start) INTO p_start
        FROM seller_analytics.benchmark_releases r WHERE r.period_end = p_end;
    END IF;
    IF p_start IS NULL OR p_end IS NULL THEN
        RETURN;
    END IF;
    SELECT x.category, x.region, x.product_type INTO s
    FROM seller_analytics.sellers x WHERE x.seller_id = me;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    cohorts := ARRAY['category=' || s.category, 'region=' || s.region,
                     'product_type=' || s.product_type,
                     'category=' || s.category || ', region=' || s.region];
    SELECT sum(d.sessions)::numeric AS sessions, sum(d.orders)::numeric AS orders,
           sum(d.revenue) AS revenue, sum(d.refunds)::numeric AS refunds
    INTO t
    FROM seller_analytics.seller_daily_metrics d
    WHERE d.seller_id = me AND d.day BETWEEN p_start AND p_end;
    RETURN QUERY
    SELECT r.metric, r.cohort, r.period_start, r.period_end, r.cohort_sellers, r.cohort_average,
           r.cohort_p25, r.cohort_p50, r.cohort_p75, r.cohort_p90, r.margin, v.my_value,
           pc.my_percentile,
           CASE WHEN r.released
                THEN r.summary_head || seller_analytics.benchmark_summary_tail(m.unit, v.my_value,
                                                                                pc.my_percentile)
                ELSE r.summary_head END
    FROM unnest(cohorts) WITH ORDINALITY c(cohort, n)
    JOIN seller_analytics.benchmark_releases r
      ON r.period_start = p_start AND r.period_end = p_end AND r.cohort = c.cohort
    JOIN seller_analytics.benchmark_metrics m ON m.metric = r.metric
    CROSS JOIN LATERAL (SELECT seller_analytics.benchmark_value(r.metric, t.sessions, t.orders,
                                                                t.revenue, t.refunds) AS my_value) v
    CROSS JOIN LATERAL (SELECT CASE WHEN r.released AND v.my_value IS NOT NULL THEN
                                   round(seller_analytics.benchmark_percentile(
                                       v.my_value, r.cdf_edges, r.cdf, r.bin_scale = 'log')::numeric,
                                       1)::double precision END AS my_percentile) pc
    ORDER BY m.position, c.n;
END
$$;

COMMENT ON FUNCTION seller_analytics.my_benchmarks(date, date) IS
    'the released benchmarks of the caller''s cohorts for a period (NULLs: the latest released month) beside its own exact values and its percentile in each released distribution; reads only the caller''s own rows, spends nothing';

CREATE FUNCTION seller_analytics.my_benchmark_history(metric text, periods integer DEFAULT 12)
RETURNS SETOF seller_analytics.my_benchmark_point
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p_metric text := my_benchmark_history.metric;
    me bigint := seller_analytics.current_seller_id();
    s record;
    cohorts text[];
    first_week date;
BEGIN
    IF periods IS NULL OR periods < 1 OR periods > 520 THEN
        RAISE EXCEPTION 'periods must be between 1 and 520'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM seller_analytics.benchmark_metrics m WHERE m.metric = p_metric) THEN
        RAISE EXCEPTION 'benchmark metric "%" does not exist', p_metric
            USING ERRCODE = 'undefined_object',
                  HINT = 'The metrics are listed in seller_analytics.benchmark_metrics.';
    END IF;
    IF me IS NULL THEN
        RETURN;
    END IF;
    SELECT x.category, x.region, x.product_type INTO s
    FROM seller_analytics.sellers x WHERE x.seller_id = me;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    cohorts := ARRAY['category=' || s.category, 'region=' || s.region,
                     'product_type=' || s.product_type,
                     'category=' || s.category || ', region=' || s.region];
    SELECT min(w.period_start) INTO first_week
    FROM (SELECT DISTINCT r.period_start FROM seller_analytics.benchmark_releases r
          WHERE r.period_kind = 'week' AND r.metric = p_metric AND r.cohort = ANY (cohorts)
          ORDER BY r.period_start DESC LIMIT periods) w;
    IF first_week IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    WITH mine AS (
        SELECT date_trunc('week', d.day)::date AS week,
               sum(d.sessions)::numeric AS sessions, sum(d.orders)::numeric AS orders,
               sum(d.revenue) AS revenue, sum(d.refunds)::numeric AS refunds
        FROM seller_analytics.seller_daily_metrics d
        WHERE d.seller_id = me AND d.day >= first_week
        GROUP BY 1
    )
    SELECT r.period_start, r.period_end, r.cohort,
           seller_analytics.benchmark_value(p_metric, coalesce(w.sessions, 0), coalesce(w.orders, 0),
                                            coalesce(w.revenue, 0), coalesce(w.refunds, 0)),
           r.cohort_p25, r.cohort_p50, r.cohort_p75, r.released
    FROM seller_analytics.benchmark_releases r
    LEFT JOIN mine w ON w.week = r.period_start
    WHERE r.period_kind = 'week' AND r.metric = p_metric AND r.cohort = ANY (cohorts)
      AND r.period_start >= first_week
    ORDER BY array_position(cohorts, r.cohort), r.period_start;
END
$$;

COMMENT ON FUNCTION seller_analytics.my_benchmark_history(text, integer) IS
    'the caller''s weekly value of a metric beside the p25, p50 and p75 of each of its cohorts over the last released weeks (the band of sellers like it); reads only the caller''s own rows, spends nothing';

-------------------------------------------------------------------------------
-- The jobs: publication beside compaction
-------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION seller_analytics.schedule_jobs(compact_schedule text DEFAULT '* * * * *')
RETURNS TABLE (jobname text, schedule text, command text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries, set cron.database_name = %L, '
                                'restart the server, run CREATE EXTENSION pg_cron and call '
                                'seller_analytics.schedule_jobs() again.  Without pg_cron, run '
                                '"SELECT seller_analytics.compact()" every minute and '
                                '"SELECT * FROM seller_analytics.publish_due_benchmarks()" every hour '
                                'from any scheduler.',
                                current_database());
    END IF;
    -- pg_cron runs a job as the role that scheduled it; the job takes on
    -- the jobs role at once, so it can do what its work needs and no more
    IF NOT pg_has_role(current_user, 'seller_analytics_jobs', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" cannot run jobs as seller_analytics_jobs', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT seller_analytics_jobs TO %I, or schedule as a superuser.',
                                current_user);
    END IF;
    PERFORM cron.schedule('seller_analytics_compact', compact_schedule,
                          'SET ROLE seller_analytics_jobs; SELECT seller_analytics.compact()');
    -- every hour: each week and month once it is over in every time zone
    -- and its grace period (benchmark_settings.grace_period) has passed
    PERFORM cron.schedule('seller_analytics_publish_benchmarks', '17 * * * *',
                          'SET ROLE seller_analytics_jobs; SELECT * FROM seller_analytics.publish_due_benchmarks()');
    RETURN QUERY
    SELECT j.jobname::text, j.schedule::text, j.command::text
    FROM cron.job j
    WHERE j.jobname LIKE 'seller\_analytics\_%'
    ORDER BY j.jobname;
END
$$;

COMMENT ON FUNCTION seller_analytics.schedule_jobs(text) IS
    'schedules the extension''s periodic jobs with pg_cron (compaction: every minute by default; benchmark publication: hourly, for each closed week and month after the grace period; both as seller_analytics_jobs) and lists them';

-------------------------------------------------------------------------------
-- Ownership, row-level security and privileges of the benchmarks
-------------------------------------------------------------------------------

ALTER TABLE seller_analytics.benchmark_settings OWNER TO seller_analytics_owner;
ALTER TABLE seller_analytics.benchmark_metrics OWNER TO seller_analytics_owner;
ALTER TABLE seller_analytics.benchmark_taxonomy OWNER TO seller_analytics_owner;
ALTER TABLE seller_analytics.benchmark_publications OWNER TO seller_analytics_owner;
ALTER TABLE seller_analytics.benchmark_releases OWNER TO seller_analytics_owner;
ALTER VIEW seller_analytics.benchmark_cell_budgets OWNER TO seller_analytics_owner;
ALTER TYPE seller_analytics.my_benchmark OWNER TO seller_analytics_owner;
ALTER TYPE seller_analytics.my_benchmark_point OWNER TO seller_analytics_owner;

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace OPERATOR(pg_catalog.=) 'seller_analytics'::regnamespace
          AND p.proname IN ('benchmark_noisy_count', 'benchmark_noisy_stats', 'benchmark_percentile',
                            'spend_privacy_budgets', 'benchmark_threshold',
                            'benchmark_release_probability', 'benchmark_cell_budget',
                            'benchmark_value', 'benchmark_format', 'benchmark_summary_head',
                            'benchmark_summary_tail',
                            'declare_public_taxonomy', 'benchmark_period_kind',
                            'publish_benchmarks', 'publish_due_benchmarks', 'my_benchmarks',
                            'my_benchmark_history')
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO seller_analytics_owner', f);
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
END
$$;

ALTER TABLE seller_analytics.benchmark_settings ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.benchmark_metrics ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.benchmark_taxonomy ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.benchmark_publications ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.benchmark_releases ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

CREATE POLICY owner_all ON seller_analytics.benchmark_settings TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.benchmark_metrics TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.benchmark_taxonomy TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.benchmark_publications TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.benchmark_releases TO seller_analytics_owner USING (true) WITH CHECK (true);

-- released figures, the metrics, the settings and the taxonomy are public
-- to every reader role; the log of publications is the analysts'
CREATE POLICY public_read ON seller_analytics.benchmark_settings FOR SELECT
    TO seller_analytics_app, seller_analytics_seller, seller_analytics_analyst USING (true);
CREATE POLICY public_read ON seller_analytics.benchmark_metrics FOR SELECT
    TO seller_analytics_app, seller_analytics_seller, seller_analytics_analyst USING (true);
CREATE POLICY public_read ON seller_analytics.benchmark_taxonomy FOR SELECT
    TO seller_analytics_app, seller_analytics_seller, seller_analytics_analyst USING (true);
CREATE POLICY public_read ON seller_analytics.benchmark_releases FOR SELECT
    TO seller_analytics_app, seller_analytics_seller, seller_analytics_analyst USING (true);
CREATE POLICY analyst_read ON seller_analytics.benchmark_publications FOR SELECT
    TO seller_analytics_analyst USING (true);

GRANT SELECT ON seller_analytics.benchmark_settings, seller_analytics.benchmark_metrics,
                seller_analytics.benchmark_taxonomy, seller_analytics.benchmark_releases
    TO seller_analytics_app, seller_analytics_seller, seller_analytics_analyst;
GRANT SELECT ON seller_analytics.benchmark_publications TO seller_analytics_analyst;

-- reading: sellers through their logins and the application
GRANT EXECUTE ON FUNCTION
    seller_analytics.my_benchmarks(date, date),
    seller_analytics.my_benchmark_history(text, integer),
    seller_analytics.benchmark_value(text, numeric, numeric, numeric, numeric),
    seller_analytics.benchmark_percentile(double precision, double precision[], double precision[], boolean),
    seller_analytics.benchmark_format(double precision, text),
    seller_analytics.benchmark_summary_tail(text, double precision, double precision)
TO seller_analytics_app, seller_analytics_seller;

-- public arithmetic, for analysts and everyone who reads releases
GRANT EXECUTE ON FUNCTION
    seller_analytics.benchmark_percentile(double precision, double precision[], double precision[], boolean),
    seller_analytics.benchmark_threshold(double precision, integer, double precision),
    seller_analytics.benchmark_release_probability(bigint, double precision, bigint),
    seller_analytics.benchmark_period_kind(date, date),
    seller_analytics.benchmark_cell_budget(integer, text, text, text)
TO seller_analytics_app, seller_analytics_seller, seller_analytics_analyst, seller_analytics_jobs;

-- publishing: the owner (publish_benchmarks) and the scheduled job
GRANT EXECUTE ON FUNCTION seller_analytics.publish_due_benchmarks() TO seller_analytics_jobs;

-- (end of section: issue 13, cohort benchmarks)


-------------------------------------------------------------------------------
-- issue 14: ingestion
-------------------------------------------------------------------------------

-- (end of section: issue 14)
