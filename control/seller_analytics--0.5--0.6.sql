/* control/seller_analytics--0.5--0.6.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.6'" to load this file. \quit

-------------------------------------------------------------------------------
-- issue 12: serving through a transaction pooler; the live read
-------------------------------------------------------------------------------

-- The live read.  A settled seller-day (nothing pending, no recompute mark)
-- is read as its compacted row; only the unsettled ones are computed as
-- before (rollup plus pending deltas, or a recomputation from raw events).
-- So the views plan and run as a scan of the rollup table with a per-row
-- filter, beside a set-returning function that returns at once when the
-- reader has nothing pending (src/live.c; doc/ingestion.md, "Reading live").

CREATE FUNCTION seller_analytics.pending_day(seller_id bigint, day date)
RETURNS boolean
AS 'MODULE_PATHNAME', 'seller_analytics_pending_day'
LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.pending_day(bigint, date) IS
    'whether the seller-day has changes not compacted yet (pending deltas or a recompute mark) that the caller can see';

CREATE FUNCTION seller_analytics.any_pending_day()
RETURNS boolean
AS 'MODULE_PATHNAME', 'seller_analytics_any_pending_day'
LANGUAGE C STABLE PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.any_pending_day() IS
    'whether any seller-day that the caller can see has changes not compacted yet';

-- the live rows of the unsettled seller-days: what the views computed for
-- every seller-day before 0.6.  PL/pgSQL, so that it is planned once per
-- session and never inlined into the reader's query; no SET clause, whose
-- cost every dashboard would pay (every name in it is qualified, and it
-- runs as its caller).
CREATE FUNCTION seller_analytics.pending_daily_metrics()
RETURNS TABLE (seller_id bigint, day date, sessions bigint, page_views bigint,
               add_to_carts bigint, orders bigint, units bigint, revenue numeric,
               refunds bigint, refund_amount numeric,
               order_value seller_analytics.percentile_sketch,
               conversion_rate numeric, avg_order_value numeric)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED ROWS 10
AS $$
BEGIN
    -- the common case, in a seller's dashboard: nothing is pending
    IF NOT seller_analytics.any_pending_day() THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT u.seller_id, u.day,
           sum(u.sessions)::bigint, sum(u.page_views)::bigint,
           sum(u.add_to_carts)::bigint, sum(u.orders)::bigint,
           sum(u.units)::bigint, sum(u.revenue), sum(u.refunds)::bigint,
           sum(u.refund_amount), seller_analytics.percentile_merge(u.order_value),
           sum(u.orders) / nullif(sum(u.sessions), 0)::numeric,
           sum(u.revenue) / nullif(sum(u.orders), 0)
    FROM (SELECT d.seller_id, d.day, d.sessions, d.page_views, d.add_to_carts,
                 d.orders, d.units, d.revenue, d.refunds, d.refund_amount,
                 d.order_value
          FROM seller_analytics.daily_metrics d
          WHERE EXISTS (SELECT 1 FROM seller_analytics.pending_deltas p
                        WHERE p.seller_id = d.seller_id AND p.day = d.day)
            AND NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                            WHERE m.seller_id = d.seller_id AND m.day = d.day)
          UNION ALL
          SELECT l.seller_id, l.day, l.sessions, l.page_views, l.add_to_carts,
                 l.orders, l.units, l.revenue, l.refunds, l.refund_amount,
                 l.order_value
          FROM seller_analytics.live_deltas l) u
    GROUP BY u.seller_id, u.day
    HAVING sum(u.sessions) <> 0 OR sum(u.page_views) <> 0 OR sum(u.add_to_carts) <> 0
        OR sum(u.orders) <> 0 OR sum(u.refunds) <> 0;
END
$$;

COMMENT ON FUNCTION seller_analytics.pending_daily_metrics() IS
    'seller_daily_metrics'' rows of the seller-days with changes not compacted yet';

CREATE FUNCTION seller_analytics.pending_daily_traffic()
RETURNS TABLE (seller_id bigint, day date, traffic_source text, sessions bigint,
               page_views bigint, orders bigint, revenue numeric,
               conversion_rate numeric, avg_order_value numeric)
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED ROWS 10
AS $$
BEGIN
    -- the common case, in a seller's dashboard: nothing is pending
    IF NOT seller_analytics.any_pending_day() THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT u.seller_id, u.day, u.traffic_source,
           sum(u.sessions)::bigint, sum(u.page_views)::bigint,
           sum(u.orders)::bigint, sum(u.revenue),
           sum(u.orders) / nullif(sum(u.sessions), 0)::numeric,
           sum(u.revenue) / nullif(sum(u.orders), 0)
    FROM (SELECT t.seller_id, t.day, t.traffic_source, t.sessions, t.page_views,
                 t.orders, t.revenue
          FROM seller_analytics.daily_traffic t
          WHERE EXISTS (SELECT 1 FROM seller_analytics.pending_deltas p
                        WHERE p.seller_id = t.seller_id AND p.day = t.day)
            AND NOT EXISTS (SELECT 1 FROM seller_analytics.recompute_marks m
                            WHERE m.seller_id = t.seller_id AND m.day = t.day)
          UNION ALL
          SELECT l.seller_id, l.day, l.traffic_source, l.sessions, l.page_views,
                 l.orders, l.revenue
          FROM seller_analytics.live_deltas l) u
    GROUP BY u.seller_id, u.day, u.traffic_source
    HAVING sum(u.sessions) <> 0 OR sum(u.page_views) <> 0 OR sum(u.orders) <> 0;
END
$$;

COMMENT ON FUNCTION seller_analytics.pending_daily_traffic() IS
    'seller_daily_traffic''s rows of the seller-days with changes not compacted yet';

CREATE OR REPLACE VIEW seller_analytics.seller_daily_metrics
    WITH (security_invoker = true) AS
SELECT d.seller_id, d.day, d.sessions, d.page_views, d.add_to_carts,
       d.orders, d.units, d.revenue, d.refunds, d.refund_amount, d.order_value,
       d.orders / nullif(d.sessions, 0)::numeric AS conversion_rate,
       d.revenue / nullif(d.orders, 0)::numeric AS avg_order_value
FROM seller_analytics.daily_metrics d
WHERE (d.sessions <> 0 OR d.page_views <> 0 OR d.add_to_carts <> 0
       OR d.orders <> 0 OR d.refunds <> 0)
  AND NOT seller_analytics.pending_day(d.seller_id, d.day)
UNION ALL
SELECT p.seller_id, p.day, p.sessions, p.page_views, p.add_to_carts,
       p.orders, p.units, p.revenue, p.refunds, p.refund_amount, p.order_value,
       p.conversion_rate, p.avg_order_value
FROM seller_analytics.pending_daily_metrics() p;

CREATE OR REPLACE VIEW seller_analytics.seller_daily_traffic
    WITH (security_invoker = true) AS
SELECT t.seller_id, t.day, t.traffic_source, t.sessions, t.page_views,
       t.orders, t.revenue,
       t.orders / nullif(t.sessions, 0)::numeric AS conversion_rate,
       t.revenue / nullif(t.orders, 0)::numeric AS avg_order_value
FROM seller_analytics.daily_traffic t
WHERE (t.sessions <> 0 OR t.page_views <> 0 OR t.orders <> 0)
  AND NOT seller_analytics.pending_day(t.seller_id, t.day)
UNION ALL
SELECT p.seller_id, p.day, p.traffic_source, p.sessions, p.page_views,
       p.orders, p.revenue, p.conversion_rate, p.avg_order_value
FROM seller_analytics.pending_daily_traffic() p;

ALTER FUNCTION seller_analytics.pending_day(bigint, date) OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.any_pending_day() OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.pending_daily_metrics() OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.pending_daily_traffic() OWNER TO seller_analytics_owner;

-- the views' readers call them as themselves; everyone else may not
REVOKE EXECUTE ON FUNCTION seller_analytics.pending_day(bigint, date),
                           seller_analytics.any_pending_day(),
                           seller_analytics.pending_daily_metrics(),
                           seller_analytics.pending_daily_traffic()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION seller_analytics.pending_day(bigint, date),
                          seller_analytics.any_pending_day(),
                          seller_analytics.pending_daily_metrics(),
                          seller_analytics.pending_daily_traffic()
TO seller_analytics_app, seller_analytics_seller;

-- (end of section: issue 12)


-------------------------------------------------------------------------------
-- issue 13: ledger and aggregate defects
-------------------------------------------------------------------------------

-- The ledger survives every kind of restore (doc/privacy_budget.md).
--
-- Until 0.5, privacy_ledger and privacy_budget_grants referenced
-- privacy_budgets by foreign key.  All three are configuration tables
-- (pg_extension_config_dump): CREATE EXTENSION makes them, constraints
-- included, before pg_restore loads their rows, as separate data items.
-- pg_dump writes the budgets' data first, so a serial restore works, but a
-- parallel one (pg_restore -j) loads the three tables concurrently: the
-- ledger's COPY could run before the budgets' COPY had committed, fail on
-- the foreign key, and leave an empty ledger.  No constraint between the
-- tables can hold during such a load, whatever it is, so there is none:
--
--   * a ledger row and a grant still name an existing budget.  The debit
--     (src/dp_budget.c) locks every budget it spends from before it writes
--     a ledger row, and budgets are never deleted or renamed (spend_only);
--     grant_privacy_budget checks the budget first; and the owner's own
--     INSERTs meet the owner_all policies' WITH CHECK below.  A restore
--     runs as a superuser (a role subject to row-level security cannot
--     restore these tables at all: pg_restore turns row_security off), to
--     which policies do not apply: the order of its loads does not matter.
--   * a budget's spent total stays in its own row (privacy_budgets
--     .spent_units), written in the debit's transaction together with the
--     ledger rows, not derived from the ledger: whatever part of a restore
--     fails, a budget that was restored carries what was spent from it, so
--     no failure leaves a budget looking unspent.  A ledger restored without
--     its budgets spends nothing (a debit needs the budget), and
--     create_privacy_budget refuses a name that the ledger already holds
--     debits for, so that such history cannot be covered by a new, whole
--     budget.
--   * append-only and no overspend are unchanged: the triggers stay, and a
--     debit still locks the budgets' rows, checks the room in each and then
--     adds to spent_units and appends to the ledger, in one transaction.
ALTER TABLE seller_analytics.privacy_ledger DROP CONSTRAINT privacy_ledger_budget_fkey;
ALTER TABLE seller_analytics.privacy_budget_grants DROP CONSTRAINT privacy_budget_grants_budget_fkey;

ALTER POLICY owner_all ON seller_analytics.privacy_ledger
    WITH CHECK (EXISTS (SELECT 1 FROM seller_analytics.privacy_budgets b
                        WHERE b.name OPERATOR(pg_catalog.=) privacy_ledger.budget));
ALTER POLICY owner_all ON seller_analytics.privacy_budget_grants
    WITH CHECK (EXISTS (SELECT 1 FROM seller_analytics.privacy_budgets b
                        WHERE b.name OPERATOR(pg_catalog.=) privacy_budget_grants.budget));

COMMENT ON TABLE seller_analytics.privacy_ledger IS
    'every debit of a privacy budget, one row per budget (append-only): units of 1e-9 epsilon, the epsilon asked for, current_user and session_user of the spender and its backend; each budget''s units add up to its spent_units';

CREATE OR REPLACE FUNCTION seller_analytics.create_privacy_budget(name text, epsilon double precision)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF name IS NULL OR epsilon IS NULL THEN
        RAISE EXCEPTION 'create_privacy_budget needs a name and an epsilon'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF name !~ '^[^,[:space:]]([^,]*[^,[:space:]])?$' OR octet_length(name) > 200 THEN
        RAISE EXCEPTION 'invalid privacy budget name "%"', name
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A name has at most 200 bytes, no comma, and no white space at either end.';
    END IF;
    -- debits without their budget: a restore that lost privacy_budgets
    -- but not the ledger; a new budget of that name would look unspent
    IF EXISTS (SELECT 1 FROM seller_analytics.privacy_ledger l
               WHERE l.budget OPERATOR(pg_catalog.=) create_privacy_budget.name)
       AND NOT EXISTS (SELECT 1 FROM seller_analytics.privacy_budgets b
                       WHERE b.name OPERATOR(pg_catalog.=) create_privacy_budget.name) THEN
        RAISE EXCEPTION 'privacy budget "%" has debits in the ledger', name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'The ledger holds debits from a budget of this name, but the budget itself is missing: privacy_budgets was not restored with the ledger.',
                  HINT = 'Restore privacy_budgets from the same dump as privacy_ledger, or choose another name.';
    END IF;
    INSERT INTO seller_analytics.privacy_budgets AS b (name, total_units)
    VALUES (create_privacy_budget.name,
            seller_analytics.privacy_epsilon_units(create_privacy_budget.epsilon, false));
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'privacy budget "%" already exists', name
            USING ERRCODE = 'duplicate_object';
END
$$;

COMMENT ON FUNCTION seller_analytics.create_privacy_budget(text, double precision) IS
    'creates a privacy budget of epsilon (rounded down to units of 1e-9); refuses a name the ledger holds debits for without its budget';

-- (end of section: issue 13, ledger and aggregate defects)


-------------------------------------------------------------------------------
-- issue 13: cohort benchmarks
-------------------------------------------------------------------------------

-- (end of section: issue 13, cohort benchmarks)


-------------------------------------------------------------------------------
-- issue 14: ingestion
-------------------------------------------------------------------------------

-- The capture trigger's memory is bounded (seller_analytics.capture_memory,
-- defined by the module): past it, a transaction's captured changes go to
-- pending_deltas at once, in chunks, rather than all at commit.
COMMENT ON FUNCTION seller_analytics.capture_events() IS
    'row trigger: accumulates each transaction''s changes of events and appends them to pending_deltas at commit, or earlier in chunks once they pass seller_analytics.capture_memory';

-- (end of section: issue 14)
