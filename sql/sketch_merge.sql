--
-- percentile_sketch merges are exact: however the values are split into
-- parts, and in whatever order or grouping the parts' sketches are merged,
-- the result is byte for byte the sketch of all the values.  The same holds
-- for parallel aggregation, which merges the workers' partial sketches.
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

-- sketch_merge and sketch_add as left folds, for comparison
CREATE AGGREGATE pg_temp.merge_fold(percentile_sketch) (SFUNC = sketch_merge, STYPE = percentile_sketch);
CREATE AGGREGATE pg_temp.add_fold(double precision) (SFUNC = sketch_add, STYPE = percentile_sketch);

CREATE TABLE merge_data (dataset text NOT NULL, i int NOT NULL, x double precision NOT NULL);
INSERT INTO merge_data
SELECT 'lognormal', i, exp(3 + 1.2 * pg_temp.z(i, 'ln')) FROM generate_series(1, 4000) AS i
UNION ALL
SELECT 'pareto', i, 10 / pg_temp.u(i, 'pa') ^ (1 / 1.2) FROM generate_series(1, 4000) AS i
UNION ALL
SELECT 'zeros40', i, CASE WHEN pg_temp.u(i, 'zs') < 0.4 THEN 0 ELSE exp(1 + 2 * pg_temp.z(i, 'zl')) END
FROM generate_series(1, 4000) AS i
UNION ALL
SELECT 'signed', i, (CASE WHEN pg_temp.u(i, 'ss') < 0.45 THEN -1 ELSE 1 END) * exp(3 * pg_temp.z(i, 'sm'))
FROM generate_series(1, 4000) AS i
UNION ALL
-- wide enough that parts sketch at finer scales than the whole
SELECT 'huge range', i, (CASE WHEN i % 3 = 0 THEN -1 ELSE 1 END) * 10 ^ (600 * pg_temp.u(i, 'hr') - 300)
FROM generate_series(1, 4000) AS i
UNION ALL
SELECT 'integers', i, floor(exp(2 + 1.5 * pg_temp.z(i, 'in'))) FROM generate_series(1, 4000) AS i
UNION ALL
SELECT 'constant', i, 42.5 FROM generate_series(1, 2000) AS i
UNION ALL
SELECT 'two values', i, CASE WHEN i % 10 < 3 THEN 0.3 ELSE 9999.99 END FROM generate_series(1, 2000) AS i;

-- the sketch of each whole dataset, at two precisions: the default (which
-- is what 0.005 asks for), and 0.0001 for three of them
CREATE TABLE merge_whole AS
SELECT dataset, e, percentile_agg(x, e) AS s
FROM merge_data, (VALUES (0.005::float8), (0.0001)) AS v(e)
WHERE e = 0.005 OR dataset IN ('lognormal', 'signed', 'huge range')
GROUP BY dataset, e;
SELECT count(*) AS datasets,
       count(*) FILTER (WHERE percentile_sketch_send(w.s) = percentile_sketch_send(d.s)) AS default_identical
FROM merge_whole AS w
JOIN (SELECT dataset, percentile_agg(x) AS s FROM merge_data GROUP BY dataset) AS d USING (dataset)
WHERE w.e = 0.005;

-- Each dataset split k ways (k = 2, 3, 7, 20) in two manners: by a hash of
-- the row (every part looks like the whole), and by value range (each part
-- holds a slice of the values, so it can be sketched at a finer scale than
-- the whole, and merging must drop scales).  One sketch per part.
CREATE TABLE merge_parts AS
SELECT dataset, e, split, k, part, percentile_agg(x, e) AS s
FROM (SELECT d.dataset, d.x, 'hash' AS split, k, ('x' || md5(k || ':' || d.i))::bit(31)::int % k AS part
      FROM merge_data AS d, (VALUES (2), (3), (7), (20)) AS kk(k)
      UNION ALL
      SELECT r.dataset, r.x, 'range', k, ((r.rn - 1) * k / r.n)::int
      FROM (SELECT dataset, x, row_number() OVER (PARTITION BY dataset ORDER BY x, i) AS rn,
                   count(*) OVER (PARTITION BY dataset) AS n
            FROM merge_data) AS r,
           (VALUES (2), (3), (7), (20)) AS kk(k)) AS p,
     (VALUES (0.005::float8), (0.0001)) AS v(e)
WHERE e = 0.005 OR dataset IN ('lognormal', 'signed', 'huge range')
GROUP BY dataset, e, split, k, part;
SELECT count(*) AS part_sketches, count(DISTINCT (dataset, e, split, k)) AS splits FROM merge_parts;

-- Parts split by range can be finer than the whole: the huge range's are.
SELECT p.dataset, p.e, p.split,
       count(*) FILTER (WHERE sketch_relative_error(p.s) < sketch_relative_error(w.s)) AS finer_parts
FROM merge_parts AS p JOIN merge_whole AS w ON w.dataset = p.dataset AND w.e = p.e
WHERE p.dataset = 'huge range'
GROUP BY p.dataset, p.e, p.split ORDER BY p.dataset, p.e DESC, p.split;

-- percentile_merge over the parts, in four orders, equals the whole sketch:
-- same bytes (send) and same text.  Any split that differs is listed.
SELECT m.dataset, m.e, m.split, m.k, m.ordering
FROM (SELECT dataset, e, split, k, 'by part' AS ordering, percentile_merge(s ORDER BY part) AS s
      FROM merge_parts GROUP BY dataset, e, split, k
      UNION ALL
      SELECT dataset, e, split, k, 'by part desc', percentile_merge(s ORDER BY part DESC)
      FROM merge_parts GROUP BY dataset, e, split, k
      UNION ALL
      SELECT dataset, e, split, k, 'by hash', percentile_merge(s ORDER BY md5(part::text))
      FROM merge_parts GROUP BY dataset, e, split, k
      UNION ALL
      SELECT dataset, e, split, k, 'by count', percentile_merge(s ORDER BY sketch_count(s), part)
      FROM merge_parts GROUP BY dataset, e, split, k) AS m
JOIN merge_whole AS w ON w.dataset = m.dataset AND w.e = m.e
WHERE percentile_sketch_send(m.s) <> percentile_sketch_send(w.s)
   OR m.s::text <> w.s::text
ORDER BY 1, 2, 3, 4, 5;
-- (the same check, counted, so that an empty list above is not vacuous)
SELECT count(*) AS merges, count(*) FILTER (WHERE same) AS identical
FROM (SELECT percentile_sketch_send(m.s) = percentile_sketch_send(w.s) AND m.s::text = w.s::text AS same
      FROM (SELECT dataset, e, split, k, percentile_merge(s ORDER BY part DESC) AS s
            FROM merge_parts GROUP BY dataset, e, split, k) AS m
      JOIN merge_whole AS w ON w.dataset = m.dataset AND w.e = m.e) AS t;

-- Merge of merges: the parts merged in groups (by part % 3 and by
-- part % 2), then the groups merged, in either order.
SELECT count(*) AS merges,
       count(*) FILTER (WHERE percentile_sketch_send(m.s) = percentile_sketch_send(w.s)) AS identical
FROM (SELECT dataset, e, split, k, percentile_merge(s ORDER BY grp DESC) AS s
      FROM (SELECT dataset, e, split, k, part % 3 AS grp, percentile_merge(s ORDER BY part DESC) AS s
            FROM merge_parts GROUP BY dataset, e, split, k, part % 3) AS g
      GROUP BY dataset, e, split, k
      UNION ALL
      SELECT dataset, e, split, k, percentile_merge(s ORDER BY grp)
      FROM (SELECT dataset, e, split, k, part % 2 AS grp, percentile_merge(s ORDER BY md5(part::text)) AS s
            FROM merge_parts GROUP BY dataset, e, split, k, part % 2) AS g
      GROUP BY dataset, e, split, k) AS m
JOIN merge_whole AS w ON w.dataset = m.dataset AND w.e = m.e;

-- sketch_merge folded left over the parts (in two orders), and sketch_add
-- folded over the values, give the same bytes too.
SELECT count(*) AS merges,
       count(*) FILTER (WHERE percentile_sketch_send(m.s) = percentile_sketch_send(w.s)) AS identical
FROM (SELECT dataset, e, split, k, pg_temp.merge_fold(s ORDER BY part) AS s
      FROM merge_parts GROUP BY dataset, e, split, k
      UNION ALL
      SELECT dataset, e, split, k, pg_temp.merge_fold(s ORDER BY part DESC)
      FROM merge_parts GROUP BY dataset, e, split, k) AS m
JOIN merge_whole AS w ON w.dataset = m.dataset AND w.e = m.e;
SELECT dataset,
       percentile_sketch_send(pg_temp.add_fold(x ORDER BY i DESC)) = percentile_sketch_send(percentile_agg(x)) AS add_fold_identical
FROM merge_data WHERE dataset IN ('two values', 'constant', 'signed')
GROUP BY dataset ORDER BY dataset;

-- Empty sketches and NULLs among the parts change nothing.
SELECT count(*) AS merges,
       count(*) FILTER (WHERE percentile_sketch_send(m.s) = percentile_sketch_send(w.s)) AS identical
FROM (SELECT dataset, e, split, k, percentile_merge(s ORDER BY ord) AS s
      FROM (SELECT dataset, e, split, k, s, part AS ord FROM merge_parts
            UNION ALL
            SELECT dataset, e, split, k, 'v1 scale=12 count=0'::percentile_sketch, -1
            FROM (SELECT DISTINCT dataset, e, split, k FROM merge_parts) AS t
            UNION ALL
            SELECT dataset, e, split, k, 'v1 scale=0 count=0'::percentile_sketch, 100
            FROM (SELECT DISTINCT dataset, e, split, k FROM merge_parts) AS t
            UNION ALL
            SELECT dataset, e, split, k, NULL, 5
            FROM (SELECT DISTINCT dataset, e, split, k FROM merge_parts) AS t) AS withempty
      GROUP BY dataset, e, split, k) AS m
JOIN merge_whole AS w ON w.dataset = m.dataset AND w.e = m.e;

-- Whatever an empty sketch's scale does to a merge, it must do it in either
-- order: merging is commutative, empty sketches included.
WITH sk(name, s) AS (VALUES ('empty scale 0', 'v1 scale=0 count=0'::percentile_sketch),
                            ('empty scale 7', 'v1 scale=7 count=0'),
                            ('empty scale 12', 'v1 scale=12 count=0'),
                            ('3 at scale 7', sketch_add(NULL, 3)),
                            ('1..100 at scale 1', (SELECT percentile_agg(x, 0.2) FROM generate_series(1, 100) AS x)))
SELECT a.name AS a, b.name AS b, sketch_merge(a.s, b.s) AS a_then_b, sketch_merge(b.s, a.s) AS b_then_a
FROM sk AS a JOIN sk AS b ON a.name < b.name
WHERE sketch_merge(a.s, b.s)::text <> sketch_merge(b.s, a.s)::text
   OR (SELECT percentile_merge(s ORDER BY o)::text FROM (VALUES (1, a.s), (2, b.s)) AS v(o, s))
      <> (SELECT percentile_merge(s ORDER BY o DESC)::text FROM (VALUES (1, a.s), (2, b.s)) AS v(o, s))
ORDER BY 1, 2;

-- Parts of different precisions merge to the sketch of the whole at the
-- coarsest precision.
SELECT d.dataset,
       percentile_sketch_send(sketch_merge(a.s, b.s)) = percentile_sketch_send(c.s) AS identical
FROM (SELECT DISTINCT dataset FROM merge_data) AS d,
     LATERAL (SELECT percentile_agg(x, 0.0001) AS s FROM merge_data WHERE dataset = d.dataset AND i % 2 = 0) AS a,
     LATERAL (SELECT percentile_agg(x, 0.01) AS s FROM merge_data WHERE dataset = d.dataset AND i % 2 = 1) AS b,
     LATERAL (SELECT percentile_agg(x, 0.01) AS s FROM merge_data WHERE dataset = d.dataset) AS c
ORDER BY d.dataset;

--
-- Rollups: per (seller, day) sketches merged per seller equal the per
-- seller sketches, and merged over everything equal the sketch of all.
--
CREATE TABLE merge_orders AS
SELECT i AS id, i % 97 AS seller, (i / 97) % 30 AS day,
       round((5 + 495 * pg_temp.u(i, 'or') ^ 3)::numeric, 2) AS amount
FROM generate_series(1, 30000) AS i;
CREATE TABLE merge_daily AS
SELECT seller, day, percentile_agg(amount) AS s FROM merge_orders GROUP BY seller, day;
SELECT count(*) AS sellers,
       count(*) FILTER (WHERE percentile_sketch_send(r.s) = percentile_sketch_send(d.s)) AS identical
FROM (SELECT seller, percentile_merge(s ORDER BY day DESC) AS s FROM merge_daily GROUP BY seller) AS r
JOIN (SELECT seller, percentile_agg(amount) AS s FROM merge_orders GROUP BY seller) AS d USING (seller);
SELECT percentile_sketch_send(percentile_merge(s)) = (SELECT percentile_sketch_send(percentile_agg(amount)) FROM merge_orders)
         AS grand_total_identical
FROM merge_daily;
-- The ROLLUP grouping set computes the same in one query.
SELECT count(*) AS rows,
       count(*) FILTER (WHERE percentile_sketch_send(r.s) = percentile_sketch_send(d.s)) AS identical
FROM (SELECT seller, percentile_merge(s) AS s FROM merge_daily GROUP BY ROLLUP (seller)) AS r
JOIN (SELECT seller, percentile_agg(amount) AS s FROM merge_orders GROUP BY ROLLUP (seller)) AS d
  ON r.seller IS NOT DISTINCT FROM d.seller;

--
-- Parallel aggregation: workers build partial sketches, which are
-- serialized, sent to the leader and combined.  The result is byte for byte
-- the serial one.
--
CREATE TABLE merge_big AS
SELECT i, i % 5000 AS g,
       CASE WHEN i % 11 = 0 THEN 0 ELSE (CASE WHEN i % 7 = 0 THEN -1 ELSE 1 END) * exp(3 * pg_temp.z(i, 'bg')) END AS x
FROM generate_series(1, 200000) AS i;
ANALYZE merge_big;
-- sketches of small slices, to merge in parallel
CREATE TABLE merge_slices AS
SELECT i / 10 AS slice, percentile_agg(x) AS s FROM merge_big GROUP BY i / 10;
ANALYZE merge_slices;

-- serial answers
SET max_parallel_workers_per_gather = 0;
CREATE TABLE merge_serial AS
SELECT 'agg' AS what, NULL::int AS g, percentile_agg(x) AS s FROM merge_big
UNION ALL
SELECT 'merge', NULL, percentile_merge(s) FROM merge_slices
UNION ALL
SELECT 'agg e=0.01', NULL, percentile_agg(x, 0.01) FROM merge_big
UNION ALL
SELECT 'group', g, percentile_agg(x) FROM merge_big GROUP BY g;
RESET max_parallel_workers_per_gather;

SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET force_parallel_mode = on;
-- the workers do all the scanning when they start
SET parallel_leader_participation = off;

EXPLAIN (COSTS OFF) SELECT percentile_agg(x) FROM merge_big;
SELECT percentile_sketch_send(percentile_agg(x)) = (SELECT percentile_sketch_send(s) FROM merge_serial WHERE what = 'agg')
         AS agg_identical
FROM merge_big;
SELECT percentile_sketch_send(percentile_agg(x, 0.01)) = (SELECT percentile_sketch_send(s) FROM merge_serial WHERE what = 'agg e=0.01')
         AS agg_with_error_identical
FROM merge_big;

EXPLAIN (COSTS OFF) SELECT percentile_merge(s) FROM merge_slices;
SELECT percentile_sketch_send(percentile_merge(s)) = (SELECT percentile_sketch_send(s) FROM merge_serial WHERE what = 'merge')
         AS merge_identical,
       percentile_sketch_send(percentile_merge(s)) = (SELECT percentile_sketch_send(s) FROM merge_serial WHERE what = 'agg')
         AS merge_equals_agg
FROM merge_slices;

-- Many groups under a parallel hash aggregate.
SET enable_sort = off;
EXPLAIN (COSTS OFF) SELECT g, percentile_agg(x) FROM merge_big GROUP BY g;
CREATE TEMP TABLE merge_parallel_groups AS
SELECT g, percentile_agg(x) AS s FROM merge_big GROUP BY g;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE percentile_sketch_send(p.s) = percentile_sketch_send(m.s)) AS identical
FROM merge_parallel_groups AS p JOIN merge_serial AS m ON m.what = 'group' AND m.g = p.g;
-- ... and when the hash table spills to disk.
SET work_mem = '64kB';
CREATE TEMP TABLE merge_spilled_groups AS
SELECT g, percentile_agg(x) AS s FROM merge_big GROUP BY g;
RESET work_mem;
SELECT count(*) AS groups,
       count(*) FILTER (WHERE percentile_sketch_send(p.s) = percentile_sketch_send(m.s)) AS identical
FROM merge_spilled_groups AS p JOIN merge_serial AS m ON m.what = 'group' AND m.g = p.g;
RESET enable_sort;

RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET force_parallel_mode;
RESET parallel_leader_participation;

DROP TABLE merge_data, merge_whole, merge_parts, merge_orders, merge_daily,
  merge_big, merge_slices, merge_serial, merge_parallel_groups, merge_spilled_groups;
