/*
 * benchmark.c
 *	  The cohort benchmarks' mechanisms (publish_benchmarks() calls them) and
 *	  the reading of a released distribution (my_benchmarks() calls that).
 *
 * publish_benchmarks() (control/seller_analytics--0.5--0.6.sql) computes
 * every seller's exact value of each metric over a period, groups them by
 * cohort, debits the cohorts' cells in one ledger transaction and only then
 * calls the functions here, which add the noise:
 *
 *	  benchmark_noisy_count(n, epsilon)
 *	      the number of sellers plus discrete Laplace noise of scale
 *	      1/epsilon (one seller moves it by one)
 *	  benchmark_noisy_stats(values, noisy_count, lower, upper, bins, log,
 *	                        mean_epsilon, histogram_epsilon)
 *	      the mean: the midpoint plus a noisy sum of the values clamped to
 *	      [lower, upper] and centred on the midpoint (one seller moves it by
 *	      at most (upper - lower) / 2, the noise's scale over mean_epsilon),
 *	      over the noisy count released before, clamped to the bounds; and
 *	      a histogram of the values in bins (equal width, or equal ratio
 *	      when log) with noise of scale 1/histogram_epsilon in every bin
 *	      (one seller moves one bin by one), read as a monotone CDF from
 *	      which p25, p50, p75 and p90 follow.
 *
 * Both draw from pg_strong_random() through the integer mechanisms of
 * dp_mech.h, on exact integers: the same noise as the noisy aggregates.
 * They spend nothing themselves: only the owner may call them, and
 * publish_benchmarks() calls them after its debit has committed.  Every
 * figure released follows from the noisy values alone (post-processing).
 *
 * benchmark_percentile(value, edges, cdf, log) reads a value against a
 * released CDF: public data in, public data out.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "dp_mech.h"

#define QUANTILES	4
static const double quantile_levels[QUANTILES] = {0.25, 0.50, 0.75, 0.90};

static int
StrongRandom(void *ctx, uint8_t *buf, size_t len)
{
	return pg_strong_random(buf, len) ? 0 : -1;
}

static const DpRandom benchmark_random = {StrongRandom, NULL};

/* a mechanism's status as an error; DP_OK returns */
static void
ReportStatus(DpStatus st, const char *what, const char *reason)
{
	if (st == DP_OK)
		return;
	if (st == DP_ERR_RANDOM)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random numbers for the %s", what)));
	ereport(ERROR,
			(errcode(st == DP_ERR_OVERFLOW ? ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE :
					 ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid parameters for the %s: %s", what,
					reason ? reason : "out of range")));
}

/* the bins' edges: bins + 1 values from lower to upper */
static double *
BinEdges(double lower, double upper, int bins, bool log_scale)
{
	double	   *edges = palloc(sizeof(double) * (bins + 1));

	for (int i = 0; i <= bins; i++)
	{
		double		f = (double) i / bins;

		edges[i] = log_scale ? lower * pow(upper / lower, f) :
			lower + (upper - lower) * f;
	}
	edges[0] = lower;
	edges[bins] = upper;
	return edges;
}

/* the bin of a value clamped to the edges (a bin holds [edge i, edge i+1)) */
static int
BinOf(const double *edges, int bins, double x)
{
	int			lo = 0,
				hi = bins;

	if (x <= edges[0])
		return 0;
	if (x >= edges[bins])
		return bins - 1;
	while (hi - lo > 1)
	{
		int			mid = (lo + hi) / 2;

		if (x >= edges[mid])
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* position of a fraction f in [0, 1] of the way through bin i */
static double
InBin(const double *edges, int i, double f, bool log_scale)
{
	if (log_scale)
		return edges[i] * pow(edges[i + 1] / edges[i], f);
	return edges[i] + (edges[i + 1] - edges[i]) * f;
}

/* the q-quantile of a monotone CDF given at the edges (cdf[0] = 0, cdf[bins] = 1) */
static double
CdfQuantile(const double *edges, const double *cdf, int bins, double q, bool log_scale)
{
	for (int i = 0; i < bins; i++)
	{
		if (cdf[i + 1] >= q)
		{
			double		width = cdf[i + 1] - cdf[i];
			double		f = width > 0 ? (q - cdf[i]) / width : 0.5;

			return InBin(edges, i, Max(0.0, Min(1.0, f)), log_scale);
		}
	}
	return edges[bins];
}

static void
CheckParams(double lower, double upper, int bins, bool log_scale)
{
	if (!isfinite(lower) || !isfinite(upper) || !(lower < upper))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("benchmark bounds must be finite with lower < upper")));
	if (log_scale && !(lower > 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("logarithmic benchmark bins need a lower bound greater than zero")));
	if (bins < 1 || bins > DP_HISTOGRAM_MAX_BINS)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("benchmark bins must be between 1 and %d", DP_HISTOGRAM_MAX_BINS)));
}

static ArrayType *
Float8Array(const double *v, int n)
{
	Datum	   *d = palloc(sizeof(Datum) * n);

	for (int i = 0; i < n; i++)
		d[i] = Float8GetDatum(v[i]);
	return construct_array(d, n, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL,
						   TYPALIGN_DOUBLE);
}

/* a one-dimensional float8 array without NULLs, as a C array */
static double *
Float8Values(ArrayType *a, int *n, const char *what)
{
	Datum	   *d;
	bool	   *nulls;
	double	   *v;

	if (ARR_NDIM(a) > 1 || ARR_HASNULL(a) || ARR_ELEMTYPE(a) != FLOAT8OID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array of double precision without NULLs", what)));
	deconstruct_array(a, FLOAT8OID, sizeof(float8), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &d, &nulls, n);
	v = palloc(sizeof(double) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
		v[i] = DatumGetFloat8(d[i]);
	pfree(d);
	pfree(nulls);
	return v;
}

/*
 * benchmark_noisy_count(n bigint, epsilon double precision) → bigint
 */
PG_FUNCTION_INFO_V1(seller_analytics_benchmark_noisy_count);
Datum
seller_analytics_benchmark_noisy_count(PG_FUNCTION_ARGS)
{
	int64		n = PG_GETARG_INT64(0);
	double		epsilon = PG_GETARG_FLOAT8(1);
	DpMech		m;
	const char *reason = NULL;
	int64_t		out;

	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a count of sellers cannot be negative")));
	ReportStatus(dp_mech_init(&m, DP_MECH_COUNT, epsilon, 0, 0, 0, &reason),
				 "benchmark seller count", reason);
	ReportStatus(dp_release_count(&m, &benchmark_random, n, &out),
				 "benchmark seller count", NULL);
	PG_RETURN_INT64(out);
}

/*
 * benchmark_noisy_stats(values float8[], noisy_count bigint, lower, upper,
 * bins int, log bool, mean_epsilon, histogram_epsilon) → record (average,
 * margin, p25, p50, p75, p90, edges float8[], cdf float8[])
 */
PG_FUNCTION_INFO_V1(seller_analytics_benchmark_noisy_stats);
Datum
seller_analytics_benchmark_noisy_stats(PG_FUNCTION_ARGS)
{
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(0);
	int64		noisy_count = PG_GETARG_INT64(1);
	double		lower = PG_GETARG_FLOAT8(2);
	double		upper = PG_GETARG_FLOAT8(3);
	int32		bins = PG_GETARG_INT32(4);
	bool		log_scale = PG_GETARG_BOOL(5);
	double		mean_epsilon = PG_GETARG_FLOAT8(6);
	double		hist_epsilon = PG_GETARG_FLOAT8(7);
	double		half = 0,
				mid = 0;
	DpMech		sum_mech,
				hist_mech;
	const char *reason = NULL;
	double	   *values;
	int			n;
	double	   *edges;
	int64_t    *counts;
	int64_t    *noisy;
	double	   *cdf;
	DpInt128	sum = 0;
	double		noisy_sum,
				divisor,
				average,
				margin;
	double		running = 0,
				top = 0;
	TupleDesc	desc;
	Datum		result[8];
	bool		nulls[8] = {false};

	CheckParams(lower, upper, bins, log_scale);
	values = Float8Values(arr, &n, "benchmark values");
	half = upper / 2 - lower / 2;	/* no overflow */
	mid = lower + half;
	ReportStatus(dp_mech_init(&sum_mech, DP_MECH_SUM, mean_epsilon, -half, half, 0, &reason),
				 "benchmark mean", reason);
	ReportStatus(dp_mech_init(&hist_mech, DP_MECH_HISTOGRAM, hist_epsilon, lower, upper, bins, &reason),
				 "benchmark histogram", reason);

	edges = BinEdges(lower, upper, bins, log_scale);
	counts = palloc0(sizeof(int64_t) * bins);
	noisy = palloc(sizeof(int64_t) * bins);
	cdf = palloc(sizeof(double) * (bins + 1));
	for (int i = 0; i < n; i++)
	{
		double		x = values[i];
		int64_t		fp;

		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
		if (isnan(x) || isinf(x))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a benchmark value must be finite")));
		x = Max(lower, Min(upper, x));
		ReportStatus(dp_mech_fixed(&sum_mech, x - mid, &fp), "benchmark mean", NULL);
		sum += fp;
		counts[BinOf(edges, bins, x)]++;
	}

	/* the mean: noisy centred sum over the released count, clamped */
	ReportStatus(dp_release_sum(&sum_mech, &benchmark_random, sum, &noisy_sum),
				 "benchmark mean", NULL);
	divisor = (double) Max(noisy_count, 1);
	average = Max(lower, Min(upper, mid + noisy_sum / divisor));
	/* the 90 % interval of the sum's noise: P(|Z| > b ln 10) <= 1/10 */
	margin = half / mean_epsilon * log(10.0) / divisor;

	/* the distribution: cumulative noisy counts over the count, monotone */
	ReportStatus(dp_release_histogram(&hist_mech, &benchmark_random, counts, noisy),
				 "benchmark histogram", NULL);
	cdf[0] = 0;
	for (int i = 0; i < bins; i++)
	{
		running += (double) noisy[i];
		top = Max(top, Min(1.0, Max(0.0, running / divisor)));
		cdf[i + 1] = top;
	}
	cdf[bins] = 1.0;			/* every value is at most upper */

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "benchmark_noisy_stats must return a record");
	desc = BlessTupleDesc(desc);
	result[0] = Float8GetDatum(average);
	result[1] = Float8GetDatum(margin);
	for (int q = 0; q < QUANTILES; q++)
		result[2 + q] = Float8GetDatum(CdfQuantile(edges, cdf, bins, quantile_levels[q], log_scale));
	result[6] = PointerGetDatum(Float8Array(edges, bins + 1));
	result[7] = PointerGetDatum(Float8Array(cdf, bins + 1));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, result, nulls)));
}

/*
 * benchmark_percentile(value, edges float8[], cdf float8[], log bool) →
 * double precision: the share (0 to 100) of a released distribution at or
 * below value, interpolated within its bin.  NULL for a NULL value.
 */
PG_FUNCTION_INFO_V1(seller_analytics_benchmark_percentile);
Datum
seller_analytics_benchmark_percentile(PG_FUNCTION_ARGS)
{
	double		x = PG_GETARG_FLOAT8(0);
	int			nedges,
				ncdf;
	double	   *edges = Float8Values(PG_GETARG_ARRAYTYPE_P(1), &nedges, "edges");
	double	   *cdf = Float8Values(PG_GETARG_ARRAYTYPE_P(2), &ncdf, "cdf");
	bool		log_scale = PG_GETARG_BOOL(3);
	int			bins = nedges - 1;
	int			i;
	double		f;

	if (nedges < 2 || ncdf != nedges)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a released distribution needs as many CDF values as edges, at least two")));
	if (isnan(x))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot place NaN in a distribution")));
	if (x <= edges[0])
		PG_RETURN_FLOAT8(100.0 * cdf[0]);
	if (x >= edges[bins])
		PG_RETURN_FLOAT8(100.0 * cdf[bins]);
	i = BinOf(edges, bins, x);
	if (log_scale && edges[i] > 0)
		f = log(x / edges[i]) / log(edges[i + 1] / edges[i]);
	else
		f = (x - edges[i]) / (edges[i + 1] - edges[i]);
	f = Max(0.0, Min(1.0, f));
	PG_RETURN_FLOAT8(100.0 * (cdf[i] + (cdf[i + 1] - cdf[i]) * f));
}
