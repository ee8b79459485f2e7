--
-- Rollups of events (0.2): the capture trigger, the live views
-- seller_daily_metrics and seller_daily_traffic, compact(), rebuild_rollups(),
-- verify_rollups(), local days in the sellers' time zones and the pg_cron
-- jobs.
--
-- Every committed event counts at once in the live views, exactly once
-- (replayed batches, COPY, savepoints, aborted transactions), before and
-- after compaction; corrections (UPDATE, DELETE) of non-order events go
-- through signed deltas and of orders through recompute marks; a change of
-- a seller's time zone moves its events to other local days; the stored
-- order-value sketches are byte for byte the sketches of the order amounts.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;
SET timezone = 'UTC';
SET DateStyle = 'ISO, YMD';
-- start from nothing, whatever ran before in this database
TRUNCATE events, sellers, seller_roles;

--
-- Helpers
--
-- the live views, one line per row; order_value as its count of orders
CREATE TEMP VIEW metrics AS
SELECT seller_id, day, sessions AS ses, page_views AS pv, add_to_carts AS atc,
       orders AS ord, units, revenue, refunds AS rfd, refund_amount AS rfd_amt,
       sketch_count(order_value) AS ov_n, round(conversion_rate, 4) AS conv,
       round(avg_order_value, 2) AS aov
FROM seller_analytics.seller_daily_metrics;
CREATE TEMP VIEW traffic AS
SELECT seller_id, day, traffic_source AS source, sessions AS ses, page_views AS pv,
       orders AS ord, revenue, round(conversion_rate, 4) AS conv,
       round(avg_order_value, 2) AS aov
FROM seller_analytics.seller_daily_traffic;
-- the compacted tables, the same way
CREATE TEMP VIEW stored_metrics AS
SELECT seller_id, day, sessions AS ses, page_views AS pv, add_to_carts AS atc,
       orders AS ord, units, revenue, refunds AS rfd, refund_amount AS rfd_amt,
       sketch_count(order_value) AS ov_n
FROM seller_analytics.daily_metrics;
CREATE TEMP VIEW stored_traffic AS
SELECT seller_id, day, traffic_source AS source, sessions AS ses, page_views AS pv,
       orders AS ord, revenue
FROM seller_analytics.daily_traffic;
CREATE TEMP VIEW pending AS
SELECT seller_id, day, traffic_source AS source, sessions AS ses, page_views AS pv,
       add_to_carts AS atc, orders AS ord, units, revenue, refunds AS rfd,
       refund_amount AS rfd_amt, sketch_count(order_value) AS ov_n
FROM seller_analytics.pending_deltas;
-- how many rows each table holds, and how many differences verify_rollups
-- finds between the live views and a recomputation from raw events
CREATE TEMP VIEW state AS
SELECT (SELECT count(*) FROM seller_analytics.events) AS events,
       (SELECT count(*) FROM seller_analytics.pending_deltas) AS pending,
       (SELECT count(*) FROM seller_analytics.recompute_marks) AS marks,
       (SELECT count(*) FROM seller_analytics.daily_metrics) AS metric_rows,
       (SELECT count(*) FROM seller_analytics.daily_traffic) AS traffic_rows,
       (SELECT count(*) FROM seller_analytics.verify_rollups('2025-01-01', '2027-12-31')) AS differences;
-- every live and stored order-value sketch against percentile_agg of the
-- day's order amounts, byte for byte; and the derived columns against
-- their definitions
CREATE TEMP VIEW order_amounts AS
SELECT e.seller_id, local_day(e.occurred_at, s.time_zone) AS day,
       percentile_agg(e.amount) AS sketch
FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
WHERE e.event_type = 'order'
GROUP BY 1, 2;
CREATE TEMP VIEW sketch_check AS
SELECT 'live' AS rows, count(*) AS days,
       count(*) FILTER (WHERE percentile_sketch_send(m.order_value)
                              IS NOT DISTINCT FROM percentile_sketch_send(o.sketch)) AS identical,
       count(*) FILTER (WHERE m.conversion_rate IS NOT DISTINCT FROM m.orders / nullif(m.sessions, 0)::numeric
                          AND m.avg_order_value IS NOT DISTINCT FROM m.revenue / nullif(m.orders, 0)) AS derived_ok
FROM seller_analytics.seller_daily_metrics m
LEFT JOIN order_amounts o USING (seller_id, day)
UNION ALL
SELECT 'stored', count(*),
       count(*) FILTER (WHERE percentile_sketch_send(d.order_value)
                              IS NOT DISTINCT FROM percentile_sketch_send(o.sketch)), NULL
FROM seller_analytics.daily_metrics d
LEFT JOIN order_amounts o USING (seller_id, day);
-- a snapshot of both live views, to show that compaction changes nothing
CREATE TEMP VIEW live_rows AS
SELECT 'metrics' AS v, concat_ws(' ', seller_id, day, sessions, page_views, add_to_carts, orders,
                   units, revenue, refunds, refund_amount,
                   encode(percentile_sketch_send(order_value), 'hex'),
                   conversion_rate, avg_order_value) AS r
FROM seller_analytics.seller_daily_metrics
UNION ALL
SELECT 'traffic', concat_ws(' ', seller_id, day, traffic_source, sessions, page_views, orders,
                   revenue, conversion_rate, avg_order_value)
FROM seller_analytics.seller_daily_traffic;
CREATE TEMP TABLE snap (v text, r text);
CREATE FUNCTION pg_temp.take_snapshot() RETURNS bigint LANGUAGE sql AS $$
  DELETE FROM snap;
  INSERT INTO snap SELECT * FROM live_rows;
  SELECT count(*) FROM snap;
$$;
-- rows of the live views that are not in the snapshot, or went
CREATE FUNCTION pg_temp.changed_since_snapshot() RETURNS bigint LANGUAGE sql AS $$
  SELECT count(*) FROM ((SELECT * FROM snap EXCEPT ALL SELECT * FROM live_rows)
                        UNION ALL
                        (SELECT * FROM live_rows EXCEPT ALL SELECT * FROM snap)) d;
$$;

--
-- Sellers
--
INSERT INTO sellers (seller_id, name, category, region, product_type, time_zone) VALUES
  (1, 'Acme', 'tools', 'EU', 'physical', 'UTC'),
  (2, 'Bolt', 'toys', 'US', 'physical', DEFAULT),
  (3, 'Cuckoo', 'clocks', 'EU', 'physical', 'Europe/Berlin'),
  (4, 'Delta', 'books', 'US', 'digital', 'America/New_York'),
  (5, 'Ember', 'tea', 'IN', 'physical', 'Asia/Kolkata');
SELECT seller_id, time_zone FROM sellers ORDER BY seller_id;

--
-- Events in: visible at once in both views, before any compaction
--
INSERT INTO events (seller_id, event_id, event_type, occurred_at, session_id,
                    traffic_source, amount, quantity) VALUES
  (1, 'a1', 'session_start', '2026-01-05 09:00Z', 's1', 'google', NULL, NULL),
  (1, 'a2', 'page_view', '2026-01-05 09:01Z', 's1', 'google', NULL, NULL),
  (1, 'a3', 'page_view', '2026-01-05 09:02Z', 's1', 'google', NULL, NULL),
  (1, 'a4', 'add_to_cart', '2026-01-05 09:03Z', 's1', 'google', NULL, NULL),
  (1, 'a5', 'order', '2026-01-05 09:05Z', 's1', 'google', 25.00, 2),
  (1, 'a6', 'session_start', '2026-01-05 10:00Z', 's2', 'email', NULL, NULL),
  (1, 'a7', 'order', '2026-01-05 10:10Z', 's2', 'email', 40.50, NULL),
  (1, 'a8', 'session_start', '2026-01-05 11:00Z', 's3', NULL, NULL, NULL),
  (1, 'a9', 'page_view', '2026-01-05 11:01Z', 's3', NULL, NULL, NULL),
  (1, 'a10', 'refund', '2026-01-05 12:00Z', 's1', 'google', 25.00, NULL),
  (1, 'a11', 'session_start', '2026-01-06 08:00Z', 's4', 'google', NULL, NULL),
  (1, 'a12', 'order', '2026-01-06 08:30Z', 's4', 'google', 10.00, 1),
  (2, 'b0', 'page_view', '2026-01-05 03:00Z', 't0', 'direct', NULL, NULL),
  (2, 'b1', 'session_start', '2026-01-05 23:30Z', 't1', 'direct', NULL, NULL),
  (2, 'b2', 'order', '2026-01-05 23:45Z', 't1', 'direct', 99.99, 3),
  (2, 'b3', 'session_start', '2026-01-06 07:59Z', 't2', 'direct', NULL, NULL),
  (2, 'b4', 'page_view', '2026-01-06 08:00Z', 't2', 'direct', NULL, NULL),
  (2, 'b5', 'order', '2026-01-06 08:30Z', 't2', 'social', 15.00, 1),
  (2, 'b6', 'session_start', '2026-01-07 02:00Z', 't3', 'social', NULL, NULL)
ON CONFLICT DO NOTHING;
-- one pending row per (seller, day, source) of the transaction; an event
-- without a traffic source counts as 'unknown'; an order without a
-- quantity as one unit
SELECT * FROM pending ORDER BY seller_id, day, source;
SELECT * FROM metrics ORDER BY seller_id, day;
SELECT * FROM traffic ORDER BY seller_id, day, source;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;

--
-- A replayed batch counts once: ON CONFLICT DO NOTHING skips the events
-- already in, and only the new one (a13) counts
--
SELECT pg_temp.take_snapshot();
INSERT INTO events (seller_id, event_id, event_type, occurred_at, session_id,
                    traffic_source, amount, quantity) VALUES
  (1, 'a1', 'session_start', '2026-01-05 09:00Z', 's1', 'google', NULL, NULL),
  (1, 'a5', 'order', '2026-01-05 09:05Z', 's1', 'google', 25.00, 2),
  (2, 'b2', 'order', '2026-01-05 23:45Z', 't1', 'direct', 99.99, 3)
ON CONFLICT DO NOTHING;
SELECT pg_temp.changed_since_snapshot() AS changed;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, session_id,
                    traffic_source, amount, quantity) VALUES
  (1, 'a1', 'session_start', '2026-01-05 09:00Z', 's1', 'google', NULL, NULL),
  (1, 'a13', 'page_view', '2026-01-05 09:04Z', 's1', 'google', NULL, NULL),
  (1, 'a5', 'order', '2026-01-05 09:05Z', 's1', 'google', 25.00, 2)
ON CONFLICT DO NOTHING;
SELECT * FROM metrics WHERE seller_id = 1 AND day = '2026-01-05';
SELECT * FROM traffic WHERE seller_id = 1 AND day = '2026-01-05' ORDER BY source;
-- a transaction that writes nothing appends nothing
SELECT pending FROM state;
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (1, 'a1', 'page_view', '2026-01-05 09:00Z') ON CONFLICT DO NOTHING;
SELECT pending FROM state;

--
-- COPY (through the same trigger)
--
COPY events (seller_id, event_id, event_type, occurred_at, session_id,
             traffic_source, amount, quantity) FROM stdin WITH (FORMAT csv);
1,c1,session_start,2026-01-06 09:00:00+00,s5,email,,
1,c2,page_view,2026-01-06 09:01:00+00,s5,email,,
1,c3,order,2026-01-06 09:02:00+00,s5,email,12.34,4
1,c4,order,2026-01-06 09:03:00+00,s5,,7.66,0
1,c5,add_to_cart,2026-01-06 09:04:00+00,s5,,,
\.
SELECT * FROM metrics WHERE seller_id = 1 ORDER BY day;
SELECT * FROM traffic WHERE seller_id = 1 AND day = '2026-01-06' ORDER BY source;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;

--
-- compact(): folds the pending rows into the tables; the live views do not
-- change; nothing is left pending; a second compaction folds nothing
--
SELECT pg_temp.take_snapshot();
SELECT * FROM compact();
SELECT pg_temp.changed_since_snapshot() AS changed;
SELECT * FROM state;
SELECT * FROM stored_metrics ORDER BY seller_id, day;
SELECT * FROM stored_traffic ORDER BY seller_id, day, source;
SELECT * FROM sketch_check ORDER BY rows;
SELECT * FROM compact();
SELECT pg_temp.changed_since_snapshot() AS changed;
-- the tables are what a recomputation from raw events gives
SELECT count(*) AS metric_rows_differing FROM (
  (SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
          refunds, refund_amount, percentile_sketch_send(order_value) FROM daily_metrics
   EXCEPT
   SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
          refunds, refund_amount, percentile_sketch_send(order_value)
   FROM recomputed_daily_metrics('2025-01-01', '2027-12-31'))
  UNION ALL
  (SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
          refunds, refund_amount, percentile_sketch_send(order_value)
   FROM recomputed_daily_metrics('2025-01-01', '2027-12-31')
   EXCEPT
   SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
          refunds, refund_amount, percentile_sketch_send(order_value) FROM daily_metrics)) d;
SELECT count(*) AS traffic_rows_differing FROM (
  (TABLE daily_traffic EXCEPT SELECT * FROM recomputed_daily_traffic('2025-01-01', '2027-12-31'))
  UNION ALL
  (SELECT * FROM recomputed_daily_traffic('2025-01-01', '2027-12-31') EXCEPT TABLE daily_traffic)) d;

--
-- Corrections of non-order events: signed deltas, no recompute mark
--
-- a page view deleted, a session moved to another source, an add-to-cart
-- turned into a page view, a refund's amount corrected
DELETE FROM events WHERE seller_id = 1 AND event_id = 'a13';
UPDATE events SET traffic_source = 'social' WHERE seller_id = 1 AND event_id = 'a6';
UPDATE events SET event_type = 'page_view' WHERE seller_id = 1 AND event_id = 'a4';
UPDATE events SET amount = 20.00 WHERE seller_id = 1 AND event_id = 'a10';
-- an order's session id changes nothing it counts: no delta, no mark
UPDATE events SET session_id = 's1b' WHERE seller_id = 1 AND event_id = 'a5';
SELECT * FROM pending ORDER BY seller_id, day, source, ses, pv, atc, rfd;
SELECT * FROM metrics WHERE seller_id = 1 ORDER BY day;
SELECT * FROM traffic WHERE seller_id = 1 AND day = '2026-01-05' ORDER BY source;
SELECT * FROM state;
SELECT pg_temp.take_snapshot();
SELECT * FROM compact();
SELECT pg_temp.changed_since_snapshot() AS changed;
SELECT * FROM stored_metrics WHERE seller_id = 1 ORDER BY day;
SELECT * FROM stored_traffic WHERE seller_id = 1 AND day = '2026-01-05' ORDER BY source;
SELECT * FROM state;

--
-- Corrections of orders: the sketch cannot subtract, so the seller-day is
-- marked and recomputed from raw events (in the views at once, in the
-- tables by the next compaction)
--
UPDATE events SET amount = 30.00 WHERE seller_id = 1 AND event_id = 'a5';
DELETE FROM events WHERE seller_id = 1 AND event_id = 'c4';
-- a page view turned into an order: an order added, nothing to recompute
UPDATE events SET event_type = 'order', amount = 5.00, quantity = 1
WHERE seller_id = 1 AND event_id = 'c2';
SELECT seller_id, day FROM recompute_marks ORDER BY seller_id, day;
SELECT * FROM metrics WHERE seller_id = 1 ORDER BY day;
SELECT * FROM traffic WHERE seller_id = 1 ORDER BY day, source;
SELECT approx_percentile(order_value, 0.5) AS median_2026_01_05
FROM seller_daily_metrics WHERE seller_id = 1 AND day = '2026-01-05';
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;
SELECT pg_temp.take_snapshot();
SELECT * FROM compact();
SELECT pg_temp.changed_since_snapshot() AS changed;
SELECT * FROM stored_metrics WHERE seller_id = 1 ORDER BY day;
SELECT * FROM stored_traffic WHERE seller_id = 1 ORDER BY day, source;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;

--
-- A day whose events are all deleted disappears from the views at once and
-- from the tables at the next compaction (seller 1's 2026-01-06: orders,
-- so marked; seller 2's 2026-01-07: one session, a signed delta)
--
DELETE FROM events WHERE seller_id = 1 AND occurred_at >= '2026-01-06' AND occurred_at < '2026-01-07';
DELETE FROM events WHERE seller_id = 2 AND event_id = 'b6';
SELECT * FROM metrics ORDER BY seller_id, day;
SELECT * FROM traffic ORDER BY seller_id, day, source;
SELECT * FROM state;
SELECT * FROM compact();
SELECT * FROM stored_metrics ORDER BY seller_id, day;
SELECT * FROM stored_traffic ORDER BY seller_id, day, source;
SELECT * FROM state;
-- the day comes back with a new event
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (2, 'b6', 'session_start', '2026-01-07 02:00Z', 'social');
SELECT * FROM metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM compact();
SELECT * FROM stored_metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM state;

--
-- Moving events by UPDATE: to another seller and day (an order: marks the
-- day it left), and to another day (a session: signed deltas)
--
UPDATE events SET seller_id = 2, occurred_at = '2026-01-07 03:00Z'
WHERE seller_id = 1 AND event_id = 'a7';
UPDATE events SET occurred_at = '2026-01-04 12:00Z' WHERE seller_id = 1 AND event_id = 'a8';
SELECT seller_id, day FROM recompute_marks ORDER BY seller_id, day;
SELECT * FROM metrics ORDER BY seller_id, day;
SELECT * FROM traffic ORDER BY seller_id, day, source;
SELECT * FROM state;
SELECT pg_temp.take_snapshot();
SELECT * FROM compact();
SELECT pg_temp.changed_since_snapshot() AS changed;
SELECT * FROM stored_metrics ORDER BY seller_id, day;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;

--
-- Savepoints: ROLLBACK TO drops the rolled-back events' changes, RELEASE
-- keeps them, also nested; a failed statement inside a savepoint; a
-- PL/pgSQL exception block
--
SELECT pg_temp.take_snapshot();
BEGIN;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'sp1', 'session_start', '2026-02-01 10:00Z', 'kept');	-- kept
SAVEPOINT s1;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'sp2', 'session_start', '2026-02-01 10:00Z', 'dropped');	-- rolled back
DELETE FROM events WHERE seller_id = 1 AND event_id = 'a1';	-- rolled back
ROLLBACK TO s1;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'sp3', 'page_view', '2026-02-01 10:00Z', 'kept');	-- kept
SAVEPOINT s2;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount)
VALUES (1, 'sp4', 'order', '2026-02-01 10:00Z', 'kept', 11.00);	-- released: kept
RELEASE s2;
SAVEPOINT s3;
SAVEPOINT s4;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount)
VALUES (1, 'sp5', 'order', '2026-02-01 10:00Z', 'dropped', 13.00);	-- released into s3, which rolls back
RELEASE s4;
ROLLBACK TO s3;
SAVEPOINT s5;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount)
VALUES (1, 'sp6', 'order', '2026-02-01 10:00Z', 'kept', 17.00);	-- kept
SAVEPOINT s6;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'sp7', 'page_view', '2026-02-01 10:00Z', 'dropped');	-- rolled back
ROLLBACK TO s6;
SAVEPOINT s7;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'sp8', 'page_view', '2026-02-01 10:00Z', 'dropped');	-- rolled back with s7
-- fails on its last row, after the trigger counted the first one
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (1, 'sp9', 'page_view', '2026-02-01 10:00Z', 'dropped'),
  (99, 'sp10', 'page_view', '2026-02-01 10:00Z', 'dropped');
ROLLBACK TO s7;
RELEASE s5;
DO $$
BEGIN
  INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, traffic_source)
  VALUES (1, 'sp11', 'page_view', '2026-02-01 10:00Z', 'kept');	-- kept
  BEGIN
    INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, traffic_source)
    VALUES (1, 'sp12', 'page_view', '2026-02-01 10:00Z', 'dropped');	-- rolled back
    INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, traffic_source)
    VALUES (1, 'sp13', 'page_view', '2026-02-01 10:00Z', '');	-- fails
  EXCEPTION WHEN check_violation THEN
    RAISE NOTICE 'caught %', SQLERRM;
  END;
END
$$;
-- nothing reaches pending_deltas before commit
SELECT pending FROM state;
COMMIT;
SELECT event_id, traffic_source FROM events WHERE event_id LIKE 'sp%' ORDER BY event_id;
-- one pending row per key, for the kept events only
SELECT * FROM pending ORDER BY seller_id, day, source;
SELECT * FROM traffic WHERE day = '2026-02-01' ORDER BY seller_id, source;
SELECT * FROM metrics WHERE day = '2026-02-01';
-- everything else as it was; a1 is still there
SELECT count(*) FROM events WHERE seller_id = 1 AND event_id = 'a1';
SELECT count(*) AS changed_elsewhere FROM (
  (SELECT * FROM snap EXCEPT ALL SELECT * FROM live_rows)
  UNION ALL
  (SELECT * FROM live_rows WHERE r NOT LIKE '1 2026-02-01 %' EXCEPT ALL SELECT * FROM snap)) d;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;

--
-- A transaction that aborts leaves nothing pending, and nothing of it
-- leaks into the next transaction's pending rows
--
SELECT * FROM compact();
BEGIN;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount)
VALUES (1, 'ab1', 'order', '2026-02-02 10:00Z', 'aborted', 1.00);
UPDATE events SET amount = 99.00 WHERE seller_id = 1 AND event_id = 'a5';
ROLLBACK;
BEGIN;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'ab2', 'page_view', '2026-02-02 10:00Z', 'aborted');
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'ab3', 'no_such_type', '2026-02-02 10:00Z', 'aborted');
COMMIT;
-- an error in an autocommitted statement, after the trigger counted a row
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (1, 'ab4', 'page_view', '2026-02-02 10:00Z', 'aborted'),
  (1, 'ab5', 'page_view', '2026-02-02 10:00Z', repeat('x', 65));
SELECT count(*) FROM events WHERE event_id LIKE 'ab%';
SELECT * FROM state;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (1, 'ab6', 'session_start', '2026-02-02 11:00Z', 'next');
SELECT * FROM pending ORDER BY seller_id, day, source;
SELECT seller_id, day FROM recompute_marks;
SELECT * FROM compact();

--
-- A seller's time zone changes (seller 2, UTC -> America/Los_Angeles): its
-- events move to their local days in the new zone; every day of the seller
-- in either zone is marked for recomputation
--
SELECT event_id, event_type, occurred_at, local_day(occurred_at, 'UTC') AS utc_day,
       local_day(occurred_at, 'America/Los_Angeles') AS la_day
FROM events WHERE seller_id = 2 ORDER BY occurred_at;
SELECT * FROM metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM stored_metrics WHERE seller_id = 2 ORDER BY day;
UPDATE sellers SET time_zone = 'America/Los_Angeles' WHERE seller_id = 2;
SELECT seller_id, day FROM recompute_marks ORDER BY seller_id, day;
SELECT * FROM metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM traffic WHERE seller_id = 2 ORDER BY day, source;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;
SELECT pg_temp.take_snapshot();
SELECT * FROM compact();
SELECT pg_temp.changed_since_snapshot() AS changed;
-- the UTC day 2026-01-07 has no event left in Los Angeles time: gone
SELECT * FROM stored_metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM stored_traffic WHERE seller_id = 2 ORDER BY day, source;
SELECT * FROM state;
-- new events count in the new zone at once
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (2, 'b7', 'page_view', '2026-01-08 07:59:59Z', 'direct'),
       (2, 'b8', 'page_view', '2026-01-08 08:00:00Z', 'direct');
SELECT seller_id, day, source, pv FROM pending ORDER BY day;
-- setting the same zone again marks nothing
UPDATE sellers SET time_zone = 'America/Los_Angeles', name = 'Bolt Inc' WHERE seller_id = 2;
SELECT count(*) AS marks FROM recompute_marks;
-- a change and new events in one transaction
BEGIN;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (2, 'b9', 'session_start', '2026-01-09 06:00Z', 'direct');	-- 01-08 in LA, 01-09 in UTC
UPDATE sellers SET time_zone = 'UTC' WHERE seller_id = 2;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source)
VALUES (2, 'b10', 'session_start', '2026-01-10 06:00Z', 'direct');	-- 01-10 in UTC
COMMIT;
SELECT * FROM metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM state;
SELECT * FROM compact();
SELECT * FROM stored_metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM state;
-- and back to Los Angeles for the rest of the test
UPDATE sellers SET time_zone = 'America/Los_Angeles' WHERE seller_id = 2;
SELECT * FROM compact();
SELECT * FROM metrics WHERE seller_id = 2 ORDER BY day;
SELECT * FROM state;

-- a seller added in a transaction or savepoint that rolls back, then added
-- again in another zone: its events count in the zone it has
BEGIN;
INSERT INTO sellers (seller_id, time_zone) VALUES (6, 'Asia/Tokyo');
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (6, 'r1', 'page_view', '2026-01-05 20:00Z');	-- 01-06 in Tokyo
ROLLBACK;
INSERT INTO sellers (seller_id, time_zone) VALUES (6, 'UTC');
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (6, 'r2', 'page_view', '2026-01-05 20:00Z');	-- 01-05 in UTC
BEGIN;
SAVEPOINT s;
INSERT INTO sellers (seller_id, time_zone) VALUES (7, 'Asia/Tokyo');
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (7, 'r3', 'page_view', '2026-01-05 20:00Z');
ROLLBACK TO s;
INSERT INTO sellers (seller_id, time_zone) VALUES (7, 'UTC');
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (7, 'r4', 'page_view', '2026-01-05 20:00Z');
COMMIT;
SELECT seller_id, day, pv FROM metrics WHERE seller_id IN (6, 7) ORDER BY seller_id, day;
SELECT * FROM state;
DELETE FROM events WHERE seller_id IN (6, 7);
DELETE FROM sellers WHERE seller_id IN (6, 7);
SELECT * FROM compact();
SELECT * FROM state;

--
-- Local days across daylight saving time changes and in a half-hour zone
--
-- Europe/Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST
-- America/New_York, 2026-11-01: 02:00 EDT becomes 01:00 EST
-- Asia/Kolkata: UTC+05:30 all year
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (3, 'd1', 'page_view', '2026-03-28 22:59:59Z', 'dst'),	-- 23:59:59 CET, 03-28
  (3, 'd2', 'page_view', '2026-03-28 23:00:00Z', 'dst'),	-- 00:00 CET, 03-29
  (3, 'd3', 'page_view', '2026-03-29 00:59:59Z', 'dst'),	-- 01:59:59 CET, 03-29
  (3, 'd4', 'page_view', '2026-03-29 01:00:00Z', 'dst'),	-- 03:00 CEST, 03-29
  (3, 'd5', 'page_view', '2026-03-29 21:59:59Z', 'dst'),	-- 23:59:59 CEST, 03-29
  (3, 'd6', 'page_view', '2026-03-29 22:00:00Z', 'dst'),	-- 00:00 CEST, 03-30
  (4, 'n1', 'page_view', '2026-11-01 03:59:59Z', 'dst'),	-- 23:59:59 EDT, 10-31
  (4, 'n2', 'page_view', '2026-11-01 04:00:00Z', 'dst'),	-- 00:00 EDT, 11-01
  (4, 'n3', 'page_view', '2026-11-01 05:30:00Z', 'dst'),	-- 01:30 EDT, 11-01
  (4, 'n4', 'page_view', '2026-11-01 06:30:00Z', 'dst'),	-- 01:30 EST, 11-01
  (4, 'n5', 'page_view', '2026-11-02 04:59:59Z', 'dst'),	-- 23:59:59 EST, 11-01
  (4, 'n6', 'page_view', '2026-11-02 05:00:00Z', 'dst'),	-- 00:00 EST, 11-02
  (5, 'k1', 'page_view', '2026-01-05 18:29:59Z', 'half'),	-- 23:59:59 IST, 01-05
  (5, 'k2', 'page_view', '2026-01-05 18:30:00Z', 'half'),	-- 00:00 IST, 01-06
  (5, 'k3', 'page_view', '2026-01-04 18:30:00Z', 'half');	-- 00:00 IST, 01-05
SELECT seller_id, day, pv FROM metrics WHERE seller_id IN (3, 4, 5) ORDER BY seller_id, day;
SELECT * FROM compact();
SELECT seller_id, day, pv FROM stored_metrics WHERE seller_id IN (3, 4, 5) ORDER BY seller_id, day;
SELECT * FROM state;
-- local_day agrees with AT TIME ZONE every 15 minutes of a year, around
-- every change of offset, in zones with DST, half- and quarter-hour
-- offsets and offsets beyond +-12 hours
SELECT tz, count(*) AS instants,
       count(*) FILTER (WHERE local_day(t, tz) <> (t AT TIME ZONE tz)::date) AS disagreeing
FROM unnest(ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles',
                  'Asia/Kolkata', 'Asia/Kathmandu', 'America/St_Johns',
                  'Australia/Lord_Howe', 'Pacific/Chatham', 'Pacific/Kiritimati',
                  'Pacific/Pago_Pago']) AS tz,
     generate_series('2025-12-31 00:00Z'::timestamptz, '2027-01-01 23:45Z', '15 minutes') AS t
GROUP BY tz ORDER BY tz;

--
-- rebuild_rollups after the tables were corrupted by hand: verify_rollups
-- shows each difference before, none after; rebuilding one day leaves the
-- other days alone
--
UPDATE daily_metrics SET page_views = page_views + 5, order_value = NULL
WHERE seller_id = 1 AND day = '2026-01-05';
UPDATE daily_metrics SET sessions = 42 WHERE seller_id = 2 AND day = '2026-01-05';
UPDATE daily_traffic SET revenue = revenue + 1 WHERE seller_id = 1 AND day = '2026-01-05' AND traffic_source = 'google';
DELETE FROM daily_traffic WHERE seller_id = 3 AND day = '2026-03-29';
INSERT INTO daily_metrics (seller_id, day, page_views) VALUES (5, '2026-01-01', 7);
SELECT seller_id, day, traffic_source, metric, stored, recomputed
FROM verify_rollups('2025-01-01', '2027-12-31')
ORDER BY seller_id, day, traffic_source NULLS FIRST, metric;
SELECT * FROM rebuild_rollups('2026-01-05', '2026-01-05');
SELECT seller_id, day, traffic_source, metric, stored, recomputed
FROM verify_rollups('2025-01-01', '2027-12-31')
ORDER BY seller_id, day, traffic_source NULLS FIRST, metric;
SELECT * FROM rebuild_rollups('2025-12-31', '2026-12-31');
SELECT * FROM verify_rollups('2025-01-01', '2027-12-31');
SELECT * FROM stored_metrics ORDER BY seller_id, day;
SELECT * FROM state;
SELECT * FROM sketch_check ORDER BY rows;
-- rebuilding a consistent range changes nothing
SELECT pg_temp.take_snapshot();
SELECT * FROM rebuild_rollups('2025-01-01', '2027-12-31');
SELECT pg_temp.changed_since_snapshot() AS changed;
SELECT * FROM state;

--
-- Many events, many transactions, corrections: the order-value sketches in
-- the views and in the tables are byte for byte percentile_agg of the
-- amounts, before and after compaction
--
INSERT INTO events (seller_id, event_id, event_type, occurred_at, session_id, traffic_source, amount, quantity)
SELECT 1 + i % 5, 'g' || i,
       (ARRAY['session_start', 'page_view', 'page_view', 'add_to_cart', 'order', 'order', 'refund'])[1 + (i * 7919) % 7],
       '2026-06-01 00:00Z'::timestamptz + (i * 7877 % 432000) * interval '1 second',
       's' || i / 3,
       (ARRAY['google', 'email', NULL, 'social'])[1 + (i * 31) % 4],
       round(((i * 104729) % 100000) / 100.0 + 0.01, 2),
       (i * 13) % 4
FROM generate_series(1, 3000) AS i;
SELECT * FROM sketch_check ORDER BY rows;
SELECT * FROM compact();
UPDATE events SET amount = amount + 1 WHERE event_id LIKE 'g%' AND event_type = 'order' AND (substr(event_id, 2))::int % 10 = 0;
DELETE FROM events WHERE event_id LIKE 'g%' AND (substr(event_id, 2))::int % 17 = 0;
SELECT * FROM sketch_check ORDER BY rows;
SELECT * FROM state;
SELECT * FROM compact();
SELECT * FROM sketch_check ORDER BY rows;
SELECT * FROM state;
SELECT sum(orders) AS orders, sum(units) AS units, sum(revenue) AS revenue,
       sum(refunds) AS refunds, sum(refund_amount) AS refund_amount
FROM seller_daily_metrics WHERE day BETWEEN '2026-05-31' AND '2026-06-07';
SELECT count(*) FILTER (WHERE event_type = 'order') AS orders,
       sum(coalesce(quantity, 1)) FILTER (WHERE event_type = 'order') AS units,
       sum(amount) FILTER (WHERE event_type = 'order') AS revenue,
       count(*) FILTER (WHERE event_type = 'refund') AS refunds,
       sum(amount) FILTER (WHERE event_type = 'refund') AS refund_amount
FROM events WHERE event_id LIKE 'g%';

--
-- TRUNCATE events empties every rollup table, also of changes made earlier
-- in the same transaction
--
TRUNCATE events;
SELECT * FROM state;
SELECT count(*) FROM seller_daily_metrics;
SELECT count(*) FROM seller_daily_traffic;
BEGIN;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
VALUES (1, 't1', 'order', '2026-01-05 10:00Z', 5.00);
TRUNCATE events;
COMMIT;
SELECT * FROM state;
SELECT count(*) FROM seller_daily_metrics;
-- after a TRUNCATE in a transaction, the events it inserts count
BEGIN;
TRUNCATE events;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
VALUES (1, 't2', 'order', '2026-01-05 10:00Z', 5.00);
COMMIT;
SELECT seller_id, day, ord, revenue FROM metrics;
SELECT * FROM state;
TRUNCATE events;

--
-- pg_cron jobs
--
-- without pg_cron in the database: an error that says what to do
SELECT * FROM schedule_jobs();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM unschedule_jobs();
-- with pg_cron (preloaded by make test, cron.database_name = this database)
SET client_min_messages = warning;
CREATE EXTENSION pg_cron;
RESET client_min_messages;
SELECT * FROM schedule_jobs();
SELECT jobname, schedule, command, database, active FROM cron.job ORDER BY jobname;
-- scheduling again replaces the job
SELECT * FROM schedule_jobs('*/5 * * * *');
SELECT jobname, schedule, command, database, active FROM cron.job ORDER BY jobname;
-- a bad schedule is refused and leaves the job as it was
SELECT * FROM schedule_jobs('every minute');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM schedule_jobs(NULL);
SELECT jobname, schedule FROM cron.job ORDER BY jobname;
SELECT * FROM unschedule_jobs();
SELECT count(*) AS jobs FROM cron.job;
SELECT * FROM unschedule_jobs();
DROP EXTENSION pg_cron;

-- clean up for the tests that follow
TRUNCATE events, sellers, seller_roles;
