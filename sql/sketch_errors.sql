--
-- percentile_sketch errors: what is refused, with which message and
-- SQLSTATE, and that no error leaves the session unusable.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;

--
-- NaN and infinite values
--
-- A sketch summarises finite values only; NaN and infinities are refused
-- by every way in.
SELECT percentile_agg(x) FROM (VALUES (1::float8), ('NaN')) AS v(x);
SELECT percentile_agg(x) FROM (VALUES (1::float8), ('Infinity')) AS v(x);
SELECT percentile_agg(x) FROM (VALUES ('-Infinity'::float8), (1)) AS v(x);
SELECT percentile_agg(x, 0.01) FROM (VALUES (1::float8), ('NaN')) AS v(x);
SELECT percentile_agg(x, 0.01) FROM (VALUES (1::float8), ('Infinity')) AS v(x);
SELECT percentile_agg(x) FROM (VALUES (1::numeric), ('NaN')) AS v(x);
SELECT percentile_agg(x, 0.01) FROM (VALUES ('NaN'::numeric)) AS v(x);
SELECT percentile_agg(x) FROM (VALUES ('Infinity'::numeric)) AS v(x);
SELECT percentile_agg(x) FROM (VALUES ('-Infinity'::numeric)) AS v(x);
SELECT sketch_add(NULL, 'NaN');
SELECT sketch_add(sketch_add(NULL, 1), 'Infinity');
SELECT sketch_add(sketch_add(NULL, 1), '-Infinity');
-- Excluding them as the hint says works.
SELECT sketch_count(percentile_agg(x))
FROM (VALUES (1::float8), ('NaN'), ('Infinity'), ('-Infinity'), (2)) AS v(x)
WHERE x <> 'NaN' AND x <> 'Infinity' AND x <> '-Infinity';

--
-- The relative error parameter: at least alpha(12) ~ 8.46e-5, less than 0.5
--
SELECT percentile_agg(x, 0) FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, 0.5) FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, -1) FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, 'NaN') FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, 'Infinity') FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, 1e-9) FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, 8.4e-5) FROM (VALUES (1::bigint)) AS v(x);
SELECT percentile_agg(x, 1e-9) FROM (VALUES (1::numeric)) AS v(x);
SELECT percentile_agg(x, NULL) FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, NULL) FROM (VALUES (1::bigint)) AS v(x);
-- A NULL value with a bad relative error: the value is skipped, so is the
-- check (nothing is built).
SELECT percentile_agg(x, 0) IS NULL AS skipped FROM (VALUES (NULL::float8)) AS v(x);
-- The relative error must be the same on every row of a group.
SELECT percentile_agg(x, e) FROM (VALUES (1::float8, 0.01::float8), (2, 0.001)) AS v(x, e);
SELECT percentile_agg(x, e) FROM (VALUES (1::bigint, 0.01::float8), (2, 0.5)) AS v(x, e);
-- ... though two values asking for the same scale are fine.
SELECT sketch_relative_error(percentile_agg(x, e)) < 0.01 AS ok
FROM (VALUES (1::float8, 0.01::float8), (2, 0.009)) AS v(x, e);
-- ... and different groups may ask for different ones.
SELECT g, round(sketch_relative_error(percentile_agg(x, e))::numeric, 6) AS relative_error
FROM (VALUES (1, 1::float8, 0.01::float8), (1, 2, 0.01), (2, 3, 0.001), (2, 4, 0.001)) AS v(g, x, e)
GROUP BY g ORDER BY g;

--
-- Fractions outside [0, 1]
--
SELECT approx_percentile(sketch_add(NULL, 1), -0.01);
SELECT approx_percentile(sketch_add(NULL, 1), 1.01);
SELECT approx_percentile(sketch_add(NULL, 1), 'NaN'::float8);
SELECT approx_percentile(sketch_add(NULL, 1), 'Infinity'::float8);
SELECT approx_percentile(sketch_add(NULL, 1), '{0.5,1.5}'::float8[]);
SELECT approx_percentile(sketch_add(NULL, 1), '{0.5,NULL,-1}'::float8[]);
SELECT approx_percentile(sketch_add(NULL, 1), '{{0.5},{NaN}}'::float8[]);
-- checked even on the empty sketch, whose answers are otherwise NULL
SELECT approx_percentile('v1 scale=7 count=0', 2);
SELECT approx_percentile('v1 scale=7 count=0', '{2}'::float8[]);
-- the rank of NaN
SELECT approx_percentile_rank(sketch_add(NULL, 1), 'NaN');

--
-- A sum beyond the range of double precision is kept exactly, but cannot
-- be returned.
--
SELECT sketch_sum(sketch_add(sketch_add(NULL, 1e308), 1e308));
SELECT sketch_mean(sketch_add(sketch_add(NULL, 1e308), 1e308));
-- the other accessors still answer
SELECT sketch_count(s), sketch_max(s), approx_percentile(s, 0.5)
FROM (SELECT sketch_add(sketch_add(NULL, 1e308), 1e308) AS s) AS t;
-- and adding the opposite brings the sum back into range
SELECT sketch_sum(sketch_add(sketch_add(sketch_add(NULL, 1e308), 1e308), -1e308));

--
-- Malformed text input
--
SELECT ''::percentile_sketch;
SELECT 'v2 scale=7 count=0'::percentile_sketch;
SELECT 'v1 scale=13 count=0'::percentile_sketch;
SELECT 'v1 scale=7'::percentile_sketch;
SELECT 'v1 scale=7 count=01'::percentile_sketch;
SELECT 'v1 scale=7 count=0 min=1'::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=202:1'::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=three max=3 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3x sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=nan max=3 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=1e999 max=1e999 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=-0 max=0 sum=0 zero=1 pos= neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=3 max=3 sum=0x3p1 zero=0 pos=202:1,202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=2 max=3 sum=0x5p0 zero=0 pos=202:1,127:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=127:0,202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=3 max=3 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=202:2 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=1 max=3 sum=0x1p2 zero=0 pos=202:2 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=4 max=3 sum=0x7p0 zero=0 pos=202:2 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x6p-1 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x03p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=-0x3p0 zero=0 pos=202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=2 max=3 sum=0x1p4 zero=0 pos=127:1,202:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=202:1 neg= '::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=202:1 neg=junk'::percentile_sketch;
SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=999999999:1 neg='::percentile_sketch;
SELECT 'v1 scale=7 count=2 min=2 max=3e300 sum=0x3p996 zero=0 pos=127:1,127655:1 neg='::percentile_sketch;
SELECT 'v1  scale=7 count=0'::percentile_sketch;
SELECT ' v1 scale=7 count=0'::percentile_sketch;
SELECT 'V1 scale=7 count=0'::percentile_sketch;

--
-- percentile_sketch_from_histogram: invalid histograms
--
SELECT percentile_sketch_from_histogram(-1, 0, 0, '{1}');
SELECT percentile_sketch_from_histogram(21, 0, 0, '{1}');
SELECT percentile_sketch_from_histogram(NULL, 0, 0, '{1}');
SELECT percentile_sketch_from_histogram(7, NULL, 0, '{1}');
SELECT percentile_sketch_from_histogram(7, -1, 0, '{1}');
SELECT percentile_sketch_from_histogram(7, 0, 0, '{1,-1}');
SELECT percentile_sketch_from_histogram(7, 0, 0, '{1}', 0, '{-5}');
SELECT percentile_sketch_from_histogram(7, 0, 0, '{1,NULL,2}');
SELECT percentile_sketch_from_histogram(7, 0, 0, '{{1,2},{3,4}}');
SELECT percentile_sketch_from_histogram(7, 0, 0, '{1}', 0, '{{1}}');
-- min, max and sum must fit the buckets: at scale 0, buckets 0 and 1 are
-- (1, 2] and (2, 4]
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', min => 0.5);
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', min => 2.5);
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', max => 5);
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', min => 3, max => 1.5);
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', sum => -1);
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', min => 'Infinity');
SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', sum => 'NaN');
SELECT percentile_sketch_from_histogram(0, 0, 0, '{}', sum => 3);
-- bucket indexes beyond the range of doubles
SELECT percentile_sketch_from_histogram(0, 0, 1024, '{1}');
SELECT percentile_sketch_from_histogram(0, 0, 2147483647, '{0,1}');
-- more values than a sketch can count
SELECT percentile_sketch_from_histogram(0, 9223372036854775807, 0, '{9223372036854775807,9223372036854775807}');

--
-- SQLSTATEs: each refused call above, by class.  Lists the calls whose
-- SQLSTATE is not the expected one.
--
CREATE FUNCTION pg_temp.sqlstate_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

CREATE TEMP TABLE err_cases (expected text, query text);
INSERT INTO err_cases VALUES
  -- data_exception: NaN and infinite values
  ('22000', $$SELECT percentile_agg(x) FROM (VALUES ('NaN'::float8)) AS v(x)$$),
  ('22000', $$SELECT percentile_agg(x) FROM (VALUES ('Infinity'::float8)) AS v(x)$$),
  ('22000', $$SELECT percentile_agg(x) FROM (VALUES ('-Infinity'::float8)) AS v(x)$$),
  ('22000', $$SELECT percentile_agg(x, 0.01) FROM (VALUES ('NaN'::float8)) AS v(x)$$),
  ('22000', $$SELECT percentile_agg(x) FROM (VALUES ('NaN'::numeric)) AS v(x)$$),
  ('22000', $$SELECT percentile_agg(x, 0.01) FROM (VALUES ('Infinity'::numeric)) AS v(x)$$),
  ('22000', $$SELECT sketch_add(NULL, 'NaN')$$),
  ('22000', $$SELECT sketch_add(sketch_add(NULL, 1), '-Infinity')$$),
  -- numeric_value_out_of_range
  ('22003', $$SELECT percentile_agg(x) FROM (VALUES (1e400::numeric)) AS v(x)$$),
  ('22003', $$SELECT percentile_sketch_from_histogram(0, 9223372036854775807, 0, '{9223372036854775807,9223372036854775807}')$$),
  ('22003', $$SELECT sketch_sum(sketch_add(sketch_add(NULL, 1e308), 1e308))$$),
  ('22003', $$SELECT sketch_mean(sketch_add(sketch_add(NULL, 1e308), 1e308))$$),
  -- invalid_parameter_value: relative error, fractions, rank of NaN
  ('22023', $$SELECT percentile_agg(x, 0) FROM (VALUES (1::float8)) AS v(x)$$),
  ('22023', $$SELECT percentile_agg(x, 0.5) FROM (VALUES (1::float8)) AS v(x)$$),
  ('22023', $$SELECT percentile_agg(x, -1) FROM (VALUES (1::bigint)) AS v(x)$$),
  ('22023', $$SELECT percentile_agg(x, 'NaN') FROM (VALUES (1::numeric)) AS v(x)$$),
  ('22023', $$SELECT percentile_agg(x, 1e-9) FROM (VALUES (1::float8)) AS v(x)$$),
  ('22023', $$SELECT percentile_agg(x, e) FROM (VALUES (1::float8, 0.01::float8), (2, 0.001)) AS v(x, e)$$),
  ('22023', $$SELECT approx_percentile(sketch_add(NULL, 1), -0.01)$$),
  ('22023', $$SELECT approx_percentile(sketch_add(NULL, 1), 1.01)$$),
  ('22023', $$SELECT approx_percentile(sketch_add(NULL, 1), 'NaN'::float8)$$),
  ('22023', $$SELECT approx_percentile(sketch_add(NULL, 1), '{0.5,NaN}'::float8[])$$),
  ('22023', $$SELECT approx_percentile('v1 scale=7 count=0', '{2}'::float8[])$$),
  ('22023', $$SELECT approx_percentile_rank(sketch_add(NULL, 1), 'NaN')$$),
  -- null_value_not_allowed
  ('22004', $$SELECT percentile_agg(x, NULL) FROM (VALUES (1::float8)) AS v(x)$$),
  ('22004', $$SELECT percentile_sketch_from_histogram(NULL, 0, 0, '{1}')$$),
  ('22004', $$SELECT percentile_sketch_from_histogram(7, NULL, 0, '{1}')$$),
  -- invalid_text_representation: malformed text
  ('22P02', $$SELECT ''::percentile_sketch$$),
  ('22P02', $$SELECT 'v2 scale=7 count=0'::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=13 count=0'::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7'::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=1 min=three max=3 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=1 min=1e999 max=1e999 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=2 min=2 max=3 sum=0x5p0 zero=0 pos=202:1,127:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=127:0,202:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=2 min=3 max=3 sum=0x3p0 zero=0 pos=202:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=2 min=1 max=3 sum=0x1p2 zero=0 pos=202:2 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x6p-1 zero=0 pos=202:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=2 min=2 max=3 sum=0x1p4 zero=0 pos=127:1,202:1 neg='::percentile_sketch$$),
  ('22P02', $$SELECT 'v1 scale=7 count=1 min=3 max=3 sum=0x3p0 zero=0 pos=202:1 neg=junk'::percentile_sketch$$),
  -- invalid_parameter_value and array_subscript_error: histograms
  ('22023', $$SELECT percentile_sketch_from_histogram(-1, 0, 0, '{1}')$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(21, 0, 0, '{1}')$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(7, -1, 0, '{1}')$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(7, 0, 0, '{1,-1}')$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(7, 0, 0, '{1,NULL,2}')$$),
  ('2202E', $$SELECT percentile_sketch_from_histogram(7, 0, 0, '{{1,2},{3,4}}')$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', min => 0.5)$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(0, 0, 0, '{1,1}', min => 'Infinity')$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(0, 0, 0, '{}', sum => 3)$$),
  ('22023', $$SELECT percentile_sketch_from_histogram(0, 0, 1024, '{1}')$$),
  -- and a valid call, to show the check can tell
  ('no error', $$SELECT percentile_agg(x, 0.01) FROM (VALUES (1::float8)) AS v(x)$$);
SELECT count(*) AS cases, count(*) FILTER (WHERE pg_temp.sqlstate_of(query) = expected) AS as_expected
FROM err_cases;
SELECT expected, pg_temp.sqlstate_of(query) AS got, query
FROM err_cases WHERE pg_temp.sqlstate_of(query) <> expected;

--
-- The session stays usable: after every error above, in a transaction
-- block after a rollback, and after a subtransaction's error.
--
SELECT sketch_count(percentile_agg(x::float8)) AS still_works FROM generate_series(1, 1000) AS x;
BEGIN;
SELECT percentile_agg(x) FROM (VALUES ('NaN'::float8)) AS v(x);
SELECT 1;
ROLLBACK;
BEGIN;
SAVEPOINT a;
SELECT 'v1 scale=99 count=0'::percentile_sketch;
ROLLBACK TO SAVEPOINT a;
SELECT sketch_count(percentile_agg(x::float8)) AS after_savepoint FROM generate_series(1, 1000) AS x;
COMMIT;
-- An error in the middle of a grouped aggregation, then the same query
-- without the bad row.
SELECT g, sketch_count(percentile_agg(x))
FROM (SELECT i % 10 AS g, CASE WHEN i = 5000 THEN 'NaN'::float8 ELSE i END AS x
      FROM generate_series(1, 10000) AS i) AS t
GROUP BY g ORDER BY g;
SELECT g, sketch_count(percentile_agg(x))
FROM (SELECT i % 10 AS g, i::float8 AS x FROM generate_series(1, 10000) AS i WHERE i <> 5000) AS t
GROUP BY g ORDER BY g;
-- A failed percentile_agg(x, e) does not poison later calls with other
-- errors (the relative error lookup is memoised).
SELECT percentile_agg(x, 0.3) IS NOT NULL AS ok FROM (VALUES (1::float8)) AS v(x);
SELECT percentile_agg(x, 0.6) FROM (VALUES (1::float8)) AS v(x);
SELECT round(sketch_relative_error(percentile_agg(x, 0.3))::numeric, 4) AS relative_error FROM (VALUES (1::float8)) AS v(x);

DROP TABLE err_cases;
