/*
 * dp_aggregate.c
 *	  The noisy aggregates: noisy_count, noisy_sum, noisy_avg and
 *	  noisy_histogram, each in a plain form (every row is one privacy unit)
 *	  and a form that takes the privacy unit (seller_id bigint) first.
 *
 * The state functions are deterministic and parallel safe: they accumulate
 * exact integers (a count, a sum of fixed-point values in 128 bits, bin
 * counts, or each unit's total), so the true aggregate does not depend on
 * the order of the rows or on how a parallel plan splits them.  The final
 * function, which runs once per evaluation in the leader, calibrates the
 * mechanism (src/dp_mech.c), debits its epsilon from the session's privacy
 * budgets (src/dp_budget.c; committed before anything is returned), and
 * only then draws the noise from pg_strong_random().
 *
 * The privacy parameters (epsilon, the bounds, the number of bins) are
 * public: they must be constants of the query, never functions of the data,
 * or the noise scale, the debit, or an error would release something.  The
 * first state-function call of a group checks the argument expressions of
 * the aggregate call (a literal, a query parameter, or an immutable or
 * stable expression of those) and keeps their values; states combined from
 * parallel workers must agree on them; and the final function, which must
 * also release a value when no row came, evaluates them itself.
 *
 * Values: NULL is skipped (as is a row whose unit is NULL); NaN or an
 * infinity is an error; values are clamped to [lower, upper], and in the
 * per-unit forms each unit's total is clamped too.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "libpq/pqformat.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "nodes/nodeFuncs.h"
#include "parser/parsetree.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "dp_budget.h"
#include "dp_mech.h"

/* ---------------------------------------------------------------------
 * The state
 * ---------------------------------------------------------------------
 */

/* a unit's running total, in a simplehash table keyed by the unit */
typedef struct UnitEntry
{
	int64		unit;
	int128		total;			/* of fixed-point values; 0 for counts */
	char		status;
} UnitEntry;

/* the 64-bit finalizer of MurmurHash3: every bit of a unit moves the hash */
static inline uint32
HashUnit(int64 unit)
{
	uint64		h = (uint64) unit;

	h ^= h >> 33;
	h *= UINT64CONST(0xff51afd7ed558ccd);
	h ^= h >> 33;
	h *= UINT64CONST(0xc4ceb9fe1a85ec53);
	h ^= h >> 33;
	return (uint32) h;
}

#define SH_PREFIX units
#define SH_ELEMENT_TYPE UnitEntry
#define SH_KEY_TYPE int64
#define SH_KEY unit
#define SH_HASH_KEY(tb, key) HashUnit(key)
#define SH_EQUAL(tb, a, b) ((a) == (b))
#define SH_SCOPE static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

/* which of the state functions made a state; stored in serialized states */
typedef enum DpInput
{
	DP_INPUT_COUNT = 1,			/* noisy_count(epsilon) */
	DP_INPUT_VALUE,				/* noisy_sum, noisy_avg */
	DP_INPUT_HISTOGRAM			/* noisy_histogram */
} DpInput;

/* the parameters of one aggregate call: the last nparams arguments */
typedef struct DpParams
{
	double		epsilon;
	double		lower;
	double		upper;
	int32		bins;
} DpParams;

typedef struct DpAggState
{
	DpInput		input;
	bool		per_unit;
	DpParams	params;			/* as given (0 where not taken) */
	DpMech		grid;			/* the accumulation grid they define,
								 * calibrated as a sum, a count or a
								 * histogram; the final function calibrates
								 * its own mechanism from the parameters */
	/* plain forms */
	int64		n;				/* rows */
	int128		sum;			/* of fixed-point values */
	int64	   *counts;			/* histogram: bins */
	/* per-unit forms */
	units_hash *units;
} DpAggState;

/* what a state function or final function caches in fn_extra */
typedef struct DpCallInfo
{
	bool		checked;		/* the parameter expressions are constant */
	const char *name;			/* of the aggregate, for messages */
} DpCallInfo;

/* ---------------------------------------------------------------------
 * Randomness: pg_strong_random, whose failure is an error
 * ---------------------------------------------------------------------
 */

static int
StrongRandom(void *ctx, uint8_t *buf, size_t len)
{
	return pg_strong_random(buf, len) ? 0 : -1;
}

static const DpRandom server_random = {StrongRandom, NULL};

static void
ReportRelease(DpStatus st, const char *name)
{
	if (st == DP_OK)
		return;
	if (st == DP_ERR_RANDOM)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random numbers for %s", name),
				 errdetail("The privacy budget was spent; no value was released.")));
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("%s is out of range", name),
			 errdetail("The privacy budget was spent; no value was released.")));
}

/* ---------------------------------------------------------------------
 * The call: its context, its name and its parameters
 * ---------------------------------------------------------------------
 */

/*
 * The call's cached information, made at its first call, which refuses a
 * window (every call of a window aggregate's functions goes through the
 * same FmgrInfo, so the first one is always checked) and a caller that is
 * not an aggregate.
 */
static DpCallInfo *
CallInfo(FunctionCallInfo fcinfo)
{
	DpCallInfo *info = (DpCallInfo *) fcinfo->flinfo->fn_extra;
	Aggref	   *aggref;

	if (info == NULL)
	{
		if (AggCheckCallContext(fcinfo, NULL) == AGG_CONTEXT_WINDOW)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("noisy aggregates cannot be used as window functions"),
					 errdetail("A noisy aggregate releases one value per evaluation, and spends its epsilon each time.")));
		aggref = AggGetAggref(fcinfo);
		if (aggref == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("noisy aggregate support functions can only be called by the aggregate")));
		info = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(DpCallInfo));
		info->name = MemoryContextStrdup(fcinfo->flinfo->fn_mcxt,
										 get_func_name(aggref->aggfnoid));
		fcinfo->flinfo->fn_extra = info;
	}
	return info;
}

/*
 * Whether an expression has the same value on every row and depends on no
 * data: no column, no subquery, no executor parameter (a correlated outer
 * column or an init plan's result), nothing volatile.  Query parameters
 * (PARAM_EXTERN: $1, PL/pgSQL variables) are fine.
 */
static bool
NotConstantWalker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (IsA(node, Var) || IsA(node, SubPlan) || IsA(node, AlternativeSubPlan) ||
		IsA(node, SubLink) || IsA(node, Aggref) || IsA(node, WindowFunc) ||
		IsA(node, GroupingFunc) || IsA(node, PlaceHolderVar))
		return true;
	if (IsA(node, Param) && ((Param *) node)->paramkind != PARAM_EXTERN)
		return true;
	return expression_tree_walker(node, NotConstantWalker, context);
}

static const char *const param_names[] = {"epsilon", "the lower bound", "the upper bound", "the number of bins"};

/*
 * The Aggref of the partial aggregation below a finalizing one: the
 * finalizing Aggref's one argument is a reference to the partial
 * aggregate's output, followed down the plan (through Gather, Sort, Append
 * and the like) as EXPLAIN does.
 */
static Aggref *
PartialAggref(FunctionCallInfo fcinfo, Aggref *aggref)
{
	Plan	   *plan = ((AggState *) fcinfo->context)->ss.ps.plan;
	Expr	   *e = ((TargetEntry *) linitial(aggref->args))->expr;

	for (int depth = 0; depth < 64 && plan != NULL; depth++)
	{
		Var		   *var;
		Plan	   *child;
		TargetEntry *tle;

		if (IsA(e, Aggref))
			return (Aggref *) e;
		if (!IsA(e, Var))
			break;
		var = (Var *) e;
		if (var->varno == OUTER_VAR && IsA(plan, Append))
			child = linitial(((Append *) plan)->appendplans);
		else if (var->varno == OUTER_VAR && IsA(plan, MergeAppend))
			child = linitial(((MergeAppend *) plan)->mergeplans);
		else if (var->varno == OUTER_VAR)
			child = outerPlan(plan);
		else if (var->varno == INNER_VAR)
			child = innerPlan(plan);
		else
			break;
		if (child == NULL ||
			(tle = get_tle_by_resno(child->targetlist, var->varattno)) == NULL)
			break;
		e = tle->expr;
		plan = child;
	}
	elog(ERROR, "could not find the partial aggregation of a noisy aggregate");
	return NULL;				/* keep the compiler quiet */
}

/* the parameter expressions of the call: the last nparams arguments */
static void
ParamExprs(FunctionCallInfo fcinfo, int nparams, Expr **exprs)
{
	Aggref	   *aggref = AggGetAggref(fcinfo);
	int			nargs;
	ListCell   *lc;

	if (DO_AGGSPLIT_COMBINE(aggref->aggsplit))
		aggref = PartialAggref(fcinfo, aggref);
	/* the arguments proper; an ORDER BY adds resjunk entries after them */
	nargs = 0;
	foreach(lc, aggref->args)
		if (!((TargetEntry *) lfirst(lc))->resjunk)
			nargs++;
	if (nargs < nparams)
		elog(ERROR, "a noisy aggregate has %d arguments, fewer than %d", nargs, nparams);
	for (int i = 0; i < nparams; i++)
	{
		TargetEntry *tle = list_nth(aggref->args, nargs - nparams + i);

		Assert(!tle->resjunk);
		exprs[i] = tle->expr;
	}
}

/* which parameter (epsilon, lower, upper, bins) the i-th of nparams is */
static int
ParamRole(int nparams, int i)
{
	if (nparams == 1)
		return 0;				/* epsilon */
	if (i == nparams - 1)
		return 0;				/* epsilon is last */
	return i + 1;				/* lower, upper, bins */
}

static void
ReportNotConstant(const char *name, int role)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s of %s must be a constant", param_names[role], name),
			 errdetail("Epsilon, the bounds and the number of bins are public: the same on every row, and never computed from the data."),
			 errhint("Pass a literal, a query parameter, or an expression of those.")));
}

/* checks, once per call site, that the parameter expressions are constant */
static void
CheckParamsConstant(FunctionCallInfo fcinfo, DpCallInfo *info, int nparams)
{
	Expr	   *exprs[4];

	if (info->checked)
		return;
	ParamExprs(fcinfo, nparams, exprs);
	for (int i = 0; i < nparams; i++)
		if (NotConstantWalker((Node *) exprs[i], NULL) ||
			contain_volatile_functions((Node *) exprs[i]))
			ReportNotConstant(info->name, ParamRole(nparams, i));
	info->checked = true;
}

static void
SetParam(DpParams *p, int role, Datum d)
{
	switch (role)
	{
		case 0:
			p->epsilon = DatumGetFloat8(d);
			break;
		case 1:
			p->lower = DatumGetFloat8(d);
			break;
		case 2:
			p->upper = DatumGetFloat8(d);
			break;
		default:
			p->bins = DatumGetInt32(d);
	}
}

static void
ReportNullParam(const char *name, int role)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s of %s must not be null", param_names[role], name)));
}

/* the parameters from a row's arguments (from argument first) */
static void
RowParams(FunctionCallInfo fcinfo, DpCallInfo *info, int first, int nparams,
		  DpParams *p)
{
	memset(p, 0, sizeof(*p));
	for (int i = 0; i < nparams; i++)
	{
		int			role = ParamRole(nparams, i);

		if (PG_ARGISNULL(first + i))
			ReportNullParam(info->name, role);
		SetParam(p, role, PG_GETARG_DATUM(first + i));
	}
}

/* the parameters evaluated from the call's expressions: no row came */
static void
EvaluatedParams(FunctionCallInfo fcinfo, DpCallInfo *info, int nparams,
				DpParams *p)
{
	Expr	   *exprs[4];
	EState	   *estate = ((AggState *) fcinfo->context)->ss.ps.state;
	ExprContext *econtext = CreateStandaloneExprContext();

	econtext->ecxt_param_list_info = estate->es_param_list_info;

	memset(p, 0, sizeof(*p));
	ParamExprs(fcinfo, nparams, exprs);
	for (int i = 0; i < nparams; i++)
	{
		int			role = ParamRole(nparams, i);
		ExprState  *es = ExecInitExprWithParams(exprs[i], estate->es_param_list_info);
		bool		isnull;
		Datum		d = ExecEvalExprSwitchContext(es, econtext, &isnull);

		if (isnull)
			ReportNullParam(info->name, role);
		SetParam(p, role, d);
	}
	FreeExprContext(econtext, true);
}

static bool
SameParams(const DpParams *a, const DpParams *b)
{
	/* bit for bit, so that -0.0 and 0.0 differ as they may in a result */
	return memcmp(&a->epsilon, &b->epsilon, sizeof(double)) == 0 &&
		memcmp(&a->lower, &b->lower, sizeof(double)) == 0 &&
		memcmp(&a->upper, &b->upper, sizeof(double)) == 0 &&
		a->bins == b->bins;
}

static void
ReportChangedParams(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the privacy parameters of %s must be the same on every row", name),
			 errdetail("Epsilon, the bounds and the number of bins are public: the same on every row, and never computed from the data.")));
}

/* a mechanism from the parameters, or a clear error */
static void
InitMech(DpMech *m, DpMechKind kind, const DpParams *p, const char *name)
{
	const char *reason;
	DpStatus	st = dp_mech_init(m, kind, p->epsilon, p->lower, p->upper,
								  p->bins, &reason);

	if (st != DP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid privacy parameters for %s", name),
				 errdetail("In %s, %s: epsilon %g, bounds [%g, %g]%s.", name,
						   reason ? reason : "a parameter is out of range",
						   p->epsilon, p->lower, p->upper,
						   kind == DP_MECH_HISTOGRAM ? psprintf(", %d bins", p->bins) : "")));
}

static DpMechKind
GridKind(DpInput input)
{
	switch (input)
	{
		case DP_INPUT_COUNT:
			return DP_MECH_COUNT;
		case DP_INPUT_HISTOGRAM:
			return DP_MECH_HISTOGRAM;
		default:
			return DP_MECH_SUM;
	}
}

static int
InputParams(DpInput input)
{
	return input == DP_INPUT_COUNT ? 1 : input == DP_INPUT_HISTOGRAM ? 4 : 3;
}

static DpAggState *
NewState(MemoryContext aggcontext, DpInput input, bool per_unit,
		 const DpParams *p, const char *name)
{
	DpAggState *s = MemoryContextAllocZero(aggcontext, sizeof(DpAggState));

	s->input = input;
	s->per_unit = per_unit;
	s->params = *p;
	InitMech(&s->grid, GridKind(input), p, name);
	if (input == DP_INPUT_HISTOGRAM && !per_unit)
		s->counts = MemoryContextAllocZero(aggcontext, sizeof(int64) * s->grid.bins);
	if (per_unit)
		s->units = units_create(aggcontext, 64, NULL);
	return s;
}

static void
ReportNotFinite(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("a value of %s is not a finite number", name),
			 errdetail("NaN and infinities have no place in a bounded aggregate."),
			 errhint("Filter them out, or map them to a bound, before the aggregate.")));
}

static int128
AddChecked(int128 a, int128 b, const char *name)
{
	DpInt128	acc = a;

	if (dp_int128_add(&acc, b) != DP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", name)));
	return acc;
}

/*
 * The common state function: arguments are (state, [unit,] [value,]
 * params...).  Skips rows whose unit or value is NULL.
 *
 * The first call for a group checks the call (context, constant
 * parameters) and makes the state from the row's parameters; the calls
 * after it only add the row: the parameters are constants of the query, so
 * they are what the first row had.  Sums need no overflow check: a row adds
 * at most 2^59 in magnitude, and fewer than 2^63 rows come, so no total
 * reaches 2^122.
 */
static Datum
Transition(FunctionCallInfo fcinfo, DpInput input, bool per_unit)
{
	DpAggState *s = PG_ARGISNULL(0) ? NULL : (DpAggState *) PG_GETARG_POINTER(0);
	int			unit_arg = per_unit ? 1 : 0;
	int			value_arg = input == DP_INPUT_COUNT ? 0 : 1 + unit_arg;
	int64		v = 0;

	if (unlikely(s == NULL))
	{
		DpCallInfo *info = CallInfo(fcinfo);
		MemoryContext aggcontext;
		int			nparams = InputParams(input);
		DpParams	p;

		(void) AggCheckCallContext(fcinfo, &aggcontext);

		CheckParamsConstant(fcinfo, info, nparams);
		RowParams(fcinfo, info, 1 + unit_arg + (value_arg ? 1 : 0), nparams, &p);
		s = NewState(aggcontext, input, per_unit, &p, info->name);
	}

	if ((per_unit && PG_ARGISNULL(unit_arg)) || (value_arg && PG_ARGISNULL(value_arg)))
		PG_RETURN_POINTER(s);
	if (value_arg && unlikely(dp_mech_fixed(&s->grid, PG_GETARG_FLOAT8(value_arg), &v) != DP_OK))
		ReportNotFinite(CallInfo(fcinfo)->name);

	if (per_unit)
	{
		bool		found;
		UnitEntry  *e = units_insert(s->units, PG_GETARG_INT64(unit_arg), &found);

		if (!found)
			e->total = 0;
		e->total += v;
		PG_RETURN_POINTER(s);
	}
	switch (input)
	{
		case DP_INPUT_COUNT:
			s->n++;
			break;
		case DP_INPUT_VALUE:
			s->n++;
			s->sum += v;
			break;
		case DP_INPUT_HISTOGRAM:
			s->counts[dp_mech_bin(&s->grid, v)]++;
			break;
	}
	PG_RETURN_POINTER(s);
}

/* ---------------------------------------------------------------------
 * Combine, serialize, deserialize (parallel aggregation)
 * ---------------------------------------------------------------------
 */

static void MergeInto(DpAggState *dst, const DpAggState *src);

static DpAggState *
CopyState(MemoryContext aggcontext, const DpAggState *src)
{
	DpAggState *s = NewState(aggcontext, src->input, src->per_unit, &src->params,
							 "noisy aggregate");

	MergeInto(s, src);
	return s;
}

static void
MergeInto(DpAggState *dst, const DpAggState *src)
{
	if (dst->input != src->input || dst->per_unit != src->per_unit)
		elog(ERROR, "noisy aggregate states of different kinds");
	if (!SameParams(&src->params, &dst->params))
		ReportChangedParams("a noisy aggregate");
	if (src->n > PG_INT64_MAX - dst->n)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("a noisy aggregate is out of range")));
	dst->n += src->n;
	dst->sum = AddChecked(dst->sum, src->sum, "a noisy aggregate");
	if (src->counts)
		for (int i = 0; i < dst->grid.bins; i++)
			dst->counts[i] += src->counts[i];
	if (src->units)
	{
		units_iterator it;
		UnitEntry  *e;

		units_start_iterate(src->units, &it);
		while ((e = units_iterate(src->units, &it)) != NULL)
		{
			bool		found;
			UnitEntry  *d = units_insert(dst->units, e->unit, &found);

			CHECK_FOR_INTERRUPTS();
			d->total = found ? AddChecked(d->total, e->total, "a noisy aggregate") : e->total;
		}
	}
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_combine);
Datum
seller_analytics_noisy_combine(PG_FUNCTION_ARGS)
{
	MemoryContext aggcontext;
	DpAggState *a = PG_ARGISNULL(0) ? NULL : (DpAggState *) PG_GETARG_POINTER(0);
	DpAggState *b = PG_ARGISNULL(1) ? NULL : (DpAggState *) PG_GETARG_POINTER(1);

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "noisy aggregate combine function called in non-aggregate context");
	if (b == NULL)
		PG_RETURN_POINTER(a);
	if (a == NULL)
		PG_RETURN_POINTER(CopyState(aggcontext, b));
	MergeInto(a, b);
	PG_RETURN_POINTER(a);
}

/*
 * The serialized state: a version byte, input, per_unit, the parameters,
 * n, the sum (two int64 halves), then the bin counts (plain histograms) or
 * the number of units and (unit, total high, total low) for each.
 */
#define DP_STATE_VERSION 1

static void
PutInt128(StringInfo buf, int128 v)
{
	pq_sendint64(buf, (int64) (v >> 64));
	pq_sendint64(buf, (int64) (uint64) v);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_serialize);
Datum
seller_analytics_noisy_serialize(PG_FUNCTION_ARGS)
{
	DpAggState *s = (DpAggState *) PG_GETARG_POINTER(0);
	StringInfoData buf;

	if (!AggCheckCallContext(fcinfo, NULL))
		elog(ERROR, "noisy aggregate serialize function called in non-aggregate context");
	pq_begintypsend(&buf);
	pq_sendbyte(&buf, DP_STATE_VERSION);
	pq_sendbyte(&buf, (uint8) s->input);
	pq_sendbyte(&buf, s->per_unit ? 1 : 0);
	pq_sendfloat8(&buf, s->params.epsilon);
	pq_sendfloat8(&buf, s->params.lower);
	pq_sendfloat8(&buf, s->params.upper);
	pq_sendint32(&buf, s->params.bins);
	pq_sendint64(&buf, s->n);
	PutInt128(&buf, s->sum);
	if (s->counts)
		for (int i = 0; i < s->grid.bins; i++)
			pq_sendint64(&buf, s->counts[i]);
	if (s->units)
	{
		units_iterator it;
		UnitEntry  *e;

		pq_sendint64(&buf, (int64) s->units->members);
		units_start_iterate(s->units, &it);
		while ((e = units_iterate(s->units, &it)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			pq_sendint64(&buf, e->unit);
			PutInt128(&buf, e->total);
		}
	}
	PG_RETURN_BYTEA_P(pq_endtypsend(&buf));
}

static void
ReportBadState(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
			 errmsg("invalid noisy aggregate state")));
}

static int128
GetInt128(StringInfo buf)
{
	int64		hi = pq_getmsgint64(buf);
	uint64		lo = (uint64) pq_getmsgint64(buf);

	return (int128) (((uint128) (uint64) hi << 64) | lo);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_deserialize);
Datum
seller_analytics_noisy_deserialize(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	MemoryContext aggcontext;
	StringInfoData buf;
	DpParams	p;
	int			input;
	bool		per_unit;
	DpAggState *s;

	if (!AggCheckCallContext(fcinfo, &aggcontext))
		elog(ERROR, "noisy aggregate deserialize function called in non-aggregate context");
	buf.data = VARDATA_ANY(data);
	buf.len = VARSIZE_ANY_EXHDR(data);
	buf.maxlen = buf.len;
	buf.cursor = 0;
	if (buf.len < 3 + 3 * 8 + 4 + 3 * 8 || pq_getmsgbyte(&buf) != DP_STATE_VERSION)
		ReportBadState();
	input = pq_getmsgbyte(&buf);
	per_unit = pq_getmsgbyte(&buf) != 0;
	if (input < DP_INPUT_COUNT || input > DP_INPUT_HISTOGRAM)
		ReportBadState();
	p.epsilon = pq_getmsgfloat8(&buf);
	p.lower = pq_getmsgfloat8(&buf);
	p.upper = pq_getmsgfloat8(&buf);
	p.bins = pq_getmsgint(&buf, 4);
	s = NewState(aggcontext, (DpInput) input, per_unit, &p, "noisy aggregate");
	s->n = pq_getmsgint64(&buf);
	s->sum = GetInt128(&buf);
	if (s->n < 0)
		ReportBadState();
	if (s->counts)
	{
		if (buf.len - buf.cursor < (int64) 8 * s->grid.bins)
			ReportBadState();
		for (int i = 0; i < s->grid.bins; i++)
			s->counts[i] = pq_getmsgint64(&buf);
	}
	if (s->units)
	{
		int64		members;

		if (buf.len - buf.cursor < 8)
			ReportBadState();
		members = pq_getmsgint64(&buf);
		if (members < 0 || members > (buf.len - buf.cursor) / 24)
			ReportBadState();
		for (int64 i = 0; i < members; i++)
		{
			bool		found;
			int64		unit = pq_getmsgint64(&buf);
			UnitEntry  *e = units_insert(s->units, unit, &found);

			if (found)
				ReportBadState();
			e->total = GetInt128(&buf);
		}
	}
	pq_getmsgend(&buf);
	PG_RETURN_POINTER(s);
}

/* ---------------------------------------------------------------------
 * The final functions
 * ---------------------------------------------------------------------
 */

/*
 * The start of every final function: the context, the parameters (from the
 * state, or evaluated when no row came), the mechanism, and the debit.
 * Returns the state, or NULL when no row came.
 */
static DpAggState *
FinalBegin(FunctionCallInfo fcinfo, DpInput input, DpMechKind kind,
		   DpMech *m, const char **name)
{
	DpCallInfo *info = CallInfo(fcinfo);
	DpAggState *s;
	DpParams	p;
	int			nparams = InputParams(input);

	*name = info->name;
	CheckParamsConstant(fcinfo, info, nparams);
	s = PG_ARGISNULL(0) ? NULL : (DpAggState *) PG_GETARG_POINTER(0);
	if (s != NULL)
		p = s->params;
	else
		EvaluatedParams(fcinfo, info, nparams, &p);
	InitMech(m, kind, &p, info->name);
	/* a sum that could leave double precision: refused, nothing spent */
	if (kind == DP_MECH_SUM && dp_mech_sum_in_range(m) != DP_OK)
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range for bounds [%g, %g]", info->name,
						p.lower, p.upper),
				 errdetail("A sum of values this large can exceed the range of double precision, "
						   "so %s takes bounds less than 2^959 (about 4.9e288) in magnitude. "
						   "Nothing was spent.", info->name),
				 errhint("Sum the values in a larger unit.")));
	/* spent, and committed, before any noise is drawn */
	dp_debit_units(m->ledger_units, m->epsilon_asked);
	return s;
}

/* the per-unit forms: the number of units and the sum of clamped totals */
static void
UnitTotals(const DpAggState *s, const DpMech *m, int64 *n, int128 *sum)
{
	units_iterator it;
	UnitEntry  *e;

	*n = (int64) s->units->members;
	*sum = 0;
	units_start_iterate(s->units, &it);
	while ((e = units_iterate(s->units, &it)) != NULL)
	{
		CHECK_FOR_INTERRUPTS();
		*sum += dp_mech_clamp_total(m, e->total);	/* |each| <= 2^59 */
	}
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_count_final);
Datum
seller_analytics_noisy_count_final(PG_FUNCTION_ARGS)
{
	DpMech		m;
	const char *name;
	DpAggState *s = FinalBegin(fcinfo, DP_INPUT_COUNT, DP_MECH_COUNT, &m, &name);
	int64		n = s == NULL ? 0 : s->per_unit ? (int64) s->units->members : s->n;
	int64		out;

	ReportRelease(dp_release_count(&m, &server_random, n, &out), name);
	PG_RETURN_INT64(out);
}

/* n and the fixed-point sum of a value state (plain or per unit) */
static void
ValueTotals(const DpAggState *s, const DpMech *m, int64 *n, int128 *sum)
{
	*n = 0;
	*sum = 0;
	if (s == NULL)
		return;
	if (s->per_unit)
		UnitTotals(s, m, n, sum);
	else
	{
		*n = s->n;
		*sum = s->sum;
	}
}

/* noisy_sum and noisy_avg: the same state, released by each mechanism */
static Datum
ValueFinal(FunctionCallInfo fcinfo, DpMechKind kind)
{
	DpMech		m;
	const char *name;
	DpAggState *s = FinalBegin(fcinfo, DP_INPUT_VALUE, kind, &m, &name);
	int64		n;
	int128		sum;
	double		out;

	ValueTotals(s, &m, &n, &sum);
	ReportRelease(kind == DP_MECH_AVG ?
				  dp_release_avg(&m, &server_random, sum, n, &out) :
				  dp_release_sum(&m, &server_random, sum, &out), name);
	PG_RETURN_FLOAT8(out);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_sum_final);
Datum
seller_analytics_noisy_sum_final(PG_FUNCTION_ARGS)
{
	return ValueFinal(fcinfo, DP_MECH_SUM);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_avg_final);
Datum
seller_analytics_noisy_avg_final(PG_FUNCTION_ARGS)
{
	return ValueFinal(fcinfo, DP_MECH_AVG);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_histogram_final);
Datum
seller_analytics_noisy_histogram_final(PG_FUNCTION_ARGS)
{
	DpMech		m;
	const char *name;
	DpAggState *s = FinalBegin(fcinfo, DP_INPUT_HISTOGRAM, DP_MECH_HISTOGRAM, &m, &name);
	int64	   *counts = palloc0(sizeof(int64) * m.bins);
	int64	   *out = palloc(sizeof(int64) * m.bins);
	Datum	   *elems = palloc(sizeof(Datum) * m.bins);

	if (s != NULL && s->per_unit)
	{
		units_iterator it;
		UnitEntry  *e;

		units_start_iterate(s->units, &it);
		while ((e = units_iterate(s->units, &it)) != NULL)
		{
			CHECK_FOR_INTERRUPTS();
			counts[dp_mech_bin(&m, dp_mech_clamp_total(&m, e->total))]++;
		}
	}
	else if (s != NULL)
		memcpy(counts, s->counts, sizeof(int64) * m.bins);
	ReportRelease(dp_release_histogram(&m, &server_random, counts, out), name);
	for (int i = 0; i < m.bins; i++)
		elems[i] = Int64GetDatum(out[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(elems, m.bins, INT8OID, sizeof(int64),
										  FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* ---------------------------------------------------------------------
 * The state functions, one per argument list
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(seller_analytics_noisy_count_trans);
Datum
seller_analytics_noisy_count_trans(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, DP_INPUT_COUNT, false);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_unit_count_trans);
Datum
seller_analytics_noisy_unit_count_trans(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, DP_INPUT_COUNT, true);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_value_trans);
Datum
seller_analytics_noisy_value_trans(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, DP_INPUT_VALUE, false);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_unit_value_trans);
Datum
seller_analytics_noisy_unit_value_trans(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, DP_INPUT_VALUE, true);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_histogram_trans);
Datum
seller_analytics_noisy_histogram_trans(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, DP_INPUT_HISTOGRAM, false);
}

PG_FUNCTION_INFO_V1(seller_analytics_noisy_unit_histogram_trans);
Datum
seller_analytics_noisy_unit_histogram_trans(PG_FUNCTION_ARGS)
{
	return Transition(fcinfo, DP_INPUT_HISTOGRAM, true);
}
