/*
 * dp_mech.h
 *	  The noisy aggregates' mechanisms: calibration and release, in pure C.
 *
 * An aggregate accumulates exact integers (a count, a fixed-point sum, bin
 * counts); its final step hands them to one of the dp_release_* functions
 * here, which add integer discrete Laplace noise (dp_noise.h) calibrated to
 * the aggregate's sensitivity and epsilon.  The server (src/dp_aggregate.c)
 * and the unit tests (test/unit/test_dp_property.c) run this same code.
 *
 * Neighbouring data sets differ by one privacy unit, added or removed: one
 * row for the plain aggregates, one seller (all of its rows) for the forms
 * that take the unit first, which clamp each unit's total.  Sensitivities,
 * with values in fixed point (an integer count of 2^-frac_bits):
 *
 *	  count       1                     scale 1 / epsilon
 *	  sum         max(|lower|, |upper|) scale Delta / epsilon
 *	  avg         a count with epsilon / 2 (scale 2 / epsilon) and a sum of
 *	              values centred on the midpoint, 2x - (lower + upper), with
 *	              epsilon / 2 (Delta = upper - lower in half-units, scale
 *	              2 Delta / epsilon); released as midpoint + noisy centred
 *	              sum / max(1, noisy count), clamped to [lower, upper]
 *	  histogram   1 (one unit moves one bin by one) scale 1 / epsilon per bin
 *
 * Epsilon is the double asked for rounded down to a multiple of 2^-32
 * (dp_epsilon_from_double): the noise is calibrated on that rational and the
 * ledger debits ceil(it * 1e9) units (dp_epsilon_units), never less than it
 * spends.
 *
 * The fixed-point precision is chosen from the public parameters alone
 * (bounds and epsilon), so that the sum's sensitivity is at most 2^60 and
 * every scale at most 2^51 (dp_mech_init): the noise never overflows.  The
 * grid step is at most 2^-47 of the bounds' magnitude for epsilon >= 1/2
 * and 2^-47 / epsilon of it below that: in every case at least 2^15 times
 * finer than the noise's scale.
 *
 * Built with DP_WEAKEN_FOR_TEST defined, every sensitivity is halved: a
 * deliberately broken mechanism, used only by the unit test that shows the
 * DP property test can fail.
 */
#ifndef SELLER_ANALYTICS_DP_MECH_H
#define SELLER_ANALYTICS_DP_MECH_H

#include "dp_noise.h"

#define DP_HISTOGRAM_MAX_BINS	10000

typedef enum DpMechKind
{
	DP_MECH_COUNT,
	DP_MECH_SUM,
	DP_MECH_AVG,
	DP_MECH_HISTOGRAM
} DpMechKind;

/* a mechanism, calibrated: every field follows from the public parameters */
typedef struct DpMech
{
	DpMechKind	kind;
	double		epsilon_asked;	/* the argument */
	DpRational	epsilon;		/* rounded down to a multiple of 2^-32 */
	int64_t		ledger_units;	/* ceil(epsilon * 1e9): what a release costs */
	double		lower;			/* sum, avg, histogram */
	double		upper;
	int			bins;			/* histogram */
	int			frac_bits;		/* values are round(x * 2^frac_bits); may be
								 * negative */
	double		fixed_scale;	/* 2^frac_bits when that is a normal double,
								 * else 0 */
	int64_t		lower_fp;		/* the bounds in fixed point */
	int64_t		upper_fp;
	DpRational	scale;			/* of the noise: count, sum and histogram;
								 * avg: its centred sum's */
	DpRational	count_scale;	/* avg: its count's */
} DpMech;

/*
 * Calibrates a mechanism.  lower, upper and bins are ignored for a count;
 * bins for sum and avg.  DP_ERR_PARAM with *reason set (a phrase for an
 * error message, a static string) for: epsilon NaN, infinite, <= 0 or below
 * 2^-32; a bound NaN or infinite; lower >= upper; bins outside
 * [1, DP_HISTOGRAM_MAX_BINS].  DP_ERR_OVERFLOW (with *reason) for epsilon
 * >= 2^32.
 */
extern DpStatus dp_mech_init(DpMech *m, DpMechKind kind, double epsilon,
							 double lower, double upper, int bins,
							 const char **reason);

/* dp_mech_fixed's general case (any frac_bits) */
extern DpStatus dp_mech_fixed_slow(const DpMech *m, double x, int64_t *out);

/*
 * A value clamped to [lower, upper] and in fixed point, round(x *
 * 2^frac_bits) with ties to even: the result lies in [lower_fp, upper_fp].
 * DP_ERR_PARAM for NaN or infinite x.  Inline, for the aggregates' state
 * functions: one multiplication by a power of two (exact: no result
 * exceeds 2^59, and one that underflows rounds to 0 all the same) and a
 * rounding that does not depend on the FPU's rounding mode.
 */
static inline DpStatus
dp_mech_fixed(const DpMech *m, double x, int64_t *out)
{
	double		y,
				d;
	int64_t		t;

	if (!(x - x == 0.0))		/* NaN or an infinity */
		return DP_ERR_PARAM;
	if (m->fixed_scale == 0.0)
		return dp_mech_fixed_slow(m, x, out);
	if (x < m->lower)
		x = m->lower;
	else if (x > m->upper)
		x = m->upper;
	y = x * m->fixed_scale;
	t = (int64_t) y;			/* towards zero; |y| <= 2^59 */
	d = y - (double) t;			/* exact, in (-1, 1) */
	if (d > 0.5 || (d == 0.5 && (t & 1) != 0))
		t++;
	else if (d < -0.5 || (d == -0.5 && (t & 1) != 0))
		t--;
	*out = t;
	return DP_OK;
}

/*
 * The largest bound, in magnitude, of a sum that can be released: below
 * 2^959 (about 4.9e288), n < 2^63 values within the bounds plus any noise
 * stay below 2^1023, a finite double, whatever the data.
 */
#define DP_SUM_BOUND_LIMIT	0x1p959

/*
 * Whether a sum's release stays finite for every input: DP_OK when both
 * bounds are below DP_SUM_BOUND_LIMIT in magnitude, else DP_ERR_OVERFLOW.
 * Public parameters only, so the server asks before it debits and an error
 * spends nothing (and tells nothing about the data).  A count, an average
 * (clamped to its bounds) and a histogram (integers) always are.
 */
extern DpStatus dp_mech_sum_in_range(const DpMech *m);

/* a unit's total (a sum of dp_mech_fixed values) clamped to the bounds */
extern int64_t dp_mech_clamp_total(const DpMech *m, DpInt128 total);

/* the histogram bin, in [0, bins), of a fixed-point value in the bounds */
extern int	dp_mech_bin(const DpMech *m, int64_t v);

/*
 * The releases: the true aggregate plus noise.  The results are written
 * only on DP_OK, except that a histogram's out may be partly written when
 * it fails (the caller discards it).  Errors come from the random source (DP_ERR_RANDOM) or a
 * result beyond its type (DP_ERR_OVERFLOW: a count above 2^63 - 1 plus
 * noise, say, or a sum beyond double precision, which only bounds that
 * dp_mech_sum_in_range refuses allow).  A double written is always finite.
 *
 *	  count      n (>= 0) plus noise; may be negative (the noise is unbiased)
 *	  sum        sum (of fixed-point values) plus noise, as a double
 *	  avg        from the fixed-point sum and the count n, as above
 *	  histogram  counts[bins] plus noise in each bin, into out[bins]
 */
extern DpStatus dp_release_count(const DpMech *m, const DpRandom *rng,
								 int64_t n, int64_t *out);
extern DpStatus dp_release_sum(const DpMech *m, const DpRandom *rng,
							   DpInt128 sum, double *out);
extern DpStatus dp_release_avg(const DpMech *m, const DpRandom *rng,
							   DpInt128 sum, int64_t n, double *out);
extern DpStatus dp_release_histogram(const DpMech *m, const DpRandom *rng,
									 const int64_t *counts, int64_t *out);

#endif							/* SELLER_ANALYTICS_DP_MECH_H */
