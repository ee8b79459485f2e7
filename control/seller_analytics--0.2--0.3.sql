/* control/seller_analytics--0.2--0.3.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.3'" to load this file. \quit

-------------------------------------------------------------------------------
-- Seller isolation: roles, tenant context and row-level security
-- (doc/security.md)
--
--   seller_analytics_owner     NOLOGIN; owns every object; DBAs are members
--   seller_analytics_ingest    inserts events for any seller, reads none
--   seller_analytics_app       the application's pool: reads the rows of the
--                              seller its tenant setting names
--   seller_analytics_seller    sellers' own login roles (assign_seller_role):
--                              read their seller's rows
--   seller_analytics_analyst   no seller's rows
--   seller_analytics_jobs      what the pg_cron jobs run as: compaction
--
-- Every table that holds a seller's data has row-level security enabled and
-- forced, and denies by default; the views are security_invoker, so the
-- policies of whoever reads them apply.
-------------------------------------------------------------------------------

-- The roles are shared by every database of the cluster: created when they
-- do not exist, refused when one exists with powers that would undo the
-- isolation.  DROP EXTENSION leaves them.
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT v.rolname
             FROM (VALUES ('seller_analytics_owner'), ('seller_analytics_ingest'),
                          ('seller_analytics_app'), ('seller_analytics_seller'),
                          ('seller_analytics_analyst'), ('seller_analytics_jobs')) v(rolname)
             WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles a
                               WHERE a.rolname OPERATOR(pg_catalog.=) v.rolname)
    LOOP
        EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN NOINHERIT NOBYPASSRLS', r.rolname);
    END LOOP;
    FOR r IN SELECT a.rolname, a.rolsuper, a.rolbypassrls, a.rolcanlogin
             FROM pg_catalog.pg_roles a
             WHERE a.rolname OPERATOR(pg_catalog.~) '^seller_analytics_(owner|ingest|app|seller|analyst|jobs)$'
    LOOP
        IF r.rolsuper OR r.rolbypassrls THEN
            RAISE EXCEPTION 'role "%" bypasses row-level security', r.rolname
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = pg_catalog.format('Run ALTER ROLE %I NOSUPERUSER NOBYPASSRLS, then try again.',
                                               r.rolname);
        END IF;
        IF r.rolcanlogin AND r.rolname OPERATOR(pg_catalog.=) 'seller_analytics_owner' THEN
            RAISE EXCEPTION 'role "seller_analytics_owner" can log in'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'The owner of the extension''s objects is a group role: run ALTER ROLE seller_analytics_owner NOLOGIN and grant it to the DBAs.';
        END IF;
    END LOOP;
END
$$;

-- NOINHERIT above keeps the group roles from inheriting each other's rights
-- should anyone make one a member of another; the owner may grant the
-- seller role (assign_seller_role()).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m
                   WHERE m.roleid OPERATOR(pg_catalog.=) 'seller_analytics_seller'::pg_catalog.regrole
                     AND m.member OPERATOR(pg_catalog.=) 'seller_analytics_owner'::pg_catalog.regrole
                     AND m.admin_option) THEN
        GRANT seller_analytics_seller TO seller_analytics_owner WITH ADMIN OPTION;
    END IF;
END
$$;

-------------------------------------------------------------------------------
-- Login roles of sellers
-------------------------------------------------------------------------------

CREATE TABLE seller_analytics.seller_roles (
    role            regrole PRIMARY KEY,
    role_name       name NOT NULL,
    seller_id       bigint NOT NULL
        REFERENCES seller_analytics.sellers (seller_id) ON DELETE CASCADE,
    assigned_at     timestamptz NOT NULL DEFAULT pg_catalog.now()
);

CREATE INDEX seller_roles_seller ON seller_analytics.seller_roles (seller_id);

COMMENT ON TABLE seller_analytics.seller_roles IS
    'login roles mapped to one seller each (assign_seller_role); a row counts while role_name is the role''s name';

SELECT pg_catalog.pg_extension_config_dump('seller_analytics.seller_roles', '');

CREATE FUNCTION seller_analytics.invalidate_caches()
RETURNS trigger
AS 'MODULE_PATHNAME', 'seller_analytics_invalidate_caches'
LANGUAGE C;

COMMENT ON FUNCTION seller_analytics.invalidate_caches() IS
    'statement trigger: every backend forgets what it cached from the table (the seller of a login role)';

CREATE TRIGGER seller_roles_changed
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON seller_analytics.seller_roles
    FOR EACH STATEMENT EXECUTE FUNCTION seller_analytics.invalidate_caches();

CREATE FUNCTION seller_analytics.current_seller_id()
RETURNS bigint
AS 'MODULE_PATHNAME', 'seller_analytics_current_seller_id'
LANGUAGE C STABLE PARALLEL SAFE;

COMMENT ON FUNCTION seller_analytics.current_seller_id() IS
    'the seller of this session: the mapping of session_user, else seller_analytics.seller_id for members of seller_analytics_app, else NULL (no rows)';

CREATE FUNCTION seller_analytics.assign_seller_role(role_name name, seller_id bigint)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    mapped bigint;
    privileged text;
BEGIN
    IF role_name IS NULL OR seller_id IS NULL THEN
        RAISE EXCEPTION 'assign_seller_role needs a role name and a seller id'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.oid, a.rolname, a.rolsuper, a.rolbypassrls, a.rolcanlogin, a.rolcreaterole,
           a.rolreplication INTO r
    FROM pg_roles a WHERE a.rolname = assign_seller_role.role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object',
                  HINT = 'Create the login role first: CREATE ROLE ... LOGIN PASSWORD ...';
    END IF;
    IF r.rolname ~ '^seller_analytics_' THEN
        RAISE EXCEPTION 'role "%" is one of the extension''s group roles', r.rolname
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT r.rolcanlogin THEN
        RAISE EXCEPTION 'role "%" cannot log in', r.rolname
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A seller''s role is a login role of its own: ALTER ROLE ... LOGIN.';
    END IF;
    IF r.rolsuper OR r.rolbypassrls THEN
        RAISE EXCEPTION 'role "%" bypasses row-level security', r.rolname
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It would see every seller''s rows.';
    END IF;
    -- CREATEROLE could grant itself seller_analytics_owner; REPLICATION
    -- streams every page of the database
    IF r.rolcreaterole OR r.rolreplication THEN
        RAISE EXCEPTION 'role "%" has %', r.rolname,
                        CASE WHEN r.rolcreaterole THEN 'CREATEROLE' ELSE 'REPLICATION' END
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'It could reach every seller''s rows.';
    END IF;
    -- a member of another group role would get that role's policies too;
    -- the server-file roles read the data files themselves
    SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) INTO privileged
    FROM pg_roles g
    WHERE g.rolname IN ('seller_analytics_owner', 'seller_analytics_ingest',
                        'seller_analytics_app', 'seller_analytics_analyst',
                        'seller_analytics_jobs', 'pg_read_server_files',
                        'pg_write_server_files', 'pg_execute_server_program')
      AND pg_has_role(r.oid, g.oid, 'MEMBER');
    IF privileged IS NOT NULL THEN
        RAISE EXCEPTION 'role "%" is a member of %', r.rolname, privileged
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'A seller''s role may belong to seller_analytics_seller only.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM seller_analytics.sellers s
                   WHERE s.seller_id = assign_seller_role.seller_id) THEN
        RAISE EXCEPTION 'seller % does not exist', seller_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    SELECT m.seller_id INTO mapped FROM seller_analytics.seller_roles m
    WHERE m.role = r.oid::regrole FOR UPDATE;
    IF FOUND AND mapped <> assign_seller_role.seller_id THEN
        RAISE EXCEPTION 'role "%" is assigned to seller %', r.rolname, mapped
            USING ERRCODE = 'unique_violation',
                  HINT = 'Call seller_analytics.revoke_seller_role() first.';
    END IF;
    INSERT INTO seller_analytics.seller_roles AS m (role, role_name, seller_id)
    VALUES (r.oid::regrole, r.rolname, assign_seller_role.seller_id)
    ON CONFLICT (role) DO UPDATE SET role_name = excluded.role_name;
    IF NOT pg_has_role(r.oid, 'seller_analytics_seller', 'MEMBER') THEN
        EXECUTE format('GRANT seller_analytics_seller TO %I', r.rolname);
    END IF;
END
$$;

COMMENT ON FUNCTION seller_analytics.assign_seller_role(name, bigint) IS
    'maps a login role to one seller: connected as that role, one sees that seller''s rows and no other''s';

CREATE FUNCTION seller_analytics.revoke_seller_role(role_name name)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m record;
    removed int := 0;
    current_name name;
BEGIN
    -- by the name it was assigned under, or by the role that has the name now
    FOR m IN DELETE FROM seller_analytics.seller_roles s
             WHERE s.role_name = revoke_seller_role.role_name
                OR s.role::oid = (SELECT a.oid FROM pg_roles a
                                  WHERE a.rolname = revoke_seller_role.role_name)
             RETURNING s.role::oid AS oid
    LOOP
        removed := removed + 1;
        SELECT a.rolname INTO current_name FROM pg_roles a WHERE a.oid = m.oid;
        IF FOUND AND EXISTS (SELECT 1 FROM pg_auth_members am
                             WHERE am.member = m.oid
                               AND am.roleid = 'seller_analytics_seller'::regrole) THEN
            EXECUTE format('REVOKE seller_analytics_seller FROM %I', current_name);
        END IF;
    END LOOP;
    IF removed = 0 THEN
        RAISE EXCEPTION 'role "%" is not assigned to a seller', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;

COMMENT ON FUNCTION seller_analytics.revoke_seller_role(name) IS
    'undoes assign_seller_role: the role sees no seller''s rows any more';

-------------------------------------------------------------------------------
-- Loading with COPY
--
-- COPY FROM refuses a table under row-level security for anyone it applies
-- to, the ingest role included.  event_intake takes COPY (and INSERT) in its
-- place: each row goes into events as INSERT ... ON CONFLICT DO NOTHING, so
-- a replayed file counts once instead of failing on the first duplicate.
-------------------------------------------------------------------------------

CREATE VIEW seller_analytics.event_intake WITH (security_invoker = true) AS
SELECT e.seller_id, e.event_id, e.event_type, e.occurred_at, e.session_id,
       e.traffic_source, e.amount, e.quantity
FROM seller_analytics.events e
WHERE false;

COMMENT ON VIEW seller_analytics.event_intake IS
    'COPY or INSERT events here: each row is inserted into events, a duplicate (seller_id, event_id) skipped; reads nothing';

CREATE FUNCTION seller_analytics.event_intake_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at,
                                         session_id, traffic_source, amount, quantity)
    VALUES (NEW.seller_id, NEW.event_id, NEW.event_type, NEW.occurred_at,
            NEW.session_id, NEW.traffic_source, NEW.amount, NEW.quantity)
    ON CONFLICT DO NOTHING;
    -- a duplicate is not counted in INSERT's row count (COPY counts every
    -- row it reads)
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;

COMMENT ON FUNCTION seller_analytics.event_intake_insert() IS
    'INSTEAD OF trigger of event_intake: inserts the row into events unless it is there already';

CREATE TRIGGER intake
    INSTEAD OF INSERT ON seller_analytics.event_intake
    FOR EACH ROW EXECUTE FUNCTION seller_analytics.event_intake_insert();

-------------------------------------------------------------------------------
-- Jobs run as seller_analytics_jobs
-------------------------------------------------------------------------------

DROP FUNCTION seller_analytics.schedule_jobs(text);

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
    -- pg_cron runs a job as the role that scheduled it; the job takes on
    -- the jobs role at once, so it can do what compaction needs and no more
    IF NOT pg_has_role(current_user, 'seller_analytics_jobs', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" cannot run jobs as seller_analytics_jobs', current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('GRANT seller_analytics_jobs TO %I, or schedule as a superuser.',
                                current_user);
    END IF;
    PERFORM cron.schedule('seller_analytics_compact', compact_schedule,
                          'SET ROLE seller_analytics_jobs; SELECT seller_analytics.compact()');
    RETURN QUERY
    SELECT j.jobname::text, j.schedule::text, j.command::text
    FROM cron.job j
    WHERE j.jobname LIKE 'seller\_analytics\_%'
    ORDER BY j.jobname;
END
$$;

COMMENT ON FUNCTION seller_analytics.schedule_jobs(text) IS
    'schedules the extension''s periodic jobs with pg_cron (compaction: every minute by default, as seller_analytics_jobs) and lists them';

-- compaction and its kin read and write every seller's rows: they run as
-- the owner, whose policies let everything through, for whoever may call them
ALTER FUNCTION seller_analytics.compact() SECURITY DEFINER;
ALTER FUNCTION seller_analytics.rebuild_rollups(date, date) SECURITY DEFINER;
ALTER FUNCTION seller_analytics.verify_rollups(date, date) SECURITY DEFINER;

-------------------------------------------------------------------------------
-- recompute_seller_day reads the seller's time zone once
--
-- Through event_facts it joined sellers for every event; with few sellers
-- the cached generic plan scanned sellers once per event (23 ms for a day of
-- 500 events).  The live views call it for every corrected seller-day.
-- (CREATE OR REPLACE of the extension's own function: PostgreSQL refuses
-- to replace a function that is not a member of the extension.)
-------------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION seller_analytics.recompute_seller_day(p_seller_id bigint, p_day date)
RETURNS TABLE (traffic_source text, sessions bigint, page_views bigint,
               add_to_carts bigint, orders bigint, units bigint, revenue numeric,
               refunds bigint, refund_amount numeric,
               order_value seller_analytics.percentile_sketch)
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tz text;
BEGIN
    SELECT s.time_zone INTO tz FROM seller_analytics.sellers s WHERE s.seller_id = p_seller_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT coalesce(e.traffic_source, 'unknown'),
           count(*) FILTER (WHERE e.event_type = 'session_start'),
           count(*) FILTER (WHERE e.event_type = 'page_view'),
           count(*) FILTER (WHERE e.event_type = 'add_to_cart'),
           count(*) FILTER (WHERE e.event_type = 'order'),
           coalesce(sum(coalesce(e.quantity, 1)) FILTER (WHERE e.event_type = 'order'), 0)::bigint,
           coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'order'), 0),
           count(*) FILTER (WHERE e.event_type = 'refund'),
           coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'refund'), 0),
           seller_analytics.percentile_agg(e.amount) FILTER (WHERE e.event_type = 'order')
    FROM seller_analytics.events e
    WHERE e.seller_id = p_seller_id
      AND e.occurred_at >= (p_day - 2)::timestamp AT TIME ZONE 'UTC'
      AND e.occurred_at < (p_day + 3)::timestamp AT TIME ZONE 'UTC'
      AND seller_analytics.local_day(e.occurred_at, tz) = p_day
    GROUP BY 1;
END
$$;

-------------------------------------------------------------------------------
-- Views: the reader's policies apply
-------------------------------------------------------------------------------

ALTER VIEW seller_analytics.event_facts SET (security_invoker = true);
ALTER VIEW seller_analytics.marked_recomputed SET (security_invoker = true);
ALTER VIEW seller_analytics.live_deltas SET (security_invoker = true);
ALTER VIEW seller_analytics.seller_daily_metrics SET (security_invoker = true);
ALTER VIEW seller_analytics.seller_daily_traffic SET (security_invoker = true);

-------------------------------------------------------------------------------
-- Ownership: seller_analytics_owner owns every object of the extension
-------------------------------------------------------------------------------

DO $$
DECLARE
    o record;
BEGIN
    EXECUTE 'ALTER SCHEMA seller_analytics OWNER TO seller_analytics_owner';
    FOR o IN
        SELECT pg_catalog.format(CASE c.relkind WHEN 'v' THEN 'ALTER VIEW %s OWNER TO seller_analytics_owner'
                                                WHEN 'S' THEN 'ALTER SEQUENCE %s OWNER TO seller_analytics_owner'
                                                ELSE 'ALTER TABLE %s OWNER TO seller_analytics_owner' END,
                                 c.oid::pg_catalog.regclass) AS cmd
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension x ON x.oid OPERATOR(pg_catalog.=) d.refobjid
        JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND x.extname OPERATOR(pg_catalog.=) 'seller_analytics'
        UNION ALL
        SELECT pg_catalog.format(CASE p.prokind WHEN 'a' THEN 'ALTER AGGREGATE %s(%s) OWNER TO seller_analytics_owner'
                                                ELSE 'ALTER ROUTINE %s(%s) OWNER TO seller_analytics_owner' END,
                                 p.oid::pg_catalog.regproc,
                                 pg_catalog.pg_get_function_identity_arguments(p.oid))
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension x ON x.oid OPERATOR(pg_catalog.=) d.refobjid
        JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND x.extname OPERATOR(pg_catalog.=) 'seller_analytics'
        UNION ALL
        SELECT pg_catalog.format('ALTER TYPE %s OWNER TO seller_analytics_owner', t.oid::pg_catalog.regtype)
        FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension x ON x.oid OPERATOR(pg_catalog.=) d.refobjid
        JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) d.objid
        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
          AND d.deptype OPERATOR(pg_catalog.=) 'e'
          AND x.extname OPERATOR(pg_catalog.=) 'seller_analytics'
    LOOP
        EXECUTE o.cmd;
    END LOOP;
END
$$;

-------------------------------------------------------------------------------
-- Row-level security: enabled and forced (the owner too), default deny
-------------------------------------------------------------------------------

ALTER TABLE seller_analytics.sellers ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.events ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.daily_metrics ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.daily_traffic ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.pending_deltas ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.recompute_marks ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.seller_roles ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

-- the owner (and the SECURITY DEFINER functions, which run as it): everything
CREATE POLICY owner_all ON seller_analytics.sellers TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.events TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.daily_metrics TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.daily_traffic TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.pending_deltas TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.recompute_marks TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.seller_roles TO seller_analytics_owner USING (true) WITH CHECK (true);

-- the application and the sellers' logins: the current seller's rows, read only
CREATE POLICY tenant_read ON seller_analytics.sellers FOR SELECT
    TO seller_analytics_app, seller_analytics_seller
    USING (seller_id OPERATOR(pg_catalog.=) seller_analytics.current_seller_id());
CREATE POLICY tenant_read ON seller_analytics.events FOR SELECT
    TO seller_analytics_app, seller_analytics_seller
    USING (seller_id OPERATOR(pg_catalog.=) seller_analytics.current_seller_id());
CREATE POLICY tenant_read ON seller_analytics.daily_metrics FOR SELECT
    TO seller_analytics_app, seller_analytics_seller
    USING (seller_id OPERATOR(pg_catalog.=) seller_analytics.current_seller_id());
CREATE POLICY tenant_read ON seller_analytics.daily_traffic FOR SELECT
    TO seller_analytics_app, seller_analytics_seller
    USING (seller_id OPERATOR(pg_catalog.=) seller_analytics.current_seller_id());
CREATE POLICY tenant_read ON seller_analytics.pending_deltas FOR SELECT
    TO seller_analytics_app, seller_analytics_seller
    USING (seller_id OPERATOR(pg_catalog.=) seller_analytics.current_seller_id());
CREATE POLICY tenant_read ON seller_analytics.recompute_marks FOR SELECT
    TO seller_analytics_app, seller_analytics_seller
    USING (seller_id OPERATOR(pg_catalog.=) seller_analytics.current_seller_id());

-- the ingest role: new events of any seller; it reads none
CREATE POLICY ingest_insert ON seller_analytics.events FOR INSERT
    TO seller_analytics_ingest
    WITH CHECK (true);

-------------------------------------------------------------------------------
-- Privileges
-------------------------------------------------------------------------------

GRANT USAGE ON SCHEMA seller_analytics
    TO seller_analytics_ingest, seller_analytics_app, seller_analytics_seller,
       seller_analytics_analyst, seller_analytics_jobs;

GRANT SELECT ON seller_analytics.sellers, seller_analytics.events,
                seller_analytics.daily_metrics, seller_analytics.daily_traffic,
                seller_analytics.pending_deltas, seller_analytics.recompute_marks,
                seller_analytics.event_facts, seller_analytics.marked_recomputed,
                seller_analytics.live_deltas, seller_analytics.seller_daily_metrics,
                seller_analytics.seller_daily_traffic
    TO seller_analytics_app, seller_analytics_seller;

GRANT INSERT ON seller_analytics.events, seller_analytics.event_intake
    TO seller_analytics_ingest;

-- Functions run by triggers or by the functions below, and the operations
-- of DBAs and jobs: not for everyone.  (A trigger's function needs no
-- EXECUTE privilege of whoever fires it.)
REVOKE EXECUTE ON FUNCTION
    seller_analytics.capture_events(),
    seller_analytics.discard_captured_changes(),
    seller_analytics.events_truncated(),
    seller_analytics.seller_time_zone_changed(),
    seller_analytics.time_zones_changed(),
    seller_analytics.invalidate_caches(),
    seller_analytics.event_intake_insert(),
    seller_analytics.flush_captured_changes(),
    seller_analytics.lock_rollups(),
    seller_analytics.compact(),
    seller_analytics.rebuild_rollups(date, date),
    seller_analytics.verify_rollups(date, date),
    seller_analytics.recomputed_daily_metrics(date, date),
    seller_analytics.recomputed_daily_traffic(date, date),
    seller_analytics.recompute_seller_day(bigint, date),
    seller_analytics.schedule_jobs(text),
    seller_analytics.unschedule_jobs(),
    seller_analytics.assign_seller_role(name, bigint),
    seller_analytics.revoke_seller_role(name)
FROM PUBLIC;

-- the live views recompute corrected days through it, as their reader
GRANT EXECUTE ON FUNCTION seller_analytics.recompute_seller_day(bigint, date)
    TO seller_analytics_app, seller_analytics_seller;

GRANT EXECUTE ON FUNCTION seller_analytics.compact(),
                          seller_analytics.rebuild_rollups(date, date),
                          seller_analytics.verify_rollups(date, date)
    TO seller_analytics_jobs;
