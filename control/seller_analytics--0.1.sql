/* control/seller_analytics--0.1.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION seller_analytics" to load this file. \quit

-------------------------------------------------------------------------------
-- percentile_sketch: a mergeable relative-error percentile sketch
-------------------------------------------------------------------------------

CREATE TYPE @extschema@.percentile_sketch;

CREATE FUNCTION @extschema@.percentile_sketch_in(cstring)
RETURNS @extschema@.percentile_sketch
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_sketch_out(@extschema@.percentile_sketch)
RETURNS cstring
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_sketch_recv(internal)
RETURNS @extschema@.percentile_sketch
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_sketch_send(@extschema@.percentile_sketch)
RETURNS bytea
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.percentile_sketch (
    INPUT = @extschema@.percentile_sketch_in,
    OUTPUT = @extschema@.percentile_sketch_out,
    RECEIVE = @extschema@.percentile_sketch_recv,
    SEND = @extschema@.percentile_sketch_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = int4,
    STORAGE = extended
);

COMMENT ON TYPE @extschema@.percentile_sketch IS
    'mergeable relative-error percentile sketch (log buckets, exact count, min, max and sum)';

-- aggregate support: internal state in the aggregate context

CREATE FUNCTION @extschema@.percentile_agg_trans(internal, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_float8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_trans(internal, double precision, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_float8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_trans(internal, bigint)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_int8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_trans(internal, bigint, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_int8'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_trans(internal, numeric)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_numeric'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_trans(internal, numeric, double precision)
RETURNS internal
AS 'MODULE_PATHNAME', 'percentile_agg_trans_numeric'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_merge_trans(internal, @extschema@.percentile_sketch)
RETURNS internal
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_combine(internal, internal)
RETURNS internal
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_serialize(internal)
RETURNS bytea
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_deserialize(bytea, internal)
RETURNS internal
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_agg_final(internal)
RETURNS @extschema@.percentile_sketch
AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE PARALLEL SAFE;

-- SSPACE: a state is one 256-byte block until it holds more than 60 values.

CREATE AGGREGATE @extschema@.percentile_agg(double precision) (
    SFUNC = @extschema@.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.percentile_agg(double precision, double precision) (
    SFUNC = @extschema@.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.percentile_agg(bigint) (
    SFUNC = @extschema@.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.percentile_agg(bigint, double precision) (
    SFUNC = @extschema@.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.percentile_agg(numeric) (
    SFUNC = @extschema@.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.percentile_agg(numeric, double precision) (
    SFUNC = @extschema@.percentile_agg_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

CREATE AGGREGATE @extschema@.percentile_merge(@extschema@.percentile_sketch) (
    SFUNC = @extschema@.percentile_merge_trans,
    STYPE = internal,
    SSPACE = 256,
    FINALFUNC = @extschema@.percentile_agg_final,
    COMBINEFUNC = @extschema@.percentile_agg_combine,
    SERIALFUNC = @extschema@.percentile_agg_serialize,
    DESERIALFUNC = @extschema@.percentile_agg_deserialize,
    PARALLEL = SAFE
);

COMMENT ON AGGREGATE @extschema@.percentile_agg(double precision) IS
    'percentile sketch of the values, relative error 0.005 or better';
COMMENT ON AGGREGATE @extschema@.percentile_agg(double precision, double precision) IS
    'percentile sketch of the values with the given relative error';
COMMENT ON AGGREGATE @extschema@.percentile_agg(bigint) IS
    'percentile sketch of the values (exact integer sum), relative error 0.005 or better';
COMMENT ON AGGREGATE @extschema@.percentile_agg(bigint, double precision) IS
    'percentile sketch of the values (exact integer sum) with the given relative error';
COMMENT ON AGGREGATE @extschema@.percentile_agg(numeric) IS
    'percentile sketch of the values converted to double precision, relative error 0.005 or better';
COMMENT ON AGGREGATE @extschema@.percentile_agg(numeric, double precision) IS
    'percentile sketch of the values converted to double precision with the given relative error';
COMMENT ON AGGREGATE @extschema@.percentile_merge(@extschema@.percentile_sketch) IS
    'merge of percentile sketches, identical to the sketch of all their values';

-- scalar functions

CREATE FUNCTION @extschema@.sketch_add(@extschema@.percentile_sketch, double precision)
RETURNS @extschema@.percentile_sketch
AS 'MODULE_PATHNAME', 'percentile_sketch_add'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_merge(@extschema@.percentile_sketch, @extschema@.percentile_sketch)
RETURNS @extschema@.percentile_sketch
AS 'MODULE_PATHNAME', 'percentile_sketch_merge'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE FUNCTION @extschema@.approx_percentile(@extschema@.percentile_sketch, double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_quantile'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.approx_percentile(@extschema@.percentile_sketch, double precision[])
RETURNS double precision[]
AS 'MODULE_PATHNAME', 'percentile_sketch_quantiles'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.approx_percentile_rank(@extschema@.percentile_sketch, double precision)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_rank'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_count(@extschema@.percentile_sketch)
RETURNS bigint
AS 'MODULE_PATHNAME', 'percentile_sketch_count'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_min(@extschema@.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_min'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_max(@extschema@.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_max'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_sum(@extschema@.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_sum'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_mean(@extschema@.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_mean'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.sketch_relative_error(@extschema@.percentile_sketch)
RETURNS double precision
AS 'MODULE_PATHNAME', 'percentile_sketch_relative_error'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION @extschema@.percentile_sketch_from_histogram(
    scale integer,
    zero_count bigint,
    positive_offset integer,
    positive_counts bigint[],
    negative_offset integer DEFAULT 0,
    negative_counts bigint[] DEFAULT '{}',
    min double precision DEFAULT NULL,
    max double precision DEFAULT NULL,
    sum double precision DEFAULT NULL)
RETURNS @extschema@.percentile_sketch
AS 'MODULE_PATHNAME', 'percentile_sketch_from_histogram'
LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.sketch_add(@extschema@.percentile_sketch, double precision) IS
    'the sketch with one more value (a NULL sketch starts a new one)';
COMMENT ON FUNCTION @extschema@.sketch_merge(@extschema@.percentile_sketch, @extschema@.percentile_sketch) IS
    'the sketch of the values of both sketches';
COMMENT ON FUNCTION @extschema@.approx_percentile(@extschema@.percentile_sketch, double precision) IS
    'percentile_disc answer within the relative error, clamped to [min, max]';
COMMENT ON FUNCTION @extschema@.approx_percentile(@extschema@.percentile_sketch, double precision[]) IS
    'percentile_disc answers for each fraction, within the relative error';
COMMENT ON FUNCTION @extschema@.approx_percentile_rank(@extschema@.percentile_sketch, double precision) IS
    'estimated fraction of values less than or equal to the value';
COMMENT ON FUNCTION @extschema@.sketch_count(@extschema@.percentile_sketch) IS
    'exact number of values';
COMMENT ON FUNCTION @extschema@.sketch_min(@extschema@.percentile_sketch) IS
    'exact smallest value';
COMMENT ON FUNCTION @extschema@.sketch_max(@extschema@.percentile_sketch) IS
    'exact largest value';
COMMENT ON FUNCTION @extschema@.sketch_sum(@extschema@.percentile_sketch) IS
    'exact sum of the values, correctly rounded';
COMMENT ON FUNCTION @extschema@.sketch_mean(@extschema@.percentile_sketch) IS
    'mean of the values (exact sum over exact count)';
COMMENT ON FUNCTION @extschema@.sketch_relative_error(@extschema@.percentile_sketch) IS
    'guaranteed relative error of this sketch''s percentiles';
COMMENT ON FUNCTION @extschema@.percentile_sketch_from_histogram(integer, bigint, integer, bigint[], integer, bigint[], double precision, double precision, double precision) IS
    'sketch from an OpenTelemetry exponential histogram (scale, zero count, offsets and bucket counts)';
