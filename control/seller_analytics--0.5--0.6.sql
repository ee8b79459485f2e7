/* control/seller_analytics--0.5--0.6.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.6'" to load this file. \quit

-------------------------------------------------------------------------------
-- issue 12: serving through a transaction pooler; the live read
-------------------------------------------------------------------------------

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

-- (end of section: issue 14)
