/*
 * test_dp_property.c
 *	  The differential-privacy property of the noisy aggregates' mechanisms
 *	  (src/dp_mech.c, dp_mech.h), tested empirically, and the test's power.
 *
 * For each mechanism (count, sum, avg and histogram) there is a data set D
 * and its neighbour D', D with one privacy unit added at an extreme value:
 *
 *	  count      D has 5 rows, D' one more
 *	  sum        D = {10, 20, 30} in [0, 100]; D' adds a seller whose rows
 *	             (70 and 60) total 130, clamped to the upper bound 100
 *	  avg        D = {0} in [0, 100]; D' adds that same seller
 *	  histogram  4 bins over [0, 100], D = {10, 30, 35, 90, 95, 99}; D' adds
 *	             a unit at 100, so the last bin goes from 3 to 4 (the only
 *	             bin that changes, and the one tested)
 *
 * all with epsilon = 1.  The releases are bucketed: integers for count and
 * histogram (the 10 values from the true one - 4 to + 5, and the two tails
 * merged); for sum, buckets of width one noise scale (100) with edges at the
 * true sum (60) plus multiples of 100, from -500 to +600, and the two tails;
 * for avg, the two clamped values (the lower and upper bound, which carry
 * much of the mass) and ten intervals of width 10 between them.  That is
 * B = 12 + 13 + 12 + 12 = 49 buckets.
 *
 * The property: P_D(b) <= e^epsilon P_D'(b) and P_D'(b) <= e^epsilon P_D(b)
 * for every bucket b, as for every set of outputs.  Each is a null
 * hypothesis, tested as follows.  Each of T trials picks D or D' with a fair
 * coin (from a generator of its own) and releases once from it.  Given the
 * buckets of all the trials, their labels are independent, and a trial in
 * bucket b came from D with probability pi = P_D(b) / (P_D(b) + P_D'(b)),
 * which is at most p0 = e^epsilon / (1 + e^epsilon) under the first
 * hypothesis.  So given m = c_D(b) + c_D'(b), the count c_D(b) is a
 * Binomial(m, pi) variable, and P(c_D(b) >= k) <= exp(-m KL(k/m || p0)) for
 * k/m > p0 (Chernoff).  (The coin is what makes this exact: with N runs on
 * each side fixed in advance, c_D(b) given m would follow a noncentral
 * hypergeometric law instead.)  A bucket is rejected when k/m > p0 and
 * m KL(k/m || p0) >= log(1/alpha); likewise with D and D' exchanged.
 *
 * False failures: alpha = 1e-6 / (2 B) = 1.02e-8 per check, so by the
 * union bound over all 98 checks (every bucket, both directions, all four
 * mechanisms) a correct build fails a run with probability at most 1e-6,
 * whatever the seed.  Buckets with m < 59 are not tested: there not even
 * k = m reaches the threshold (m log(1/p0) < log(1/alpha)).  Testing them
 * or not changes nothing; they count in B all the same.  The program prints
 * these figures.
 *
 * Power: built with -DDP_WEAKEN_FOR_TEST, every sensitivity is halved and
 * so is every scale, and the ratio of the two laws reaches e^(2 epsilon) in
 * the tail buckets of count, sum and histogram; for avg, whose release
 * passes both noisy values through a division and a clamp, it reaches
 * e^1.55 in the bucket "clamped to the lower bound", where D carries 40% of
 * the mass and D' 8.6% (the true average of D is the lower bound itself,
 * which is why D is a single row there: with more rows the average moves
 * less when the seller is added).  The weakened build must be rejected:
 * for each mechanism, one bucket b* (the true value of D for count and
 * histogram, [sum - 100, sum) for sum, the lower bound for avg) has exact
 * probabilities P_D(b*), P_D'(b*) under the halved scales (computed here;
 * for sum and avg with the continuous Laplace law, which the fixed-point
 * discrete Laplace matches to about 1e-12 at these scales).  The test then
 * misses b* with probability at most
 *
 *	  P(m < m_lo) + max over m >= m_lo of P(Binomial(m, pi*) < thr(m))
 *
 * (Chernoff lower tails on both), where thr(m) is the rejection threshold
 * and m_lo is chosen to minimise the sum.  With T = 50000 trials per
 * mechanism the bounds are 10^-435 (count and histogram: P_D(b*) = 0.762,
 * P_D'(b*) = 0.103), 10^-223 (sum: 0.432 and 0.059) and 10^-65 (avg: 0.402
 * and 0.086): each weakened mechanism is rejected with probability at
 * least 1 - 1e-6, and by far.  The program computes and prints these
 * bounds and checks they are at most 1e-6, in both builds: they are
 * properties of the design, not of a run.
 *
 * The two builds report the same checks differently: in the normal build a
 * mechanism's case passes when no bucket is rejected; in the weakened one
 * when at least one bucket is (it prints which) and fails as "no power"
 * otherwise.  Both end with "N passed, 0 failed" when all is right.
 *
 * The workload is the same under valgrind (UNIT_MODE=valgrind), some 15
 * seconds there, so all of the above holds there too.
 */
#include "../../src/dp_mech.h"
#include "unit.h"

#include <math.h>

#define EPSILON			1.0
#define LOWER			0.0
#define UPPER			100.0
#define FFP_TOTAL		1e-6	/* false-failure probability per run */
#define MISS_MAX		1e-6	/* a weakened mechanism not rejected */
#define MAX_BUCKETS		16
#define HIST_BINS		4

/* ================================================================ setups */

/* a data set, as the aggregates accumulate it */
typedef struct Data
{
	int64_t		n;				/* rows (count) or units (sum, avg) */
	DpInt128	sum;			/* fixed point */
	int64_t		counts[HIST_BINS];
	double		value;			/* the true value released (real units) */
} Data;

/*
 * One mechanism under test.  Buckets: 0 is (-inf, first], i = 1 .. nb - 2
 * is [first + (i - 1) width, first + i width) (open at first), and nb - 1
 * is [last, inf) with last = first + (nb - 2) width.  Integer releases get
 * half-integer edges.  (Any fixed bucketing will do: a function of the
 * output is covered by the guarantee.)
 */
typedef struct Setup
{
	const char *name;
	DpMechKind	kind;
	const double *rows;			/* D (count: only their number matters) */
	int			nrows;
	int			nb;				/* buckets */
	int			power_bucket;	/* b*: where the weakened build shows */
	uint64_t	seed;
	/* filled in by setup() */
	DpMech		m;
	Data		d[2];			/* D and D' */
	double		first,
				width;
	long		trials;
} Setup;

static const double count_rows[] = {1, 2, 3, 4, 5};
static const double sum_rows[] = {10, 20, 30};
static const double avg_rows[] = {0};
static const double hist_rows[] = {10, 30, 35, 90, 95, 99};

/* the unit added in D': a seller whose rows total more than the bound */
static const double seller_rows[] = {70, 60};

static Setup setups[] = {
	{.name = "count", .kind = DP_MECH_COUNT, .rows = count_rows, .nrows = 5,
	.nb = 12, .power_bucket = 5, .seed = 101},
	{.name = "sum", .kind = DP_MECH_SUM, .rows = sum_rows, .nrows = 3,
	.nb = 13, .power_bucket = 5, .seed = 102},
	{.name = "avg", .kind = DP_MECH_AVG, .rows = avg_rows, .nrows = 1,
	.nb = 12, .power_bucket = 0, .seed = 103},
	{.name = "histogram", .kind = DP_MECH_HISTOGRAM, .rows = hist_rows,
	.nrows = 6, .nb = 12, .power_bucket = 5, .seed = 104},
};

#define NSETUPS ((int) (sizeof(setups) / sizeof(setups[0])))

static double p0;				/* e^epsilon / (1 + e^epsilon) */
static double log_inv_alpha;	/* log(1 / alpha), alpha per check */
static long m_min;				/* least m at which a bucket can be rejected */

static int
bucket_of(const Setup *s, double v)
{
	double		last = s->first + (s->nb - 2) * s->width;
	int			b;

	if (v <= s->first)
		return 0;
	if (v >= last)
		return s->nb - 1;
	b = 1 + (int) floor((v - s->first) / s->width);
	return b < 1 ? 1 : b > s->nb - 2 ? s->nb - 2 : b;
}

/* the bucket's range (lo, hi), infinite at the ends */
static void
bucket_range(const Setup *s, int b, double *lo, double *hi)
{
	*lo = b == 0 ? -INFINITY : s->first + (b - 1) * s->width;
	*hi = b == s->nb - 1 ? INFINITY : s->first + b * s->width;
}

static bool
setup(Setup *s)
{
	const char *reason = NULL;
	DpStatus	st;
	int64_t		v,
				unit = 0;
	DpInt128	total = 0;
	Data	   *d = &s->d[0];
	bool		ok = true;

	st = dp_mech_init(&s->m, s->kind, EPSILON, LOWER, UPPER, HIST_BINS,
					  &reason);
	if (!CHECKF(st == DP_OK, "status %d: %s", st, reason ? reason : ""))
		return false;
	memset(s->d, 0, sizeof(s->d));
	for (int i = 0; i < s->nrows; i++)
	{
		ok &= CHECK(dp_mech_fixed(&s->m, s->rows[i], &v) == DP_OK);
		d->n++;
		d->sum += v;
		if (s->kind == DP_MECH_HISTOGRAM)
			d->counts[dp_mech_bin(&s->m, v)]++;
	}
	/* D' = D and one unit at the upper bound */
	s->d[1] = s->d[0];
	for (size_t i = 0; i < sizeof(seller_rows) / sizeof(seller_rows[0]); i++)
	{
		ok &= CHECK(dp_mech_fixed(&s->m, seller_rows[i], &v) == DP_OK);
		total += v;
	}
	unit = dp_mech_clamp_total(&s->m, total);
	ok &= CHECK(unit == s->m.upper_fp);
	s->d[1].n++;
	s->d[1].sum += unit;
	if (s->kind == DP_MECH_HISTOGRAM)
		s->d[1].counts[dp_mech_bin(&s->m, unit)]++;

	switch (s->kind)
	{
		case DP_MECH_COUNT:
			d->value = (double) d->n;
			break;
		case DP_MECH_SUM:
			d->value = dp_fixed_to_double(d->sum, s->m.frac_bits);
			break;
		case DP_MECH_AVG:
			d->value = dp_fixed_to_double(d->sum, s->m.frac_bits) / d->n;
			break;
		case DP_MECH_HISTOGRAM:
			d->value = (double) d->counts[HIST_BINS - 1];
			ok &= CHECK(s->d[1].counts[HIST_BINS - 1] == d->counts[HIST_BINS - 1] + 1);
			break;
	}
	if (s->kind == DP_MECH_SUM)
	{
		/* width one noise scale; b* = [sum - 100, sum) */
		s->width = fmax(fabs(LOWER), fabs(UPPER)) / EPSILON;
		s->first = d->value - (s->power_bucket * s->width);
	}
	else if (s->kind == DP_MECH_AVG)
	{
		s->width = (UPPER - LOWER) / (s->nb - 2);
		s->first = LOWER;
	}
	else
	{
		/* integers; b* holds the true value */
		s->width = 1;
		s->first = d->value - s->power_bucket + 0.5;
	}
	s->trials = 50000;
	return ok;
}

/* one release from D (which = 0) or D' (1) */
static DpStatus
release(const Setup *s, int which, const DpRandom *rng, double *out)
{
	const Data *d = &s->d[which];
	int64_t		c,
				hist[HIST_BINS];
	DpStatus	st = DP_ERR_PARAM;

	switch (s->kind)
	{
		case DP_MECH_COUNT:
			st = dp_release_count(&s->m, rng, d->n, &c);
			*out = (double) c;
			break;
		case DP_MECH_SUM:
			st = dp_release_sum(&s->m, rng, d->sum, out);
			break;
		case DP_MECH_AVG:
			st = dp_release_avg(&s->m, rng, d->sum, d->n, out);
			break;
		case DP_MECH_HISTOGRAM:
			st = dp_release_histogram(&s->m, rng, d->counts, hist);
			*out = (double) hist[HIST_BINS - 1];
			break;
	}
	return st;
}

/* ================================================================ bounds */

/* is k of m in a bucket evidence against "the share is at most p0"? */
static bool
rejects(long k, long m)
{
	double		r;

	if (m < m_min)
		return false;
	r = (double) k / m;
	return r > p0 && m * bernoulli_kl(r, p0) >= log_inv_alpha;
}

/*
 * The law of the release under a mechanism whose every scale is the
 * nominal one (sensitivity / epsilon, dp_mech.h) divided by div: the
 * probability of bucket b for data set d.  Integer releases sum the
 * discrete Laplace PMF; sum and avg use the continuous Laplace law for the
 * fixed-point noise (scales above 2^40 steps of the grid).
 */
static double
dl_pmf(int64_t z, double t)
{
	double		q = exp(-1 / t);

	return (1 - q) / (1 + q) * exp(-fabs((double) z) / t);
}

static double
laplace_cdf(double x, double b)
{
	if (x == -INFINITY)
		return 0;
	if (x == INFINITY)
		return 1;
	return x < 0 ? 0.5 * exp(x / b) : 1 - 0.5 * exp(-x / b);
}

static double
law(const Setup *s, const Data *d, double div, int b)
{
	double		lo,
				hi,
				p = 0,
				mid = (LOWER + UPPER) / 2;

	bucket_range(s, b, &lo, &hi);
	switch (s->kind)
	{
		case DP_MECH_COUNT:
		case DP_MECH_HISTOGRAM:
			{
				double		t = 1 / EPSILON / div;
				int64_t		c = s->kind == DP_MECH_COUNT ? d->n :
					d->counts[HIST_BINS - 1];

				for (int64_t z = -400; z <= 400; z++)
					if (bucket_of(s, (double) (c + z)) == b)
						p += dl_pmf(z, t);
			}
			break;
		case DP_MECH_SUM:
			{
				double		sb = fmax(fabs(LOWER), fabs(UPPER)) / EPSILON / div,
							x = dp_fixed_to_double(d->sum, s->m.frac_bits);

				p = laplace_cdf(hi - x, sb) - laplace_cdf(lo - x, sb);
			}
			break;
		case DP_MECH_AVG:
			{
				/*
				 * v = mid + (S + Zs) / max(1, n + Zc), clamped, with S the
				 * sum of x - mid: Zc discrete Laplace of scale 2 / epsilon,
				 * Zs Laplace of scale (upper - lower) / epsilon (the centred
				 * sum's sensitivity (upper - lower) / 2 at epsilon / 2).
				 */
				double		tc = 2 / EPSILON / div,
							sb = (UPPER - LOWER) / EPSILON / div,
							S = dp_fixed_to_double(d->sum, s->m.frac_bits) - d->n * mid;

				for (int64_t zc = -400; zc <= 400; zc++)
				{
					double		c = (double) (d->n + zc < 1 ? 1 : d->n + zc);

					p += dl_pmf(zc, tc) *
						(laplace_cdf(c * (hi - mid) - S, sb) -
						 laplace_cdf(c * (lo - mid) - S, sb));
				}
			}
			break;
	}
	return p;
}

/*
 * The log of an upper bound on the probability that T trials leave bucket
 * b* with P_D(b*) = a, P_D'(b*) = c (a > c) unrejected, direction D over D':
 * m ~ Binomial(T, (a + c) / 2) and, given m, c_D ~ Binomial(m, pi*), so
 * P(miss) <= P(m < m_lo) + max_{m >= m_lo} P(Binomial(m, pi*) < thr(m)),
 * each by its Chernoff lower tail, minimised over a few m_lo.  thr(m) is
 * non-decreasing in m and grows by at most one a step (m KL(k/m || p0)
 * falls with m at fixed k and rises along k + 1, m + 1), so one scan finds
 * it for every m.
 */
static double
log_miss_bound(long T, double a, double c)
{
	double		mu = (a + c) / 2,
				pi = a / (a + c),
				best = 0;

	for (int f = 50; f <= 98; f += 4)
	{
		long		m_lo = (long) (f / 100.0 * T * mu);
		double		worst = -INFINITY,
					first,
					bound;
		long		k = 0;

		if (m_lo < m_min)
			continue;
		for (long m = m_lo; m <= T && worst < 0; m++)
		{
			long		j;

			while (k <= m && !rejects(k, m))
				k++;
			j = k - 1;			/* the largest count that is not rejected */
			if (k > m || (double) j / m >= pi)
				worst = 0;
			else
				worst = fmax(worst, -m * bernoulli_kl((double) j / m, pi));
		}
		/* log(e^first + e^worst) */
		first = -T * bernoulli_kl((double) m_lo / T, mu);
		bound = fmax(first, worst) + log1p(exp(-fabs(first - worst)));
		best = fmin(best, bound);
	}
	return best;
}

/* ================================================================ tests */

static void
test_mechanism(Setup *s)
{
	long		c[2][MAX_BUCKETS] = {{0}},
				on[2] = {0};
	long		tested = 0,
				rejected = 0;
	double		worst_ratio = 0,
				a,
				cc,
				log_miss;
	Rng			noise,
				coin = {s->seed * 7919 + 1};
	DpRandom	rng = {rng_fill, &noise};
	int			worst_b = -1;

	noise.state = s->seed;
#ifdef DP_WEAKEN_FOR_TEST
	case_begin("%s, weakened: rejected by the same test", s->name);
#else
	case_begin("%s: neighbouring data sets within e^epsilon, bucket by bucket",
			   s->name);
#endif
	if (!setup(s))
	{
		case_end();
		return;
	}

	for (long i = 0; i < s->trials; i++)
	{
		int			which = (int) (rng_next(&coin) >> 63);
		double		v = 0;
		DpStatus	st = release(s, which, &rng, &v);

		if (st != DP_OK)
		{
			CHECKF(st == DP_OK, "release %ld: status %d", i, st);
			break;
		}
		c[which][bucket_of(s, v)]++;
		on[which]++;
	}

	for (int b = 0; b < s->nb; b++)
	{
		long		m = c[0][b] + c[1][b];
		double		lo,
					hi;

		if (m < m_min)
			continue;
		tested++;
		bucket_range(s, b, &lo, &hi);
		for (int dir = 0; dir < 2; dir++)
		{
			long		k = c[dir][b];
			double		ratio = k == m ? INFINITY : log((double) k / (m - k));
			bool		rejected_here = rejects(k, m);
			char		what[200] = "";

			if (ratio > worst_ratio)
			{
				worst_ratio = ratio;
				worst_b = b;
			}
			if (rejected_here)
			{
				rejected++;
				snprintf(what, sizeof(what),
						 "bucket (%g, %g): %s %ld vs %s %ld, m KL = %.1f >= %.1f",
						 lo, hi, dir == 0 ? "D" : "D'", k,
						 dir == 0 ? "D'" : "D", m - k,
						 m * bernoulli_kl((double) k / m, p0), log_inv_alpha);
			}
#ifdef DP_WEAKEN_FOR_TEST
			if (rejected_here)
				printf("  weakened build: rejected as it must be: %s: %s\n",
					   s->name, what);
#else
			CHECKF(!rejected_here, "%s", what);
#endif
		}
	}
	printf("  %ld trials (%ld on D, %ld on D'), %d buckets, %ld with m >= %ld "
		   "tested both ways, %ld rejected; largest log(c/c') %.2f (bucket %d)\n",
		   s->trials, on[0], on[1], s->nb, tested, m_min, rejected,
		   worst_ratio, worst_b);
#ifdef DP_WEAKEN_FOR_TEST
	CHECKF(rejected > 0, "no power: the weakened %s passes", s->name);
#else
	CHECK(tested > 0);
#endif

	/* the power of this design against the weakened mechanism */
	a = law(s, &s->d[0], 2, s->power_bucket);
	cc = law(s, &s->d[1], 2, s->power_bucket);
	log_miss = log_miss_bound(s->trials, a, cc);
	printf("  power: with scales halved, bucket %d has P_D = %.4f, P_D' = %.4f "
		   "(log ratio %.2f): missed with probability <= 10^%.1f\n",
		   s->power_bucket, a, cc, log(a / cc), log_miss / log(10));
	CHECKF(log_miss <= log(MISS_MAX),
		   "the weakened %s is missed with probability up to 10^%.1f",
		   s->name, log_miss / log(10));
	case_end();
}

int
main(void)
{
	int			buckets = 0;
	double		alpha;

	for (int i = 0; i < NSETUPS; i++)
		buckets += setups[i].nb;
	alpha = FFP_TOTAL / (2.0 * buckets);
	log_inv_alpha = -log(alpha);
	p0 = exp(EPSILON) / (1 + exp(EPSILON));
	m_min = (long) ceil(log_inv_alpha / -log(p0));

#ifdef DP_WEAKEN_FOR_TEST
	printf("weakened build (sensitivities halved): every mechanism must be "
		   "rejected\n");
#endif
	for (int i = 0; i < NSETUPS; i++)
		test_mechanism(&setups[i]);

	case_begin("total false-failure probability");
	printf("  %d buckets x 2 directions = %d checks at %.3g each: %.3g per run "
		   "(union bound); p0 = %.4f, buckets tested from m = %ld\n",
		   buckets, 2 * buckets, alpha, 2 * buckets * alpha, p0, m_min);
	CHECK(2 * buckets * alpha <= FFP_TOTAL * (1 + 1e-12));
	CHECK(buckets == 49);
	case_end();
	return unit_finish();
}
