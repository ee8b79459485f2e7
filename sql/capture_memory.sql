--
-- The capture trigger's memory is bounded whatever the transaction's size
-- (0.6): past seller_analytics.capture_memory, a transaction level's
-- captured changes go to pending_deltas at once, within the transaction.
--
-- One transaction loads 120 000 events (orders, refunds and page views of
-- 4 000 sellers over 5 days and 3 sources: 60 000 keys, most with an
-- order-value sketch) in six statements, and the backend's memory
-- (pg_backend_memory_contexts) is read after each.  With the bound at 256 kB
-- the memory stays flat: it grows by less than 3 MB from the first reading
-- to the last, and the capture's own contexts stay under 1 MB.  The same
-- load with the bound at 1 GB (the trigger then keeps everything until
-- commit) grows by more than 8 MB, which shows that the readings see the
-- capture's memory.  Either way the live views and, after
-- compact(), the rollups equal a recomputation from raw events.
--
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;
SET timezone = 'UTC';
SET DateStyle = 'ISO, YMD';
TRUNCATE events, sellers, seller_roles;

INSERT INTO sellers (seller_id, name, time_zone)
SELECT s, 'seller ' || s,
       (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'])[1 + s % 4]
FROM generate_series(1, 4000) s;

-- the backend's memory, and the capture's own contexts, in bytes
CREATE FUNCTION pg_temp.backend_bytes() RETURNS bigint LANGUAGE sql
AS $$ SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts $$;
CREATE FUNCTION pg_temp.capture_bytes() RETURNS bigint LANGUAGE sql
AS $$ SELECT coalesce(sum(total_bytes), 0)::bigint FROM pg_backend_memory_contexts
      WHERE name IN ('seller_analytics capture', 'seller_analytics captured changes') $$;

-- Loads chunks x 20 000 events with ids from id0 in the current
-- transaction, one statement a chunk; returns the backend's and the
-- capture's memory after each statement.  Deterministic: seller, day, source,
-- type and amount follow from the event's number.
CREATE FUNCTION pg_temp.load(id0 bigint, chunks int,
                             OUT chunk int, OUT backend bigint, OUT capture bigint)
RETURNS SETOF record LANGUAGE plpgsql AS $$
BEGIN
    FOR c IN 1 .. chunks LOOP
        INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at,
                                             traffic_source, amount, quantity)
        SELECT 1 + (i * 7919) % 4000, 'm' || (id0 + i),
               CASE WHEN i % 10 < 7 THEN 'order' WHEN i % 10 < 8 THEN 'refund' ELSE 'page_view' END,
               timestamptz '2026-03-01 12:00+00' + ((i / 4000) % 5) * interval '1 day'
                   + (i % 97) * interval '1 minute',
               (ARRAY['search', 'ads', NULL])[1 + (i / 20000) % 3],
               CASE WHEN i % 10 < 8 THEN ((i * 37) % 100000) / 100.0 + 1 END,
               1 + i % 3
        FROM generate_series((c - 1) * 20000::bigint, c * 20000::bigint - 1) i;
        chunk := c;
        backend := pg_temp.backend_bytes();
        capture := pg_temp.capture_bytes();
        RETURN NEXT;
    END LOOP;
END
$$;

CREATE TEMP TABLE readings (bound text, chunk int, backend bigint, capture bigint);

-- bounded: 256 kB
BEGIN;
SET LOCAL seller_analytics.capture_memory = '256kB';
INSERT INTO readings SELECT '256kB', * FROM pg_temp.load(0, 6);
-- more pending rows than keys: the changes went out in chunks, before commit
SELECT count(*) > 60000 AS flushed_in_chunks FROM pending_deltas;
COMMIT;

SELECT count(*) AS events FROM events;
SELECT count(*) AS differences FROM verify_rollups('2026-02-27', '2026-03-08');
SELECT deltas > 60000 AS compacted_chunks FROM compact();
SELECT count(*) AS differences FROM verify_rollups('2026-02-27', '2026-03-08');

-- unbounded in effect: 1 GB, the same load of other events
BEGIN;
SET LOCAL seller_analytics.capture_memory = '1GB';
INSERT INTO readings SELECT '1GB', * FROM pg_temp.load(1000000, 6);
SELECT count(*) AS pending_rows_before_commit FROM pending_deltas;
COMMIT;
SELECT count(*) AS differences FROM verify_rollups('2026-02-27', '2026-03-08');
SELECT deltas <= 60000 AS one_row_per_key FROM compact();
SELECT count(*) AS differences FROM verify_rollups('2026-02-27', '2026-03-08');

-- Flushes inside savepoints: rows flushed in a savepoint that rolls back go
-- with it; those of a released one stay.  20 000 events per load.
BEGIN;
SET LOCAL seller_analytics.capture_memory = '64kB';
SELECT count(*) AS chunks FROM pg_temp.load(2000000, 1);
SELECT count(*) AS pending_before_savepoint FROM pending_deltas \gset
SAVEPOINT a;
SELECT count(*) AS chunks FROM pg_temp.load(3000000, 1);
SELECT count(*) > :pending_before_savepoint AS flushed_in_savepoint FROM pending_deltas;
ROLLBACK TO SAVEPOINT a;
SELECT count(*) = :pending_before_savepoint AS rolled_back_with_it FROM pending_deltas;
SAVEPOINT b;
SELECT count(*) AS chunks FROM pg_temp.load(4000000, 1);
RELEASE SAVEPOINT b;
COMMIT;
SELECT count(*) AS events FROM events;
SELECT count(*) AS differences FROM verify_rollups('2026-02-27', '2026-03-08');
SELECT deltas > 0 AS compacted FROM compact();
SELECT count(*) AS differences FROM verify_rollups('2026-02-27', '2026-03-08');

-- growth of the backend from the first reading to the last, and the
-- capture's largest footprint
SELECT bound,
       max(backend) FILTER (WHERE chunk = 6) - max(backend) FILTER (WHERE chunk = 1)
           < 3 * 1024 * 1024 AS flat_within_3mb,
       max(backend) FILTER (WHERE chunk = 6) - max(backend) FILTER (WHERE chunk = 1)
           > 8 * 1024 * 1024 AS grew_over_8mb,
       max(capture) <= 1024 * 1024 AS capture_under_1mb
FROM readings GROUP BY bound ORDER BY bound DESC;

-- the bound's setting
SET seller_analytics.capture_memory = '32kB';
RESET seller_analytics.capture_memory;
SHOW seller_analytics.capture_memory;

TRUNCATE events;
