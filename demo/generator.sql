-- demo/generator.sql: the demo's marketplace, in schema demo.
--
-- Every figure of the marketplace comes from a 64-bit hash of the seed, the
-- seller, the day and the session (hashint8extended), never from random():
-- the same seed, first day, number of days and sellers give the same events,
-- whatever the number of loaders and the order they deliver in.
--
-- psql variables: seed, sellers, days, first_day (the first local day).
--
--   demo.settings        the run's parameters (one row)
--   demo.seller_params   per seller: time zone, activity (sessions a day),
--                        funnel rates, order values, refund rate, traffic mix
--   demo.sessions()      the sessions of a range of days, with everything
--                        decided about each (source, pages, cart, order,
--                        amount, refund, late delivery, replay)
--   demo.delivery()      what the loaders deliver on a day: that day's
--                        sessions on time, earlier sessions arriving late,
--                        replays of yesterday's deliveries (duplicates), and
--                        refunds of earlier orders
CREATE SCHEMA demo;

CREATE TABLE demo.settings (
    seed        bigint NOT NULL,
    sellers     integer NOT NULL,
    days        integer NOT NULL,
    first_day   date NOT NULL
);
INSERT INTO demo.settings VALUES (:seed, :sellers, :days, :'first_day');

-- a uniform number in [0, 1) from a key and an index: 53 bits of a hash
CREATE FUNCTION demo.uf(key bigint, i bigint) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN ((pg_catalog.hashint8extended(i, key) >> 11) & 9007199254740991)::double precision
       / 9007199254740992.0;

-- a standard normal number from two uniform ones (Box-Muller)
CREATE FUNCTION demo.normal(u1 double precision, u2 double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN sqrt(-2 * ln(1 - u1)) * cos(2 * pi() * u2);

-- the traffic sources, and how each converts against the seller's rate
CREATE TABLE demo.sources (
    idx         integer PRIMARY KEY,
    source      text,               -- NULL: no source known
    weight      double precision NOT NULL,
    conversion  double precision NOT NULL
);
INSERT INTO demo.sources VALUES
    (1, 'search', 0.32, 1.0), (2, 'direct', 0.22, 1.4), (3, 'social', 0.16, 0.55),
    (4, 'ads', 0.14, 1.15), (5, 'email', 0.08, 1.8), (6, 'referral', 0.06, 0.9),
    (7, NULL, 0.02, 1.0);

-- Sellers: six categories, six regions (a time zone each), two product
-- types.  Activity is Zipf-like over a shuffled rank: sessions a day of the
-- seller of rank r is A / r^0.8, A such that the marketplace has about 3
-- sessions a day per seller on average; the largest few take a large share,
-- the long tail has a session every few days.
CREATE TABLE demo.seller_params AS
WITH s AS (
    SELECT i AS seller_id, pg_catalog.hashint8extended(i, :seed) AS key
    FROM generate_series(1, :sellers) i
), ranked AS (
    SELECT s.*, row_number() OVER (ORDER BY s.key, s.seller_id) AS rnk FROM s
), a AS (
    SELECT 3.0 * :sellers / sum(power(r, -0.8)) AS a FROM generate_series(1, :sellers) r
)
SELECT r.seller_id, r.key, r.rnk,
       (ARRAY['fashion', 'electronics', 'home', 'toys', 'books', 'beauty'])
           [1 + floor(6 * demo.uf(r.key, 1))::int] AS category,
       (ARRAY['us-east', 'us-west', 'eu', 'in', 'apac', 'au'])[1 + floor(6 * demo.uf(r.key, 2))::int] AS region,
       CASE WHEN demo.uf(r.key, 3) < 0.7 THEN 'physical' ELSE 'digital' END AS product_type,
       a.a / power(r.rnk, 0.8) AS lambda,
       -- add to cart 4-12 % of sessions, order 20-45 % of carts: conversion 1-5 %
       0.04 + 0.08 * demo.uf(r.key, 4) AS p_cart,
       0.20 + 0.25 * demo.uf(r.key, 5) AS p_order,
       -- log of a typical order value: $12 to $245
       2.5 + 3 * demo.uf(r.key, 6) AS mu,
       0.02 + 0.08 * demo.uf(r.key, 7) AS refund_rate,
       -- the seller's traffic mix: the marketplace's weights, each scaled by
       -- an exponential draw; thresholds for width_bucket
       NULL::double precision[] AS src_cum
FROM ranked r CROSS JOIN a;

UPDATE demo.seller_params p
SET src_cum = (SELECT array_agg(c ORDER BY idx)
               FROM (SELECT x.idx, coalesce(sum(x.w) OVER (ORDER BY x.idx ROWS BETWEEN UNBOUNDED PRECEDING
                                                                  AND 1 PRECEDING), 0)
                                   / sum(x.w) OVER () AS c
                     FROM (SELECT o.idx, o.weight * -ln(1 - demo.uf(p.key, 10 + o.idx)) AS w
                           FROM demo.sources o) x) y);

ALTER TABLE demo.seller_params ADD PRIMARY KEY (seller_id);
ALTER TABLE demo.seller_params ADD COLUMN time_zone text;
UPDATE demo.seller_params SET time_zone = CASE region
    WHEN 'us-east' THEN 'America/New_York' WHEN 'us-west' THEN 'America/Los_Angeles'
    WHEN 'eu' THEN 'Europe/Berlin' WHEN 'in' THEN 'Asia/Kolkata'
    WHEN 'apac' THEN 'Asia/Tokyo' ELSE 'Australia/Sydney' END;
ANALYZE demo.seller_params;

-- the week and the trend: weekends busier, Mondays quieter, +0.2 % a day
CREATE FUNCTION demo.season(day date, day_no integer) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (ARRAY[0.9, 0.95, 0.95, 1.0, 1.1, 1.3, 1.25])[extract(isodow FROM day)::int]
       * (1 + 0.002 * day_no);

-- the hour a session starts: around 19:00 local time (sd 4 h), wrapped
-- into the day
CREATE FUNCTION demo.hour_of_day(u1 double precision, u2 double precision) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (19 + 4 * demo.normal(u1, u2)) - 24 * floor((19 + 4 * demo.normal(u1, u2)) / 24);

-- The sessions of the sellers with seller_id % loaders = part, local days
-- d0 .. d1 (numbers from the first day).  Session n of a seller-day uses
-- indexes 16 n .. 16 n + 15 of the seller-day's key.
CREATE FUNCTION demo.sessions(d0 integer, d1 integer, loaders integer, part integer)
RETURNS TABLE (seller_id bigint, time_zone text, day_no integer, n integer, started timestamptz,
               source text, pages integer, cart boolean, ordered boolean, amount numeric,
               quantity integer, refund_after integer, late integer, replay boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.seller_id, p.time_zone, d, n,
           ((st.first_day + d)::timestamp
            + demo.hour_of_day(demo.uf(h, 16 * n + 2), demo.uf(h, 16 * n + 3)) * interval '1 hour')
           AT TIME ZONE p.time_zone,
           o.source,
           1 + least(30, floor(-ln(1 - demo.uf(h, 16 * n + 4)) * 2.5))::int,
           c.cart, c.cart AND demo.uf(h, 16 * n + 6) < p.p_order,
           -- lognormal, and for 3 % of orders a Pareto factor (the heavy tail)
           round(least(50000, exp(p.mu + 0.7 * demo.normal(demo.uf(h, 16 * n + 7), demo.uf(h, 16 * n + 8)))
                 * CASE WHEN demo.uf(h, 16 * n + 9) < 0.03
                        THEN power(1 - demo.uf(h, 16 * n + 10), -1 / 1.3) ELSE 1 END)::numeric, 2),
           1 + floor(-ln(1 - demo.uf(h, 16 * n + 11)) * 0.6)::int,
           CASE WHEN demo.uf(h, 16 * n + 12) < p.refund_rate
                THEN 1 + floor(14 * demo.uf(h, 16 * n + 13))::int END,
           -- 3 % of sessions reach the loaders 1 to 3 days late
           CASE WHEN demo.uf(h, 16 * n + 14) < 0.03
                THEN 1 + floor(demo.uf(h, 16 * n + 14) / 0.01)::int ELSE 0 END,
           -- 1 % are delivered again the day after (a replayed file)
           demo.uf(h, 16 * n + 15) < 0.01
    FROM demo.settings st
    CROSS JOIN demo.seller_params p
    CROSS JOIN generate_series(d0, d1) d
    CROSS JOIN LATERAL (SELECT pg_catalog.hashint8extended(d, p.key) AS h) k
    CROSS JOIN LATERAL generate_series(1, floor(p.lambda * demo.season(st.first_day + d, d)
                                                * (0.8 + 0.4 * demo.uf(h, 0)) + demo.uf(h, 1))::int) n
    CROSS JOIN LATERAL (SELECT width_bucket(demo.uf(h, 16 * n + 1), p.src_cum) AS idx) b
    JOIN demo.sources o ON o.idx = b.idx
    CROSS JOIN LATERAL (SELECT demo.uf(h, 16 * n + 5) < p.p_cart * o.conversion AS cart) c
    WHERE p.seller_id % loaders = part AND d >= 0 AND d < st.days
$$;

-- What the loader part of loaders delivers on delivery day dd: the events
-- of the sessions that arrive that day (on time, late, or replayed), and
-- the refunds that happen that day.  A session is session_start, its page
-- views 45 s apart, then add_to_cart and order when it gets that far.
CREATE FUNCTION demo.delivery(dd integer, loaders integer, part integer)
RETURNS TABLE (seller_id bigint, event_id text, event_type text, occurred_at timestamptz,
               session_id text, traffic_source text, amount numeric, quantity integer)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT s.seller_id, 'e' || s.day_no || '-' || s.n || '-' || j,
           CASE WHEN j = 0 THEN 'session_start' WHEN j <= s.pages THEN 'page_view'
                WHEN j = s.pages + 1 THEN 'add_to_cart' ELSE 'order' END,
           s.started + j * interval '45 seconds',
           's' || s.day_no || '-' || s.n, s.source,
           CASE WHEN j = s.pages + 2 THEN s.amount END,
           CASE WHEN j = s.pages + 2 THEN s.quantity END
    FROM demo.sessions(dd - 4, dd, loaders, part) s
    CROSS JOIN LATERAL generate_series(0, s.pages + CASE WHEN s.ordered THEN 2 WHEN s.cart THEN 1 ELSE 0 END) j
    WHERE s.day_no + s.late = dd OR (s.replay AND s.day_no + s.late + 1 = dd)
    UNION ALL
    SELECT s.seller_id, 'e' || s.day_no || '-' || s.n || '-r', 'refund',
           s.started + (s.pages + 2) * interval '45 seconds' + s.refund_after * interval '1 day',
           's' || s.day_no || '-' || s.n, s.source, s.amount, s.quantity
    FROM demo.sessions(dd - 14, dd - 1, loaders, part) s
    CROSS JOIN demo.settings st
    WHERE s.ordered AND s.day_no + s.refund_after = dd AND dd < st.days
$$;
