/* control/seller_analytics--0.3--0.4.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.4'" to load this file. \quit

-------------------------------------------------------------------------------
-- The privacy budget ledger (doc/privacy.md)
--
-- A budget is an amount of epsilon, kept in exact integer units of 1e-9
-- epsilon.  The owner creates budgets and grants them to roles; a session
-- names the budgets its noisy aggregates spend from in the setting
-- seller_analytics.privacy_budget.  Every evaluation of a noisy aggregate
-- debits its epsilon from each of them before it yields a value, in a
-- transaction of its own (a background worker, src/dp_budget.c), so that
-- nothing the caller does afterwards can undo the debit.
--
--   privacy_budgets        one row per budget: total and spent units
--   privacy_budget_grants  which roles (and their members) may spend which
--                          budget
--   privacy_ledger         one row per budget per debit; append-only
--
-- Sellers (members of seller_analytics_seller) never spend a budget, read
-- the ledger or learn what is left.
-------------------------------------------------------------------------------

CREATE TABLE seller_analytics.privacy_budgets (
    name            text PRIMARY KEY
        CONSTRAINT privacy_budgets_name_check
        CHECK (name OPERATOR(pg_catalog.~) '^[^,[:space:]]([^,]*[^,[:space:]])?$'
               AND pg_catalog.octet_length(name) OPERATOR(pg_catalog.<=) 200),
    total_units     bigint NOT NULL CHECK (total_units OPERATOR(pg_catalog.>) 0),
    spent_units     bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT privacy_budgets_spent_check
        CHECK (spent_units OPERATOR(pg_catalog.>=) 0
               AND spent_units OPERATOR(pg_catalog.<=) total_units)
);

COMMENT ON TABLE seller_analytics.privacy_budgets IS
    'privacy budgets: total and spent epsilon in units of 1e-9; spent_units only grows';

CREATE TABLE seller_analytics.privacy_budget_grants (
    budget          text NOT NULL REFERENCES seller_analytics.privacy_budgets (name),
    role            regrole NOT NULL,
    role_name       name NOT NULL,
    granted_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    PRIMARY KEY (budget, role)
);

COMMENT ON TABLE seller_analytics.privacy_budget_grants IS
    'roles whose members may spend a budget (grant_privacy_budget); a row counts while role_name is the role''s name';

CREATE TABLE seller_analytics.privacy_ledger (
    id              bigserial PRIMARY KEY,
    budget          text NOT NULL REFERENCES seller_analytics.privacy_budgets (name),
    units           bigint NOT NULL CHECK (units OPERATOR(pg_catalog.>) 0),
    epsilon         double precision NOT NULL,
    role_name       name NOT NULL,
    session_user_name name NOT NULL,
    backend_pid     integer NOT NULL,
    at              timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp()
);

CREATE INDEX privacy_ledger_budget ON seller_analytics.privacy_ledger (budget, id);

COMMENT ON TABLE seller_analytics.privacy_ledger IS
    'every debit of a privacy budget, one row per budget (append-only): units of 1e-9 epsilon, the epsilon asked for, current_user and session_user of the spender and its backend';

SELECT pg_catalog.pg_extension_config_dump('seller_analytics.privacy_budgets', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.privacy_budget_grants', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.privacy_ledger', '');
SELECT pg_catalog.pg_extension_config_dump('seller_analytics.privacy_ledger_id_seq', '');

-- The history cannot be rewritten, not even by the owner: the ledger takes
-- INSERT only, and a budget's spent_units only grows.  (DROP EXTENSION
-- drops the tables without firing these.)
CREATE FUNCTION seller_analytics.privacy_ledger_append_only()
RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_TABLE_NAME = 'privacy_budgets' AND TG_OP = 'UPDATE' THEN
        IF NEW.name IS DISTINCT FROM OLD.name
           OR NEW.total_units IS DISTINCT FROM OLD.total_units
           OR NEW.created_at IS DISTINCT FROM OLD.created_at
           OR NEW.spent_units < OLD.spent_units THEN
            RAISE EXCEPTION 'privacy budget "%" can only be spent', OLD.name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = 'Its name, total and creation time are fixed, and what was spent is never given back.';
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'cannot % %.%', pg_catalog.lower(TG_OP), TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = 'The privacy budget ledger is append-only: what was spent stays spent.';
END
$$;

COMMENT ON FUNCTION seller_analytics.privacy_ledger_append_only() IS
    'trigger: refuses UPDATE, DELETE and TRUNCATE of privacy_ledger, and of privacy_budgets all but a growing spent_units';

CREATE TRIGGER append_only
    BEFORE UPDATE OR DELETE ON seller_analytics.privacy_ledger
    FOR EACH ROW EXECUTE FUNCTION seller_analytics.privacy_ledger_append_only();
CREATE TRIGGER append_only_truncate
    BEFORE TRUNCATE ON seller_analytics.privacy_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION seller_analytics.privacy_ledger_append_only();
CREATE TRIGGER spend_only
    BEFORE UPDATE OR DELETE ON seller_analytics.privacy_budgets
    FOR EACH ROW EXECUTE FUNCTION seller_analytics.privacy_ledger_append_only();
CREATE TRIGGER spend_only_truncate
    BEFORE TRUNCATE ON seller_analytics.privacy_budgets
    FOR EACH STATEMENT EXECUTE FUNCTION seller_analytics.privacy_ledger_append_only();

-------------------------------------------------------------------------------
-- Functions
-------------------------------------------------------------------------------

CREATE FUNCTION seller_analytics.privacy_epsilon_units(epsilon double precision,
                                                       round_up boolean DEFAULT true)
RETURNS bigint
AS 'MODULE_PATHNAME', 'seller_analytics_privacy_epsilon_units'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION seller_analytics.privacy_epsilon_units(double precision, boolean) IS
    'epsilon in exact units of 1e-9, rounded up (what a debit costs) or down (what a budget holds)';

CREATE FUNCTION seller_analytics.create_privacy_budget(name text, epsilon double precision)
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
    'creates a privacy budget of epsilon (rounded down to units of 1e-9)';

CREATE FUNCTION seller_analytics.grant_privacy_budget(name text, role_name name)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    IF name IS NULL OR role_name IS NULL THEN
        RAISE EXCEPTION 'grant_privacy_budget needs a budget name and a role name'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM FROM seller_analytics.privacy_budgets b
    WHERE b.name = grant_privacy_budget.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'privacy budget "%" does not exist', name
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT a.oid, a.rolname, a.rolsuper INTO r
    FROM pg_roles a WHERE a.rolname = grant_privacy_budget.role_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'role "%" does not exist', role_name
            USING ERRCODE = 'undefined_object';
    END IF;
    -- sellers never spend a budget: refused here, and at every debit (the
    -- owner holds seller_analytics_seller only to grant it)
    IF NOT r.rolsuper AND pg_has_role(r.oid, 'seller_analytics_seller', 'MEMBER')
       AND NOT pg_has_role(r.oid, 'seller_analytics_owner', 'MEMBER') THEN
        RAISE EXCEPTION 'role "%" is a member of seller_analytics_seller', r.rolname
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'Sellers read released benchmarks; they never spend a privacy budget.';
    END IF;
    INSERT INTO seller_analytics.privacy_budget_grants AS g (budget, role, role_name)
    VALUES (grant_privacy_budget.name, r.oid::regrole, r.rolname)
    ON CONFLICT (budget, role) DO UPDATE SET role_name = excluded.role_name;
END
$$;

COMMENT ON FUNCTION seller_analytics.grant_privacy_budget(text, name) IS
    'lets a role and its members spend a privacy budget';

CREATE FUNCTION seller_analytics.privacy_budget_remaining(name text)
RETURNS double precision
AS 'MODULE_PATHNAME', 'seller_analytics_privacy_budget_remaining'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.privacy_budget_remaining(text) IS
    'the epsilon left in a privacy budget the caller may spend (or, for the owner, any budget)';

CREATE FUNCTION seller_analytics.spend_privacy_budget(epsilon double precision)
RETURNS bigint
AS 'MODULE_PATHNAME', 'seller_analytics_spend_privacy_budget'
LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION seller_analytics.spend_privacy_budget(double precision) IS
    'debits epsilon from every budget named in seller_analytics.privacy_budget, committed at once and for good, as a noisy aggregate does; returns the units debited from each';

-------------------------------------------------------------------------------
-- Ownership, row-level security, privileges
-------------------------------------------------------------------------------

ALTER TABLE seller_analytics.privacy_budgets OWNER TO seller_analytics_owner;
ALTER TABLE seller_analytics.privacy_budget_grants OWNER TO seller_analytics_owner;
ALTER TABLE seller_analytics.privacy_ledger OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.privacy_ledger_append_only() OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.privacy_epsilon_units(double precision, boolean) OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.create_privacy_budget(text, double precision) OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.grant_privacy_budget(text, name) OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.privacy_budget_remaining(text) OWNER TO seller_analytics_owner;
ALTER FUNCTION seller_analytics.spend_privacy_budget(double precision) OWNER TO seller_analytics_owner;

ALTER TABLE seller_analytics.privacy_budgets ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.privacy_budget_grants ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
ALTER TABLE seller_analytics.privacy_ledger ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;

CREATE POLICY owner_all ON seller_analytics.privacy_budgets TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.privacy_budget_grants TO seller_analytics_owner USING (true) WITH CHECK (true);
CREATE POLICY owner_all ON seller_analytics.privacy_ledger TO seller_analytics_owner USING (true) WITH CHECK (true);

-- the owner creates and grants budgets; analysts (and the owner) spend the
-- budgets granted to them and see what is left; sellers none of it
REVOKE EXECUTE ON FUNCTION
    seller_analytics.privacy_ledger_append_only(),
    seller_analytics.create_privacy_budget(text, double precision),
    seller_analytics.grant_privacy_budget(text, name),
    seller_analytics.privacy_budget_remaining(text),
    seller_analytics.spend_privacy_budget(double precision)
FROM PUBLIC;

GRANT EXECUTE ON FUNCTION seller_analytics.privacy_budget_remaining(text),
                          seller_analytics.spend_privacy_budget(double precision)
    TO seller_analytics_analyst;
