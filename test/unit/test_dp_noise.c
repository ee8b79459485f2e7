/*
 * test_dp_noise.c
 *	  Unit tests of the differential-privacy noise sampler (src/dp_noise.c,
 *	  dp_noise.h).
 *
 * Statistical checks compare the samplers with their exact distributions:
 * the discrete Laplace and geometric PMFs (closed forms, in long double),
 * the uniform distribution and exact Bernoulli probabilities.  Every
 * statistical check has a false-failure probability of at most
 * DELTA = 1e-8 for ANY seed, because its threshold is a tail bound:
 *
 * - Kolmogorov-Smirnov: the DKW inequality with Massart's constant,
 *   P(sup |F_n - F| > e) <= 2 exp(-2 n e^2), which holds for every
 *   distribution, discrete ones included.
 * - Binomial counts (Bernoulli frequencies, P(Z = 0), the sign of Z, the
 *   parity of uniform integers): the Chernoff bound
 *   P(X/n >= r) <= exp(-n KL(r || p)) on each side, DELTA/2 each.
 * - Mean: the Chernoff bound with the exact moment generating function of
 *   the discrete Laplace, (1-q)^2 / ((1 - q e^l)(1 - q e^-l)).
 * - Second moment (the variance; the mean is 0): truncation at M with
 *   n P(|Z| > M) <= DELTA/4, then Bernstein's inequality for the truncated
 *   squares (range M^2, variance at most E[Z^4]) at DELTA/4 a side.
 * - Chi-square goodness of fit: bins merged so that each expects at least
 *   max(100, n/64) samples, and the threshold x with
 *   (x/k e^(1 - x/k))^(k/2) = DELTA, the Chernoff bound on the chi-square
 *   tail with k degrees of freedom.  This one rests on the chi-square law
 *   of Pearson's statistic, which is asymptotic; the Chernoff bound
 *   overstates the exact chi-square tail 20 to 45 times at these
 *   thresholds (the exact tails are 2e-10 to 5e-10), a margin that covers
 *   the approximation with expected counts this large.
 *
 * The program counts its statistical checks (54) and checks that
 * their number times DELTA, the total false-failure probability of a run by
 * the union bound, is at most 1e-6; it prints the figure.  The seeds are
 * fixed, so a run is deterministic.
 *
 * Power: the same checks are run on deliberately wrong samplers (the
 * discrete Laplace with scale 2t tested against scale t, a uniform sampler
 * with modulo bias, Bernoulli(exp(-1/3)) tested against exp(-1/4)) and must
 * reject them.  Their statistics are hundreds of times their thresholds, so
 * these checks are deterministic in practice as well as with the fixed seed.
 *
 * Under valgrind (UNIT_MODE=valgrind) the sample counts are smaller; the
 * thresholds follow the counts, so the guarantees are the same.
 */
#include "../../src/dp_noise.h"
#include "unit.h"

#include <float.h>
#include <math.h>

#define DELTA			1e-8	/* false-failure probability per check */
#define TOTAL_BUDGET	1e-6	/* per run */
#define E_MIN			100.0	/* least expected count of a chi-square bin */
#define MAX_BINS		80

static int	stat_checks;		/* statistical checks run, for the total */
static bool under_valgrind;

/* sample counts, reduced under valgrind */
static size_t n_laplace;
static size_t n_uniform;
static size_t n_bernoulli;

/* ================================================================ sources */


/* a seeded source that counts its calls and fails from call fail_at on */
typedef struct Counting
{
	Rng			rng;
	long		calls;
	long		fail_at;		/* -1: never */
} Counting;

static int
counting_fill(void *ctx, uint8_t *buf, size_t len)
{
	Counting   *c = ctx;

	if (c->fail_at >= 0 && c->calls >= c->fail_at)
		return -1;
	c->calls++;
	return rng_fill(&c->rng, buf, len);
}

/* a source that returns scripted 64-bit words, then fails */
typedef struct Script
{
	const uint64_t *words;
	size_t		n;
	size_t		pos;
} Script;

static int
script_fill(void *ctx, uint8_t *buf, size_t len)
{
	Script	   *s = ctx;
	uint64_t	x;

	if (len != 8 || s->pos >= s->n)
		return 1;
	x = s->words[s->pos++];
	for (int i = 0; i < 8; i++, x >>= 8)
		buf[i] = (uint8_t) x;
	return 0;
}

/* a broken source: constant bytes */
static int
constant_fill(void *ctx, uint8_t *buf, size_t len)
{
	memset(buf, *(const uint8_t *) ctx, len);
	return 0;
}

static DpRandom
seeded(Rng *r, uint64_t seed)
{
	DpRandom	d = {rng_fill, r};

	r->state = seed;
	return d;
}

static DpRational
rat(uint64_t num, uint64_t den)
{
	DpRational	r = {num, den};

	return r;
}

/* ================================================================ bounds */

/*
 * The acceptance interval (lo, hi) of X/n for X ~ Binomial(n, p), 0 < p < 1:
 * n KL(hi || p) >= log(2/delta) (or hi > 1), likewise lo; bisection keeps
 * the side where the bound holds.
 */
static void
binomial_interval(double n, double p, double delta, double *lo, double *hi)
{
	double		L = log(2 / delta);
	double		a,
				b;

	if (n * bernoulli_kl(1, p) < L)
		*hi = 2;
	else
	{
		a = p;
		b = 1;
		for (int i = 0; i < 200; i++)
		{
			double		m = (a + b) / 2;

			if (n * bernoulli_kl(m, p) >= L)
				b = m;
			else
				a = m;
		}
		*hi = b;
	}
	if (n * bernoulli_kl(0, p) < L)
		*lo = -1;
	else
	{
		a = 0;
		b = p;
		for (int i = 0; i < 200; i++)
		{
			double		m = (a + b) / 2;

			if (n * bernoulli_kl(m, p) >= L)
				a = m;
			else
				b = m;
		}
		*lo = a;
	}
}

/* is count a plausible Binomial(n, p)?  (p strictly inside (0, 1)) */
static bool
binomial_ok(double count, double n, double p, double *lo, double *hi)
{
	binomial_interval(n, p, DELTA, lo, hi);
	return count / n > *lo && count / n < *hi;
}

static bool
check_binomial(const char *what, double count, double n, double p)
{
	double		lo,
				hi;

	bool		ok = binomial_ok(count, n, p, &lo, &hi);

	stat_checks++;
	return CHECKF(ok, "%s: %.0f of %.0f, p = %.6g, accepted (%.6g, %.6g) x n",
				  what, count, n, p, lo * n, hi * n);
}

/* the chi-square threshold: (z e^(1-z))^(k/2) <= delta at x = k z */
static double
chi2_threshold(int k, double delta)
{
	double		a = 1,
				b = 1000;

	for (int i = 0; i < 200; i++)
	{
		double		z = (a + b) / 2;

		if (k / 2.0 * (log(z) + 1 - z) <= log(delta))
			b = z;
		else
			a = z;
	}
	return k * b;
}

/* the DKW bound: sup |F_n - F| > e with probability at most delta */
static double
dkw_threshold(double n, double delta)
{
	return sqrt(log(2 / delta) / (2 * n));
}

/* ================================================================ dists */

typedef enum DistKind
{
	LAPLACE,
	GEOMETRIC
} DistKind;

typedef struct Dist
{
	DistKind	kind;
	long double t;				/* the scale */
	long double q;				/* exp(-1/t) */
} Dist;

static Dist
dist(DistKind kind, DpRational scale)
{
	Dist		d;

	d.kind = kind;
	d.t = (long double) scale.num / scale.den;
	d.q = expl(-(long double) scale.den / scale.num);
	return d;
}

/* q^k, accurately for large k */
static long double
qpow(const Dist *d, long double k)
{
	return expl(-k / d->t);
}

static long double
pmf(const Dist *d, int64_t z)
{
	if (d->kind == GEOMETRIC)
		return z < 0 ? 0 : (1 - d->q) * qpow(d, z);
	return (1 - d->q) / (1 + d->q) * qpow(d, z < 0 ? -(long double) z : z);
}

/* P(X <= z) */
static long double
cdf(const Dist *d, int64_t z)
{
	if (d->kind == GEOMETRIC)
		return z < 0 ? 0 : 1 - qpow(d, (long double) z + 1);
	if (z < 0)
		return qpow(d, -(long double) z) / (1 + d->q);
	return 1 - qpow(d, (long double) z + 1) / (1 + d->q);
}

/* P(X > z) */
static long double
sf(const Dist *d, int64_t z)
{
	if (d->kind == GEOMETRIC)
		return z < 0 ? 1 : qpow(d, (long double) z + 1);
	if (z < 0)
		return 1 - qpow(d, -(long double) z) / (1 + d->q);
	return qpow(d, (long double) z + 1) / (1 + d->q);
}

/* ================================================================ tests */

/*
 * Chi-square goodness of fit of integer samples to d: bins (-inf, e0],
 * (e0, e1], ..., (e_last, inf), each expecting at least max(E_MIN, n/64).
 * Returns whether the statistic is below the threshold.
 */
static bool
chi2_fit(const int64_t *x, size_t n, const Dist *d, double *stat, double *thr,
		 int *nbins)
{
	long double tau = fmaxl(E_MIN / n, 1.0L / 64);
	int64_t		edges[MAX_BINS];
	long double mass[MAX_BINS + 1];
	double		count[MAX_BINS + 1] = {0};
	int			ne = 0;
	int64_t		z = 0;
	double		x2 = 0;

	if (d->kind == LAPLACE)
		while (cdf(d, z - 1) >= tau)
			z--;
	while (cdf(d, z) < tau)
		z++;
	edges[ne++] = z;
	while (sf(d, edges[ne - 1]) >= 2 * tau && ne < MAX_BINS)
	{
		int64_t		prev = edges[ne - 1];

		z = prev + 1;
		while (cdf(d, z) - cdf(d, prev) < tau)
			z++;
		edges[ne++] = z;
	}
	if (ne > 1 && sf(d, edges[ne - 1]) < tau)
		ne--;					/* merge a small last bin into its neighbour */
	mass[0] = cdf(d, edges[0]);
	for (int i = 1; i < ne; i++)
		mass[i] = cdf(d, edges[i]) - cdf(d, edges[i - 1]);
	mass[ne] = sf(d, edges[ne - 1]);

	for (size_t i = 0; i < n; i++)
	{
		int			lo = 0,
					hi = ne;	/* first edge >= x[i], ne if none */

		while (lo < hi)
		{
			int			mid = (lo + hi) / 2;

			if (edges[mid] >= x[i])
				hi = mid;
			else
				lo = mid + 1;
		}
		count[lo]++;
	}
	for (int i = 0; i <= ne; i++)
	{
		double		e = (double) (mass[i] * n);

		x2 += (count[i] - e) * (count[i] - e) / e;
	}
	*stat = x2;
	*nbins = ne + 1;
	*thr = chi2_threshold(ne, DELTA);
	return x2 < *thr;
}

static int
cmp_int64(const void *a, const void *b)
{
	int64_t		x = *(const int64_t *) a;
	int64_t		y = *(const int64_t *) b;

	return (x > y) - (x < y);
}

/*
 * The Kolmogorov-Smirnov distance sup_z |F_n(z) - F(z)|: both are step
 * functions on the integers, so it is the largest difference at a sample
 * value v, either side of its jump (F_n(v) against F(v), F_n(v-) against
 * F(v - 1)).
 */
static bool
ks_fit(const int64_t *x, size_t n, const Dist *d, double *stat, double *thr)
{
	int64_t    *s = malloc(sizeof(int64_t) * n);
	long double dmax = 0;
	size_t		i = 0;

	memcpy(s, x, sizeof(int64_t) * n);
	qsort(s, n, sizeof(int64_t), cmp_int64);
	while (i < n)
	{
		size_t		j = i;

		while (j < n && s[j] == s[i])
			j++;
		dmax = fmaxl(dmax, fabsl((long double) j / n - cdf(d, s[i])));
		dmax = fmaxl(dmax, fabsl((long double) i / n - cdf(d, s[i] - 1)));
		i = j;
	}
	free(s);
	*stat = (double) dmax;
	*thr = dkw_threshold(n, DELTA);
	return *stat < *thr;
}

/* log E[e^(l Z)] of the discrete Laplace, |l| < 1/t */
static double
laplace_log_mgf(const Dist *d, double l)
{
	double		it = (double) (1 / d->t);

	return 2 * log(-expm1(-it)) - log(-expm1(l - it)) - log(-expm1(-l - it));
}

/* a lower bound on the Chernoff rate sup_l (l a - log M(l)) */
static double
laplace_rate(const Dist *d, double a)
{
	double		lo = 0,
				hi = (double) (1 / d->t);
	double		best = 0;

	for (int i = 0; i < 200; i++)
	{
		double		m1 = lo + (hi - lo) / 3,
					m2 = hi - (hi - lo) / 3;
		double		f1 = m1 * a - laplace_log_mgf(d, m1),
					f2 = m2 * a - laplace_log_mgf(d, m2);

		best = fmax(best, fmax(f1, f2));
		if (f1 < f2)
			lo = m1;
		else
			hi = m2;
	}
	return best;
}

/* |mean| < a, where P(|mean| >= a) <= delta by Chernoff on each side */
static bool
mean_ok(const int64_t *x, size_t n, const Dist *d, double *mean, double *thr)
{
	double		L = log(2 / DELTA);
	double		a = 0,
				b = (double) sqrtl(2 * d->q) / (double) (1 - d->q);
	long double sum = 0;

	while (n * laplace_rate(d, b) < L)
		b *= 2;
	for (int i = 0; i < 100; i++)
	{
		double		m = (a + b) / 2;

		if (n * laplace_rate(d, m) >= L)
			b = m;
		else
			a = m;
	}
	for (size_t i = 0; i < n; i++)
		sum += x[i];
	*mean = (double) (sum / n);
	*thr = b;
	return fabs(*mean) < b;
}

/* E[Z^k 1{|Z| > from}] of the discrete Laplace, by summation */
static long double
laplace_moment(const Dist *d, int k, int64_t from)
{
	long double s = 0;

	for (int64_t z = from + 1;; z++)
	{
		long double term = 2 * pmf(d, z) * powl((long double) z, k);

		s += term;
		if (z > 10 && term < 1e-30L * s)
			break;
	}
	return s;
}

/*
 * The mean of Z^2 is within eps of E[Z^2]: truncation at M and Bernstein's
 * inequality, see the file header.
 */
static bool
second_moment_ok(const int64_t *x, size_t n, const Dist *d, double *m2,
				 double *expect, double *thr)
{
	long double mu = 2 * d->q / ((1 - d->q) * (1 - d->q));
	long double z4 = laplace_moment(d, 4, 0);
	int64_t		M = 0;
	double		b,
				L = log(4 / DELTA),
				eps,
				tail;
	long double sum = 0;

	while (n * 2 * qpow(d, (long double) M + 1) / (1 + d->q) > DELTA / 4)
		M++;
	b = (double) M * (double) M;
	eps = (2 * b * L / 3 + sqrt(pow(2 * b * L / 3, 2) + 8.0 * n * (double) z4 * L))
		/ (2.0 * n);
	tail = (double) laplace_moment(d, 2, M);
	for (size_t i = 0; i < n; i++)
		sum += (long double) x[i] * x[i];
	*m2 = (double) (sum / n);
	*expect = (double) mu;
	*thr = eps + tail;
	return fabs(*m2 - *expect) < *thr;
}

/* draw n discrete Laplace (or geometric) samples; false on any error */
static bool
draw(DistKind kind, DpRational scale, uint64_t seed, int64_t *x, size_t n)
{
	Rng			r;
	DpRandom	rng = seeded(&r, seed);

	for (size_t i = 0; i < n; i++)
	{
		DpStatus	st = kind == LAPLACE ? dp_discrete_laplace(&rng, scale, &x[i])
			: dp_geometric(&rng, scale, &x[i]);

		if (!CHECKF(st == DP_OK, "sample %zu returned %d", i, st))
			return false;
	}
	return true;
}

/* chi-square and KS of x against d; expect_fit false for a power check */
static void
check_fit(const char *what, const int64_t *x, size_t n, const Dist *d,
		  bool expect_fit, bool with_chi2)
{
	double		stat,
				thr;
	int			nbins;

	if (with_chi2)
	{
		bool		fit = chi2_fit(x, n, d, &stat, &thr, &nbins);

		if (expect_fit)
			stat_checks++;
		CHECKF(fit == expect_fit, "%s: chi-square %.1f, %d bins, threshold %.1f",
			   what, stat, nbins, thr);
		printf("  %s: chi-square %.1f, %d bins, threshold %.1f\n",
			   what, stat, nbins, thr);
	}
	{
		bool		fit = ks_fit(x, n, d, &stat, &thr);

		if (expect_fit)
			stat_checks++;
		CHECKF(fit == expect_fit, "%s: KS distance %.5f, threshold %.5f",
			   what, stat, thr);
		printf("  %s: KS distance %.5f, threshold %.5f\n", what, stat, thr);
	}
}

/* ================================================================ cases */

static void
test_discrete_laplace(DpRational scale, uint64_t seed)
{
	int64_t    *x = malloc(sizeof(int64_t) * n_laplace);
	Dist		d = dist(LAPLACE, scale);
	size_t		zeros = 0,
				pos = 0,
				neg = 0;
	double		v,
				expect,
				thr;

	case_begin("discrete Laplace, scale %llu/%llu: %zu samples",
			   (unsigned long long) scale.num, (unsigned long long) scale.den,
			   n_laplace);
	if (draw(LAPLACE, scale, seed, x, n_laplace))
	{
		bool		ok;

		check_fit("fit", x, n_laplace, &d, true, true);

		ok = mean_ok(x, n_laplace, &d, &v, &thr);
		stat_checks++;
		CHECKF(ok, "mean %.5f, threshold %.5f", v, thr);
		printf("  mean %.5f, threshold +-%.5f\n", v, thr);
		ok = second_moment_ok(x, n_laplace, &d, &v, &expect, &thr);
		stat_checks++;
		CHECKF(ok, "mean square %.5f, variance %.5f, threshold %.5f", v, expect, thr);
		printf("  mean square %.5f, variance %.5f, threshold +-%.5f\n",
			   v, expect, thr);
		/* the closed forms agree with the PMF */
		CHECKF(fabsl(laplace_moment(&d, 2, 0) - expect) < 1e-9 * expect,
			   "variance %.12Lg by summation, %.12g closed form",
			   laplace_moment(&d, 2, 0), expect);
		CHECK(fabsl(pmf(&d, 0) - tanhl(1 / (2 * d.t))) < 1e-12);

		for (size_t i = 0; i < n_laplace; i++)
		{
			zeros += x[i] == 0;
			pos += x[i] > 0;
			neg += x[i] < 0;
		}
		if (pmf(&d, 0) < 1 - 1e-6)
			check_binomial("P(Z = 0)", zeros, n_laplace, (double) pmf(&d, 0));
		check_binomial("symmetry: Z > 0 among Z != 0", pos, pos + neg, 0.5);
	}
	free(x);
	case_end();
}

/* power: scale 2t samples must fail every test against scale t */
static void
test_power(DpRational scale, uint64_t seed)
{
	size_t		n = n_laplace;
	int64_t    *x = malloc(sizeof(int64_t) * n);
	DpRational	wrong = rat(scale.num * 2, scale.den);
	Dist		d = dist(LAPLACE, scale);
	double		v,
				expect,
				thr;

	case_begin("power: scale %llu/%llu samples rejected as scale %llu/%llu",
			   (unsigned long long) wrong.num, (unsigned long long) wrong.den,
			   (unsigned long long) scale.num, (unsigned long long) scale.den);
	if (draw(LAPLACE, wrong, seed, x, n))
	{
		bool		ok;

		check_fit("wrong scale", x, n, &d, false, true);
		ok = second_moment_ok(x, n, &d, &v, &expect, &thr);
		CHECKF(!ok, "mean square %.5f, variance %.5f, threshold %.5f", v, expect, thr);
		printf("  mean square %.5f, variance %.5f, threshold +-%.5f\n",
			   v, expect, thr);
	}
	free(x);
	case_end();
}

static void
test_geometric(DpRational scale, uint64_t seed)
{
	int64_t    *x = malloc(sizeof(int64_t) * n_laplace);
	Dist		d = dist(GEOMETRIC, scale);

	case_begin("geometric, scale %llu/%llu: %zu samples",
			   (unsigned long long) scale.num, (unsigned long long) scale.den,
			   n_laplace);
	if (draw(GEOMETRIC, scale, seed, x, n_laplace))
		check_fit("fit", x, n_laplace, &d, true, true);
	free(x);
	case_end();
}

/* scales not of the round kind: epsilon 0.1 as used, and a huge scale */
static void
test_other_scales(void)
{
	int64_t    *x = malloc(sizeof(int64_t) * n_laplace);
	DpRational	eps,
				t;
	Dist		d;

	case_begin("discrete Laplace, scale 1/epsilon for epsilon 0.1; scale 1e12/7");
	CHECK(dp_epsilon_from_double(0.1, &eps) == DP_OK);
	CHECK(dp_rational_div_up(rat(1, 1), eps, &t) == DP_OK);
	CHECKF(t.num == UINT64_C(4294967296) && t.den == 429496729,
		   "scale %llu/%llu", (unsigned long long) t.num,
		   (unsigned long long) t.den);
	d = dist(LAPLACE, t);
	if (draw(LAPLACE, t, 101, x, n_laplace))
		check_fit("1/0.1", x, n_laplace, &d, true, true);

	/* too wide for chi-square bins by walking; KS needs only a sort */
	t = rat(UINT64_C(1000000000000), 7);
	d = dist(LAPLACE, t);
	if (draw(LAPLACE, t, 102, x, n_laplace))
		check_fit("1e12/7", x, n_laplace, &d, true, false);

	/* a tiny scale: P(Z != 0) = 2 e^-1000 / (1 + e^-1000) */
	if (draw(LAPLACE, rat(1, 1000), 103, x, n_uniform))
	{
		size_t		nonzero = 0;

		for (size_t i = 0; i < n_uniform; i++)
			nonzero += x[i] != 0;
		CHECKF(nonzero == 0, "%zu of %zu non-zero", nonzero, n_uniform);
	}
	free(x);
	case_end();
}

/* 64 equal-width bins of [0, n) with exact probabilities, or n bins */
static void
check_uniform(uint64_t n, uint64_t seed)
{
	Rng			r;
	DpRandom	rng = seeded(&r, seed);
	int			nb = n <= 64 ? (int) n : 64;
	uint64_t	w = n / nb + (n % nb != 0);
	double		count[64] = {0};
	double		odd = 0,
				x2 = 0,
				thr;
	size_t		N = n_uniform;

	for (size_t i = 0; i < N; i++)
	{
		uint64_t	v = UINT64_MAX;
		DpStatus	st = dp_uniform(&rng, n, &v);

		if (!CHECKF(st == DP_OK && v < n, "n = %llu: status %d, value %llu",
					(unsigned long long) n, st, (unsigned long long) v))
			return;
		count[v / w]++;
		odd += v & 1;
	}
	for (int j = 0; j < nb; j++)
	{
		uint64_t	lo = w * j,
					hi = j == nb - 1 ? n : w * (j + 1);
		double		e = (double) ((long double) (hi - lo) / n * N);

		x2 += (count[j] - e) * (count[j] - e) / e;
	}
	thr = chi2_threshold(nb - 1, DELTA);
	stat_checks++;
	CHECKF(x2 < thr, "n = %llu: chi-square %.1f, %d bins, threshold %.1f",
		   (unsigned long long) n, x2, nb, thr);
	if (n > 64 && n % 2 == 1)
		check_binomial("odd values", odd, N,
					   (double) ((long double) (n / 2) / n));
}

static void
test_uniform(void)
{
	Counting	c = {{7}, 0, -1};
	DpRandom	rng = {counting_fill, &c};
	uint64_t	v;

	case_begin("uniform integers: chi-square over [0, n)");
	check_uniform(3, 11);
	check_uniform(6, 12);
	check_uniform(UINT64_C(1000000000000000009), 13);
	check_uniform((UINT64_C(1) << 63) + 1, 14);
	check_uniform(3 * (UINT64_C(1) << 62) + 1, 15);
	check_uniform(UINT64_MAX, 16);

	/*
	 * n = 2^63 + 1 rejects 2^63 - 1 of the 2^64 draws; none rejected in
	 * 10000 samples would have probability 2^-10000.
	 */
	for (int i = 0; i < 10000; i++)
		dp_uniform(&rng, (UINT64_C(1) << 63) + 1, &v);
	CHECKF(c.calls > 10000 + 4000, "%ld draws for 10000 samples", c.calls);
	case_end();
}

/* the rejection path, word by word */
static void
test_uniform_script(void)
{
	uint64_t	big = (UINT64_C(1) << 63) + 1;	/* 2^64 mod big = 2^63 - 1 */
	uint64_t	w1[] = {0, (UINT64_C(1) << 63) - 2, (UINT64_C(1) << 63) - 1};
	uint64_t	w2[] = {UINT64_MAX};
	uint64_t	w3[] = {0, 1};
	uint64_t	w4[] = {0};
	uint64_t	w5[] = {UINT64_C(7) << 61};
	Script		s = {w1, 3, 0};
	DpRandom	rng = {script_fill, &s};
	uint64_t	v = 99;

	case_begin("uniform integers: rejection, word by word");
	CHECK(dp_uniform(&rng, big, &v) == DP_OK);
	CHECKF(v == (UINT64_C(1) << 63) - 1 && s.pos == 3, "value %llu after %zu words",
		   (unsigned long long) v, s.pos);

	s = (Script) {w2, 1, 0};
	CHECK(dp_uniform(&rng, big, &v) == DP_OK && v == (UINT64_C(1) << 63) - 2);

	s = (Script) {w3, 2, 0};	/* n = 3: 2^64 mod 3 = 1, so 0 is rejected */
	CHECK(dp_uniform(&rng, 3, &v) == DP_OK && v == 1 && s.pos == 2);

	s = (Script) {w4, 1, 0};	/* a power of two rejects nothing */
	CHECK(dp_uniform(&rng, UINT64_C(1) << 40, &v) == DP_OK && v == 0);

	s = (Script) {w5, 1, 0};	/* n = 1e18 + 9: 7 * 2^61 mod n */
	CHECK(dp_uniform(&rng, UINT64_C(1000000000000000009), &v) == DP_OK &&
		  v == (UINT64_C(7) << 61) % UINT64_C(1000000000000000009));

	s = (Script) {w4, 1, 0};	/* the script runs out: an error */
	v = 99;
	CHECK(dp_uniform(&rng, 3, &v) == DP_ERR_RANDOM && v == 99);

	s = (Script) {w4, 0, 0};	/* n = 1 draws nothing */
	CHECK(dp_uniform(&rng, 1, &v) == DP_OK && v == 0);
	case_end();
}

/*
 * A modulo-biased sampler must fail the chi-square test: for
 * n = 3 * 2^62 + 1, x mod n without rejection makes [0, 2^62 - 1) twice as
 * likely as the rest.  (For n = 2^63 + 1 the bias would touch two values.)
 */
static void
test_uniform_power(void)
{
	Rng			r = {21};
	uint64_t	n = 3 * (UINT64_C(1) << 62) + 1;
	uint64_t	w = n / 64 + 1;
	double		count[64] = {0},
				x2 = 0;

	case_begin("power: x mod n without rejection is rejected");
	for (size_t i = 0; i < n_uniform; i++)
		count[(rng_next(&r) % n) / w]++;
	for (int j = 0; j < 64; j++)
	{
		uint64_t	hi = j == 63 ? n : w * (j + 1);
		double		e = (double) ((long double) (hi - w * j) / n * n_uniform);

		x2 += (count[j] - e) * (count[j] - e) / e;
	}
	CHECKF(x2 >= chi2_threshold(63, DELTA), "chi-square %.1f, threshold %.1f",
		   x2, chi2_threshold(63, DELTA));
	case_end();
}

static double
bernoulli_count(DpRational x, bool exp_of, uint64_t seed, size_t n)
{
	Rng			r;
	DpRandom	rng = seeded(&r, seed);
	double		ones = 0;

	for (size_t i = 0; i < n; i++)
	{
		bool		b = false;
		DpStatus	st = exp_of ? dp_bernoulli_exp(&rng, x, &b)
			: dp_bernoulli(&rng, x, &b);

		if (!CHECKF(st == DP_OK, "status %d", st))
			return -1;
		ones += b;
	}
	return ones;
}

static void
test_bernoulli(void)
{
	struct
	{
		uint64_t	num,
					den;
	}			xs[] = {
		{1, 3}, {1, 1}, {5, 2}, {20, 1},
		/* just below 1 with den * 2 overflowing: Bernoulli(g) and (1/K) */
		{(UINT64_C(1) << 63) + 1, (UINT64_C(1) << 63) + 3},
	};
	size_t		n = n_bernoulli;
	double		lo,
				hi,
				ones;
	bool		ok;
	char		what[64];

	case_begin("Bernoulli(exp(-x)) and Bernoulli(p): %zu samples each", n);
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
	{
		DpRational	x = rat(xs[i].num, xs[i].den);

		snprintf(what, sizeof(what), "exp(-%llu/%llu)",
				 (unsigned long long) x.num, (unsigned long long) x.den);
		check_binomial(what, bernoulli_count(x, true, 30 + i, n), n,
					   (double) expl(-(long double) x.num / x.den));
	}
	/* exp(0) = 1; exp(-2^40) underflows every double, so never true */
	CHECK(bernoulli_count(rat(0, 5), true, 40, n) == n);
	CHECK(bernoulli_count(rat(UINT64_C(1) << 40, 1), true, 41, n) == 0);

	check_binomial("1/3", bernoulli_count(rat(1, 3), false, 42, n), n, 1.0 / 3);
	check_binomial("2^63/(2^64-1)",
				   bernoulli_count(rat(UINT64_C(1) << 63, UINT64_MAX), false, 43, n),
				   n, (double) ((long double) 0x1p63L / UINT64_MAX));
	CHECK(bernoulli_count(rat(0, 7), false, 44, n) == 0);
	CHECK(bernoulli_count(rat(7, 7), false, 45, n) == n);

	/* power: exp(-1/3) samples are not exp(-1/4) */
	ones = bernoulli_count(rat(1, 3), true, 46, n);
	ok = binomial_ok(ones, n, exp(-0.25), &lo, &hi);
	CHECKF(!ok, "exp(-1/3) samples pass as exp(-1/4): %.0f in (%.0f, %.0f)",
		   ones, lo * n, hi * n);
	case_end();
}

static void
test_seeds(void)
{
	int64_t		a[32],
				b[32],
				c[32];

	case_begin("seeds: the same seed repeats, another seed differs");
	/* equal by chance with probability below 0.05^32 */
	if (draw(LAPLACE, rat(10, 1), 1, a, 32) && draw(LAPLACE, rat(10, 1), 1, b, 32) &&
		draw(LAPLACE, rat(10, 1), 2, c, 32))
	{
		CHECK(memcmp(a, b, sizeof(a)) == 0);
		CHECK(memcmp(a, c, sizeof(a)) != 0);
	}
	case_end();
}

static int	interrupts;

static void
count_interrupt(void)
{
	interrupts++;
}

/* every sampler on one source, with sentinel outputs */
static void
all_samplers(const DpRandom *rng, DpStatus st[5], bool *untouched)
{
	uint64_t	u = 77;
	bool		b1 = true,
				b2 = true;
	int64_t		g = 77,
				z = 77;

	st[0] = dp_uniform(rng, 1000000007, &u);
	st[1] = dp_bernoulli(rng, rat(2, 7), &b1);
	st[2] = dp_bernoulli_exp(rng, rat(7, 3), &b2);
	st[3] = dp_geometric(rng, rat(1000, 7), &g);
	st[4] = dp_discrete_laplace(rng, rat(1000, 7), &z);
	*untouched = (st[0] == DP_OK || u == 77) && (st[1] == DP_OK || b1) &&
		(st[2] == DP_OK || b2) && (st[3] == DP_OK || g == 77) &&
		(st[4] == DP_OK || z == 77);
}

static void
test_random_failure(void)
{
	DpStatus	st[5];
	bool		untouched;
	long		errors = 0;

	case_begin("a failing random source gives DP_ERR_RANDOM, never a value");
	for (long k = 0; k < 60; k++)
	{
		Counting	c = {{k + 1}, 0, k};
		DpRandom	rng = {counting_fill, &c};

		for (int rep = 0; rep < 5; rep++)
		{
			c.calls = 0;
			all_samplers(&rng, st, &untouched);
			CHECK(untouched);
			for (int i = 0; i < 5; i++)
			{
				CHECKF(st[i] == DP_OK || st[i] == DP_ERR_RANDOM,
					   "sampler %d, failing at call %ld: status %d", i, k, st[i]);
				errors += st[i] == DP_ERR_RANDOM;
				if (k == 0)
					CHECKF(st[i] == DP_ERR_RANDOM, "sampler %d: status %d", i, st[i]);
			}
		}
	}
	CHECK(errors > 0);

	/* a broken source (constant bytes) ends, with a value or an error */
	for (int byte = 0; byte < 256; byte += 85)
	{
		uint8_t		c = (uint8_t) byte;
		DpRandom	rng = {constant_fill, &c};

		all_samplers(&rng, st, &untouched);
		CHECK(untouched);
		for (int i = 0; i < 5; i++)
			CHECKF(st[i] == DP_OK || st[i] == DP_ERR_RANDOM,
				   "byte %d, sampler %d: status %d", byte, i, st[i]);
	}

	/* all zeros: 0 < 2^64 mod 3 is always rejected, up to the cap */
	{
		uint8_t		zero = 0;
		DpRandom	rng = {constant_fill, &zero};
		uint64_t	v;

		dp_check_interrupts = count_interrupt;
		interrupts = 0;
		CHECK(dp_uniform(&rng, 3, &v) == DP_ERR_RANDOM);
		CHECKF(interrupts == DP_MAX_ROUNDS / 256, "%d interrupt checks", interrupts);
		dp_check_interrupts = NULL;
	}
	case_end();
}

static void
test_params(void)
{
	Rng			r;
	DpRandom	rng = seeded(&r, 5);
	DpRandom	nofn = {NULL, NULL};
	uint64_t	u;
	bool		b;
	int64_t		z;
	int			ok = 0,
				overflow = 0;

	case_begin("parameters out of range");
	CHECK(dp_uniform(&rng, 0, &u) == DP_ERR_PARAM);
	CHECK(dp_uniform(NULL, 5, &u) == DP_ERR_PARAM);
	CHECK(dp_uniform(&nofn, 5, &u) == DP_ERR_PARAM);
	CHECK(dp_bernoulli(&rng, rat(1, 0), &b) == DP_ERR_PARAM);
	CHECK(dp_bernoulli(&rng, rat(4, 3), &b) == DP_ERR_PARAM);
	CHECK(dp_bernoulli_exp(&rng, rat(1, 0), &b) == DP_ERR_PARAM);
	CHECK(dp_bernoulli_exp(&nofn, rat(1, 2), &b) == DP_ERR_PARAM);
	CHECK(dp_geometric(&rng, rat(0, 1), &z) == DP_ERR_PARAM);
	CHECK(dp_geometric(&rng, rat(1, 0), &z) == DP_ERR_PARAM);
	CHECK(dp_discrete_laplace(&rng, rat(0, 1), &z) == DP_ERR_PARAM);
	CHECK(dp_discrete_laplace(&rng, rat(1, 0), &z) == DP_ERR_PARAM);
	CHECK(dp_discrete_laplace(NULL, rat(1, 1), &z) == DP_ERR_PARAM);

	/*
	 * Scale 2^64 - 1: |Z| > INT64_MAX with probability about 0.6, so 200
	 * samples give both outcomes (each missing with probability < 0.6^200).
	 */
	for (int i = 0; i < 200; i++)
	{
		DpStatus	st = dp_discrete_laplace(&rng, rat(UINT64_MAX, 1), &z);

		ok += st == DP_OK;
		overflow += st == DP_ERR_OVERFLOW;
	}
	CHECKF(ok > 0 && overflow > 0 && ok + overflow == 200,
		   "%d values, %d overflows", ok, overflow);
	case_end();
}

static void
test_rationals(void)
{
	DpRational	q;
	int			c = 9;
	unsigned __int128 n,
				d;

	case_begin("exact rationals: comparison and rounded-up division");
	CHECK(dp_rational_cmp(rat(1, 3), rat(2, 5), &c) == DP_OK && c == -1);
	CHECK(dp_rational_cmp(rat(2, 6), rat(1, 3), &c) == DP_OK && c == 0);
	CHECK(dp_rational_cmp(rat(UINT64_MAX - 1, UINT64_MAX - 2),
						  rat(UINT64_MAX, UINT64_MAX - 1), &c) == DP_OK && c == 1);
	CHECK(dp_rational_cmp(rat(1, 0), rat(1, 1), &c) == DP_ERR_PARAM);

	CHECK(dp_rational_div_up(rat(6, 4), rat(3, 2), &q) == DP_OK &&
		  q.num == 1 && q.den == 1);
	CHECK(dp_rational_div_up(rat(0, 4), rat(3, 2), &q) == DP_OK && q.num == 0);
	CHECK(dp_rational_div_up(rat(1, 1), rat(0, 2), &q) == DP_ERR_PARAM);
	CHECK(dp_rational_div_up(rat(1, 0), rat(1, 2), &q) == DP_ERR_PARAM);
	CHECK(dp_rational_div_up(rat(UINT64_MAX, 1), rat(1, 2), &q) == DP_ERR_OVERFLOW);

	/* 3 (2^64 - 1) / (2^64 - 2) is in lowest terms and does not fit */
	CHECK(dp_rational_div_up(rat(UINT64_MAX, 1), rat(UINT64_MAX - 1, 3), &q) == DP_OK);
	n = (unsigned __int128) UINT64_MAX * 3;
	d = UINT64_MAX - 1;
	CHECKF((unsigned __int128) q.num * d >= n * q.den &&
		   (unsigned __int128) q.num * d - n * q.den < d,
		   "%llu/%llu is not the exact quotient rounded up to 1/den",
		   (unsigned long long) q.num, (unsigned long long) q.den);
	CHECK(q.den == UINT64_C(1) << 61);

	/* 1 / (2^64 - 1)^2 rounds up to 2^-63 */
	CHECK(dp_rational_div_up(rat(1, UINT64_MAX), rat(UINT64_MAX, 1), &q) == DP_OK &&
		  q.num == 1 && q.den == UINT64_C(1) << 63);
	case_end();
}

static void
test_epsilon(void)
{
	DpRational	e;
	int64_t		u;
	Rng			r = {77};

	case_begin("epsilon: rational rounded down, ledger units rounded up");
	CHECK(dp_epsilon_from_double(0.1, &e) == DP_OK &&
		  e.num == 429496729 && e.den == UINT64_C(1) << 32);
	CHECK(ldexp((double) e.num, -32) <= 0.1 && 0.1 - ldexp((double) e.num, -32) < 0x1p-32);
	CHECK(dp_epsilon_units(e, &u) == DP_OK && u == 100000000);
	CHECK(dp_epsilon_from_double(1.0, &e) == DP_OK && e.num == 1 && e.den == 1);
	CHECK(dp_epsilon_from_double(0.75, &e) == DP_OK && e.num == 3 && e.den == 4);
	CHECK(dp_epsilon_from_double(0x1p-32, &e) == DP_OK && e.num == 1 &&
		  e.den == UINT64_C(1) << 32);
	CHECK(dp_epsilon_from_double(0x1p32 - 1, &e) == DP_OK &&
		  e.num == UINT64_C(0xffffffff) && e.den == 1);
	CHECK(dp_epsilon_from_double(0x1p-33, &e) == DP_ERR_PARAM);
	CHECK(dp_epsilon_from_double(0.0, &e) == DP_ERR_PARAM);
	CHECK(dp_epsilon_from_double(-0.0, &e) == DP_ERR_PARAM);
	CHECK(dp_epsilon_from_double(-1.0, &e) == DP_ERR_PARAM);
	CHECK(dp_epsilon_from_double(NAN, &e) == DP_ERR_PARAM);
	CHECK(dp_epsilon_from_double(INFINITY, &e) == DP_ERR_PARAM);
	CHECK(dp_epsilon_from_double(0x1p32, &e) == DP_ERR_OVERFLOW);

	/* random doubles: 0 <= epsilon - e < 2^-32 exactly */
	for (int i = 0; i < 10000; i++)
	{
		double		x = ldexp(rng_unit(&r) + 0.5, (int) rng_below(&r, 60) - 30);

		if (!CHECK(dp_epsilon_from_double(x, &e) == DP_OK))
			break;
		CHECKF(ldexp((double) e.num, -32) * ((double) (UINT64_C(1) << 32) / e.den) <= x
			   && x - ldexp((double) e.num, -32) * ((double) (UINT64_C(1) << 32) / e.den)
			   < 0x1p-32, "%.17g -> %llu/%llu", x,
			   (unsigned long long) e.num, (unsigned long long) e.den);
	}

	CHECK(dp_epsilon_units(rat(1, 3), &u) == DP_OK && u == 333333334);
	CHECK(dp_epsilon_units(rat(1, 1), &u) == DP_OK && u == 1000000000);
	CHECK(dp_epsilon_units(rat(0, 1), &u) == DP_OK && u == 0);
	CHECK(dp_epsilon_units(rat(1, UINT64_MAX), &u) == DP_OK && u == 1);
	CHECK(dp_epsilon_units(rat(UINT64_MAX, 1), &u) == DP_ERR_OVERFLOW);
	CHECK(dp_epsilon_units(rat(1, 0), &u) == DP_ERR_PARAM);

	CHECK(dp_budget_units(1.0, &u) == DP_OK && u == 1000000000);
	CHECK(dp_budget_units(0.3, &u) == DP_OK && u == 300000000);
	CHECK(dp_budget_units(1e-9, &u) == DP_OK && u == 1);
	CHECK(dp_budget_units(4e-10, &u) == DP_OK && u == 0);
	CHECK(dp_budget_units(6e-10, &u) == DP_OK && u == 1);
	CHECK(dp_budget_units(0.0, &u) == DP_OK && u == 0);
	CHECK(dp_budget_units(DBL_TRUE_MIN, &u) == DP_OK && u == 0);
	CHECK(dp_budget_units(9e9, &u) == DP_OK && u == INT64_C(9000000000000000000));
	CHECK(dp_budget_units(1e10, &u) == DP_ERR_OVERFLOW);
	CHECK(dp_budget_units(DBL_MAX, &u) == DP_ERR_OVERFLOW);
	CHECK(dp_budget_units(-1e-9, &u) == DP_ERR_PARAM);
	CHECK(dp_budget_units(NAN, &u) == DP_ERR_PARAM);
	CHECK(dp_budget_units(INFINITY, &u) == DP_ERR_PARAM);
	/* the double nearest a nine-place decimal below 4e6 is that decimal */
	for (int i = 0; i < 20000; i++)
	{
		int64_t		k = (int64_t) rng_below(&r, UINT64_C(4000000000000000));
		DpStatus	st = dp_budget_units((double) k / 1e9, &u);

		if (!CHECKF(st == DP_OK && u == k,
					"%lld / 1e9 -> %lld", (long long) k, (long long) u))
			break;
	}
	case_end();
}

static void
test_fixed_point(void)
{
	int64_t		v;
	DpInt128	acc,
				max = (DpInt128) (~(unsigned __int128) 0 >> 1);
	Rng			r = {99};

	case_begin("fixed point and 128-bit sums");
	CHECK(dp_fixed_from_double(0.5, 0, &v) == DP_OK && v == 0);
	CHECK(dp_fixed_from_double(1.5, 0, &v) == DP_OK && v == 2);
	CHECK(dp_fixed_from_double(2.5, 0, &v) == DP_OK && v == 2);
	CHECK(dp_fixed_from_double(-2.5, 0, &v) == DP_OK && v == -2);
	CHECK(dp_fixed_from_double(-1.5, 0, &v) == DP_OK && v == -2);
	CHECK(dp_fixed_from_double(-0.0, 0, &v) == DP_OK && v == 0);
	CHECK(dp_fixed_from_double(0.1, 10, &v) == DP_OK && v == 102);
	CHECK(dp_fixed_from_double(-0x1p-60, 0, &v) == DP_OK && v == 0);
	CHECK(dp_fixed_from_double(1.0, 62, &v) == DP_OK && v == INT64_C(1) << 62);
	CHECK(dp_fixed_from_double(0x1p63 - 1024, 0, &v) == DP_OK &&
		  v == INT64_MAX - 1023);
	CHECK(dp_fixed_from_double(2.0, 62, &v) == DP_ERR_OVERFLOW);
	CHECK(dp_fixed_from_double(-0x1p63, 0, &v) == DP_ERR_OVERFLOW);
	CHECK(dp_fixed_from_double(DBL_MAX, 0, &v) == DP_ERR_OVERFLOW);
	CHECK(dp_fixed_from_double(NAN, 0, &v) == DP_ERR_PARAM);
	CHECK(dp_fixed_from_double(-INFINITY, 0, &v) == DP_ERR_PARAM);
	CHECK(dp_fixed_from_double(1.0, -1, &v) == DP_ERR_PARAM);
	CHECK(dp_fixed_from_double(1.0, 63, &v) == DP_ERR_PARAM);
	/* against the FPU's round-to-nearest-even */
	for (int i = 0; i < 100000; i++)
	{
		int			k = (int) rng_below(&r, 40);
		double		x = ldexp(rng_unit(&r) - 0.5, (int) rng_below(&r, 32) - 10);
		DpStatus	st;

		if (i % 3 == 0)
			x = ldexp(floor(ldexp(x, k + 1)) + 0.5, -(k + 1));	/* a tie */
		st = dp_fixed_from_double(x, k, &v);
		if (!CHECKF(st == DP_OK && v == (int64_t) nearbyint(ldexp(x, k)),
					"%.17g at %d bits -> %lld", x, k, (long long) v))
			break;
	}

	CHECK(dp_fixed_clamp(5.0, -1.0, 1.0, 4, &v) == DP_OK && v == 16);
	CHECK(dp_fixed_clamp(-5.0, -1.0, 1.0, 4, &v) == DP_OK && v == -16);
	CHECK(dp_fixed_clamp(0.25, -1.0, 1.0, 4, &v) == DP_OK && v == 4);
	CHECK(dp_fixed_clamp(0.0, 1.0, -1.0, 4, &v) == DP_ERR_PARAM);
	CHECK(dp_fixed_clamp(0.0, -INFINITY, 1.0, 4, &v) == DP_ERR_PARAM);
	CHECK(dp_fixed_clamp(NAN, -1.0, 1.0, 4, &v) == DP_ERR_PARAM);

	CHECK(dp_fixed_to_double(3, 1) == 1.5);
	CHECK(dp_fixed_to_double(-3, 2) == -0.75);
	CHECK(dp_fixed_to_double(((DpInt128) 1 << 100) + 1, 100) == 1.0);

	acc = max - 5;
	CHECK(dp_int128_add(&acc, 5) == DP_OK && acc == max);
	CHECK(dp_int128_add(&acc, 1) == DP_ERR_OVERFLOW && acc == max);
	acc = -max;
	CHECK(dp_int128_add(&acc, -1) == DP_OK);
	CHECK(dp_int128_add(&acc, -1) == DP_ERR_OVERFLOW && acc == -max - 1);
	CHECK(dp_int128_add(&acc, max) == DP_OK && acc == -1);
	CHECK(dp_int128_to_int64(INT64_MIN, &v) == DP_OK && v == INT64_MIN);
	CHECK(dp_int128_to_int64((DpInt128) INT64_MAX + 1, &v) == DP_ERR_OVERFLOW);
	CHECK(dp_int128_to_int64((DpInt128) INT64_MIN - 1, &v) == DP_ERR_OVERFLOW);
	case_end();
}

int
main(void)
{
	const char *mode = getenv("UNIT_MODE");
	DpRational	scales[] = {{1, 2}, {1, 1}, {3, 1}, {10, 1}, {1000, 7}};

	under_valgrind = mode != NULL && strcmp(mode, "valgrind") == 0;
	n_laplace = under_valgrind ? 50000 : 200000;
	n_uniform = under_valgrind ? 50000 : 200000;
	n_bernoulli = under_valgrind ? 50000 : 200000;

	test_rationals();
	test_epsilon();
	test_fixed_point();
	test_params();
	test_random_failure();
	test_seeds();
	test_uniform_script();
	test_uniform();
	test_uniform_power();
	test_bernoulli();
	for (size_t i = 0; i < sizeof(scales) / sizeof(scales[0]); i++)
		test_discrete_laplace(scales[i], 1000 + i);
	test_geometric(rat(1, 1), 2001);
	test_geometric(rat(1000, 7), 2002);
	test_other_scales();
	test_power(rat(1, 1), 3001);
	test_power(rat(10, 1), 3002);

	case_begin("total false-failure probability");
	printf("  %d statistical checks at %g each: %g per run (union bound)\n",
		   stat_checks, DELTA, stat_checks * DELTA);
	CHECKF(stat_checks * DELTA <= TOTAL_BUDGET, "%d checks", stat_checks);
	case_end();
	return unit_finish();
}
