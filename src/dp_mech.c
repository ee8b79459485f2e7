/*
 * dp_mech.c
 *	  The noisy aggregates' mechanisms (see dp_mech.h).  No PostgreSQL
 *	  headers: the unit tests run exactly this code.
 */
#include "dp_mech.h"

#include <math.h>
#include <string.h>

#ifdef DP_WEAKEN_FOR_TEST
#define SENSITIVITY_DEN 2		/* the broken build: half the sensitivity */
#else
#define SENSITIVITY_DEN 1
#endif

/* the range of a fixed-point grid must hold at least this many steps */
#define DP_MIN_RANGE_STEPS 1024

/* sensitivity / epsilon, rounded up: the scale of the noise */
static DpStatus
scale_of(uint64_t sensitivity, DpRational epsilon, DpRational *out)
{
	DpRational	delta = {sensitivity, SENSITIVITY_DEN};

	return dp_rational_div_up(delta, epsilon, out);
}

/* x * 2^frac_bits rounded to the nearest integer, ties to even */
static DpStatus
to_fixed(double x, int frac_bits, int64_t *out)
{
	/* ldexp is exact here: the result is at most 2^59 in magnitude, and
	 * one that underflows rounds to 0 whatever its low bits */
	return dp_fixed_from_double(ldexp(x, frac_bits), 0, out);
}

static int64_t
abs64(int64_t v)
{
	return v < 0 ? -v : v;		/* |v| <= 2^59 here */
}

DpStatus
dp_mech_init(DpMech *m, DpMechKind kind, double epsilon, double lower,
			 double upper, int bins, const char **reason)
{
	DpMech		r;
	DpStatus	st;
	int			e_bound,
				e_eps;
	double		eps_value;

	*reason = NULL;
	memset(&r, 0, sizeof(r));
	r.kind = kind;
	r.epsilon_asked = epsilon;
	if (isnan(epsilon) || isinf(epsilon) || epsilon <= 0.0)
	{
		*reason = "epsilon must be a finite number greater than zero";
		return DP_ERR_PARAM;
	}
	st = dp_epsilon_from_double(epsilon, &r.epsilon);
	if (st == DP_ERR_OVERFLOW)
	{
		*reason = "epsilon must be less than 2^32";
		return st;
	}
	if (st != DP_OK)
	{
		*reason = "epsilon must be at least 2^-32 (about 2.3e-10)";
		return DP_ERR_PARAM;
	}
	if ((st = dp_epsilon_units(r.epsilon, &r.ledger_units)) != DP_OK)
	{
		*reason = "epsilon is too large for the privacy budget ledger";
		return st;
	}

	if (kind == DP_MECH_COUNT)
	{
		if ((st = scale_of(1, r.epsilon, &r.scale)) != DP_OK)
		{
			*reason = "epsilon is out of range";
			return st;
		}
		*m = r;
		return DP_OK;
	}

	if (!isfinite(lower) || !isfinite(upper))
	{
		*reason = "the bounds must be finite numbers";
		return DP_ERR_PARAM;
	}
	if (!(lower < upper))
	{
		*reason = "the lower bound must be less than the upper bound";
		return DP_ERR_PARAM;
	}
	if (kind == DP_MECH_HISTOGRAM && (bins < 1 || bins > DP_HISTOGRAM_MAX_BINS))
	{
		*reason = "the number of bins must be between 1 and 10000";
		return DP_ERR_PARAM;
	}
	r.lower = lower;
	r.upper = upper;
	r.bins = kind == DP_MECH_HISTOGRAM ? bins : 0;

	/*
	 * The grid: with |bound| <= 2^e_bound and epsilon >= 2^(e_eps - 1),
	 * frac_bits = min(59 - e_bound, 48 + e_eps - e_bound) keeps every
	 * fixed-point value within 2^59 and the sum's sensitivity within
	 * 2^(48 + e_eps), so its scale is at most 2^49 and the average's centred
	 * sum's at most 2^51.  Only public parameters enter.
	 */
	(void) frexp(fmax(fabs(lower), fabs(upper)), &e_bound);
	eps_value = (double) r.epsilon.num / (double) r.epsilon.den;
	(void) frexp(eps_value, &e_eps);
	r.frac_bits = 59 - e_bound;
	if (48 + e_eps - e_bound < r.frac_bits)
		r.frac_bits = 48 + e_eps - e_bound;
	/* 2^frac_bits as a normal double, for dp_mech_fixed's fast path */
	r.fixed_scale = (r.frac_bits >= -1000 && r.frac_bits <= 1000) ?
		ldexp(1.0, r.frac_bits) : 0.0;
	if (to_fixed(lower, r.frac_bits, &r.lower_fp) != DP_OK ||
		to_fixed(upper, r.frac_bits, &r.upper_fp) != DP_OK)
	{
		*reason = "the bounds are out of range";
		return DP_ERR_OVERFLOW;
	}
	if (r.upper_fp - r.lower_fp < DP_MIN_RANGE_STEPS)
	{
		*reason = "the bounds are too close together for their magnitude";
		return DP_ERR_PARAM;
	}

	switch (kind)
	{
		case DP_MECH_SUM:
			st = scale_of((uint64_t) (abs64(r.lower_fp) > abs64(r.upper_fp) ?
									  abs64(r.lower_fp) : abs64(r.upper_fp)),
						  r.epsilon, &r.scale);
			break;
		case DP_MECH_AVG:
			{
				/* epsilon / 2 each for the count and the centred sum */
				DpRational	half = {r.epsilon.num, r.epsilon.den * 2};

				st = scale_of(1, half, &r.count_scale);
				if (st == DP_OK)
					st = scale_of((uint64_t) (r.upper_fp - r.lower_fp), half,
								  &r.scale);
			}
			break;
		case DP_MECH_HISTOGRAM:
			st = scale_of(1, r.epsilon, &r.scale);
			break;
		default:
			*reason = "unknown mechanism";
			return DP_ERR_PARAM;
	}
	if (st != DP_OK)
	{
		*reason = "epsilon is out of range";
		return st;
	}
	*m = r;
	return DP_OK;
}

DpStatus
dp_mech_fixed_slow(const DpMech *m, double x, int64_t *out)
{
	if (!isfinite(x))
		return DP_ERR_PARAM;
	if (x < m->lower)
		x = m->lower;
	else if (x > m->upper)
		x = m->upper;
	/* rounding is monotone: the result lies in [lower_fp, upper_fp] */
	return to_fixed(x, m->frac_bits, out);
}

/*
 * Bounds below 2^959 keep every sum release finite.  With M = max(|lower|,
 * |upper|) < 2^e_bound <= 2^959, the fixed-point step 2^-frac_bits is at
 * most 2^(e_bound - 17) (frac_bits >= 48 + e_eps - e_bound, e_eps >= -31),
 * at most 2^-16 M; each of n < 2^63 values (or units' clamped totals) is
 * within M + step / 2 of 0 once rounded, and the noise |z| <= 2^63 steps.
 * So the release is below 2^63 (M + 2 step) < 2^64 M < 2^1023 in
 * magnitude.
 */
DpStatus
dp_mech_sum_in_range(const DpMech *m)
{
	return fmax(fabs(m->lower), fabs(m->upper)) < DP_SUM_BOUND_LIMIT ?
		DP_OK : DP_ERR_OVERFLOW;
}

int64_t
dp_mech_clamp_total(const DpMech *m, DpInt128 total)
{
	if (total < m->lower_fp)
		return m->lower_fp;
	if (total > m->upper_fp)
		return m->upper_fp;
	return (int64_t) total;
}

int
dp_mech_bin(const DpMech *m, int64_t v)
{
	DpInt128	b;

	if (v <= m->lower_fp)
		return 0;
	if (v >= m->upper_fp)
		return m->bins - 1;
	/* equal widths; exact in 128 bits: (v - lower) < 2^60, bins <= 10^4 */
	b = ((DpInt128) (v - m->lower_fp) * m->bins) / (m->upper_fp - m->lower_fp);
	return b >= m->bins ? m->bins - 1 : (int) b;
}

DpStatus
dp_release_count(const DpMech *m, const DpRandom *rng, int64_t n,
				 int64_t *out)
{
	int64_t		z;
	DpInt128	v = n;
	DpStatus	st;

	if ((st = dp_discrete_laplace(rng, m->scale, &z)) != DP_OK)
		return st;
	if ((st = dp_int128_add(&v, z)) != DP_OK)
		return st;
	return dp_int128_to_int64(v, out);
}

DpStatus
dp_release_sum(const DpMech *m, const DpRandom *rng, DpInt128 sum,
			   double *out)
{
	int64_t		z;
	double		v;
	DpStatus	st;

	if ((st = dp_discrete_laplace(rng, m->scale, &z)) != DP_OK)
		return st;
	if ((st = dp_int128_add(&sum, z)) != DP_OK)
		return st;
	v = dp_fixed_to_double(sum, m->frac_bits);
	/* only with bounds that dp_mech_sum_in_range refuses */
	if (!isfinite(v))
		return DP_ERR_OVERFLOW;
	*out = v;
	return DP_OK;
}

DpStatus
dp_release_avg(const DpMech *m, const DpRandom *rng, DpInt128 sum,
			   int64_t n, double *out)
{
	int64_t		zc,
				zs;
	DpInt128	count = n,
				centred = 0,
				twice_mid = (DpInt128) m->lower_fp + m->upper_fp;
	double		half_units,
				v;
	DpStatus	st;

	/* both draws first: how many are drawn never depends on the data */
	if ((st = dp_discrete_laplace(rng, m->count_scale, &zc)) != DP_OK ||
		(st = dp_discrete_laplace(rng, m->scale, &zs)) != DP_OK)
		return st;
	if ((st = dp_int128_add(&count, zc)) != DP_OK)
		return st;
	/* centred = 2 sum - n (lower + upper) + zs, in half-units */
	if ((st = dp_int128_add(&centred, sum)) != DP_OK ||
		(st = dp_int128_add(&centred, sum)) != DP_OK ||
		(st = dp_int128_add(&centred, -(twice_mid * n))) != DP_OK ||
		(st = dp_int128_add(&centred, zs)) != DP_OK)
		return st;
	if (count < 1)
		count = 1;
	/* post-processing of the two noisy integers */
	half_units = (double) centred / (double) count + (double) twice_mid;
	v = ldexp(half_units, -(m->frac_bits + 1));
	if (v < m->lower)
		v = m->lower;
	else if (v > m->upper)
		v = m->upper;
	*out = v;
	return DP_OK;
}

DpStatus
dp_release_histogram(const DpMech *m, const DpRandom *rng,
					 const int64_t *counts, int64_t *out)
{
	int64_t		z;
	DpInt128	v;
	DpStatus	st;

	for (int i = 0; i < m->bins; i++)
	{
		if (dp_check_interrupts && (i & 255) == 255)
			dp_check_interrupts();
		if ((st = dp_discrete_laplace(rng, m->scale, &z)) != DP_OK)
			return st;
		v = counts[i];
		if ((st = dp_int128_add(&v, z)) != DP_OK ||
			(st = dp_int128_to_int64(v, &out[i])) != DP_OK)
			return st;
	}
	return DP_OK;
}
