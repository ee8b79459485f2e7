/*
 * test_sketch.c
 *	  Unit tests of the percentile sketch core (src/sketch.c, sketch.h).
 *
 * Every check compares the sketch with an independent reference computed
 * here: exact percentiles from a sorted array, an exact big-integer sum, a
 * table-free bucket index from log2l, and a hand-written encoder of the
 * binary format.  All inputs come from fixed seeds, so every run tests the
 * same values.
 */
#include "../../src/sketch.h"
#include "unit.h"
#include "../sketch_text.h"

#include <float.h>
#include <math.h>

static const SketchMem mem_ = {unit_realloc, NULL};
static const SketchMem *const M = &mem_;

/* ================================================================ helpers */

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

static double *
sorted_copy(const double *v, size_t n)
{
	double	   *s = malloc(sizeof(double) * (n ? n : 1));

	for (size_t i = 0; i < n; i++)
		s[i] = v[i] == 0.0 ? 0.0 : v[i];	/* -0 and 0 are one value */
	qsort(s, n, sizeof(double), cmp_double);
	return s;
}

static void
shuffle_doubles(double *v, size_t n, Rng *r)
{
	for (size_t i = n; i > 1; i--)
	{
		size_t		j = (size_t) rng_below(r, i);
		double		t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
}

static bool
same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

/* encode; returns NULL (after a failed check) on error */
static uint8_t *
encode(Sketch *s, size_t *len)
{
	uint8_t    *out = NULL;
	SketchStatus st = sketch_encode(s, M, &out, len);

	if (!CHECKF(st == SKETCH_OK, "sketch_encode returned %d", st))
		return NULL;
	return out;
}

static char *
format(Sketch *s)
{
	char	   *out = NULL;
	SketchStatus st = sketch_format(s, M, &out);

	if (!CHECKF(st == SKETCH_OK, "sketch_format returned %d", st))
		return NULL;
	return out;
}

/* do two sketches have the same canonical encoding? */
static bool
same_encoding(Sketch *a, Sketch *b)
{
	size_t		la,
				lb;
	uint8_t    *ea = encode(a, &la);
	uint8_t    *eb = encode(b, &lb);
	bool		same = ea != NULL && eb != NULL && la == lb &&
		memcmp(ea, eb, la) == 0;

	unit_free(ea);
	unit_free(eb);
	return same;
}

/* a copy through the binary form */
static bool
copy_sketch(Sketch *src, Sketch *dst)
{
	size_t		len;
	uint8_t    *e = encode(src, &len);
	SketchStatus st;

	if (e == NULL)
		return false;
	st = sketch_decode(e, len, dst, M, NULL, 0);
	unit_free(e);
	return CHECKF(st == SKETCH_OK, "decode of an encoding returned %d", st);
}

static bool
is_finite_double(double x)
{
	return isfinite(x);
}

/*
 * Does long double arithmetic carry more bits than double?  Not on every
 * platform, and not under valgrind, which runs x87 code in double precision;
 * the long double references then get wider margins.
 */
static bool
long_double_is_wide(void)
{
	volatile long double one = 1.0L;
	volatile long double tiny = 0x1p-60L;

	return one + tiny != one;
}

/* ================================================================ datasets */

typedef struct Dataset
{
	char		name[32];
	double	   *v;				/* the values as doubles */
	int64_t    *iv;				/* non-NULL: added with sketch_add_int64 */
	size_t		n;
	bool		exact_bound;	/* the relative bound applies (no subnormals) */
} Dataset;

#define MAX_DATASETS 20
static Dataset datasets[MAX_DATASETS];
static int	ndatasets;

static double
rng_normal(Rng *r)
{
	double		u1 = 1.0 - rng_unit(r);
	double		u2 = rng_unit(r);

	return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static Dataset *
new_dataset(const char *name, size_t n, bool ints)
{
	Dataset    *d = &datasets[ndatasets++];

	snprintf(d->name, sizeof(d->name), "%s", name);
	d->n = n;
	d->v = calloc(n ? n : 1, sizeof(double));
	d->iv = ints ? calloc(n ? n : 1, sizeof(int64_t)) : NULL;
	d->exact_bound = true;
	return d;
}

static void
make_datasets(void)
{
	Rng			r = {12345};
	Dataset    *d;
	const size_t N = 2000;

	d = new_dataset("lognormal-sigma1", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = exp(rng_normal(&r));

	d = new_dataset("lognormal-sigma3", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = exp(3.0 * rng_normal(&r));

	d = new_dataset("pareto-1.1", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = pow(1.0 - rng_unit(&r), -1.0 / 1.1);

	d = new_dataset("zeros-40pct", N, false);
	for (size_t i = 0; i < N; i++)
	{
		double		u = rng_unit(&r);

		d->v[i] = u < 0.38 ? 0.0 : u < 0.40 ? -0.0 : 100.0 * exp(rng_normal(&r));
	}

	d = new_dataset("signed", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = (rng_next(&r) & 1 ? -1.0 : 1.0) * exp(2.0 * rng_normal(&r));

	d = new_dataset("integers", N, true);
	for (size_t i = 0; i < N; i++)
	{
		int64_t		v = (int64_t) llround(exp(2.0 * rng_normal(&r)) * 50.0);

		if (rng_below(&r, 10) == 0)
			v = (int64_t) 1 << rng_below(&r, 40);	/* bucket edges */
		if (rng_next(&r) & 1)
			v = -v;
		d->iv[i] = v;
		d->v[i] = (double) v;
	}

	d = new_dataset("int64-extremes", 500, true);
	{
		const int64_t fixed[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1,
			(INT64_C(1) << 53) + 1, -(INT64_C(1) << 53) - 1, 0, 1, -1};

		for (size_t i = 0; i < d->n; i++)
		{
			int64_t		v;

			if (i < sizeof(fixed) / sizeof(fixed[0]))
				v = fixed[i];
			else if (i % 2)
				v = (int64_t) rng_next(&r);
			else
				v = (int64_t) (rng_next(&r) >> rng_below(&r, 64));
			d->iv[i] = v;
			d->v[i] = (double) v;
		}
	}

	d = new_dataset("constant", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = 42.5;

	d = new_dataset("single", 1, false);
	d->v[0] = -7.25;

	d = new_dataset("two-values", 2, false);
	d->v[0] = 1000.0;
	d->v[1] = 0.5;

	d = new_dataset("log-uniform-1e-300..1e300", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = pow(10.0, -300.0 + 600.0 * rng_unit(&r));

	d = new_dataset("signed-1e-300..1e300", N, false);
	for (size_t i = 0; i < N; i++)
		d->v[i] = (rng_next(&r) & 1 ? -1.0 : 1.0) *
			pow(10.0, -300.0 + 600.0 * rng_unit(&r));

	/* exact bucket boundaries and their neighbours, all octaves */
	d = new_dataset("bucket-edges", N, false);
	for (size_t i = 0; i < N; i++)
	{
		int			k = -1022 + (int) rng_below(&r, 2046);
		int			j = (int) rng_below(&r, SKETCH_TABLE_SIZE);
		double		x = ldexp(rng_below(&r, 3) == 0 ? 1.0 : sketch_bounds[j], k);

		switch (rng_below(&r, 3))
		{
			case 0:
				x = nextafter(x, 0.0);
				break;
			case 1:
				x = nextafter(x, INFINITY);
				break;
		}
		if (!isfinite(x) || x < DBL_MIN)
			x = 1.0;
		d->v[i] = (rng_next(&r) & 1) ? -x : x;
	}

	d = new_dataset("extremes", 12, false);
	{
		const double v[] = {DBL_MAX, -DBL_MAX, DBL_MIN, -DBL_MIN, 1.0, -1.0,
			nextafter(DBL_MAX, 0), nextafter(DBL_MIN, 1), 0.0, 2.0, 0.5, 3.0};

		memcpy(d->v, v, sizeof(v));
	}

	/* not held to the bound: representative values of subnormal buckets */
	d = new_dataset("subnormals", 600, false);
	d->exact_bound = false;
	for (size_t i = 0; i < d->n; i++)
	{
		uint64_t	bits = rng_next(&r) >> (12 + rng_below(&r, 52));
		double		x;

		if (bits == 0)
			bits = 1;
		memcpy(&x, &bits, sizeof(x));
		if (i % 50 == 0)
			x = DBL_MIN;
		d->v[i] = (rng_next(&r) & 1) ? -x : x;
	}
}

static SketchStatus
add_element(Sketch *s, const Dataset *d, size_t i)
{
	if (d->iv != NULL)
		return sketch_add_int64(s, d->iv[i], M);
	return sketch_add(s, d->v[i], M);
}

/* s := sketch of the whole dataset at scale */
static void
build_dataset(Sketch *s, const Dataset *d, int scale)
{
	long		bad = 0;

	sketch_init(s, scale);
	for (size_t i = 0; i < d->n; i++)
		bad += add_element(s, d, i) != SKETCH_OK;
	CHECKF(bad == 0, "%ld additions failed", bad);
	CHECK(sketch_flush(s, M) == SKETCH_OK);
}

/* ================================================================ exact reference sum */

/*
 * A two's complement integer of 80 32-bit limbs; bit 0 weighs 2^-1074, so
 * every double and every int64 is an integer here and sums are exact.
 */
#define BIG_LIMBS 80
typedef struct Big
{
	uint32_t	d[BIG_LIMBS];
} Big;

static void
big_add_raw(Big *b, const Big *t)
{
	uint64_t	carry = 0;

	for (int k = 0; k < BIG_LIMBS; k++)
	{
		uint64_t	v = (uint64_t) b->d[k] + t->d[k] + carry;

		b->d[k] = (uint32_t) v;
		carry = v >> 32;
	}
}

static void
big_negate(Big *b)
{
	Big			one;

	memset(&one, 0, sizeof(one));
	one.d[0] = 1;
	for (int k = 0; k < BIG_LIMBS; k++)
		b->d[k] = ~b->d[k];
	big_add_raw(b, &one);
}

/* b += (negative ? -1 : 1) * mag * 2^(pos - 1074) */
static void
big_add_mag(Big *b, bool negative, uint64_t mag, int pos)
{
	Big			t;
	int			c,
				sh;
	uint64_t	lo,
				hi;

	while (pos < 0)				/* only ever drops zero bits */
	{
		mag >>= 1;
		pos++;
	}
	c = pos / 32;
	sh = pos % 32;
	lo = mag << sh;
	hi = sh ? mag >> (64 - sh) : 0;
	memset(&t, 0, sizeof(t));
	t.d[c] = (uint32_t) lo;
	t.d[c + 1] = (uint32_t) (lo >> 32);
	t.d[c + 2] = (uint32_t) hi;
	if (negative)
		big_negate(&t);
	big_add_raw(b, &t);
}

static void
big_add_double(Big *b, double x)
{
	int			e;
	double		f = frexp(fabs(x), &e);	/* |x| = f * 2^e, f in [0.5, 1) */
	uint64_t	mag = (uint64_t) ldexp(f, 53);

	if (x == 0.0)
		return;
	big_add_mag(b, x < 0, mag, e - 53 + 1074);
}

static void
big_add_int64(Big *b, int64_t v)
{
	uint64_t	mag = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

	big_add_mag(b, v < 0, mag, 1074);
}

static int
big_bit(const Big *b, int i)
{
	return (b->d[i / 32] >> (i % 32)) & 1;
}

/* correctly rounded (to nearest, ties to even); false if it overflows */
static bool
big_to_double(const Big *b, double *out)
{
	Big			m = *b;
	bool		negative = (b->d[BIG_LIMBS - 1] >> 31) != 0;
	int			h = -1;
	double		r;

	if (negative)
		big_negate(&m);
	for (int i = BIG_LIMBS * 32 - 1; i >= 0; i--)
		if (big_bit(&m, i))
		{
			h = i;
			break;
		}
	if (h < 0)
		r = 0.0;
	else if (h < 53)
	{
		uint64_t	v = 0;

		for (int i = h; i >= 0; i--)
			v = (v << 1) | (uint64_t) big_bit(&m, i);
		r = ldexp((double) v, -1074);	/* exact */
	}
	else
	{
		uint64_t	mant = 0;
		int			round = big_bit(&m, h - 53);
		bool		sticky = false;
		int			e = h - 52 - 1074;

		for (int i = h; i >= h - 52; i--)
			mant = (mant << 1) | (uint64_t) big_bit(&m, i);
		for (int i = h - 54; i >= 0 && !sticky; i--)
			sticky = big_bit(&m, i) != 0;
		if (round && (sticky || (mant & 1)))
			mant++;
		if (mant == (UINT64_C(1) << 53))
		{
			mant >>= 1;
			e++;
		}
		if (e + 52 > 1023)
			return false;
		r = ldexp((double) mant, e);
	}
	*out = negative ? -r : r;
	return true;
}

static void
big_of_dataset(Big *b, const Dataset *d)
{
	memset(b, 0, sizeof(*b));
	for (size_t i = 0; i < d->n; i++)
	{
		if (d->iv != NULL)
			big_add_int64(b, d->iv[i]);
		else
			big_add_double(b, d->v[i]);
	}
}

/* ================================================================ test: parameters */

static void
test_parameters(void)
{
	int			scale;
	const double bad[] = {0.0, -0.0, 0.5, 0.6, 1.0, -0.1, NAN, -NAN, INFINITY,
	-INFINITY, 1e-5, 8e-5, 1e-300};

	case_begin("sketch_scale_for_error rejects bad values");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
	{
		scale = -99;
		CHECKF(sketch_scale_for_error(bad[i], &scale) == SKETCH_BAD_PARAM,
			   "error %g", bad[i]);
		CHECKF(scale == -99, "scale written for error %g", bad[i]);
	}
	/* just below the finest scale's bound */
	CHECK(sketch_scale_for_error(nextafter(sketch_error_for_scale(SKETCH_MAX_SCALE), 0),
								 &scale) == SKETCH_BAD_PARAM);
	case_end();

	case_begin("sketch_error_for_scale is (b-1)/(b+1), b = 2^(2^-s)");
	for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
	{
		long double b = exp2l(ldexpl(1.0L, -s));
		long double want = (b - 1) / (b + 1);
		double		got = sketch_error_for_scale(s);

		/*
		 * computed from b rounded to a double, so b - 1 carries half an ulp
		 * of b: about 5e-17 absolute, 6e-13 relative at scale 12
		 */
		CHECKF(fabsl(got - want) <= 0x1p-53L, "scale %d: %.17g vs %.17Lg", s, got, want);
		if (s > 0)
			CHECK(got < sketch_error_for_scale(s - 1));
	}
	CHECK(fabs(sketch_error_for_scale(7) - 0.00271) < 0.00001);
	CHECK(fabs(sketch_error_for_scale(12) - 8.46e-5) < 0.01e-5);
	case_end();

	case_begin("sketch_scale_for_error picks the coarsest scale within the error");
	{
		const double errs[] = {SKETCH_DEFAULT_ERROR, 0.01, 0.0001, 0.3, 0.49,
		0.4999999, 0.333, 0.34, 0.1, 0.02, 0.001, 0.00017, 8.5e-5};

		for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		{
			if (!CHECKF(sketch_scale_for_error(errs[i], &scale) == SKETCH_OK,
						"error %g", errs[i]))
				continue;
			CHECKF(scale >= 0 && scale <= SKETCH_MAX_SCALE, "error %g", errs[i]);
			CHECKF(sketch_error_for_scale(scale) <= errs[i], "error %g", errs[i]);
			CHECKF(scale == 0 || sketch_error_for_scale(scale - 1) > errs[i],
				   "error %g: scale %d is not the coarsest", errs[i], scale);
		}
		CHECK(sketch_scale_for_error(SKETCH_DEFAULT_ERROR, &scale) == SKETCH_OK && scale == 7);
		CHECK(sketch_scale_for_error(0.0001, &scale) == SKETCH_OK && scale == 12);
		CHECK(sketch_scale_for_error(0.3, &scale) == SKETCH_OK && scale == 1);
		for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
			CHECKF(sketch_scale_for_error(sketch_error_for_scale(s), &scale) == SKETCH_OK &&
				   scale == s, "exact bound of scale %d", s);
	}
	case_end();
}

/* ================================================================ test: boundary table */

static void
test_table(void)
{
	case_begin("sketch_bounds: increasing, 2^(j/4096) correctly rounded");
	CHECK(sketch_bounds[0] == 1.0);
	CHECK(sketch_bounds[SKETCH_TABLE_SIZE] == 2.0);
	for (int j = 0; j < SKETCH_TABLE_SIZE; j++)
	{
		long double want = exp2l((long double) j / 4096.0L);
		double		b = sketch_bounds[j];
		double		ulp = nextafter(b, 3.0) - b;

		CHECKF(b < sketch_bounds[j + 1], "j=%d", j);
		CHECKF(fabsl((long double) b - want) <= (long double) ulp, "j=%d: 1 ulp", j);
		/* with a wider long double: correctly rounded (half an ulp) */
		if (long_double_is_wide())
			CHECKF(fabsl((long double) b - want) <= 0.5L * ulp * (1 + 0x1p-8L), "j=%d: 0.5 ulp", j);
	}
	case_end();

	case_begin("sketch_slice: largest j below each slice, one boundary per slice");
	for (int p = 0; p < 2 * SKETCH_TABLE_SIZE; p++)
	{
		double		lo = 1.0 + (double) p / (2 * SKETCH_TABLE_SIZE);
		double		hi = 1.0 + (double) (p + 1) / (2 * SKETCH_TABLE_SIZE);
		int			j = sketch_slice[p];
		int			inside = 0;

		CHECKF(j >= 0 && j < SKETCH_TABLE_SIZE, "p=%d", p);
		if (j < 0 || j >= SKETCH_TABLE_SIZE)
			continue;
		CHECKF(sketch_bounds[j] < lo || (p == 0 && j == 0), "p=%d", p);
		CHECKF(sketch_bounds[j + 1] >= lo, "p=%d", p);
		for (int k = j + 1; k <= SKETCH_TABLE_SIZE && sketch_bounds[k] < hi; k++)
			inside++;
		CHECKF(inside <= 1, "slice %d holds %d boundaries", p, inside);
	}
	case_end();
}

/* ================================================================ test: bucket index */

/* the index at scale 12 by binary search in the table, frexp for the octave */
static int64_t
ref_index_table(double x, int scale)
{
	int			e;
	double		m = 2.0 * frexp(x, &e);	/* x = m * 2^(e-1), m in [1, 2) */
	int64_t		full;

	e -= 1;
	if (m == 1.0)
		full = (int64_t) e * SKETCH_TABLE_SIZE - 1;
	else
	{
		int			lo = 0,
					hi = SKETCH_TABLE_SIZE;	/* bounds[lo] < m <= bounds[hi] */

		while (hi - lo > 1)
		{
			int			mid = (lo + hi) / 2;

			if (sketch_bounds[mid] < m)
				lo = mid;
			else
				hi = mid;
		}
		full = (int64_t) e * SKETCH_TABLE_SIZE + lo;
	}
	/* floor division */
	{
		int64_t		d = (int64_t) 1 << (SKETCH_MAX_SCALE - scale);

		return full >= 0 ? full / d : -((-full + d - 1) / d);
	}
}

/*
 * ceil(log2(x) * 2^scale) - 1 in long double, when that is unambiguous:
 * returns false when x lies so close to a boundary that long double cannot
 * tell (the table then decides; it is checked separately).
 */
static bool
ref_index_log(double x, int scale, int64_t *idx)
{
	int			e;
	double		m = frexp(x, &e);
	long double t;
	long double nearest;

	if (m == 0.5)				/* a power of two: exact */
	{
		*idx = (int64_t) (e - 1) * ((int64_t) 1 << scale) - 1;
		return true;
	}
	t = (log2l((long double) m) + e) * ldexpl(1.0L, scale);
	nearest = nearbyintl(t);
	if (fabsl(t - nearest) < (long_double_is_wide() ? 1e-9L : 1e-5L))
		return false;
	*idx = (int64_t) ceill(t) - 1;
	return true;
}

static void
check_index_at(double x, long *unambiguous)
{
	for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
	{
		int32_t		got = sketch_index(x, s);
		int64_t		want = ref_index_table(x, s);
		int64_t		logref;

		CHECKF(got == want, "x=%a scale %d: %d, table reference %lld", x, s, got,
			   (long long) want);
		if (ref_index_log(x, s, &logref))
		{
			CHECKF(got == logref, "x=%a scale %d: %d, log2l reference %lld", x, s,
				   got, (long long) logref);
			(*unambiguous)++;
		}
	}
}

static void
test_index(void)
{
	Rng			r = {777};
	long		unambiguous = 0;
	long		total = 0;

	case_begin("sketch_index: powers of two close the bucket below");
	for (int k = -1074; k <= 1023; k++)
		for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
		{
			int64_t		want = (int64_t) k * ((int64_t) 1 << s) - 1;

			CHECKF(sketch_index(ldexp(1.0, k), s) == want, "2^%d scale %d", k, s);
			/* just above a normal power of two opens the next bucket */
			if (k < 1023 && k >= -1022)
				CHECKF(sketch_index(nextafter(ldexp(1.0, k), INFINITY), s) == want + 1,
					   "next after 2^%d scale %d", k, s);
		}
	case_end();

	case_begin("sketch_index agrees with table and log2l references");
	{
		const double special[] = {DBL_MIN, DBL_MAX, DBL_TRUE_MIN, 2 * DBL_TRUE_MIN,
			3 * DBL_TRUE_MIN, nextafter(DBL_MIN, 0), nextafter(DBL_MIN, 1),
			nextafter(DBL_MAX, 0), 1.0, nextafter(1.0, 0), nextafter(1.0, 2),
		0.1, 1e-310, 1e-320, 1e300, 3.0, 0.75};

		for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++, total++)
			check_index_at(special[i], &unambiguous);
	}
	for (int i = 0; i < 30000; i++, total++)
	{
		double		x;
		uint64_t	bits;

		switch (i % 4)
		{
			case 0:				/* any positive finite double, subnormals too */
				do
				{
					bits = rng_next(&r) >> 1;
					memcpy(&x, &bits, sizeof(x));
				} while (!isfinite(x) || x == 0.0);
				break;
			case 1:				/* subnormals */
				bits = (rng_next(&r) >> 12) >> rng_below(&r, 52);
				if (bits == 0)
					bits = 1;
				memcpy(&x, &bits, sizeof(x));
				break;
			case 2:				/* [1, 2) */
				x = 1.0 + rng_unit(&r);
				break;
			default:			/* table boundaries and their neighbours */
				{
					int			j = (int) rng_below(&r, SKETCH_TABLE_SIZE);
					int			k = -1070 + (int) rng_below(&r, 2090);

					x = ldexp(sketch_bounds[j], k);
					if (i % 3 == 0)
						x = nextafter(x, 0.0);
					else if (i % 3 == 1)
						x = nextafter(x, INFINITY);
					if (!isfinite(x) || x == 0.0)
						x = 1.5;
				}
		}
		check_index_at(x, &unambiguous);
	}
	/* most checks must have had the log2l reference too */
	CHECKF(unambiguous > total * SKETCH_MAX_SCALE / 2, "%ld of %ld", unambiguous,
		   total * 13);
	case_end();

	case_begin("sketch_index: each table boundary is in the bucket below it");
	for (int j = 1; j < SKETCH_TABLE_SIZE; j++)
	{
		for (int k = -1; k <= 1; k++)
		{
			double		b = ldexp(sketch_bounds[j], k * 300);

			CHECKF(sketch_index(b, 12) == (int64_t) k * 300 * 4096 + j - 1, "j=%d k=%d", j, k);
			CHECKF(sketch_index(nextafter(b, INFINITY), 12) == (int64_t) k * 300 * 4096 + j,
				   "j=%d k=%d", j, k);
		}
	}
	case_end();

	case_begin("sketch_index is monotone and coarsens by halving");
	{
		double		xs[4000];

		for (int i = 0; i < 4000; i++)
		{
			uint64_t	bits;

			do
			{
				bits = rng_next(&r) >> 1;
				memcpy(&xs[i], &bits, sizeof(double));
			} while (!isfinite(xs[i]) || xs[i] == 0.0);
		}
		qsort(xs, 4000, sizeof(double), cmp_double);
		for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
			for (int i = 1; i < 4000; i++)
			{
				CHECK(sketch_index(xs[i - 1], s) <= sketch_index(xs[i], s));
				if (s > 0)
				{
					int32_t		f = sketch_index(xs[i], s);

					CHECK(sketch_index(xs[i], s - 1) == (f >= 0 ? f / 2 : -((-f + 1) / 2)));
				}
			}
	}
	case_end();
}

/* ================================================================ test: representative values */

static void
test_bucket_values(void)
{
	/*
	 * The contract: the representative 2LU/(L+U) is within alpha of every
	 * value of its bucket.  The representative and the boundaries are
	 * doubles, so at the bucket's outermost doubles the distance can exceed
	 * alpha by a few units in the last place: half an ulp of rounding alone
	 * is 1.3e-12 alpha at scale 12.  The checks allow alpha * (1 + 1e-12),
	 * or alpha + 4 ulps where that is more, and require alpha * (1 + 1e-12)
	 * at scales up to 10.
	 */
	const int	octaves[] = {-1022, -1000, -500, -1, 0, 1, 77, 500, 1023};

	case_begin("representative value: in its bucket, within alpha of its edges");
	for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
	{
		double		alpha = sketch_error_for_scale(s);
		long double worst = 0;

		for (size_t o = 0; o < sizeof(octaves) / sizeof(octaves[0]); o++)
		{
			for (int j = 0; j < (1 << s); j++)
			{
				int32_t		i = octaves[o] * (1 << s) + j;
				double		rep = sketch_bucket_value(i, s);
				double		lower = ldexp(sketch_bounds[j << (SKETCH_MAX_SCALE - s)], octaves[o]);
				double		upper = ldexp(sketch_bounds[(j + 1) << (SKETCH_MAX_SCALE - s)], octaves[o]);
				double		first = nextafter(lower, INFINITY);
				long double d1,
							d2;

				if (!isfinite(upper))
					upper = DBL_MAX;
				CHECKF(sketch_index(rep, s) == i, "scale %d bucket %d", s, i);
				CHECKF(sketch_index(first, s) == i, "scale %d bucket %d", s, i);
				CHECKF(sketch_index(upper, s) == i || upper == DBL_MAX, "scale %d bucket %d", s, i);
				d1 = fabsl((long double) rep - first) / first;
				d2 = fabsl((long double) rep - upper) / upper;
				if (d1 > worst)
					worst = d1;
				if (d2 > worst && upper != DBL_MAX)
					worst = d2;
			}
		}
		CHECKF(worst <= (long double) alpha + 4 * DBL_EPSILON, "scale %d: worst %.20Lg alpha %.17g",
			   s, worst, alpha);
		if (s <= 10)
			CHECKF(worst <= (long double) alpha * (1 + 1e-12L),
				   "scale %d: worst %.20Lg alpha %.17g", s, worst, alpha);
	}
	case_end();

	case_begin("representative value: every bucket at coarse scales, all octaves");
	for (int s = 0; s <= 4; s++)
		for (int32_t i = -1022 * (1 << s); i < 1024 * (1 << s); i++)
		{
			double		rep = sketch_bucket_value(i, s);

			CHECKF(isfinite(rep) && rep > 0 && sketch_index(rep, s) == i,
				   "scale %d bucket %d: %a", s, i, rep);
		}
	case_end();
}

/* ================================================================ test: accuracy */

static double
rel_bound(double alpha)
{
	double		a = alpha * (1 + 1e-12);
	double		b = alpha + 4 * DBL_EPSILON;	/* see test_bucket_values */

	return a > b ? a : b;
}

static bool
within_bound(double est, double truth, double alpha)
{
	if (truth == 0.0)
		return est == 0.0;
	return fabsl((long double) est - truth) <=
		(long double) rel_bound(alpha) * fabsl((long double) truth);
}

/* percentile_disc: the value of rank max(ceil(q * n), 1) */
static double
percentile_disc(const double *sorted, size_t n, double q)
{
	double		r = ceil(q * (double) n);
	size_t		rank = r < 1.0 ? 1 : (r >= (double) n ? n : (size_t) r);

	return sorted[rank - 1];
}

/* spans of occupied indexes per sign at a scale */
static void
data_spans(const double *v, size_t n, int scale, int64_t *pos_span, int64_t *neg_span)
{
	int64_t		plo = INT64_MAX,
				phi = INT64_MIN,
				nlo = INT64_MAX,
				nhi = INT64_MIN;

	for (size_t i = 0; i < n; i++)
	{
		int64_t		idx;

		if (v[i] == 0.0)
			continue;
		idx = ref_index_table(fabs(v[i]), scale);
		if (v[i] > 0)
		{
			plo = idx < plo ? idx : plo;
			phi = idx > phi ? idx : phi;
		}
		else
		{
			nlo = idx < nlo ? idx : nlo;
			nhi = idx > nhi ? idx : nhi;
		}
	}
	*pos_span = phi >= plo ? phi - plo + 1 : 0;
	*neg_span = nhi >= nlo ? nhi - nlo + 1 : 0;
}

/* the scale is the largest at most init_scale at which the spans fit */
static void
check_scale_is_largest(const Sketch *s, const double *v, size_t n, int init_scale)
{
	int64_t		ps,
				ns;

	CHECKF(s->scale >= 0 && s->scale <= init_scale, "scale %d from %d", s->scale, init_scale);
	data_spans(v, n, s->scale, &ps, &ns);
	CHECKF(ps <= SKETCH_MAX_SPAN && ns <= SKETCH_MAX_SPAN, "spans %lld %lld at scale %d",
		   (long long) ps, (long long) ns, s->scale);
	if (s->scale < init_scale)
	{
		data_spans(v, n, s->scale + 1, &ps, &ns);
		CHECKF(ps > SKETCH_MAX_SPAN || ns > SKETCH_MAX_SPAN,
			   "scale %d, but the spans %lld %lld fit at scale %d", s->scale,
			   (long long) ps, (long long) ns, s->scale + 1);
	}
	CHECK(sketch_relative_error(s) == sketch_error_for_scale(s->scale));
}

/*
 * Every q in {0, 0.001, ..., 1} against percentile_disc of the sorted data:
 * all at once through sketch_quantiles_sorted, and every tenth (and the
 * ends) through sketch_quantile too, which must agree bit for bit.
 */
static void
check_quantiles(Sketch *s, const double *sorted, size_t n, bool bound)
{
	double		alpha = sketch_relative_error(s);
	double		prev = -INFINITY;
	double		r;
	double		qs[1001],
				rs[1001];

	CHECK(sketch_flush(s, M) == SKETCH_OK);
	CHECKF(s->count == n, "count %llu, want %zu", (unsigned long long) s->count, n);
	CHECKF(same_bits(s->min, sorted[0]) && same_bits(s->max, sorted[n - 1]),
		   "min %.17g max %.17g", s->min, s->max);
	for (int k = 0; k <= 1000; k++)
		qs[k] = k / 1000.0;
	if (!CHECK(sketch_quantiles_sorted(s, qs, 1001, rs)))
		return;
	for (int k = 0; k <= 1000; k++)
	{
		double		q = qs[k];
		double		truth = percentile_disc(sorted, n, q);

		r = rs[k];
		if (k % 10 == 0 || k == 1 || k == 999)
		{
			double		one;

			CHECKF(sketch_quantile(s, q, &one) && same_bits(one, r),
				   "q=%g: sketch_quantile %.17g, sketch_quantiles_sorted %.17g", q, one, r);
		}
		if (k == 0)
			CHECKF(same_bits(r, sorted[0]), "q=0: %.17g, min %.17g", r, sorted[0]);
		else if (k == 1000)
			CHECKF(same_bits(r, sorted[n - 1]), "q=1: %.17g, max %.17g", r, sorted[n - 1]);
		else if (bound)
			CHECKF(within_bound(r, truth, alpha),
				   "q=%g: %.17g, exact %.17g, alpha %g (rel %.3g)", q, r, truth,
				   alpha, fabs(r - truth) / fabs(truth));
		CHECKF(r >= sorted[0] && r <= sorted[n - 1], "q=%g: %.17g outside [min, max]", q, r);
		CHECKF(r >= prev, "q=%g: %.17g below the previous answer %.17g", q, r, prev);
		CHECK(!(r == 0.0 && signbit(r)));
		if (sorted[0] == sorted[n - 1])
			CHECK(same_bits(r, sorted[0]));
		prev = r;
	}
}

static void
test_accuracy(void)
{
	const double errs[] = {SKETCH_DEFAULT_ERROR, 0.01, 0.0001, 0.3};

	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];
		double	   *sorted = sorted_copy(d->v, d->n);

		for (size_t ei = 0; ei < sizeof(errs) / sizeof(errs[0]); ei++)
		{
			int			scale;
			Sketch		s;

			case_begin("accuracy: %s, error %g", d->name, errs[ei]);
			CHECK(sketch_scale_for_error(errs[ei], &scale) == SKETCH_OK);
			build_dataset(&s, d, scale);
			check_scale_is_largest(&s, d->v, d->n, scale);
			check_quantiles(&s, sorted, d->n, d->exact_bound);
			sketch_free(&s, M);
			case_end();
		}
		free(sorted);
	}

	case_begin("accuracy: a huge range drops the scale and reports its error");
	{
		Dataset    *d = NULL;
		Sketch		s;

		for (int di = 0; di < ndatasets; di++)
			if (strcmp(datasets[di].name, "log-uniform-1e-300..1e300") == 0)
				d = &datasets[di];
		int			want = 7;

		/* about 1993 octaves: the finest scale whose spans fit */
		while (want > 0 && (1993 << want) > SKETCH_MAX_SPAN)
			want--;
		build_dataset(&s, d, 7);
		CHECKF(s.scale == want, "scale %d, want %d", s.scale, want);
		check_scale_is_largest(&s, d->v, d->n, 7);
		CHECK(sketch_relative_error(&s) == sketch_error_for_scale(s.scale));
		CHECK(sketch_relative_error(&s) > SKETCH_DEFAULT_ERROR);
		sketch_free(&s, M);
	}
	case_end();

	case_begin("accuracy: empty sketch answers nothing");
	for (int sc = 0; sc <= SKETCH_MAX_SCALE; sc++)
	{
		Sketch		s;
		double		r = 123.0;

		sketch_init(&s, sc);
		CHECK(!sketch_quantile(&s, 0.5, &r) && r == 123.0);
		CHECK(!sketch_quantile(&s, 0.0, &r));
		CHECK(!sketch_quantile(&s, 1.0, &r));
		CHECK(!sketch_rank(&s, 1.0, &r) && r == 123.0);
		CHECK(sketch_sum_double(&s, &r) == SKETCH_OK && same_bits(r, 0.0));
		CHECK(sketch_flush(&s, M) == SKETCH_OK);
		CHECK(sketch_relative_error(&s) == sketch_error_for_scale(sc));
		sketch_free(&s, M);
	}
	case_end();

	case_begin("accuracy: -0 is counted as 0");
	{
		Sketch		a,
					b;
		double		r;

		sketch_init(&a, 7);
		sketch_init(&b, 7);
		CHECK(sketch_add(&a, -0.0, M) == SKETCH_OK);
		CHECK(sketch_add(&a, -0.0, M) == SKETCH_OK);
		CHECK(sketch_add(&b, 0.0, M) == SKETCH_OK);
		CHECK(sketch_add_int64(&b, 0, M) == SKETCH_OK);
		CHECK(same_encoding(&a, &b));
		CHECK(same_bits(a.min, 0.0) && same_bits(a.max, 0.0));
		CHECK(sketch_quantile(&a, 0.5, &r) && same_bits(r, 0.0));
		CHECK(sketch_sum_double(&a, &r) == SKETCH_OK && same_bits(r, 0.0));
		sketch_free(&a, M);
		sketch_free(&b, M);
	}
	case_end();
}

/* ================================================================ test: rank */

/* buckets in value order: negative magnitudes from the largest, zero, positive */
static int64_t
bucket_key(double x, int scale)
{
	const int64_t side = (int64_t) 1 << 40;

	if (x < 0)
		return -side - ref_index_table(-x, scale);
	if (x == 0)
		return 0;
	return side + ref_index_table(x, scale);
}

/* number of the sorted keys <= key */
static size_t
count_keys_le(const int64_t *keys, size_t n, int64_t key)
{
	size_t		lo = 0,
				hi = n;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;

		if (keys[mid] <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static size_t
count_le(const double *sorted, size_t n, double v)
{
	size_t		lo = 0,
				hi = n;

	while (lo < hi)
	{
		size_t		mid = (lo + hi) / 2;

		if (sorted[mid] <= v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
test_rank(void)
{
	Rng			rng = {4242};

	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];
		double	   *sorted = sorted_copy(d->v, d->n);
		const int	scales[] = {7, 12, 1};

		for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++)
		{
			Sketch		s;
			size_t		n = d->n;
			int64_t    *keys = malloc(sizeof(int64_t) * n);
			size_t		nprobe = 0;
			double	   *probe = malloc(sizeof(double) * (4 * n + 16));
			double		prev = -1;

			case_begin("rank: %s, scale %d", d->name, scales[si]);
			build_dataset(&s, d, scales[si]);
			for (size_t i = 0; i < n; i++)
				keys[i] = bucket_key(sorted[i], s.scale);
			/* each value and its neighbours (a sample of 250 of them), random points */
			for (size_t k = 0; k < n && k < 250; k++)
			{
				size_t		i = n <= 250 ? k : (size_t) rng_below(&rng, n);

				probe[nprobe++] = sorted[i];
				probe[nprobe++] = nextafter(sorted[i], -INFINITY);
				probe[nprobe++] = nextafter(sorted[i], INFINITY);
				probe[nprobe++] = sorted[0] + (sorted[n - 1] - sorted[0]) * rng_unit(&rng);
			}
			probe[nprobe++] = -DBL_MAX;
			probe[nprobe++] = DBL_MAX;
			probe[nprobe++] = 0.0;
			probe[nprobe++] = -0.0;
			probe[nprobe++] = DBL_TRUE_MIN;
			probe[nprobe++] = -DBL_TRUE_MIN;
			qsort(probe, nprobe, sizeof(double), cmp_double);

			for (size_t i = 0; i < nprobe; i++)
			{
				double		v = probe[i];
				double		r;
				size_t		want;

				if (!is_finite_double(v))
					continue;
				if (!CHECK(sketch_rank(&s, v, &r)))
					continue;
				if (v < sorted[0])
					want = 0;
				else if (v >= sorted[n - 1])
					want = n;
				else
					want = count_keys_le(keys, n, bucket_key(v, s.scale));
				CHECKF(r == (double) want / (double) n, "v=%.17g: %.17g, want %zu/%zu", v, r, want, n);
				/* every value <= v is counted */
				CHECKF(want >= count_le(sorted, n, v), "v=%.17g", v);
				if (v == 0.0 && sorted[0] <= 0 && sorted[n - 1] > 0)
					CHECKF(r == (double) count_le(sorted, n, 0.0) / (double) n, "rank(0) is exact");
				CHECKF(r >= prev, "v=%.17g: rank %.17g after %.17g", v, r, prev);
				prev = r;
			}
			{
				double		r;

				CHECK(sketch_rank(&s, sorted[n - 1], &r) && r == 1.0);
				CHECK(sketch_rank(&s, nextafter(sorted[0], -INFINITY), &r) && r == 0.0);
				if (sorted[0] > -DBL_MAX)
					CHECK(sketch_rank(&s, -DBL_MAX, &r) && r == 0.0);
			}
			sketch_free(&s, M);
			free(keys);
			free(probe);
			case_end();
		}
		free(sorted);
	}
}

/* ================================================================ test: merge */

/* merge the live sketches of pool[] pairwise in random order until one is left */
static bool
merge_random_tree(Sketch *pool, int k, Rng *r, bool roundtrip)
{
	int		   *live = malloc(sizeof(int) * (size_t) k);
	int			nlive = k;
	bool		ok = true;
	int			result;

	for (int i = 0; i < k; i++)
		live[i] = i;
	while (nlive > 1)
	{
		int			a = (int) rng_below(r, (uint64_t) nlive);
		int			b = (int) rng_below(r, (uint64_t) nlive - 1);
		Sketch	   *dst,
				   *src;
		SketchStatus st;

		if (b >= a)
			b++;
		dst = &pool[live[a]];
		src = &pool[live[b]];
		if (roundtrip && rng_below(r, 3) == 0)
		{
			Sketch		c;

			/* as if the partial result had been stored and read back */
			if (copy_sketch(src, &c))
			{
				sketch_free(src, M);
				*src = c;
			}
		}
		st = sketch_merge(dst, src, M);
		ok &= CHECKF(st == SKETCH_OK, "sketch_merge returned %d", st);
		sketch_free(src, M);
		live[b] = live[--nlive];
	}
	result = live[0];
	free(live);
	if (result != 0)
	{
		Sketch		t = pool[0];

		pool[0] = pool[result];
		pool[result] = t;
	}
	return ok;
}

static void
test_merge_partitions(void)
{
	Rng			rng = {99};

	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];

		for (int trial = 0; trial < 4; trial++)
		{
			int			scale = trial == 1 ? 12 : (trial == 3 ? 3 : 7);
			int			k = trial == 2 ? 150 : 2 + (int) rng_below(&rng, 19);
			Sketch		whole;
			Sketch	   *parts = malloc(sizeof(Sketch) * (size_t) k);
			long		bad = 0;

			case_begin("merge: %s into %d parts at scale %d, random tree", d->name, k, scale);
			build_dataset(&whole, d, scale);
			for (int p = 0; p < k; p++)
				sketch_init(&parts[p], scale);
			for (size_t i = 0; i < d->n; i++)
				bad += add_element(&parts[rng_below(&rng, (uint64_t) k)], d, i) != SKETCH_OK;
			CHECK(bad == 0);
			merge_random_tree(parts, k, &rng, trial != 0);
			CHECK(same_encoding(&parts[0], &whole));
			CHECK(parts[0].count == d->n);
			sketch_free(&parts[0], M);
			sketch_free(&whole, M);
			free(parts);
			case_end();
		}

		case_begin("merge: %s, left fold in random order with empty sketches", d->name);
		{
			Sketch		whole,
						acc,
						part;
			size_t	   *order = malloc(sizeof(size_t) * (d->n ? d->n : 1));

			build_dataset(&whole, d, 7);
			for (size_t i = 0; i < d->n; i++)
				order[i] = i;
			for (size_t i = d->n; i > 1; i--)
			{
				size_t		j = (size_t) rng_below(&rng, i);
				size_t		t = order[i - 1];

				order[i - 1] = order[j];
				order[j] = t;
			}
			sketch_init(&acc, 7);
			for (size_t i = 0; i < d->n;)
			{
				size_t		len = 1 + (size_t) rng_below(&rng, 200);

				sketch_init(&part, 7);
				for (size_t j = 0; j < len && i < d->n; j++, i++)
					CHECK(add_element(&part, d, order[i]) == SKETCH_OK);
				CHECK(sketch_merge(&acc, &part, M) == SKETCH_OK);
				sketch_free(&part, M);
				sketch_init(&part, 7);	/* an empty one */
				CHECK(sketch_merge(&acc, &part, M) == SKETCH_OK);
				CHECK(sketch_merge(&part, &acc, M) == SKETCH_OK);	/* into empty */
				CHECK(same_encoding(&part, &acc));
				sketch_free(&part, M);
			}
			CHECK(same_encoding(&acc, &whole));
			sketch_free(&acc, M);
			sketch_free(&whole, M);
			free(order);
		}
		case_end();
	}
}

/*
 * Sketches begun at different scales: the contract promises that the merge
 * is the sketch of the union, whatever the order or grouping.  The union of
 * non-empty sketches is at the coarsest of their scales (further dropped
 * while the spans do not fit); an empty sketch is the identity whatever its
 * scale, and only when all are empty does the coarsest empty scale win.  So
 * any merge order must encode like the union built at the minimum scale of
 * the non-empty inputs.
 */
static void
test_merge_scales(void)
{
	Rng			rng = {31337};
	const int	scales[] = {0, 3, 5, 7, 9, 12};

	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];

		for (int trial = 0; trial < 3; trial++)
		{
			int			k = 2 + (int) rng_below(&rng, 10);
			Sketch	   *parts = malloc(sizeof(Sketch) * (size_t) k);
			int			minscale = SKETCH_MAX_SCALE;
			Sketch		whole;
			int			nonempty = 1 + (int) rng_below(&rng, (uint64_t) k);
			int			allmin = SKETCH_MAX_SCALE;

			case_begin("merge: %s, %d parts at mixed scales (%d non-empty)", d->name, k, nonempty);
			for (int p = 0; p < k; p++)
			{
				int			sc = scales[rng_below(&rng, sizeof(scales) / sizeof(scales[0]))];

				sketch_init(&parts[p], sc);
				allmin = sc < allmin ? sc : allmin;
			}
			for (size_t i = 0; i < d->n; i++)
				CHECK(add_element(&parts[rng_below(&rng, (uint64_t) nonempty)], d, i) == SKETCH_OK);
			for (int p = 0; p < k; p++)
				if (parts[p].count > 0 && parts[p].initial_scale < minscale)
					minscale = parts[p].initial_scale;
			build_dataset(&whole, d, d->n > 0 ? minscale : allmin);
			merge_random_tree(parts, k, &rng, true);
			CHECK(same_encoding(&parts[0], &whole));
			sketch_free(&parts[0], M);
			sketch_free(&whole, M);
			free(parts);
			case_end();
		}
	}

	case_begin("merge: an empty sketch is the identity; of two empty ones the coarser wins");
	for (int sa = 0; sa <= SKETCH_MAX_SCALE; sa += 3)
		for (int se = 0; se <= SKETCH_MAX_SCALE; se += 2)
		{
			Sketch		a,
						e,
						ab,
						ba;
			const double v[] = {3.0, -1e-5, 0.0, 1e10, 7.5};

			sketch_init(&a, sa);
			for (int i = 0; i < 5; i++)
				CHECK(sketch_add(&a, v[i], M) == SKETCH_OK);
			/* a + empty */
			CHECK(copy_sketch(&a, &ab));
			sketch_init(&e, se);
			CHECK(sketch_merge(&ab, &e, M) == SKETCH_OK);
			/* empty + a */
			sketch_init(&ba, se);
			CHECK(sketch_merge(&ba, &a, M) == SKETCH_OK);
			CHECKF(same_encoding(&ab, &ba), "scales %d and empty %d: %d vs %d", sa, se,
				   ab.scale, ba.scale);
			CHECKF(same_encoding(&ab, &a), "scales %d and empty %d", sa, se);
			/* empty + empty, both ways */
			sketch_free(&ab, M);
			sketch_free(&ba, M);
			sketch_free(&a, M);
			sketch_init(&ab, sa);
			CHECK(sketch_merge(&ab, &e, M) == SKETCH_OK);
			sketch_init(&ba, se);
			sketch_init(&a, sa);
			CHECK(sketch_merge(&ba, &a, M) == SKETCH_OK);
			CHECK(ab.scale == ba.scale && ab.scale == (sa < se ? sa : se) && ab.count == 0);
			CHECK(same_encoding(&ab, &ba));
			sketch_free(&a, M);
			sketch_free(&e, M);
			sketch_free(&ab, M);
			sketch_free(&ba, M);
		}
	case_end();
}

/* a deep copy of everything a sketch holds, to see that merge leaves src alone */
typedef struct Snapshot
{
	Sketch		s;
	void	   *heap,
			   *pos,
			   *neg;
} Snapshot;

static void *
dup_bytes(const void *p, size_t n)
{
	void	   *q;

	if (p == NULL)
		return NULL;
	q = malloc(n ? n : 1);
	memcpy(q, p, n);
	return q;
}

static void
snapshot_take(Snapshot *sn, const Sketch *s)
{
	sn->s = *s;
	sn->heap = dup_bytes(s->sum.heap, sizeof(int64_t) * (size_t) s->sum.n);
	sn->pos = dup_bytes(s->pos.counts, sizeof(uint64_t) * (size_t) s->pos.len);
	sn->neg = dup_bytes(s->neg.counts, sizeof(uint64_t) * (size_t) s->neg.len);
}

static bool
store_fields_same(const SketchStore *a, const SketchStore *b)
{
	return a->lo == b->lo && a->hi == b->hi && a->off == b->off &&
		a->len == b->len && a->counts == b->counts;
}

static bool
snapshot_same(const Snapshot *sn, const Sketch *s)
{
	const Sketch *o = &sn->s;
	bool		same = o->count == s->count && o->zero_count == s->zero_count &&
		same_bits(o->min, s->min) && same_bits(o->max, s->max) &&
		o->sum.heap == s->sum.heap && o->sum.lo == s->sum.lo &&
		o->sum.n == s->sum.n && o->sum.adds == s->sum.adds &&
		memcmp(o->sum.inl, s->sum.inl, sizeof(s->sum.inl)) == 0 &&
		store_fields_same(&o->pos, &s->pos) && store_fields_same(&o->neg, &s->neg) &&
		o->pending_base == s->pending_base && o->npending == s->npending &&
		memcmp(o->pending, s->pending, sizeof(s->pending)) == 0 &&
		o->scale == s->scale && o->initial_scale == s->initial_scale;

	same = same && (s->sum.heap == NULL ||
					memcmp(sn->heap, s->sum.heap, sizeof(int64_t) * (size_t) s->sum.n) == 0);
	same = same && (s->pos.counts == NULL ||
					memcmp(sn->pos, s->pos.counts, sizeof(uint64_t) * (size_t) s->pos.len) == 0);
	same = same && (s->neg.counts == NULL ||
					memcmp(sn->neg, s->neg.counts, sizeof(uint64_t) * (size_t) s->neg.len) == 0);
	return same;
}

static void
snapshot_free(Snapshot *sn)
{
	free(sn->heap);
	free(sn->pos);
	free(sn->neg);
}

static void
test_merge_misc(void)
{
	Rng			rng = {2024};

	case_begin("merge: src is left unchanged (pending and flushed sources)");
	for (int trial = 0; trial < 40; trial++)
	{
		Sketch		dst,
					src;
		Snapshot	sn;
		int			nsrc = 1 + (int) rng_below(&rng, 150);
		int			sdst = (int) rng_below(&rng, 13);
		int			ssrc = (int) rng_below(&rng, 13);

		sketch_init(&dst, sdst);
		sketch_init(&src, ssrc);
		for (int i = 0; i < 30; i++)
			CHECK(sketch_add(&dst, ldexp(rng_unit(&rng), (int) rng_below(&rng, 100) - 50), M) == SKETCH_OK);
		for (int i = 0; i < nsrc; i++)
			CHECK(sketch_add(&src, -ldexp(rng_unit(&rng) + 0.5, (int) rng_below(&rng, 2000) - 1000), M) == SKETCH_OK);
		if (trial % 2)
			CHECK(sketch_flush(&src, M) == SKETCH_OK);
		snapshot_take(&sn, &src);
		CHECK(sketch_merge(&dst, &src, M) == SKETCH_OK);
		CHECKF(snapshot_same(&sn, &src), "trial %d", trial);
		CHECK(dst.count == 30 + (uint64_t) nsrc);
		snapshot_free(&sn);
		sketch_free(&dst, M);
		sketch_free(&src, M);
	}
	case_end();

	case_begin("merge: a sketch with itself equals the sketch of its values twice");
	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];
		Sketch		s,
					copy,
					twice;

		build_dataset(&s, d, 7);
		CHECK(copy_sketch(&s, &copy));
		sketch_init(&twice, 7);
		for (int rep = 0; rep < 2; rep++)
			for (size_t i = 0; i < d->n; i++)
				CHECK(add_element(&twice, d, i) == SKETCH_OK);
		CHECK(sketch_merge(&copy, &s, M) == SKETCH_OK);
		CHECK(sketch_merge(&s, &s, M) == SKETCH_OK);
		CHECKF(same_encoding(&s, &copy), "%s", d->name);
		CHECKF(same_encoding(&s, &twice), "%s", d->name);
		sketch_free(&s, M);
		sketch_free(&copy, M);
		sketch_free(&twice, M);
	}
	case_end();

	case_begin("merge: deep balanced trees of sketches holding huge values");
	for (int depth = 1; depth <= 9; depth++)
	{
		int			k = 1 << depth;
		Sketch	   *parts = malloc(sizeof(Sketch) * (size_t) k);
		Sketch		whole;
		Big			big;
		double		sum,
					want;

		sketch_init(&whole, 7);
		memset(&big, 0, sizeof(big));
		for (int p = 0; p < k; p++)
		{
			const double v[] = {(p & 1) ? -1e300 : 1e300, -3e300, 2.5e-300, DBL_MAX / 4096};

			sketch_init(&parts[p], 7);
			for (int i = 0; i < 4; i++)
			{
				CHECK(sketch_add(&parts[p], v[i], M) == SKETCH_OK);
				CHECK(sketch_add(&whole, v[i], M) == SKETCH_OK);
				big_add_double(&big, v[i]);
			}
		}
		for (int w = 1; w < k; w *= 2)
			for (int p = 0; p + w < k; p += 2 * w)
			{
				SketchStatus st = sketch_merge(&parts[p], &parts[p + w], M);

				CHECKF(st == SKETCH_OK, "depth %d width %d: %d", depth, w, st);
			}
		CHECKF(same_encoding(&parts[0], &whole), "depth %d", depth);
		CHECK(big_to_double(&big, &want));
		CHECKF(sketch_sum_double(&parts[0], &sum) == SKETCH_OK && same_bits(sum, want),
			   "depth %d: %.17g, want %.17g", depth, sum, want);
		for (int p = 0; p < k; p++)
			sketch_free(&parts[p], M);
		sketch_free(&whole, M);
		free(parts);
	}
	case_end();

	case_begin("merge: count overflow is refused");
	{
		Sketch		a,
					b;

		sketch_init(&a, 7);
		sketch_init(&b, 7);
		CHECK(sketch_add(&a, 1.0, M) == SKETCH_OK);
		CHECK(sketch_add(&b, 1.0, M) == SKETCH_OK);
		CHECK(sketch_flush(&a, M) == SKETCH_OK);
		CHECK(sketch_flush(&b, M) == SKETCH_OK);
		/* pretend a holds UINT64_MAX values: its single bucket says so */
		a.count = UINT64_MAX;
		a.pos.counts[a.pos.lo - a.pos.off] = UINT64_MAX;
		CHECK(sketch_merge(&a, &b, M) == SKETCH_OVERFLOW);
		CHECK(sketch_merge(&b, &a, M) == SKETCH_OVERFLOW);
		CHECK(sketch_add(&a, 1.0, M) == SKETCH_OVERFLOW);
		CHECK(sketch_add_int64(&a, 1, M) == SKETCH_OVERFLOW);
		CHECK(a.count == UINT64_MAX && b.count == 1);
		sketch_free(&a, M);
		sketch_free(&b, M);
	}
	case_end();
}

/* ================================================================ test: exact sum */

static void
check_sum_of(const double *v, size_t n, bool overflow_ok, const char *what)
{
	Sketch		s;
	Big			big;
	double		want = 0,
				got = 0;
	bool		fits;
	SketchStatus st;

	memset(&big, 0, sizeof(big));
	sketch_init(&s, 7);
	for (size_t i = 0; i < n; i++)
	{
		CHECK(sketch_add(&s, v[i], M) == SKETCH_OK);
		big_add_double(&big, v[i]);
	}
	fits = big_to_double(&big, &want);
	st = sketch_sum_double(&s, &got);
	if (fits)
		CHECKF(st == SKETCH_OK && same_bits(got, want), "%s: %d %.17g (%a), want %.17g (%a)",
			   what, st, got, got, want, want);
	else
		CHECKF(st == SKETCH_OVERFLOW && overflow_ok, "%s: %d %.17g, want overflow", what, st, got);
	sketch_free(&s, M);
}

static void
test_sum(void)
{
	Rng			rng = {555};

	case_begin("sum: equals the exact sum correctly rounded, for every dataset and order");
	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];
		Sketch		s,
					t;
		Big			big;
		double		want,
					got;
		size_t	   *order = malloc(sizeof(size_t) * d->n);

		big_of_dataset(&big, d);
		CHECK(big_to_double(&big, &want));
		build_dataset(&s, d, 7);
		CHECKF(sketch_sum_double(&s, &got) == SKETCH_OK && same_bits(got, want),
			   "%s: %.17g, want %.17g", d->name, got, want);
		/* shuffled order: same sketch, bit for bit */
		for (size_t i = 0; i < d->n; i++)
			order[i] = i;
		for (size_t i = d->n; i > 1; i--)
		{
			size_t		j = (size_t) rng_below(&rng, i);
			size_t		x = order[i - 1];

			order[i - 1] = order[j];
			order[j] = x;
		}
		sketch_init(&t, 7);
		for (size_t i = 0; i < d->n; i++)
			CHECK(add_element(&t, d, order[i]) == SKETCH_OK);
		CHECKF(same_encoding(&s, &t), "%s", d->name);
		CHECK(sketch_sum_double(&t, &got) == SKETCH_OK && same_bits(got, want));
		/* integers added as doubles when exact: the same sketch */
		if (d->iv != NULL)
		{
			bool		exact = true;

			for (size_t i = 0; i < d->n; i++)
				exact &= d->iv[i] >= -(INT64_C(1) << 53) && d->iv[i] <= (INT64_C(1) << 53);
			if (exact)
			{
				Sketch		u;

				sketch_init(&u, 7);
				for (size_t i = 0; i < d->n; i++)
					CHECK(sketch_add(&u, d->v[i], M) == SKETCH_OK);
				CHECKF(same_encoding(&u, &s), "%s as doubles", d->name);
				sketch_free(&u, M);
			}
		}
		sketch_free(&s, M);
		sketch_free(&t, M);
		free(order);
	}
	case_end();

	case_begin("sum: cancellation and rounding cases");
	{
		const double c1[] = {1e308, -1e308, 1};
		const double c2[] = {1e308, 1e-308, -1e308};
		const double c3[] = {DBL_MAX, DBL_TRUE_MIN, -DBL_MAX};
		const double c4[] = {1.0, 0x1p-53};	/* tie: to even, 1 */
		const double c5[] = {1.0, 0x1p-53, DBL_TRUE_MIN};	/* just above */
		const double c6[] = {1.0 + 0x1p-52, 0x1p-53};	/* tie: to even, up */
		const double c7[] = {0x1p-1074, 0x1p-1074, 0x1p-1074};
		const double c8[] = {DBL_MIN, -DBL_TRUE_MIN};	/* into subnormals */
		const double c9[] = {-1.0, 0x1p-60, 0x1p-60};
		const double c10[] = {0x1p1023, 0x1p1023, -0x1p1023, -0x1p1023, 0x1p-1074};
		const double c11[] = {1e16, 1.0, -1e16};
		const double c12[] = {0.1, 0.2, 0.3, -0.6};
		const double c13[] = {-0.0, -0.0};
		const double c14[] = {DBL_MAX, 0x1p969};	/* below the midpoint */
		const double c15[] = {-DBL_MAX, -0x1p969, -0x1p900};	/* still below it */

		check_sum_of(c1, 3, false, "1e308 - 1e308 + 1");
		check_sum_of(c2, 3, false, "1e308 + 1e-308 - 1e308");
		check_sum_of(c3, 3, false, "DBL_MAX + min subnormal - DBL_MAX");
		check_sum_of(c4, 2, false, "1 + 2^-53");
		check_sum_of(c5, 3, false, "1 + 2^-53 + 2^-1074");
		check_sum_of(c6, 2, false, "1 + 2^-52 + 2^-53");
		check_sum_of(c7, 3, false, "3 * 2^-1074");
		check_sum_of(c8, 2, false, "DBL_MIN - 2^-1074");
		check_sum_of(c9, 3, false, "-1 + 2^-59");
		check_sum_of(c10, 5, false, "2^1023 twice, minus twice, plus 2^-1074");
		check_sum_of(c11, 3, false, "1e16 + 1 - 1e16");
		check_sum_of(c12, 4, false, "0.1 + 0.2 + 0.3 - 0.6");
		check_sum_of(c13, 2, false, "-0 + -0");
		check_sum_of(c14, 2, false, "DBL_MAX + 2^969");
		check_sum_of(c15, 3, false, "-DBL_MAX - 2^969 - 2^900");
		{
			Sketch		s;
			double		r;

			sketch_init(&s, 7);
			CHECK(sketch_add(&s, 1e308, M) == SKETCH_OK);
			CHECK(sketch_add(&s, -1e308, M) == SKETCH_OK);
			CHECK(sketch_add(&s, 1, M) == SKETCH_OK);
			CHECK(sketch_sum_double(&s, &r) == SKETCH_OK && r == 1.0);
			sketch_free(&s, M);
		}
	}
	case_end();

	case_begin("sum: overflow beyond DBL_MAX is reported");
	{
		const double o1[] = {DBL_MAX, DBL_MAX};
		const double o2[] = {-DBL_MAX, -DBL_MAX};
		const double o3[] = {DBL_MAX, 0x1p970};	/* the midpoint rounds up to 2^1024 */
		const double o4[] = {DBL_MAX, DBL_MAX, -DBL_MAX};	/* back in range */
		Sketch		s;
		double		r = 42;

		check_sum_of(o1, 2, true, "DBL_MAX + DBL_MAX");
		check_sum_of(o2, 2, true, "-DBL_MAX - DBL_MAX");
		check_sum_of(o3, 2, true, "DBL_MAX + 2^970");
		check_sum_of(o4, 3, false, "DBL_MAX + DBL_MAX - DBL_MAX");
		sketch_init(&s, 7);
		CHECK(sketch_add(&s, DBL_MAX, M) == SKETCH_OK);
		CHECK(sketch_add(&s, DBL_MAX, M) == SKETCH_OK);
		CHECK(sketch_sum_double(&s, &r) == SKETCH_OVERFLOW);
		/* the overflowed sum is still held exactly */
		CHECK(sketch_add(&s, -DBL_MAX, M) == SKETCH_OK);
		CHECK(sketch_sum_double(&s, &r) == SKETCH_OK && r == DBL_MAX);
		sketch_free(&s, M);
	}
	case_end();

	case_begin("sum: int64 extremes are summed exactly");
	{
		const int64_t cases[][4] = {
			{INT64_MIN, INT64_MAX, 0, 0},
			{INT64_MAX, INT64_MAX, INT64_MAX, 0},
			{INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN},
			{INT64_MAX, 1, INT64_MIN, -1},
			{(INT64_C(1) << 53) + 1, 1, 0, 0},	/* 2^53 + 2: exact */
			{(INT64_C(1) << 53), 1, 0, 0},	/* 2^53 + 1: tie, to even */
			{INT64_MAX, -INT64_MAX, 3, 0},
		};

		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		{
			Sketch		s;
			Big			big;
			double		want,
						got;

			memset(&big, 0, sizeof(big));
			sketch_init(&s, 7);
			for (int i = 0; i < 4; i++)
			{
				CHECK(sketch_add_int64(&s, cases[c][i], M) == SKETCH_OK);
				big_add_int64(&big, cases[c][i]);
			}
			CHECK(big_to_double(&big, &want));
			CHECKF(sketch_sum_double(&s, &got) == SKETCH_OK && same_bits(got, want),
				   "case %zu: %.17g, want %.17g", c, got, want);
			sketch_free(&s, M);
		}
		{
			Sketch		s;
			double		r;

			sketch_init(&s, 7);
			CHECK(sketch_add_int64(&s, INT64_MIN, M) == SKETCH_OK);
			CHECK(sketch_add_int64(&s, INT64_MAX, M) == SKETCH_OK);
			CHECK(sketch_sum_double(&s, &r) == SKETCH_OK && r == -1.0);
			CHECK(s.min == -0x1p63 && s.max == 0x1p63);
			sketch_free(&s, M);
		}
	}
	case_end();

	case_begin("sum: random values of every magnitude, with cancellation");
	for (int trial = 0; trial < 300; trial++)
	{
		double		v[64];
		size_t		n = 1 + (size_t) rng_below(&rng, 64);

		for (size_t i = 0; i < n; i++)
		{
			uint64_t	bits;

			if (i > 0 && rng_below(&rng, 4) == 0)
			{
				v[i] = -v[rng_below(&rng, i)];	/* cancel an earlier one */
				continue;
			}
			do
			{
				bits = rng_next(&rng);
				if (trial % 3 == 0)	/* a narrower exponent range */
					bits = (bits & ~(UINT64_C(0x7ff) << 52)) |
						((uint64_t) (1023 + (int) rng_below(&rng, 120) - 60) << 52);
				memcpy(&v[i], &bits, sizeof(double));
			} while (!isfinite(v[i]));
		}
		check_sum_of(v, n, true, "random");
		shuffle_doubles(v, n, &rng);
		check_sum_of(v, n, true, "random, shuffled");
	}
	case_end();
}

/* ================================================================ test: round trips */

static void
check_roundtrip(Sketch *s, const char *what)
{
	size_t		len,
				len2,
				plen;
	uint8_t    *e = encode(s, &len);
	uint8_t    *e2 = NULL;
	uint8_t    *p = NULL;
	char	   *text = format(s);
	char	   *text2 = NULL;
	Sketch		d;
	char		err[128] = "";
	SketchStatus st;

	if (e == NULL || text == NULL)
		goto out;
	st = sketch_decode(e, len, &d, M, err, sizeof(err));
	if (!CHECKF(st == SKETCH_OK, "%s: decode %d (%s)", what, st, err))
		goto out;
	e2 = encode(&d, &len2);
	CHECKF(e2 != NULL && len2 == len && memcmp(e, e2, len) == 0, "%s: re-encoding differs", what);
	text2 = format(&d);
	CHECKF(text2 != NULL && strcmp(text, text2) == 0, "%s: text of the decoded sketch differs", what);
	st = sketch_parse(text, strlen(text), M, &p, &plen, err, sizeof(err));
	CHECKF(st == SKETCH_OK && plen == len && memcmp(p, e, len) == 0,
		   "%s: parse of the text %d (%s) differs from the encoding", what, st, err);
	/* same answers */
	CHECK(d.count == s->count && same_bits(d.min, s->min) && same_bits(d.max, s->max));
	if (s->count > 0)
		for (int k = 0; k <= 100; k++)
		{
			double		a,
						b;

			CHECK(sketch_quantile(s, k / 100.0, &a) && sketch_quantile(&d, k / 100.0, &b) &&
				  same_bits(a, b));
			CHECK(sketch_rank(s, a * 1.001, &a) && sketch_rank(&d, b * 1.001, &b) && a == b);
		}
	{
		double		a = 0,
					b = 0;

		CHECK(sketch_sum_double(s, &a) == sketch_sum_double(&d, &b) && same_bits(a, b));
	}
	sketch_free(&d, M);
out:
	unit_free(e);
	unit_free(e2);
	unit_free(p);
	unit_free(text);
	unit_free(text2);
}

static void
test_roundtrip(void)
{
	for (int di = 0; di < ndatasets; di++)
	{
		const int	scales[] = {0, 5, 7, 12};

		case_begin("round trip: %s", datasets[di].name);
		for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++)
		{
			Sketch		s;

			build_dataset(&s, &datasets[di], scales[si]);
			check_roundtrip(&s, datasets[di].name);
			sketch_free(&s, M);
		}
		case_end();
	}

	case_begin("round trip: empty, zeros only, unflushed sketches");
	for (int sc = 0; sc <= SKETCH_MAX_SCALE; sc++)
	{
		Sketch		s;
		char	   *text;

		sketch_init(&s, sc);
		check_roundtrip(&s, "empty");
		text = format(&s);
		if (text)
		{
			char		want[64];

			snprintf(want, sizeof(want), "v1 scale=%d count=0", sc);
			CHECKF(strcmp(text, want) == 0, "%s", text);
			unit_free(text);
		}
		CHECK(sketch_add(&s, 0.0, M) == SKETCH_OK);
		check_roundtrip(&s, "one zero");
		CHECK(sketch_add(&s, 5.0, M) == SKETCH_OK);
		CHECK(sketch_add(&s, -5.0, M) == SKETCH_OK);
		check_roundtrip(&s, "pending only");
		sketch_free(&s, M);
	}
	case_end();

	case_begin("text form: documented layout");
	{
		Sketch		s;
		char	   *text;
		char		want[256];

		sketch_init(&s, 7);
		CHECK(sketch_add(&s, 1.5, M) == SKETCH_OK);
		CHECK(sketch_add(&s, 8.0, M) == SKETCH_OK);
		CHECK(sketch_add(&s, 0.0, M) == SKETCH_OK);
		CHECK(sketch_add(&s, -0.25, M) == SKETCH_OK);
		text = format(&s);
		snprintf(want, sizeof(want),
				 "v1 scale=7 count=4 min=-0.25 max=8 sum=0x25p-2 zero=1 pos=%d:1,%d:1 neg=%d:1",
				 sketch_index(1.5, 7), sketch_index(8.0, 7), sketch_index(0.25, 7));
		CHECKF(text != NULL && strcmp(text, want) == 0, "%s", text ? text : "(null)");
		unit_free(text);
		sketch_free(&s, M);
	}
	case_end();
}

/* ================================================================ test: rejection */

static void
test_reject_values(void)
{
	const double bad[] = {NAN, -NAN, INFINITY, -INFINITY};
	const SketchStatus want[] = {SKETCH_NAN, SKETCH_NAN, SKETCH_INFINITE, SKETCH_INFINITE};

	case_begin("NaN and infinities are refused and change nothing");
	for (int filled = 0; filled < 3; filled++)
	{
		Sketch		s;
		size_t		l1,
					l2;
		uint8_t    *e1,
				   *e2;

		sketch_init(&s, 7);
		for (int i = 0; i < filled * 70; i++)
			CHECK(sketch_add(&s, 1.0 + i, M) == SKETCH_OK);
		e1 = encode(&s, &l1);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			CHECKF(sketch_add(&s, bad[i], M) == want[i], "value %g", bad[i]);
		{
			/* a signalling NaN pattern and a NaN with payload */
			uint64_t	bits[] = {UINT64_C(0x7ff0000000000001), UINT64_C(0xfff8000000000123)};

			for (int i = 0; i < 2; i++)
			{
				double		x;

				memcpy(&x, &bits[i], sizeof(x));
				CHECK(sketch_add(&s, x, M) == SKETCH_NAN);
			}
		}
		e2 = encode(&s, &l2);
		CHECK(e1 && e2 && l1 == l2 && memcmp(e1, e2, l1) == 0);
		CHECK(s.count == (uint64_t) filled * 70);
		unit_free(e1);
		unit_free(e2);
		sketch_free(&s, M);
	}
	case_end();
}

/* decode must accept exactly its own encodings: anything else is corrupt */
static bool
decode_is_canonical_or_corrupt(const uint8_t *buf, size_t len)
{
	Sketch		s;
	char		err[128];
	SketchStatus st = sketch_decode(buf, len, &s, M, err, sizeof(err));
	bool		ok;

	if (st == SKETCH_CORRUPT)
		return CHECKF(err[0] != '\0', "no error message");
	if (!CHECKF(st == SKETCH_OK, "decode returned %d", st))
		return false;
	{
		size_t		l2;
		uint8_t    *e2 = encode(&s, &l2);

		ok = CHECKF(e2 != NULL && l2 == len && memcmp(e2, buf, len) == 0,
					"accepted a non-canonical encoding of %zu bytes", len);
		unit_free(e2);
	}
	{
		double		r;

		/* and the accepted sketch answers sanely */
		if (s.count > 0)
			for (int k = 0; k <= 4; k++)
				CHECK(sketch_quantile(&s, k / 4.0, &r) && r >= s.min && r <= s.max);
	}
	sketch_free(&s, M);
	return ok;
}

/*
 * Prefixes and single-byte changes of an encoding.  With edge = 0, all of
 * them: every prefix, all 255 other values at every position.  Otherwise
 * bit flips and a random byte, at the first and last `edge` positions and
 * at `edge` more spread between (and the prefixes ending there).
 */
static void
sweep_encoding(const uint8_t *e, size_t len, size_t edge, Rng *rng)
{
	bool		exhaustive = edge == 0;
	uint8_t    *buf = malloc(len + 1);
	size_t		step = len > 3 * edge ? (len - 2 * edge) / (edge ? edge : 1) : 1;

	for (size_t p = 0; p < len; p++)
	{
		bool		sampled = exhaustive || p < edge || p + edge >= len || p % step == 0;

		if (!sampled)
			continue;
		/* the prefix of length p */
		memcpy(buf, e, p);
		decode_is_canonical_or_corrupt(buf, p);
		/* byte p changed */
		for (int v = 0; v < (exhaustive ? 256 : 9); v++)
		{
			memcpy(buf, e, len);
			if (exhaustive)
			{
				if (v == e[p])
					continue;
				buf[p] = (uint8_t) v;
			}
			else
				buf[p] ^= v < 8 ? (uint8_t) (1 << v) : (uint8_t) (1 + rng_below(rng, 255));
			decode_is_canonical_or_corrupt(buf, len);
		}
	}
	/* an extra byte */
	memcpy(buf, e, len);
	for (int v = 0; v < 256; v += 51)
	{
		buf[len] = (uint8_t) v;
		CHECK(decode_is_canonical_or_corrupt(buf, len + 1));
	}
	free(buf);
}

static void
test_reject_encodings(void)
{
	Rng			rng = {8080};

	for (int di = 0; di < ndatasets; di++)
	{
		Dataset    *d = &datasets[di];
		const int	scales[] = {7, 0, 12};
		Sketch		s;
		size_t		len;
		uint8_t    *e;

		case_begin("decode: every truncation and byte change of %s samples", d->name);

		/*
		 * 40-value samples: every byte value at every position while the
		 * windows are small (each decode allocates them), else bit flips
		 */
		for (size_t si = 0; si < sizeof(scales) / sizeof(scales[0]); si++)
		{
			sketch_init(&s, scales[si]);
			for (size_t i = 0; i < d->n && i < 40; i++)
				CHECK(add_element(&s, d, (i * 7919) % d->n) == SKETCH_OK);
			e = encode(&s, &len);
			if (e != NULL)
			{
				CHECK(decode_is_canonical_or_corrupt(e, len));
				int32_t		slots = s.pos.len + s.neg.len;

				sweep_encoding(e, len, scales[si] != 12 && slots <= 512 ? 0 :
							   slots <= 16384 ? 48 : 16, &rng);
			}
			unit_free(e);
			sketch_free(&s, M);
		}
		case_end();

		case_begin("decode: truncations and byte changes of %s, all values", d->name);
		build_dataset(&s, d, 7);
		e = encode(&s, &len);
		if (e != NULL)
		{
			CHECK(decode_is_canonical_or_corrupt(e, len));
			sweep_encoding(e, len, s.pos.len + s.neg.len <= 16384 ? 48 : 16, &rng);
		}
		unit_free(e);
		sketch_free(&s, M);
		case_end();
	}
}

/* ---- a hand-written encoder of the binary format, to craft inputs ---- */

typedef struct Wr
{
	uint8_t    *b;
	size_t		n;
	size_t		cap;
} Wr;

static void
w_byte(Wr *w, uint8_t c)
{
	if (w->n == w->cap)
	{
		w->cap = w->cap ? 2 * w->cap : 256;
		w->b = realloc(w->b, w->cap);
	}
	w->b[w->n++] = c;
}

static void
w_varint(Wr *w, uint64_t v)
{
	do
	{
		w_byte(w, (uint8_t) ((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
		v >>= 7;
	} while (v);
}

static void
w_zigzag(Wr *w, int64_t v)
{
	w_varint(w, v < 0 ? ((uint64_t) (-(v + 1)) << 1) | 1 : (uint64_t) v << 1);
}

static void
w_double(Wr *w, double x)
{
	uint64_t	bits;

	memcpy(&bits, &x, sizeof(bits));
	for (int k = 0; k < 8; k++)
		w_byte(w, (uint8_t) (bits >> (8 * k)));
}

typedef struct Craft
{
	int			version;
	int			scale;
	uint64_t	count;
	double		min,
				max;
	bool		sum_negative;
	int			sum_nbytes;
	int64_t		sum_exponent;
	uint8_t		sum_bytes[8];
	uint64_t	zero;
	int			npos,
				nneg;
	int64_t		pos_idx[4],
				neg_idx[4];
	uint64_t	pos_cnt[4],
				neg_cnt[4];
} Craft;

/* the canonical sum of a single double: odd integer times 2^exponent */
static void
craft_sum(Craft *c, double x)
{
	int			e;
	uint64_t	m;

	c->sum_negative = x < 0;
	c->sum_nbytes = 0;
	if (x == 0)
		return;
	m = (uint64_t) ldexp(frexp(fabs(x), &e), 53);
	e -= 53;
	while (!(m & 1))
	{
		m >>= 1;
		e++;
	}
	c->sum_exponent = e;
	while (m)
	{
		c->sum_bytes[c->sum_nbytes++] = (uint8_t) m;
		m >>= 8;
	}
}

static void
craft_store(Wr *w, int n, const int64_t *idx, const uint64_t *cnt)
{
	w_varint(w, (uint64_t) n);
	for (int k = 0; k < n; k++)
	{
		if (k == 0)
			w_zigzag(w, idx[0]);
		w_varint(w, ((uint64_t) (k == 0 ? 0 : idx[k] - idx[k - 1]) << 1) | (cnt[k] > 1));
		if (cnt[k] > 1)
			w_varint(w, cnt[k] - 2);
	}
}

static void
craft_write(const Craft *c, Wr *w)
{
	w->n = 0;
	w_byte(w, (uint8_t) c->version);
	w_byte(w, (uint8_t) c->scale);
	w_varint(w, c->count);
	if (c->count == 0)
		return;
	w_double(w, c->min);
	w_double(w, c->max);
	w_varint(w, ((uint64_t) c->sum_nbytes << 1) | c->sum_negative);
	if (c->sum_nbytes > 0)
	{
		w_zigzag(w, c->sum_exponent);
		for (int k = 0; k < c->sum_nbytes; k++)
			w_byte(w, c->sum_bytes[k]);
	}
	w_varint(w, c->zero);
	craft_store(w, c->npos, c->pos_idx, c->pos_cnt);
	craft_store(w, c->nneg, c->neg_idx, c->neg_cnt);
}

/* {1.5, 1.5, 8} at scale 7 */
static Craft
craft_base(void)
{
	Craft		c;

	memset(&c, 0, sizeof(c));
	c.version = 1;
	c.scale = 7;
	c.count = 3;
	c.min = 1.5;
	c.max = 8.0;
	craft_sum(&c, 11.0);
	c.npos = 2;
	c.pos_idx[0] = sketch_index(1.5, 7);
	c.pos_cnt[0] = 2;
	c.pos_idx[1] = sketch_index(8.0, 7);
	c.pos_cnt[1] = 1;
	return c;
}

static SketchStatus
decode_craft(const Craft *c)
{
	Wr			w = {NULL, 0, 0};
	Sketch		s;
	SketchStatus st;

	craft_write(c, &w);
	st = sketch_decode(w.b, w.n, &s, M, NULL, 0);
	if (st == SKETCH_OK)
	{
		size_t		len;
		uint8_t    *e = encode(&s, &len);

		CHECKF(e && len == w.n && memcmp(e, w.b, len) == 0, "crafted input re-encodes differently");
		unit_free(e);
		sketch_free(&s, M);
	}
	free(w.b);
	return st;
}

static SketchStatus
decode_bytes(const uint8_t *b, size_t n)
{
	Sketch		s;
	SketchStatus st = sketch_decode(b, n, &s, M, NULL, 0);

	if (st == SKETCH_OK)
		sketch_free(&s, M);
	return st;
}

static void
test_reject_crafted(void)
{
	Craft		c;
	Wr			w = {NULL, 0, 0};

	case_begin("decode: the documented layout is what the encoder writes");
	{
		Sketch		s;
		size_t		len;
		uint8_t    *e;

		c = craft_base();
		craft_write(&c, &w);
		sketch_init(&s, 7);
		CHECK(sketch_add(&s, 1.5, M) == SKETCH_OK);
		CHECK(sketch_add(&s, 8.0, M) == SKETCH_OK);
		CHECK(sketch_add(&s, 1.5, M) == SKETCH_OK);
		e = encode(&s, &len);
		CHECK(e && len == w.n && memcmp(e, w.b, len) == 0);
		CHECK(decode_craft(&c) == SKETCH_OK);
		unit_free(e);
		sketch_free(&s, M);
		/* empty sketches at every scale */
		for (int sc = 0; sc <= SKETCH_MAX_SCALE; sc++)
		{
			const uint8_t empty[] = {1, (uint8_t) sc, 0};

			CHECK(decode_bytes(empty, 3) == SKETCH_OK);
		}
	}
	case_end();

	case_begin("decode: hand-crafted bad encodings are corrupt");
	{
		const uint8_t bad_empty[][5] = {
			{2, 7, 0},			/* version */
			{0, 7, 0},
			{1, 13, 0},			/* scale */
			{1, 255, 0},
			{1, 7, 0x80, 0},	/* non-minimal count 0 */
			{1, 7, 0, 0},		/* trailing byte */
			{1, 7, 0x80},		/* truncated varint */
		};
		const size_t bad_len[] = {3, 3, 3, 3, 4, 4, 3};

		for (size_t i = 0; i < sizeof(bad_len) / sizeof(bad_len[0]); i++)
			CHECKF(decode_bytes(bad_empty[i], bad_len[i]) == SKETCH_CORRUPT, "case %zu", i);
		CHECK(decode_bytes(bad_empty[0], 0) == SKETCH_CORRUPT);
		CHECK(decode_bytes(bad_empty[0], 2) == SKETCH_CORRUPT);
	}
	c = craft_base();
	c.version = 2;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.count = 4;				/* buckets hold 3 */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.count = 2;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.min = 8.0;
	c.max = 1.5;				/* min > max */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.min = 1.6;				/* not in the first bucket */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.min = 1.5 * (1 + 1e-4);	/* in the first bucket: fine */
	CHECK(decode_craft(&c) == SKETCH_OK);
	c = craft_base();
	c.max = 9.0;				/* not in the last bucket */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.min = NAN;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.max = INFINITY;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	craft_sum(&c, -11.0);		/* negative sum of positive values */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	craft_sum(&c, 0.0);			/* zero sum of positive values */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	craft_sum(&c, 1e300);		/* more than count * max */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	craft_sum(&c, 24.0);		/* exactly count * max: possible */
	CHECK(decode_craft(&c) == SKETCH_OK);
	craft_sum(&c, 24.0 * (1 + 1e-9));	/* beyond, more than rounding could explain */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	craft_sum(&c, 4.5);			/* exactly count * min */
	CHECK(decode_craft(&c) == SKETCH_OK);
	craft_sum(&c, 4.5 * (1 - 1e-9));
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.sum_bytes[0] = 0x16;		/* even: 11 is 0xb; 22 * 2^-1 is not canonical */
	c.sum_exponent = -1;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.sum_bytes[c.sum_nbytes++] = 0;	/* a zero top byte */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.sum_exponent = -1075;		/* below 2^-1074 */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.sum_exponent = 1100;		/* beyond any possible sum */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.pos_cnt[1] = 0;			/* count 0 cannot be written canonically */
	c.count = 2;
	CHECK(decode_craft(&c) != SKETCH_OK);
	c = craft_base();
	c.pos_idx[1] = c.pos_idx[0];	/* gap 0 */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.nneg = 1;					/* a negative bucket, but min is positive */
	c.neg_idx[0] = 0;
	c.neg_cnt[0] = 1;
	c.count = 4;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.zero = 1;					/* a zero, but min is positive */
	c.count = 4;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.zero = 1;
	c.count = 4;
	c.min = 0.0;
	CHECK(decode_craft(&c) == SKETCH_OK);
	c.min = -0.0;				/* negative zero is not canonical */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	memset(&c, 0, sizeof(c));	/* a single zero */
	c.version = 1;
	c.scale = 7;
	c.count = 1;
	c.zero = 1;
	CHECK(decode_craft(&c) == SKETCH_OK);
	c.sum_negative = true;		/* "-0" sum */
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c.sum_negative = false;
	c.max = -0.0;
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c = craft_base();
	c.count = 1;				/* count 1 but min != max */
	c.npos = 1;
	c.pos_cnt[0] = 1;
	craft_sum(&c, 1.5);
	CHECK(decode_craft(&c) == SKETCH_CORRUPT);
	c.max = 1.5;
	CHECK(decode_craft(&c) == SKETCH_OK);
	c.min = c.max = nextafter(1.5, 2);	/* same bucket, count 1: fine */
	craft_sum(&c, c.min);
	CHECK(decode_craft(&c) == SKETCH_OK);
	/* trailing byte and non-minimal varints inside */
	c = craft_base();
	craft_write(&c, &w);
	w_byte(&w, 0);
	CHECK(decode_bytes(w.b, w.n) == SKETCH_CORRUPT);
	{
		/* count 3 written as 0x83 0x00 */
		uint8_t    *b = malloc(w.n + 1);

		craft_write(&c, &w);
		b[0] = w.b[0];
		b[1] = w.b[1];
		b[2] = 0x83;
		b[3] = 0x00;
		memcpy(b + 4, w.b + 3, w.n - 3);
		CHECK(decode_bytes(b, w.n + 1) == SKETCH_CORRUPT);
		free(b);
	}
	{
		/* a count varint of more than 64 bits */
		const uint8_t big[] = {1, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
		const uint8_t big2[] = {1, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00};

		CHECK(decode_bytes(big, sizeof(big)) == SKETCH_CORRUPT);
		CHECK(decode_bytes(big2, sizeof(big2)) == SKETCH_CORRUPT);
	}
	case_end();

	case_begin("decode: index range and span limits at every scale");
	for (int sc = 0; sc <= SKETCH_MAX_SCALE; sc++)
	{
		int32_t		top = sketch_index(DBL_MAX, sc);
		int32_t		bottom = sketch_index(DBL_TRUE_MIN, sc);
		int32_t		one = sketch_index(1.0, sc);

		memset(&c, 0, sizeof(c));
		c.version = 1;
		c.scale = sc;
		c.count = 2;
		c.npos = 2;
		c.pos_cnt[0] = c.pos_cnt[1] = 1;
		/* two values exactly SKETCH_MAX_SPAN buckets apart: fits */
		c.pos_idx[0] = one - SKETCH_MAX_SPAN / 2;
		c.pos_idx[1] = c.pos_idx[0] + SKETCH_MAX_SPAN - 1;
		c.min = sketch_bucket_value((int32_t) c.pos_idx[0], sc);
		c.max = sketch_bucket_value((int32_t) c.pos_idx[1], sc);
		if (c.pos_idx[0] > bottom + 1 && c.pos_idx[1] < top)
		{
			CHECK(sketch_index(c.min, sc) == c.pos_idx[0] && sketch_index(c.max, sc) == c.pos_idx[1]);
			craft_sum(&c, c.max);	/* any positive sum will do */
			CHECKF(decode_craft(&c) == SKETCH_OK, "scale %d: span %d", sc, SKETCH_MAX_SPAN);
			/* one more is too wide */
			c.pos_idx[1]++;
			c.max = sketch_bucket_value((int32_t) c.pos_idx[1], sc);
			CHECKF(decode_craft(&c) == SKETCH_CORRUPT, "scale %d: span %d", sc, SKETCH_MAX_SPAN + 1);
		}
		/* the largest and the smallest double's buckets, and one beyond */
		memset(&c, 0, sizeof(c));
		c.version = 1;
		c.scale = sc;
		c.count = 1;
		c.npos = 1;
		c.pos_cnt[0] = 1;
		c.pos_idx[0] = top;
		c.min = c.max = DBL_MAX;
		craft_sum(&c, DBL_MAX);
		CHECKF(decode_craft(&c) == SKETCH_OK, "scale %d: top bucket", sc);
		c.pos_idx[0] = top + 1;
		CHECKF(decode_craft(&c) == SKETCH_CORRUPT, "scale %d: above the top bucket", sc);
		c.pos_idx[0] = bottom;
		c.min = c.max = DBL_TRUE_MIN;
		craft_sum(&c, DBL_TRUE_MIN);
		CHECKF(decode_craft(&c) == SKETCH_OK, "scale %d: bottom bucket", sc);
		c.pos_idx[0] = bottom - 1;
		CHECKF(decode_craft(&c) == SKETCH_CORRUPT, "scale %d: below the bottom bucket", sc);
		c.pos_idx[0] = INT64_MAX / 2;
		CHECKF(decode_craft(&c) == SKETCH_CORRUPT, "scale %d: huge index", sc);
		c.pos_idx[0] = INT64_MIN / 2;
		CHECKF(decode_craft(&c) == SKETCH_CORRUPT, "scale %d: huge negative index", sc);
	}
	case_end();
	free(w.b);
}

/* parse, then decode: the status of the text as a sketch */
static SketchStatus
text_status(const char *text, size_t len)
{
	uint8_t    *bytes = NULL;
	size_t		n;
	char		err[128] = "";
	SketchStatus st = sketch_parse(text, len, M, &bytes, &n, err, sizeof(err));

	if (st == SKETCH_OK)
	{
		Sketch		s;

		st = sketch_decode(bytes, n, &s, M, err, sizeof(err));
		if (st == SKETCH_OK)
			sketch_free(&s, M);
		unit_free(bytes);
	}
	if (st == SKETCH_CORRUPT)
		CHECKF(err[0] != '\0', "no error message for \"%.*s\"", (int) len, text);
	return st;
}

static void
test_reject_texts(void)
{
	/* {1.5, 8} and {-1, 0, 1.5, 8} at scale 7: 1.5 is in bucket 74, 8 in 383, -1 in -1 */
	const char *good[] = {
		"v1 scale=7 count=0",
		"v1 scale=0 count=0",
		"v1 scale=12 count=0",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=4 min=-1 max=8 sum=0x11p-1 zero=1 pos=74:1,383:1 neg=-1:1",
		"v1 scale=7 count=3 min=0 max=0 sum=0 zero=3 pos= neg=",
		"v1 scale=7 count=2 min=1.5 max=1.5 sum=0x3p0 zero=0 pos=74:2 neg=",
	};
	const char *bad[] = {
		"",
		"v1",
		"v1 scale=7",
		"v1 scale=7 count=",
		"v2 scale=7 count=0",
		"v0 scale=7 count=0",
		"v01 scale=7 count=0",
		"V1 scale=7 count=0",
		"v1 scale=13 count=0",
		"v1 scale=07 count=0",
		"v1 scale=-1 count=0",
		"v1 scale=7 count=00",
		"v1 scale=7 count=-0",
		"v1 scale=7 count=+0",
		"v1  scale=7 count=0",
		"v1 scale=7  count=0",
		"v1 scale=7 count=0 ",
		" v1 scale=7 count=0",
		"v1 scale=7 count=0\n",
		"v1\tscale=7 count=0",
		"v1 scale=7 count=0x",
		"v1 scale=7 count=0 min=1",
		"v1 scale=7 count=18446744073709551616",
		"v1 scale=7 count=1",
		"v1 scale=7 count=1 min=1.5 max=1.5 sum=0x3p-1 zero=0 pos=74:1",	/* no neg= */
		"v1 scale=7 count=1 min=1.5 max=1.5 sum=0x3p-1 pos=74:1 neg=",	/* no zero= */
		"v1 scale=7 count=1 max=1.5 min=1.5 sum=0x3p-1 zero=0 pos=74:1 neg=",	/* order */
		"v1 scale=7 count=1 min=1.5 max=1.5 sum=0x3p-1 zero=0 neg= pos=74:1",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg= x",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=x",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=,",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=383:1,74:1 neg=",	/* decreasing */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,74:1 neg=",	/* repeated */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:2,383:0 neg=",	/* zero count */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:01,383:1 neg=",	/* leading zero */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=074:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=+74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1, neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=,74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1;383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383: neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1, 383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=-0:1",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=00 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=1 pos=74:1,383:1 neg=",	/* counts */
		"v1 scale=7 count=3 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,384:1 neg=",	/* max bucket */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=73:1,383:1 neg=",	/* min bucket */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13P-1 zero=0 pos=74:1,383:1 neg=",	/* sums */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0X13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x013p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-01 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p+1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1.0 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x26p-2 zero=0 pos=74:1,383:1 neg=",	/* even */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0xp-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x1Bp-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=-0x13p-1 zero=0 pos=74:1,383:1 neg=",	/* sign */
		"v1 scale=7 count=2 min=1.5 max=8 sum=-0 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=00 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum= zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1  zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=nan max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",	/* doubles */
		"v1 scale=7 count=2 min=NaN max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=inf sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=infinity sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=-inf max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=1e999 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=+1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min= 1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min= max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5x max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1,5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=. max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=- max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8.0.0 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.6 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",	/* min bucket */
		"v1 scale=7 count=2 min=8 max=1.5 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=",
		"v1 scale=7 count=3 min=-0 max=0 sum=0 zero=3 pos= neg=",	/* -0 */
		"v1 scale=7 count=3 min=0 max=-0 sum=0 zero=3 pos= neg=",
		"v1 scale=7 count=3 min=-0.0 max=0 sum=0 zero=3 pos= neg=",
		"v1 scale=7 count=1 min=1.5 max=1.5 sum=0x3p-1 zero=0 pos=75:1 neg=",	/* wrong index */
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,383:1 neg=1:4294967296",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,2147483648:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-1 zero=0 pos=-2147483649:1,383:1 neg=",
		"v1 scale=7 count=2 min=1.5 max=8 sum=0x13p-99999999999 zero=0 pos=74:1,383:1 neg=",
	};
	case_begin("text: well-formed texts are accepted and reproduced");
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
	{
		uint8_t    *bytes = NULL;
		size_t		n;
		Sketch		s;
		char	   *text;

		if (!CHECKF(sketch_parse(good[i], strlen(good[i]), M, &bytes, &n, NULL, 0) == SKETCH_OK,
					"%s", good[i]))
			continue;
		if (CHECKF(sketch_decode(bytes, n, &s, M, NULL, 0) == SKETCH_OK, "%s", good[i]))
		{
			text = format(&s);
			CHECKF(text && strcmp(text, good[i]) == 0, "%s became %s", good[i], text ? text : "");
			unit_free(text);
			sketch_free(&s, M);
		}
		unit_free(bytes);
	}
	case_end();

	case_begin("text: malformed texts are corrupt");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(text_status(bad[i], strlen(bad[i])) == SKETCH_CORRUPT, "\"%s\"", bad[i]);
	/* an embedded NUL, which the length includes */
	{
		const char nul[] = "v1 scale=7 count=0\0";
		const char nul2[] = "v1 scale=7\0 count=0";

		CHECK(text_status(nul, sizeof(nul) - 1) == SKETCH_CORRUPT);
		CHECK(text_status(nul2, sizeof(nul2) - 1) == SKETCH_CORRUPT);
		CHECK(text_status(good[3], 0) == SKETCH_CORRUPT);
	}
	case_end();

	case_begin("text: every truncation and single-character change is corrupt or reproduced");
	for (size_t g = 0; g < sizeof(good) / sizeof(good[0]); g++)
	{
		size_t		len = strlen(good[g]);
		char	   *buf = malloc(len + 1);
		const char	alphabet[] = "0123456789abcdefx-:,=pv .+eE\tnNiI";

		for (size_t p = 0; p < len; p++)
		{
			SketchStatus st = text_status(good[g], p);

			CHECKF(st == SKETCH_CORRUPT, "prefix %zu of %s", p, good[g]);
			for (size_t a = 0; a < sizeof(alphabet) - 1; a++)
			{
				uint8_t    *bytes = NULL;
				size_t		n;
				Sketch		s;

				memcpy(buf, good[g], len);
				buf[len] = '\0';
				if (buf[p] == alphabet[a])
					continue;
				buf[p] = alphabet[a];
				st = sketch_parse(buf, len, M, &bytes, &n, NULL, 0);
				if (st != SKETCH_OK)
				{
					CHECK(st == SKETCH_CORRUPT);
					continue;
				}
				st = sketch_decode(bytes, n, &s, M, NULL, 0);
				unit_free(bytes);
				if (st != SKETCH_OK)
				{
					CHECK(st == SKETCH_CORRUPT);
					continue;
				}
				/* accepted: then it reads as a sketch whose text is a fixed point */
				{
					char	   *t1 = format(&s);
					SketchStatus st2 = t1 ? text_status(t1, strlen(t1)) : SKETCH_CORRUPT;

					CHECKF(st2 == SKETCH_OK, "%.*s", (int) len, buf);
					CHECKF(t1 && texts_equivalent(buf, t1), "accepted %s as %s", buf, t1 ? t1 : "");
					unit_free(t1);
				}
				sketch_free(&s, M);
			}
		}
		free(buf);
	}
	case_end();
}

/* ================================================================ test: size */

static void
test_small_size(void)
{
	Rng			rng = {60};

	case_begin("size: 60 order values of 5..500 with cents encode in at most 150 bytes");
	for (int trial = 0; trial < 50; trial++)
	{
		Sketch		s;
		size_t		len;
		uint8_t    *e;

		sketch_init(&s, 7);
		for (int i = 0; i < 60; i++)
			CHECK(sketch_add(&s, (double) (500 + (int64_t) rng_below(&rng, 49501)) / 100.0, M) == SKETCH_OK);
		e = encode(&s, &len);
		CHECKF(e && len <= 150, "trial %d: %zu bytes", trial, len);
		unit_free(e);
		sketch_free(&s, M);
	}
	case_end();
}

/* ================================================================ test: histograms */

/* the text forms agree but for min, max and sum */
static bool
same_buckets(Sketch *a, Sketch *b)
{
	char	   *ta = format(a);
	char	   *tb = format(b);
	bool		same = ta != NULL && tb != NULL;

	for (char *t = ta; same && t != NULL; t = (t == ta ? tb : NULL))
	{
		/* blank out the three fields' values */
		const char *names[] = {" min=", " max=", " sum="};

		for (int k = 0; k < 3; k++)
		{
			char	   *p = strstr(t, names[k]);

			if (p == NULL)
				continue;
			for (p += 5; *p != ' ' && *p != '\0'; p++)
				*p = '#';
		}
	}
	/* the values differ in length: compare with the #s squeezed out */
	if (same)
	{
		char	   *p,
				   *q;

		for (char *t = ta; t != NULL; t = (t == ta ? tb : NULL))
		{
			for (p = q = t; *p; p++)
				if (*p != '#')
					*q++ = *p;
			*q = '\0';
		}
		same = strcmp(ta, tb) == 0;
	}
	unit_free(ta);
	unit_free(tb);
	return same;
}

typedef struct HistCase
{
	SketchHistogram h;
	uint64_t	pos[64];
	uint64_t	neg[64];
} HistCase;

static void
test_histogram(void)
{
	Rng			rng = {1234};

	case_begin("histogram: equals the sketch of representative values, scales 0..20");
	for (int hs = 0; hs <= SKETCH_MAX_HIST_SCALE; hs++)
	{
		for (int trial = 0; trial < 12; trial++)
		{
			HistCase	hc;
			SketchHistogram *h = &hc.h;
			int			at = hs > SKETCH_MAX_SCALE ? SKETCH_MAX_SCALE : hs;
			int			shift = hs - at;
			Sketch		ref,
						got;
			char		err[128] = "";
			SketchStatus st;
			/* bucket indexes of values in about [2^-40, 2^40] at scale hs */
			int64_t		span = (int64_t) 80 << hs;

			memset(&hc, 0, sizeof(hc));
			h->scale = hs;
			h->zero_count = trial % 3 == 0 ? rng_below(&rng, 5) : 0;
			h->npos = trial % 4 == 1 ? 0 : 1 + (size_t) rng_below(&rng, 64);
			h->nneg = trial % 4 == 2 ? 0 : (size_t) rng_below(&rng, 64);
			h->pos_offset = (int32_t) ((int64_t) rng_below(&rng, (uint64_t) span) - span / 2);
			h->neg_offset = (int32_t) ((int64_t) rng_below(&rng, (uint64_t) span) - span / 2);
			for (size_t k = 0; k < h->npos; k++)
				hc.pos[k] = rng_below(&rng, 3) == 0 ? 0 : rng_below(&rng, 6);
			for (size_t k = 0; k < h->nneg; k++)
				hc.neg[k] = rng_below(&rng, 3) == 0 ? 0 : rng_below(&rng, 6);
			h->pos_counts = hc.pos;
			if (trial == 11 && hs >= 6)
			{
				/* two buckets further apart than SKETCH_MAX_SPAN */
				static uint64_t wide[SKETCH_MAX_SPAN + 4000];
				size_t		nw = sizeof(wide) / sizeof(wide[0]);

				memset(wide, 0, sizeof(wide));
				wide[0] = 1;
				wide[nw - 1] = 2;
				h->npos = nw;
				h->pos_counts = wide;
				h->pos_offset = -(int32_t) (nw / 2);
			}
			h->neg_counts = hc.neg;

			/* the reference: each bucket's representative value, count times */
			sketch_init(&ref, at);
			for (int sign = 0; sign < 2; sign++)
			{
				const uint64_t *cnt = sign ? hc.neg : h->pos_counts;
				size_t		n = sign ? h->nneg : h->npos;
				int32_t		off = sign ? h->neg_offset : h->pos_offset;

				for (size_t k = 0; k < n; k++)
				{
					int64_t		idx = (int64_t) off + (int64_t) k;
					int64_t		d = (int64_t) 1 << shift;
					int32_t		i12 = (int32_t) (idx >= 0 ? idx / d : -((-idx + d - 1) / d));
					double		v = sketch_bucket_value(i12, at);

					for (uint64_t c = 0; c < cnt[k]; c++)
						CHECK(sketch_add(&ref, sign ? -v : v, M) == SKETCH_OK);
				}
			}
			for (uint64_t c = 0; c < h->zero_count; c++)
				CHECK(sketch_add(&ref, 0.0, M) == SKETCH_OK);
			CHECK(sketch_flush(&ref, M) == SKETCH_OK);

			st = sketch_from_histogram(&got, h, M, err, sizeof(err));
			if (!CHECKF(st == SKETCH_OK, "scale %d trial %d: %d (%s)", hs, trial, st, err))
			{
				sketch_free(&ref, M);
				continue;
			}
			/*
			 * Missing min, max and sum are estimated from the final buckets;
			 * after a drop in scale those are coarser than the reference's
			 * values, so then only the buckets must agree.
			 */
			if (got.scale == at)
				CHECKF(same_encoding(&got, &ref), "scale %d trial %d", hs, trial);
			else
				CHECKF(same_buckets(&got, &ref), "scale %d trial %d", hs, trial);
			sketch_free(&got, M);

			/* with min, max and sum given: those are kept, the buckets the same */
			if (ref.count > 0)
			{
				double		r1,
							r2,
							sum;

				h->has_min = h->has_max = h->has_sum = true;
				h->min = ref.min;
				h->max = ref.max;
				/* as a producer would have it: the sum rounded to a double */
				CHECK(sketch_sum_double(&ref, &h->sum) == SKETCH_OK);
				st = sketch_from_histogram(&got, h, M, err, sizeof(err));
				if (CHECKF(st == SKETCH_OK, "scale %d trial %d with min/max/sum: %d (%s)",
						   hs, trial, st, err))
				{
					CHECK(got.count == ref.count && got.scale == ref.scale);
					CHECK(same_bits(got.min, h->min) && same_bits(got.max, h->max));
					CHECK(sketch_sum_double(&got, &sum) == SKETCH_OK && same_bits(sum, h->sum));
					for (int k = 0; k <= 100; k++)
						CHECK(sketch_quantile(&got, k / 100.0, &r1) &&
							  sketch_quantile(&ref, k / 100.0, &r2) && same_bits(r1, r2));
					sketch_free(&got, M);
				}
			}
			sketch_free(&ref, M);
		}
	}
	case_end();

	case_begin("histogram: finer scales fold exactly into scale 12");
	for (int hs = 13; hs <= SKETCH_MAX_HIST_SCALE; hs++)
	{
		/* values at scale hs, counted at their own index, land where sketch_add puts them */
		for (int trial = 0; trial < 50; trial++)
		{
			double		x = ldexp(1.0 + rng_unit(&rng), (int) rng_below(&rng, 200) - 100);
			long double t = log2l((long double) x) * ldexpl(1.0L, hs);
			int64_t		ihs = (int64_t) ceill(t) - 1;
			uint64_t	one = 1;
			SketchHistogram h;
			Sketch		got,
						want;

			if (fabsl(t - nearbyintl(t)) < 1e-6L)
				continue;		/* too close to a boundary to trust log2l */
			memset(&h, 0, sizeof(h));
			h.scale = hs;
			h.pos_offset = (int32_t) ihs;
			h.pos_counts = &one;
			h.npos = 1;
			h.has_min = h.has_max = h.has_sum = true;
			h.min = h.max = h.sum = x;
			sketch_init(&want, SKETCH_MAX_SCALE);
			CHECK(sketch_add(&want, x, M) == SKETCH_OK);
			CHECKF(sketch_from_histogram(&got, &h, M, NULL, 0) == SKETCH_OK, "x=%a scale %d", x, hs);
			CHECKF(same_encoding(&got, &want), "x=%a scale %d", x, hs);
			sketch_free(&got, M);
			sketch_free(&want, M);
		}
	}
	case_end();

	case_begin("histogram: bad parameters are refused");
	{
		uint64_t	one[2] = {1, 1};
		uint64_t	big[2] = {UINT64_MAX, 1};
		SketchHistogram base,
					h;
		Sketch		s;
		char		err[128];
		int32_t		i15 = sketch_index(1.5, 7);

		memset(&base, 0, sizeof(base));
		base.scale = 7;
		base.pos_offset = i15;
		base.pos_counts = one;
		base.npos = 1;

#define EXPECT_HIST(hh, want) do { \
		SketchStatus st_; \
		err[0] = '\0'; \
		st_ = sketch_from_histogram(&s, &(hh), M, err, sizeof(err)); \
		if (st_ == SKETCH_OK) sketch_free(&s, M); \
		CHECKF(st_ == (want), "status %d (%s)", st_, err); \
		if ((want) != SKETCH_OK) CHECK(err[0] != '\0'); \
	} while (0)

		h = base;
		EXPECT_HIST(h, SKETCH_OK);
		h.scale = -1;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.scale = SKETCH_MAX_HIST_SCALE + 1;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h = base;
		h.scale = 0;
		h.pos_offset = 1024;	/* above 2^1024 */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.pos_offset = 1023;
		EXPECT_HIST(h, SKETCH_OK);
		h.pos_offset = -1076;	/* below the smallest subnormal */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h = base;
		h.scale = 20;
		h.pos_offset = 1024 << 20;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.pos_offset = (1024 << 20) - 1;
		EXPECT_HIST(h, SKETCH_OK);
		h.pos_offset = INT32_MAX;	/* index past INT32_MAX */
		h.npos = 2;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.pos_counts = big;		/* counts overflow */
		h.pos_offset = 0;
		EXPECT_HIST(h, SKETCH_OVERFLOW);
		h = base;
		h.neg_offset = INT32_MIN;
		h.neg_counts = one;
		h.nneg = 1;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h = base;
		h.has_min = true;
		h.min = 1.6;			/* not in the lowest bucket */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.min = 1.5;			/* the one value: max is the same */
		EXPECT_HIST(h, SKETCH_OK);
		h.min = NAN;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h = base;
		h.has_max = true;
		h.max = INFINITY;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.max = 1.0;			/* not in the highest bucket */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		/* min alone above the bucket's representative value: max follows it */
		h = base;
		{
			uint64_t	five = 5;
			double		rep = sketch_bucket_value(i15, 7);

			h.pos_counts = &five;
			h.has_min = true;
			h.min = 1.5;
			CHECK(rep < 1.5);
			EXPECT_HIST(h, SKETCH_OK);
			h.has_min = false;
			h.has_max = true;
			h.max = sketch_bounds[i15 << (SKETCH_MAX_SCALE - 7)] * (1 + 1e-6);	/* below rep */
			if (CHECK(sketch_index(h.max, 7) == i15 && h.max < rep))
				EXPECT_HIST(h, SKETCH_OK);
			h.has_min = true;	/* both given, fine */
			h.min = h.max;
			EXPECT_HIST(h, SKETCH_OK);
			h.max = 1.5;
			EXPECT_HIST(h, SKETCH_OK);
			h.max = 1.6;		/* outside the bucket */
			EXPECT_HIST(h, SKETCH_BAD_PARAM);
		}
		h = base;
		h.has_min = h.has_max = true;
		h.npos = 2;
		h.min = 1.5;
		h.max = 1.5;			/* two buckets, so max must be in the second */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h = base;
		h.has_sum = true;
		h.sum = -1.0;			/* positive values, negative sum */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.sum = NAN;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.sum = 0.0;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.sum = 2.0;			/* one value, but not in its bucket */
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.sum = 1.5;			/* one value: 1.5, in its bucket */
		EXPECT_HIST(h, SKETCH_OK);
		{
			/* ten values of 1.499 and their sum, no min or max */
			uint64_t	ten = 10;

			h.pos_counts = &ten;
			h.sum = 14.99;
			EXPECT_HIST(h, SKETCH_OK);
			h.sum = 10 * 1.4999;
			EXPECT_HIST(h, SKETCH_OK);
			h.sum = 10 * 1.6;	/* no ten values of the bucket add up to it */
			EXPECT_HIST(h, SKETCH_BAD_PARAM);
			/* three values of 0.1: the sum a producer computes */
			h.pos_offset = sketch_index(0.1, 7);
			ten = 3;
			h.sum = 0.1 + 0.1 + 0.1;
			EXPECT_HIST(h, SKETCH_OK);
			h.has_min = h.has_max = true;
			h.min = h.max = 0.1;
			EXPECT_HIST(h, SKETCH_OK);
		}
		/* no values */
		memset(&h, 0, sizeof(h));
		h.scale = 5;
		EXPECT_HIST(h, SKETCH_OK);
		h.has_sum = true;
		h.sum = 1.0;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
		h.sum = -0.0;
		EXPECT_HIST(h, SKETCH_OK);
		h.has_min = true;
		h.min = 5.0;			/* ignored without values */
		EXPECT_HIST(h, SKETCH_OK);
		/* zeros only */
		memset(&h, 0, sizeof(h));
		h.scale = 5;
		h.zero_count = 3;
		h.has_min = true;
		h.min = -0.0;
		EXPECT_HIST(h, SKETCH_OK);
		h.min = 1.0;
		EXPECT_HIST(h, SKETCH_BAD_PARAM);
#undef EXPECT_HIST
	}
	case_end();
}

/* ================================================================ test: interrupts */

static int	interrupts;

static void
count_interrupt(void)
{
	interrupts++;
}

static void
test_interrupts(void)
{
	Sketch		s,
				d;
	size_t		len;
	uint8_t    *e;
	char	   *text;

	case_begin("long loops call sketch_check_interrupts");
	sketch_init(&s, 12);
	for (int i = 0; i < 8000; i++)
		CHECK(sketch_add(&s, ldexp(1.0, i / 4096) * sketch_bounds[i % 4096] * 1.00001, M) == SKETCH_OK);
	e = encode(&s, &len);
	text = format(&s);
	sketch_check_interrupts = count_interrupt;
	interrupts = 0;
	CHECK(sketch_decode(e, len, &d, M, NULL, 0) == SKETCH_OK);
	CHECKF(interrupts > 0, "decode of %d buckets: %d calls", 8000, interrupts);
	if (text)
	{
		uint8_t    *p = NULL;
		size_t		n;

		interrupts = 0;
		CHECK(sketch_parse(text, strlen(text), M, &p, &n, NULL, 0) == SKETCH_OK);
		CHECK(interrupts > 0);
		unit_free(p);
	}
	sketch_check_interrupts = NULL;
	sketch_free(&d, M);
	sketch_free(&s, M);
	unit_free(e);
	unit_free(text);
	case_end();
}

/* ================================================================ main */

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_datasets();

	test_parameters();
	test_table();
	test_index();
	test_bucket_values();
	test_accuracy();
	test_rank();
	test_merge_partitions();
	test_merge_scales();
	test_merge_misc();
	test_sum();
	test_roundtrip();
	test_reject_values();
	test_reject_encodings();
	test_reject_crafted();
	test_reject_texts();
	test_small_size();
	test_histogram();
	test_interrupts();

	case_begin("no memory is left allocated");
	CHECKF(unit_live == 0, "%ld blocks", unit_live);
	case_end();

	for (int di = 0; di < ndatasets; di++)
	{
		free(datasets[di].v);
		free(datasets[di].iv);
	}
	return unit_finish();
}
