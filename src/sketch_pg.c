/*
 * sketch_pg.c
 *	  SQL interface of the percentile sketch: the percentile_sketch type, its
 *	  aggregates and its accessors.
 *
 * A thin layer over the pure-C core in sketch.c.  Stored values are the
 * core's canonical binary form in a varlena; text and binary input go
 * through the same validator (sketch_decode), so whatever arrives, a stored
 * sketch is one the add path could have built.  Aggregate states are Sketch
 * structs in the aggregate memory context; they serialize to the same
 * canonical form for parallel plans.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"

#include "sketch.h"
#include "sketch_pg.h"

#define ERRBUF_SIZE 160

/*
 * The aggregate state is the Sketch itself: one 256-byte block holding the
 * first 60 values, so 60k small groups stay within a few tens of megabytes.
 */
typedef Sketch SketchAggState;

StaticAssertDecl(sizeof(Sketch) <= 256, "a small sketch must fit in 256 bytes");

/* ---------------------------------------------------------------- helpers */

/* the core's allocator, on a memory context */
static void *
SketchRealloc(void *ptr, size_t size, void *arg)
{
	if (size == 0)
	{
		if (ptr != NULL)
			pfree(ptr);
		return NULL;
	}
	if (ptr == NULL)
		return MemoryContextAlloc((MemoryContext) arg, size);
	return repalloc(ptr, size);
}

/*
 * The allocator of an aggregate state: new memory goes to the context the
 * state itself lives in (the aggregate context), found only when needed,
 * so the per-row path does not look it up.
 */
static void *
SketchReallocNear(void *ptr, size_t size, void *state)
{
	if (ptr == NULL && size > 0)
		return MemoryContextAlloc(GetMemoryChunkContext(state), size);
	return SketchRealloc(ptr, size, NULL);
}

static SketchMem
MemIn(MemoryContext cxt)
{
	SketchMem	mem = {SketchRealloc, cxt};

	return mem;
}

/* "bucket index out of range" -> "Bucket index out of range." */
static char *
Sentence(const char *msg)
{
	char	   *s = psprintf("%s.", msg);

	s[0] = pg_toupper((unsigned char) s[0]);
	return s;
}

/* Report a failed core call on values or parameters (not on input). */
static void
CheckStatus(SketchStatus st, const char *err)
{
	switch (st)
	{
		case SKETCH_OK:
			return;
		case SKETCH_NAN:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("NaN not allowed in percentile_sketch"),
					 errhint("Exclude NaN values, for example with WHERE value <> 'NaN'.")));
			break;
		case SKETCH_INFINITE:
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("infinite value not allowed in percentile_sketch"),
					 errhint("Exclude infinite values, for example with WHERE value <> 'Infinity'.")));
			break;
		case SKETCH_OVERFLOW:
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("percentile_sketch value out of range"),
					 err && err[0] ? errdetail("%s", Sentence(err)) : 0));
			break;
		case SKETCH_NOMEM:
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
			break;
		case SKETCH_BAD_PARAM:
		case SKETCH_CORRUPT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid percentile_sketch parameter"),
					 err && err[0] ? errdetail("%s", Sentence(err)) : 0));
			break;
	}
}

/*
 * The relative error parameter: (0, 0.5) and no finer than scale 12.  A
 * one-entry memo keeps the per-row check of percentile_agg(x, e) cheap.
 */
static int
ScaleForError(double relative_error)
{
	static bool memo_valid = false;
	static double memo_error;
	static int	memo_scale;
	int			scale;

	if (memo_valid && relative_error == memo_error)
		return memo_scale;
	if (sketch_scale_for_error(relative_error, &scale) != SKETCH_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relative error %g is out of range", relative_error),
				 errdetail("The relative error must be at least %g and less than 0.5.",
						   sketch_error_for_scale(SKETCH_MAX_SCALE))));
	memo_error = relative_error;
	memo_scale = scale;
	memo_valid = true;
	return scale;
}

/* Decode a stored sketch into s (allocated in the current context). */
static void
DecodeDatum(Datum d, Sketch *s)
{
	bytea	   *b = PG_DETOAST_DATUM_PACKED(d);
	SketchMem	mem = MemIn(CurrentMemoryContext);
	char		err[ERRBUF_SIZE] = "";

	if (sketch_decode((const uint8_t *) VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b),
					  s, &mem, err, sizeof(err)) != SKETCH_OK)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("percentile_sketch value is corrupt"),
				 errdetail("%s", Sentence(err))));
}

/* The canonical binary form of s as a varlena (text = any varlena). */
static bytea *
EncodeVarlena(Sketch *s)
{
	SketchMem	mem = MemIn(CurrentMemoryContext);
	uint8_t    *bytes;
	size_t		len;
	bytea	   *result;

	CheckStatus(sketch_encode(s, &mem, &bytes, &len), NULL);
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), bytes, len);
	pfree(bytes);
	return result;
}

/* ---------------------------------------------------------------- type I/O */

/* Validate canonical bytes from outside; returns them as a varlena. */
static bytea *
ValidatedVarlena(const uint8_t *bytes, size_t len, bool text, const char *orig)
{
	Sketch		s;
	SketchMem	mem = MemIn(CurrentMemoryContext);
	char		err[ERRBUF_SIZE] = "";
	bytea	   *result;

	if (sketch_decode(bytes, len, &s, &mem, err, sizeof(err)) != SKETCH_OK)
	{
		if (text)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
					 errmsg("invalid input syntax for type %s: \"%s\"",
							"percentile_sketch", orig),
					 errdetail("%s", Sentence(err))));
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid binary data for type %s", "percentile_sketch"),
				 errdetail("%s", Sentence(err))));
	}
	sketch_free(&s, &mem);
	result = palloc(VARHDRSZ + len);
	SET_VARSIZE(result, VARHDRSZ + len);
	memcpy(VARDATA(result), bytes, len);
	return result;
}

PG_FUNCTION_INFO_V1(percentile_sketch_in);
Datum
percentile_sketch_in(PG_FUNCTION_ARGS)
{
	char	   *str = PG_GETARG_CSTRING(0);
	SketchMem	mem = MemIn(CurrentMemoryContext);
	char		err[ERRBUF_SIZE] = "";
	uint8_t    *bytes;
	size_t		len;
	SketchStatus st = sketch_parse(str, strlen(str), &mem, &bytes, &len,
								   err, sizeof(err));

	if (st == SKETCH_CORRUPT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("invalid input syntax for type %s: \"%s\"",
						"percentile_sketch", str),
				 errdetail("%s", Sentence(err))));
	CheckStatus(st, err);
	PG_RETURN_BYTEA_P(ValidatedVarlena(bytes, len, true, str));
}

PG_FUNCTION_INFO_V1(percentile_sketch_out);
Datum
percentile_sketch_out(PG_FUNCTION_ARGS)
{
	Sketch		s;
	SketchMem	mem = MemIn(CurrentMemoryContext);
	char	   *text;

	DecodeDatum(PG_GETARG_DATUM(0), &s);
	CheckStatus(sketch_format(&s, &mem, &text), NULL);
	sketch_free(&s, &mem);
	PG_RETURN_CSTRING(text);
}

PG_FUNCTION_INFO_V1(percentile_sketch_recv);
Datum
percentile_sketch_recv(PG_FUNCTION_ARGS)
{
	StringInfo	buf = (StringInfo) PG_GETARG_POINTER(0);
	int			len = buf->len - buf->cursor;
	const char *bytes = pq_getmsgbytes(buf, len);

	PG_RETURN_BYTEA_P(ValidatedVarlena((const uint8_t *) bytes, len, false, NULL));
}

PG_FUNCTION_INFO_V1(percentile_sketch_send);
Datum
percentile_sketch_send(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	StringInfoData buf;

	pq_begintypsend(&buf);
	pq_sendbytes(&buf, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b));
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

/* ---------------------------------------------------------------- aggregates */

static MemoryContext
AggContext(FunctionCallInfo fcinfo)
{
	MemoryContext aggcontext;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "percentile_sketch aggregate function called in non-aggregate context");
	return aggcontext;
}

/*
 * A row that adds nothing: the state (argument 0) unchanged, or SQL NULL
 * when there is none yet (a null pointer returned as non-null would reach
 * the final, serial and combine functions as a state).
 */
static Datum
KeepState(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	return PG_GETARG_DATUM(0);
}

static SketchAggState *
NewState(MemoryContext aggcontext, int scale)
{
	SketchAggState *state = MemoryContextAlloc(aggcontext, sizeof(SketchAggState));

	sketch_init(state, scale);
	return state;
}

/*
 * The state for this call: argument 0, or a new one for the relative error
 * in the aggregate context (only a group's first row needs to look it up).
 * Every row of a group must ask for the same precision (the same scale).
 */
static inline SketchAggState *
AggState(FunctionCallInfo fcinfo, double relative_error)
{
	int			scale;
	SketchAggState *state;

	/* most rows: an existing state of percentile_agg(x), default precision */
	if (PG_NARGS() == 2 && !PG_ARGISNULL(0))
		return (SketchAggState *) PG_GETARG_POINTER(0);
	scale = ScaleForError(relative_error);
	if (PG_ARGISNULL(0))
		return NewState(AggContext(fcinfo), scale);
	state = (SketchAggState *) PG_GETARG_POINTER(0);
	if (state->initial_scale != scale)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("relative error must be the same for every row of a group"),
				 errdetail("A row asks for relative error %g, which needs a different precision than the group's first row.",
						   relative_error)));
	return state;
}

/* the relative error argument (argument 2), when there is one */
static inline double
ErrorArg(FunctionCallInfo fcinfo)
{
	if (PG_NARGS() < 3)
		return SKETCH_DEFAULT_ERROR;
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relative error must not be null")));
	return PG_GETARG_FLOAT8(2);
}

/* Shared body of the transition functions: add with the given adder. */
static inline Datum
AggAdd(FunctionCallInfo fcinfo, double x, int64 i, bool is_int)
{
	SketchAggState *state = AggState(fcinfo, ErrorArg(fcinfo));
	SketchMem	mem = {SketchReallocNear, state};
	SketchStatus st = is_int ? sketch_add_int64(state, i, &mem) :
		sketch_add(state, x, &mem);

	/* the per-row path: no call at all when the value went in */
	if (unlikely(st != SKETCH_OK))
		CheckStatus(st, NULL);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(percentile_agg_trans_float8);
Datum
percentile_agg_trans_float8(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
		return KeepState(fcinfo);
	return AggAdd(fcinfo, PG_GETARG_FLOAT8(1), 0, false);
}

PG_FUNCTION_INFO_V1(percentile_agg_trans_int8);
Datum
percentile_agg_trans_int8(PG_FUNCTION_ARGS)
{
	if (PG_ARGISNULL(1))
		return KeepState(fcinfo);
	return AggAdd(fcinfo, 0.0, PG_GETARG_INT64(1), true);
}

PG_FUNCTION_INFO_V1(percentile_agg_trans_numeric);
Datum
percentile_agg_trans_numeric(PG_FUNCTION_ARGS)
{
	double		x;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo);
	x = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(1)));
	return AggAdd(fcinfo, x, 0, false);
}

/* percentile_merge's transition: fold a stored sketch into the state */
PG_FUNCTION_INFO_V1(percentile_merge_trans);
Datum
percentile_merge_trans(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo);
	SketchAggState *state;
	SketchMem	mem = MemIn(aggcontext);
	SketchMem	tmpmem = MemIn(CurrentMemoryContext);
	Sketch		s;

	if (PG_ARGISNULL(1))
		return KeepState(fcinfo);
	DecodeDatum(PG_GETARG_DATUM(1), &s);
	state = PG_ARGISNULL(0) ? NewState(aggcontext, s.scale) :
		(SketchAggState *) PG_GETARG_POINTER(0);
	CheckStatus(sketch_merge(state, &s, &mem), NULL);
	sketch_free(&s, &tmpmem);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(percentile_agg_combine);
Datum
percentile_agg_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext = AggContext(fcinfo);
	SketchMem	mem = MemIn(aggcontext);
	SketchAggState *a = PG_ARGISNULL(0) ? NULL : (SketchAggState *) PG_GETARG_POINTER(0);
	SketchAggState *b = PG_ARGISNULL(1) ? NULL : (SketchAggState *) PG_GETARG_POINTER(1);

	if (b == NULL)
		return KeepState(fcinfo);
	if (a == NULL)				/* copy into the aggregate context */
		a = NewState(aggcontext, b->initial_scale);
	CheckStatus(sketch_merge(a, b, &mem), NULL);
	PG_RETURN_POINTER(a);
}

PG_FUNCTION_INFO_V1(percentile_agg_serialize);
Datum
percentile_agg_serialize(PG_FUNCTION_ARGS)
{
	SketchAggState *state = (SketchAggState *) PG_GETARG_POINTER(0);
	bytea	   *b;
	Size		len;

	(void) AggContext(fcinfo);
	b = EncodeVarlena(state);
	/* append the requested scale, which the canonical form does not keep */
	len = VARSIZE(b);
	b = repalloc(b, len + 1);
	((uint8 *) b)[len] = (uint8) state->initial_scale;
	SET_VARSIZE(b, len + 1);
	PG_RETURN_BYTEA_P(b);
}

PG_FUNCTION_INFO_V1(percentile_agg_deserialize);
Datum
percentile_agg_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *b = PG_GETARG_BYTEA_PP(0);
	Size		len = VARSIZE_ANY_EXHDR(b);
	SketchAggState *state;

	/*
	 * In the current (per-input-tuple) context: the combine function copies
	 * what it keeps, so a deserialized state must not outlive its tuple.
	 */
	SketchMem	mem = MemIn(CurrentMemoryContext);
	char		err[ERRBUF_SIZE] = "";

	(void) AggContext(fcinfo);
	if (len < 1)
		elog(ERROR, "invalid serialized percentile_sketch state");
	state = palloc(sizeof(SketchAggState));
	if (sketch_decode((const uint8_t *) VARDATA_ANY(b), len - 1,
					  state, &mem, err, sizeof(err)) != SKETCH_OK)
		elog(ERROR, "invalid serialized percentile_sketch state: %s", err);
	state->initial_scale = (int8_t) ((const uint8 *) VARDATA_ANY(b))[len - 1];
	PG_RETURN_POINTER(state);
}

/*
 * The final function encodes the state.  Encoding flushes the pending
 * buffer into the dense windows, which changes the layout but not the
 * contents, so the state stays usable (FINALFUNC_MODIFY = READ_ONLY holds
 * in meaning).
 */
PG_FUNCTION_INFO_V1(percentile_agg_final);
Datum
percentile_agg_final(PG_FUNCTION_ARGS)
{
	SketchAggState *state;
	SketchMem	mem = MemIn(AggContext(fcinfo));

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	state = (SketchAggState *) PG_GETARG_POINTER(0);
	/* the windows the flush allocates must live as long as the state */
	CheckStatus(sketch_flush(state, &mem), NULL);
	PG_RETURN_BYTEA_P(EncodeVarlena(state));
}

/* ---------------------------------------------------------------- scalars */

/* sketch_add(sketch, value): NULL sketch starts a default one */
PG_FUNCTION_INFO_V1(percentile_sketch_add);
Datum
percentile_sketch_add(PG_FUNCTION_ARGS)
{
	Sketch		s;
	SketchMem	mem = MemIn(CurrentMemoryContext);

	if (PG_ARGISNULL(0))
		sketch_init(&s, ScaleForError(SKETCH_DEFAULT_ERROR));
	else
		DecodeDatum(PG_GETARG_DATUM(0), &s);
	if (!PG_ARGISNULL(1))
		CheckStatus(sketch_add(&s, PG_GETARG_FLOAT8(1), &mem), NULL);
	else if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	PG_RETURN_BYTEA_P(EncodeVarlena(&s));
}

/* sketch_merge(a, b): NULL is the empty sketch */
PG_FUNCTION_INFO_V1(percentile_sketch_merge);
Datum
percentile_sketch_merge(PG_FUNCTION_ARGS)
{
	Sketch		a,
				b;
	SketchMem	mem = MemIn(CurrentMemoryContext);

	if (PG_ARGISNULL(0) && PG_ARGISNULL(1))
		PG_RETURN_NULL();
	if (PG_ARGISNULL(0))
		PG_RETURN_DATUM(PG_GETARG_DATUM(1));
	if (PG_ARGISNULL(1))
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	DecodeDatum(PG_GETARG_DATUM(0), &a);
	DecodeDatum(PG_GETARG_DATUM(1), &b);
	CheckStatus(sketch_merge(&a, &b, &mem), NULL);
	PG_RETURN_BYTEA_P(EncodeVarlena(&a));
}

static void
CheckFraction(double q)
{
	if (isnan(q) || q < 0.0 || q > 1.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("percentile value %g is not between 0 and 1", q)));
}

PG_FUNCTION_INFO_V1(percentile_sketch_quantile);
Datum
percentile_sketch_quantile(PG_FUNCTION_ARGS)
{
	Sketch		s;
	double		q = PG_GETARG_FLOAT8(1);
	double		result;

	CheckFraction(q);
	DecodeDatum(PG_GETARG_DATUM(0), &s);
	if (!sketch_quantile(&s, q, &result))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(result);
}

/* a fraction and where its answer goes */
typedef struct Fraction
{
	double		q;
	int			pos;
} Fraction;

static int
CompareFractions(const void *a, const void *b)
{
	double		x = ((const Fraction *) a)->q;
	double		y = ((const Fraction *) b)->q;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/*
 * One answer per fraction, keeping the array's shape; NULL stays NULL.  The
 * fractions are sorted so that one walk of the buckets answers them all.
 */
PG_FUNCTION_INFO_V1(percentile_sketch_quantiles);
Datum
percentile_sketch_quantiles(PG_FUNCTION_ARGS)
{
	ArrayType  *qs = PG_GETARG_ARRAYTYPE_P(1);
	Sketch		s;
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				m = 0;
	Fraction   *fr;
	double	   *q,
			   *v;

	deconstruct_array(qs, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	fr = palloc(sizeof(Fraction) * (n + 1));
	for (int i = 0; i < n; i++)
		if (!nulls[i])
		{
			CheckFraction(DatumGetFloat8(elems[i]));
			fr[m].q = DatumGetFloat8(elems[i]);
			fr[m++].pos = i;
		}
	DecodeDatum(PG_GETARG_DATUM(0), &s);
	if (s.count == 0)
		PG_RETURN_NULL();
	qsort(fr, m, sizeof(Fraction), CompareFractions);
	q = palloc(sizeof(double) * (m + 1));
	v = palloc(sizeof(double) * (m + 1));
	for (int k = 0; k < m; k++)
		q[k] = fr[k].q;
	(void) sketch_quantiles_sorted(&s, q, m, v);
	for (int k = 0; k < m; k++)
		elems[fr[k].pos] = Float8GetDatum(v[k]);
	PG_RETURN_ARRAYTYPE_P(construct_md_array(elems, nulls, ARR_NDIM(qs),
											 ARR_DIMS(qs), ARR_LBOUND(qs),
											 FLOAT8OID, sizeof(float8),
											 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

PG_FUNCTION_INFO_V1(percentile_sketch_rank);
Datum
percentile_sketch_rank(PG_FUNCTION_ARGS)
{
	Sketch		s;
	double		v = PG_GETARG_FLOAT8(1);
	double		result;

	if (isnan(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot compute the rank of NaN")));
	DecodeDatum(PG_GETARG_DATUM(0), &s);
	if (!sketch_rank(&s, v, &result))
		PG_RETURN_NULL();
	PG_RETURN_FLOAT8(result);
}

PG_FUNCTION_INFO_V1(percentile_sketch_count);
Datum
percentile_sketch_count(PG_FUNCTION_ARGS)
{
	Sketch		s;

	DecodeDatum(PG_GETARG_DATUM(0), &s);
	if (s.count > (uint64_t) PG_INT64_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile_sketch count out of range for type bigint")));
	PG_RETURN_INT64((int64) s.count);
}

/* min, max, sum and mean share one body: NULL for an empty sketch */
enum SketchStat
{
	STAT_MIN, STAT_MAX, STAT_SUM, STAT_MEAN
};

static Datum
SketchStatDatum(FunctionCallInfo fcinfo, enum SketchStat which)
{
	Sketch		s;
	double		sum;

	DecodeDatum(PG_GETARG_DATUM(0), &s);
	if (s.count == 0)
		PG_RETURN_NULL();
	if (which == STAT_MIN)
		PG_RETURN_FLOAT8(s.min);
	if (which == STAT_MAX)
		PG_RETURN_FLOAT8(s.max);
	if (sketch_sum_double(&s, &sum) != SKETCH_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("percentile_sketch sum out of range for type double precision")));
	PG_RETURN_FLOAT8(which == STAT_SUM ? sum : sum / (double) s.count);
}

PG_FUNCTION_INFO_V1(percentile_sketch_min);
Datum
percentile_sketch_min(PG_FUNCTION_ARGS)
{
	return SketchStatDatum(fcinfo, STAT_MIN);
}

PG_FUNCTION_INFO_V1(percentile_sketch_max);
Datum
percentile_sketch_max(PG_FUNCTION_ARGS)
{
	return SketchStatDatum(fcinfo, STAT_MAX);
}

PG_FUNCTION_INFO_V1(percentile_sketch_sum);
Datum
percentile_sketch_sum(PG_FUNCTION_ARGS)
{
	return SketchStatDatum(fcinfo, STAT_SUM);
}

PG_FUNCTION_INFO_V1(percentile_sketch_mean);
Datum
percentile_sketch_mean(PG_FUNCTION_ARGS)
{
	return SketchStatDatum(fcinfo, STAT_MEAN);
}

PG_FUNCTION_INFO_V1(percentile_sketch_relative_error);
Datum
percentile_sketch_relative_error(PG_FUNCTION_ARGS)
{
	Sketch		s;

	DecodeDatum(PG_GETARG_DATUM(0), &s);
	PG_RETURN_FLOAT8(sketch_relative_error(&s));
}

/* ---------------------------------------------------------------- histogram */

/* a bigint[] of bucket counts: one dimension, no NULLs, none negative */
static uint64_t *
CountsArg(FunctionCallInfo fcinfo, int argno, size_t *n)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			len;
	uint64_t   *counts;

	*n = 0;
	if (PG_ARGISNULL(argno))
		return NULL;
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("bucket counts must be a one-dimensional array")));
	deconstruct_array(a, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &len);
	counts = palloc(sizeof(uint64_t) * (len + 1));
	for (int i = 0; i < len; i++)
	{
		if (nulls[i] || DatumGetInt64(elems[i]) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("bucket counts must be non-negative and not null")));
		counts[i] = (uint64_t) DatumGetInt64(elems[i]);
	}
	*n = len;
	return counts;
}

/*
 * percentile_sketch_from_histogram(scale, zero_count, positive_offset,
 *     positive_counts, negative_offset, negative_counts, min, max, sum):
 * an OpenTelemetry exponential histogram as a sketch.
 */
PG_FUNCTION_INFO_V1(percentile_sketch_from_histogram);
Datum
percentile_sketch_from_histogram(PG_FUNCTION_ARGS)
{
	SketchHistogram h;
	Sketch		s;
	SketchMem	mem = MemIn(CurrentMemoryContext);
	char		err[ERRBUF_SIZE] = "";
	SketchStatus st;

	memset(&h, 0, sizeof(h));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("scale and zero_count must not be null")));
	h.scale = PG_GETARG_INT32(0);
	if (PG_GETARG_INT64(1) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("zero_count must not be negative")));
	h.zero_count = (uint64_t) PG_GETARG_INT64(1);
	h.pos_offset = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2);
	h.pos_counts = CountsArg(fcinfo, 3, &h.npos);
	h.neg_offset = PG_ARGISNULL(4) ? 0 : PG_GETARG_INT32(4);
	h.neg_counts = CountsArg(fcinfo, 5, &h.nneg);
	h.has_min = !PG_ARGISNULL(6);
	h.min = h.has_min ? PG_GETARG_FLOAT8(6) : 0.0;
	h.has_max = !PG_ARGISNULL(7);
	h.max = h.has_max ? PG_GETARG_FLOAT8(7) : 0.0;
	h.has_sum = !PG_ARGISNULL(8);
	h.sum = h.has_sum ? PG_GETARG_FLOAT8(8) : 0.0;
	if (h.scale < 0 || h.scale > SKETCH_MAX_HIST_SCALE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("histogram scale %d is out of range", h.scale),
				 errdetail("Scales from 0 to %d are supported.", SKETCH_MAX_HIST_SCALE)));
	st = sketch_from_histogram(&s, &h, &mem, err, sizeof(err));
	if (st == SKETCH_BAD_PARAM)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid exponential histogram"),
				 errdetail("%s", Sentence(err))));
	CheckStatus(st, err);
	PG_RETURN_BYTEA_P(EncodeVarlena(&s));
}

/* ------------------------------------------------- for other C files */

SketchMem
sketch_pg_mem(MemoryContext cxt)
{
	return MemIn(cxt);
}

void
sketch_pg_check(SketchStatus st)
{
	CheckStatus(st, NULL);
}

bytea *
sketch_pg_encode(Sketch *s)
{
	return EncodeVarlena(s);
}

int
sketch_pg_default_scale(void)
{
	return ScaleForError(SKETCH_DEFAULT_ERROR);
}
