--
-- Rollup errors (0.2): bad events, sellers and arguments are refused with a
-- clear message and SQLSTATE, and a refused statement leaves nothing
-- behind: no events row, no pending_deltas row, no recompute mark, also
-- when the bad row is the last of a multi-row INSERT or a line of a COPY
-- (after the capture trigger counted the rows before it), and nothing of
-- it leaks into the next transaction.
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

-- what a refused statement could have left behind
CREATE TEMP VIEW leftovers AS
SELECT (SELECT count(*) FROM seller_analytics.events) AS events,
       (SELECT count(*) FROM seller_analytics.pending_deltas) AS pending,
       (SELECT count(*) FROM seller_analytics.recompute_marks) AS marks;

INSERT INTO sellers (seller_id, name, time_zone, created_at)
VALUES (1, 'Acme', 'Europe/Berlin', '2026-01-01 00:00Z');
SELECT * FROM leftovers;

--
-- Bad events: each the last row of a multi-row INSERT whose first row is
-- good (so the capture trigger has already counted that one)
--
-- unknown event type
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z'),
  (1, 'bad', 'purchase', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z'),
  (1, 'bad', NULL, '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- a seller that does not exist
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z'),
  (2, 'bad', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- no time, or no finite time
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z'),
  (1, 'bad', 'page_view', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z'),
  (1, 'bad', 'page_view', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z'),
  (1, 'bad', 'page_view', '-infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- negative quantity
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount, quantity) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10, 1),
  (1, 'bad', 'order', '2026-01-05 10:00Z', 10, -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- amounts: NaN, infinite, negative, too large for numeric(14,2)
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'order', '2026-01-05 10:00Z', 'NaN');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'refund', '2026-01-05 10:00Z', 'Infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'order', '2026-01-05 10:00Z', -0.01);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'order', '2026-01-05 10:00Z', 1e12);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- an order or a refund without an amount
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'order', '2026-01-05 10:00Z', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'refund', '2026-01-05 10:00Z', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- traffic sources of 0 and 65 bytes (33 two-byte characters are 66 bytes)
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z', 'google'),
  (1, 'bad', 'page_view', '2026-01-05 10:00Z', '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z', 'google'),
  (1, 'bad', 'page_view', '2026-01-05 10:00Z', repeat('s', 65));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (1, 'ok', 'page_view', '2026-01-05 10:00Z', 'google'),
  (1, 'bad', 'page_view', '2026-01-05 10:00Z', repeat(U&'\00E9', 33));
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- a duplicate event without ON CONFLICT
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'dup', 'page_view', '2026-01-05 10:00Z'),
  (1, 'dup', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
-- the same statements inside a transaction: COMMIT rolls back
BEGIN;
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'ok1', 'page_view', '2026-01-05 10:00Z');
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount) VALUES
  (1, 'ok2', 'order', '2026-01-05 10:00Z', 10),
  (1, 'bad', 'order', '2026-01-05 10:00Z', -1);
COMMIT;
SELECT * FROM leftovers;

--
-- COPY with a bad line after good ones (psql does not set
-- LAST_ERROR_SQLSTATE after a failed COPY; the SQLSTATEs of the same
-- refusals are shown above)
--
COPY events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity)
FROM stdin WITH (FORMAT csv);
1,c1,page_view,2026-01-05 10:00:00+00,google,,
1,c2,order,2026-01-05 10:01:00+00,google,10.00,1
1,c3,order,2026-01-05 10:02:00+00,google,-10.00,1
\.
SELECT * FROM leftovers;
COPY events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity)
FROM stdin WITH (FORMAT csv);
1,c1,page_view,2026-01-05 10:00:00+00,google,,
1,c2,order,2026-01-05 10:01:00+00,google,10.00,1
3,c3,page_view,2026-01-05 10:02:00+00,google,,
\.
SELECT * FROM leftovers;
COPY events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity)
FROM stdin WITH (FORMAT csv);
1,c1,page_view,2026-01-05 10:00:00+00,google,,
1,c2,order,2026-01-05 10:01:00+00,google,10.00,1
1,c3,page_view,yesterday-ish,google,,
\.
SELECT * FROM leftovers;
COPY events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity)
FROM stdin WITH (FORMAT csv);
1,c1,page_view,2026-01-05 10:00:00+00,google,,
1,c2,order,2026-01-05 10:01:00+00,google,10.00,1
1,c3,order,2026-01-05 10:02:00+00,google,NaN,1
\.
SELECT * FROM leftovers;
COPY events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity)
FROM stdin WITH (FORMAT csv);
1,c1,page_view,2026-01-05 10:00:00+00,google,,
1,c2,order,2026-01-05 10:01:00+00,google,10.00,1
1,c3,page_view,2026-01-05 10:02:00+00,google
\.
SELECT * FROM leftovers;

--
-- Corrections that would make an event bad are refused the same way
--
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity) VALUES
  (1, 'e1', 'order', '2026-01-05 10:00Z', 'google', 10.00, 1),
  (1, 'e2', 'page_view', '2026-01-05 10:00Z', 'google', NULL, NULL);
SELECT * FROM compact();
UPDATE events SET amount = NULL WHERE event_id = 'e1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE events SET occurred_at = 'infinity' WHERE event_id = 'e2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE events SET seller_id = 2 WHERE event_id = 'e2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- both rows change; the second one is refused
UPDATE events SET quantity = CASE event_id WHEN 'e1' THEN 2 ELSE -1 END;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM leftovers;
SELECT seller_id, day, orders, units, page_views FROM seller_daily_metrics;
TRUNCATE events;

--
-- Sellers: a time zone that is not one
--
INSERT INTO sellers (seller_id, time_zone, created_at) VALUES (2, 'Mars/Olympus', '2026-01-01 00:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO sellers (seller_id, time_zone, created_at) VALUES (2, '', '2026-01-01 00:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO sellers (seller_id, time_zone, created_at) VALUES (2, NULL, '2026-01-01 00:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (1, 'z1', 'page_view', '2026-01-05 10:00Z');
SELECT * FROM compact();
UPDATE sellers SET time_zone = 'Mars/Olympus' WHERE seller_id = 1;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT seller_id, time_zone FROM sellers ORDER BY seller_id;
SELECT * FROM leftovers;
SELECT is_valid_time_zone('Mars/Olympus') AS mars, is_valid_time_zone('') AS empty,
       is_valid_time_zone('Europe/Berlin') AS berlin, is_valid_time_zone(NULL) AS null_zone;
TRUNCATE events;

-- A zone far from UTC: the rollups find an event's raw rows within two days
-- of its local day.  A zone whose offset goes beyond that must either be
-- refused, or be counted right: after an order of its day was deleted
-- (so the day is recomputed from raw events), the views and the tables
-- still count the page view and the order that remain.
DO $$
BEGIN
  INSERT INTO seller_analytics.sellers (seller_id, time_zone) VALUES (7, 'FAR-72');
EXCEPTION WHEN check_violation THEN
  NULL;
END
$$;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
SELECT 7, e, t, '2026-01-05 12:00Z', a
FROM sellers, (VALUES ('f1', 'page_view', NULL), ('f2', 'order', 10.00), ('f3', 'order', 20.00)) AS v(e, t, a)
WHERE seller_id = 7;
DELETE FROM events WHERE seller_id = 7 AND event_id = 'f3';
CREATE TEMP VIEW far_zone_ok AS
SELECT NOT EXISTS (SELECT FROM sellers WHERE seller_id = 7)
       OR ((SELECT (sum(page_views), sum(orders), sum(revenue))
            FROM seller_daily_metrics WHERE seller_id = 7) = (1::numeric, 1::numeric, 10.00::numeric)
           AND (SELECT (sum(page_views), sum(orders), sum(revenue))
                FROM daily_metrics WHERE seller_id = 7)
               IS NOT DISTINCT FROM (1::numeric, 1::numeric, 10.00::numeric)
           AND NOT EXISTS (SELECT FROM pending_deltas WHERE seller_id = 7)
           AND NOT EXISTS (SELECT FROM recompute_marks WHERE seller_id = 7))
       AS far_zone_ok;
SELECT FROM compact();
SELECT * FROM far_zone_ok;
TRUNCATE events;
DELETE FROM sellers WHERE seller_id = 7;

--
-- Functions: days and zones
--
CREATE FUNCTION pg_temp.sqlstate_of(query text) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE query;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;
SELECT * FROM verify_rollups(NULL, '2026-01-05');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM verify_rollups('2026-01-05', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM verify_rollups('-infinity', '2026-01-05');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM verify_rollups('2026-01-05', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a reversed range is refused too, not reported as "no differences"
SELECT pg_temp.sqlstate_of($$SELECT * FROM seller_analytics.verify_rollups('2026-01-06', '2026-01-05')$$);
SELECT * FROM rebuild_rollups(NULL, '2026-01-05');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM rebuild_rollups('2026-01-05', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM rebuild_rollups('-infinity', '2026-01-05');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM rebuild_rollups('2026-01-05', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM rebuild_rollups('2026-01-06', '2026-01-05');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- one day is a range
SELECT * FROM verify_rollups('2026-01-05', '2026-01-05');
SELECT * FROM rebuild_rollups('2026-01-05', '2026-01-05');
SELECT local_day('2026-01-05 10:00Z', 'Mars/Olympus');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT local_day('2026-01-05 10:00Z', '');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT local_day('infinity', 'UTC');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT local_day(NULL, 'UTC') AS null_time, local_day('2026-01-05 10:00Z', NULL) AS null_zone;

--
-- After all that, nothing is left, and the next transaction's pending rows
-- are its own only
--
SELECT * FROM leftovers;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount)
VALUES (1, 'last', 'order', '2026-01-05 10:00Z', 'google', 12.50);
SELECT seller_id, day, traffic_source, sessions, page_views, orders, units, revenue,
       sketch_count(order_value) AS order_values
FROM pending_deltas;
SELECT * FROM verify_rollups('2026-01-01', '2026-01-31');
-- the boundaries that are allowed: 64-byte sources, zero amounts and
-- quantities
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity) VALUES
  (1, 'b1', 'page_view', '2026-01-05 10:00Z', repeat('s', 64), NULL, NULL),
  (1, 'b2', 'page_view', '2026-01-05 10:00Z', repeat(U&'\00E9', 32), NULL, NULL),
  (1, 'b3', 'order', '2026-01-05 10:00Z', 'google', 0, 0),
  (1, 'b4', 'refund', '2026-01-05 10:00Z', 'google', 0, NULL);
SELECT seller_id, day, orders, units, revenue, refunds, refund_amount,
       sketch_count(order_value) AS order_values
FROM seller_daily_metrics;
SELECT traffic_source = repeat('s', 64) AS s64, octet_length(traffic_source), page_views
FROM seller_daily_traffic WHERE page_views > 0 ORDER BY 2;
SELECT * FROM compact();
SELECT * FROM verify_rollups('2026-01-01', '2026-01-31');

-- occurred_at must lie in years 1900 to 9999: nearer the ends of the
-- timestamp range a local day's recomputation window would not exist
INSERT INTO sellers (seller_id, time_zone) VALUES (3, 'Asia/Tokyo');
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
VALUES (3, 'far', 'order', '294276-12-31 22:00+00', 5);
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
VALUES (3, 'old', 'order', '1899-12-31 23:59:59+00', 5);
-- the last instant allowed, corrected (a recompute mark) and compacted
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
VALUES (3, 'edge', 'order', '9999-12-31 23:59:59+00', 5),
       (3, 'first', 'order', '1900-01-01 00:00:00+00', 7);
UPDATE events SET amount = 6 WHERE seller_id = 3;
SELECT seller_id, day, orders, revenue FROM seller_daily_metrics WHERE seller_id = 3 ORDER BY day;
SELECT * FROM compact();
SELECT seller_id, day, orders, revenue FROM daily_metrics WHERE seller_id = 3 ORDER BY day;
SELECT count(*) FROM verify_rollups('1899-12-31', '10000-01-02');

-- clean up for the tests that follow
TRUNCATE events, sellers, seller_roles;
