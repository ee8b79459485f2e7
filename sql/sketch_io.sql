--
-- percentile_sketch input and output: the text form is lossless, round
-- trips bit for bit, and sketches are small.  (Binary COPY and
-- pg_dump/pg_restore round trips are in test/sql/sketch_dump.sh.)
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;

-- a deterministic uniform in [0, 1), without floating-point library calls
CREATE FUNCTION pg_temp.u(i bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (('x' || md5(salt || i::text))::bit(52)::bigint)::float8 / 4503599627370496.0 $$;

--
-- The text form
--
--   v1 scale=S count=N [min=.. max=.. sum=.. zero=Z pos=I:C,... neg=I:C,...]
--
-- min and max print with 17 significant digits (they read back to the same
-- double); the sum is exact: an odd hexadecimal integer times a power of
-- two.  pos and neg list the occupied buckets of each sign as index:count;
-- at scale S, bucket I holds the magnitudes in (2^(I/2^S), 2^((I+1)/2^S)].
SELECT name, s
FROM (VALUES
  (1, 'empty', 'v1 scale=7 count=0'::percentile_sketch),
  (2, 'one value', sketch_add(NULL, 3)),
  (3, 'zeros only', sketch_add(sketch_add(NULL, 0), 0)),
  (4, 'negative', sketch_add(sketch_add(NULL, -1.5), -1024)),
  (5, 'mixed', (SELECT percentile_agg(x) FROM (VALUES (-2::float8), (0), (1.5), (3), (8)) AS v(x))),
  (6, 'powers of two', (SELECT percentile_agg(2 ^ x) FROM generate_series(-2, 3) AS x)),
  (7, 'integers', (SELECT percentile_agg(x) FROM generate_series(1::bigint, 5) AS x)),
  (8, 'scale 0', (SELECT percentile_agg(x, 0.4) FROM generate_series(1::bigint, 5) AS x)),
  (9, 'subnormals', sketch_add(sketch_add(NULL, 5e-324), -2.5e-320)),
  (10, 'sum beyond double', sketch_add(sketch_add(NULL, 1e308), 1e308))) AS v(n, name, s)
ORDER BY n;

-- The binary form (what send and binary COPY carry) is the same content:
-- version 1, scale 7, count 1, min and max as little-endian IEEE doubles,
-- the sum, the zero count and the buckets, as varints.
SELECT percentile_sketch_send(sketch_add(NULL, 3)) AS binary_form;

-- Input accepts any spelling of min and max that reads as the same double,
-- and prints it canonically.
SELECT 'v1 scale=7 count=1 min=1.50 max=15e-1 sum=0x3p-1 zero=0 pos=74:1 neg='::percentile_sketch AS canonical;
SELECT 'v1 scale=7 count=1 min=1.5 max=1.5 sum=0x3p-1 zero=0 pos=74:1 neg='::percentile_sketch::text
     = 'v1 scale=7 count=1 min=1.50 max=15e-1 sum=0x3p-1 zero=0 pos=74:1 neg='::percentile_sketch::text AS same_sketch;

--
-- Round trips: text out and back in gives the same bytes and the same text,
-- for sketches of many shapes and every scale.
--
CREATE TEMP TABLE io_sketches (name text, s percentile_sketch);
INSERT INTO io_sketches
SELECT 'prices e=' || e, percentile_agg(round((5 + 495 * pg_temp.u(i, 'pr'))::numeric, 2), e)
FROM generate_series(1, 5000) AS i,
     (VALUES (0.4::float8), (0.2), (0.1), (0.05), (0.02), (0.01), (0.005), (0.002), (0.001),
             (0.0005), (0.0002), (0.0001), (0.0000847)) AS v(e)
GROUP BY e
UNION ALL
SELECT 'signed wide', percentile_agg((pg_temp.u(i, 'sw') - 0.5) * 10 ^ (pg_temp.u(i, 'sx') * 40 - 20))
FROM generate_series(1, 20000) AS i
UNION ALL
SELECT 'huge range', percentile_agg((CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END) * 10 ^ (600 * pg_temp.u(i, 'hr') - 300))
FROM generate_series(1, 20000) AS i
UNION ALL
SELECT 'subnormals', percentile_agg(i * 5e-324) FROM generate_series(-500, 500) AS i
UNION ALL
SELECT 'bigint extremes', percentile_agg(x)
FROM (VALUES (9223372036854775807::bigint), ((-9223372036854775808)::bigint), (0), (1), (-1)) AS v(x)
UNION ALL
SELECT 'zeros', percentile_agg(0::float8) FROM generate_series(1, 1000)
UNION ALL
SELECT 'big counts', percentile_merge(s)
FROM (SELECT percentile_agg(x::float8) AS s FROM generate_series(1, 1000) AS x) AS t,
     generate_series(1, 3000)
UNION ALL
SELECT 'empty scale ' || sc, ('v1 scale=' || sc || ' count=0')::percentile_sketch
FROM generate_series(0, 12) AS sc;
SELECT count(*) AS sketches,
       count(*) FILTER (WHERE percentile_sketch_send(s::text::percentile_sketch) = percentile_sketch_send(s)) AS same_bytes,
       count(*) FILTER (WHERE s::text::percentile_sketch::text = s::text) AS same_text,
       count(DISTINCT sketch_relative_error(s)) AS distinct_scales
FROM io_sketches;
-- the ones that do not round trip, if any
SELECT name FROM io_sketches
WHERE percentile_sketch_send(s::text::percentile_sketch) <> percentile_sketch_send(s)
   OR s::text::percentile_sketch::text <> s::text;
-- and every accessor gives the same answer after the round trip
SELECT count(*) AS differing
FROM io_sketches, LATERAL (SELECT s::text::percentile_sketch AS r) AS rt
WHERE sketch_count(s) <> sketch_count(r)
   OR sketch_min(s) IS DISTINCT FROM sketch_min(r)
   OR sketch_max(s) IS DISTINCT FROM sketch_max(r)
   OR sketch_sum(s) IS DISTINCT FROM sketch_sum(r)
   OR approx_percentile(s, '{0,0.01,0.1,0.25,0.5,0.75,0.9,0.99,1}'::float8[])
      IS DISTINCT FROM approx_percentile(r, '{0,0.01,0.1,0.25,0.5,0.75,0.9,0.99,1}'::float8[])
   OR approx_percentile_rank(s, 100) IS DISTINCT FROM approx_percentile_rank(r, 100);

--
-- Sizes: a sketch stores only its occupied buckets, delta-encoded.
--
-- A typical seller-day: 60 order values between 5 and 500 with cents.
SELECT pg_column_size(percentile_agg(round((5 + 495 * pg_temp.u(i, 'io'))::numeric, 2))) AS bytes,
       pg_column_size(percentile_agg(round((5 + 495 * pg_temp.u(i, 'io'))::numeric, 2))) <= 160 AS at_most_160
FROM generate_series(1, 60) AS i;
-- Growth with the number of values: bounded by the occupied buckets.
SELECT n, pg_column_size(percentile_agg(round((5 + 495 * pg_temp.u(i, 'io'))::numeric, 2))) AS bytes
FROM generate_series(1, 100000) AS i, (VALUES (1), (10), (60), (1000), (100000)) AS v(n)
WHERE i <= n
GROUP BY n ORDER BY n;

--
-- Storing sketches in a table
--
CREATE TABLE io_daily (seller int, day date, s percentile_sketch, PRIMARY KEY (seller, day));
INSERT INTO io_daily
SELECT i % 50, date '2024-01-01' + (i / 50) % 7, percentile_agg(round((5 + 495 * pg_temp.u(i, 'tb'))::numeric, 2))
FROM generate_series(1, 20000) AS i
GROUP BY 1, 2;
-- a big sketch, stored compressed or out of line
INSERT INTO io_daily
SELECT -1, date '2024-01-01', percentile_agg((pg_temp.u(i, 'bg') - 0.5) * 10 ^ (pg_temp.u(i, 'bx') * 40 - 20), 0.0001)
FROM generate_series(1, 50000) AS i;
SELECT count(*) AS rows, sum(sketch_count(s)) AS values,
       max(pg_column_size(s)) FILTER (WHERE seller >= 0) < 1000 AS daily_sketches_small,
       bool_and(pg_column_size(s) < octet_length(percentile_sketch_send(s))) FILTER (WHERE seller = -1)
         AS big_sketch_compressed
FROM io_daily;
-- What comes back from the table is what went in.
SELECT percentile_sketch_send(s) = (SELECT percentile_sketch_send(percentile_agg((pg_temp.u(i, 'bg') - 0.5) * 10 ^ (pg_temp.u(i, 'bx') * 40 - 20), 0.0001))
                                    FROM generate_series(1, 50000) AS i) AS big_sketch_intact
FROM io_daily WHERE seller = -1;
SELECT count(*) AS mismatches
FROM io_daily AS d
JOIN (SELECT i % 50 AS seller, date '2024-01-01' + (i / 50) % 7 AS day,
             percentile_agg(round((5 + 495 * pg_temp.u(i, 'tb'))::numeric, 2)) AS s
      FROM generate_series(1, 20000) AS i GROUP BY 1, 2) AS e USING (seller, day)
WHERE percentile_sketch_send(d.s) <> percentile_sketch_send(e.s);
-- Updating in place: add a value and merge another day in.
UPDATE io_daily SET s = sketch_add(s, 1000) WHERE seller = 7 AND day = '2024-01-01';
UPDATE io_daily SET s = sketch_merge(s, (SELECT s FROM io_daily WHERE seller = 7 AND day = '2024-01-02'))
WHERE seller = 7 AND day = '2024-01-01';
SELECT sketch_count(s), sketch_max(s)
FROM io_daily WHERE seller = 7 AND day = '2024-01-01';
-- Text out and back in through a text column.
CREATE TEMP TABLE io_text AS SELECT seller, day, s::text AS t FROM io_daily;
SELECT count(*) AS mismatches
FROM io_daily AS d JOIN io_text AS t USING (seller, day)
WHERE percentile_sketch_send(t.t::percentile_sketch) <> percentile_sketch_send(d.s);

DROP TABLE io_sketches, io_daily, io_text;
