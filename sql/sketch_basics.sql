--
-- percentile_sketch basics: the extension's objects, and every function on
-- small inputs whose answers are known exactly.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;

--
-- Creating and dropping the extension
--
-- The extension lives in its own schema; everything it creates is a member
-- of the extension.
SELECT count(*) > 0 AS has_members,
       count(*) FILTER (WHERE classid = 'pg_type'::regclass) AS types,
       count(*) FILTER (WHERE classid = 'pg_proc'::regclass) AS functions
FROM pg_depend
WHERE refclassid = 'pg_extension'::regclass
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'seller_analytics')
  AND deptype = 'e'
  AND classid IN ('pg_type'::regclass, 'pg_proc'::regclass);

-- Every function, type and relation in the schema belongs to the extension
-- (a relation's row type belongs to the relation).
SELECT p.oid::regprocedure::text AS not_a_member
FROM pg_proc p
WHERE p.pronamespace = 'seller_analytics'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                    AND d.deptype = 'e')
UNION ALL
SELECT t.oid::regtype::text
FROM pg_type t
WHERE t.typnamespace = 'seller_analytics'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid
                    AND d.deptype = 'e')
  AND t.typelem = 0
  AND t.typrelid = 0
UNION ALL
SELECT c.oid::regclass::text
FROM pg_class c
WHERE c.relnamespace = 'seller_analytics'::regnamespace
  AND c.relkind IN ('r', 'v', 'm', 'S', 'f', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.deptype = 'e');

-- A table using the type keeps the extension from being dropped.
CREATE TABLE basics_dep (s percentile_sketch);
DROP EXTENSION seller_analytics;
DROP TABLE basics_dep;

-- The schema is created by the install script, so it is a member too.
SELECT count(*) AS schema_is_member
FROM pg_depend
WHERE classid = 'pg_namespace'::regclass
  AND objid = 'seller_analytics'::regnamespace
  AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'seller_analytics')
  AND deptype = 'e';

-- Without dependents, DROP EXTENSION (no CASCADE) removes every type,
-- function and aggregate, and the schema.
DROP EXTENSION seller_analytics;
SELECT
  (SELECT count(*) FROM pg_extension WHERE extname = 'seller_analytics') AS extensions,
  (SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE n.nspname = 'seller_analytics' OR t.typname = 'percentile_sketch') AS types,
  (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname = 'seller_analytics'
        OR p.proname IN ('percentile_agg', 'percentile_merge', 'approx_percentile',
                         'approx_percentile_rank', 'sketch_add', 'sketch_merge',
                         'sketch_count', 'sketch_min', 'sketch_max', 'sketch_sum',
                         'sketch_mean', 'sketch_relative_error',
                         'percentile_sketch_from_histogram')) AS functions,
  (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'seller_analytics') AS relations;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'seller_analytics';

-- A schema of that name that the extension did not create is not taken over.
CREATE SCHEMA seller_analytics;
CREATE EXTENSION seller_analytics;
DROP SCHEMA seller_analytics;

-- CREATE EXTENSION creates the schema again.
CREATE EXTENSION seller_analytics;
SELECT extname, extversion, extnamespace::regnamespace AS schema, extrelocatable
FROM pg_extension WHERE extname = 'seller_analytics';

-- The SQL API
SELECT p.oid::regprocedure AS function, p.prokind AS kind
FROM pg_proc p
WHERE p.pronamespace = 'seller_analytics'::regnamespace
  AND p.proname NOT LIKE 'percentile\_agg\_%'
  AND p.proname NOT LIKE 'percentile\_merge\_trans'
ORDER BY p.proname, p.oid::regprocedure::text;

-- Every sketch function (and local_day, is_valid_time_zone) is immutable
-- and parallel safe.  (Triggers, jobs and the rollup functions are not.)
SELECT p.oid::regprocedure AS offending, p.provolatile, p.proparallel
FROM pg_proc p
WHERE p.pronamespace = 'seller_analytics'::regnamespace
  AND (p.proname LIKE ANY (ARRAY['percentile%', 'sketch%', 'approx%'])
       OR p.proname IN ('local_day', 'is_valid_time_zone'))
  AND (p.provolatile <> 'i' OR p.proparallel <> 's');

--
-- A small sketch
--
-- The text form: format version, scale (7, the default precision), exact
-- count, min, max and sum (an odd hexadecimal integer times a power of two),
-- the number of zeros, and index:count for the occupied buckets of each sign.
SELECT percentile_agg(x)
FROM (VALUES (1.5::float8), (8), (3), (NULL), (-2), (0)) AS v(x);

-- count, min, max, sum and mean are exact; NULLs are skipped.
WITH s AS (
  SELECT percentile_agg(x) AS s
  FROM (VALUES (1.5::float8), (8), (3), (NULL), (-2), (0)) AS v(x))
SELECT sketch_count(s), sketch_min(s), sketch_max(s), sketch_sum(s), sketch_mean(s)
FROM s;

-- Percentiles follow percentile_disc: the value of rank max(ceil(q*n), 1).
-- p0 is the exact min and p1 the exact max; in between the answer is the
-- representative value of the rank's bucket (within the relative error),
-- clamped to [min, max].  Zero has its own exact bucket.
WITH data(x) AS (VALUES (1.5::float8), (8), (3), (NULL), (-2), (0)),
     s AS (SELECT percentile_agg(x) AS s FROM data),
     q(q) AS (VALUES (0.0::float8), (0.1), (0.2), (0.21), (0.4), (0.5), (0.6), (0.8), (0.99), (1))
SELECT q.q,
       approx_percentile(s.s, q.q) AS approx,
       (SELECT percentile_disc(q.q) WITHIN GROUP (ORDER BY x) FROM data) AS exact,
       abs(approx_percentile(s.s, q.q) - (SELECT percentile_disc(q.q) WITHIN GROUP (ORDER BY x) FROM data))
         <= sketch_relative_error(s.s) * abs((SELECT percentile_disc(q.q) WITHIN GROUP (ORDER BY x) FROM data))
         AS within_bound
FROM s, q
ORDER BY q.q;

-- A single value: every percentile is that value, exactly.
SELECT approx_percentile(s, 0) AS p0, approx_percentile(s, 0.5) AS p50,
       approx_percentile(s, 1) AS p100, sketch_count(s), sketch_sum(s), sketch_mean(s)
FROM (SELECT percentile_agg(x) AS s FROM (VALUES (12.34::float8)) AS v(x)) AS t;

-- A constant: clamping to [min, max] makes every percentile exact.
SELECT count(*) FILTER (WHERE approx_percentile(s, q / 100.0) <> 19.99) AS not_exact
FROM (SELECT percentile_agg(19.99::float8) AS s FROM generate_series(1, 1000)) AS t,
     generate_series(0, 100) AS q;

--
-- Empty input and NULLs
--
-- No rows, or only NULLs: the aggregates return NULL (not an empty sketch).
SELECT percentile_agg(x) IS NULL AS no_rows
FROM (VALUES (1::float8)) AS v(x) WHERE false;
SELECT percentile_agg(x) IS NULL AS float8_nulls,
       percentile_agg(x::bigint) IS NULL AS bigint_nulls,
       percentile_agg(x::numeric) IS NULL AS numeric_nulls,
       percentile_agg(x, 0.01) IS NULL AS with_error_nulls,
       percentile_merge(NULL::percentile_sketch) IS NULL AS merge_nulls
FROM (VALUES (NULL::float8), (NULL)) AS v(x);
SELECT percentile_merge(s) IS NULL AS merge_no_rows
FROM (SELECT NULL::percentile_sketch AS s) AS t WHERE false;
-- NULL sketches are skipped by percentile_merge.
SELECT percentile_merge(s) AS merged
FROM (VALUES (NULL::percentile_sketch), (sketch_add(NULL, 2)), (NULL), (sketch_add(NULL, 3))) AS v(s);
-- In a GROUP BY, a group whose values are all NULL gets NULL.
SELECT g, percentile_agg(x) IS NULL AS is_null, sketch_count(percentile_agg(x))
FROM (VALUES (1, NULL::float8), (1, NULL), (2, 5), (2, NULL)) AS v(g, x)
GROUP BY g ORDER BY g;

-- The empty sketch can be written as text: percentiles, rank, min, max, sum
-- and mean are NULL, the count is 0.
SELECT s AS empty_sketch,
       approx_percentile(s, 0.5) AS p50,
       approx_percentile(s, '{0,1}'::float8[]) AS ps,
       approx_percentile_rank(s, 1) AS rank,
       sketch_count(s), sketch_min(s), sketch_max(s), sketch_sum(s), sketch_mean(s),
       round(sketch_relative_error(s)::numeric, 6) AS relative_error
FROM (SELECT 'v1 scale=7 count=0'::percentile_sketch AS s) AS t;
-- Merging the empty sketch changes nothing.
SELECT sketch_merge('v1 scale=7 count=0', sketch_add(NULL, 2))::text = sketch_add(NULL, 2)::text AS left_identity,
       sketch_merge(sketch_add(NULL, 2), 'v1 scale=7 count=0')::text = sketch_add(NULL, 2)::text AS right_identity,
       percentile_merge(s)::text = sketch_add(NULL, 2)::text AS in_aggregate
FROM (VALUES ('v1 scale=7 count=0'::percentile_sketch), (sketch_add(NULL, 2)),
             ('v1 scale=7 count=0')) AS v(s);

--
-- sketch_add and sketch_merge
--
-- A NULL sketch starts a new one (default precision); a NULL value leaves
-- the sketch as it is; both NULL give NULL.
SELECT sketch_add(NULL, NULL) AS both_null,
       sketch_add(NULL, 2) AS from_null,
       sketch_add('v1 scale=7 count=0', 2) AS from_empty,
       sketch_add(sketch_add(NULL, 2), NULL) AS null_value;
-- sketch_add is the aggregate one value at a time.
SELECT sketch_add(sketch_add(sketch_add(NULL, 1.5), 8), 3)::text
       = (SELECT percentile_agg(x)::text FROM (VALUES (1.5::float8), (8), (3)) AS v(x)) AS same_as_agg;
-- sketch_add keeps the sketch's precision.
SELECT sketch_relative_error(sketch_add(percentile_agg(x, 0.0001), 7)) = sketch_relative_error(percentile_agg(x, 0.0001)) AS keeps_precision,
       sketch_count(sketch_add(percentile_agg(x, 0.0001), 7))
FROM generate_series(1, 10) AS x(x);
-- -0 and 0 are the same value.
SELECT sketch_add(NULL, '-0'::float8) AS minus_zero;

-- sketch_merge treats NULL as the empty sketch.
SELECT sketch_merge(NULL, NULL) AS both_null,
       sketch_merge(NULL, sketch_add(NULL, 2)) AS left_null,
       sketch_merge(sketch_add(NULL, 3), NULL) AS right_null,
       sketch_merge(sketch_add(NULL, 3), sketch_add(NULL, 2)) AS merged;
-- Merging is commutative and equals the sketch of all the values.
WITH a AS (SELECT percentile_agg(x::float8) AS s FROM generate_series(1, 100) AS x),
     b AS (SELECT percentile_agg(x::float8) AS s FROM generate_series(-50, 300, 7) AS x),
     ab AS (SELECT percentile_agg(x) AS s
            FROM (SELECT x::float8 FROM generate_series(1, 100) AS x
                  UNION ALL SELECT x::float8 FROM generate_series(-50, 300, 7) AS x) AS u(x))
SELECT sketch_merge(a.s, b.s)::text = ab.s::text AS equals_sketch_of_all,
       sketch_merge(b.s, a.s)::text = ab.s::text AS commutative,
       sketch_count(sketch_merge(a.s, b.s)) AS count
FROM a, b, ab;
-- Sketches of different precisions merge at the coarser one.
SELECT round(sketch_relative_error(sketch_merge(percentile_agg(x, 0.001), percentile_agg(x, 0.05)))::numeric, 6)
         AS merged_error,
       round(sketch_relative_error(percentile_agg(x, 0.05))::numeric, 6) AS coarser_error,
       sketch_merge(percentile_agg(x, 0.001), percentile_agg(x, 0.05))::text
         = sketch_merge(percentile_agg(x, 0.05), percentile_agg(x, 0.001))::text AS commutative
FROM generate_series(1, 100) AS x(x);

--
-- Relative error
--
-- The default precision is scale 7: relative error (b-1)/(b+1) with
-- b = 2^(1/128), about 0.0027, within the documented 0.005.
SELECT round(sketch_relative_error(percentile_agg(1::float8))::numeric, 6) AS default_error,
       sketch_relative_error(percentile_agg(1::float8)) <= 0.005 AS within_documented,
       abs(sketch_relative_error(percentile_agg(1::float8))
           - (2 ^ (1 / 128.0::float8) - 1) / (2 ^ (1 / 128.0::float8) + 1)) < 1e-15 AS matches_formula;
-- An explicit relative error picks the coarsest scale that meets it.
SELECT e AS asked,
       round(sketch_relative_error(percentile_agg(1::float8, e))::numeric, 7) AS granted,
       sketch_relative_error(percentile_agg(1::float8, e)) <= e AS within,
       sketch_relative_error(percentile_agg(1::bigint, e)) = sketch_relative_error(percentile_agg(1::float8, e)) AS same_for_bigint,
       sketch_relative_error(percentile_agg(1::numeric, e)) = sketch_relative_error(percentile_agg(1::float8, e)) AS same_for_numeric
FROM (VALUES (0.4::float8), (0.1), (0.05), (0.01), (0.005), (0.001), (0.0001), (0.0000847)) AS v(e)
GROUP BY e ORDER BY e DESC;
SELECT sketch_relative_error(percentile_agg(x, 0.01)) <= 0.01 AS one_percent_ok
FROM generate_series(1, 1000) AS x(x);

--
-- The array form
--
-- One answer per fraction; NULL elements stay NULL, and the array keeps its
-- shape and bounds.
WITH s AS (SELECT percentile_agg(x) AS s
           FROM (VALUES (1.5::float8), (8), (3), (-2), (0)) AS v(x))
SELECT approx_percentile(s, '{0,0.5,1}'::float8[]) AS flat,
       approx_percentile(s, '{{0,0.25},{NULL,1}}'::float8[]) AS two_dims,
       approx_percentile(s, '[0:1]={0.5,1}'::float8[]) AS lower_bound_0,
       array_dims(approx_percentile(s, '[3:4]={0.5,1}'::float8[])) AS dims,
       approx_percentile(s, '{NULL,NULL}'::float8[]) AS all_null,
       approx_percentile(s, '{}'::float8[]) AS empty
FROM s;
-- Each element is the scalar answer.
SELECT count(*) FILTER (WHERE a.v IS DISTINCT FROM approx_percentile(s, q.q)) AS mismatches
FROM (SELECT percentile_agg(x::float8) AS s FROM generate_series(1, 1000) AS x) AS t,
     LATERAL unnest(approx_percentile(s, ARRAY(SELECT i / 200.0 FROM generate_series(0, 200) AS i)::float8[]))
       WITH ORDINALITY AS a(v, n)
     JOIN (SELECT i / 200.0::float8 AS q, i + 1 AS n FROM generate_series(0, 200) AS i) AS q USING (n);

--
-- approx_percentile_rank: the fraction of values <= v, counting the whole
-- bucket that holds v.  Exact below min, at and above max, and at zero.
--
WITH s AS (SELECT percentile_agg(x) AS s
           FROM (VALUES (1.5::float8), (8), (3), (-2), (0)) AS v(x))
SELECT v, approx_percentile_rank(s, v) AS rank
FROM s, (VALUES ('-Infinity'::float8), (-1e300), (-3), (-2), (-1), (0), (1), (1.5),
                (3), (7.99), (8), (8.01), (1e300), ('Infinity')) AS v(v)
ORDER BY v;
-- The whole bucket counts: 100 and 100.1 share a bucket at scale 7, so the
-- rank of 100 is 2/3 (exactly, it would be 1/3); the percentile at that
-- rank lands in the same bucket.
WITH s AS (SELECT percentile_agg(x) AS s FROM (VALUES (100::float8), (100.1), (200)) AS v(x))
SELECT s, approx_percentile_rank(s, 100) AS rank_100,
       abs(approx_percentile(s, approx_percentile_rank(s, 100)) - 100) <= 100.1 * sketch_relative_error(s)
         AS back_in_bucket
FROM s;
-- Rank and percentile agree: for every v of a dataset, rank(v) is at least
-- the exact fraction of values <= v, and at most the fraction <= v(1+e)/(1-e).
CREATE TEMP TABLE basics_cdf AS
SELECT x, count(*) OVER (ORDER BY x RANGE UNBOUNDED PRECEDING)::float8 / count(*) OVER () AS frac
FROM (SELECT (i * 37 % 1001)::float8 / 10 AS x FROM generate_series(1, 2000) AS i) AS d;
WITH s AS (SELECT percentile_agg(x) AS s, sketch_relative_error(percentile_agg(x)) AS e FROM basics_cdf)
SELECT count(DISTINCT c.x) AS values_checked,
       count(*) FILTER (WHERE approx_percentile_rank(s.s, c.x) < c.frac
                           OR approx_percentile_rank(s.s, c.x) >
                              (SELECT max(u.frac) FROM basics_cdf AS u WHERE u.x <= c.x * (1 + s.e) / (1 - s.e)))
         AS violations
FROM s, basics_cdf AS c;
DROP TABLE basics_cdf;

--
-- bigint input: the sum is exact, whatever the magnitudes
--
SELECT percentile_agg(x) AS s, sketch_sum(percentile_agg(x)) AS sum
FROM (VALUES (9223372036854775807::bigint), (-9223372036854775807)) AS v(x);
SELECT sketch_sum(percentile_agg(x)) AS sum,
       sketch_min(percentile_agg(x)) = (-9223372036854775808)::bigint::float8 AS min_ok,
       sketch_max(percentile_agg(x)) = 9223372036854775807::bigint::float8 AS max_ok
FROM (VALUES (9223372036854775807::bigint), ((-9223372036854775808)::bigint)) AS v(x);
-- A float8 accumulator would lose the small terms: 2^63 - 1 added twice,
-- plus 1, minus 2^63 - 1 twice.
SELECT sketch_sum(percentile_agg(x)) AS exact_sum,
       sum(x::float8) AS float8_sum
FROM (VALUES (9223372036854775807::bigint), (9223372036854775807), (1),
             (-9223372036854775807), (-9223372036854775807)) AS v(x);
-- sketch_sum of many bigints equals sum(), rounded once to double.
SELECT sketch_sum(percentile_agg(x)) = sum(x)::float8 AS sum_matches,
       sketch_count(percentile_agg(x)) = count(x) AS count_matches,
       sketch_mean(percentile_agg(x)) = (sum(x)::float8 / count(x)) AS mean_matches
FROM (SELECT (('x' || md5(i::text))::bit(64)::bigint) >> (i % 50) AS x
      FROM generate_series(1, 20000) AS i) AS t;
-- Integers beyond 2^53 are bucketed, and min and max kept, as the nearest
-- double, while the sum stays exact (and is rounded once, when read).  Such
-- sketches read back like any other: even when every value rounds the same
-- way, so that the exact sum lies outside count * [min, max].
SELECT v AS value, sketch_count(s) AS count,
       sketch_min(s) = v::float8 AND sketch_max(s) = v::float8 AS extremes_rounded,
       sketch_sum(s) = (n * v::numeric)::float8 AS sum_rounded_once,
       s::text::percentile_sketch::text = s::text AS round_trips
FROM (VALUES (9007199254740993::bigint, 1), (9223372036854775807, 2),
             (-9223372036854775807, 3), (4611686018427387903, 5)) AS v(v, n),
     LATERAL (SELECT percentile_agg(x) AS s FROM (SELECT v FROM generate_series(1, n)) AS r(x)) AS t
ORDER BY v;
-- The integers 1 to 1000: p0, p1, sum and mean are exact.
SELECT approx_percentile(s, 0) AS p0, approx_percentile(s, 1) AS p100,
       sketch_sum(s) AS sum, sketch_mean(s) AS mean
FROM (SELECT percentile_agg(x) AS s FROM generate_series(1::bigint, 1000) AS x) AS t;

--
-- numeric input: each value is converted to double precision, then summed
-- exactly (0.1 + 0.2 + 0.3 in float8 arithmetic would print
-- 0.6000000000000001).
--
SELECT percentile_agg(x) AS s, sketch_sum(percentile_agg(x)) AS sum,
       sum(x::float8) AS float8_sum
FROM (VALUES (0.1::numeric), (0.2), (0.3)) AS v(x);
SELECT percentile_agg(x)::text = percentile_agg(x::float8)::text AS same_as_float8,
       percentile_agg(x, 0.001)::text = percentile_agg(x::float8, 0.001)::text AS same_with_error
FROM (SELECT (i * 1.37 - 500)::numeric(10, 2) AS x FROM generate_series(1, 1000) AS i) AS t;
-- Numerics with more digits than a double holds round to the nearest one.
SELECT sketch_min(percentile_agg(x)) AS min, sketch_max(percentile_agg(x)) AS max
FROM (VALUES (1e300::numeric), (12345678901234567890.123456789)) AS v(x);
