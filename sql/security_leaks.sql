--
-- Leaks (0.3): what a seller, or the application acting for a seller, may
-- try to learn about another seller's rows, and what it gets.
--
-- Seller 1 (A) and seller 2 (B) each have rows in every table: sellers,
-- events (A four, B two hundred and one), the compacted daily_metrics and
-- daily_traffic, pending_deltas and recompute_marks.  As A's own login and
-- as the application's pool login set to A:
--
--   * a function that prints every value it is given, put in a WHERE
--     clause and made nearly free so that the planner would like to run it
--     first, sees A's rows only, on every table and view: the policy is
--     evaluated before any function that is not leakproof, and only a
--     superuser can declare a function leakproof;
--   * expressions that fail on B's values (a division by zero, a CASE, a
--     cast) do not fail: they never see B's rows;
--   * writing is refused before any key is compared; the ingest role,
--     which may write, gets unique and foreign-key violations without the
--     key, but learns whether an event id or a seller exists (a known side
--     channel, shown below);
--   * a prepared statement runs against the seller of the moment it is
--     executed, with generic and custom plans, whoever prepared it;
--   * a transaction sees one seller: once it has read a seller's rows, the
--     setting cannot name another (no query or cursor sees two);
--   * the seller cannot name another seller, take on another role, switch
--     row security off, or call the maintenance functions; the application
--     without a seller (unset, RESET, DISCARD ALL, garbage) sees nothing;
--   * EXPLAIN shows the policy; the planner's estimates are made from
--     statistics of every seller's rows, and EXPLAIN ANALYZE's count of
--     the rows a filter removed and pg_class.reltuples tell the size of
--     the whole table (known side channels, shown below), while pg_stats
--     shows a seller nothing of those statistics.
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
-- the superuser running the test, to come back to after logging in as others
SELECT current_user AS superuser \gset

--
-- Roles of this test (dropped first if an interrupted run left them)
--
SET client_min_messages = warning;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'sec\_leak\_%' LOOP
        EXECUTE format('DROP OWNED BY %I', r.rolname);
        EXECUTE format('DROP ROLE %I', r.rolname);
    END LOOP;
END
$$;
RESET client_min_messages;
CREATE ROLE sec_leak_a LOGIN PASSWORD 'sec_leak_a_pw';
CREATE ROLE sec_leak_b LOGIN;
CREATE ROLE sec_leak_app LOGIN PASSWORD 'sec_leak_app_pw';
GRANT seller_analytics_app TO sec_leak_app;
CREATE ROLE sec_leak_ingest LOGIN;
GRANT seller_analytics_ingest TO sec_leak_ingest;

--
-- Data.  A's event ids are numbers, B's are not; B's amounts and traffic
-- source stand out.  Compaction, then a new event of each and a corrected
-- order of each, so that every table holds rows of both.
--
INSERT INTO sellers (seller_id, name) VALUES (1, 'Acme'), (2, 'Bolt secret'), (3, 'Cuckoo');
INSERT INTO events (seller_id, event_id, event_type, occurred_at, session_id,
                    traffic_source, amount, quantity) VALUES
  (1, '101', 'session_start', '2026-01-05 09:00Z', 's1', 'google', NULL, NULL),
  (1, '102', 'page_view', '2026-01-05 09:01Z', 's1', 'google', NULL, NULL),
  (1, '103', 'order', '2026-01-05 09:02Z', 's1', 'google', 10.00, 1);
INSERT INTO events (seller_id, event_id, event_type, occurred_at, session_id,
                    traffic_source, amount, quantity)
SELECT 2, 'secret-b' || i, (ARRAY['session_start', 'page_view', 'order'])[i % 3 + 1],
       '2026-01-05 10:00Z'::timestamptz + i * interval '1 minute', 'secret-s' || i / 3,
       'bing-secret', CASE WHEN i % 3 = 2 THEN 777.77 END, NULL
FROM generate_series(1, 200) i;
SELECT * FROM compact();
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source) VALUES
  (1, '104', 'page_view', '2026-01-06 09:00Z', 'google'),
  (2, 'secret-b201', 'page_view', '2026-01-06 09:00Z', 'bing-secret');
UPDATE events SET amount = 12.00 WHERE seller_id = 1 AND event_id = '103';
UPDATE events SET amount = 888.88 WHERE seller_id = 2 AND event_id = 'secret-b2';
ANALYZE sellers, events, daily_metrics, daily_traffic, pending_deltas, recompute_marks;
SELECT 'sellers' AS relation, seller_id, count(*) FROM sellers GROUP BY 1, 2
UNION ALL SELECT 'events', seller_id, count(*) FROM events GROUP BY 1, 2
UNION ALL SELECT 'daily_metrics', seller_id, count(*) FROM daily_metrics GROUP BY 1, 2
UNION ALL SELECT 'daily_traffic', seller_id, count(*) FROM daily_traffic GROUP BY 1, 2
UNION ALL SELECT 'pending_deltas', seller_id, count(*) FROM pending_deltas GROUP BY 1, 2
UNION ALL SELECT 'recompute_marks', seller_id, count(*) FROM recompute_marks GROUP BY 1, 2
ORDER BY 1, 2;
SELECT assign_seller_role('sec_leak_a', 1), assign_seller_role('sec_leak_b', 2);

--
-- A leaky function in WHERE, as A's login.  A seller may create functions
-- of its own in its temporary schema; this one prints what it is given and
-- costs next to nothing.  Every NOTICE below must be about seller 1.
--
SET SESSION AUTHORIZATION sec_leak_a;
CREATE FUNCTION pg_temp.leak(VARIADIC v text[]) RETURNS boolean
LANGUAGE plpgsql COST 0.0000001 AS $$
BEGIN
    RAISE NOTICE 'saw %', array_to_string(v, ' ', 'NULL');
    RETURN true;
END
$$;
-- but it may not call it leakproof
CREATE FUNCTION pg_temp.leak_proof(text) RETURNS boolean LANGUAGE sql LEAKPROOF
AS 'SELECT true';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM sellers WHERE pg_temp.leak(seller_id::text, name);
SELECT count(*) FROM events WHERE pg_temp.leak(seller_id::text, event_id, amount::text);
SELECT count(*) FROM daily_metrics WHERE pg_temp.leak(seller_id::text, day::text, revenue::text);
SELECT count(*) FROM daily_traffic WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM pending_deltas WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM recompute_marks WHERE pg_temp.leak(seller_id::text, day::text);
SELECT count(*) FROM seller_roles WHERE pg_temp.leak(role_name::text, seller_id::text);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the views: on the grouping columns (pushed down into the view) and on
-- the aggregates
SELECT count(*) FROM seller_daily_metrics WHERE pg_temp.leak(seller_id::text, day::text);
SELECT count(*) FROM seller_daily_metrics WHERE pg_temp.leak(revenue::text, orders::text);
SELECT count(*) FROM seller_daily_traffic WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM seller_daily_traffic WHERE pg_temp.leak(revenue::text);
SELECT count(*) FROM live_deltas WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM marked_recomputed WHERE pg_temp.leak(seller_id::text, day::text, revenue::text);
SELECT count(*) FROM event_facts WHERE pg_temp.leak(seller_id::text, day::text, revenue::text);
-- in a join condition and a subquery
SELECT count(*) FROM events e JOIN sellers s ON pg_temp.leak(e.event_id, s.name);
SELECT count(*) FROM sellers s
WHERE EXISTS (SELECT 1 FROM events e WHERE pg_temp.leak(e.event_id) AND e.seller_id = s.seller_id);
-- the plan: the policy comes first, then the function
EXPLAIN (COSTS OFF) SELECT * FROM events WHERE pg_temp.leak(event_id);
-- COPY TO copies the rows the policy lets through
COPY events (seller_id, event_id, amount) TO STDOUT;
COPY (SELECT seller_id, day, revenue FROM seller_daily_metrics) TO STDOUT;

--
-- Errors that would fail on B's values only: none, as A
--
SELECT count(*) FROM events WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM sellers WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM daily_metrics WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_daily_metrics WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_daily_metrics WHERE 1 / (revenue - 777.77) <> 0;
SELECT count(*) FROM seller_daily_traffic WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM live_deltas WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM event_facts WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM event_facts WHERE 1 / (revenue - 777.77) <> 0;
SELECT count(*) FROM events
WHERE CASE WHEN event_id = 'secret-b1' THEN seller_id / 0 ELSE 1 END = 1;
SELECT count(*) FROM events
WHERE CASE WHEN traffic_source LIKE '%secret%' THEN seller_id / 0 ELSE 1 END = 1;
-- a cast that fails on B's event ids (and would name one in its error)
SELECT count(*) FROM events WHERE event_id::int > 0;
SELECT count(*) FROM sellers WHERE CASE WHEN name <> 'Acme' THEN name::int ELSE 1 END = 1;
-- (the superuser, for comparison, sees B's rows and gets the errors)
RESET SESSION AUTHORIZATION;
SELECT count(*) FROM seller_analytics.events WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_analytics.events WHERE event_id::int > 0;

--
-- The same, as the application's pool login set to seller 1 (in one
-- transaction: the setting lasts no longer)
--
SET SESSION AUTHORIZATION sec_leak_app;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SELECT count(*) FROM seller_analytics.sellers WHERE pg_temp.leak(seller_id::text, name);
SELECT count(*) FROM seller_analytics.events WHERE pg_temp.leak(seller_id::text, event_id, amount::text);
SELECT count(*) FROM seller_analytics.daily_metrics WHERE pg_temp.leak(seller_id::text, day::text, revenue::text);
SELECT count(*) FROM seller_analytics.daily_traffic WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM seller_analytics.pending_deltas WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM seller_analytics.recompute_marks WHERE pg_temp.leak(seller_id::text, day::text);
SELECT count(*) FROM seller_analytics.seller_daily_metrics WHERE pg_temp.leak(seller_id::text, day::text);
SELECT count(*) FROM seller_analytics.seller_daily_metrics WHERE pg_temp.leak(revenue::text, orders::text);
SELECT count(*) FROM seller_analytics.seller_daily_traffic WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM seller_analytics.live_deltas WHERE pg_temp.leak(seller_id::text, day::text, traffic_source);
SELECT count(*) FROM seller_analytics.marked_recomputed WHERE pg_temp.leak(seller_id::text, day::text, revenue::text);
SELECT count(*) FROM seller_analytics.event_facts WHERE pg_temp.leak(seller_id::text, day::text, revenue::text);
SELECT count(*) FROM seller_analytics.events WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_analytics.seller_daily_metrics WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_analytics.seller_daily_traffic WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_analytics.live_deltas WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_analytics.event_facts WHERE 1 / (seller_id - 2) <> 0;
SELECT count(*) FROM seller_analytics.events
WHERE CASE WHEN event_id = 'secret-b1' THEN seller_id / 0 ELSE 1 END = 1;
SELECT count(*) FROM seller_analytics.events WHERE event_id::int > 0;
COMMIT;
RESET SESSION AUTHORIZATION;
SET search_path = seller_analytics, public;

--
-- Writing, and probing B's keys by writing
--
-- A's login and the application have no INSERT privilege: refused before
-- any key is looked at, whether the key exists or not
SET SESSION AUTHORIZATION sec_leak_a;
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'no-such-event', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z') ON CONFLICT DO NOTHING;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO event_intake (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE events SET amount = 0 WHERE event_id = 'secret-b1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM events WHERE event_id = 'secret-b1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
TRUNCATE events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_leak_app;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z') ON CONFLICT DO NOTHING;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET SESSION AUTHORIZATION;
-- The ingest role writes for every seller and reads nothing.  A duplicate
-- key: 23505 without the key (PostgreSQL leaves it out under row-level
-- security); a seller that does not exist: 23503 without the key.  Both
-- tell the ingest role that the event id is taken, or the seller missing.
SET SESSION AUTHORIZATION sec_leak_ingest;
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (99, 'x1', 'page_view', '2026-01-05 10:00Z');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ON CONFLICT DO NOTHING: the row count says whether the key was taken
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z') ON CONFLICT DO NOTHING;
\echo rows inserted: :ROW_COUNT
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b900', 'page_view', '2026-01-05 10:00Z') ON CONFLICT DO NOTHING;
\echo rows inserted: :ROW_COUNT
-- and so does INSERT into event_intake; COPY counts every row it read
INSERT INTO seller_analytics.event_intake (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z');
\echo rows inserted: :ROW_COUNT
INSERT INTO seller_analytics.event_intake (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b901', 'page_view', '2026-01-05 10:00Z');
\echo rows inserted: :ROW_COUNT
COPY seller_analytics.event_intake (seller_id, event_id, event_type, occurred_at) FROM STDIN;
2	secret-b2	page_view	2026-01-05 10:00Z
2	secret-b902	page_view	2026-01-05 10:00Z
\.
\echo rows copied: :ROW_COUNT
-- RETURNING needs the SELECT privilege on what it returns; a constant
-- needs none, and says no more than the row count
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b903', 'page_view', '2026-01-05 10:00Z') RETURNING event_id;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b903', 'page_view', '2026-01-05 10:00Z') RETURNING *;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z') ON CONFLICT DO NOTHING RETURNING 1;
-- DO UPDATE needs UPDATE (and SELECT); reading needs SELECT
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z')
ON CONFLICT (seller_id, event_id) DO UPDATE SET amount = excluded.amount;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM seller_analytics.events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM seller_analytics.event_intake;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
-- (the superuser, for comparison, gets the key in the message)
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (2, 'secret-b1', 'page_view', '2026-01-05 10:00Z');
-- what the ingest role added
SELECT seller_id, event_id FROM events WHERE event_id LIKE 'secret-b9__' ORDER BY event_id;

--
-- Prepared statements run against the seller of the moment they are
-- executed, whoever prepared them, with custom and generic plans
--
-- the pool login: prepared for seller 1, executed for seller 2
SET SESSION AUTHORIZATION sec_leak_app;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
PREPARE app_events AS
SELECT seller_id, count(*), min(event_id) FROM seller_analytics.events GROUP BY seller_id;
PREPARE app_metrics AS
SELECT seller_id, day, orders, revenue FROM seller_analytics.seller_daily_metrics ORDER BY day;
PREPARE app_one(bigint) AS
SELECT count(*) FROM seller_analytics.events WHERE seller_id = $1;
EXECUTE app_events;
EXECUTE app_metrics;
EXECUTE app_one(1);
EXECUTE app_one(2);
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
EXECUTE app_events;
EXECUTE app_metrics;
EXECUTE app_one(1);
EXECUTE app_one(2);
COMMIT;
SET plan_cache_mode = force_generic_plan;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
EXECUTE app_events;
EXECUTE app_one(2);
EXPLAIN (COSTS OFF) EXECUTE app_one(2);
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
EXECUTE app_events;
EXECUTE app_one(2);
COMMIT;
SET plan_cache_mode = force_custom_plan;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
EXECUTE app_events;
EXECUTE app_one(2);
COMMIT;
-- the next transaction names no seller: nothing
EXECUTE app_events;
EXECUTE app_metrics;
RESET plan_cache_mode;
DEALLOCATE ALL;
RESET SESSION AUTHORIZATION;

--
-- One transaction, one seller.  A sequential scan evaluates the policy row
-- by row: were the setting allowed to change while a query or a cursor
-- reads, one query could see two sellers.  Once current_seller_id() has
-- returned a seller in a transaction, the setting may be set to that seller
-- again or cleared, not changed to another, until the transaction ends.
--
SET SESSION AUTHORIZATION sec_leak_app;
SET enable_indexscan = off;
SET enable_bitmapscan = off;
-- set_config() in the select list, after the first row passed the policy
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SELECT seller_id, event_id, set_config('seller_analytics.seller_id', '2', false) AS switched
FROM seller_analytics.events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
SHOW seller_analytics.seller_id;
-- a cursor read for seller 1, then the setting changed before reading on
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
DECLARE c CURSOR FOR SELECT seller_id, event_id FROM seller_analytics.events;
FETCH 1 FROM c;
SET LOCAL seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- the same seller again, and clearing, are allowed; so is another seller in
-- the next transaction
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SELECT seller_id, count(*) FROM seller_analytics.events GROUP BY seller_id;
SET LOCAL seller_analytics.seller_id = '1';
RESET seller_analytics.seller_id;
SELECT count(*) FROM seller_analytics.events;
SET LOCAL seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
SELECT seller_id, count(*) FROM seller_analytics.events GROUP BY seller_id;
COMMIT;
RESET enable_indexscan;
RESET enable_bitmapscan;
RESET seller_analytics.seller_id;
RESET SESSION AUTHORIZATION;
-- A's login prepares, B's login executes
SET SESSION AUTHORIZATION sec_leak_a;
PREPARE seller_events AS
SELECT seller_id, count(*), min(event_id) FROM seller_analytics.events GROUP BY seller_id;
PREPARE seller_metrics AS
SELECT seller_id, day, orders, revenue FROM seller_analytics.seller_daily_metrics ORDER BY day;
EXECUTE seller_events;
EXECUTE seller_metrics;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_leak_b;
EXECUTE seller_events;
EXECUTE seller_metrics;
SET plan_cache_mode = force_generic_plan;
EXECUTE seller_events;
EXECUTE seller_metrics;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_leak_a;
EXECUTE seller_events;
EXECUTE seller_metrics;
SET plan_cache_mode = force_custom_plan;
EXECUTE seller_events;
RESET plan_cache_mode;
RESET SESSION AUTHORIZATION;
-- prepared by the superuser (no policy applies to it), executed by A
PREPARE super_events AS
SELECT seller_id, count(*), min(event_id) FROM seller_analytics.events GROUP BY seller_id ORDER BY 1;
EXECUTE super_events;
SET SESSION AUTHORIZATION sec_leak_a;
EXECUTE super_events;
RESET SESSION AUTHORIZATION;
DEALLOCATE ALL;
-- a parallel worker looks up the same seller
SET SESSION AUTHORIZATION sec_leak_a;
SET force_parallel_mode = on;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SELECT seller_id, count(*) FROM seller_analytics.events GROUP BY seller_id;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_leak_app;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SELECT seller_id, count(*) FROM seller_analytics.events GROUP BY seller_id;
COMMIT;
RESET ALL;
RESET SESSION AUTHORIZATION;
SET search_path = seller_analytics, public;
SET timezone = 'UTC';
SET DateStyle = 'ISO, YMD';

--
-- Becoming someone else, as A's login: refused
--
SET SESSION AUTHORIZATION sec_leak_a;
SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE sec_leak_b;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE seller_analytics_app;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE seller_analytics_owner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE seller_analytics_ingest;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
GRANT seller_analytics_app TO sec_leak_a;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- SET ROLE to the group role it is a member of is allowed, and changes
-- nothing: the seller follows session_user
SET ROLE seller_analytics_seller;
SELECT session_user, current_user, seller_analytics.current_seller_id(),
       (SELECT count(*) FROM events) AS events;
RESET ROLE;
-- row security cannot be switched off for it: the query fails instead
SET row_security = off;
SELECT count(*) FROM events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM seller_daily_metrics;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET row_security;
-- nor can it change the tables
ALTER TABLE events DISABLE ROW LEVEL SECURITY;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE events NO FORCE ROW LEVEL SECURITY;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE POLICY sec_leak_all ON events FOR SELECT USING (true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER VIEW seller_daily_metrics SET (security_invoker = false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM events;
RESET SESSION AUTHORIZATION;

--
-- The application without a seller sees nothing
--
SET SESSION AUTHORIZATION sec_leak_app;
SELECT seller_analytics.current_seller_id(),
       (SELECT count(*) FROM seller_analytics.events) AS events,
       (SELECT count(*) FROM seller_analytics.seller_daily_metrics) AS metric_days;
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
RESET seller_analytics.seller_id;
SELECT seller_analytics.current_seller_id(),
       (SELECT count(*) FROM seller_analytics.events) AS events,
       (SELECT count(*) FROM seller_analytics.seller_daily_metrics) AS metric_days;
COMMIT;
SET seller_analytics.seller_id = '';
SELECT seller_analytics.current_seller_id(),
       (SELECT count(*) FROM seller_analytics.events) AS events,
       (SELECT count(*) FROM seller_analytics.seller_daily_metrics) AS metric_days;
SET seller_analytics.seller_id = '2 OR true';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '2); SELECT 1; --';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT seller_analytics.current_seller_id(),
       (SELECT count(*) FROM seller_analytics.events) AS events,
       (SELECT count(*) FROM seller_analytics.seller_daily_metrics) AS metric_days;
-- nor can it take on another role, or switch row security off
SET ROLE seller_analytics_owner;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SET LOCAL row_security = off;
SELECT count(*) FROM seller_analytics.events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
RESET SESSION AUTHORIZATION;

--
-- EXPLAIN and statistics, as A's login
--
SET SESSION AUTHORIZATION sec_leak_a;
-- the policy is in the plan
EXPLAIN (COSTS OFF) SELECT * FROM events;
EXPLAIN (COSTS OFF) SELECT * FROM sellers;
-- Side channel (known, documented): the planner's estimates come from
-- statistics of every seller's rows.  Asked about seller 2, the plan
-- estimates seller 2's number of events as ANALYZE counted them (201);
-- about seller 3, which has none, a single row.
CREATE FUNCTION pg_temp.estimated_rows(query text) RETURNS numeric
LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END
$$;
SELECT pg_temp.estimated_rows('SELECT * FROM seller_analytics.events WHERE seller_id = 2') AS seller_2,
       pg_temp.estimated_rows('SELECT * FROM seller_analytics.events WHERE seller_id = 3') AS seller_3,
       pg_temp.estimated_rows('SELECT * FROM seller_analytics.events WHERE seller_id = 1') AS seller_1;
-- Side channel (known): EXPLAIN ANALYZE counts the rows a filter removed,
-- the policy's included: here every other seller's events, as they are now
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT * FROM events;
-- Side channel (known): pg_class is readable by all; its row count is
-- every seller's
SELECT relname, reltuples FROM pg_class
WHERE oid IN ('seller_analytics.events'::regclass, 'seller_analytics.sellers'::regclass)
ORDER BY relname;
-- the statistics themselves: pg_statistic is the superuser's; pg_stats
-- shows no row of a table whose policies apply to the reader
SELECT count(*) FROM pg_statistic;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT tablename, attname, most_common_vals FROM pg_stats
WHERE schemaname = 'seller_analytics' ORDER BY 1, 2;
SELECT count(*) FROM pg_stats_ext WHERE schemaname = 'seller_analytics';
RESET SESSION AUTHORIZATION;
-- (what the superuser sees there)
SELECT tablename, attname, most_common_vals FROM pg_stats
WHERE schemaname = 'seller_analytics' AND tablename = 'events' AND attname = 'seller_id';

--
-- Functions, as A's login and as the application set to seller 1:
-- recompute_seller_day() reads through the caller's policies, the
-- maintenance functions are refused
--
SET SESSION AUTHORIZATION sec_leak_a;
SELECT traffic_source, sessions, orders, revenue FROM recompute_seller_day(1, '2026-01-05');
SELECT traffic_source, sessions, orders, revenue FROM recompute_seller_day(2, '2026-01-05');
SELECT * FROM compact();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM verify_rollups('2026-01-01', '2026-01-31');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM rebuild_rollups('2026-01-01', '2026-01-31');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT flush_captured_changes();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT discard_captured_changes();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT lock_rollups();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM recomputed_daily_metrics('2026-01-01', '2026-01-31');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) FROM recomputed_daily_traffic('2026-01-01', '2026-01-31');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM schedule_jobs();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM unschedule_jobs();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_leak_app;
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SELECT traffic_source, sessions, orders, revenue
FROM seller_analytics.recompute_seller_day(2, '2026-01-05');
COMMIT;
SELECT * FROM seller_analytics.compact();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM seller_analytics.verify_rollups('2026-01-01', '2026-01-31');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM seller_analytics.rebuild_rollups('2026-01-01', '2026-01-31');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT seller_analytics.flush_captured_changes();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT seller_analytics.discard_captured_changes();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
-- nothing of all this changed the rollups
SELECT count(*) AS differences FROM verify_rollups('2026-01-01', '2026-01-31');

--
-- New sessions (the seller's temporary functions go first, so that nothing
-- of the role is left in this session's temporary schema when it ends)
--
DROP FUNCTION pg_temp.leak(text[]), pg_temp.estimated_rows(text);
-- A's login, logged in: it cannot become another role's session (in this
-- test's own session, which a superuser opened, SET SESSION AUTHORIZATION
-- is the superuser's to use, whoever the session user is now)
\c -reuse-previous=on "user=sec_leak_a password=sec_leak_a_pw"
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
SET SESSION AUTHORIZATION sec_leak_b;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
-- the pool login: a seller lasts one transaction; RESET leaves none
\c -reuse-previous=on "user=sec_leak_app password=sec_leak_app_pw"
BEGIN;
SET seller_analytics.seller_id = '1';
SELECT seller_analytics.current_seller_id(), count(*) FROM seller_analytics.events;
RESET seller_analytics.seller_id;
SELECT seller_analytics.current_seller_id(), count(*) FROM seller_analytics.events;
SET seller_analytics.seller_id = '1';
COMMIT;
SHOW seller_analytics.seller_id;
SELECT seller_analytics.current_seller_id(), count(*) FROM seller_analytics.events;
\c - :superuser
SET search_path = seller_analytics, public;

--
-- Clean up: the mappings, the roles, the data
--
SELECT revoke_seller_role('sec_leak_a'), revoke_seller_role('sec_leak_b');
DROP OWNED BY sec_leak_a, sec_leak_b, sec_leak_app, sec_leak_ingest;
DROP ROLE sec_leak_a, sec_leak_b, sec_leak_app, sec_leak_ingest;
TRUNCATE events, sellers, seller_roles;
