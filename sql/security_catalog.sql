--
-- The security model in the catalogs (0.3).  Every assertion finds the
-- extension's objects through pg_depend (deptype 'e', membership of the
-- extension), not through a list, so that it holds for objects added
-- later, and prints the objects that break it: an empty result is a pass.
--
--   * every table has row-level security enabled and forced, at least one
--     policy for seller_analytics_owner, no policy for PUBLIC or any role
--     outside the extension's, and every policy that lets the application
--     or the sellers read compares seller_id with current_seller_id();
--   * every view is security_invoker; there is no materialized view;
--   * every SECURITY DEFINER function pins search_path to pg_catalog first
--     and pg_temp last, and none is executable by PUBLIC; no function is
--     LEAKPROOF;
--   * seller_analytics_owner owns every object of the extension, and no
--     other role owns anything in its schema;
--   * the six group roles exist, cannot log in, are not superusers, do not
--     bypass row-level security, do not inherit, and are members of one
--     another only where seller_analytics_owner holds
--     seller_analytics_seller with ADMIN OPTION;
--   * PUBLIC has no privilege on any table, view or the schema, and no
--     column privilege exists; the grants on tables and views, and who may
--     execute the functions that PUBLIC may not, are listed (the expected
--     output is the reference);
--   * DROP EXTENSION leaves the roles, and CREATE EXTENSION in the same
--     database works with them existing; a seller's login that is still a
--     member of seller_analytics_seller then sees nothing.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;
-- start from nothing, whatever ran before in this database
TRUNCATE events, sellers, seller_roles;

-- the extension's members of pg_class: tables, views, sequences ...
CREATE TEMP VIEW ext_relations AS
SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.reloptions,
       c.relrowsecurity, c.relforcerowsecurity
FROM pg_depend d
JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'seller_analytics'
JOIN pg_class c ON c.oid = d.objid
WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.deptype = 'e';
-- ... and of pg_proc: functions, procedures, aggregates
CREATE TEMP VIEW ext_functions AS
SELECT p.oid, p.oid::regprocedure::text AS signature, p.prokind, p.prosecdef,
       p.proleakproof, p.proconfig, p.proowner,
       coalesce(p.proacl, acldefault('f', p.proowner)) AS acl
FROM pg_depend d
JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'seller_analytics'
JOIN pg_proc p ON p.oid = d.objid
WHERE d.classid = 'pg_proc'::regclass AND d.refclassid = 'pg_extension'::regclass
  AND d.deptype = 'e';
-- the six group roles
CREATE TEMP VIEW group_roles AS
SELECT r.* FROM pg_roles r
WHERE r.rolname IN ('seller_analytics_owner', 'seller_analytics_ingest', 'seller_analytics_app',
                    'seller_analytics_seller', 'seller_analytics_analyst', 'seller_analytics_jobs');

-- what there is (a count per kind, so that a new kind of object shows up)
SELECT d.classid::regclass AS catalog,
       CASE WHEN d.classid = 'pg_class'::regclass
            THEN (SELECT c.relkind::text FROM pg_class c WHERE c.oid = d.objid) END AS relkind,
       count(*)
FROM pg_depend d
JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'seller_analytics'
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
GROUP BY 1, 2 ORDER BY 1, 2;

--
-- Row-level security
--
-- tables without row-level security enabled, or not forced (the owner
-- would bypass it)
SELECT relname, relrowsecurity, relforcerowsecurity FROM ext_relations
WHERE relkind IN ('r', 'p') AND NOT (relrowsecurity AND relforcerowsecurity)
ORDER BY relname;
-- (the tables, and whether they have a seller_id column)
SELECT relname,
       EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = r.oid AND a.attname = 'seller_id' AND NOT a.attisdropped) AS seller_id
FROM ext_relations r WHERE relkind IN ('r', 'p') ORDER BY relname;
-- tables without a policy for seller_analytics_owner
SELECT relname FROM ext_relations r
WHERE relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_policy p
                  WHERE p.polrelid = r.oid
                    AND 'seller_analytics_owner'::regrole = ANY (p.polroles))
ORDER BY relname;
-- policies for PUBLIC (role 0), or for a role that is not one of the six
SELECT r.relname, p.polname, p.polroles::regrole[] AS roles
FROM ext_relations r JOIN pg_policy p ON p.polrelid = r.oid
WHERE EXISTS (SELECT 1 FROM unnest(p.polroles) g(role)
              WHERE g.role NOT IN (SELECT oid FROM group_roles))
ORDER BY 1, 2;
-- restrictive policies (none: each role's policies are its only way in)
SELECT r.relname, p.polname FROM ext_relations r JOIN pg_policy p ON p.polrelid = r.oid
WHERE NOT p.polpermissive ORDER BY 1, 2;
-- policies that let the application or the sellers do more than read
-- their current seller's rows (on tables with a seller_id: the others hold
-- no seller's rows, and are listed below)
SELECT r.relname, p.polname, p.polcmd, pg_get_expr(p.polqual, p.polrelid) AS qual
FROM ext_relations r JOIN pg_policy p ON p.polrelid = r.oid
WHERE (p.polroles && ARRAY['seller_analytics_app'::regrole::oid,
                           'seller_analytics_seller'::regrole::oid])
  AND EXISTS (SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = r.oid AND a.attname = 'seller_id' AND NOT a.attisdropped)
  AND (p.polcmd <> 'r'
       OR pg_get_expr(p.polqual, p.polrelid)
          !~ '^\(seller_id = (seller_analytics\.)?current_seller_id\(\)\)$'
       OR p.polwithcheck IS NOT NULL)
ORDER BY 1, 2;
-- policies of other roles that let rows be read: the owner's only (on
-- tables with a seller_id)
SELECT r.relname, p.polname, p.polroles::regrole[] AS roles
FROM ext_relations r JOIN pg_policy p ON p.polrelid = r.oid
WHERE p.polcmd IN ('*', 'r')
  AND NOT (p.polroles && ARRAY['seller_analytics_app'::regrole::oid,
                               'seller_analytics_seller'::regrole::oid])
  AND p.polroles <> ARRAY['seller_analytics_owner'::regrole::oid]
  AND EXISTS (SELECT 1 FROM pg_attribute a
              WHERE a.attrelid = r.oid AND a.attname = 'seller_id' AND NOT a.attisdropped)
ORDER BY 1, 2;
-- tables without a seller_id that roles other than the owner may read, and
-- the policies that let them (released benchmarks and their configuration,
-- public by design; the expected output is the reference)
SELECT r.relname, p.polname, p.polcmd, p.polroles::regrole[] AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS qual
FROM ext_relations r JOIN pg_policy p ON p.polrelid = r.oid
WHERE p.polcmd IN ('*', 'r')
  AND p.polroles <> ARRAY['seller_analytics_owner'::regrole::oid]
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                  WHERE a.attrelid = r.oid AND a.attname = 'seller_id' AND NOT a.attisdropped)
ORDER BY 1, 2;
-- seller_roles: for the owner only
SELECT p.polname, p.polroles::regrole[] AS roles FROM pg_policy p
WHERE p.polrelid = 'seller_analytics.seller_roles'::regclass
  AND p.polroles <> ARRAY['seller_analytics_owner'::regrole::oid];
-- (the policies, by name, command and roles, with the tables that have them)
SELECT p.polname, p.polcmd, p.polroles::regrole[] AS roles,
       string_agg(r.relname, ', ' ORDER BY r.relname) AS tables
FROM ext_relations r JOIN pg_policy p ON p.polrelid = r.oid
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

--
-- Views
--
-- views that are not security_invoker (they would read with their owner's
-- policies, which let everything through)
SELECT relname, reloptions FROM ext_relations
WHERE relkind = 'v' AND NOT coalesce('security_invoker=true' = ANY (reloptions), false)
ORDER BY relname;
-- materialized views (row-level security does not apply to them)
SELECT relname FROM ext_relations WHERE relkind = 'm';

--
-- Functions
--
-- SECURITY DEFINER functions whose search_path does not start with
-- pg_catalog and end with pg_temp
SELECT signature, proconfig FROM ext_functions
WHERE prosecdef
  AND NOT EXISTS (SELECT 1 FROM unnest(proconfig) c(setting)
                  WHERE c.setting ~ '^search_path=pg_catalog(, *[^,]+)*, *pg_temp$')
ORDER BY signature;
-- SECURITY DEFINER functions that PUBLIC may execute
SELECT signature FROM ext_functions
WHERE prosecdef
  AND EXISTS (SELECT 1 FROM aclexplode(acl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
ORDER BY signature;
-- LEAKPROOF functions (a policy would let them see rows before filtering)
SELECT signature FROM ext_functions WHERE proleakproof ORDER BY signature;
-- (the SECURITY DEFINER functions and their settings)
SELECT signature, proconfig FROM ext_functions WHERE prosecdef ORDER BY signature;

--
-- Ownership
--
-- objects of the extension not owned by seller_analytics_owner (or of a
-- kind whose owner this does not know how to find)
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) AS object,
       o.owner::regrole AS owner
FROM pg_depend d
JOIN pg_extension x ON x.oid = d.refobjid AND x.extname = 'seller_analytics'
CROSS JOIN LATERAL (
    SELECT CASE d.classid
        WHEN 'pg_class'::regclass THEN (SELECT relowner FROM pg_class WHERE oid = d.objid)
        WHEN 'pg_proc'::regclass THEN (SELECT proowner FROM pg_proc WHERE oid = d.objid)
        WHEN 'pg_type'::regclass THEN (SELECT typowner FROM pg_type WHERE oid = d.objid)
        WHEN 'pg_namespace'::regclass THEN (SELECT nspowner FROM pg_namespace WHERE oid = d.objid)
        WHEN 'pg_operator'::regclass THEN (SELECT oprowner FROM pg_operator WHERE oid = d.objid)
        WHEN 'pg_opclass'::regclass THEN (SELECT opcowner FROM pg_opclass WHERE oid = d.objid)
        WHEN 'pg_opfamily'::regclass THEN (SELECT opfowner FROM pg_opfamily WHERE oid = d.objid)
        WHEN 'pg_collation'::regclass THEN (SELECT collowner FROM pg_collation WHERE oid = d.objid)
        WHEN 'pg_statistic_ext'::regclass THEN (SELECT stxowner FROM pg_statistic_ext WHERE oid = d.objid)
        WHEN 'pg_event_trigger'::regclass THEN (SELECT evtowner FROM pg_event_trigger WHERE oid = d.objid)
        END AS owner) o
WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
  AND o.owner IS DISTINCT FROM 'seller_analytics_owner'::regrole
ORDER BY 1;
-- anything in the extension's schema owned by another role: relations
-- (indexes included), functions, types
SELECT 'relation' AS kind, c.relname AS name, c.relowner::regrole AS owner FROM pg_class c
WHERE c.relnamespace = 'seller_analytics'::regnamespace
  AND c.relowner <> 'seller_analytics_owner'::regrole
UNION ALL
SELECT 'function', p.oid::regprocedure::text, p.proowner::regrole FROM pg_proc p
WHERE p.pronamespace = 'seller_analytics'::regnamespace
  AND p.proowner <> 'seller_analytics_owner'::regrole
UNION ALL
SELECT 'type', t.typname, t.typowner::regrole FROM pg_type t
WHERE t.typnamespace = 'seller_analytics'::regnamespace
  AND t.typowner <> 'seller_analytics_owner'::regrole
ORDER BY 1, 2;

--
-- Roles
--
SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolinherit, rolcreaterole,
       rolcreatedb, rolreplication
FROM group_roles ORDER BY rolname;
-- memberships among them: only seller_analytics_owner in
-- seller_analytics_seller, with ADMIN OPTION (assign_seller_role grants it)
SELECT m.roleid::regrole AS role, m.member::regrole AS member, m.admin_option
FROM pg_auth_members m
WHERE m.roleid IN (SELECT oid FROM group_roles) AND m.member IN (SELECT oid FROM group_roles)
ORDER BY 1, 2;

--
-- Privileges
--
-- PUBLIC's privileges on tables, views and sequences of the schema
SELECT c.relname, a.privilege_type
FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a
WHERE c.relnamespace = 'seller_analytics'::regnamespace AND a.grantee = 0
ORDER BY 1, 2;
-- column privileges (none: a table's privileges are all or nothing)
SELECT c.relname, a.attname, a.attacl
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'seller_analytics'::regnamespace AND a.attacl IS NOT NULL
ORDER BY 1, 2;
-- the schema: USAGE for the group roles, CREATE for the owner, nothing for
-- PUBLIC
SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE a.grantee::regrole::text END AS grantee,
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
FROM pg_namespace n CROSS JOIN LATERAL aclexplode(n.nspacl) a
WHERE n.nspname = 'seller_analytics'
GROUP BY 1 ORDER BY 1;
-- who may do what on the tables and views, but for their owner
SELECT a.grantee::regrole AS grantee, a.privilege_type AS privilege,
       string_agg(r.relname, ', ' ORDER BY r.relname) AS relations
FROM ext_relations r CROSS JOIN LATERAL aclexplode(r.relacl) a
WHERE a.grantee <> r.relowner
GROUP BY 1, 2 ORDER BY 1, 2;
-- the functions PUBLIC may not execute, and who may (superusers always may)
SELECT f.signature,
       string_agg(a.grantee::regrole::text, ', ' ORDER BY a.grantee::regrole::text) AS executable_by
FROM ext_functions f CROSS JOIN LATERAL aclexplode(f.acl) a
WHERE a.privilege_type = 'EXECUTE'
  AND NOT EXISTS (SELECT 1 FROM aclexplode(f.acl) p
                  WHERE p.grantee = 0 AND p.privilege_type = 'EXECUTE')
GROUP BY 1 ORDER BY 1;
-- (the functions PUBLIC may execute, by name)
SELECT p.proname AS executable_by_public, count(*) AS versions
FROM ext_functions f JOIN pg_proc p ON p.oid = f.oid
WHERE EXISTS (SELECT 1 FROM aclexplode(f.acl) a
              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
GROUP BY 1 ORDER BY 1;

--
-- The tenant setting, and what pg_dump keeps
--
SELECT name, setting, context, vartype, boot_val FROM pg_settings
WHERE name LIKE 'seller\_analytics.%' ORDER BY name;
SELECT unnest(extconfig)::regclass AS dumped FROM pg_extension
WHERE extname = 'seller_analytics' ORDER BY 1::text;

--
-- DROP EXTENSION and CREATE EXTENSION again, the roles existing: a seller's
-- login mapped before is still a member of seller_analytics_seller
-- afterwards, but its mapping went with the extension's tables
--
SET client_min_messages = warning;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'sec\_cat\_%' LOOP
        EXECUTE format('DROP OWNED BY %I', r.rolname);
        EXECUTE format('DROP ROLE %I', r.rolname);
    END LOOP;
END
$$;
RESET client_min_messages;
CREATE ROLE sec_cat_seller LOGIN;
INSERT INTO sellers (seller_id, name) VALUES (1, 'Acme');
INSERT INTO events (seller_id, event_id, event_type, occurred_at)
VALUES (1, 'a1', 'page_view', '2026-01-05 10:00Z');
SELECT assign_seller_role('sec_cat_seller', 1);
SET SESSION AUTHORIZATION sec_cat_seller;
SELECT seller_analytics.current_seller_id(), count(*) FROM seller_analytics.events;
RESET SESSION AUTHORIZATION;
DROP EXTENSION seller_analytics;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = 'seller_analytics';
SELECT rolname FROM group_roles ORDER BY rolname;
SELECT pg_has_role('sec_cat_seller', 'seller_analytics_seller', 'MEMBER') AS member_of_seller;
-- nothing in this database is owned by the group roles any more
SELECT (SELECT count(*) FROM pg_class WHERE relowner IN (SELECT oid FROM group_roles))
     + (SELECT count(*) FROM pg_proc WHERE proowner IN (SELECT oid FROM group_roles))
     + (SELECT count(*) FROM pg_type WHERE typowner IN (SELECT oid FROM group_roles))
     + (SELECT count(*) FROM pg_namespace WHERE nspowner IN (SELECT oid FROM group_roles))
       AS owned;
CREATE EXTENSION seller_analytics;
SELECT extversion FROM pg_extension WHERE extname = 'seller_analytics';
SELECT m.roleid::regrole AS role, m.member::regrole AS member, m.admin_option
FROM pg_auth_members m
WHERE m.roleid IN (SELECT oid FROM group_roles) AND m.member IN (SELECT oid FROM group_roles)
ORDER BY 1, 2;
-- the same objects again: tables with row-level security forced, views
-- security_invoker, SECURITY DEFINER functions with their search_path, all
-- owned by seller_analytics_owner
SELECT relkind, count(*) AS objects,
       count(*) FILTER (WHERE relowner = 'seller_analytics_owner'::regrole) AS owned_by_owner,
       count(*) FILTER (WHERE relrowsecurity AND relforcerowsecurity) AS forced_rls,
       count(*) FILTER (WHERE 'security_invoker=true' = ANY (reloptions)) AS security_invoker
FROM ext_relations GROUP BY 1 ORDER BY 1;
SELECT count(*) AS functions,
       count(*) FILTER (WHERE proowner = 'seller_analytics_owner'::regrole) AS owned_by_owner,
       count(*) FILTER (WHERE prosecdef) AS security_definer,
       count(*) FILTER (WHERE prosecdef AND 'search_path=pg_catalog, pg_temp' = ANY (proconfig))
         AS pinned_search_path
FROM ext_functions;
-- the seller's login: a member of seller_analytics_seller, mapped to no
-- seller in the new extension: no rows
INSERT INTO seller_analytics.sellers (seller_id, name) VALUES (1, 'Acme');
INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at)
VALUES (1, 'a1', 'page_view', '2026-01-05 10:00Z');
SET SESSION AUTHORIZATION sec_cat_seller;
SELECT seller_analytics.current_seller_id(), count(*) FROM seller_analytics.events;
RESET SESSION AUTHORIZATION;
-- assigned again: its rows
SELECT seller_analytics.assign_seller_role('sec_cat_seller', 1);
SET SESSION AUTHORIZATION sec_cat_seller;
SELECT seller_analytics.current_seller_id(), count(*) FROM seller_analytics.events;
RESET SESSION AUTHORIZATION;

--
-- Clean up
--
SET search_path = seller_analytics, public;
SELECT revoke_seller_role('sec_cat_seller');
DROP OWNED BY sec_cat_seller;
DROP ROLE sec_cat_seller;
TRUNCATE events, sellers, seller_roles;
