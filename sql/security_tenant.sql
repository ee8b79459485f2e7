--
-- The tenant (0.3): who the current seller is, and the mapping of sellers'
-- login roles.
--
-- seller_analytics.current_seller_id() is the seller every policy compares
-- seller_id with: the seller that seller_roles maps session_user to; else,
-- for a session_user that is a member of seller_analytics_app, the setting
-- seller_analytics.seller_id; else NULL, which matches no row.  The setting
-- takes a bigint or '' (none), from members of seller_analytics_app only;
-- SET LOCAL ends with its transaction; garbage is refused and leaves the
-- value as it was.  A value that got there anyway (set by a superuser
-- before switching identity, or before the library was loaded) counts
-- only for members of seller_analytics_app: the mapping comes first, and
-- nobody else gets any seller from it.
--
-- assign_seller_role() maps a login role to one seller and refuses every
-- role that would see more than that (superusers, BYPASSRLS roles, members
-- of the other group roles); revoke_seller_role() undoes it, at once in an
-- open session of the role too.  A mapping is bound to the role's OID and
-- its name: a renamed role, or a role dropped and created again under the
-- same name, maps to no one (fails closed) until it is renamed back or
-- assigned again.  Only the owner's members (DBAs) and superusers may call
-- the two functions.
--
-- Identities are switched with SET SESSION AUTHORIZATION, which changes
-- session_user (SET ROLE would not); the last part logs in afresh as the
-- roles, with values of the setting that come with the login.
--
-- (quietly: an earlier test may have created it)
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS seller_analytics;
RESET client_min_messages;
SET search_path = seller_analytics, public;
-- start from nothing, whatever ran before in this database
TRUNCATE events, sellers, seller_roles;
-- the superuser running the test, to come back to after logging in as others
SELECT current_user AS superuser \gset

--
-- Roles of this test (roles belong to the cluster: drop any left over by an
-- interrupted run first)
--
SET client_min_messages = warning;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'sec\_tenant\_%' LOOP
        EXECUTE format('DROP OWNED BY %I', r.rolname);
        EXECUTE format('DROP ROLE %I', r.rolname);
    END LOOP;
END
$$;
RESET client_min_messages;
-- sellers' own logins (a BI tool's), the application's pool login, a login
-- that is a member of nothing, a DBA, a loader
CREATE ROLE sec_tenant_a LOGIN PASSWORD 'sec_tenant_a_pw';
CREATE ROLE sec_tenant_b LOGIN PASSWORD 'sec_tenant_b_pw';
CREATE ROLE sec_tenant_app LOGIN PASSWORD 'sec_tenant_app_pw';
GRANT seller_analytics_app TO sec_tenant_app;
CREATE ROLE sec_tenant_plain LOGIN;
CREATE ROLE sec_tenant_dba LOGIN;
GRANT seller_analytics_owner TO sec_tenant_dba;
CREATE ROLE sec_tenant_ingest LOGIN;
GRANT seller_analytics_ingest TO sec_tenant_ingest;
-- roles that assign_seller_role must refuse
CREATE ROLE sec_tenant_nologin NOLOGIN;
CREATE ROLE sec_tenant_super LOGIN SUPERUSER;
CREATE ROLE sec_tenant_bypass LOGIN BYPASSRLS;
CREATE ROLE sec_tenant_createrole LOGIN CREATEROLE;
CREATE ROLE sec_tenant_replication LOGIN REPLICATION;
CREATE ROLE sec_tenant_files LOGIN;
GRANT pg_read_server_files TO sec_tenant_files;

--
-- Data: three sellers, an event each (seller 3 two)
--
INSERT INTO sellers (seller_id, name) VALUES (1, 'Acme'), (2, 'Bolt'), (3, 'Cuckoo');
INSERT INTO events (seller_id, event_id, event_type, occurred_at) VALUES
  (1, 'a1', 'page_view', '2026-01-05 10:00Z'),
  (2, 'b1', 'page_view', '2026-01-05 10:00Z'),
  (3, 'c1', 'page_view', '2026-01-05 10:00Z'),
  (3, 'c2', 'page_view', '2026-01-05 11:00Z');

-- who the session is, its seller, and the sellers and events it sees; a
-- SQL function runs with the rights of its caller, so it sees what the
-- caller sees
CREATE FUNCTION pg_temp.seen(OUT login name, OUT seller bigint, OUT sellers text,
                             OUT events bigint)
LANGUAGE sql AS $$
  SELECT session_user, seller_analytics.current_seller_id(),
         (SELECT string_agg(s.seller_id::text, ',' ORDER BY s.seller_id)
          FROM seller_analytics.sellers s),
         (SELECT count(*) FROM seller_analytics.events)
$$;

--
-- A superuser: no seller of its own, and every row (superusers are never
-- subject to row-level security).  A superuser is a member of every role,
-- seller_analytics_app included, so it may set the setting and
-- current_seller_id() returns it, which changes nothing for its rows.
--
SELECT * FROM pg_temp.seen();
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
SELECT * FROM pg_temp.seen();
COMMIT;

--
-- A seller's login: mapped, it sees its seller's rows, and cannot choose
-- another seller in any way
--
SELECT assign_seller_role('sec_tenant_a', 1);
SELECT role, role_name, seller_id FROM seller_roles ORDER BY role_name;
SELECT pg_has_role('sec_tenant_a', 'seller_analytics_seller', 'MEMBER') AS member_of_seller;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('seller_analytics.seller_id', '2', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('seller_analytics.seller_id', '2', true);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
-- not as the role's default either
ALTER ROLE CURRENT_USER SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER ROLE sec_tenant_a IN DATABASE :"DBNAME" SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- nor through a function's SET clause
CREATE FUNCTION pg_temp.as_seller_2() RETURNS bigint LANGUAGE sql
SET seller_analytics.seller_id = '2' AS 'SELECT seller_analytics.current_seller_id()';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a value that is no seller id is refused as such first
SET seller_analytics.seller_id = 'x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- none ('') and RESET are allowed: they give nothing
SET seller_analytics.seller_id = '';
RESET seller_analytics.seller_id;
SET seller_analytics.seller_id TO DEFAULT;
-- the prefix is reserved: a misspelled name is an error, not a new setting
SET seller_analytics.seller_idd = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('seller_analytics.sellerid', '2', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;

-- a login that is a member of nothing, and the loader: refused the same way
SET SESSION AUTHORIZATION sec_tenant_plain;
SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('seller_analytics.seller_id', '2', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER ROLE CURRENT_USER SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_idd = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- (it may not even look at the schema)
SELECT seller_analytics.current_seller_id();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_ingest;
SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;

--
-- The application's pool login: no seller until it names one, and never
-- for longer than the transaction that names it
--
SET SESSION AUTHORIZATION sec_tenant_app;
SELECT * FROM pg_temp.seen();
-- a SET of its own, outside a transaction block, would last for itself
-- alone: refused (25P01), with a hint
SET seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET SESSION seller_analytics.seller_id = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM pg_temp.seen();
-- SET LOCAL lasts until the end of the transaction, committed or not
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SELECT * FROM pg_temp.seen();
COMMIT;
SELECT * FROM pg_temp.seen();
BEGIN;
SET LOCAL seller_analytics.seller_id = '3';
SELECT * FROM pg_temp.seen();
ROLLBACK;
SELECT * FROM pg_temp.seen();
-- so does a plain SET inside a transaction block: committed, it is gone
-- all the same, and SHOW says so
BEGIN;
SET seller_analytics.seller_id = '2';
SELECT * FROM pg_temp.seen();
COMMIT;
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
-- set_config(..., true) is SET LOCAL; set_config(..., false) is a SET
BEGIN;
SELECT set_config('seller_analytics.seller_id', '1', true);
SELECT * FROM pg_temp.seen();
COMMIT;
SELECT * FROM pg_temp.seen();
BEGIN;
SELECT set_config('seller_analytics.seller_id', '1', false);
SELECT * FROM pg_temp.seen();
COMMIT;
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
-- outside a transaction block, either lasts for its own statement only
SELECT set_config('seller_analytics.seller_id', '3', true);
SELECT * FROM pg_temp.seen();
SELECT set_config('seller_analytics.seller_id', '3', false);
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
-- within one statement: the seller it names is read by that statement
SELECT set_config('seller_analytics.seller_id', '3', false),
       (SELECT count(*) FROM seller_analytics.events) AS events;
SELECT * FROM pg_temp.seen();
-- several statements of one query string are one transaction
SET seller_analytics.seller_id = '3'\; SELECT * FROM pg_temp.seen();
SELECT * FROM pg_temp.seen();
-- a function that sets it (a connection hook's way): the rest of that
-- transaction only
CREATE FUNCTION pg_temp.name_seller(bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('SET seller_analytics.seller_id = %L', $1);
END
$$;
SELECT pg_temp.name_seller(1);
SELECT * FROM pg_temp.seen();
BEGIN;
SELECT pg_temp.name_seller(1);
SELECT * FROM pg_temp.seen();
COMMIT;
SELECT * FROM pg_temp.seen();
-- an error ends the transaction and the seller with it
BEGIN;
SET seller_analytics.seller_id = '1';
SELECT 1 / 0;
ROLLBACK;
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
-- a plain SET in a transaction that rolls back is undone; so is a SET
-- LOCAL after a savepoint rolled back to
BEGIN;
SET seller_analytics.seller_id = '3';
ROLLBACK;
SELECT * FROM pg_temp.seen();
BEGIN;
SET LOCAL seller_analytics.seller_id = '1';
SAVEPOINT s;
SET LOCAL seller_analytics.seller_id = '3';
ROLLBACK TO SAVEPOINT s;
SELECT * FROM pg_temp.seen();
COMMIT;
SELECT * FROM pg_temp.seen();
-- a plain SET undone by a rollback to a savepoint: the SET before the
-- savepoint is in force again, until the end of the transaction
BEGIN;
SET seller_analytics.seller_id = '1';
SAVEPOINT s;
SET seller_analytics.seller_id = '3';
ROLLBACK TO SAVEPOINT s;
SELECT * FROM pg_temp.seen();
COMMIT;
SELECT * FROM pg_temp.seen();
-- garbage: refused as such (22023), outside a transaction block or in one
SET seller_analytics.seller_id = 'x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '1.5';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = ' 1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '1 ';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '+1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '0x1';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '-';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '99999999999999999999';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '9223372036854775808';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = '-9223372036854775809';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_id = 1.5;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT set_config('seller_analytics.seller_id', 'x', false);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
SET LOCAL seller_analytics.seller_id = 'x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
-- any bigint is taken (a seller that does not exist: no rows); leading
-- zeros and an unquoted number too
BEGIN;
SET LOCAL seller_analytics.seller_id = '-9223372036854775808';
SELECT * FROM pg_temp.seen();
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = '9223372036854775807';
SELECT * FROM pg_temp.seen();
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = '0';
SELECT * FROM pg_temp.seen();
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = '003';
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
COMMIT;
BEGIN;
SET LOCAL seller_analytics.seller_id = 1;
SELECT * FROM pg_temp.seen();
COMMIT;
-- '' is none: no seller, no rows; it may be set outside a block
SET seller_analytics.seller_id = '';
SELECT * FROM pg_temp.seen();
-- RESET, SET ... TO DEFAULT, set_config(..., NULL) and RESET ALL: none
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
RESET seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
SET LOCAL seller_analytics.seller_id = '2';
SET seller_analytics.seller_id TO DEFAULT;
SELECT * FROM pg_temp.seen();
SET LOCAL seller_analytics.seller_id = '2';
SELECT set_config('seller_analytics.seller_id', NULL, false) = '' AS none;
SELECT * FROM pg_temp.seen();
SET LOCAL seller_analytics.seller_id = '2';
RESET ALL;
SELECT * FROM pg_temp.seen();
COMMIT;
-- the prefix is reserved for it too
SET seller_analytics.seller_idd = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET search_path = seller_analytics, public;

--
-- A value set before the identity changed (in the same transaction)
-- counts for members of seller_analytics_app only, and never over a
-- mapping
--
BEGIN;
SET LOCAL seller_analytics.seller_id = '2';
-- a member of seller_analytics_seller that is mapped to no seller: the
-- setting is there, but nobody's rows
GRANT seller_analytics_seller TO sec_tenant_plain;
SET SESSION AUTHORIZATION sec_tenant_plain;
SHOW seller_analytics.seller_id;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
REVOKE seller_analytics_seller FROM sec_tenant_plain;
-- the pool login: it counts
SET SESSION AUTHORIZATION sec_tenant_app;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
COMMIT;
-- a mapped seller login made a member of seller_analytics_app afterwards
-- (assign_seller_role would refuse such a role): it may set the setting
-- now, but its mapping comes first
GRANT seller_analytics_app TO sec_tenant_a;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
BEGIN;
SET LOCAL seller_analytics.seller_id = '3';
SELECT * FROM pg_temp.seen();
COMMIT;
RESET SESSION AUTHORIZATION;
REVOKE seller_analytics_app FROM sec_tenant_a;

--
-- assign_seller_role: the refusals, each with its SQLSTATE; nothing changes
--
-- a role that does not exist
SELECT assign_seller_role('sec_tenant_nobody', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a role that cannot log in
SELECT assign_seller_role('sec_tenant_nologin', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- roles that would see every seller
SELECT assign_seller_role('sec_tenant_super', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('sec_tenant_bypass', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- CREATEROLE could grant itself seller_analytics_owner; REPLICATION and
-- the server-file roles read the data without asking the policies
SELECT assign_seller_role('sec_tenant_createrole', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('sec_tenant_replication', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('sec_tenant_files', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- members of the other group roles
SELECT assign_seller_role('sec_tenant_app', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('sec_tenant_dba', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('sec_tenant_ingest', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the group roles themselves
SELECT assign_seller_role('seller_analytics_seller', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('seller_analytics_owner', 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a seller that does not exist
SELECT assign_seller_role('sec_tenant_b', 99);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a role assigned to another seller already
SELECT assign_seller_role('sec_tenant_a', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- NULL arguments
SELECT assign_seller_role(NULL, 1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT assign_seller_role('sec_tenant_b', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- revoking a role that is not assigned, or does not exist
SELECT revoke_seller_role('sec_tenant_b');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT revoke_seller_role('sec_tenant_nobody');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT role, role_name, seller_id FROM seller_roles ORDER BY role_name;
-- the members of seller_analytics_seller among this test's roles
SELECT m.member::regrole AS member FROM pg_auth_members m
WHERE m.roleid = 'seller_analytics_seller'::regrole
  AND m.member::regrole::text LIKE 'sec\_tenant\_%'
ORDER BY 1;
-- assigning a role to its seller again changes nothing
SELECT assign_seller_role('sec_tenant_a', 1);
SELECT assign_seller_role('sec_tenant_b', 2);
SELECT assign_seller_role('sec_tenant_b', 2);
SELECT role, role_name, seller_id FROM seller_roles ORDER BY role_name;
SET SESSION AUTHORIZATION sec_tenant_b;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;

--
-- Only the owner's members and superusers may map roles
--
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT seller_analytics.assign_seller_role('sec_tenant_plain', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT seller_analytics.revoke_seller_role('sec_tenant_b');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM seller_analytics.seller_roles;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_app;
SELECT seller_analytics.assign_seller_role('sec_tenant_plain', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT seller_analytics.revoke_seller_role('sec_tenant_b');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_ingest;
SELECT seller_analytics.assign_seller_role('sec_tenant_plain', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_plain;
SELECT seller_analytics.assign_seller_role('sec_tenant_plain', 2);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
-- a DBA (a member of seller_analytics_owner) may: it maps the plain login
-- to seller 3, reads the mapping, and sees every row itself (the owner's
-- policies), though it has no seller
SET SESSION AUTHORIZATION sec_tenant_dba;
SELECT seller_analytics.assign_seller_role('sec_tenant_plain', 3);
SELECT role, role_name, seller_id FROM seller_analytics.seller_roles ORDER BY role_name;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_plain;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_dba;
SELECT seller_analytics.revoke_seller_role('sec_tenant_plain');
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_tenant_plain;
SELECT count(*) FROM seller_analytics.events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;

--
-- Revocation counts at once, in a session of the role that is open
--
-- (the session has looked up, and cached, the role's seller)
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
SELECT revoke_seller_role('sec_tenant_a');
SELECT pg_has_role('sec_tenant_a', 'seller_analytics_seller', 'MEMBER') AS member_of_seller;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT count(*) FROM seller_analytics.events;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
-- made a member of seller_analytics_seller by hand, without a mapping: the
-- cached seller is gone too, it sees no rows
GRANT seller_analytics_seller TO sec_tenant_a;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
REVOKE seller_analytics_seller FROM sec_tenant_a;
SELECT assign_seller_role('sec_tenant_a', 1);
-- a revocation in a transaction that rolls back: gone inside, back after
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
BEGIN;
SELECT revoke_seller_role('sec_tenant_a');
GRANT seller_analytics_seller TO sec_tenant_a;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
ROLLBACK;
SELECT session_user = :'superuser' AS back_to_superuser;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;

--
-- A renamed role maps to no one until it has its name back, or is
-- assigned again under the new one
--
ALTER ROLE sec_tenant_a RENAME TO sec_tenant_a_renamed;
SET SESSION AUTHORIZATION sec_tenant_a_renamed;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
ALTER ROLE sec_tenant_a_renamed RENAME TO sec_tenant_a;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
ALTER ROLE sec_tenant_a RENAME TO sec_tenant_a_renamed;
SELECT assign_seller_role('sec_tenant_a_renamed', 1);
SELECT role, role_name, seller_id FROM seller_roles ORDER BY role_name;
SET SESSION AUTHORIZATION sec_tenant_a_renamed;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
-- and its old name maps to no one either now
ALTER ROLE sec_tenant_a_renamed RENAME TO sec_tenant_a;
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
SELECT assign_seller_role('sec_tenant_a', 1);
SET SESSION AUTHORIZATION sec_tenant_a;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;

-- revoking a renamed role by the name it was assigned under takes its
-- membership too
CREATE ROLE sec_tenant_r LOGIN;
SELECT assign_seller_role('sec_tenant_r', 2);
ALTER ROLE sec_tenant_r RENAME TO sec_tenant_r2;
SELECT revoke_seller_role('sec_tenant_r');
SELECT pg_has_role('sec_tenant_r2', 'seller_analytics_seller', 'MEMBER') AS still_member,
       (SELECT count(*) FROM seller_roles WHERE role_name LIKE 'sec\_tenant\_r%') AS mappings;
DROP ROLE sec_tenant_r2;

--
-- A role dropped and created again under the same name is a new role (a
-- new OID): the old mapping does not apply to it
--
DROP ROLE sec_tenant_b;
CREATE ROLE sec_tenant_b LOGIN PASSWORD 'sec_tenant_b_pw';
-- the mapping of the dropped role is still there, under the old OID
SELECT role_name, seller_id,
       role::oid = (SELECT oid FROM pg_roles WHERE rolname = 'sec_tenant_b') AS this_role
FROM seller_roles ORDER BY role_name;
-- a member of seller_analytics_seller by hand: no rows
GRANT seller_analytics_seller TO sec_tenant_b;
SET SESSION AUTHORIZATION sec_tenant_b;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
REVOKE seller_analytics_seller FROM sec_tenant_b;
-- assigned again: mapped; revoke_seller_role removes the new and the stale
-- mapping by the name
SELECT assign_seller_role('sec_tenant_b', 2);
SET SESSION AUTHORIZATION sec_tenant_b;
SELECT * FROM pg_temp.seen();
RESET SESSION AUTHORIZATION;
SELECT revoke_seller_role('sec_tenant_b');
SELECT role, role_name, seller_id FROM seller_roles ORDER BY role_name;
SELECT assign_seller_role('sec_tenant_b', 2);

--
-- New sessions.  The library is preloaded (as doc/security.md recommends),
-- so the setting exists from a session's first statement and a SET is
-- checked at once.  A value that comes with the login itself is checked at
-- login too: a seller's role default (set by a superuser) is refused with a
-- WARNING and dropped; the same value in a seller's connection options
-- refuses the connection (test/sql/security_client.sh, whose messages name
-- the server's address).
--
-- the seller's login, with a default set for it by a superuser: dropped
ALTER ROLE sec_tenant_a SET seller_analytics.seller_id = '2';
\c -reuse-previous=on "user=sec_tenant_a password=sec_tenant_a_pw"
SHOW seller_analytics.seller_id;
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
SET seller_analytics.seller_id = '3';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the pool login with a seller in its role's defaults (set by a
-- superuser): dropped at login too, with a WARNING (a seller in its
-- connection options refuses the connection: test/sql/security_client.sh)
\c - :superuser
ALTER ROLE sec_tenant_app SET seller_analytics.seller_id = '3';
\c -reuse-previous=on "user=sec_tenant_app password=sec_tenant_app_pw options=''"
SHOW seller_analytics.seller_id;
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
-- a seller named in a transaction, then RESET, then again: none afterwards
BEGIN;
SET seller_analytics.seller_id = '2';
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
COMMIT;
SHOW seller_analytics.seller_id;
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
\c - :superuser
ALTER ROLE sec_tenant_app RESET seller_analytics.seller_id;
-- garbage and a misspelled name, as the session's first statements
\c -reuse-previous=on "user=sec_tenant_app password=sec_tenant_app_pw options=''"
SET seller_analytics.seller_id = 'x';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET seller_analytics.seller_idd = '2';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT session_user, seller_analytics.current_seller_id(),
       (SELECT string_agg(DISTINCT seller_id::text, ',') FROM seller_analytics.events) AS events_of;
\c - :superuser
SET search_path = seller_analytics, public;

--
-- Clean up: the mappings, the roles, the data
--
SELECT revoke_seller_role('sec_tenant_a'), revoke_seller_role('sec_tenant_b');
DROP OWNED BY sec_tenant_a, sec_tenant_b, sec_tenant_app, sec_tenant_plain, sec_tenant_dba,
              sec_tenant_ingest, sec_tenant_nologin, sec_tenant_super, sec_tenant_bypass,
              sec_tenant_createrole, sec_tenant_replication, sec_tenant_files;
DROP ROLE sec_tenant_a, sec_tenant_b, sec_tenant_app, sec_tenant_plain, sec_tenant_dba,
          sec_tenant_ingest, sec_tenant_nologin, sec_tenant_super, sec_tenant_bypass,
          sec_tenant_createrole, sec_tenant_replication, sec_tenant_files;
TRUNCATE events, sellers, seller_roles;
