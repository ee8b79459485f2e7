--
-- percentile_sketch accuracy: on datasets of very different shapes, every
-- percentile q in {0, 0.001, ..., 1} is within the sketch's relative error
-- of percentile_disc(q), zero is answered exactly, and p0 and p1 are the
-- exact min and max.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;

-- A deterministic uniform in (0, 1): 52 bits of md5(salt || i), so the data
-- is the same on every run and every machine.
CREATE FUNCTION pg_temp.u(i bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT ((('x' || md5(salt || i::text))::bit(52)::bigint)::float8 + 0.5) / 4503599627370496.0 $$;

-- A standard normal from two uniforms (Box-Muller).
CREATE FUNCTION pg_temp.z(i bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT sqrt(-2 * ln(pg_temp.u(i, salt || 'a'))) * cos(2 * pi() * pg_temp.u(i, salt || 'b')) $$;

CREATE TEMP TABLE acc_float (dataset text NOT NULL, x double precision NOT NULL);
CREATE TEMP TABLE acc_int (dataset text NOT NULL, x bigint NOT NULL);
CREATE TEMP TABLE acc_numeric (dataset text NOT NULL, x numeric NOT NULL);

INSERT INTO acc_float
-- lognormal order values: median e^3 ~ 20, a long right tail
SELECT 'lognormal', exp(3 + 1.2 * pg_temp.z(i, 'ln')) FROM generate_series(1, 50000) AS i
UNION ALL
-- Pareto with shape 1.2: heavy tail, max far beyond the median
SELECT 'pareto', 10 / pg_temp.u(i, 'pa') ^ (1 / 1.2) FROM generate_series(1, 50000) AS i
UNION ALL
-- 40 % zeros, the rest lognormal
SELECT 'zeros40',
       CASE WHEN pg_temp.u(i, 'zs') < 0.4 THEN 0 ELSE exp(1 + 2 * pg_temp.z(i, 'zl')) END
FROM generate_series(1, 50000) AS i
UNION ALL
-- signed: 45 % negative, magnitudes over ~12 orders of magnitude, some zeros
SELECT 'signed',
       CASE WHEN i % 97 = 0 THEN 0
            ELSE (CASE WHEN pg_temp.u(i, 'ss') < 0.45 THEN -1 ELSE 1 END) * exp(3 * pg_temp.z(i, 'sm')) END
FROM generate_series(1, 50000) AS i
UNION ALL
-- a constant
SELECT 'constant', 42.5 FROM generate_series(1, 20000) AS i
UNION ALL
-- a single value
SELECT 'single', 7.25
UNION ALL
-- two values, 30 % and 70 %
SELECT 'two values', CASE WHEN pg_temp.u(i, 'tw') < 0.3 THEN 0.3 ELSE 9999.99 END
FROM generate_series(1, 20000) AS i
UNION ALL
-- a huge range, 1e-300 to 1e300 and a few subnormals: the sketch must drop
-- to a coarser scale, and its reported relative error grows accordingly
SELECT 'huge range',
       CASE WHEN i % 1000 = 0 THEN 5e-324 * i ELSE 10 ^ (600 * pg_temp.u(i, 'hr') - 300) END
FROM generate_series(1, 20000) AS i
UNION ALL
-- the same, signed
SELECT 'huge range signed',
       (CASE WHEN pg_temp.u(i, 'hs') < 0.5 THEN -1 ELSE 1 END) * 10 ^ (600 * pg_temp.u(i, 'hm') - 300)
FROM generate_series(1, 20000) AS i
UNION ALL
-- uniform on a narrow range, all in few buckets
SELECT 'narrow uniform', 1000 + pg_temp.u(i, 'nu') FROM generate_series(1, 20000) AS i;

INSERT INTO acc_int
-- integer-valued: many duplicates, including 0
SELECT 'integer', floor(exp(2 + 1.5 * pg_temp.z(i, 'in')))::bigint FROM generate_series(1, 50000) AS i
UNION ALL
-- integers over the whole bigint range, both signs
SELECT 'bigint wide',
       (('x' || md5('bw' || i::text))::bit(64)::bigint) >> (i % 63)
FROM generate_series(1, 20000) AS i;

INSERT INTO acc_numeric
-- prices with cents
SELECT 'numeric prices', round((5 + 495 * pg_temp.u(i, 'np'))::numeric, 2)
FROM generate_series(1, 20000) AS i;

SELECT 'float8' AS type, dataset, count(*) AS n FROM acc_float GROUP BY dataset
UNION ALL
SELECT 'bigint', dataset, count(*) FROM acc_int GROUP BY dataset
UNION ALL
SELECT 'numeric', dataset, count(*) FROM acc_numeric GROUP BY dataset
ORDER BY 1, 2;

-- The fractions, and for each dataset and precision its sketch and the
-- exact percentile_disc answers at every fraction.
CREATE TEMP TABLE acc_q AS
SELECT array_agg(i / 1000.0::float8 ORDER BY i) AS qs FROM generate_series(0, 1000) AS i;

CREATE TEMP TABLE acc_sketch (dataset text, asked double precision, s percentile_sketch,
                              exact double precision[], min double precision,
                              max double precision);
INSERT INTO acc_sketch
SELECT dataset, NULL, percentile_agg(x),
       percentile_disc((SELECT qs FROM acc_q)) WITHIN GROUP (ORDER BY x), min(x), max(x)
FROM acc_float GROUP BY dataset;
INSERT INTO acc_sketch
SELECT dataset, e, percentile_agg(x, e),
       percentile_disc((SELECT qs FROM acc_q)) WITHIN GROUP (ORDER BY x), min(x), max(x)
FROM acc_float, (VALUES (0.01::float8), (0.0001)) AS v(e)
WHERE dataset IN ('lognormal', 'pareto', 'zeros40', 'signed', 'two values', 'huge range signed')
GROUP BY dataset, e;
INSERT INTO acc_sketch
SELECT dataset, NULL, percentile_agg(x),
       percentile_disc((SELECT qs FROM acc_q)) WITHIN GROUP (ORDER BY x)::float8[],
       min(x), max(x)
FROM acc_int GROUP BY dataset;
INSERT INTO acc_sketch
SELECT dataset || ' e=0.05', 0.05, percentile_agg(x, 0.05),
       percentile_disc((SELECT qs FROM acc_q)) WITHIN GROUP (ORDER BY x)::float8[],
       min(x), max(x)
FROM acc_int WHERE dataset = 'integer' GROUP BY dataset;
INSERT INTO acc_sketch
SELECT dataset, NULL, percentile_agg(x),
       percentile_disc((SELECT qs FROM acc_q)) WITHIN GROUP (ORDER BY x)::float8[],
       min(x), max(x)
FROM acc_numeric GROUP BY dataset;

-- Every sketch honours the precision it was asked for (the default asks
-- for 0.005), unless its values of one sign span more buckets than a sketch
-- keeps at that precision (65536: 16 octaves at 1e-4, 512 at the default):
-- then it drops to the finest scale at which they fit, and
-- sketch_relative_error says so.  The huge ranges, and the wide datasets
-- at 1e-4, are such.
SELECT dataset, asked,
       round(sketch_relative_error(s)::numeric, 6) AS relative_error,
       sketch_relative_error(s) <= coalesce(asked, 0.005) AS as_asked
FROM acc_sketch ORDER BY dataset, asked NULLS FIRST;

-- Every answer next to the true one.
CREATE TEMP TABLE acc_answers AS
SELECT a.dataset, a.asked, a.bound, u.q, u.exact, u.approx
FROM (SELECT dataset, asked, sketch_relative_error(s) AS bound, exact,
             approx_percentile(s, (SELECT qs FROM acc_q)) AS approx
      FROM acc_sketch) AS a,
     unnest((SELECT qs FROM acc_q), a.exact, a.approx) AS u(q, exact, approx);

-- The accuracy check: a violation is an answer farther than
-- relative_error * (1 + 1e-12) from the true value (for a true zero: any
-- answer but zero).
SELECT dataset, asked, count(*) AS fractions,
       count(*) FILTER (WHERE CASE WHEN exact = 0 THEN approx <> 0
                                   ELSE abs(approx - exact) > bound * (1 + 1e-12) * abs(exact) END)
         AS violations,
       max(abs(approx - exact) / nullif(abs(exact), 0)) <= max(bound) * (1 + 1e-12) AS max_error_within_bound
FROM acc_answers
GROUP BY dataset, asked
ORDER BY dataset, asked NULLS FIRST;

-- The offending answers, if any.
SELECT dataset, asked, q, exact, approx, bound
FROM acc_answers
WHERE CASE WHEN exact = 0 THEN approx <> 0
           ELSE abs(approx - exact) > bound * (1 + 1e-12) * abs(exact) END
ORDER BY dataset, asked, q
LIMIT 20;

-- p0 and p1 are the exact min and max, and the scalar form gives the
-- array form's answers (checked at every 50th fraction).
SELECT a.dataset, a.asked
FROM acc_sketch AS a
WHERE approx_percentile(a.s, 0) <> a.min
   OR approx_percentile(a.s, 1) <> a.max
   OR sketch_min(a.s) <> a.min
   OR sketch_max(a.s) <> a.max
   OR EXISTS (SELECT 1 FROM acc_answers AS r
              WHERE r.dataset = a.dataset AND r.asked IS NOT DISTINCT FROM a.asked
                AND round(r.q * 1000)::int % 50 = 0
                AND r.approx <> approx_percentile(a.s, r.q));
-- Counts are exact.
SELECT count(*) AS count_mismatches
FROM acc_sketch AS a
WHERE sketch_count(a.s) <> CASE WHEN a.dataset LIKE 'integer%' OR a.dataset = 'bigint wide'
                                  THEN (SELECT count(*) FROM acc_int WHERE dataset = split_part(a.dataset, ' e=', 1))
                                WHEN a.dataset = 'numeric prices'
                                  THEN (SELECT count(*) FROM acc_numeric)
                                ELSE (SELECT count(*) FROM acc_float WHERE dataset = a.dataset) END;

-- The sums of integers are exact, correctly rounded: they equal sum()
-- rounded once to double.
SELECT (SELECT sketch_sum(percentile_agg(x)) = sum(x)::float8 FROM acc_int WHERE dataset = 'integer') AS integer_sum,
       (SELECT sketch_sum(percentile_agg(x)) = sum(x)::float8 FROM acc_int WHERE dataset = 'bigint wide') AS bigint_wide_sum;

-- Ranks: for every 50th distinct value v of some float8 datasets, the rank
-- is at least the exact fraction of values <= v, and at most the fraction
-- of values <= v * (1 + e) / (1 - e), the farthest the top of v's bucket
-- can be.
CREATE TEMP TABLE acc_cdf AS
SELECT dataset, x, max(r)::float8 / max(n) AS frac,
       row_number() OVER (PARTITION BY dataset ORDER BY x) AS k
FROM (SELECT dataset, x, row_number() OVER (PARTITION BY dataset ORDER BY x) AS r,
             count(*) OVER (PARTITION BY dataset) AS n
      FROM acc_float WHERE dataset IN ('lognormal', 'pareto', 'zeros40', 'narrow uniform')) AS v
GROUP BY dataset, x;
CREATE INDEX ON acc_cdf (dataset, x);
ANALYZE acc_cdf;
SELECT c.dataset, count(*) AS checked,
       count(*) FILTER (WHERE approx_percentile_rank(a.s, c.x) < c.frac
                           OR approx_percentile_rank(a.s, c.x) >
                              (SELECT u.frac FROM acc_cdf AS u
                               WHERE u.dataset = c.dataset
                                 AND u.x <= c.x * (1 + sketch_relative_error(a.s)) / (1 - sketch_relative_error(a.s))
                               ORDER BY u.x DESC LIMIT 1)) AS violations
FROM acc_cdf AS c JOIN acc_sketch AS a ON a.dataset = c.dataset AND a.asked IS NULL
WHERE c.k % 50 = 1
GROUP BY c.dataset ORDER BY c.dataset;

DROP TABLE acc_float, acc_int, acc_numeric, acc_q, acc_sketch, acc_answers, acc_cdf;
