/*
 * error_table.c
 *	  The error of the noisy aggregates, by simulation: the standard
 *	  deviation (and the 95th percentile of the absolute value) of the
 *	  released value minus the true value, by cohort size and epsilon.
 *
 * It runs the mechanisms' own code (src/dp_mech.c, src/dp_noise.c) on
 * exact aggregates of synthetic cohorts, with random bytes from a seeded
 * xoshiro256** generator instead of the server's pg_strong_random: a
 * benchmark, not a release.  Output: Markdown tables on stdout.
 *
 *	  error_table [-r RELEASES] [-s SEED]
 *
 * RELEASES (default 20000) releases per cell; SEED (default 1) seeds both
 * the data and the noise, so a run is reproducible.
 *
 * Build: cc -O2 -Isrc src/dp_noise.c src/dp_mech.c
 *		  bench/privacy/error_table.c -lm
 */
#include "dp_mech.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_SIZES		5
#define N_EPS		4
#define HIST_BINS	10
#define LOWER		0.0
#define UPPER		100.0

static const int64_t sizes[N_SIZES] = {10, 30, 100, 1000, 10000};
static const double epsilons[N_EPS] = {0.1, 0.5, 1.0, 2.0};

/* ------------------------------------------------------ random numbers */

typedef struct Xoshiro
{
	uint64_t	s[4];
} Xoshiro;

static uint64_t
splitmix64(uint64_t *x)
{
	uint64_t	z = (*x += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256** (Blackman and Vigna) */
static uint64_t
xoshiro_next(Xoshiro *g)
{
	uint64_t   *s = g->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

static void
xoshiro_seed(Xoshiro *g, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		g->s[i] = splitmix64(&seed);
}

/* the DpRandom callback: bytes little-endian */
static int
xoshiro_fill(void *ctx, uint8_t *buf, size_t len)
{
	Xoshiro    *g = ctx;

	while (len > 0)
	{
		uint64_t	x = xoshiro_next(g);

		for (int i = 0; i < 8 && len > 0; i++, len--)
		{
			*buf++ = (uint8_t) x;
			x >>= 8;
		}
	}
	return 0;
}

/* uniform in [lo, hi) */
static double
uniform(Xoshiro *g, double lo, double hi)
{
	return lo + (hi - lo) * ldexp((double) (xoshiro_next(g) >> 11), -53);
}

/* ------------------------------------------------------------- helpers */

static void
check(DpStatus st, const char *what)
{
	if (st != DP_OK)
	{
		fprintf(stderr, "error_table: %s failed (status %d)\n", what, (int) st);
		exit(1);
	}
}

static DpMech
mech(DpMechKind kind, double epsilon, int bins)
{
	DpMech		m;
	const char *reason;

	if (dp_mech_init(&m, kind, epsilon, LOWER, UPPER, bins, &reason) != DP_OK)
	{
		fprintf(stderr, "error_table: dp_mech_init: %s\n", reason);
		exit(1);
	}
	return m;
}

/*
 * The standard deviation of the discrete Laplace noise of scale t (an
 * integer count of 2^-frac_bits): sqrt(2q) / (1 - q), q = exp(-1/t), in
 * real units.
 */
static double
laplace_sd(DpRational scale, int frac_bits)
{
	double		inv_t = (double) scale.den / (double) scale.num;
	double		q = exp(-inv_t);

	return ldexp(sqrt(2.0 * q) / -expm1(-inv_t), -frac_bits);
}

/* smallest k with P(|Z| <= k) >= 0.95 for the discrete Laplace of scale t:
 * P(|Z| > k) = 2 q^(k+1) / (1 + q) */
static double
laplace_p95(DpRational scale)
{
	double		inv_t = (double) scale.den / (double) scale.num;
	double		q = exp(-inv_t);
	double		k = ceil(log(0.05 * (1.0 + q) / 2.0) / -inv_t - 1.0);

	return k < 0 ? 0 : k;
}

/* error statistics of one cell */
typedef struct Errors
{
	double	   *abs;			/* |error| of each release */
	size_t		n;
	long double sum;
	long double sum2;
} Errors;

static void
errors_init(Errors *e, size_t cap)
{
	e->abs = malloc(cap * sizeof(double));
	if (e->abs == NULL)
	{
		fprintf(stderr, "error_table: out of memory\n");
		exit(1);
	}
	e->n = 0;
	e->sum = 0;
	e->sum2 = 0;
}

static void
errors_add(Errors *e, double err)
{
	e->abs[e->n++] = fabs(err);
	e->sum += err;
	e->sum2 += (long double) err * err;
}

static double
errors_mean(const Errors *e)
{
	return (double) (e->sum / e->n);
}

static double
errors_sd(const Errors *e)
{
	long double mean = e->sum / e->n;
	long double var = (e->sum2 - e->n * mean * mean) / (e->n - 1);

	return var > 0 ? sqrtl(var) : 0.0;
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

/* the 95th percentile of |error| (nearest rank) */
static double
errors_p95(Errors *e)
{
	size_t		rank = (size_t) ceil(0.95 * e->n);

	qsort(e->abs, e->n, sizeof(double), cmp_double);
	return e->abs[rank - 1];
}

static void
errors_free(Errors *e)
{
	free(e->abs);
}

/* a number with about three significant digits, no exponent */
static const char *
fmt(double x)
{
	static char bufs[8][32];
	static int	next;
	char	   *b = bufs[next++ % 8];
	double		a = fabs(x);

	if (a >= 100 || a == 0)
		snprintf(b, 32, "%.0f", x);
	else if (a >= 10)
		snprintf(b, 32, "%.1f", x);
	else if (a >= 1)
		snprintf(b, 32, "%.2f", x);
	else if (a >= 0.1)
		snprintf(b, 32, "%.3f", x);
	else
		snprintf(b, 32, "%.4f", x);
	return b;
}

static void
header_by_n(const char *first)
{
	printf("| epsilon |");
	if (first)
		printf(" %s |", first);
	for (int j = 0; j < N_SIZES; j++)
		printf(" n = %lld |", (long long) sizes[j]);
	printf("\n|---|%s", first ? "---:|" : "");
	for (int j = 0; j < N_SIZES; j++)
		printf("---:|");
	printf("\n");
}

/* ------------------------------------------------------------ the data */

/* one cohort: each unit's value, before clamping */
typedef struct Cohort
{
	int64_t		n;
	double	   *x;
	double		mean;			/* of the values clamped to [LOWER, UPPER] */
} Cohort;

static Cohort
cohort(int64_t n, double lo, double hi, uint64_t seed)
{
	Cohort		c;
	Xoshiro		g;
	long double s = 0;

	xoshiro_seed(&g, seed);
	c.n = n;
	c.x = malloc(n * sizeof(double));
	if (c.x == NULL)
	{
		fprintf(stderr, "error_table: out of memory\n");
		exit(1);
	}
	for (int64_t i = 0; i < n; i++)
	{
		c.x[i] = uniform(&g, lo, hi);
		s += c.x[i];
	}
	c.mean = (double) (s / n);
	return c;
}

/* the exact fixed-point sum of the cohort's values, as the aggregate
 * accumulates it */
static DpInt128
fixed_sum(const DpMech *m, const Cohort *c)
{
	DpInt128	sum = 0;
	int64_t		v;

	for (int64_t i = 0; i < c->n; i++)
	{
		check(dp_mech_fixed(m, c->x[i], &v), "dp_mech_fixed");
		check(dp_int128_add(&sum, v), "dp_int128_add");
	}
	return sum;
}

/* ------------------------------------------------------------ the cells */

typedef struct AvgCell
{
	double		sd,
				approx,
				p95,
				mean;
} AvgCell;

/*
 * noisy_avg on a cohort: simulated SD, 95% |error| and mean error of the
 * release minus the cohort's mean; and the first-order approximation of
 * the SD for n large against the count's noise:
 *   avg - mean ~ Zs / (2n) - (mean - mid) Zc / n,
 * Zs the centred sum's noise (in units of the values) and Zc the count's.
 */
static AvgCell
avg_cell(const Cohort *c, double epsilon, size_t releases, const DpRandom *rng)
{
	DpMech		m = mech(DP_MECH_AVG, epsilon, 0);
	DpInt128	sum = fixed_sum(&m, c);
	double		truth = dp_fixed_to_double(sum, m.frac_bits) / (double) c->n;
	double		mid = (LOWER + UPPER) / 2.0;
	double		sd_s = laplace_sd(m.scale, m.frac_bits) / 2.0;	/* half-units */
	double		sd_c = laplace_sd(m.count_scale, 0);
	Errors		e;
	AvgCell		r;

	errors_init(&e, releases);
	for (size_t i = 0; i < releases; i++)
	{
		double		out;

		check(dp_release_avg(&m, rng, sum, c->n, &out), "dp_release_avg");
		errors_add(&e, out - truth);
	}
	r.sd = errors_sd(&e);
	r.mean = errors_mean(&e);
	r.p95 = errors_p95(&e);
	r.approx = sqrt(sd_s * sd_s / ((double) c->n * c->n) +
					(truth - mid) * (truth - mid) * sd_c * sd_c /
					((double) c->n * c->n));
	errors_free(&e);
	return r;
}

int
main(int argc, char **argv)
{
	size_t		releases = 20000;
	uint64_t	seed = 1;
	Xoshiro		noise;
	DpRandom	rng = {xoshiro_fill, &noise};
	Cohort		a[N_SIZES],
				b[N_SIZES];
	double		count_sd[N_EPS][N_SIZES],
				count_p95[N_EPS],
				sum_sd[N_EPS][N_SIZES],
				sum_p95[N_EPS],
				hist_sd[N_EPS][N_SIZES];
	AvgCell		avg_a[N_EPS][N_SIZES],
				avg_b[N_EPS][N_SIZES];

	for (int i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "-r") == 0 && i + 1 < argc)
			releases = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else
		{
			fprintf(stderr, "usage: error_table [-r RELEASES] [-s SEED]\n");
			return 2;
		}
	}
	if (releases < 2)
	{
		fprintf(stderr, "error_table: RELEASES must be at least 2\n");
		return 2;
	}

	/* the cohorts: the same values for every epsilon */
	for (int j = 0; j < N_SIZES; j++)
	{
		a[j] = cohort(sizes[j], 0.0, 100.0, seed * 1000 + 2 * j);
		b[j] = cohort(sizes[j], 0.0, 10.0, seed * 1000 + 2 * j + 1);
	}
	xoshiro_seed(&noise, seed);

	for (int k = 0; k < N_EPS; k++)
	{
		double		eps = epsilons[k];
		Errors		all_count,
					all_sum;

		errors_init(&all_count, releases * N_SIZES);
		errors_init(&all_sum, releases * N_SIZES);
		for (int j = 0; j < N_SIZES; j++)
		{
			const Cohort *c = &a[j];
			DpMech		mc = mech(DP_MECH_COUNT, eps, 0);
			DpMech		ms = mech(DP_MECH_SUM, eps, 0);
			DpMech		mh = mech(DP_MECH_HISTOGRAM, eps, HIST_BINS);
			DpInt128	sum = fixed_sum(&ms, c);
			double		sum_truth = dp_fixed_to_double(sum, ms.frac_bits);
			int64_t		counts[HIST_BINS] = {0},
						out[HIST_BINS];
			Errors		ec,
						es,
						eh;

			errors_init(&ec, releases);
			errors_init(&es, releases);
			errors_init(&eh, releases * HIST_BINS);
			for (int64_t i = 0; i < c->n; i++)
			{
				int64_t		v;

				check(dp_mech_fixed(&mh, c->x[i], &v), "dp_mech_fixed");
				counts[dp_mech_bin(&mh, v)]++;
			}
			for (size_t i = 0; i < releases; i++)
			{
				int64_t		nc;
				double		s;

				check(dp_release_count(&mc, &rng, c->n, &nc), "dp_release_count");
				errors_add(&ec, (double) (nc - c->n));
				errors_add(&all_count, (double) (nc - c->n));
				check(dp_release_sum(&ms, &rng, sum, &s), "dp_release_sum");
				errors_add(&es, s - sum_truth);
				errors_add(&all_sum, s - sum_truth);
				check(dp_release_histogram(&mh, &rng, counts, out),
					  "dp_release_histogram");
				for (int h = 0; h < HIST_BINS; h++)
					errors_add(&eh, (double) (out[h] - counts[h]));
			}
			count_sd[k][j] = errors_sd(&ec);
			sum_sd[k][j] = errors_sd(&es);
			hist_sd[k][j] = errors_sd(&eh);
			errors_free(&ec);
			errors_free(&es);
			errors_free(&eh);

			avg_a[k][j] = avg_cell(&a[j], eps, releases, &rng);
			avg_b[k][j] = avg_cell(&b[j], eps, releases, &rng);
		}
		count_p95[k] = errors_p95(&all_count);
		sum_p95[k] = errors_p95(&all_sum);
		errors_free(&all_count);
		errors_free(&all_sum);
	}

	/* ---------------------------------------------------------- output */

	printf("### noisy_count\n\n");
	printf("Released count minus true count. Sensitivity 1, noise scale "
		   "1/epsilon; the error does not depend on n. Analytic SD: "
		   "sqrt(2q)/(1-q), q = exp(-epsilon) (epsilon rounded down to a "
		   "multiple of 2^-32). 95%% |error|: analytic, smallest k with "
		   "P(|Z| <= k) >= 0.95; simulated, over all five cohorts "
		   "(%zu releases).\n\n", releases * N_SIZES);
	printf("| epsilon | SD, analytic |");
	for (int j = 0; j < N_SIZES; j++)
		printf(" SD, simulated, n = %lld |", (long long) sizes[j]);
	printf(" 95%% \\|error\\|, analytic | 95%% \\|error\\|, simulated |\n|---|---:|");
	for (int j = 0; j < N_SIZES; j++)
		printf("---:|");
	printf("---:|---:|\n");
	for (int k = 0; k < N_EPS; k++)
	{
		DpMech		mc = mech(DP_MECH_COUNT, epsilons[k], 0);

		printf("| %g | %s |", epsilons[k], fmt(laplace_sd(mc.scale, 0)));
		for (int j = 0; j < N_SIZES; j++)
			printf(" %s |", fmt(count_sd[k][j]));
		printf(" %.0f | %.0f |\n", laplace_p95(mc.scale), count_p95[k]);
	}

	printf("\nRelative error of a count (analytic SD / n, in %% of the "
		   "true count):\n\n");
	header_by_n(NULL);
	for (int k = 0; k < N_EPS; k++)
	{
		DpMech		mc = mech(DP_MECH_COUNT, epsilons[k], 0);

		printf("| %g |", epsilons[k]);
		for (int j = 0; j < N_SIZES; j++)
			printf(" %s%% |", fmt(100.0 * laplace_sd(mc.scale, 0) / sizes[j]));
		printf("\n");
	}

	printf("\n### noisy_histogram, one bin\n\n");
	printf("%d bins over [0, 100], cohort A; the error of each bin (%zu "
		   "bin values per cell). Sensitivity 1, noise scale 1/epsilon per "
		   "bin: the same as a count.\n\n", HIST_BINS, releases * HIST_BINS);
	header_by_n("SD, analytic");
	for (int k = 0; k < N_EPS; k++)
	{
		DpMech		mh = mech(DP_MECH_HISTOGRAM, epsilons[k], HIST_BINS);

		printf("| %g | %s |", epsilons[k], fmt(laplace_sd(mh.scale, 0)));
		for (int j = 0; j < N_SIZES; j++)
			printf(" %s |", fmt(hist_sd[k][j]));
		printf("\n");
	}

	printf("\n### noisy_sum, bounds [0, 100]\n\n");
	printf("Released sum minus true sum, cohort A. Sensitivity 100, noise "
		   "scale 100/epsilon (in fixed point); the error does not depend on "
		   "n. Analytic SD: sqrt(2q)/(1-q) of the fixed-point scale, about "
		   "sqrt(2) * 100 / epsilon. 95%% |error| over all five cohorts "
		   "(%zu releases).\n\n", releases * N_SIZES);
	header_by_n("SD, analytic");
	for (int k = 0; k < N_EPS; k++)
	{
		DpMech		ms = mech(DP_MECH_SUM, epsilons[k], 0);

		printf("| %g | %s |", epsilons[k], fmt(laplace_sd(ms.scale, ms.frac_bits)));
		for (int j = 0; j < N_SIZES; j++)
			printf(" %s |", fmt(sum_sd[k][j]));
		printf("\n");
	}
	printf("\n| epsilon | 95%% \\|error\\|, simulated | analytic SD / true sum, n = 10 |"
		   " n = 30 | n = 100 | n = 1000 | n = 10000 |\n|---|---:|---:|---:|---:|---:|---:|\n");
	for (int k = 0; k < N_EPS; k++)
	{
		DpMech		ms = mech(DP_MECH_SUM, epsilons[k], 0);

		printf("| %g | %s |", epsilons[k], fmt(sum_p95[k]));
		for (int j = 0; j < N_SIZES; j++)
			printf(" %s%% |", fmt(100.0 * laplace_sd(ms.scale, ms.frac_bits) /
								  (a[j].mean * a[j].n)));
		printf("\n");
	}

	for (int set = 0; set < 2; set++)
	{
		AvgCell		(*cells)[N_SIZES] = set == 0 ? avg_a : avg_b;
		Cohort	   *c = set == 0 ? a : b;

		printf("\n### noisy_avg, bounds [0, 100], cohort %s\n\n",
			   set == 0 ? "A (values uniform in [0, 100])"
			   : "B (values uniform in [0, 10])");
		printf("Released average minus the cohort's true average (");
		for (int j = 0; j < N_SIZES; j++)
			printf("%sn = %lld: %.2f", j ? "; " : "", (long long) sizes[j],
				   c[j].mean);
		printf("). Epsilon split in halves between the count and the "
			   "centred sum. SD: simulated, and in brackets the first-order "
			   "approximation sqrt(Var Zs / (4n^2) + (mean - 50)^2 Var Zc / n^2), "
			   "which holds when the count's noise is small against n.\n\n");
		header_by_n("");
		for (int k = 0; k < N_EPS; k++)
		{
			printf("| %g | SD |", epsilons[k]);
			for (int j = 0; j < N_SIZES; j++)
				printf(" %s (%s) |", fmt(cells[k][j].sd), fmt(cells[k][j].approx));
			printf("\n");
		}
		for (int k = 0; k < N_EPS; k++)
		{
			printf("| %g | 95%% \\|error\\| |", epsilons[k]);
			for (int j = 0; j < N_SIZES; j++)
				printf(" %s |", fmt(cells[k][j].p95));
			printf("\n");
		}
		for (int k = 0; k < N_EPS; k++)
		{
			printf("| %g | mean error |", epsilons[k]);
			for (int j = 0; j < N_SIZES; j++)
				printf(" %s |", fmt(cells[k][j].mean));
			printf("\n");
		}
	}

	for (int j = 0; j < N_SIZES; j++)
	{
		free(a[j].x);
		free(b[j].x);
	}
	return 0;
}
