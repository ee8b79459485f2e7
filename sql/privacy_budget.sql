--
-- The privacy budget ledger: budgets in exact units of 1e-9 epsilon, grants,
-- the setting seller_analytics.privacy_budget, and the debit that every
-- evaluation of a noisy aggregate makes (spend_privacy_budget() makes it on
-- its own).  A debit is committed by a background worker before it returns,
-- so nothing the caller does afterwards gives it back.
--
-- The SQLSTATE of each error is printed after it (LAST_ERROR_SQLSTATE).
--
-- The ledger is append-only, so the test starts from a new extension.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS seller_analytics;
CREATE EXTENSION seller_analytics;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT rolname FROM pg_roles WHERE rolname LIKE 'pb\_%' LOOP
        EXECUTE format('DROP OWNED BY %I', r.rolname);
        EXECUTE format('DROP ROLE %I', r.rolname);
    END LOOP;
END
$$;
RESET client_min_messages;
\set SHOW_CONTEXT never

-- an analyst granted budgets, an analyst granted none, a seller's login, and
-- a login that is a seller and an analyst at once (assign_seller_role would
-- refuse to make it; a superuser can)
CREATE ROLE pb_analyst LOGIN IN ROLE seller_analytics_analyst;
CREATE ROLE pb_other LOGIN IN ROLE seller_analytics_analyst;
CREATE ROLE pb_seller LOGIN IN ROLE seller_analytics_seller;
CREATE ROLE pb_both LOGIN IN ROLE seller_analytics_seller, seller_analytics_analyst;

--
-- Units: exact integers.  A debit is what the noise is calibrated on:
-- epsilon rounded down to a multiple of 2^-32, then up to a unit, so 0.1
-- costs 100000000 units and the smallest debit is 2^-32 (1 unit).  A
-- budget's total is the double rounded down to a unit.
--
SELECT e, seller_analytics.privacy_epsilon_units(e) AS debit,
       seller_analytics.privacy_epsilon_units(e, false) AS total
FROM (VALUES (0.1::float8), (0.125), (0.25), (1), (1e-9), (2.5e-9), (1e9)) v(e);
SELECT seller_analytics.privacy_epsilon_units(2^(-32)) AS smallest_debit;
SELECT seller_analytics.privacy_epsilon_units(5e-324);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_epsilon_units(5e-324, false);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_epsilon_units('NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_epsilon_units('Infinity');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_epsilon_units(0);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_epsilon_units(-1);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_epsilon_units(1e10);
\echo :LAST_ERROR_SQLSTATE

--
-- Creating and granting budgets (the owner's business)
--
SELECT seller_analytics.create_privacy_budget('pb_main', 1.0);
SELECT seller_analytics.create_privacy_budget('pb_big', 10.0);
SELECT seller_analytics.create_privacy_budget('pb_small', 0.1);
SELECT seller_analytics.create_privacy_budget('pb_main', 2.0);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.create_privacy_budget('pb,comma', 1.0);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.create_privacy_budget(' pb_space', 1.0);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.create_privacy_budget('pb_nan', 'NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.create_privacy_budget('pb_tiny', 1e-10);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.create_privacy_budget('pb_zero', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT name, total_units, spent_units FROM seller_analytics.privacy_budgets ORDER BY name;

SELECT seller_analytics.grant_privacy_budget('pb_main', 'pb_analyst');
SELECT seller_analytics.grant_privacy_budget('pb_small', 'pb_analyst');
-- to a group role: all its members may spend
SELECT seller_analytics.grant_privacy_budget('pb_big', 'seller_analytics_analyst');
SELECT seller_analytics.grant_privacy_budget('pb_nothing', 'pb_analyst');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.grant_privacy_budget('pb_main', 'pb_nobody');
\echo :LAST_ERROR_SQLSTATE
-- sellers are never granted a budget
SELECT seller_analytics.grant_privacy_budget('pb_main', 'pb_seller');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.grant_privacy_budget('pb_main', 'seller_analytics_seller');
\echo :LAST_ERROR_SQLSTATE
SELECT budget, role, role_name FROM seller_analytics.privacy_budget_grants ORDER BY 1, 2::text;
-- analysts may do neither
SET ROLE pb_analyst;
SELECT seller_analytics.create_privacy_budget('pb_mine', 100);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.grant_privacy_budget('pb_main', 'pb_other');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--
-- The setting: budget names separated by commas
--
SET seller_analytics.privacy_budget = 'pb_main,';
\echo :LAST_ERROR_SQLSTATE
SET seller_analytics.privacy_budget = ',pb_main';
\echo :LAST_ERROR_SQLSTATE
SET seller_analytics.privacy_budget = pb_main, pb_big;
SHOW seller_analytics.privacy_budget;
RESET seller_analytics.privacy_budget;

--
-- Spending, as an analyst
--
SET ROLE pb_analyst;
-- no budget set
SELECT seller_analytics.spend_privacy_budget(0.25);
\echo :LAST_ERROR_SQLSTATE
-- a budget that does not exist
SET seller_analytics.privacy_budget = 'pb_nothing';
SELECT seller_analytics.spend_privacy_budget(0.25);
\echo :LAST_ERROR_SQLSTATE
SET seller_analytics.privacy_budget = 'pb_main';
SELECT seller_analytics.spend_privacy_budget('NaN');
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budget(0);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budget(0.25) AS units;
SELECT seller_analytics.privacy_budget_remaining('pb_main');
-- exhausted: its own SQLSTATE, and nothing spent
SELECT seller_analytics.spend_privacy_budget(0.8);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_main');

-- ROLLBACK does not refund
BEGIN;
SELECT seller_analytics.spend_privacy_budget(0.25) AS units;
ROLLBACK;
SELECT seller_analytics.privacy_budget_remaining('pb_main');
-- nor does an error later in the same statement
SELECT 1 / (seller_analytics.spend_privacy_budget(0.125) - 125000000) AS fails;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.spend_privacy_budget(0.125), 1 / 0 AS fails;
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_main');
-- nor a savepoint rolled back, nor the error that aborted the transaction
BEGIN;
SAVEPOINT s;
SELECT seller_analytics.spend_privacy_budget(0.0625) AS units;
ROLLBACK TO SAVEPOINT s;
SELECT seller_analytics.spend_privacy_budget(0.0625) AS units;
SELECT 1 / 0;
COMMIT;
SELECT seller_analytics.privacy_budget_remaining('pb_main');

-- several budgets: the debit comes from each, or from none
SET seller_analytics.privacy_budget = 'pb_main, pb_big';
SELECT seller_analytics.privacy_budget_remaining('pb_main') AS main,
       seller_analytics.privacy_budget_remaining('pb_big') AS big;
SELECT seller_analytics.spend_privacy_budget(0.5);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_main') AS main,
       seller_analytics.privacy_budget_remaining('pb_big') AS big;
SELECT seller_analytics.spend_privacy_budget(0.125) AS units;
SELECT seller_analytics.privacy_budget_remaining('pb_main') AS main,
       seller_analytics.privacy_budget_remaining('pb_big') AS big;
-- a name listed twice is spent from once
SET seller_analytics.privacy_budget = 'pb_big, pb_big';
SELECT seller_analytics.spend_privacy_budget(1) AS units;
SELECT seller_analytics.privacy_budget_remaining('pb_big');
-- the last unit
SET seller_analytics.privacy_budget = 'pb_main';
SELECT seller_analytics.spend_privacy_budget(0.125) AS units;
SELECT seller_analytics.spend_privacy_budget(1e-9);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_main');
RESET ROLE;

-- a role not granted the budget
SET ROLE pb_other;
SET seller_analytics.privacy_budget = 'pb_main';
SELECT seller_analytics.spend_privacy_budget(0.001);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_main');
\echo :LAST_ERROR_SQLSTATE
-- one of two not granted: nothing spent from the other
SET seller_analytics.privacy_budget = 'pb_big, pb_small';
SELECT seller_analytics.spend_privacy_budget(0.001);
\echo :LAST_ERROR_SQLSTATE
-- the group's budget
SET seller_analytics.privacy_budget = 'pb_big';
SELECT seller_analytics.spend_privacy_budget(0.5) AS units;
SELECT seller_analytics.privacy_budget_remaining('pb_big');
SELECT seller_analytics.privacy_budget_remaining('pb_nothing');
\echo :LAST_ERROR_SQLSTATE
-- the tables are the owner's
SELECT count(*) FROM seller_analytics.privacy_ledger;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--
-- Sellers neither spend nor read budgets: not with their own login, not
-- with a login that is also an analyst and was granted a budget behind
-- grant_privacy_budget's back, not through SET ROLE
--
INSERT INTO seller_analytics.privacy_budget_grants (budget, role, role_name)
VALUES ('pb_big', 'pb_both', 'pb_both');
SET SESSION AUTHORIZATION pb_seller;
SET seller_analytics.privacy_budget = 'pb_big';
SELECT seller_analytics.spend_privacy_budget(0.001);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_big');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM seller_analytics.privacy_ledger;
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION pb_both;
SET seller_analytics.privacy_budget = 'pb_big';
SELECT seller_analytics.spend_privacy_budget(0.001);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.privacy_budget_remaining('pb_big');
\echo :LAST_ERROR_SQLSTATE
RESET SESSION AUTHORIZATION;
SET ROLE pb_both;
SELECT seller_analytics.spend_privacy_budget(0.001);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--
-- Superusers spend any budget; the owner reads any, and spends what it was
-- granted like anyone else (it holds seller_analytics_seller only to grant
-- it: not a seller)
--
SET seller_analytics.privacy_budget = 'pb_small';
SELECT seller_analytics.spend_privacy_budget(0.05) AS units;
SET ROLE seller_analytics_owner;
SELECT seller_analytics.privacy_budget_remaining('pb_small');
SELECT seller_analytics.spend_privacy_budget(0.001);
\echo :LAST_ERROR_SQLSTATE
SELECT seller_analytics.grant_privacy_budget('pb_small', 'seller_analytics_owner');
SELECT seller_analytics.spend_privacy_budget(0.001) AS units;
RESET ROLE;

--
-- The ledger: one row per budget per debit, adding up to what was spent;
-- append-only, for the owner too
--
SELECT budget, units, epsilon, role_name, session_user_name,
       backend_pid = pg_backend_pid() AS this_backend
FROM seller_analytics.privacy_ledger ORDER BY id;
SELECT b.name, b.spent_units, coalesce(sum(l.units), 0) AS ledger_units
FROM seller_analytics.privacy_budgets b
LEFT JOIN seller_analytics.privacy_ledger l ON l.budget = b.name
GROUP BY 1, 2 ORDER BY 1;
UPDATE seller_analytics.privacy_ledger SET units = 1;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM seller_analytics.privacy_ledger;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE seller_analytics.privacy_ledger;
\echo :LAST_ERROR_SQLSTATE
UPDATE seller_analytics.privacy_budgets SET spent_units = 0;
\echo :LAST_ERROR_SQLSTATE
UPDATE seller_analytics.privacy_budgets SET total_units = total_units * 2;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM seller_analytics.privacy_budgets;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE seller_analytics.privacy_budgets CASCADE;
\echo :LAST_ERROR_SQLSTATE
SET ROLE seller_analytics_owner;
DELETE FROM seller_analytics.privacy_ledger;
\echo :LAST_ERROR_SQLSTATE
UPDATE seller_analytics.privacy_budgets SET spent_units = 0;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS ledger_rows FROM seller_analytics.privacy_ledger;

--
-- Clean up (the budgets stay: DROP EXTENSION is the only way to empty the
-- ledger)
--
RESET seller_analytics.privacy_budget;
DELETE FROM seller_analytics.privacy_budget_grants WHERE role_name LIKE 'pb\_%';
DROP ROLE pb_analyst, pb_other, pb_seller, pb_both;
