/*
 * test_dp_mech.c
 *	  Unit tests of the noisy aggregates' mechanisms (src/dp_mech.c,
 *	  dp_mech.h): calibration, fixed point, bins and clamping, and the
 *	  releases' edge cases.  The DP property itself is test_dp_property.c.
 *
 * Calibration is checked exactly: each scale against sensitivity / epsilon
 * with 256-bit cross products: the quotient in lowest terms when that fits
 * in 64-bit terms (always for count and histogram), else rounded up by less
 * than 2^-60 relative, never down.  Then the fixed-point grid's
 * bounds (|bound| <= 2^59 in fixed point, every scale <= 2^51) over a sweep
 * of bounds from 1e-300 to 1e300 (and the extremes of double) and epsilons
 * from 2^-32 to 2^31.
 *
 * Releases cannot be checked against a zero-noise run (there is none), so
 * they are checked with a failing random source (DP_ERR_RANDOM, nothing
 * written), for the clamping of avg, and with epsilon = 2^31, where the
 * noise is so small that the results are the true values (count, histogram)
 * or within 1e-5 (sum) and 1e-6 (avg) of them; and at the extremes of
 * double, where a sum's release must be finite or refused and an average's
 * finite and within its bounds.  Each of these statistical
 * checks states its false-failure probability; all together it is below
 * 1e-24 per run.  The seeds are fixed, so a run is deterministic.
 */
#include "../../src/dp_mech.h"
#include "unit.h"

#include <float.h>
#include <math.h>

typedef unsigned __int128 u128;

/* ================================================================ sources */


static DpRandom
seeded(Rng *r, uint64_t seed)
{
	DpRandom	d = {rng_fill, r};

	r->state = seed;
	return d;
}

/* a seeded source that fails from call fail_at on (0: at once) */
typedef struct Failing
{
	Rng			rng;
	long		calls;
	long		fail_at;
} Failing;

static int
failing_fill(void *ctx, uint8_t *buf, size_t len)
{
	Failing    *f = ctx;

	if (f->calls >= f->fail_at)
		return -1;
	f->calls++;
	return rng_fill(&f->rng, buf, len);
}

/* ========================================================= 256-bit sums */

/* an unsigned 256-bit integer, little-endian 64-bit limbs */
typedef struct U256
{
	uint64_t	w[4];
} U256;

static U256
u256(u128 x)
{
	U256		r = {{(uint64_t) x, (uint64_t) (x >> 64), 0, 0}};

	return r;
}

/* a * b; the tests keep every product below 2^256 */
static U256
u256_mul(U256 a, uint64_t b)
{
	U256		r;
	u128		carry = 0;

	for (int i = 0; i < 4; i++)
	{
		u128		t = (u128) a.w[i] * b + carry;

		r.w[i] = (uint64_t) t;
		carry = t >> 64;
	}
	return r;
}

static int
u256_cmp(U256 a, U256 b)
{
	for (int i = 3; i >= 0; i--)
		if (a.w[i] != b.w[i])
			return a.w[i] < b.w[i] ? -1 : 1;
	return 0;
}

/*
 * The scale against sensitivity / epsilon, exactly: *cmp is -1, 0 or 1 as
 * scale <, =, > s / eps, and *close is scale <= s / eps * (1 + 2^-60).
 * s < 2^62 and eps.den <= 2^32, so every product is below 2^220.
 */
static void
scale_vs(DpRational scale, u128 s, DpRational eps, int *cmp, bool *close)
{
	U256		lhs = u256_mul(u256(scale.num), eps.num);
	U256		rhs = u256_mul(u256_mul(u256(s), eps.den), scale.den);

	*cmp = u256_cmp(lhs, rhs);
	*close = u256_cmp(u256_mul(lhs, UINT64_C(1) << 60),
					  u256_mul(rhs, (UINT64_C(1) << 60) + 1)) <= 0;
}

static u128
gcd128(u128 a, u128 b)
{
	while (b != 0)
	{
		u128		t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static long scales_exact;		/* check_scale's outcomes, for the record */
static long scales_rounded;

/*
 * Check a scale against sensitivity s / eps: the quotient in lowest terms
 * when it fits in 64-bit terms, else rounded up (strictly: the lowest terms
 * do not fit, so no equal rational does) by less than 2^-60 relative.
 */
static bool
check_scale(const char *what, DpRational scale, u128 s, DpRational eps)
{
	u128		n = s * eps.den,
				d = eps.num,
				g = gcd128(n, d);
	bool		fits = n / g <= UINT64_MAX;
	int			cmp;
	bool		close;

	scale_vs(scale, s, eps, &cmp, &close);
	if (fits)
		scales_exact++;
	else
		scales_rounded++;
	return CHECKF(fits ? scale.num == n / g && scale.den == d / g :
				  cmp > 0 && close,
				  "%s: scale %llu/%llu against %.17g / (%llu/%llu): %s", what,
				  (unsigned long long) scale.num, (unsigned long long) scale.den,
				  (double) s, (unsigned long long) eps.num,
				  (unsigned long long) eps.den,
				  cmp < 0 ? "smaller" : cmp == 0 ? "equal" : close ?
				  "rounded up" : "too large");
}

static int64_t
abs64(int64_t v)
{
	return v < 0 ? -v : v;
}

/* scale.num / scale.den <= 2^k */
static bool
at_most_pow2(DpRational r, int k)
{
	return (u128) r.num <= ((u128) r.den << k);
}

/* ================================================================ tests */

static void
expect_error(DpMechKind kind, double eps, double lower, double upper,
			 int bins, DpStatus want, const char *reason_has)
{
	DpMech		m;
	const char *reason = NULL;
	DpStatus	st = dp_mech_init(&m, kind, eps, lower, upper, bins, &reason);

	CHECKF(st == want && reason != NULL && strstr(reason, reason_has) != NULL,
		   "kind %d, epsilon %g, bounds [%g, %g], %d bins: status %d (want %d), "
		   "reason \"%s\" (want \"%s\" in it)", (int) kind, eps, lower, upper,
		   bins, st, want, reason ? reason : "(null)", reason_has);
}

static void
test_errors(void)
{
	DpMechKind	kinds[] = {DP_MECH_COUNT, DP_MECH_SUM, DP_MECH_AVG,
	DP_MECH_HISTOGRAM};
	DpMechKind	bounded[] = {DP_MECH_SUM, DP_MECH_AVG, DP_MECH_HISTOGRAM};
	double		bad_eps[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, -1.0,
	0x1p-33, 0x1p-32 * 0.999, DBL_TRUE_MIN};
	DpMech		m;
	const char *reason = "unset";

	case_begin("calibration errors, with reasons");
	for (int k = 0; k < 4; k++)
	{
		for (size_t i = 0; i < sizeof(bad_eps) / sizeof(bad_eps[0]); i++)
			expect_error(kinds[k], bad_eps[i], 0, 100, 10, DP_ERR_PARAM,
						 "epsilon");
		expect_error(kinds[k], 0x1p32, 0, 100, 10, DP_ERR_OVERFLOW, "epsilon");
		expect_error(kinds[k], 1e300, 0, 100, 10, DP_ERR_OVERFLOW, "epsilon");
	}
	for (int k = 0; k < 3; k++)
	{
		DpMechKind	kind = bounded[k];

		expect_error(kind, 1, NAN, 100, 10, DP_ERR_PARAM, "bounds");
		expect_error(kind, 1, 0, NAN, 10, DP_ERR_PARAM, "bounds");
		expect_error(kind, 1, -INFINITY, 100, 10, DP_ERR_PARAM, "bounds");
		expect_error(kind, 1, 0, INFINITY, 10, DP_ERR_PARAM, "bounds");
		expect_error(kind, 1, 5, 5, 10, DP_ERR_PARAM, "lower bound");
		expect_error(kind, 1, 100, 0, 10, DP_ERR_PARAM, "lower bound");
		expect_error(kind, 1, -0.0, 0.0, 10, DP_ERR_PARAM, "lower bound");

		/*
		 * Too close for their magnitude: at epsilon 1 the grid of [1, 2) is
		 * 2^-48, so 2^-38 is 1024 steps (the least accepted), 1023 steps
		 * and 2^-39 too few; at epsilon 2^-32 the grid is 2^-16 and 2^-10
		 * too few.
		 */
		expect_error(kind, 1, 1, 1 + 0x1p-39, 10, DP_ERR_PARAM, "too close");
		expect_error(kind, 1, 1, 1 + 1023 * 0x1p-48, 10, DP_ERR_PARAM,
					 "too close");
		expect_error(kind, 0x1p-32, 1, 1 + 0x1p-10, 10, DP_ERR_PARAM,
					 "too close");
		expect_error(kind, 1, 1e300, nextafter(1e300, INFINITY), 10,
					 DP_ERR_PARAM, "too close");
		CHECK(dp_mech_init(&m, kind, 1, 1, 1 + 0x1p-38, 10, &reason) == DP_OK &&
			  reason == NULL && m.upper_fp - m.lower_fp == 1024);
		CHECK(dp_mech_init(&m, kind, 0x1p-32, 1, 1 + 0x1p-6, 10, &reason) ==
			  DP_OK && m.upper_fp - m.lower_fp == 1024);
	}
	expect_error(DP_MECH_HISTOGRAM, 1, 0, 100, 0, DP_ERR_PARAM, "bins");
	expect_error(DP_MECH_HISTOGRAM, 1, 0, 100, -1, DP_ERR_PARAM, "bins");
	expect_error(DP_MECH_HISTOGRAM, 1, 0, 100, DP_HISTOGRAM_MAX_BINS + 1,
				 DP_ERR_PARAM, "bins");
	CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 1, 0, 100, 1, &reason) == DP_OK &&
		  m.bins == 1);
	CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 1, 0, 100, DP_HISTOGRAM_MAX_BINS,
					   &reason) == DP_OK && m.bins == DP_HISTOGRAM_MAX_BINS);

	/* what a kind ignores: bounds and bins for count, bins for sum and avg */
	reason = "unset";
	CHECK(dp_mech_init(&m, DP_MECH_COUNT, 1, NAN, -INFINITY, 0, &reason) ==
		  DP_OK && reason == NULL && m.kind == DP_MECH_COUNT);
	CHECK(dp_mech_init(&m, DP_MECH_SUM, 1, 0, 100, 0, &reason) == DP_OK &&
		  m.bins == 0);
	CHECK(dp_mech_init(&m, DP_MECH_AVG, 1, 0, 100, -7, &reason) == DP_OK &&
		  m.bins == 0);
	case_end();
}

static void
test_calibration(void)
{
	double		eps[] = {1, 0.5, 0.75, 2, 3, 0.1, 0.3, 1e-9, 0x1p-32, 0x1p31,
	0x1p32 - 1, 4096.125};
	DpMech		m;
	const char *reason;

	case_begin("calibration: ledger units, and scales = sensitivity / epsilon");
	/* the ledger debits the rational the noise is calibrated with */
	CHECK(dp_mech_init(&m, DP_MECH_COUNT, 0.1, 0, 0, 0, &reason) == DP_OK &&
		  m.ledger_units == 100000000 && m.epsilon_asked == 0.1 &&
		  m.epsilon.num == 429496729 && m.epsilon.den == UINT64_C(1) << 32);
	CHECK(dp_mech_init(&m, DP_MECH_SUM, 0.5, 0, 100, 0, &reason) == DP_OK &&
		  m.ledger_units == 500000000 && m.epsilon.num == 1 && m.epsilon.den == 2);
	CHECK(dp_mech_init(&m, DP_MECH_AVG, 1, 0, 100, 0, &reason) == DP_OK &&
		  m.ledger_units == 1000000000);
	CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 0x1p-32, 0, 100, 3, &reason) ==
		  DP_OK && m.ledger_units == 1);
	CHECK(dp_mech_init(&m, DP_MECH_COUNT, 0x1p32 - 1, 0, 0, 0, &reason) ==
		  DP_OK && m.ledger_units == INT64_C(4294967295000000000));

	/* [0, 100] at epsilon 1: frac_bits 42, and the scales of dp_mech.h */
	CHECK(dp_mech_init(&m, DP_MECH_SUM, 1, 0, 100, 0, &reason) == DP_OK &&
		  m.frac_bits == 42 && m.lower_fp == 0 &&
		  m.upper_fp == 100 * (INT64_C(1) << 42) &&
		  m.scale.num == 100 * (UINT64_C(1) << 42) && m.scale.den == 1);
	CHECK(dp_mech_init(&m, DP_MECH_AVG, 1, 0, 100, 0, &reason) == DP_OK &&
		  m.scale.num == 200 * (UINT64_C(1) << 42) && m.scale.den == 1 &&
		  m.count_scale.num == 2 && m.count_scale.den == 1);
	CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 0.5, -50, 50, 10, &reason) ==
		  DP_OK && m.scale.num == 2 && m.scale.den == 1);

	for (size_t i = 0; i < sizeof(eps) / sizeof(eps[0]); i++)
	{
		double		lows[] = {0, -50, -1e-3, 7, -1e12},
					highs[] = {100, 50, 2e-3, 7.5, -3};

		/* count and histogram: 1 / epsilon, always exact */
		if (CHECK(dp_mech_init(&m, DP_MECH_COUNT, eps[i], 0, 0, 0, &reason) ==
				  DP_OK))
			check_scale("count", m.scale, 1, m.epsilon);
		for (size_t j = 0; j < sizeof(lows) / sizeof(lows[0]); j++)
		{
			u128		sum_delta,
						range;

			if (!CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, eps[i], lows[j],
									highs[j], 7, &reason) == DP_OK))
				continue;
			check_scale("histogram", m.scale, 1, m.epsilon);
			if (!CHECK(dp_mech_init(&m, DP_MECH_SUM, eps[i], lows[j], highs[j],
									0, &reason) == DP_OK))
				continue;
			sum_delta = (u128) (abs64(m.lower_fp) > abs64(m.upper_fp) ?
								abs64(m.lower_fp) : abs64(m.upper_fp));
			check_scale("sum", m.scale, sum_delta, m.epsilon);
			if (!CHECK(dp_mech_init(&m, DP_MECH_AVG, eps[i], lows[j], highs[j],
									0, &reason) == DP_OK))
				continue;
			range = (u128) (m.upper_fp - m.lower_fp);
			check_scale("avg count", m.count_scale, 2, m.epsilon);
			check_scale("avg sum", m.scale, 2 * range, m.epsilon);
		}
	}
	/* the rounded-up case happens: 100 * 2^38 / (429496729 / 2^32) */
	if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 0.1, 0, 100, 0, &reason) == DP_OK))
	{
		int			cmp;
		bool		close;

		CHECK(m.frac_bits == 38);
		scale_vs(m.scale, (u128) m.upper_fp, m.epsilon, &cmp, &close);
		CHECK(cmp > 0 && close);
	}
	printf("  %ld scales exact, %ld rounded up\n", scales_exact, scales_rounded);
	CHECK(scales_exact > 0 && scales_rounded > 0);
	case_end();
}

/*
 * The grid over a sweep: bounds of every magnitude from 1e-300 to 1e300 in
 * several shapes and epsilons 2^-32 .. 2^31: calibration succeeds, the
 * bounds in fixed point are within 2^59, every scale is at most 2^51, and
 * the sum's scale is as stated.
 */
static void
test_grid_sweep(void)
{
	DpMechKind	kinds[] = {DP_MECH_SUM, DP_MECH_AVG, DP_MECH_HISTOGRAM};
	double		mags[80];
	int			nmags = 0;
	long		configs = 0;
	int			min_frac = INT32_MAX,
				max_frac = INT32_MIN;

	for (int e = -300; e <= 300; e += 10)
		mags[nmags++] = pow(10, e);
	mags[nmags++] = DBL_MAX;
	mags[nmags++] = DBL_MIN;
	mags[nmags++] = DBL_TRUE_MIN * 4096;
	mags[nmags++] = 1;

	case_begin("fixed-point grid: |bounds| <= 2^59, scales <= 2^51, over "
			   "bounds 1e-300..1e300 and epsilon 2^-32..2^31");
	for (int i = 0; i < nmags; i++)
	{
		double		a = mags[i];
		double		shapes[5][2] = {{-a, a}, {0, a}, {a / 2, a}, {-a, -a / 2},
		{-a, a / 3}};

		for (int sh = 0; sh < 5; sh++)
		{
			for (int e = -32; e <= 31; e++)
			{
				for (int k = 0; k < 3; k++)
				{
					DpMech		m;
					const char *reason = NULL;
					double		lo = shapes[sh][0],
								hi = shapes[sh][1],
								eps = ldexp(e % 3 == 0 ? 1.5 : 1, e);
					DpStatus	st = dp_mech_init(&m, kinds[k], eps, lo, hi, 100,
												  &reason);
					bool		ok;

					configs++;
					if (!CHECKF(st == DP_OK, "[%g, %g] at %g: %s", lo, hi, eps,
								reason ? reason : ""))
						continue;
					ok = abs64(m.lower_fp) <= (INT64_C(1) << 59) &&
						abs64(m.upper_fp) <= (INT64_C(1) << 59) &&
						at_most_pow2(m.scale, 51) &&
						(kinds[k] != DP_MECH_AVG || at_most_pow2(m.count_scale, 51)) &&
						m.upper_fp - m.lower_fp >= 1024;
					CHECKF(ok, "[%g, %g] at %g: frac_bits %d, fixed [%lld, %lld], "
						   "scale %llu/%llu", lo, hi, eps, m.frac_bits,
						   (long long) m.lower_fp, (long long) m.upper_fp,
						   (unsigned long long) m.scale.num,
						   (unsigned long long) m.scale.den);
					if (kinds[k] == DP_MECH_SUM)
						check_scale("sum", m.scale,
									(u128) (abs64(m.lower_fp) > abs64(m.upper_fp) ?
											abs64(m.lower_fp) : abs64(m.upper_fp)),
									m.epsilon);
					min_frac = m.frac_bits < min_frac ? m.frac_bits : min_frac;
					max_frac = m.frac_bits > max_frac ? m.frac_bits : max_frac;
				}
			}
		}
	}
	printf("  %ld calibrations, frac_bits from %d to %d\n", configs, min_frac,
		   max_frac);
	CHECK(min_frac < 0 && max_frac > 1000);
	case_end();
}

static void
test_fixed(void)
{
	DpMech		m;
	const char *reason;
	int64_t		v,
				prev;
	Rng			r = {11};
	double		bounds[][2] = {{0, 100}, {-50, 50}, {-1e300, 1e300}, {1e-300, 3e-300},
	{-7, -3}};

	case_begin("dp_mech_fixed: clamping, rounding and monotonicity");
	if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 1, 0, 100, 0, &reason) == DP_OK))
	{
		CHECK(dp_mech_fixed(&m, 25.5, &v) == DP_OK && v == 51 * (INT64_C(1) << 41));
		CHECK(dp_mech_fixed(&m, 0, &v) == DP_OK && v == 0);
		CHECK(dp_mech_fixed(&m, -0.0, &v) == DP_OK && v == 0);
		CHECK(dp_mech_fixed(&m, -1, &v) == DP_OK && v == m.lower_fp);
		CHECK(dp_mech_fixed(&m, -DBL_MAX, &v) == DP_OK && v == m.lower_fp);
		CHECK(dp_mech_fixed(&m, 100, &v) == DP_OK && v == m.upper_fp);
		CHECK(dp_mech_fixed(&m, 1e300, &v) == DP_OK && v == m.upper_fp);
		CHECK(dp_mech_fixed(&m, 0x1p-43, &v) == DP_OK && v == 0);	/* a tie */
		CHECK(dp_mech_fixed(&m, 0x1p-43 * 3, &v) == DP_OK && v == 2);
		v = 77;
		CHECK(dp_mech_fixed(&m, NAN, &v) == DP_ERR_PARAM && v == 77);
		CHECK(dp_mech_fixed(&m, INFINITY, &v) == DP_ERR_PARAM && v == 77);
		CHECK(dp_mech_fixed(&m, -INFINITY, &v) == DP_ERR_PARAM && v == 77);
	}

	/* sorted inputs give sorted results in [lower_fp, upper_fp] */
	for (size_t b = 0; b < sizeof(bounds) / sizeof(bounds[0]); b++)
	{
		double		lo = bounds[b][0],
					hi = bounds[b][1],
					span = hi - lo;
		double		xs[2000];
		int			n = 0;

		if (!CHECK(dp_mech_init(&m, DP_MECH_AVG, 0.25, lo, hi, 0, &reason) ==
				   DP_OK))
			continue;
		/* from beyond the lower bound to beyond the upper, steps uneven */
		for (double x = lo - span / 4; n < 2000; n++)
		{
			xs[n] = x;
			x += span * 1.5 / 2000 * rng_unit(&r) * 2;
		}
		xs[0] = lo;
		xs[1] = nextafter(lo, INFINITY);
		xs[2] = hi;
		xs[3] = nextafter(hi, -INFINITY);
		xs[4] = (lo + hi) / 2;
		for (int i = 0; i < n; i++)
			for (int j = i; j > 0 && xs[j] < xs[j - 1]; j--)
			{
				double		t = xs[j];

				xs[j] = xs[j - 1];
				xs[j - 1] = t;
			}
		prev = INT64_MIN;
		for (int i = 0; i < n; i++)
		{
			double		c = xs[i] < lo ? lo : xs[i] > hi ? hi : xs[i];
			bool		ok = dp_mech_fixed(&m, xs[i], &v) == DP_OK &&
				v >= prev && v >= m.lower_fp && v <= m.upper_fp &&
				v == (int64_t) nearbyint(ldexp(c, m.frac_bits));

			if (!CHECKF(ok, "[%g, %g], frac_bits %d: %.17g -> %lld (previous %lld)",
						lo, hi, m.frac_bits, xs[i], (long long) v,
						(long long) prev))
				break;
			prev = v;
		}
	}
	case_end();
}

static void
test_bins(void)
{
	DpMech		m;
	const char *reason;
	int64_t		v;
	int			bins_list[] = {1, 2, 3, 7, 10, 100, 1000, DP_HISTOGRAM_MAX_BINS};
	double		at[] = {0, 24.999, 25, 49.99, 50, 74.9, 75, 99.99, 100};
	int			want[] = {0, 0, 1, 1, 2, 2, 3, 3, 3};

	case_begin("dp_mech_bin: edges, both ends, equal widths");
	if (CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 1, 0, 100, 4, &reason) == DP_OK))
	{
		for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++)
		{
			int			b = -1;

			if (CHECK(dp_mech_fixed(&m, at[i], &v) == DP_OK))
				b = dp_mech_bin(&m, v);
			CHECKF(b == want[i], "%g -> bin %d, want %d", at[i], b, want[i]);
		}
		CHECK(dp_mech_bin(&m, INT64_MIN) == 0);
		CHECK(dp_mech_bin(&m, m.lower_fp - 1) == 0);
		CHECK(dp_mech_bin(&m, m.upper_fp + 1) == 3);
		CHECK(dp_mech_bin(&m, INT64_MAX) == 3);
	}
	if (CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 1, -50, 50, 10, &reason) == DP_OK))
	{
		for (int i = 0; i < 10; i++)
			CHECKF(dp_mech_fixed(&m, -50 + 10 * i, &v) == DP_OK &&
				   dp_mech_bin(&m, v) == i &&
				   dp_mech_bin(&m, v - 1) == (i == 0 ? 0 : i - 1),
				   "edge %d", i);
		CHECK(dp_mech_fixed(&m, 50, &v) == DP_OK && dp_mech_bin(&m, v) == 9);
	}

	/*
	 * Every value of a small grid: [0, 1] at epsilon 2^-32 has 2^16 steps.
	 * Bin i is exactly the values with i <= (v - lower) bins / range < i + 1
	 * (the upper bound joins the last bin), so widths differ by at most one.
	 */
	for (size_t k = 0; k < sizeof(bins_list) / sizeof(bins_list[0]); k++)
	{
		int			bins = bins_list[k];
		int64_t		range;
		int64_t		width[DP_HISTOGRAM_MAX_BINS] = {0};
		int64_t		wmin = INT64_MAX,
					wmax = 0;
		int			prev = 0;
		long		wrong = 0;

		if (!CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 0x1p-32, 0, 1, bins,
								&reason) == DP_OK && m.frac_bits == 16))
			continue;
		range = m.upper_fp - m.lower_fp;
		for (v = m.lower_fp; v <= m.upper_fp; v++)
		{
			int			b = dp_mech_bin(&m, v);
			int64_t		expect = (int64_t) ((u128) (v - m.lower_fp) * bins / range);

			if (expect >= bins)
				expect = bins - 1;
			if (b != expect || b < prev)
			{
				if (wrong++ == 0)
					CHECKF(false, "%d bins: %lld -> %d, want %lld", bins,
						   (long long) v, b, (long long) expect);
			}
			prev = b;
			if (v < m.upper_fp && b >= 0 && b < bins)
				width[b]++;
		}
		CHECKF(wrong == 0, "%d bins: %ld values in a wrong bin", bins, wrong);
		for (int i = 0; i < bins; i++)
		{
			wmin = width[i] < wmin ? width[i] : wmin;
			wmax = width[i] > wmax ? width[i] : wmax;
		}
		CHECKF(wmax - wmin <= 1 && wmin >= range / bins,
			   "%d bins: widths from %lld to %lld", bins, (long long) wmin,
			   (long long) wmax);
		CHECK(dp_mech_bin(&m, m.lower_fp) == 0 &&
			  dp_mech_bin(&m, m.upper_fp) == bins - 1);
	}

	/* a huge range: bin i starts exactly at lower + ceil(i range / bins) */
	if (CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 1, -1e300, 1e300,
						   DP_HISTOGRAM_MAX_BINS, &reason) == DP_OK))
	{
		u128		range = (u128) (m.upper_fp - m.lower_fp);

		for (int i = 1; i < DP_HISTOGRAM_MAX_BINS; i++)
		{
			u128		off = (range * i + DP_HISTOGRAM_MAX_BINS - 1) /
				DP_HISTOGRAM_MAX_BINS;
			int64_t		edge = m.lower_fp + (int64_t) off;

			if (!CHECKF(dp_mech_bin(&m, edge) == i &&
						dp_mech_bin(&m, edge - 1) == i - 1,
						"edge %d at %lld", i, (long long) edge))
				break;
		}
	}
	case_end();
}

static void
test_clamp_total(void)
{
	DpMech		m;
	const char *reason;
	DpInt128	big = (DpInt128) 1 << 100;

	case_begin("dp_mech_clamp_total: a unit's total clamped to the bounds");
	if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 1, 0, 100, 0, &reason) == DP_OK))
	{
		CHECK(dp_mech_clamp_total(&m, 0) == 0);
		CHECK(dp_mech_clamp_total(&m, -1) == m.lower_fp);
		CHECK(dp_mech_clamp_total(&m, 12345) == 12345);
		CHECK(dp_mech_clamp_total(&m, m.upper_fp) == m.upper_fp);
		CHECK(dp_mech_clamp_total(&m, (DpInt128) m.upper_fp + 1) == m.upper_fp);
		CHECK(dp_mech_clamp_total(&m, big) == m.upper_fp);
		CHECK(dp_mech_clamp_total(&m, -big) == m.lower_fp);
		/* two rows of 70 and 60 make a unit at the upper bound */
		{
			int64_t		a,
						b;

			CHECK(dp_mech_fixed(&m, 70, &a) == DP_OK &&
				  dp_mech_fixed(&m, 60, &b) == DP_OK &&
				  dp_mech_clamp_total(&m, (DpInt128) a + b) == m.upper_fp);
		}
	}
	if (CHECK(dp_mech_init(&m, DP_MECH_AVG, 1, -50, -10, 0, &reason) == DP_OK))
	{
		CHECK(dp_mech_clamp_total(&m, 0) == m.upper_fp);
		CHECK(dp_mech_clamp_total(&m, (DpInt128) m.lower_fp * 3) == m.lower_fp);
		CHECK(dp_mech_clamp_total(&m, (DpInt128) m.lower_fp + 1) == m.lower_fp + 1);
	}
	case_end();
}

/* every release on one source, with sentinel outputs */
static void
all_releases(const DpMech *mc, const DpMech *ms, const DpMech *ma,
			 const DpMech *mh, const DpRandom *rng, DpStatus st[4],
			 bool *untouched)
{
	int64_t		c = 77,
				counts[5] = {1, 2, 3, 4, 5},
				hist[5] = {77, 77, 77, 77, 77};
	double		s = 77,
				a = 77;

	st[0] = dp_release_count(mc, rng, 10, &c);
	st[1] = dp_release_sum(ms, rng, 1000, &s);
	st[2] = dp_release_avg(ma, rng, 1000, 3, &a);
	st[3] = dp_release_histogram(mh, rng, counts, hist);
	*untouched = (st[0] == DP_OK || c == 77) && (st[1] == DP_OK || s == 77) &&
		(st[2] == DP_OK || a == 77);
	for (int i = 0; i < 5; i++)
		*untouched &= st[3] == DP_OK || hist[i] == 77;
}

static void
test_random_failure(void)
{
	DpMech		mc,
				ms,
				ma,
				mh;
	const char *reason;
	DpStatus	st[4];
	bool		untouched;
	int			errors[4] = {0};

	case_begin("releases: a failing random source gives DP_ERR_RANDOM, nothing "
			   "written");
	if (!CHECK(dp_mech_init(&mc, DP_MECH_COUNT, 1, 0, 0, 0, &reason) == DP_OK &&
			   dp_mech_init(&ms, DP_MECH_SUM, 1, 0, 100, 0, &reason) == DP_OK &&
			   dp_mech_init(&ma, DP_MECH_AVG, 1, 0, 100, 0, &reason) == DP_OK &&
			   dp_mech_init(&mh, DP_MECH_HISTOGRAM, 1, 0, 100, 5, &reason) == DP_OK))
	{
		case_end();
		return;
	}

	/* failing at once: every release fails and writes nothing */
	{
		Failing		f = {{1}, 0, 0};
		DpRandom	rng = {failing_fill, &f};

		all_releases(&mc, &ms, &ma, &mh, &rng, st, &untouched);
		CHECK(untouched);
		for (int i = 0; i < 4; i++)
			CHECKF(st[i] == DP_ERR_RANDOM, "release %d: status %d", i, st[i]);
	}

	/*
	 * Failing after k calls: count, sum and avg (whose second draw can fail
	 * after its first succeeded) either succeed or fail writing nothing.
	 */
	for (long k = 1; k < 200; k++)
	{
		Failing		f = {{k + 1}, 0, k};
		DpRandom	rng = {failing_fill, &f};
		int64_t		c = 77;
		double		s = 77,
					a = 77;

		st[0] = dp_release_count(&mc, &rng, 10, &c);
		f.calls = 0;
		st[1] = dp_release_sum(&ms, &rng, 1000, &s);
		f.calls = 0;
		st[2] = dp_release_avg(&ma, &rng, 1000, 3, &a);
		CHECKF((st[0] == DP_OK || (st[0] == DP_ERR_RANDOM && c == 77)) &&
			   (st[1] == DP_OK || (st[1] == DP_ERR_RANDOM && s == 77)) &&
			   (st[2] == DP_OK || (st[2] == DP_ERR_RANDOM && a == 77)),
			   "failing at call %ld: status %d %d %d", k, st[0], st[1], st[2]);
		for (int i = 0; i < 3; i++)
			errors[i] += st[i] == DP_ERR_RANDOM;
	}
	/* every release takes a few calls, so the first few k fail each */
	CHECKF(errors[0] > 0 && errors[1] > 0 && errors[2] > 0,
		   "errors %d %d %d", errors[0], errors[1], errors[2]);
	case_end();
}

/*
 * The releases with epsilon = 2^31.  The noise's scales are then tiny: 2^-31
 * for count and histogram, so Z = 0 except with probability
 * 1 - tanh(2^30) < 2 e^-(2^31); for sum and avg on [0, 100] the
 * fixed-point noise has scale 100 / 2^31 = 4.7e-8 in real units (and avg's
 * count scale is 2^-30), so P(|noise| > x) <= 2 e^(-x / 4.7e-8), below
 * 1e-90 for the sum's 1e-5 and 1e-27 for avg's (3 rows: 3e-6 on the sum).
 * With 300 releases of each, every check below fails with probability
 * below 1e-24.
 */
static void
test_huge_epsilon(void)
{
	DpMech		m;
	const char *reason;
	Rng			r;
	DpRandom	rng = seeded(&r, 21);
	int			bad = 0;
	double		rows[] = {10, 20, 60};
	int64_t		fixed[3],
				counts[6] = {0, 5, 0, 123456789, 1, 0},
				out[6];
	DpInt128	sum = 0;

	case_begin("releases at epsilon 2^31 are the true values");
	if (CHECK(dp_mech_init(&m, DP_MECH_COUNT, 0x1p31, 0, 0, 0, &reason) == DP_OK))
	{
		int64_t		ns[] = {0, 1, 12345, INT64_MAX};

		for (int i = 0; i < 300; i++)
		{
			int64_t		n = ns[i % 4],
						c = -1;

			bad += dp_release_count(&m, &rng, n, &c) != DP_OK || c != n;
		}
		CHECKF(bad == 0, "%d counts differ", bad);
	}
	if (CHECK(dp_mech_init(&m, DP_MECH_HISTOGRAM, 0x1p31, 0, 100, 6, &reason) ==
			  DP_OK))
	{
		bad = 0;
		for (int i = 0; i < 300; i++)
		{
			bad += dp_release_histogram(&m, &rng, counts, out) != DP_OK;
			for (int b = 0; b < 6; b++)
				bad += out[b] != counts[b];
		}
		CHECKF(bad == 0, "%d histogram bins differ", bad);
	}
	if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 0x1p31, 0, 100, 0, &reason) == DP_OK))
	{
		double		worst = 0;

		sum = 0;
		for (int i = 0; i < 3; i++)
		{
			CHECK(dp_mech_fixed(&m, rows[i], &fixed[i]) == DP_OK);
			sum += fixed[i];
		}
		bad = 0;
		for (int i = 0; i < 300; i++)
		{
			double		s = -1;

			bad += dp_release_sum(&m, &rng, sum, &s) != DP_OK;
			worst = fmax(worst, fabs(s - 90));
		}
		CHECKF(bad == 0 && worst <= 1e-5, "%d errors, largest error %g", bad,
			   worst);
	}
	if (CHECK(dp_mech_init(&m, DP_MECH_AVG, 0x1p31, 0, 100, 0, &reason) == DP_OK))
	{
		double		worst = 0;

		sum = 0;
		for (int i = 0; i < 3; i++)
		{
			CHECK(dp_mech_fixed(&m, rows[i], &fixed[i]) == DP_OK);
			sum += fixed[i];
		}
		bad = 0;
		for (int i = 0; i < 300; i++)
		{
			double		a = -1;

			bad += dp_release_avg(&m, &rng, sum, 3, &a) != DP_OK;
			worst = fmax(worst, fabs(a - 30));
		}
		CHECKF(bad == 0 && worst <= 1e-6, "%d errors, largest error %g", bad,
			   worst);
	}
	case_end();
}

/*
 * avg's clamping: at epsilon 0.01 the noise dwarfs [0, 100], and every
 * release lies in the bounds.  P(v = lower) >= P(Zc <= -1) P(Zs < -50) for
 * data at the midpoint (the count is then clamped to 1): with count scale
 * 200 and sum scale 10^4, at least 0.49 * 0.49 > 0.24, likewise for upper,
 * so 1000 releases reach both bounds except with probability below
 * 2 * 0.76^1000 < 1e-118.
 */
static void
test_avg_clamps(void)
{
	DpMech		m;
	const char *reason;
	Rng			r;
	DpRandom	rng = seeded(&r, 31);
	int			at_lower = 0,
				at_upper = 0,
				outside = 0;
	int64_t		mid;

	case_begin("avg: released within [lower, upper], reaching both");
	if (CHECK(dp_mech_init(&m, DP_MECH_AVG, 0.01, 0, 100, 0, &reason) == DP_OK) &&
		CHECK(dp_mech_fixed(&m, 50, &mid) == DP_OK))
	{
		for (int i = 0; i < 1000; i++)
		{
			double		a = NAN;

			if (!CHECK(dp_release_avg(&m, &rng, (DpInt128) mid * 2, 2, &a) == DP_OK))
				break;
			outside += !(a >= 0 && a <= 100);
			at_lower += a == 0;
			at_upper += a == 100;
		}
		CHECKF(outside == 0 && at_lower > 0 && at_upper > 0,
			   "%d outside, %d at the lower bound, %d at the upper", outside,
			   at_lower, at_upper);
	}
	/* an empty group: the count is clamped to 1, the result still bounded */
	if (CHECK(dp_mech_init(&m, DP_MECH_AVG, 1, -5, -1, 0, &reason) == DP_OK))
	{
		outside = 0;
		for (int i = 0; i < 1000; i++)
		{
			double		a = NAN;

			outside += dp_release_avg(&m, &rng, 0, 0, &a) != DP_OK ||
				!(a >= -5 && a <= -1);
		}
		CHECKF(outside == 0, "%d outside [-5, -1]", outside);
	}
	case_end();
}

/*
 * Overflow is reported, not wrapped: a count of 2^63 - 1 plus noise of
 * scale 1 overflows when Z > 0 (probability e^-1 / (1 + e^-1) = 0.27), so
 * 200 releases see both outcomes except with probability below
 * 0.74^200 + 0.27^200 < 1e-26.  Likewise a sum at the top of int128.
 */
static void
test_overflow(void)
{
	DpMech		m;
	const char *reason;
	Rng			r;
	DpRandom	rng = seeded(&r, 41);
	int			ok = 0,
				overflow = 0,
				other = 0;
	DpInt128	top = (DpInt128) (~(u128) 0 >> 1);

	case_begin("releases: overflow is an error, and nothing is written");
	if (CHECK(dp_mech_init(&m, DP_MECH_COUNT, 1, 0, 0, 0, &reason) == DP_OK))
	{
		for (int i = 0; i < 200; i++)
		{
			int64_t		c = 77;
			DpStatus	st = dp_release_count(&m, &rng, INT64_MAX, &c);

			ok += st == DP_OK;
			overflow += st == DP_ERR_OVERFLOW && c == 77;
			other += st != DP_OK && st != DP_ERR_OVERFLOW;
		}
		CHECKF(ok > 0 && overflow > 0 && other == 0 && ok + overflow == 200,
			   "%d values, %d overflows, %d others", ok, overflow, other);
	}
	if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 1, 0, 100, 0, &reason) == DP_OK))
	{
		ok = overflow = 0;
		for (int i = 0; i < 200; i++)
		{
			double		s = 77;
			DpStatus	st = dp_release_sum(&m, &rng, top, &s);

			ok += st == DP_OK;
			overflow += st == DP_ERR_OVERFLOW && s == 77;
		}
		CHECKF(ok > 0 && overflow > 0 && ok + overflow == 200,
			   "%d values, %d overflows", ok, overflow);
	}
	case_end();
}

/*
 * A sum's release is finite or refused.  Bounds of 2^959 or more in
 * magnitude fail dp_mech_sum_in_range (1e308, the extremes of double); the
 * issue's case, two values of 1e308 under bounds [0, 1e308] (and of -1e308
 * under [-1e308, 0]), would have released an infinity: dp_release_sum
 * reports it as an overflow and writes nothing.  Just below 2^959, at every
 * epsilon of the sweep and in every shape of bounds, the worst case, 2^63 - 1
 * values at a bound, releases a finite double, and so does the analytic
 * bound (2^63 (max |bound| + 1) steps).  Noise at these epsilons is at most
 * 2^51 steps in scale and moves nothing here: no statistical claim.
 */
static void
test_sum_range(void)
{
	const double epsilons[] = {0x1p-32, 0.001, 0.1, 1, 1000, 0x1p31};
	const double too_large[] = {0x1p959, 1e300, 1e308, DBL_MAX};
	const double below = nextafter(0x1p959, 0);
	Rng			r;
	DpRandom	rng = seeded(&r, 43);
	DpMech		m;
	const char *reason;

	case_begin("sum: bounds below 2^959 release finite values; others are refused");
	for (size_t i = 0; i < sizeof(too_large) / sizeof(too_large[0]); i++)
		for (int shape = 0; shape < 3; shape++)
		{
			double		lo = shape == 0 ? 0 : -too_large[i],
						hi = shape == 1 ? 0 : too_large[i];

			if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 1, lo, hi, 0, &reason) == DP_OK))
				CHECKF(dp_mech_sum_in_range(&m) == DP_ERR_OVERFLOW,
					   "[%g, %g] accepted", lo, hi);
		}
	/* the two rows, at epsilon 1e6 */
	for (int sign = -1; sign <= 1; sign += 2)
	{
		double		lo = sign < 0 ? -1e308 : 0,
					hi = sign < 0 ? 0 : 1e308,
					s = 77;
		int64_t		v;

		if (CHECK(dp_mech_init(&m, DP_MECH_SUM, 1e6, lo, hi, 0, &reason) == DP_OK) &&
			CHECK(dp_mech_fixed(&m, sign * 1e308, &v) == DP_OK))
			CHECKF(dp_release_sum(&m, &rng, 2 * (DpInt128) v, &s) == DP_ERR_OVERFLOW && s == 77,
				   "two values of %g under [%g, %g]: %g", sign * 1e308, lo, hi, s);
	}
	for (size_t e = 0; e < sizeof(epsilons) / sizeof(epsilons[0]); e++)
		for (int shape = 0; shape < 4; shape++)
		{
			double		lo = shape == 0 ? 0 : -below,
						hi = shape == 1 ? 0 : shape == 3 ? below / 3 : below;
			uint64_t	most;

			if (!CHECK(dp_mech_init(&m, DP_MECH_SUM, epsilons[e], lo, hi, 0, &reason) == DP_OK) ||
				!CHECKF(dp_mech_sum_in_range(&m) == DP_OK, "[%g, %g] refused", lo, hi))
				continue;
			most = (uint64_t) (m.upper_fp > -m.lower_fp ? m.upper_fp : -m.lower_fp);
			CHECKF(ldexp((double) most + 1.0, 63 - m.frac_bits) < 0x1p1023,
				   "epsilon %g, [%g, %g]: 2^63 (%llu + 1) steps of 2^%d reach 2^1023",
				   epsilons[e], lo, hi, (unsigned long long) most, -m.frac_bits);
			for (int end = 0; end < 2; end++)
			{
				int64_t		at = end ? m.upper_fp : m.lower_fp;

				for (int i = 0; i < 20; i++)
				{
					double		s = NAN;
					DpStatus	st = dp_release_sum(&m, &rng, (DpInt128) INT64_MAX * at, &s);

					CHECKF(st == DP_OK && isfinite(s),
						   "epsilon %g, [%g, %g], 2^63 - 1 values at %g: status %d, %g",
						   epsilons[e], lo, hi, end ? hi : lo, (int) st, s);
				}
			}
		}
	case_end();
}

/*
 * The average and the histogram need no such limit: at the extremes of
 * double (bounds [-DBL_MAX, DBL_MAX], [0, 1e308], [-1e308, 0]), with 2^63 - 1
 * values at either bound or none, an average is always finite and within
 * its bounds (the ratio of two noisy integers may overflow to an infinity,
 * which the clamp brings back to a bound), and a histogram is integers.
 */
static void
test_avg_extremes(void)
{
	const double los[] = {-DBL_MAX, 0, -1e308, -1e308};
	const double his[] = {DBL_MAX, 1e308, 0, 1e308};
	const double epsilons[] = {0x1p-32, 0.1, 1, 0x1p31};
	Rng			r;
	DpRandom	rng = seeded(&r, 47);

	case_begin("avg, histogram: finite and within the bounds at the extremes of double");
	for (size_t b = 0; b < sizeof(los) / sizeof(los[0]); b++)
		for (size_t e = 0; e < sizeof(epsilons) / sizeof(epsilons[0]); e++)
		{
			DpMech		m,
						h;
			const char *reason;
			int64_t		counts[4] = {INT64_MAX / 2, 0, 0, INT64_MAX / 2},
						out[4];

			if (!CHECK(dp_mech_init(&m, DP_MECH_AVG, epsilons[e], los[b], his[b], 0, &reason) == DP_OK) ||
				!CHECK(dp_mech_init(&h, DP_MECH_HISTOGRAM, epsilons[e], los[b], his[b], 4, &reason) == DP_OK))
				continue;
			for (int i = 0; i < 30; i++)
			{
				int64_t		n = i % 3 == 2 ? 0 : INT64_MAX;
				int64_t		at = i % 3 == 0 ? m.lower_fp : m.upper_fp;
				double		a = NAN;
				DpStatus	st = dp_release_avg(&m, &rng, (DpInt128) n * at, n, &a);

				CHECKF(st == DP_OK && isfinite(a) && a >= los[b] && a <= his[b],
					   "[%g, %g], epsilon %g, n %lld: status %d, %g", los[b], his[b],
					   epsilons[e], (long long) n, (int) st, a);
			}
			/* a bin count of 2^62 - 1 plus noise fits in a bigint */
			CHECK(dp_release_histogram(&h, &rng, counts, out) == DP_OK);
		}
	case_end();
}

/*
 * The inline fast path of dp_mech_fixed (a multiplication by 2^frac_bits and
 * a rounding by hand) gives exactly what the general path gives, ties,
 * clamping and all, over every shape of bounds and epsilon the sweep uses.
 */
static void
test_fixed_fast_path(void)
{
	Rng			r = {12};
	const double epsilons[] = {0x1p-32, 0.001, 0.1, 0.5, 1, 3, 1000, 0x1p31};
	const double mags[] = {1e-300, 1e-20, 1e-3, 0.5, 1, 100, 12345.678, 1e15, 1e300};
	long		fast = 0;

	case_begin("dp_mech_fixed: the inline path equals the general one");
	for (size_t e = 0; e < sizeof(epsilons) / sizeof(epsilons[0]); e++)
		for (size_t g = 0; g < sizeof(mags) / sizeof(mags[0]); g++)
			for (int shape = 0; shape < 3; shape++)
			{
				DpMech		m;
				const char *reason;
				double		lo = shape == 0 ? 0 : -mags[g],
							hi = shape == 2 ? mags[g] / 3 : mags[g];

				if (!CHECK(dp_mech_init(&m, DP_MECH_SUM, epsilons[e], lo, hi, 0,
										&reason) == DP_OK))
					continue;
				fast += m.fixed_scale != 0.0;
				for (int i = 0; i < 2000; i++)
				{
					/* beyond both bounds, on the grid's ties, and anywhere */
					double		x = lo + (hi - lo) * (1.5 * rng_unit(&r) - 0.25);
					int64_t		a = 0,
								b = 0;

					if (i % 4 == 0)
						x = ldexp(floor(ldexp(x, m.frac_bits)) + 0.5, -m.frac_bits);
					CHECKF(dp_mech_fixed(&m, x, &a) == DP_OK &&
						   dp_mech_fixed_slow(&m, x, &b) == DP_OK && a == b,
						   "x = %a, frac_bits %d: %lld against %lld", x, m.frac_bits,
						   (long long) a, (long long) b);
				}
			}
	CHECKF(fast > 0, "the fast path ran in %ld shapes", fast);
	case_end();
}

int
main(void)
{
	test_errors();
	test_calibration();
	test_grid_sweep();
	test_fixed();
	test_fixed_fast_path();
	test_bins();
	test_clamp_total();
	test_random_failure();
	test_huge_epsilon();
	test_avg_clamps();
	test_overflow();
	test_sum_range();
	test_avg_extremes();
	return unit_finish();
}
