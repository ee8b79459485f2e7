/* control/seller_analytics--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION seller_analytics" to load this file. \quit

-- The schema is created here, not named in the control file, so that it is a
-- member of the extension: DROP EXTENSION removes it with everything else.
-- An existing schema of that name is an error, not something to take over.
CREATE SCHEMA seller_analytics;
COMMENT ON SCHEMA seller_analytics IS 'seller_analytics extension: per-seller marketplace analytics';

-------------------------------------------------------------------------------
-- percentile_sketch: a mergeable relative-error percentile sketch
-------------------------------------------------------------------------------

CREATE TYPE seller_analytics.percentile_sketch;

CREATE FUNCTION seller_analytics.percentile_sketch_in(cstring)
RETURNS seller_analytics.percentile_sketch
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_sketch_out(seller_analytics.percentile_sketch)
RETURNS cstring
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_sketch_recv(internal)
RETURNS seller_analytics.percentile_sketch
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_sketch_send(seller_analytics.percentile_sketch)
RETURNS bytea
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE seller_analytics.percentile_sketch (
    INPUT = seller_analytics.percentile_sketch_in,
    OUTPUT = seller_analytics.percentile_sketch_out,
    RECEIVE = seller_analytics.percentile_sketch_recv,
    SEND = seller_analytics.percentile_sketch_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);

COMMENT ON TYPE seller_analytics.percentile_sketch IS
    'mergeable relative-error percentile sketch (log buckets, exact count, min, max and sum)';

-- aggregate support: internal state in the aggregate context

CREATE FUNCTION seller_analytics.percentile_agg_trans(internal, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_float8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_trans(internal, double precision, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_float8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_trans(internal, bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_int8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_trans(internal, bigint, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_int8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_trans(internal, numeric)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_numeric'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_trans(internal, numeric, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_numeric'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_merge_trans(internal, seller_analytics.percentile_sketch)
RETURNS internal
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_agg_final(internal)
RETURNS seller_analytics.percentile_sketch
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- SSPACE: a state is one 256-byte block until it holds more than 60 values.

CREATE AGGREGATE seller_analytics.percentile_agg(double precision) (
    SFUNC = seller_analytics.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE seller_analytics.percentile_agg(double precision, double precision) (
    SFUNC = seller_analytics.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE seller_analytics.percentile_agg(bigint) (
    SFUNC = seller_analytics.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE seller_analytics.percentile_agg(bigint, double precision) (
    SFUNC = seller_analytics.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE seller_analytics.percentile_agg(numeric) (
    SFUNC = seller_analytics.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE seller_analytics.percentile_agg(numeric, double precision) (
    SFUNC = seller_analytics.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE seller_analytics.percentile_merge(seller_analytics.percentile_sketch) (
    SFUNC = seller_analytics.percentile_merge_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = seller_analytics.percentile_agg_final,
    COMBINEFUNC = seller_analytics.percentile_agg_combine,
    SERIALFUNC = seller_analytics.percentile_agg_serialize,
    DESERIALFUNC = seller_analytics.percentile_agg_deserialize,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE seller_analytics.percentile_agg(double precision) IS
    'percentile sketch of the values, relative error 0.005 or better';
COMMENT ON AGGREGATE seller_analytics.percentile_agg(double precision, double precision) IS
    'percentile sketch of the values with the given relative error (coarser only for data spanning more than 65536 buckets of one sign)';
COMMENT ON AGGREGATE seller_analytics.percentile_agg(bigint) IS
    'percentile sketch of the values (exact integer sum), relative error 0.005 or better';
COMMENT ON AGGREGATE seller_analytics.percentile_agg(bigint, double precision) IS
    'percentile sketch of the values (exact integer sum) with the given relative error (coarser only for data spanning more than 65536 buckets of one sign)';
COMMENT ON AGGREGATE seller_analytics.percentile_agg(numeric) IS
    'percentile sketch of the values converted to double precision, relative error 0.005 or better';
COMMENT ON AGGREGATE seller_analytics.percentile_agg(numeric, double precision) IS
    'percentile sketch of the values converted to double precision with the given relative error (coarser only for data spanning more than 65536 buckets of one sign)';
COMMENT ON AGGREGATE seller_analytics.percentile_merge(seller_analytics.percentile_sketch) IS
    'merge of percentile sketches, identical to the sketch of all their values';

-- scalar functions

CREATE FUNCTION seller_analytics.sketch_add(seller_analytics.percentile_sketch, double precision)
RETURNS seller_analytics.percentile_sketch
AS 'MODULE_PATHNAME', 'percentile_sketch_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_merge(seller_analytics.percentile_sketch, seller_analytics.percentile_sketch)
RETURNS seller_analytics.percentile_sketch
AS 'MODULE_PATHNAME', 'percentile_sketch_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION seller_analytics.approx_percentile(seller_analytics.percentile_sketch, double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.approx_percentile(seller_analytics.percentile_sketch, double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'percentile_sketch_quantiles'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.approx_percentile_rank(seller_analytics.percentile_sketch, double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_rank'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_count(seller_analytics.percentile_sketch)
RETURNS bigint
AS 'MODULE_PATHNAME', 'percentile_sketch_count'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_min(seller_analytics.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_min'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_max(seller_analytics.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_max'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_sum(seller_analytics.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_sum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_mean(seller_analytics.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_mean'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.sketch_relative_error(seller_analytics.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_relative_error'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION seller_analytics.percentile_sketch_from_histogram(
    scale integer,
    zero_count bigint,
    positive_offset integer,
    positive_counts bigint[],
    negative_offset integer DEFAULT 0,
    negative_counts bigint[] DEFAULT '{}',
    min double precision DEFAULT NULL,
    max double precision DEFAULT NULL,
    sum double precision DEFAULT NULL)
RETURNS seller_analytics.percentile_sketch
AS 'MODULE_PATHNAME', 'percentile_sketch_from_histogram'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION seller_analytics.sketch_add(seller_analytics.percentile_sketch, double precision) IS
    'the sketch with one more value (a NULL sketch starts a new one)';
COMMENT ON FUNCTION seller_analytics.sketch_merge(seller_analytics.percentile_sketch, seller_analytics.percentile_sketch) IS
    'the sketch of the values of both sketches';
COMMENT ON FUNCTION seller_analytics.approx_percentile(seller_analytics.percentile_sketch, double precision) IS
    'percentile_disc answer within the relative error, clamped to [min, max]';
COMMENT ON FUNCTION seller_analytics.approx_percentile(seller_analytics.percentile_sketch, double precision[]) IS
    'percentile_disc answers for each fraction, within the relative error';
COMMENT ON FUNCTION seller_analytics.approx_percentile_rank(seller_analytics.percentile_sketch, double precision) IS
    'estimated fraction of values less than or equal to the value';
COMMENT ON FUNCTION seller_analytics.sketch_count(seller_analytics.percentile_sketch) IS
    'exact number of values';
COMMENT ON FUNCTION seller_analytics.sketch_min(seller_analytics.percentile_sketch) IS
    'exact smallest value';
COMMENT ON FUNCTION seller_analytics.sketch_max(seller_analytics.percentile_sketch) IS
    'exact largest value';
COMMENT ON FUNCTION seller_analytics.sketch_sum(seller_analytics.percentile_sketch) IS
    'exact sum of the values, correctly rounded';
COMMENT ON FUNCTION seller_analytics.sketch_mean(seller_analytics.percentile_sketch) IS
    'mean of the values (exact sum over exact count)';
COMMENT ON FUNCTION seller_analytics.sketch_relative_error(seller_analytics.percentile_sketch) IS
    'guaranteed relative error of this sketch''s percentiles';
COMMENT ON FUNCTION seller_analytics.percentile_sketch_from_histogram(integer, bigint, integer, bigint[], integer, bigint[], double precision, double precision, double precision) IS
    'sketch from an OpenTelemetry exponential histogram (scale, zero count, offsets and bucket counts)';
