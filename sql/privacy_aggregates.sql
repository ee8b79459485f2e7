--
-- The noisy aggregates (0.5): noisy_count, noisy_sum, noisy_avg and
-- noisy_histogram, plain and per seller.
--
-- Their results are random, so what is printed is what holds whatever the
-- noise: errors, debits, and results at an epsilon so large that the noise
-- cannot show at the precision printed.  For each such check the chance
-- that the noise shows is given; all of them together stay below 1e-30.
-- The one statistical check (the forced parallel plan adds the noise once)
-- states its false-failure probability, below 1e-7.
--
-- The SQLSTATE of each error is printed after it (LAST_ERROR_SQLSTATE).
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'pa\_%' LOOP
        EXECUTE format('DROP OWNED BY %I', r.rolname);
        EXECUTE format('DROP ROLE %I', r.rolname);
    END LOOP;
END
$$;
RESET client_min_messages;
\set SHOW_CONTEXT never

CREATE ROLE pa_analyst LOGIN IN ROLE seller_analytics_analyst;
CREATE ROLE pa_seller LOGIN IN ROLE seller_analytics_seller;
CREATE ROLE pa_both LOGIN IN ROLE seller_analytics_seller, seller_analytics_analyst;

-- budgets of this test only (the ledger is append-only, so the test runs
-- once per database: a second run stops at create_privacy_budget)
SELECT seller_analytics.create_privacy_budget('pa_main', 8e9);
SELECT seller_analytics.create_privacy_budget('pa_small', 0.5);
SELECT seller_analytics.grant_privacy_budget('pa_main', 'pa_analyst');
SELECT seller_analytics.grant_privacy_budget('pa_small', 'pa_analyst');

-- the data: 20 rows of 4 sellers, values 0..95 in steps of 5, a NULL value,
-- a row with no seller, and values outside the bounds [0, 50]
CREATE TABLE pa_data (seller_id bigint, v double precision);
INSERT INTO pa_data SELECT g % 4, 5 * g FROM generate_series(0, 19) g;
INSERT INTO pa_data VALUES (1, NULL), (NULL, 7), (2, -100);
GRANT SELECT ON pa_data TO pa_analyst, pa_both;

SET ROLE pa_analyst;
SET seller_analytics.privacy_budget = 'pa_main';

--
-- True values.  At epsilon 1e6 the noise of a count is 0 except with
-- probability 1 - tanh(5e5) < 1e-300; the noise of a sum of bounds [0, 50]
-- has scale 5e-5, and exceeds 5e-3 (what round(.., 2) could show) with
-- probability e^-100 < 1e-43; an average's is smaller still.
--
SELECT seller_analytics.noisy_count(1e6) AS rows, count(*) AS true_rows FROM pa_data;
-- per seller: distinct non-NULL sellers
SELECT seller_analytics.noisy_count(seller_id, 1e6) AS sellers,
       count(DISTINCT seller_id) AS true_sellers FROM pa_data;
-- NULL values skipped, values clamped to [0, 50]
SELECT round(seller_analytics.noisy_sum(v, 0, 50, 1e6)::numeric, 2) AS sum,
       sum(least(greatest(v, 0), 50)) AS true_sum FROM pa_data;
SELECT round(seller_analytics.noisy_avg(v, 0, 50, 1e6)::numeric, 2) AS avg,
       round(avg(least(greatest(v, 0), 50)) FILTER (WHERE v IS NOT NULL)::numeric, 2) AS true_avg
FROM pa_data;
SELECT seller_analytics.noisy_histogram(v, 0, 50, 5, 1e6) AS histogram FROM pa_data;
-- per seller, bounds [0, 260]: each value clamped, then each seller's
-- total (the row without a seller is skipped)
SELECT seller_id, sum(least(greatest(v, 0), 260)) AS total,
       least(sum(least(greatest(v, 0), 260)), 260) AS clamped
FROM pa_data WHERE seller_id IS NOT NULL GROUP BY seller_id ORDER BY seller_id;
SELECT round(seller_analytics.noisy_sum(seller_id, v, 0, 260, 1e6)::numeric, 1) AS sum,
       round(seller_analytics.noisy_avg(seller_id, v, 0, 260, 1e6)::numeric, 2) AS avg
FROM pa_data;
-- 13 bins of width 20: 200 in the 11th, 225 in the 12th, 250 and 260 in the
-- last
SELECT seller_analytics.noisy_histogram(seller_id, v, 0, 260, 13, 1e6) AS sellers_by_total
FROM pa_data;
-- an average is clamped into its bounds, whatever the noise
SELECT bool_and(a BETWEEN 10 AND 20) AS avg_in_bounds
FROM (SELECT seller_analytics.noisy_avg(v, 10, 20, 0.01) AS a FROM pa_data) s;
-- no row at all: still a noisy value (and a debit)
SELECT seller_analytics.noisy_count(1e6) AS rows,
       round(seller_analytics.noisy_sum(v, 0, 50, 1e6)::numeric, 2) AS sum,
       seller_analytics.noisy_histogram(v, 0, 50, 3, 1e6) AS histogram
FROM pa_data WHERE false;
-- a group per seller: one evaluation, and one debit, per group
SELECT seller_id, seller_analytics.noisy_count(1e6) AS rows
FROM pa_data WHERE seller_id IS NOT NULL GROUP BY seller_id ORDER BY seller_id;

--
-- Identical true sums whatever the row order.  2^17 values 1.0 and 2^16
-- values 2^-37: summed in double precision, big values first, every 2^-37
-- is lost (half an ulp of 2^17 is 2^-36); small values first, they add up
-- to 2^-21.  noisy_sum adds in fixed point and gets 2^17 + 2^-21 in both
-- orders, plus noise of scale 2^-31 (bounds [0, 1], epsilon 2^31), which
-- moves (result - 2^17) * 2^21 by 0.5 with probability e^-1000.
--
RESET ROLE;
CREATE TABLE pa_order (k int, v double precision);
INSERT INTO pa_order SELECT g, 1.0 FROM generate_series(1, 131072) g;
INSERT INTO pa_order SELECT 131072 + g, 2^(-37) FROM generate_series(1, 65536) g;
GRANT SELECT ON pa_order TO pa_analyst;
SELECT seller_analytics.create_privacy_budget('pa_order', 5e9);
SELECT seller_analytics.grant_privacy_budget('pa_order', 'pa_analyst');
SET ROLE pa_analyst;
SET seller_analytics.privacy_budget = 'pa_order';
SELECT (sum(v ORDER BY k) - 2^17) * 2^21 AS float_big_first,
       (sum(v ORDER BY k DESC) - 2^17) * 2^21 AS float_small_first,
       round((seller_analytics.noisy_sum(v, 0, 1, 2^31 ORDER BY k) - 2^17) * 2^21) AS noisy_big_first
FROM pa_order;
SELECT round((seller_analytics.noisy_sum(v, 0, 1, 2^31 ORDER BY k DESC) - 2^17) * 2^21) AS noisy_small_first
FROM pa_order;
SET seller_analytics.privacy_budget = 'pa_main';

--
-- The privacy parameters are constants
--
SELECT seller_analytics.noisy_count(v) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, 0, v, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_histogram(v, 0, 50, seller_id::int + 1, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_avg(v, 0, 50, (SELECT max(v) FROM pa_data)) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count(random() + 0.5) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
-- an outer column, in a correlated subquery
CREATE TEMP TABLE pa_eps AS SELECT 1.0::float8 AS e;
SELECT (SELECT seller_analytics.noisy_sum(v, 0, 50, o.e) FROM pa_data) FROM pa_eps o;
\echo :LAST_ERROR_SQLSTATE
-- the check needs no row
SELECT seller_analytics.noisy_count(v) FROM pa_data WHERE false;
\echo :LAST_ERROR_SQLSTATE
-- query parameters and PL/pgSQL variables are constants
PREPARE pa_q(float8) AS SELECT seller_analytics.noisy_count($1) FROM pa_data;
SET plan_cache_mode = force_generic_plan;
EXECUTE pa_q(1e6);
RESET plan_cache_mode;
DO $$
DECLARE
    e float8 := 1e6;
    n bigint;
BEGIN
    SELECT seller_analytics.noisy_count(e) INTO n FROM pa_data;
    RAISE NOTICE 'noisy_count with a PL/pgSQL variable: %', n;
END
$$;

--
-- Window use, parameters out of range, values that are not numbers
--
SELECT seller_analytics.noisy_count(1.0) OVER () FROM pa_data LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, 0, 50, 1.0) OVER (ORDER BY v) FROM pa_data LIMIT 1;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count('NaN') FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count(0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count(-1) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count('Infinity') FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count(1e-10) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count(2^32) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_count(NULL) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, 50, 0, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, 0, 'Infinity', 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_avg(v, NULL, 1, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_avg(v, 1e6, 1e6 + 1e-9, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_histogram(v, 0, 50, 0, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_histogram(v, 0, 50, 10001, 1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, 0, 50, 1.0) FROM (VALUES (1.0), ('NaN')) d(v);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_avg(7, v, 0, 50, 1.0) FROM (VALUES ('-Infinity'::float8)) d(v);
\echo :LAST_ERROR_SQLSTATE
-- none of these spent anything: errors come before the debit (the 18
-- debits are those of the true values above: 12 evaluations, 4 groups,
-- the prepared statement and the PL/pgSQL block)
RESET ROLE;
SELECT count(*) AS debits_so_far FROM seller_analytics.privacy_ledger WHERE budget = 'pa_main';

--
-- Results beyond double precision.  A sum's release is finite for bounds
-- below 2^959 (about 4.9e288) in magnitude, whatever the data; larger
-- bounds are refused before the debit (22003), even over no row, so the
-- error spends nothing and tells nothing about the data (two rows of 1e308
-- under bounds [0, 1e308] would otherwise sum to Infinity).  An average is
-- clamped to its bounds and a histogram is integers: any finite bounds do.
--
SET ROLE pa_analyst;
SELECT seller_analytics.noisy_sum(v, 0, 1e308, 1e6) FROM (VALUES (1e308::float8), (1e308)) d(v);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, -1e308, 0, 1e6) FROM (VALUES (-1e308::float8), (-1e308)) d(v);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(s, v, 0, 1e308, 1e6) FROM (VALUES (1, 1e308::float8), (2, 1e308)) d(s, v);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.noisy_sum(v, 0, 2^959, 1.0) FROM pa_data WHERE false;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
-- none spent anything
SELECT count(*) AS debits_so_far FROM seller_analytics.privacy_ledger WHERE budget = 'pa_main';
-- just below the limit, and averages and a histogram at the extremes of
-- double.  At epsilon 1e6 the sum's noise has scale 4.8e282: round(.., 3)
-- of the release over the true 9.6e288 shows it with probability below
-- e^-1000; the averages' noise is as small against their values, and the
-- histogram's is 0 except with probability below 1e-300.
SET ROLE pa_analyst;
SELECT round((seller_analytics.noisy_sum(v, 0, 4.8e288, 1e6) / 9.6e288)::numeric, 3) AS sum_over_true
FROM (VALUES (4.8e288::float8), (4.8e288)) d(v);
SELECT round((seller_analytics.noisy_avg(v, 0, 1e308, 1e6) / 1e308)::numeric, 3) AS avg_over_1e308,
       round((seller_analytics.noisy_avg(-v, -1e308, 0, 1e6) / 1e308)::numeric, 3) AS neg_avg_over_1e308,
       round((seller_analytics.noisy_avg(v, -1.7976931348623157e308, 1.7976931348623157e308, 1e6)
              / 1.7976931348623157e308)::numeric, 3) AS avg_over_max,
       seller_analytics.noisy_histogram(v, 0, 1e308, 2, 1e6) AS histogram
FROM (VALUES (1e308::float8), (1e308)) d(v);
RESET ROLE;
-- five evaluations, five debits
SELECT count(*) AS debits_so_far FROM seller_analytics.privacy_ledger WHERE budget = 'pa_main';

--
-- Under a forced parallel plan the state is built in the workers and the
-- noise added once, in the leader: the plan is Partial and Finalize
-- Aggregate, one evaluation debits once, and the result is exact at a huge
-- epsilon (the per-seller sum, of bounds [0, 1e6], has noise of scale 1,
-- which reaches 50 with probability e^-50: it is rounded to hundreds).
--
RESET ROLE;
CREATE TABLE pa_big AS SELECT g::bigint % 100 AS seller_id, (g % 1000)::float8 AS v
FROM generate_series(1, 60000) g;
ANALYZE pa_big;
GRANT SELECT ON pa_big TO pa_analyst;
SELECT seller_analytics.create_privacy_budget('pa_parallel', 1e8);
SELECT seller_analytics.grant_privacy_budget('pa_parallel', 'pa_analyst');
SET ROLE pa_analyst;
SET seller_analytics.privacy_budget = 'pa_parallel';
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = on;
EXPLAIN (COSTS OFF) SELECT seller_analytics.noisy_sum(seller_id, v, 0, 1e6, 1e6) FROM pa_big;
SELECT seller_analytics.noisy_count(1e6) AS rows,
       seller_analytics.noisy_count(seller_id, 1e6) AS sellers,
       round(seller_analytics.noisy_sum(v, 0, 1000, 1e6)::numeric) AS sum,
       round(seller_analytics.noisy_sum(seller_id, v, 0, 1e6, 1e6)::numeric, -2) AS sum_per_seller,
       round(seller_analytics.noisy_avg(v, 0, 1000, 1e6)::numeric, 1) AS avg,
       seller_analytics.noisy_histogram(v, 0, 1000, 4, 1e6) AS histogram
FROM pa_big;
SELECT count(*) AS rows, sum(v) AS sum, avg(v) AS avg FROM pa_big;
-- six aggregates, six debits, all from this backend
RESET ROLE;
SELECT count(*) AS debits, count(DISTINCT backend_pid) AS backends,
       bool_and(backend_pid = pg_backend_pid()) AS from_the_leader
FROM seller_analytics.privacy_ledger WHERE budget = 'pa_parallel';
SET ROLE pa_analyst;
-- no row in the workers: the leader still finds the parameters
SELECT seller_analytics.noisy_count(1e6) AS rows,
       seller_analytics.noisy_histogram(v, 0, 1000, 2, 1e6) AS histogram
FROM pa_big WHERE v < 0;
-- nor when the partial aggregation is per partition, under an Append (the
-- condition v + 0 < 0 is true of no row, but the planner cannot tell)
RESET ROLE;
CREATE TABLE pa_parts (k int, v float8) PARTITION BY RANGE (k);
CREATE TABLE pa_parts_1 PARTITION OF pa_parts FOR VALUES FROM (0) TO (1000);
CREATE TABLE pa_parts_2 PARTITION OF pa_parts FOR VALUES FROM (1000) TO (2000);
INSERT INTO pa_parts SELECT g % 2000, g % 7 FROM generate_series(1, 200000) g;
ANALYZE pa_parts;
GRANT SELECT ON pa_parts TO pa_analyst;
SET ROLE pa_analyst;
SET enable_partitionwise_aggregate = on;
EXPLAIN (COSTS OFF) SELECT seller_analytics.noisy_count(1e6) FROM pa_parts WHERE v + 0 < 0;
SELECT seller_analytics.noisy_count(1e6) AS rows,
       round(seller_analytics.noisy_sum(v, 0, 10, 1e6)::numeric) AS sum
FROM pa_parts WHERE v + 0 < 0;
SELECT seller_analytics.noisy_count(1e6) AS rows,
       round(seller_analytics.noisy_sum(v, 0, 10, 1e6)::numeric) AS sum,
       sum(v) AS true_sum
FROM pa_parts;
RESET enable_partitionwise_aggregate;
--
-- Noise once, statistically: at epsilon 1 a single draw is 0 with
-- probability p1 = tanh(1/2) = 0.462; the sum of three independent draws
-- (noise in each of the leader's and two workers' partial states) with
-- 0.206, of two with 0.280.  Of 400 evaluations, at least 129 must be
-- exact: for p1 the chance of fewer is below exp(-400 KL(129/400 || p1))
-- < 1e-7 (Chernoff); for three draws the chance of 129 or more is below
-- 4e-7, for two below 0.19.
--
DO $$
DECLARE
    exact int := 0;
    n bigint;
BEGIN
    FOR i IN 1..400 LOOP
        SELECT seller_analytics.noisy_count(1.0) INTO n FROM pa_big;
        IF n = 60000 THEN
            exact := exact + 1;
        END IF;
    END LOOP;
    IF exact < 129 THEN
        RAISE EXCEPTION 'noise not added once: % of 400 evaluations exact', exact;
    END IF;
    RAISE NOTICE 'at least 129 of 400 evaluations exact';
END
$$;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;

--
-- The budget
--
SET seller_analytics.privacy_budget = 'pa_small';
SELECT seller_analytics.privacy_budget_remaining('pa_small');
SELECT seller_analytics.noisy_count(0.25) IS NOT NULL AS released FROM pa_data;
-- not enough left: its own SQLSTATE, and nothing spent
SELECT seller_analytics.noisy_count(0.3) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pa_small');
-- ROLLBACK gives nothing back
BEGIN;
SELECT seller_analytics.noisy_count(0.125) IS NOT NULL AS released FROM pa_data;
ROLLBACK;
SELECT seller_analytics.privacy_budget_remaining('pa_small');
-- nor does an error later in the same statement
SELECT 1 / (c - c) FROM (SELECT seller_analytics.noisy_count(0.0625) AS c FROM pa_data) s;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pa_small');
-- nor a savepoint rolled back
BEGIN;
SAVEPOINT s;
SELECT seller_analytics.noisy_count(0.03125) IS NOT NULL AS released FROM pa_data;
ROLLBACK TO SAVEPOINT s;
COMMIT;
SELECT seller_analytics.privacy_budget_remaining('pa_small');
-- every named budget is debited, and the units are those of epsilon
-- rounded down to a multiple of 2^-32: 0.1 costs 100000000 units
SET seller_analytics.privacy_budget = 'pa_order, pa_main';
SELECT seller_analytics.noisy_count(0.1) IS NOT NULL AS released FROM pa_data;
RESET ROLE;
SELECT budget, units, epsilon, role_name FROM seller_analytics.privacy_ledger
WHERE budget IN ('pa_order', 'pa_main') ORDER BY id DESC LIMIT 2;
SET ROLE pa_analyst;
-- no budget set, or one not granted
RESET seller_analytics.privacy_budget;
SELECT seller_analytics.noisy_count(1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT seller_analytics.create_privacy_budget('pa_ungranted', 1.0);
SET ROLE pa_analyst;
SET seller_analytics.privacy_budget = 'pa_ungranted';
SELECT seller_analytics.noisy_count(1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--
-- Sellers never run a noisy aggregate: no EXECUTE, and a login that is a
-- seller and an analyst at once is refused at the debit
--
SELECT p.oid::regprocedure AS aggregate,
       has_function_privilege('seller_analytics_seller', p.oid, 'EXECUTE') AS seller,
       has_function_privilege('seller_analytics_app', p.oid, 'EXECUTE') AS app,
       has_function_privilege('seller_analytics_analyst', p.oid, 'EXECUTE') AS analyst
FROM pg_proc p
WHERE p.pronamespace = 'seller_analytics'::regnamespace AND p.prokind = 'a'
  AND p.proname LIKE 'noisy\_%'
ORDER BY 1::text;
SET ROLE pa_seller;
SET seller_analytics.privacy_budget = 'pa_main';
SELECT seller_analytics.noisy_count(1.0);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SET SESSION AUTHORIZATION pa_both;
SET seller_analytics.privacy_budget = 'pa_main';
SELECT seller_analytics.noisy_count(1.0) FROM pa_data;
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;

DROP TABLE pa_data, pa_order, pa_big, pa_eps, pa_parts;
