/* control/seller_analytics--0.4--0.5.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.5'" to load this file. \quit

-------------------------------------------------------------------------------
-- The noisy aggregates (doc/privacy.md)
--
--   noisy_count([seller_id,] epsilon)                          bigint
--   noisy_sum([seller_id,] value, lower, upper, epsilon)       double precision
--   noisy_avg([seller_id,] value, lower, upper, epsilon)       double precision
--   noisy_histogram([seller_id,] value, lower, upper, bins, epsilon)  bigint[]
--
-- The plain forms treat each row as one privacy unit; the forms with
-- seller_id first treat each seller as one (noisy_count counts sellers; the
-- others sum each seller's values, clamped, and clamp each seller's total).
-- Epsilon, the bounds and the bins are constants of the query.  The state
-- functions are deterministic and parallel safe; the final functions spend
-- epsilon from the session's privacy budgets (seller_analytics.privacy_budget)
-- and then add the noise, once per evaluation.
-------------------------------------------------------------------------------

CREATE FUNCTION seller_analytics.noisy_count_trans(internal, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_count_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_unit_count_trans(internal, bigint, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_unit_count_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_value_trans(internal, double precision,
    double precision, double precision, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_value_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_unit_value_trans(internal, bigint, double precision,
    double precision, double precision, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_unit_value_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_histogram_trans(internal, double precision,
    double precision, double precision, integer, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_histogram_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_unit_histogram_trans(internal, bigint, double precision,
    double precision, double precision, integer, double precision)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_unit_histogram_trans'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_combine(internal, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_combine'
LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_serialize(internal)
RETURNS bytea AS 'MODULE_PATHNAME', 'seller_analytics_noisy_serialize'
LANGUAGE C STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_deserialize(bytea, internal)
RETURNS internal AS 'MODULE_PATHNAME', 'seller_analytics_noisy_deserialize'
LANGUAGE C STRICT PARALLEL SAFE;

-- The final functions draw noise and spend a budget: volatile, and called
-- also when no row came (CALLED ON NULL INPUT), since an empty input is
-- released with noise like any other.
CREATE FUNCTION seller_analytics.noisy_count_final(internal)
RETURNS bigint AS 'MODULE_PATHNAME', 'seller_analytics_noisy_count_final'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_sum_final(internal)
RETURNS double precision AS 'MODULE_PATHNAME', 'seller_analytics_noisy_sum_final'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_avg_final(internal)
RETURNS double precision AS 'MODULE_PATHNAME', 'seller_analytics_noisy_avg_final'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.noisy_histogram_final(internal)
RETURNS bigint[] AS 'MODULE_PATHNAME', 'seller_analytics_noisy_histogram_final'
LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL SAFE;

CREATE AGGREGATE seller_analytics.noisy_count(epsilon double precision) (
    SFUNC = seller_analytics.noisy_count_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_count_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_count(seller_id bigint, epsilon double precision) (
    SFUNC = seller_analytics.noisy_unit_count_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_count_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_sum(value double precision, lower double precision,
                                            upper double precision, epsilon double precision) (
    SFUNC = seller_analytics.noisy_value_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_sum_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_sum(seller_id bigint, value double precision,
                                            lower double precision, upper double precision,
                                            epsilon double precision) (
    SFUNC = seller_analytics.noisy_unit_value_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_sum_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_avg(value double precision, lower double precision,
                                            upper double precision, epsilon double precision) (
    SFUNC = seller_analytics.noisy_value_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_avg_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_avg(seller_id bigint, value double precision,
                                            lower double precision, upper double precision,
                                            epsilon double precision) (
    SFUNC = seller_analytics.noisy_unit_value_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_avg_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_histogram(value double precision, lower double precision,
                                                  upper double precision, bins integer,
                                                  epsilon double precision) (
    SFUNC = seller_analytics.noisy_histogram_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_histogram_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

CREATE AGGREGATE seller_analytics.noisy_histogram(seller_id bigint, value double precision,
                                                  lower double precision, upper double precision,
                                                  bins integer, epsilon double precision) (
    SFUNC = seller_analytics.noisy_unit_histogram_trans, STYPE = internal,
    FINALFUNC = seller_analytics.noisy_histogram_final, FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = seller_analytics.noisy_combine,
    SERIALFUNC = seller_analytics.noisy_serialize,
    DESERIALFUNC = seller_analytics.noisy_deserialize,
    PARALLEL = SAFE);

COMMENT ON AGGREGATE seller_analytics.noisy_count(double precision) IS
    'the number of rows plus discrete Laplace noise of scale 1/epsilon; spends epsilon (each row is one privacy unit)';
COMMENT ON AGGREGATE seller_analytics.noisy_count(bigint, double precision) IS
    'the number of distinct sellers plus discrete Laplace noise of scale 1/epsilon; spends epsilon';
COMMENT ON AGGREGATE seller_analytics.noisy_sum(double precision, double precision, double precision, double precision) IS
    'the sum of values clamped to [lower, upper] plus noise of scale max(|lower|, |upper|)/epsilon; spends epsilon (each row is one privacy unit)';
COMMENT ON AGGREGATE seller_analytics.noisy_sum(bigint, double precision, double precision, double precision, double precision) IS
    'the sum over sellers of each seller''s total clamped to [lower, upper], plus noise of scale max(|lower|, |upper|)/epsilon; spends epsilon';
COMMENT ON AGGREGATE seller_analytics.noisy_avg(double precision, double precision, double precision, double precision) IS
    'the mean of values clamped to [lower, upper]: a midpoint-centred noisy sum over a noisy count, each with epsilon/2, clamped to [lower, upper]; spends epsilon (each row is one privacy unit)';
COMMENT ON AGGREGATE seller_analytics.noisy_avg(bigint, double precision, double precision, double precision, double precision) IS
    'the mean over sellers of each seller''s total clamped to [lower, upper], as noisy_avg; spends epsilon';
COMMENT ON AGGREGATE seller_analytics.noisy_histogram(double precision, double precision, double precision, integer, double precision) IS
    'counts of values in bins equal-width bins over [lower, upper] (values clamped), each plus noise of scale 1/epsilon; spends epsilon (each row is one privacy unit)';
COMMENT ON AGGREGATE seller_analytics.noisy_histogram(bigint, double precision, double precision, double precision, integer, double precision) IS
    'counts of sellers by their total clamped to [lower, upper], in bins equal-width bins, each plus noise of scale 1/epsilon; spends epsilon';

-------------------------------------------------------------------------------
-- Ownership and privileges: analysts and the owner run the noisy aggregates;
-- sellers never do (and every debit refuses them too).
-------------------------------------------------------------------------------

DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'seller_analytics'::regnamespace
          AND p.proname IN ('noisy_count_trans', 'noisy_unit_count_trans', 'noisy_value_trans',
                            'noisy_unit_value_trans', 'noisy_histogram_trans',
                            'noisy_unit_histogram_trans', 'noisy_combine', 'noisy_serialize',
                            'noisy_deserialize', 'noisy_count_final', 'noisy_sum_final',
                            'noisy_avg_final', 'noisy_histogram_final', 'noisy_count',
                            'noisy_sum', 'noisy_avg', 'noisy_histogram')
    LOOP
        EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO seller_analytics_owner', f);
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f);
    END LOOP;
END
$$;

GRANT EXECUTE ON FUNCTION
    seller_analytics.noisy_count(double precision),
    seller_analytics.noisy_count(bigint, double precision),
    seller_analytics.noisy_sum(double precision, double precision, double precision, double precision),
    seller_analytics.noisy_sum(bigint, double precision, double precision, double precision, double precision),
    seller_analytics.noisy_avg(double precision, double precision, double precision, double precision),
    seller_analytics.noisy_avg(bigint, double precision, double precision, double precision, double precision),
    seller_analytics.noisy_histogram(double precision, double precision, double precision, integer, double precision),
    seller_analytics.noisy_histogram(bigint, double precision, double precision, double precision, integer, double precision)
TO seller_analytics_analyst;
