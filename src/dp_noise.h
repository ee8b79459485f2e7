/*
 * dp_noise.h
 *	  Noise for differential privacy: the pure-C sampler core.
 *
 * The mechanism is the integer discrete Laplace distribution with scale
 * t > 0,
 *
 *		P(Z = z) = (1 - q) / (1 + q) * q^|z|,	q = exp(-1/t),	z in Z,
 *
 * sampled exactly by the algorithms of C. Canonne, G. Kamath and T. Steinke,
 * "The Discrete Gaussian for Differential Privacy", NeurIPS 2020
 * (arXiv:2004.00010): Algorithm 1 (Bernoulli(exp(-gamma)) for a rational
 * gamma) and Algorithm 2 (the discrete Laplace from a geometric variate).
 * Adding Z to an integer query of sensitivity Delta gives epsilon-DP for
 * epsilon = Delta / t.  Variance 2q / (1 - q)^2, P(0) = tanh(1 / (2t)).
 *
 * Why no floating point: the textbook sampler -b * log(u) on doubles has
 * gaps and a non-uniform grid of outputs, and which doubles can occur after
 * adding it to a value reveals the value (I. Mironov, "On Significance of
 * the Least Significant Bits for Differential Privacy", CCS 2012).  Here
 * every probability is an exact rational, every random choice is made on
 * integers drawn from the injected source, and the output is an integer, so
 * the output distribution is exactly the one stated: values live in fixed
 * point (an integer count of 2^-frac_bits), sums in 128-bit integers, the
 * scale and epsilon as exact rationals.
 *
 * Randomness is injected (DpRandom): in the server, pg_strong_random; a
 * seeded generator exists only in the unit tests.  Its failure is reported
 * as DP_ERR_RANDOM, never replaced by a value.
 *
 * Termination: every loop of the samplers ends with probability 1, and each
 * is also capped at DP_MAX_ROUNDS rounds.  Reaching a cap has probability
 * at most 2^-1024 for a true random source (each round of every loop ends
 * it with probability at least 1/2, or the loop is shorter), so it is
 * reported as DP_ERR_RANDOM: a source that reaches it is broken (say, it
 * returns constant bytes).  An error is never a biased value.  Long loops call
 * dp_check_interrupts when it is set, so the server can cancel.
 *
 * This file and dp_noise.c include no PostgreSQL headers.  Every function
 * returns a DpStatus and writes its result through an out pointer only on
 * DP_OK; every overflow is checked and reported, none wraps.
 */
#ifndef SELLER_ANALYTICS_DP_NOISE_H
#define SELLER_ANALYTICS_DP_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifndef __SIZEOF_INT128__
#error "dp_noise needs a compiler with 128-bit integers"
#endif

#define DP_MAX_ROUNDS			1024	/* cap of every sampler loop */
#define DP_EPSILON_DEN_BITS		32	/* epsilon as a multiple of 2^-32 */
#define DP_LEDGER_UNITS			INT64_C(1000000000)	/* ledger units per
														 * epsilon 1 */
#define DP_FIXED_MAX_FRAC_BITS	62

typedef enum DpStatus
{
	DP_OK = 0,
	DP_ERR_RANDOM,				/* the random source failed (or is broken) */
	DP_ERR_OVERFLOW,			/* a result does not fit its type */
	DP_ERR_PARAM				/* a parameter out of its range */
} DpStatus;

/*
 * The random source: fill buf with len independent uniform bytes and return
 * 0, or return non-zero on failure (buf is then not used).  Each draw asks
 * for 8 bytes; a source may buffer behind ctx.
 */
typedef int (*DpRandomFn) (void *ctx, uint8_t *buf, size_t len);
typedef struct DpRandom
{
	DpRandomFn	fn;
	void	   *ctx;
} DpRandom;

/* An exact non-negative rational num/den; valid when den > 0. */
typedef struct DpRational
{
	uint64_t	num;
	uint64_t	den;
} DpRational;

/* A signed 128-bit accumulator for fixed-point sums. */
typedef __int128 DpInt128;

/* called every few hundred iterations of a sampler loop, when set */
extern void (*dp_check_interrupts) (void);

/* ------------------------------------------------------------ rationals */

/*
 * *cmp = -1, 0 or 1 as a < b, a = b, a > b, exactly (cross products in 128
 * bits).  DP_ERR_PARAM if a den is 0.
 */
extern DpStatus dp_rational_cmp(DpRational a, DpRational b, int *cmp);

/*
 * *out = a / b rounded UP to a rational with 64-bit terms: exact (and in
 * lowest terms) when the reduced quotient fits, else the quotient rounded
 * up to a multiple of 2^-m, m <= 63 as large as keeps the numerator below
 * 2^64 (error below 2^-62 relative for quotients >= 1, 2^-63 absolute
 * below 1).  a and b valid and b > 0, else DP_ERR_PARAM; DP_ERR_OVERFLOW
 * when a / b does not fit below 2^64.
 * Used for the noise scale: t = sensitivity / epsilon, never smaller than
 * asked.
 */
extern DpStatus dp_rational_div_up(DpRational a, DpRational b, DpRational *out);

/*
 * A double epsilon (finite, > 0) as an exact rational rounded DOWN to a
 * multiple of 2^-DP_EPSILON_DEN_BITS, in lowest terms: 0 < *out <= epsilon
 * and epsilon - *out < 2^-32.  Rounding down makes the scale
 * sensitivity / *out at least sensitivity / epsilon, so the noise is never
 * smaller than asked.  DP_ERR_PARAM for NaN, infinities, epsilon <= 0 or
 * epsilon < 2^-32; DP_ERR_OVERFLOW for epsilon >= 2^32.
 */
extern DpStatus dp_epsilon_from_double(double epsilon, DpRational *out);

/*
 * The ledger debit of a rational epsilon: ceil(epsilon * DP_LEDGER_UNITS),
 * exactly, so the ledger never under-counts what the noise spends.  Pass
 * the rational the noise was calibrated with (dp_epsilon_from_double's
 * result): 0.1 then costs exactly 100000000 units, while the double 0.1
 * (slightly above 1/10) would cost one more.  DP_ERR_PARAM if den = 0;
 * DP_ERR_OVERFLOW above INT64_MAX units.
 */
extern DpStatus dp_epsilon_units(DpRational epsilon, int64_t *units);

/*
 * A budget total given as a double (finite, >= 0) in ledger units, rounded
 * to the nearest unit (ties down): the amount as stated to nine decimal
 * places.  For totals below 4e6 the double nearest to a decimal with at most
 * nine places maps to exactly that decimal's units.  DP_ERR_PARAM for NaN,
 * infinities or a negative total; DP_ERR_OVERFLOW above INT64_MAX units.
 */
extern DpStatus dp_budget_units(double epsilon, int64_t *units);

/* ---------------------------------------------------- fixed point, sums */

/*
 * x in fixed point with frac_bits fractional bits: round(x * 2^frac_bits),
 * ties to even, independent of the FPU rounding mode.  frac_bits in
 * [0, DP_FIXED_MAX_FRAC_BITS].  DP_ERR_PARAM for NaN or infinite x or a bad
 * frac_bits; DP_ERR_OVERFLOW when |x| * 2^frac_bits >= 2^63.
 */
extern DpStatus dp_fixed_from_double(double x, int frac_bits, int64_t *out);

/*
 * x clamped to [lower, upper], then in fixed point as above.  Rounding is
 * monotone, so the result lies between the fixed-point lower and upper.
 * lower <= upper, all finite; else DP_ERR_PARAM.
 */
extern DpStatus dp_fixed_clamp(double x, double lower, double upper,
							   int frac_bits, int64_t *out);

/* v * 2^-frac_bits rounded to the nearest double */
extern double dp_fixed_to_double(DpInt128 v, int frac_bits);

/* *acc += v; DP_ERR_OVERFLOW (and *acc unchanged) if it leaves int128 */
extern DpStatus dp_int128_add(DpInt128 *acc, DpInt128 v);

/* *out = v; DP_ERR_OVERFLOW if v is outside int64 */
extern DpStatus dp_int128_to_int64(DpInt128 v, int64_t *out);

/* ------------------------------------------------------------- samplers */

/*
 * A uniform integer in [0, n), n >= 1, exactly: 64-bit draws x below
 * 2^64 mod n are rejected and x mod n is returned (fewer than half the draws
 * are rejected, whatever n).  DP_ERR_PARAM if n = 0.
 */
extern DpStatus dp_uniform(const DpRandom *rng, uint64_t n, uint64_t *out);

/*
 * Bernoulli(p.num / p.den) exactly: dp_uniform(p.den) < p.num.  No draw when
 * p is 0 or 1.  DP_ERR_PARAM if den = 0 or num > den.
 */
extern DpStatus dp_bernoulli(const DpRandom *rng, DpRational p, bool *out);

/*
 * Bernoulli(exp(-gamma)) exactly, for any rational gamma >= 0 (CKS
 * Algorithm 1): for gamma <= 1, the first K with not Bernoulli(gamma / K)
 * is odd with probability exp(-gamma); for gamma > 1, floor(gamma) times
 * Bernoulli(exp(-1)), then Bernoulli(exp(-(gamma - floor(gamma)))).
 * Fewer than 6 Bernoulli draws on average, whatever gamma.  DP_ERR_PARAM if
 * den = 0.
 */
extern DpStatus dp_bernoulli_exp(const DpRandom *rng, DpRational gamma,
								 bool *out);

/*
 * A geometric variate with P(Y = y) = (1 - q) q^y, q = exp(-1/t), y >= 0,
 * for the scale t = scale.num / scale.den > 0 (CKS Algorithm 2, steps 1-5:
 * Y = floor((U + t_num V) / t_den) with U uniform in [0, t_num) accepted
 * with probability exp(-U / t_num) and V geometric with parameter 1/e).
 * DP_ERR_PARAM if num or den is 0; DP_ERR_OVERFLOW when Y > INT64_MAX
 * (possible only for t > 2^53, with probability about exp(-2^63 / t)).
 */
extern DpStatus dp_geometric(const DpRandom *rng, DpRational scale,
							 int64_t *out);

/*
 * The discrete Laplace variate with scale t = scale.num / scale.den > 0,
 * P(Z = z) = (1 - q) / (1 + q) q^|z|, q = exp(-1/t) (CKS Algorithm 2): a
 * geometric Y with a uniform sign, -0 rejected.  Errors as dp_geometric.
 *
 * A caller adding *out to a value must check that addition too (for
 * example with dp_int128_add), and should bound its values so that it
 * cannot overflow: an error that depends on the data is itself a release.
 */
extern DpStatus dp_discrete_laplace(const DpRandom *rng, DpRational scale,
									int64_t *out);

#endif							/* SELLER_ANALYTICS_DP_NOISE_H */
