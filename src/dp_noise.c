/*
 * dp_noise.c
 *	  Noise for differential privacy: the pure-C sampler core.
 *
 * See dp_noise.h for the contract.  Design notes:
 *
 * - Every random choice is an integer comparison: a uniform integer by
 *   rejection, a Bernoulli(a/b) as uniform(b) < a, and Bernoulli(exp(-g))
 *   by the alternating series of CKS Algorithm 1, so no probability is ever
 *   rounded.
 * - Bernoulli(g/K) in Algorithm 1 is Bernoulli(num / (den K)) while den K
 *   fits in 64 bits, else Bernoulli(g) and Bernoulli(1/K) together (the
 *   product of independent events); nothing overflows whatever g is.
 * - dp_discrete_laplace is CKS Algorithm 2 split in two: dp_geometric draws
 *   Y (steps 1-5), and a rejected "-0" (steps 6-7) restarts with a fresh Y,
 *   as the algorithm's restart does.
 * - Products of two 64-bit terms are computed in unsigned 128-bit integers;
 *   no compiler overflow builtins are used on 128-bit types, so clang builds
 *   need no runtime helpers beyond division.
 * - Results are written through the out pointer only on DP_OK.
 */
#include "dp_noise.h"

#include <math.h>

typedef unsigned __int128 uint128;

void		(*dp_check_interrupts) (void) = NULL;

#define INTERRUPT_EVERY	256
#define UINT128_MAX_	(~(uint128) 0)
#define INT128_MAX_		((DpInt128) (UINT128_MAX_ >> 1))
#define INT128_MIN_		(-INT128_MAX_ - 1)

static const DpRational one = {1, 1};

static void
MaybeInterrupt(uint64_t i)
{
	if (dp_check_interrupts != NULL &&
		(i % INTERRUPT_EVERY) == INTERRUPT_EVERY - 1)
		dp_check_interrupts();
}

static bool
ValidRandom(const DpRandom *rng)
{
	return rng != NULL && rng->fn != NULL;
}

/* 64 uniform bits from the source, assembled little-endian */
static DpStatus
DrawU64(const DpRandom *rng, uint64_t *out)
{
	uint8_t		buf[8];
	uint64_t	x = 0;
	int			i;

	if (rng->fn(rng->ctx, buf, sizeof(buf)) != 0)
		return DP_ERR_RANDOM;
	for (i = 7; i >= 0; i--)
		x = (x << 8) | buf[i];
	*out = x;
	return DP_OK;
}

static uint128
Gcd128(uint128 a, uint128 b)
{
	while (b != 0)
	{
		uint128		t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int
Bits128(uint128 v)
{
	int			n = 0;

	while (v != 0)
	{
		n++;
		v >>= 1;
	}
	return n;
}

/* ------------------------------------------------------------ rationals */

/* Compare a and b exactly by cross-multiplication in 128 bits. */
DpStatus
dp_rational_cmp(DpRational a, DpRational b, int *cmp)
{
	uint128		l,
				r;

	if (a.den == 0 || b.den == 0)
		return DP_ERR_PARAM;
	l = (uint128) a.num * b.den;
	r = (uint128) b.num * a.den;
	*cmp = (l > r) - (l < r);
	return DP_OK;
}

/*
 * ceil(r * 2^m / b) for r < b, by long division one bit at a time, without
 * ever forming r * 2^m (which may need more than 128 bits).
 */
static uint64_t
FractionBitsUp(uint128 r, uint128 b, int m)
{
	uint64_t	bits = 0;
	int			i;

	for (i = 0; i < m; i++)
	{
		bits <<= 1;
		if (r >= b - r)
		{
			r -= b - r;			/* 2r - b, without forming 2r */
			bits |= 1;
		}
		else
			r <<= 1;
	}
	return r != 0 ? bits + 1 : bits;
}

/* num / den (den a power of two) in lowest terms */
static DpStatus
DyadicInLowestTerms(uint64_t num, uint64_t den, DpRational *out)
{
	while (den > 1 && (num & 1) == 0)
	{
		num >>= 1;
		den >>= 1;
	}
	out->num = num;
	out->den = den;
	return DP_OK;
}

/*
 * a / b with 64-bit terms, rounded up: exact when the reduced quotient fits,
 * else q + (fraction rounded up to m bits) over 2^m, m as large as fits.
 */
DpStatus
dp_rational_div_up(DpRational a, DpRational b, DpRational *out)
{
	uint128		n,
				d,
				g,
				q,
				wide;
	int			m;
	uint64_t	num,
				den;

	if (a.den == 0 || b.den == 0 || b.num == 0)
		return DP_ERR_PARAM;
	n = (uint128) a.num * b.den;
	d = (uint128) a.den * b.num;
	if (n == 0)
	{
		out->num = 0;
		out->den = 1;
		return DP_OK;
	}
	g = Gcd128(n, d);
	n /= g;
	d /= g;
	if (n <= UINT64_MAX && d <= UINT64_MAX)
	{
		out->num = (uint64_t) n;
		out->den = (uint64_t) d;
		return DP_OK;
	}
	q = n / d;
	if (q > UINT64_MAX)
		return DP_ERR_OVERFLOW;
	/* q * 2^m < 2^63 (m > 0), so (q + 1) * 2^m still fits */
	m = 63 - Bits128(q);
	if (m < 0)
		m = 0;
	wide = (q << m) + FractionBitsUp(n % d, d, m);
	if (wide > UINT64_MAX)
		return DP_ERR_OVERFLOW;
	num = (uint64_t) wide;
	den = UINT64_C(1) << m;
	return DyadicInLowestTerms(num, den, out);
}

/* epsilon rounded down to a multiple of 2^-DP_EPSILON_DEN_BITS */
DpStatus
dp_epsilon_from_double(double epsilon, DpRational *out)
{
	double		scaled;
	uint64_t	num,
				den = UINT64_C(1) << DP_EPSILON_DEN_BITS;

	if (!isfinite(epsilon) || !(epsilon > 0.0))
		return DP_ERR_PARAM;
	if (epsilon >= ldexp(1.0, 64 - DP_EPSILON_DEN_BITS))
		return DP_ERR_OVERFLOW;
	/* scaling by a power of two is exact, and so is floor */
	scaled = floor(ldexp(epsilon, DP_EPSILON_DEN_BITS));
	if (scaled < 1.0)
		return DP_ERR_PARAM;
	num = (uint64_t) scaled;
	return DyadicInLowestTerms(num, den, out);
}

/* ceil(epsilon * DP_LEDGER_UNITS), exactly */
DpStatus
dp_epsilon_units(DpRational epsilon, int64_t *units)
{
	uint128		p,
				q;

	if (epsilon.den == 0)
		return DP_ERR_PARAM;
	p = (uint128) epsilon.num * (uint64_t) DP_LEDGER_UNITS;
	q = p / epsilon.den;
	if (p % epsilon.den != 0)
		q++;
	if (q > (uint128) INT64_MAX)
		return DP_ERR_OVERFLOW;
	*units = (int64_t) q;
	return DP_OK;
}

/*
 * A double total in ledger units, rounded to nearest (ties down), exactly:
 * the double is m * 2^e with m < 2^53, so m * DP_LEDGER_UNITS < 2^83.
 */
DpStatus
dp_budget_units(double epsilon, int64_t *units)
{
	int			e;
	uint64_t	m;
	uint128		p,
				q;

	if (!isfinite(epsilon) || epsilon < 0.0)
		return DP_ERR_PARAM;
	if (epsilon == 0.0)
	{
		*units = 0;
		return DP_OK;
	}
	m = (uint64_t) ldexp(frexp(epsilon, &e), 53);
	e -= 53;
	p = (uint128) m * (uint64_t) DP_LEDGER_UNITS;
	if (e >= 0)
	{
		if (e >= 63 || p > ((uint128) INT64_MAX >> e))
			return DP_ERR_OVERFLOW;
		q = p << e;
	}
	else if (-e >= 100)
		q = 0;					/* p / 2^100 < 2^-17 */
	else
	{
		uint128		rest = p & (((uint128) 1 << -e) - 1);

		q = p >> -e;
		if (rest > ((uint128) 1 << (-e - 1)))
			q++;
	}
	if (q > (uint128) INT64_MAX)
		return DP_ERR_OVERFLOW;
	*units = (int64_t) q;
	return DP_OK;
}

/* ---------------------------------------------------- fixed point, sums */

/* round(x * 2^frac_bits), ties to even, by integer means */
DpStatus
dp_fixed_from_double(double x, int frac_bits, int64_t *out)
{
	double		y,
				f,
				d;
	int64_t		v;

	if (!isfinite(x) || frac_bits < 0 || frac_bits > DP_FIXED_MAX_FRAC_BITS)
		return DP_ERR_PARAM;
	y = fabs(ldexp(x, frac_bits));	/* exact unless it overflows */
	if (!(y < ldexp(1.0, 63)))
		return DP_ERR_OVERFLOW;
	f = floor(y);
	d = y - f;					/* exact: 0 <= f <= y < f + 1 */
	v = (int64_t) f;
	if (d > 0.5 || (d == 0.5 && (v & 1) != 0))
		v++;					/* f < 2^63 - 1024 when d > 0, no overflow */
	*out = x < 0.0 ? -v : v;
	return DP_OK;
}

DpStatus
dp_fixed_clamp(double x, double lower, double upper, int frac_bits,
			   int64_t *out)
{
	if (!isfinite(x) || !isfinite(lower) || !isfinite(upper) || lower > upper)
		return DP_ERR_PARAM;
	if (x < lower)
		x = lower;
	else if (x > upper)
		x = upper;
	return dp_fixed_from_double(x, frac_bits, out);
}

double
dp_fixed_to_double(DpInt128 v, int frac_bits)
{
	/* the conversion rounds to nearest; the power of two is exact */
	return ldexp((double) v, -frac_bits);
}

DpStatus
dp_int128_add(DpInt128 *acc, DpInt128 v)
{
	if ((v > 0 && *acc > INT128_MAX_ - v) || (v < 0 && *acc < INT128_MIN_ - v))
		return DP_ERR_OVERFLOW;
	*acc += v;
	return DP_OK;
}

DpStatus
dp_int128_to_int64(DpInt128 v, int64_t *out)
{
	if (v > INT64_MAX || v < INT64_MIN)
		return DP_ERR_OVERFLOW;
	*out = (int64_t) v;
	return DP_OK;
}

/* ------------------------------------------------------------- samplers */

/*
 * Uniform in [0, n): the draws at or above 2^64 mod n form a run whose
 * length is a multiple of n, so x mod n is uniform on them.
 */
DpStatus
dp_uniform(const DpRandom *rng, uint64_t n, uint64_t *out)
{
	uint64_t	reject_below,
				x;
	uint32_t	attempt;
	DpStatus	st;

	if (!ValidRandom(rng) || n == 0)
		return DP_ERR_PARAM;
	if (n == 1)
	{
		*out = 0;
		return DP_OK;
	}
	reject_below = (0 - n) % n;	/* 2^64 mod n, below n and below 2^63 */
	for (attempt = 0; attempt < DP_MAX_ROUNDS; attempt++)
	{
		MaybeInterrupt(attempt);
		st = DrawU64(rng, &x);
		if (st != DP_OK)
			return st;
		if (x >= reject_below)
		{
			*out = x % n;
			return DP_OK;
		}
	}
	return DP_ERR_RANDOM;
}

DpStatus
dp_bernoulli(const DpRandom *rng, DpRational p, bool *out)
{
	uint64_t	u;
	DpStatus	st;

	if (!ValidRandom(rng) || p.den == 0 || p.num > p.den)
		return DP_ERR_PARAM;
	if (p.num == 0 || p.num == p.den)
	{
		*out = p.num != 0;
		return DP_OK;
	}
	st = dp_uniform(rng, p.den, &u);
	if (st != DP_OK)
		return st;
	*out = u < p.num;
	return DP_OK;
}

/* Bernoulli(g / k) for g <= 1, k >= 1, whatever the size of g.den * k */
static DpStatus
BernoulliOverK(const DpRandom *rng, DpRational g, uint64_t k, bool *out)
{
	DpRational	p;
	bool		a;
	DpStatus	st;

	if (g.den <= UINT64_MAX / k)
	{
		p.num = g.num;
		p.den = g.den * k;
		return dp_bernoulli(rng, p, out);
	}
	st = dp_bernoulli(rng, g, &a);
	if (st != DP_OK || !a)
	{
		if (st == DP_OK)
			*out = false;
		return st;
	}
	p.num = 1;
	p.den = k;
	return dp_bernoulli(rng, p, out);
}

/*
 * Bernoulli(exp(-g)) for 0 <= g <= 1 (CKS Algorithm 1, first branch): K is
 * the first k with not Bernoulli(g / k), P(K > k) = g^k / k!, and
 * P(K odd) = sum (-g)^k / k! = exp(-g).
 */
static DpStatus
BernoulliExpUnit(const DpRandom *rng, DpRational g, bool *out)
{
	uint64_t	k;
	bool		a;
	DpStatus	st;

	for (k = 1; k <= DP_MAX_ROUNDS; k++)
	{
		MaybeInterrupt(k);
		st = BernoulliOverK(rng, g, k, &a);
		if (st != DP_OK)
			return st;
		if (!a)
		{
			*out = (k & 1) != 0;
			return DP_OK;
		}
	}
	return DP_ERR_RANDOM;		/* probability below 1 / 1024! */
}

/*
 * Bernoulli(exp(-gamma)) for any gamma >= 0 (CKS Algorithm 1): exp(-gamma)
 * is exp(-1)^floor(gamma) * exp(-frac(gamma)).  The loop over floor(gamma)
 * stops at the first failure, so it runs about 1.6 times on average; it
 * reaches DP_MAX_ROUNDS with probability exp(-1024).
 */
DpStatus
dp_bernoulli_exp(const DpRandom *rng, DpRational gamma, bool *out)
{
	uint64_t	whole,
				i;
	DpRational	frac;
	bool		b;
	DpStatus	st;

	if (!ValidRandom(rng) || gamma.den == 0)
		return DP_ERR_PARAM;
	if (gamma.num <= gamma.den)
		return BernoulliExpUnit(rng, gamma, out);
	whole = gamma.num / gamma.den;
	frac.num = gamma.num % gamma.den;
	frac.den = gamma.den;
	for (i = 0; i < whole; i++)
	{
		if (i >= DP_MAX_ROUNDS)
			return DP_ERR_RANDOM;
		MaybeInterrupt(i);
		st = BernoulliExpUnit(rng, one, &b);
		if (st != DP_OK)
			return st;
		if (!b)
		{
			*out = false;
			return DP_OK;
		}
	}
	return BernoulliExpUnit(rng, frac, out);
}

/* V: successes of Bernoulli(exp(-1)) before the first failure */
static DpStatus
GeometricUnit(const DpRandom *rng, uint64_t *out)
{
	uint64_t	v;
	bool		a;
	DpStatus	st;

	for (v = 0; v < DP_MAX_ROUNDS; v++)
	{
		MaybeInterrupt(v);
		st = BernoulliExpUnit(rng, one, &a);
		if (st != DP_OK)
			return st;
		if (!a)
		{
			*out = v;
			return DP_OK;
		}
	}
	return DP_ERR_RANDOM;		/* probability exp(-1024) */
}

/*
 * CKS Algorithm 2, steps 1-5, with t = scale.num, s = scale.den: U + t V is
 * geometric with parameter exp(-1/t) (U accepted with probability
 * exp(-U/t) carries the fractional part, V the whole multiples of t), and
 * floor((U + t V) / s) is then geometric with parameter exp(-s/t).  The
 * acceptance probability is at least 1 - 1/e per round.
 */
DpStatus
dp_geometric(const DpRandom *rng, DpRational scale, int64_t *out)
{
	uint64_t	u,
				v;
	uint32_t	attempt;
	DpRational	g;
	bool		d;
	uint128		y;
	DpStatus	st;

	if (!ValidRandom(rng) || scale.num == 0 || scale.den == 0)
		return DP_ERR_PARAM;
	for (attempt = 0; attempt < DP_MAX_ROUNDS; attempt++)
	{
		MaybeInterrupt(attempt);
		st = dp_uniform(rng, scale.num, &u);
		if (st != DP_OK)
			return st;
		g.num = u;
		g.den = scale.num;
		st = BernoulliExpUnit(rng, g, &d);
		if (st != DP_OK)
			return st;
		if (!d)
			continue;
		st = GeometricUnit(rng, &v);
		if (st != DP_OK)
			return st;
		/* v < 1024, so the product stays below 2^74 */
		y = ((uint128) u + (uint128) scale.num * v) / scale.den;
		if (y > (uint128) INT64_MAX)
			return DP_ERR_OVERFLOW;
		*out = (int64_t) y;
		return DP_OK;
	}
	return DP_ERR_RANDOM;		/* probability below e^-1024 */
}

/*
 * CKS Algorithm 2: a geometric magnitude with a uniform sign; "-0" is
 * rejected so that 0 is not counted twice.  Each round is rejected with
 * probability P(Y = 0) / 2 < 1/2.
 */
DpStatus
dp_discrete_laplace(const DpRandom *rng, DpRational scale, int64_t *out)
{
	int64_t		y;
	uint64_t	b;
	uint32_t	attempt;
	DpStatus	st;

	if (!ValidRandom(rng) || scale.num == 0 || scale.den == 0)
		return DP_ERR_PARAM;
	for (attempt = 0; attempt < DP_MAX_ROUNDS; attempt++)
	{
		MaybeInterrupt(attempt);
		st = dp_geometric(rng, scale, &y);
		if (st != DP_OK)
			return st;
		st = dp_uniform(rng, 2, &b);
		if (st != DP_OK)
			return st;
		if (b == 1 && y == 0)
			continue;
		*out = b == 1 ? -y : y;
		return DP_OK;
	}
	return DP_ERR_RANDOM;		/* probability below 2^-1024 */
}
