--
-- percentile_sketch_from_histogram: a sketch from an OpenTelemetry
-- exponential histogram.  At scale s, bucket i holds the magnitudes in
-- (2^(i/2^s), 2^((i+1)/2^s)]; positive_counts[k] is the count of bucket
-- positive_offset + k (likewise for the negative magnitudes), and zeros
-- have their own count.  Scales finer than the sketch's finest (12) are
-- folded down exactly.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;

-- a deterministic uniform in (0, 1) and a standard normal
CREATE FUNCTION pg_temp.u(i bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((('x' || md5(salt || i::text))::bit(52)::bigint)::float8 + 0.5) / 4503599627370496.0 $$;
CREATE FUNCTION pg_temp.z(i bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT sqrt(-2 * ln(pg_temp.u(i, salt || 'a'))) * cos(2 * pi() * pg_temp.u(i, salt || 'b')) $$;

--
-- Scale 0: buckets (1, 2], (2, 4], ...; two zeros, one value in (1, 2],
-- one in (2, 4] and three in -(2, 4].
--
-- Without min, max and sum, min and max are the representative values of
-- the outermost buckets, 2LU/(L+U), and the sum is the sum of the
-- representative values.
SELECT percentile_sketch_from_histogram(0, 2, 0, '{1,1}', 1, '{3}') AS s;
-- With them, they are kept (they must fall in the outermost buckets).
SELECT percentile_sketch_from_histogram(0, 2, 0, '{1,1}', 1, '{3}', min => -3.9, max => 3.5, sum => -8) AS s;
WITH h AS (SELECT percentile_sketch_from_histogram(0, 2, 0, '{1,1}', 1, '{3}', min => -3.9, max => 3.5, sum => -8) AS s)
SELECT sketch_count(s), sketch_min(s), sketch_max(s), sketch_sum(s),
       approx_percentile(s, '{0,0.2,0.43,0.44,0.72,0.86,1}'::float8[]) AS percentiles,
       approx_percentile_rank(s, 0) AS rank_0,
       round(sketch_relative_error(s)::numeric, 6) AS relative_error
FROM h;
-- Leading and trailing zero counts are allowed, and so are empty arrays.
SELECT percentile_sketch_from_histogram(0, 2, -1, '{0,1,0,1,0}', 0, '{0,0,3}')::text
     = percentile_sketch_from_histogram(0, 2, 0, '{1,0,1}', 2, '{3}')::text AS zero_counts_ignored;
SELECT percentile_sketch_from_histogram(0, 0, 0, '{}') AS no_values,
       percentile_sketch_from_histogram(3, 5, 0, '{}') AS zeros_only,
       percentile_sketch_from_histogram(3, 0, 0, NULL, 0, NULL) AS null_arrays;

--
-- Scales 0, 7, 12, 15 and 20, positive and negative buckets, a zero count,
-- with and without min, max and sum.
--
-- Positive buckets 2^s and 2^s + 2 (magnitudes from 2 up), negative
-- buckets -2^(s+1) - 1 and -2^(s+1) (magnitudes around 1/4), at each scale.
-- At scales up to 12, bucket i is the sketch's bucket i; beyond, it is
-- folded into bucket floor(i / 2^(s - 12)).
SELECT s AS scale, h AS sketch
FROM generate_series(0, 20) AS s,
     LATERAL (SELECT percentile_sketch_from_histogram(s, 4, (1 << s), '{1,0,2}', -(2 << s) - 1, '{5,3}')) AS t(h)
WHERE s IN (0, 7, 12, 15, 20)
ORDER BY s;
-- Every answer lies in the bucket of its rank: in value order, ranks 1-3
-- are in the negative bucket -2^(s+1) (the larger magnitudes), 4-8 in
-- -2^(s+1) - 1, 9-12 are the zeros, 13 is in bucket 2^s and 14-15 in
-- 2^s + 2.  With a given min and max (here, mid-bucket), p0 and p1 are
-- them exactly.
CREATE TEMP TABLE hist_expect (rank_lo int, rank_hi int, sign int, bucket_at_0 int);
INSERT INTO hist_expect VALUES (1, 3, -1, 0), (4, 8, -1, -1), (9, 12, 0, NULL), (13, 13, 1, 0), (14, 15, 1, 2);
SELECT s AS scale, max(sketch_count(h)) AS count,
       round(max(sketch_relative_error(h))::numeric, 7) AS relative_error,
       count(*) AS answers,
       count(*) FILTER (WHERE NOT CASE
         WHEN e.sign = 0 THEN approx_percentile(h, q) = 0
         ELSE e.sign * approx_percentile(h, q) > 2 ^ (floor(((CASE WHEN e.sign = 1 THEN 1 << s ELSE -(2 << s) END) + e.bucket_at_0)
                                                              / 2.0 ^ (s - least(s, 12))) / 2.0 ^ least(s, 12))
          AND e.sign * approx_percentile(h, q) <= 2 ^ ((floor(((CASE WHEN e.sign = 1 THEN 1 << s ELSE -(2 << s) END) + e.bucket_at_0)
                                                                / 2.0 ^ (s - least(s, 12))) + 1) / 2.0 ^ least(s, 12))
         END) AS outside_bucket,
       bool_and(sketch_min(hm) = lo AND sketch_max(hm) = hi AND sketch_sum(hm) = -1.5
                AND approx_percentile(hm, 0) = lo AND approx_percentile(hm, 1) = hi) AS given_stats_kept
FROM generate_series(0, 20) AS s,
     LATERAL (SELECT -(2 ^ ((floor(-(2 << s) / 2.0 ^ (s - least(s, 12))) + 0.5) / 2 ^ least(s, 12))) AS lo,
                     2 ^ ((floor(((1 << s) + 2) / 2.0 ^ (s - least(s, 12))) + 0.5) / 2 ^ least(s, 12)) AS hi) AS mid,
     LATERAL (SELECT percentile_sketch_from_histogram(s, 4, (1 << s), '{1,0,2}', -(2 << s) - 1, '{5,3}') AS h,
                     percentile_sketch_from_histogram(s, 4, (1 << s), '{1,0,2}', -(2 << s) - 1, '{5,3}',
                                                      min => lo, max => hi, sum => -1.5) AS hm) AS t,
     generate_series(0, 15) AS k,
     LATERAL (SELECT k / 15.0::float8 AS q, greatest(ceil(k / 15.0::float8 * 15), 1) AS rank) AS qq
     JOIN hist_expect AS e ON qq.rank BETWEEN e.rank_lo AND e.rank_hi
WHERE s IN (0, 7, 12, 15, 20)
GROUP BY s ORDER BY s;

--
-- Folding: a finer histogram is the coarser one with its buckets summed
-- in groups of 2^(s - 12), floor-aligned (negative indexes included).
--
CREATE TEMP TABLE hist_fine AS
SELECT k, (('x' || md5('hf' || k))::bit(8)::int % 5)::bigint AS c
FROM generate_series(0, 499) AS k;
CREATE FUNCTION pg_temp.folded(fine_scale int, off int) RETURNS TABLE (o int, counts bigint[])
LANGUAGE sql AS $$
  SELECT min(b)::int, array_agg(c ORDER BY b)
  FROM (SELECT b, coalesce(sum(c), 0)::bigint AS c
        FROM generate_series(floor((off) / 2.0 ^ (fine_scale - 12))::int,
                             floor((off + 499) / 2.0 ^ (fine_scale - 12))::int) AS b
        LEFT JOIN hist_fine ON floor((off + k) / 2.0 ^ (fine_scale - 12)) = b
        GROUP BY b) AS g
$$;
SELECT fine_scale, off, with_stats,
       percentile_sketch_send(fine) = percentile_sketch_send(coarse) AS identical,
       sketch_count(fine) = (SELECT 2 * sum(c) + 7 FROM hist_fine) AS count_ok
FROM (VALUES (15), (20)) AS fs(fine_scale),
     (VALUES (-3001), (0), (12345)) AS o(off),
     (VALUES (false), (true)) AS w(with_stats),
     LATERAL (SELECT array_agg(c ORDER BY k) AS a FROM hist_fine) AS fa,
     LATERAL pg_temp.folded(fine_scale, off) AS p,
     LATERAL pg_temp.folded(fine_scale, -off - 600) AS n,
     LATERAL (SELECT
       CASE WHEN with_stats
            THEN percentile_sketch_from_histogram(fine_scale, 7, off, fa.a, -off - 600, fa.a,
                   min => -sketch_max(percentile_sketch_from_histogram(fine_scale, 0, -off - 600, fa.a)),
                   max => sketch_max(percentile_sketch_from_histogram(fine_scale, 0, off, fa.a)),
                   sum => 12.5)
            ELSE percentile_sketch_from_histogram(fine_scale, 7, off, fa.a, -off - 600, fa.a) END AS fine,
       CASE WHEN with_stats
            THEN percentile_sketch_from_histogram(12, 7, p.o, p.counts, n.o, n.counts,
                   min => -sketch_max(percentile_sketch_from_histogram(fine_scale, 0, -off - 600, fa.a)),
                   max => sketch_max(percentile_sketch_from_histogram(fine_scale, 0, off, fa.a)),
                   sum => 12.5)
            ELSE percentile_sketch_from_histogram(12, 7, p.o, p.counts, n.o, n.counts) END AS coarse) AS t
ORDER BY fine_scale, off, with_stats;

-- A histogram wider than the sketch's span drops to a coarser scale, the
-- same one percentile_agg picks for the same values: here one value in
-- bucket 0 of scale 12 (just above 1) and one in bucket 200000 (2^48.8).
SELECT sketch_count(h) AS count,
       sketch_relative_error(h) > 0.0000847 AS coarser_than_12,
       sketch_relative_error(h) = (SELECT sketch_relative_error(percentile_agg(x, 0.0001))
                                   FROM (VALUES (1.0001::float8), (2 ^ (200000 / 4096.0) * 1.0001)) AS v(x))
         AS same_scale_as_agg
FROM (SELECT percentile_sketch_from_histogram(12, 0, 0,
               '{1}'::bigint[] || array_fill(0::bigint, ARRAY[199999]) || '{1}'::bigint[],
               min => 1.0001, max => 2 ^ (200000 / 4096.0) * 1.0001) AS h) AS t;

--
-- A histogram built from a known dataset: integer values (so that their
-- sum is exact in double precision), bucketed in SQL at scale 7 with
-- the OpenTelemetry formula ceil(log2(x) * 2^7) - 1 (in numeric, exact at
-- powers of two).  Given the true min, max and sum, the histogram's sketch
-- is byte for byte the sketch percentile_agg builds from the values.
--
CREATE TEMP TABLE hist_data AS
SELECT i, CASE WHEN i % 10 = 0 THEN 0
               ELSE (CASE WHEN i % 7 = 0 THEN -1 ELSE 1 END) * round(exp(7 + 1.5 * pg_temp.z(i, 'hd'))) END::float8 AS x
FROM generate_series(1, 20000) AS i;
CREATE TEMP TABLE hist_buckets AS
SELECT sign(x)::int AS sign, ceil(log(2.0, abs(x)::numeric) * 128)::int - 1 AS b, count(*) AS c
FROM hist_data WHERE x <> 0 GROUP BY 1, 2;
CREATE TEMP TABLE hist_otel AS
SELECT (SELECT count(*) FROM hist_data WHERE x = 0) AS zero_count,
       (SELECT min(b) FROM hist_buckets WHERE sign = 1) AS pos_offset,
       (SELECT array_agg(coalesce(c, 0) ORDER BY g) FROM generate_series((SELECT min(b) FROM hist_buckets WHERE sign = 1),
                                                                         (SELECT max(b) FROM hist_buckets WHERE sign = 1)) AS g
          LEFT JOIN hist_buckets ON sign = 1 AND b = g) AS pos_counts,
       (SELECT min(b) FROM hist_buckets WHERE sign = -1) AS neg_offset,
       (SELECT array_agg(coalesce(c, 0) ORDER BY g) FROM generate_series((SELECT min(b) FROM hist_buckets WHERE sign = -1),
                                                                         (SELECT max(b) FROM hist_buckets WHERE sign = -1)) AS g
          LEFT JOIN hist_buckets ON sign = -1 AND b = g) AS neg_counts,
       (SELECT min(x) FROM hist_data) AS min, (SELECT max(x) FROM hist_data) AS max,
       (SELECT sum(x) FROM hist_data) AS sum;
SELECT zero_count, cardinality(pos_counts) AS pos_buckets, cardinality(neg_counts) AS neg_buckets,
       percentile_sketch_send(percentile_sketch_from_histogram(7, zero_count, pos_offset, pos_counts,
                                                                neg_offset, neg_counts, min, max, sum))
         = (SELECT percentile_sketch_send(percentile_agg(x)) FROM hist_data) AS same_as_agg
FROM hist_otel;
-- Its answers are within the relative error of percentile_disc, at every
-- q in {0, 0.001, ..., 1}, with and without the true min, max and sum (p0
-- and p1 are then the representative values of the outermost buckets,
-- still within the error).
WITH h AS (SELECT percentile_sketch_from_histogram(7, zero_count, pos_offset, pos_counts,
                                                   neg_offset, neg_counts, min, max, sum) AS with_stats,
                  percentile_sketch_from_histogram(7, zero_count, pos_offset, pos_counts,
                                                   neg_offset, neg_counts) AS without_stats
           FROM hist_otel),
     q AS (SELECT array_agg(i / 1000.0::float8 ORDER BY i) AS qs FROM generate_series(0, 1000) AS i),
     exact AS (SELECT percentile_disc((SELECT qs FROM q)) WITHIN GROUP (ORDER BY x) AS e FROM hist_data)
SELECT which, count(*) AS fractions,
       count(*) FILTER (WHERE CASE WHEN t.v = 0 THEN a.v <> 0
                                   ELSE abs(a.v - t.v) > bound * (1 + 1e-12) * abs(t.v) END) AS violations
FROM h, exact,
     LATERAL (VALUES ('with min, max, sum', with_stats), ('without', without_stats)) AS w(which, s),
     LATERAL (SELECT sketch_relative_error(w.s) AS bound) AS b,
     LATERAL unnest(exact.e) WITH ORDINALITY AS t(v, n)
     JOIN LATERAL unnest(approx_percentile(w.s, (SELECT qs FROM q))) WITH ORDINALITY AS a(v, n) USING (n)
GROUP BY which ORDER BY which;
-- Without the true sum, the estimated sum is close (the representative
-- values are within the relative error of each value).
SELECT abs(sketch_sum(percentile_sketch_from_histogram(7, zero_count, pos_offset, pos_counts, neg_offset, neg_counts))
           - (SELECT sum(x) FROM hist_data))
       <= 0.0027076 * (SELECT sum(abs(x)) FROM hist_data) AS estimated_sum_close
FROM hist_otel;
-- The same histogram read at a coarser scale (3: buckets folded in groups
-- of 16) is within its coarser error.
CREATE TEMP TABLE hist_coarse AS
SELECT sign, floor(b / 16.0)::int AS b, sum(c)::bigint AS c FROM hist_buckets GROUP BY 1, 2;
WITH h AS (
  SELECT percentile_sketch_from_histogram(3, (SELECT zero_count FROM hist_otel),
           (SELECT min(b) FROM hist_coarse WHERE sign = 1),
           (SELECT array_agg(coalesce(c, 0) ORDER BY g)
            FROM generate_series((SELECT min(b) FROM hist_coarse WHERE sign = 1),
                                 (SELECT max(b) FROM hist_coarse WHERE sign = 1)) AS g
            LEFT JOIN hist_coarse ON sign = 1 AND b = g),
           (SELECT min(b) FROM hist_coarse WHERE sign = -1),
           (SELECT array_agg(coalesce(c, 0) ORDER BY g)
            FROM generate_series((SELECT min(b) FROM hist_coarse WHERE sign = -1),
                                 (SELECT max(b) FROM hist_coarse WHERE sign = -1)) AS g
            LEFT JOIN hist_coarse ON sign = -1 AND b = g)) AS s),
     q AS (SELECT array_agg(i / 1000.0::float8 ORDER BY i) AS qs FROM generate_series(0, 1000) AS i),
     exact AS (SELECT percentile_disc((SELECT qs FROM q)) WITHIN GROUP (ORDER BY x) AS e FROM hist_data)
SELECT round(max(sketch_relative_error(h.s))::numeric, 6) AS relative_error,
       count(*) AS fractions,
       count(*) FILTER (WHERE CASE WHEN t.v = 0 THEN a.v <> 0
                                   ELSE abs(a.v - t.v) > sketch_relative_error(h.s) * (1 + 1e-12) * abs(t.v) END)
         AS violations
FROM h, exact,
     LATERAL unnest(exact.e) WITH ORDINALITY AS t(v, n)
     JOIN LATERAL unnest(approx_percentile(h.s, (SELECT qs FROM q))) WITH ORDINALITY AS a(v, n) USING (n);

DROP TABLE hist_expect, hist_fine, hist_data, hist_buckets, hist_otel, hist_coarse;
