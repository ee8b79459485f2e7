/* control/seller_analytics--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.2'" to load this file. \quit

-------------------------------------------------------------------------------
-- Events, capture and real-time per-seller rollups (doc/ingestion.md)
--
--   events --capture trigger (per transaction)--> pending_deltas, recompute_marks
--          --compact()--> daily_metrics, daily_traffic
--   seller_daily_metrics, seller_daily_traffic = rollups + pending, live
-------------------------------------------------------------------------------

CREATE FUNCTION seller_analytics.local_day(timestamptz, text)
RETURNS date
AS 'MODULE_PATHNAME', 'seller_analytics_local_day'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION seller_analytics.local_day(timestamptz, text) IS
    'the calendar day of an instant in a time zone (IANA name), as the rollups count it';

CREATE FUNCTION seller_analytics.is_valid_time_zone(text)
RETURNS boolean
AS 'MODULE_PATHNAME', 'seller_analytics_is_valid_time_zone'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION seller_analytics.is_valid_time_zone(text) IS
    'whether local_day() and the sellers table accept the time zone name';

-- the sellers: dimension table, keyed by the marketplace's seller id

CREATE TABLE seller_analytics.sellers (
    seller_id       bigint PRIMARY KEY,
    name            text,
    category        text,
    region          text,
    product_type    text,
    time_zone       text NOT NULL DEFAULT 'UTC'
        CONSTRAINT sellers_time_zone_valid
        CHECK (seller_analytics.is_valid_time_zone(time_zone)),
    created_at      timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE seller_analytics.sellers IS
    'the sellers; time_zone decides which local day an event counts on';

-- the events: append-only, idempotent on (seller_id, event_id)

CREATE TABLE seller_analytics.events (
    seller_id       bigint NOT NULL
        REFERENCES seller_analytics.sellers (seller_id),
    event_id        text NOT NULL,
    event_type      text NOT NULL
        CONSTRAINT events_event_type_valid
        CHECK (event_type IN ('session_start', 'page_view', 'add_to_cart', 'order', 'refund')),
    occurred_at     timestamptz NOT NULL
        CONSTRAINT events_occurred_at_range
        CHECK (occurred_at >= '1900-01-01 00:00:00+00' AND occurred_at < '10000-01-01 00:00:00+00'),
    session_id      text,
    traffic_source  text
        CONSTRAINT events_traffic_source_valid
        CHECK (octet_length(traffic_source) BETWEEN 1 AND 64),
    amount          numeric(14,2)
        CONSTRAINT events_amount_valid CHECK (amount >= 0 AND amount <> 'NaN'),
    quantity        integer
        CONSTRAINT events_quantity_valid CHECK (quantity >= 0),
    PRIMARY KEY (seller_id, event_id),
    CONSTRAINT events_amount_required
        CHECK (amount IS NOT NULL OR event_type NOT IN ('order', 'refund'))
);

CREATE INDEX events_seller_time ON seller_analytics.events (seller_id, occurred_at);

COMMENT ON TABLE seller_analytics.events IS
    'raw marketplace events; load with INSERT ... ON CONFLICT DO NOTHING or COPY';

-- the materialized metrics: one row per seller and local day (and source)

-- compact() updates these rows in place: the room fillfactor leaves on
-- their pages lets the updates be HOT (no new index entries)
CREATE TABLE seller_analytics.daily_metrics (
    seller_id       bigint NOT NULL,
    day             date NOT NULL,
    sessions        bigint NOT NULL DEFAULT 0,
    page_views      bigint NOT NULL DEFAULT 0,
    add_to_carts    bigint NOT NULL DEFAULT 0,
    orders          bigint NOT NULL DEFAULT 0,
    units           bigint NOT NULL DEFAULT 0,
    revenue         numeric NOT NULL DEFAULT 0,
    refunds         bigint NOT NULL DEFAULT 0,
    refund_amount   numeric NOT NULL DEFAULT 0,
    order_value     seller_analytics.percentile_sketch,
    PRIMARY KEY (seller_id, day)
) WITH (fillfactor = 70);

COMMENT ON TABLE seller_analytics.daily_metrics IS
    'compacted daily metrics per seller (read seller_daily_metrics for live values)';

CREATE TABLE seller_analytics.daily_traffic (
    seller_id       bigint NOT NULL,
    day             date NOT NULL,
    traffic_source  text NOT NULL,
    sessions        bigint NOT NULL DEFAULT 0,
    page_views      bigint NOT NULL DEFAULT 0,
    orders          bigint NOT NULL DEFAULT 0,
    revenue         numeric NOT NULL DEFAULT 0,
    PRIMARY KEY (seller_id, day, traffic_source)
) WITH (fillfactor = 70);


COMMENT ON TABLE seller_analytics.daily_traffic IS
    'compacted daily metrics per seller and traffic source (read seller_daily_traffic for live values)';

-- what the capture trigger appends: one row per transaction and key

CREATE TABLE seller_analytics.pending_deltas (
    seller_id       bigint NOT NULL,
    day             date NOT NULL,
    traffic_source  text NOT NULL,
    sessions        bigint NOT NULL,
    page_views      bigint NOT NULL,
    add_to_carts    bigint NOT NULL,
    orders          bigint NOT NULL,
    units           bigint NOT NULL,
    revenue         numeric NOT NULL,
    refunds         bigint NOT NULL,
    refund_amount   numeric NOT NULL,
    order_value     seller_analytics.percentile_sketch
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000,
        autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 10000);

-- a queue: rows come and go all the time, so autovacuum visits it after
-- every 10 000 dead (or new) rows, whatever its size

CREATE INDEX pending_deltas_seller_day ON seller_analytics.pending_deltas (seller_id, day);

COMMENT ON TABLE seller_analytics.pending_deltas IS
    'signed per-transaction changes not yet folded into the metric tables by compact()';

CREATE TABLE seller_analytics.recompute_marks (
    seller_id       bigint NOT NULL,
    day             date NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

CREATE INDEX recompute_marks_seller_day ON seller_analytics.recompute_marks (seller_id, day);

COMMENT ON TABLE seller_analytics.recompute_marks IS
    'seller-days whose metrics are recomputed from raw events (an order was corrected, or the time zone changed)';

-- pg_dump keeps sellers and events (in foreign-key order); the metric
-- tables are derived: on restore, loading events through the capture
-- trigger fills pending_deltas again, and compact() folds them.
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.sellers', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.events', '');

-- capture

CREATE FUNCTION seller_analytics.capture_events()
RETURNS trigger
AS 'MODULE_PATHNAME', 'seller_analytics_capture_events'
LANGUAGE C;

COMMENT ON FUNCTION seller_analytics.capture_events() IS
    'row trigger: accumulates each transaction''s changes of events and appends them to pending_deltas at commit';

-- "capture" sorts after the foreign key's "RI_ConstraintTrigger_*": an event
-- of an unknown seller fails on the foreign key first
CREATE TRIGGER capture
    AFTER INSERT OR UPDATE OR DELETE ON seller_analytics.events
    FOR EACH ROW EXECUTE FUNCTION seller_analytics.capture_events();

CREATE FUNCTION seller_analytics.discard_captured_changes()
RETURNS void
AS 'MODULE_PATHNAME', 'seller_analytics_discard_captured_changes'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION seller_analytics.discard_captured_changes() IS
    'drops the changes of events the current transaction captured so far (TRUNCATE of events calls it)';

CREATE FUNCTION seller_analytics.events_truncated()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM seller_analytics.discard_captured_changes();
    TRUNCATE seller_analytics.daily_metrics, seller_analytics.daily_traffic,
             seller_analytics.pending_deltas, seller_analytics.recompute_marks;
    RETURN NULL;
END
$$;

CREATE TRIGGER truncate_rollups
    AFTER TRUNCATE ON seller_analytics.events
    FOR EACH STATEMENT EXECUTE FUNCTION seller_analytics.events_truncated();

-- A new time zone moves the seller's events to other days: wait for the
-- writers in flight (and keep new ones out until commit), then mark every
-- day of the seller's events, in the old and the new zone, for recomputation.
CREATE FUNCTION seller_analytics.seller_time_zone_changed()
RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    LOCK TABLE seller_analytics.events IN SHARE MODE;
    INSERT INTO seller_analytics.recompute_marks (seller_id, day)
    SELECT NEW.seller_id, d
    FROM (SELECT seller_analytics.local_day(e.occurred_at, OLD.time_zone) AS d
          FROM seller_analytics.events e WHERE e.seller_id = NEW.seller_id
          UNION
          SELECT seller_analytics.local_day(e.occurred_at, NEW.time_zone)
          FROM seller_analytics.events e WHERE e.seller_id = NEW.seller_id) days;
    RETURN NULL;
END
$$;

CREATE TRIGGER time_zone_changed
    AFTER UPDATE OF time_zone ON seller_analytics.sellers
    FOR EACH ROW WHEN (OLD.time_zone IS DISTINCT FROM NEW.time_zone)
    EXECUTE FUNCTION seller_analytics.seller_time_zone_changed();

-- The capture trigger caches sellers' time zones per backend; any change
-- that could make a cached zone wrong invalidates the caches.
CREATE FUNCTION seller_analytics.time_zones_changed()
RETURNS trigger
AS 'MODULE_PATHNAME', 'seller_analytics_time_zones_changed'
LANGUAGE C;

CREATE TRIGGER time_zones_changed
    AFTER UPDATE OF seller_id, time_zone OR DELETE ON seller_analytics.sellers
    FOR EACH STATEMENT EXECUTE FUNCTION seller_analytics.time_zones_changed();

-------------------------------------------------------------------------------
-- Recomputation from raw events
-------------------------------------------------------------------------------

-- every event with its seller's local day and what it adds to each metric
CREATE VIEW seller_analytics.event_facts AS
SELECT e.seller_id,
       seller_analytics.local_day(e.occurred_at, s.time_zone) AS day,
       coalesce(e.traffic_source, 'unknown') AS traffic_source,
       e.occurred_at,
       (e.event_type = 'session_start')::int AS sessions,
       (e.event_type = 'page_view')::int AS page_views,
       (e.event_type = 'add_to_cart')::int AS add_to_carts,
       (e.event_type = 'order')::int AS orders,
       CASE WHEN e.event_type = 'order' THEN coalesce(e.quantity, 1) ELSE 0 END AS units,
       CASE WHEN e.event_type = 'order' THEN e.amount ELSE 0 END AS revenue,
       (e.event_type = 'refund')::int AS refunds,
       CASE WHEN e.event_type = 'refund' THEN e.amount ELSE 0 END AS refund_amount,
       CASE WHEN e.event_type = 'order' THEN e.amount END AS order_amount
FROM seller_analytics.events e
JOIN seller_analytics.sellers s ON s.seller_id = e.seller_id;

COMMENT ON VIEW seller_analytics.event_facts IS
    'each event with its seller''s local day and its contribution to every metric';

-- recompute_seller_day(seller_id, day): one seller-day's metrics per
-- traffic source, from raw events.  An instant's local day lies within two
-- days of its UTC date in any zone the sellers table accepts, which bounds
-- the scan of events_seller_time.  PL/pgSQL, so that its plan is made once
-- per session and the views that use it stay cheap to plan.
CREATE FUNCTION seller_analytics.recompute_seller_day(p_seller_id bigint, p_day date)
RETURNS TABLE (traffic_source text, sessions bigint, page_views bigint,
               add_to_carts bigint, orders bigint, units bigint, revenue numeric,
               refunds bigint, refund_amount numeric,
               order_value seller_analytics.percentile_sketch)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    SELECT f.traffic_source,
           sum(f.sessions)::bigint, sum(f.page_views)::bigint,
           sum(f.add_to_carts)::bigint, sum(f.orders)::bigint,
           sum(f.units)::bigint, sum(f.revenue), sum(f.refunds)::bigint,
           sum(f.refund_amount), seller_analytics.percentile_agg(f.order_amount)
    FROM seller_analytics.event_facts f
    WHERE f.seller_id = p_seller_id
      AND f.occurred_at >= (p_day - 2)::timestamp AT TIME ZONE 'UTC'
      AND f.occurred_at < (p_day + 3)::timestamp AT TIME ZONE 'UTC'
      AND f.day = p_day
    GROUP BY f.traffic_source;
END
$$;

COMMENT ON FUNCTION seller_analytics.recompute_seller_day(bigint, date) IS
    'one seller-day''s metrics per traffic source, computed from raw events';

-- The metrics of the marked seller-days, per traffic source, from raw events.
CREATE VIEW seller_analytics.marked_recomputed AS
SELECT m.seller_id, m.day, r.traffic_source, r.sessions, r.page_views,
       r.add_to_carts, r.orders, r.units, r.revenue, r.refunds,
       r.refund_amount, r.order_value
FROM (SELECT DISTINCT seller_id, day FROM seller_analytics.recompute_marks) m
CROSS JOIN LATERAL seller_analytics.recompute_seller_day(m.seller_id, m.day) r;

-- recomputed_daily_metrics(from_day, to_day): the metric table's rows for
-- those days, computed from raw events alone
CREATE FUNCTION seller_analytics.recomputed_daily_metrics(from_day date, to_day date)
RETURNS TABLE (seller_id bigint, day date, sessions bigint, page_views bigint,
               add_to_carts bigint, orders bigint, units bigint, revenue numeric,
               refunds bigint, refund_amount numeric,
               order_value seller_analytics.percentile_sketch)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.seller_id, f.day,
           sum(f.sessions)::bigint, sum(f.page_views)::bigint,
           sum(f.add_to_carts)::bigint, sum(f.orders)::bigint,
           sum(f.units)::bigint, sum(f.revenue), sum(f.refunds)::bigint,
           sum(f.refund_amount), seller_analytics.percentile_agg(f.order_amount)
    FROM seller_analytics.event_facts f
    WHERE f.occurred_at >= (from_day - 2)::timestamp AT TIME ZONE 'UTC'
      AND f.occurred_at < (to_day + 3)::timestamp AT TIME ZONE 'UTC'
      AND f.day BETWEEN from_day AND to_day
    GROUP BY f.seller_id, f.day
$$;

CREATE FUNCTION seller_analytics.recomputed_daily_traffic(from_day date, to_day date)
RETURNS TABLE (seller_id bigint, day date, traffic_source text, sessions bigint,
               page_views bigint, orders bigint, revenue numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.seller_id, f.day, f.traffic_source,
           sum(f.sessions)::bigint, sum(f.page_views)::bigint,
           sum(f.orders)::bigint, sum(f.revenue)
    FROM seller_analytics.event_facts f
    WHERE f.occurred_at >= (from_day - 2)::timestamp AT TIME ZONE 'UTC'
      AND f.occurred_at < (to_day + 3)::timestamp AT TIME ZONE 'UTC'
      AND f.day BETWEEN from_day AND to_day
    GROUP BY f.seller_id, f.day, f.traffic_source
    HAVING sum(f.sessions) > 0 OR sum(f.page_views) > 0 OR sum(f.orders) > 0
$$;

-------------------------------------------------------------------------------
-- Live views: compacted rows plus pending changes; marked seller-days from
-- raw events
-------------------------------------------------------------------------------

-- per (seller, day, source): what is not compacted yet
CREATE VIEW seller_analytics.live_deltas AS
SELECT p.seller_id, p.day, p.traffic_source, p.sessions, p.page_views,
       p.add_to_carts, p.orders, p.units, p.revenue, p.refunds,
       p.refund_amount, p.order_value
FROM seller_analytics.pending_deltas p
WHERE NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                  WHERE m.seller_id = p.seller_id AND m.day = p.day)
UNION ALL
SELECT r.seller_id, r.day, r.traffic_source, r.sessions, r.page_views,
       r.add_to_carts, r.orders, r.units, r.revenue, r.refunds,
       r.refund_amount, r.order_value
FROM seller_analytics.marked_recomputed r;

CREATE VIEW seller_analytics.seller_daily_metrics AS
SELECT u.seller_id, u.day,
       sum(u.sessions)::bigint AS sessions,
       sum(u.page_views)::bigint AS page_views,
       sum(u.add_to_carts)::bigint AS add_to_carts,
       sum(u.orders)::bigint AS orders,
       sum(u.units)::bigint AS units,
       sum(u.revenue) AS revenue,
       sum(u.refunds)::bigint AS refunds,
       sum(u.refund_amount) AS refund_amount,
       seller_analytics.percentile_merge(u.order_value) AS order_value,
       sum(u.orders) / nullif(sum(u.sessions), 0)::numeric AS conversion_rate,
       sum(u.revenue) / nullif(sum(u.orders), 0) AS avg_order_value
FROM (SELECT d.seller_id, d.day, d.sessions, d.page_views, d.add_to_carts,
             d.orders, d.units, d.revenue, d.refunds, d.refund_amount,
             d.order_value
      FROM seller_analytics.daily_metrics d
      WHERE NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                        WHERE m.seller_id = d.seller_id AND m.day = d.day)
      UNION ALL
      SELECT l.seller_id, l.day, l.sessions, l.page_views, l.add_to_carts,
             l.orders, l.units, l.revenue, l.refunds, l.refund_amount,
             l.order_value
      FROM seller_analytics.live_deltas l) u
GROUP BY u.seller_id, u.day
HAVING sum(u.sessions) <> 0 OR sum(u.page_views) <> 0 OR sum(u.add_to_carts) <> 0
    OR sum(u.orders) <> 0 OR sum(u.refunds) <> 0;

COMMENT ON VIEW seller_analytics.seller_daily_metrics IS
    'daily metrics per seller, live: every committed event counts at once';

CREATE VIEW seller_analytics.seller_daily_traffic AS
SELECT u.seller_id, u.day, u.traffic_source,
       sum(u.sessions)::bigint AS sessions,
       sum(u.page_views)::bigint AS page_views,
       sum(u.orders)::bigint AS orders,
       sum(u.revenue) AS revenue,
       sum(u.orders) / nullif(sum(u.sessions), 0)::numeric AS conversion_rate,
       sum(u.revenue) / nullif(sum(u.orders), 0) AS avg_order_value
FROM (SELECT t.seller_id, t.day, t.traffic_source, t.sessions, t.page_views,
             t.orders, t.revenue
      FROM seller_analytics.daily_traffic t
      WHERE NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                        WHERE m.seller_id = t.seller_id AND m.day = t.day)
      UNION ALL
      SELECT l.seller_id, l.day, l.traffic_source, l.sessions, l.page_views,
             l.orders, l.revenue
      FROM seller_analytics.live_deltas l) u
GROUP BY u.seller_id, u.day, u.traffic_source
HAVING sum(u.sessions) <> 0 OR sum(u.page_views) <> 0 OR sum(u.orders) <> 0;

COMMENT ON VIEW seller_analytics.seller_daily_traffic IS
    'daily metrics per seller and traffic source, live: every committed event counts at once';

-------------------------------------------------------------------------------
-- Compaction, verification, rebuild
-------------------------------------------------------------------------------

CREATE FUNCTION seller_analytics.flush_captured_changes()
RETURNS bigint
AS 'MODULE_PATHNAME', 'seller_analytics_flush_captured_changes'
LANGUAGE C VOLATILE;

COMMENT ON FUNCTION seller_analytics.flush_captured_changes() IS
    'appends the changes of events this transaction has captured so far to pending_deltas now (compact() calls it)';

-- Compactions (and rebuilds) take this lock first, so they run one at a
-- time; it lets readers of the metric tables through.
CREATE FUNCTION seller_analytics.lock_rollups()
RETURNS void
LANGUAGE sql
AS $$
    LOCK TABLE seller_analytics.daily_metrics, seller_analytics.daily_traffic
        IN SHARE ROW EXCLUSIVE MODE;
$$;

CREATE FUNCTION seller_analytics.compact(
    OUT deltas bigint, OUT marks bigint,
    OUT metric_rows bigint, OUT traffic_rows bigint)
RETURNS record
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    empty_m_ids bigint[];
    empty_m_days date[];
    empty_t_ids bigint[];
    empty_t_days date[];
    empty_t_sources text[];
BEGIN
    -- This transaction's own changes of events, if any, become pending rows
    -- first, or the recomputation of a marked day would count them and the
    -- pending rows appended at commit would count them again.
    PERFORM seller_analytics.flush_captured_changes();
    PERFORM seller_analytics.lock_rollups();
    -- One statement, so one snapshot (taken after the lock, so it sees every
    -- earlier compaction): the pending rows and marks it removes are exactly
    -- the ones it folds, and the marked days are recomputed from the events
    -- that those pending rows came from.
    WITH taken AS (
        DELETE FROM seller_analytics.pending_deltas RETURNING *
    ), marked AS (
        DELETE FROM seller_analytics.recompute_marks RETURNING seller_id, day
    ), marked_days AS (
        SELECT DISTINCT seller_id, day FROM marked
    ), kept AS (
        SELECT t.* FROM taken t
        WHERE NOT EXISTS (SELECT 1 FROM marked_days m
                          WHERE m.seller_id = t.seller_id AND m.day = t.day)
    ), raw AS (
        SELECT * FROM seller_analytics.marked_recomputed
    ), add_m AS (
        INSERT INTO seller_analytics.daily_metrics AS d
        SELECT k.seller_id, k.day, sum(k.sessions), sum(k.page_views),
               sum(k.add_to_carts), sum(k.orders), sum(k.units), sum(k.revenue),
               sum(k.refunds), sum(k.refund_amount),
               seller_analytics.percentile_merge(k.order_value)
        FROM kept k
        GROUP BY k.seller_id, k.day
        ORDER BY k.seller_id, k.day
        ON CONFLICT (seller_id, day) DO UPDATE SET
            sessions = d.sessions + excluded.sessions,
            page_views = d.page_views + excluded.page_views,
            add_to_carts = d.add_to_carts + excluded.add_to_carts,
            orders = d.orders + excluded.orders,
            units = d.units + excluded.units,
            revenue = d.revenue + excluded.revenue,
            refunds = d.refunds + excluded.refunds,
            refund_amount = d.refund_amount + excluded.refund_amount,
            order_value = seller_analytics.sketch_merge(d.order_value, excluded.order_value)
        RETURNING d.*
    ), set_m AS (
        INSERT INTO seller_analytics.daily_metrics AS d
        SELECT m.seller_id, m.day, coalesce(r.sessions, 0), coalesce(r.page_views, 0),
               coalesce(r.add_to_carts, 0), coalesce(r.orders, 0), coalesce(r.units, 0),
               coalesce(r.revenue, 0), coalesce(r.refunds, 0),
               coalesce(r.refund_amount, 0), r.order_value
        FROM marked_days m
        LEFT JOIN (SELECT seller_id, day, sum(sessions) AS sessions,
                          sum(page_views) AS page_views, sum(add_to_carts) AS add_to_carts,
                          sum(orders) AS orders, sum(units) AS units, sum(revenue) AS revenue,
                          sum(refunds) AS refunds, sum(refund_amount) AS refund_amount,
                          seller_analytics.percentile_merge(order_value) AS order_value
                   FROM raw GROUP BY seller_id, day) r
          ON r.seller_id = m.seller_id AND r.day = m.day
        ORDER BY m.seller_id, m.day
        ON CONFLICT (seller_id, day) DO UPDATE SET
            sessions = excluded.sessions, page_views = excluded.page_views,
            add_to_carts = excluded.add_to_carts, orders = excluded.orders,
            units = excluded.units, revenue = excluded.revenue,
            refunds = excluded.refunds, refund_amount = excluded.refund_amount,
            order_value = excluded.order_value
        RETURNING d.*
    ), add_t AS (
        INSERT INTO seller_analytics.daily_traffic AS d
        SELECT k.seller_id, k.day, k.traffic_source, sum(k.sessions),
               sum(k.page_views), sum(k.orders), sum(k.revenue)
        FROM kept k
        GROUP BY k.seller_id, k.day, k.traffic_source
        HAVING sum(k.sessions) <> 0 OR sum(k.page_views) <> 0 OR sum(k.orders) <> 0
            OR sum(k.revenue) <> 0
        ORDER BY k.seller_id, k.day, k.traffic_source
        ON CONFLICT (seller_id, day, traffic_source) DO UPDATE SET
            sessions = d.sessions + excluded.sessions,
            page_views = d.page_views + excluded.page_views,
            orders = d.orders + excluded.orders,
            revenue = d.revenue + excluded.revenue
        RETURNING d.*
    ), set_t AS (
        INSERT INTO seller_analytics.daily_traffic AS d
        SELECT k.seller_id, k.day, k.traffic_source, coalesce(r.sessions, 0),
               coalesce(r.page_views, 0), coalesce(r.orders, 0), coalesce(r.revenue, 0)
        FROM (SELECT t.seller_id, t.day, t.traffic_source
              FROM seller_analytics.daily_traffic t
              JOIN marked_days m ON m.seller_id = t.seller_id AND m.day = t.day
              UNION
              SELECT seller_id, day, traffic_source FROM raw) k
        LEFT JOIN raw r ON r.seller_id = k.seller_id AND r.day = k.day
                       AND r.traffic_source = k.traffic_source
        ORDER BY k.seller_id, k.day, k.traffic_source
        ON CONFLICT (seller_id, day, traffic_source) DO UPDATE SET
            sessions = excluded.sessions, page_views = excluded.page_views,
            orders = excluded.orders, revenue = excluded.revenue
        RETURNING d.*
    ), m_rows AS (
        SELECT * FROM add_m UNION ALL SELECT * FROM set_m
    ), t_rows AS (
        SELECT * FROM add_t UNION ALL SELECT * FROM set_t
    ), empty_m AS (
        SELECT seller_id, day FROM m_rows
        WHERE sessions = 0 AND page_views = 0 AND add_to_carts = 0 AND orders = 0
          AND units = 0 AND revenue = 0 AND refunds = 0 AND refund_amount = 0
          AND order_value IS NULL
    ), empty_t AS (
        SELECT seller_id, day, traffic_source FROM t_rows
        WHERE sessions = 0 AND page_views = 0 AND orders = 0 AND revenue = 0
    )
    SELECT (SELECT count(*) FROM taken), (SELECT count(*) FROM marked),
           (SELECT count(*) FROM m_rows), (SELECT count(*) FROM t_rows),
           (SELECT array_agg(seller_id) FROM empty_m),
           (SELECT array_agg(day) FROM empty_m),
           (SELECT array_agg(seller_id) FROM empty_t),
           (SELECT array_agg(day) FROM empty_t),
           (SELECT array_agg(traffic_source) FROM empty_t)
    INTO deltas, marks, metric_rows, traffic_rows,
         empty_m_ids, empty_m_days, empty_t_ids, empty_t_days, empty_t_sources;

    -- Rows left with nothing in them (every event of that day was deleted)
    -- go.  Only compactions change these tables, and the lock is ours.
    IF empty_m_ids IS NOT NULL THEN
        DELETE FROM seller_analytics.daily_metrics d
        USING unnest(empty_m_ids, empty_m_days) AS e(seller_id, day)
        WHERE d.seller_id = e.seller_id AND d.day = e.day
          AND d.sessions = 0 AND d.page_views = 0 AND d.add_to_carts = 0
          AND d.orders = 0 AND d.units = 0 AND d.revenue = 0 AND d.refunds = 0
          AND d.refund_amount = 0 AND d.order_value IS NULL;
    END IF;
    IF empty_t_ids IS NOT NULL THEN
        DELETE FROM seller_analytics.daily_traffic d
        USING unnest(empty_t_ids, empty_t_days, empty_t_sources) AS e(seller_id, day, traffic_source)
        WHERE d.seller_id = e.seller_id AND d.day = e.day
          AND d.traffic_source = e.traffic_source
          AND d.sessions = 0 AND d.page_views = 0 AND d.orders = 0 AND d.revenue = 0;
    END IF;
END
$$;

COMMENT ON FUNCTION seller_analytics.compact() IS
    'folds pending changes into daily_metrics and daily_traffic; returns how many pending rows, marks and metric rows it folded';

-- rebuild_rollups(from_day, to_day): recompute those days of every seller
-- from raw events (marks them all, then compacts)
CREATE FUNCTION seller_analytics.rebuild_rollups(from_day date, to_day date,
    OUT deltas bigint, OUT marks bigint,
    OUT metric_rows bigint, OUT traffic_rows bigint)
RETURNS record
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF from_day IS NULL OR to_day IS NULL OR NOT isfinite(from_day) OR NOT isfinite(to_day) THEN
        RAISE EXCEPTION 'rebuild_rollups needs two finite days'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF from_day > to_day THEN
        RAISE EXCEPTION 'from_day % is after to_day %', from_day, to_day
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM seller_analytics.lock_rollups();
    INSERT INTO seller_analytics.recompute_marks (seller_id, day)
    SELECT seller_id, day FROM seller_analytics.daily_metrics
    WHERE day BETWEEN from_day AND to_day
    UNION
    SELECT seller_id, day FROM seller_analytics.daily_traffic
    WHERE day BETWEEN from_day AND to_day
    UNION
    SELECT seller_id, day FROM seller_analytics.pending_deltas
    WHERE day BETWEEN from_day AND to_day
    UNION
    SELECT seller_id, day FROM seller_analytics.recomputed_daily_metrics(from_day, to_day);
    SELECT c.deltas, c.marks, c.metric_rows, c.traffic_rows
    INTO deltas, marks, metric_rows, traffic_rows
    FROM seller_analytics.compact() c;
END
$$;

COMMENT ON FUNCTION seller_analytics.rebuild_rollups(date, date) IS
    'recomputes every seller''s metrics of those days from raw events, then compacts';

-- verify_rollups(from_day, to_day): one row per metric that differs between
-- the live views and a recomputation from raw events
CREATE FUNCTION seller_analytics.verify_rollups(from_day date, to_day date)
RETURNS TABLE (seller_id bigint, day date, traffic_source text, metric text,
               stored text, recomputed text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF from_day IS NULL OR to_day IS NULL OR NOT isfinite(from_day) OR NOT isfinite(to_day) THEN
        RAISE EXCEPTION 'verify_rollups needs two finite days'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF from_day > to_day THEN
        RAISE EXCEPTION 'from_day % is after to_day %', from_day, to_day
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH s AS (
        SELECT * FROM seller_analytics.seller_daily_metrics v
        WHERE v.day BETWEEN from_day AND to_day
    ), r AS (
        SELECT * FROM seller_analytics.recomputed_daily_metrics(from_day, to_day)
    )
    SELECT coalesce(s.seller_id, r.seller_id), coalesce(s.day, r.day), NULL::text,
           v.metric, v.stored, v.recomputed
    FROM s FULL JOIN r ON r.seller_id = s.seller_id AND r.day = s.day
    CROSS JOIN LATERAL (VALUES
        ('sessions', s.sessions::text, r.sessions::text, s.sessions IS DISTINCT FROM r.sessions),
        ('page_views', s.page_views::text, r.page_views::text, s.page_views IS DISTINCT FROM r.page_views),
        ('add_to_carts', s.add_to_carts::text, r.add_to_carts::text, s.add_to_carts IS DISTINCT FROM r.add_to_carts),
        ('orders', s.orders::text, r.orders::text, s.orders IS DISTINCT FROM r.orders),
        ('units', s.units::text, r.units::text, s.units IS DISTINCT FROM r.units),
        ('revenue', s.revenue::text, r.revenue::text, s.revenue IS DISTINCT FROM r.revenue),
        ('refunds', s.refunds::text, r.refunds::text, s.refunds IS DISTINCT FROM r.refunds),
        ('refund_amount', s.refund_amount::text, r.refund_amount::text,
         s.refund_amount IS DISTINCT FROM r.refund_amount),
        ('order_value', s.order_value::text, r.order_value::text,
         seller_analytics.percentile_sketch_send(s.order_value)
           IS DISTINCT FROM seller_analytics.percentile_sketch_send(r.order_value))
    ) AS v(metric, stored, recomputed, differs)
    WHERE v.differs;

    RETURN QUERY
    WITH s AS (
        SELECT * FROM seller_analytics.seller_daily_traffic v
        WHERE v.day BETWEEN from_day AND to_day
    ), r AS (
        SELECT * FROM seller_analytics.recomputed_daily_traffic(from_day, to_day)
    )
    SELECT coalesce(s.seller_id, r.seller_id), coalesce(s.day, r.day),
           coalesce(s.traffic_source, r.traffic_source),
           v.metric, v.stored, v.recomputed
    FROM s FULL JOIN r ON r.seller_id = s.seller_id AND r.day = s.day
                      AND r.traffic_source = s.traffic_source
    CROSS JOIN LATERAL (VALUES
        ('sessions', s.sessions::text, r.sessions::text, s.sessions IS DISTINCT FROM r.sessions),
        ('page_views', s.page_views::text, r.page_views::text, s.page_views IS DISTINCT FROM r.page_views),
        ('orders', s.orders::text, r.orders::text, s.orders IS DISTINCT FROM r.orders),
        ('revenue', s.revenue::text, r.revenue::text, s.revenue IS DISTINCT FROM r.revenue)
    ) AS v(metric, stored, recomputed, differs)
    WHERE v.differs;
END
$$;

COMMENT ON FUNCTION seller_analytics.verify_rollups(date, date) IS
    'one row per metric of those days that differs between the live views and a recomputation from raw events (traffic_source NULL: seller_daily_metrics)';

-------------------------------------------------------------------------------
-- Jobs
-------------------------------------------------------------------------------

CREATE FUNCTION seller_analytics.schedule_jobs(compact_schedule text DEFAULT '* * * * *')
RETURNS TABLE (jobname text, schedule text, command text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('Add pg_cron to shared_preload_libraries, set cron.database_name = %L, '
                                'restart the server, run CREATE EXTENSION pg_cron and call '
                                'seller_analytics.schedule_jobs() again.  Without pg_cron, run '
                                '"SELECT seller_analytics.compact()" every minute from any scheduler.',
                                current_database());
    END IF;
    PERFORM cron.schedule('seller_analytics_compact', compact_schedule,
                          'SELECT seller_analytics.compact()');
    RETURN QUERY
    SELECT j.jobname::text, j.schedule::text, j.command::text
    FROM cron.job j
    WHERE j.jobname LIKE 'seller\_analytics\_%'
    ORDER BY j.jobname;
END
$$;

COMMENT ON FUNCTION seller_analytics.schedule_jobs(text) IS
    'schedules the extension''s periodic jobs with pg_cron (compaction: every minute by default) and lists them';

CREATE FUNCTION seller_analytics.unschedule_jobs()
RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    job text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RETURN;
    END IF;
    FOR job IN SELECT j.jobname FROM cron.job j
               WHERE j.jobname LIKE 'seller\_analytics\_%' ORDER BY j.jobname
    LOOP
        PERFORM cron.unschedule(job);
        RETURN NEXT job;
    END LOOP;
END
$$;

COMMENT ON FUNCTION seller_analytics.unschedule_jobs() IS
    'removes the extension''s pg_cron jobs and lists the ones it removed';
