--
-- rollup_property: a randomized property test of the live rollups.
--
-- Property: at any moment, seller_daily_metrics and seller_daily_traffic
-- return exactly what recomputed_daily_metrics / recomputed_daily_traffic
-- compute from the raw events (every count and sum, the order-value sketch
-- byte for byte, compared with percentile_sketch_send), the ratio columns
-- are orders / sessions and revenue / orders, and verify_rollups() finds
-- nothing; before compact(), after it, and with compactions between the
-- writing transactions.
--
-- Each round writes a random stream of operations for its own six sellers,
-- one per time zone (UTC, Europe/Berlin, America/New_York, Asia/Kolkata,
-- Australia/Lord_Howe, Pacific/Chatham), at instants around the 2026 DST
-- changes (2026-03-08, 03-29, 04-05, 09-27, 10-04, 10-25, 11-01), in
-- 15-minute steps so that many fall exactly on a local midnight, some one
-- microsecond before it: single inserts, multi-row inserts with duplicate
-- ids in the batch and replays of stored ids (ON CONFLICT DO NOTHING,
-- which must keep the first version), late events for old days, refunds,
-- corrections by UPDATE (amount, quantity, event_type, traffic_source,
-- occurred_at to another day, seller_id to another seller, no-op updates,
-- several columns at once, many rows at once) and DELETE (one and many
-- rows), some of it in savepoints (nested, PL/pgSQL exception blocks) that
-- are rolled back, some whole transactions rolled back, and in round 4 a
-- time-zone change of a seller (one rolled back, one committed, with
-- events written before and after it in the same transaction).  Rounds
-- compact after every Nth transaction or only at the end; rounds 7 and 8
-- also call compact() inside writing transactions, which must not count
-- the transaction's own changes twice (inside a savepoint, where it is
-- refused, the refusals are counted).  Mismatches are
-- counted at checkpoints during the round and before compaction
-- (mismatches_before), and after two compactions (mismatches_after);
-- verify_rows counts what verify_rollups() returned at all those points.
-- At the end of a round, an oracle that does not use the extension's SQL
-- (AT TIME ZONE, plain aggregates) checks recomputed_daily_metrics, then
-- all the round's events are deleted: the views must be empty at once and
-- the tables after compaction.
--
-- Deterministic: setseed() with a fixed seed per round, and nothing
-- depends on the physical order of rows, so the same operations run every
-- time and the expected output is exact: there is no false-failure
-- probability.  The helpers live in schema rollup_property, the sellers
-- have ids 7000000 + 10 * round + k (other sellers are left alone, and
-- only these are compared), and everything is removed at the end.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
DROP SCHEMA IF EXISTS rollup_property CASCADE;
RESET client_min_messages;
CREATE SCHEMA rollup_property;
SET search_path = rollup_property, public;
-- timestamptz arithmetic below uses hours and minutes only; UTC anyway
SET TimeZone = 'UTC';
-- some 2,000 commits: not waiting for each WAL flush keeps it quick (what
-- they make visible, and when, is the same)
SET synchronous_commit = off;
SELECT setseed(0.5);

-- ids of new events: 'r<round>-<n>'; not transactional, never reused
CREATE SEQUENCE event_n;

CREATE TABLE rounds (
    round int PRIMARY KEY,
    seed float8 NOT NULL,
    batches int NOT NULL,           -- transactions of random operations
    ops int NOT NULL,               -- operations per transaction (at most)
    compact_every int NOT NULL,     -- compact() after every Nth batch; 0: never
    check_every int NOT NULL,       -- check after every Nth batch; 0: never
    tz_change boolean NOT NULL,
    compact_inside boolean NOT NULL,  -- also compact() inside writing transactions
    first_n bigint,
    checks int NOT NULL DEFAULT 0,
    mismatches_before bigint NOT NULL DEFAULT 0,
    mismatches_after bigint NOT NULL DEFAULT 0,
    verify_rows bigint NOT NULL DEFAULT 0,
    rolled_back int NOT NULL DEFAULT 0,
    compact_refused int NOT NULL DEFAULT 0, -- compact() refused in a savepoint
    -- recorded at the end of the round, before its events are deleted
    events bigint,
    metrics_rows bigint,
    traffic_rows bigint,
    sketched_orders numeric,
    zones text,
    oracle_rows bigint,
    oracle_mismatches bigint,
    wrong_local_days bigint,
    at_midnight bigint,
    before_midnight bigint,
    on_dst_days bigint,
    null_source bigint,
    unknown_source bigint,
    late_days bigint,
    -- rows of the round's sellers left in the views after all its events
    -- are deleted, and in the tables after compaction
    left_in_views bigint,
    left_in_tables bigint
);

INSERT INTO rounds (round, seed, batches, ops, compact_every, check_every, tz_change, compact_inside) VALUES
    (1,  0.11, 150, 12, 0,  75,  false, false),   -- no compaction until the end
    (2, -0.22, 150, 12, 1,  75,  false, false),   -- compaction after every transaction
    (3,  0.33, 200, 10, 3,  100, false, false),
    (4, -0.44, 200, 10, 2,  100, true,  false),   -- a time-zone change (in batch 100)
    (5,  0.55, 80,  40, 4,  40,  false, false),   -- long transactions
    (6, -0.66, 300, 4,  7,  150, false, false),   -- short transactions
    (7,  0.77, 150, 12, 5,  0,   false, true),    -- checked at the end only
    (8, -0.88, 180, 12, 0,  90,  false, true);

CREATE FUNCTION sids(r int) RETURNS bigint[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT array_agg(7000000 + 10 * r + k ORDER BY k)::bigint[] FROM generate_series(0, 5) AS k $$;

CREATE FUNCTION zones() RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata',
                   'Australia/Lord_Howe', 'Pacific/Chatham'] $$;

CREATE FUNCTION pick(a anyarray) RETURNS anyelement
LANGUAGE sql VOLATILE
AS $$ SELECT a[1 + floor(random() * cardinality(a))::int] $$;

-- an instant near a DST change (late: on an old day), on a quarter hour
-- (often a local midnight), a random second, or a microsecond before
CREATE FUNCTION rand_time(late boolean) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    t timestamptz;
    y float8;
BEGIN
    IF late THEN
        t := pick(ARRAY['2026-01-31 23:00+00', '2026-02-28 11:00+00',
                        '2026-03-08 07:00+00']::timestamptz[]);
    ELSE
        t := pick(ARRAY['2026-03-08 07:00+00',    -- America/New_York starts DST
                        '2026-03-29 01:00+00',    -- Europe/Berlin starts DST
                        '2026-04-04 14:00+00',    -- Pacific/Chatham ends DST
                        '2026-04-04 15:00+00',    -- Australia/Lord_Howe ends DST
                        '2026-09-26 14:00+00',    -- Pacific/Chatham starts DST
                        '2026-10-03 15:30+00',    -- Australia/Lord_Howe starts DST
                        '2026-10-25 01:00+00',    -- Europe/Berlin ends DST
                        '2026-11-01 06:00+00'     -- America/New_York ends DST
                       ]::timestamptz[]);
    END IF;
    t := t + (floor(random() * 241) - 120) * interval '15 minutes';
    y := random();
    IF y < 0.25 THEN
        t := t + floor(random() * 900) * interval '1 second';
    ELSIF y < 0.35 THEN
        t := t - interval '1 microsecond';
    END IF;
    RETURN t;
END
$$;

CREATE FUNCTION rand_type() RETURNS text
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    x float8 := random();
BEGIN
    RETURN CASE WHEN x < 0.22 THEN 'session_start' WHEN x < 0.50 THEN 'page_view'
                WHEN x < 0.64 THEN 'add_to_cart' WHEN x < 0.88 THEN 'order'
                ELSE 'refund' END;
END
$$;

-- NULL and 'unknown' are the same source; one of 64 octets, one multibyte
CREATE FUNCTION rand_source() RETURNS text
LANGUAGE sql VOLATILE
AS $$ SELECT pick(ARRAY[NULL, NULL, 'search', 'search', 'ads', 'social', 'email',
                        'unknown', 'ñandú', rpad('long-', 64, 'x')]) $$;

CREATE FUNCTION rand_amount() RETURNS numeric
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    x float8 := random();
BEGIN
    RETURN CASE WHEN x < 0.05 THEN 0.00
                WHEN x < 0.08 THEN 999999999999.99
                WHEN x < 0.15 THEN round((random() * 1e9)::numeric, 2)
                WHEN x < 0.20 THEN 0.01
                ELSE round((random() * 300)::numeric, 2) END;
END
$$;

CREATE FUNCTION rand_quantity() RETURNS int
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    x float8 := random();
BEGIN
    RETURN CASE WHEN x < 0.3 THEN NULL WHEN x < 0.4 THEN 0
                ELSE 1 + floor(random() * 5)::int END;
END
$$;

-- a new event of the round (not inserted)
CREATE FUNCTION new_event(r int, late boolean) RETURNS seller_analytics.events
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    e seller_analytics.events;
BEGIN
    e.seller_id := pick(sids(r));
    e.event_id := 'r' || r || '-' || nextval('event_n');
    e.event_type := rand_type();
    e.occurred_at := rand_time(late);
    e.session_id := 's' || floor(random() * 50);
    e.traffic_source := rand_source();
    -- amounts and quantities on other types count for nothing
    e.amount := CASE WHEN e.event_type IN ('order', 'refund') OR random() < 0.1
                     THEN rand_amount() END;
    e.quantity := CASE WHEN e.event_type = 'order' OR random() < 0.1
                       THEN rand_quantity() END;
    RETURN e;
END
$$;

-- the same event id with another payload (a replay that must be ignored)
CREATE FUNCTION altered(e seller_analytics.events) RETURNS seller_analytics.events
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    e.event_type := rand_type();
    e.occurred_at := rand_time(false);
    e.traffic_source := rand_source();
    e.amount := rand_amount();
    e.quantity := rand_quantity();
    RETURN e;
END
$$;

-- a stored event of the round, recent ones more often; NULL if the drawn
-- id is not stored (never inserted, rolled back, deleted)
CREATE FUNCTION stored_event(r int, first_n bigint) RETURNS seller_analytics.events
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    last_n bigint := (SELECT last_value FROM event_n);
    n bigint;
    e seller_analytics.events;
BEGIN
    IF last_n < first_n THEN
        RETURN NULL;
    END IF;
    IF random() < 0.5 THEN
        n := greatest(first_n, last_n - floor(random() * 20)::bigint);
    ELSE
        n := first_n + floor(random() * (last_n - first_n + 1))::bigint;
    END IF;
    SELECT * INTO e FROM seller_analytics.events
    WHERE seller_id = ANY (sids(r)) AND event_id = 'r' || r || '-' || n
    ORDER BY seller_id LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN e;
END
$$;

-- e's stored row becomes c (c may have another seller_id)
CREATE FUNCTION correct(e seller_analytics.events, c seller_analytics.events) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
BEGIN
    UPDATE seller_analytics.events
    SET (seller_id, event_type, occurred_at, session_id, traffic_source, amount, quantity)
      = (c.seller_id, c.event_type, c.occurred_at, c.session_id, c.traffic_source,
         c.amount, c.quantity)
    WHERE seller_id = e.seller_id AND event_id = e.event_id;
END
$$;

-- one random operation (depth: of nested savepoints)
CREATE FUNCTION random_op(r int, first_n bigint, late_ok boolean, depth int) RETURNS void
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    x float8 := random();
    z float8;
    e seller_analytics.events;
    c seller_analytics.events;
    batch seller_analytics.events[] := '{}';
    s bigint;
    t timestamptz;
    v text;
BEGIN
    IF x < 0.28 THEN
        -- one new event
        INSERT INTO seller_analytics.events
        SELECT * FROM new_event(r, false) ON CONFLICT DO NOTHING;
    ELSIF x < 0.42 THEN
        -- a batch: new events, ids repeated in the batch, replays of stored ids
        FOR i IN 1 .. 2 + floor(random() * 15)::int LOOP
            z := random();
            IF z < 0.12 AND cardinality(batch) > 0 THEN
                e := altered(pick(batch));
            ELSIF z < 0.22 THEN
                e := stored_event(r, first_n);
                e := CASE WHEN e IS NULL THEN new_event(r, false) ELSE altered(e) END;
            ELSE
                e := new_event(r, late_ok AND random() < 0.2);
            END IF;
            batch := batch || e;
        END LOOP;
        INSERT INTO seller_analytics.events
        SELECT * FROM unnest(batch) ON CONFLICT DO NOTHING;
    ELSIF x < 0.47 THEN
        -- a replay of one stored event, with another payload
        e := stored_event(r, first_n);
        IF e IS NOT NULL THEN
            INSERT INTO seller_analytics.events
            SELECT * FROM altered(e) ON CONFLICT DO NOTHING;
        END IF;
    ELSIF x < 0.52 THEN
        -- a late event for an old day
        INSERT INTO seller_analytics.events
        SELECT * FROM new_event(r, late_ok) ON CONFLICT DO NOTHING;
    ELSIF x < 0.72 THEN
        -- a correction of one event
        e := stored_event(r, first_n);
        IF e IS NULL THEN
            RETURN;
        END IF;
        c := e;
        z := random();
        IF z < 0.14 THEN
            c.amount := rand_amount();
        ELSIF z < 0.24 THEN
            c.quantity := rand_quantity();
        ELSIF z < 0.38 THEN
            c.event_type := rand_type();
            c.amount := coalesce(c.amount, rand_amount());
        ELSIF z < 0.50 THEN
            c.traffic_source := rand_source();
        ELSIF z < 0.62 THEN
            -- to another day, or just within it
            c.occurred_at := c.occurred_at + (floor(random() * 145) - 72) * interval '1 hour';
        ELSIF z < 0.66 THEN
            c.occurred_at := rand_time(false);
        ELSIF z < 0.78 THEN
            c.seller_id := pick(sids(r));
        ELSIF z < 0.84 THEN
            c.session_id := 'corrected';        -- counts the same
        ELSIF z < 0.88 THEN
            NULL;                               -- an UPDATE that changes nothing
        ELSE
            c.seller_id := pick(sids(r));
            c.event_type := rand_type();
            c.occurred_at := rand_time(false);
            c.traffic_source := rand_source();
            c.amount := rand_amount();
            c.quantity := rand_quantity();
        END IF;
        BEGIN
            PERFORM correct(e, c);
        EXCEPTION WHEN unique_violation THEN
            NULL;       -- the other seller has an event of that id
        END;
    ELSIF x < 0.75 THEN
        -- a correction of many events: a seller's events in a few hours
        s := pick(sids(r));
        t := rand_time(false);
        z := random();
        IF z < 0.3 THEN
            v := rand_source();
            UPDATE seller_analytics.events SET traffic_source = v
            WHERE seller_id = s AND occurred_at >= t AND occurred_at < t + interval '6 hours';
        ELSIF z < 0.55 THEN
            UPDATE seller_analytics.events SET occurred_at = occurred_at + interval '23 hours'
            WHERE seller_id = s AND occurred_at >= t AND occurred_at < t + interval '6 hours';
        ELSIF z < 0.8 THEN
            UPDATE seller_analytics.events
            SET amount = CASE WHEN amount < 999999999990 THEN amount + 1.25 ELSE 0.50 END,
                quantity = coalesce(quantity, 1) + 1
            WHERE seller_id = s AND occurred_at >= t AND occurred_at < t + interval '8 hours'
              AND event_type IN ('order', 'refund');
        ELSE
            UPDATE seller_analytics.events SET event_type = 'order', amount = coalesce(amount, 9.99)
            WHERE seller_id = s AND occurred_at >= t AND occurred_at < t + interval '3 hours'
              AND event_type = 'add_to_cart';
        END IF;
    ELSIF x < 0.83 THEN
        -- a deletion of one event
        e := stored_event(r, first_n);
        IF e IS NOT NULL THEN
            DELETE FROM seller_analytics.events
            WHERE seller_id = e.seller_id AND event_id = e.event_id;
        END IF;
    ELSIF x < 0.85 THEN
        -- a deletion of many
        s := pick(sids(r));
        t := rand_time(false);
        DELETE FROM seller_analytics.events
        WHERE seller_id = s AND occurred_at >= t AND occurred_at < t + interval '2 hours';
    ELSIF x < 0.865 AND current_setting('rollup_property.compact_inside') = 'on' THEN
        -- a compaction inside the writing transaction; inside a savepoint of
        -- a transaction with changes of events it is refused (25001)
        IF depth = 0 THEN
            PERFORM seller_analytics.compact();
        ELSE
        BEGIN
            PERFORM seller_analytics.compact();
        EXCEPTION WHEN active_sql_transaction THEN
            PERFORM set_config('rollup_property.refused',
                               (current_setting('rollup_property.refused')::int + 1)::text, false);
        END;
        END IF;
    ELSIF x < 0.93 AND depth < 3 THEN
        -- a savepoint: a few operations, rolled back more often than not
        BEGIN
            FOR i IN 1 .. 1 + floor(random() * 5)::int LOOP
                PERFORM random_op(r, first_n, late_ok, depth + 1);
            END LOOP;
            IF random() < 0.6 THEN
                RAISE EXCEPTION USING ERRCODE = 'P0004', MESSAGE = 'rolled back';
            END IF;
        EXCEPTION WHEN assert_failure THEN
            NULL;
        END;
    ELSE
        -- insert and correct (or delete) in the same transaction
        e := new_event(r, false);
        INSERT INTO seller_analytics.events SELECT * FROM unnest(ARRAY[e]);
        c := altered(e);
        IF random() < 0.3 THEN
            DELETE FROM seller_analytics.events
            WHERE seller_id = e.seller_id AND event_id = e.event_id;
        ELSE
            PERFORM correct(e, c);
        END IF;
    END IF;
END
$$;

-- Differences between the live views and the recomputation from raw
-- events for round r's sellers, both directions, every column.
CREATE FUNCTION mismatches(r int) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    lo bigint := 7000000 + 10 * r;
    hi bigint := 7000000 + 10 * r + 9;
    d0 date;
    d1 date;
    n bigint;
BEGIN
    SELECT min(d), max(d) INTO d0, d1
    FROM (SELECT seller_analytics.local_day(e.occurred_at, s.time_zone) AS d
          FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
          WHERE e.seller_id BETWEEN lo AND hi
          UNION ALL
          SELECT day FROM seller_analytics.seller_daily_metrics WHERE seller_id BETWEEN lo AND hi
          UNION ALL
          SELECT day FROM seller_analytics.seller_daily_traffic WHERE seller_id BETWEEN lo AND hi) days;
    IF d0 IS NULL THEN
        RETURN 0;
    END IF;
    CREATE TEMP TABLE vm ON COMMIT DROP AS
    SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
           refunds, refund_amount, seller_analytics.percentile_sketch_send(order_value) AS order_value,
           conversion_rate, avg_order_value
    FROM seller_analytics.seller_daily_metrics WHERE seller_id BETWEEN lo AND hi;
    CREATE TEMP TABLE rm ON COMMIT DROP AS
    SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
           refunds, refund_amount, seller_analytics.percentile_sketch_send(order_value) AS order_value,
           orders::numeric / nullif(sessions, 0)::numeric AS conversion_rate,
           revenue / nullif(orders, 0) AS avg_order_value
    FROM seller_analytics.recomputed_daily_metrics(d0, d1) WHERE seller_id BETWEEN lo AND hi;
    CREATE TEMP TABLE vt ON COMMIT DROP AS
    SELECT seller_id, day, traffic_source, sessions, page_views, orders, revenue,
           conversion_rate, avg_order_value
    FROM seller_analytics.seller_daily_traffic WHERE seller_id BETWEEN lo AND hi;
    CREATE TEMP TABLE rt ON COMMIT DROP AS
    SELECT seller_id, day, traffic_source, sessions, page_views, orders, revenue,
           orders::numeric / nullif(sessions, 0)::numeric AS conversion_rate,
           revenue / nullif(orders, 0) AS avg_order_value
    FROM seller_analytics.recomputed_daily_traffic(d0, d1) WHERE seller_id BETWEEN lo AND hi;
    SELECT (SELECT count(*) FROM (TABLE vm EXCEPT ALL TABLE rm) a)
         + (SELECT count(*) FROM (TABLE rm EXCEPT ALL TABLE vm) b)
         + (SELECT count(*) FROM (TABLE vt EXCEPT ALL TABLE rt) c)
         + (SELECT count(*) FROM (TABLE rt EXCEPT ALL TABLE vt) d)
         -- the ratios are also what the view's own columns give
         + (SELECT count(*) FROM vm
            WHERE conversion_rate IS DISTINCT FROM orders::numeric / nullif(sessions, 0)
               OR avg_order_value IS DISTINCT FROM revenue / nullif(orders, 0))
         + (SELECT count(*) FROM vt
            WHERE conversion_rate IS DISTINCT FROM orders::numeric / nullif(sessions, 0)
               OR avg_order_value IS DISTINCT FROM revenue / nullif(orders, 0))
    INTO n;
    DROP TABLE vm, rm, vt, rt;
    RETURN n;
END
$$;

-- verify_rollups() rows for round r's sellers, over all their days
CREATE FUNCTION verify_rows(r int) RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    lo bigint := 7000000 + 10 * r;
    hi bigint := 7000000 + 10 * r + 9;
    d0 date;
    d1 date;
BEGIN
    SELECT min(d), max(d) INTO d0, d1
    FROM (SELECT seller_analytics.local_day(e.occurred_at, s.time_zone) AS d
          FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
          WHERE e.seller_id BETWEEN lo AND hi
          UNION ALL
          SELECT day FROM seller_analytics.seller_daily_metrics WHERE seller_id BETWEEN lo AND hi) days;
    IF d0 IS NULL THEN
        RETURN 0;
    END IF;
    RETURN (SELECT count(*) FROM seller_analytics.verify_rollups(d0, d1) v
            WHERE v.seller_id BETWEEN lo AND hi);
END
$$;

CREATE PROCEDURE check_round(r int, final boolean)
LANGUAGE plpgsql
AS $$
DECLARE
    m bigint := mismatches(r);
    v bigint := verify_rows(r);
BEGIN
    IF final THEN
        UPDATE rounds SET mismatches_after = mismatches_after + m,
                          verify_rows = verify_rows + v, checks = checks + 1
        WHERE round = r;
    ELSE
        UPDATE rounds SET mismatches_before = mismatches_before + m,
                          verify_rows = verify_rows + v, checks = checks + 1
        WHERE round = r;
    END IF;
END
$$;

-- What the round left: counts for the output, the coverage of the stream,
-- and an oracle independent of the extension's SQL (the metrics from the
-- raw events with AT TIME ZONE) against recomputed_daily_metrics.
CREATE PROCEDURE record_round(r int)
LANGUAGE plpgsql
AS $$
DECLARE
    lo bigint := 7000000 + 10 * r;
    hi bigint := 7000000 + 10 * r + 9;
BEGIN
    UPDATE rounds SET
        events = (SELECT count(*) FROM seller_analytics.events e
                  WHERE e.seller_id BETWEEN lo AND hi),
        metrics_rows = (SELECT count(*) FROM seller_analytics.seller_daily_metrics m
                        WHERE m.seller_id BETWEEN lo AND hi),
        traffic_rows = (SELECT count(*) FROM seller_analytics.seller_daily_traffic t
                        WHERE t.seller_id BETWEEN lo AND hi),
        sketched_orders = (SELECT sum(seller_analytics.sketch_count(m.order_value))
                           FROM seller_analytics.seller_daily_metrics m
                           WHERE m.seller_id BETWEEN lo AND hi),
        zones = (SELECT string_agg(s.time_zone, ',' ORDER BY s.seller_id)
                 FROM seller_analytics.sellers s WHERE s.seller_id BETWEEN lo AND hi)
    WHERE round = r;
    UPDATE rounds SET
        (wrong_local_days, at_midnight, before_midnight, on_dst_days, null_source,
         unknown_source, late_days) =
        (SELECT count(*) FILTER (WHERE seller_analytics.local_day(e.occurred_at, s.time_zone)
                                       <> (e.occurred_at AT TIME ZONE s.time_zone)::date),
                count(*) FILTER (WHERE (e.occurred_at AT TIME ZONE s.time_zone)::time = '00:00'),
                count(*) FILTER (WHERE (e.occurred_at AT TIME ZONE s.time_zone)::time = '23:59:59.999999'),
                count(*) FILTER (WHERE (e.occurred_at AT TIME ZONE s.time_zone)::date IN
                                       ('2026-03-08', '2026-03-29', '2026-04-05', '2026-09-27',
                                        '2026-10-04', '2026-10-25', '2026-11-01')),
                count(*) FILTER (WHERE e.traffic_source IS NULL),
                count(*) FILTER (WHERE e.traffic_source = 'unknown'),
                count(*) FILTER (WHERE e.occurred_at < '2026-03-01')
         FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
         WHERE e.seller_id BETWEEN lo AND hi)
    WHERE round = r;
    WITH o AS (
        SELECT e.seller_id, (e.occurred_at AT TIME ZONE s.time_zone)::date AS day,
               count(*) FILTER (WHERE e.event_type = 'session_start') AS sessions,
               count(*) FILTER (WHERE e.event_type = 'page_view') AS page_views,
               count(*) FILTER (WHERE e.event_type = 'add_to_cart') AS add_to_carts,
               count(*) FILTER (WHERE e.event_type = 'order') AS orders,
               coalesce(sum(coalesce(e.quantity, 1)) FILTER (WHERE e.event_type = 'order'), 0) AS units,
               coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'order'), 0) AS revenue,
               count(*) FILTER (WHERE e.event_type = 'refund') AS refunds,
               coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'refund'), 0) AS refund_amount,
               seller_analytics.percentile_sketch_send(
                   seller_analytics.percentile_agg(e.amount::float8)
                   FILTER (WHERE e.event_type = 'order')) AS order_value
        FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
        WHERE e.seller_id BETWEEN lo AND hi
        GROUP BY 1, 2
    ), m AS (
        SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
               refunds, refund_amount, seller_analytics.percentile_sketch_send(order_value)
        FROM seller_analytics.recomputed_daily_metrics('2025-12-01', '2027-01-31')
        WHERE seller_id BETWEEN lo AND hi
    )
    UPDATE rounds SET
        oracle_rows = (SELECT count(*) FROM o),
        oracle_mismatches = (SELECT count(*) FROM (TABLE o EXCEPT ALL TABLE m) a)
                          + (SELECT count(*) FROM (TABLE m EXCEPT ALL TABLE o) b)
    WHERE round = r;
END
$$;

-- Delete all the round's events: the views empty at once, the tables after
-- compaction; then the sellers go (and later rounds' checks stay small).
CREATE PROCEDURE empty_round(r int)
LANGUAGE plpgsql
AS $$
DECLARE
    lo bigint := 7000000 + 10 * r;
    hi bigint := 7000000 + 10 * r + 9;
BEGIN
    DELETE FROM seller_analytics.events WHERE seller_id BETWEEN lo AND hi;
    COMMIT;
    UPDATE rounds SET left_in_views =
        (SELECT count(*) FROM seller_analytics.seller_daily_metrics WHERE seller_id BETWEEN lo AND hi)
      + (SELECT count(*) FROM seller_analytics.seller_daily_traffic WHERE seller_id BETWEEN lo AND hi)
    WHERE round = r;
    PERFORM seller_analytics.compact();
    COMMIT;
    UPDATE rounds SET left_in_tables =
        (SELECT count(*) FROM seller_analytics.daily_metrics WHERE seller_id BETWEEN lo AND hi)
      + (SELECT count(*) FROM seller_analytics.daily_traffic WHERE seller_id BETWEEN lo AND hi)
      + (SELECT count(*) FROM seller_analytics.pending_deltas WHERE seller_id BETWEEN lo AND hi)
      + (SELECT count(*) FROM seller_analytics.recompute_marks WHERE seller_id BETWEEN lo AND hi)
    WHERE round = r;
    DELETE FROM seller_analytics.sellers WHERE seller_id BETWEEN lo AND hi;
    COMMIT;
END
$$;

CREATE PROCEDURE run_round(r int)
LANGUAGE plpgsql
AS $$
DECLARE
    cfg rounds;
    sid bigint[] := sids(r);
    start_n bigint;
    late_ok boolean;
BEGIN
    SELECT * INTO cfg FROM rounds WHERE round = r;
    PERFORM setseed(cfg.seed);
    PERFORM set_config('rollup_property.compact_inside', CASE WHEN cfg.compact_inside THEN 'on' ELSE 'off' END, false);
    PERFORM set_config('rollup_property.refused', '0', false);
    start_n := nextval('event_n');     -- ids of the round are above it
    UPDATE rounds SET first_n = start_n WHERE round = r;
    INSERT INTO seller_analytics.sellers (seller_id, name, time_zone)
    SELECT sid[k], 'round ' || r || ' seller ' || k, (zones())[k] FROM generate_series(1, 6) AS k;
    COMMIT;
    FOR b IN 1 .. cfg.batches LOOP
        late_ok := b > cfg.batches / 3;
        IF cfg.tz_change AND b = cfg.batches / 2 THEN
            -- a time-zone change rolled back with a savepoint
            BEGIN
                UPDATE seller_analytics.sellers SET time_zone = 'Asia/Kolkata'
                WHERE seller_id = sid[2];
                PERFORM random_op(r, start_n, late_ok, 3);
                RAISE EXCEPTION USING ERRCODE = 'P0004', MESSAGE = 'rolled back';
            EXCEPTION WHEN assert_failure THEN
                NULL;
            END;
            -- and one committed, with events before and after it
            FOR i IN 1 .. 5 LOOP
                PERFORM random_op(r, start_n, late_ok, 3);
            END LOOP;
            UPDATE seller_analytics.sellers SET time_zone = 'Pacific/Chatham'
            WHERE seller_id = sid[2];      -- was Europe/Berlin
        END IF;
        FOR i IN 1 .. 1 + floor(random() * cfg.ops)::int LOOP
            PERFORM random_op(r, start_n, late_ok, 0);
        END LOOP;
        IF random() < 0.06 THEN
            ROLLBACK;
            UPDATE rounds SET rolled_back = rolled_back + 1 WHERE round = r;
        END IF;
        COMMIT;
        IF cfg.compact_every > 0 AND b % cfg.compact_every = 0 THEN
            PERFORM seller_analytics.compact();
            COMMIT;
        END IF;
        IF cfg.check_every > 0 AND b % cfg.check_every = 0 THEN
            CALL check_round(r, false);
            COMMIT;
        END IF;
    END LOOP;
    UPDATE rounds SET compact_refused = current_setting('rollup_property.refused')::int
    WHERE round = r;
    -- the end of the round: check, compact, check, compact again, check
    CALL check_round(r, false);
    COMMIT;
    PERFORM seller_analytics.compact();
    COMMIT;
    CALL check_round(r, true);
    COMMIT;
    PERFORM seller_analytics.compact();
    COMMIT;
    CALL check_round(r, true);
    COMMIT;
    CALL record_round(r);
    COMMIT;
    CALL empty_round(r);
END
$$;

CALL run_round(1);
CALL run_round(2);
CALL run_round(3);
CALL run_round(4);
CALL run_round(5);
CALL run_round(6);
CALL run_round(7);
CALL run_round(8);

-- Per round: the rows the views returned at the end of the round and the
-- mismatches found, which must all be zero.
SELECT round, events, metrics_rows, traffic_rows, mismatches_before, mismatches_after,
       verify_rows
FROM rounds ORDER BY round;

-- The checks ran, and the rounds did what they were meant to: how many
-- checks, rolled-back transactions, orders in the sketches, the sellers'
-- time zones at the end (round 4's Berlin seller moved to Chatham); the
-- independent oracle agrees with recomputed_daily_metrics; deleting every
-- event of the round emptied the views at once and the tables after
-- compaction.
SELECT round, checks, rolled_back, compact_refused, sketched_orders, oracle_rows, oracle_mismatches,
       left_in_views, left_in_tables, zones
FROM rounds ORDER BY round;

-- The stream covered what it was meant to: events exactly at a local
-- midnight and one microsecond before, on DST change days, with sources
-- NULL and 'unknown' (the same source), late events for old days; and
-- local_day() is the calendar day that AT TIME ZONE gives.
SELECT sum(wrong_local_days) AS wrong_local_days,
       sum(at_midnight) > 0 AS at_midnight, sum(before_midnight) > 0 AS before_midnight,
       sum(on_dst_days) > 0 AS on_dst_days, sum(null_source) > 0 AS null_source,
       sum(unknown_source) > 0 AS unknown_source, sum(late_days) > 0 AS late_days
FROM rounds;

-- nothing of the rounds is left
SELECT (SELECT count(*) FROM seller_analytics.events WHERE seller_id BETWEEN 7000000 AND 7000999)
     + (SELECT count(*) FROM seller_analytics.sellers WHERE seller_id BETWEEN 7000000 AND 7000999)
     + (SELECT count(*) FROM seller_analytics.daily_metrics WHERE seller_id BETWEEN 7000000 AND 7000999)
     + (SELECT count(*) FROM seller_analytics.daily_traffic WHERE seller_id BETWEEN 7000000 AND 7000999)
     + (SELECT count(*) FROM seller_analytics.pending_deltas WHERE seller_id BETWEEN 7000000 AND 7000999)
     + (SELECT count(*) FROM seller_analytics.recompute_marks WHERE seller_id BETWEEN 7000000 AND 7000999)
       AS rows_left;

RESET TimeZone;
RESET synchronous_commit;
RESET search_path;
SET client_min_messages = warning;
DROP SCHEMA rollup_property CASCADE;
RESET client_min_messages;
