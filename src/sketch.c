/*
 * sketch.c
 *	  Mergeable relative-error percentile sketch: the pure-C core.
 *
 * See sketch.h for the contract.  Design notes:
 *
 * - Bucket index: the exponent bits give the octave; the top 13 mantissa
 *   bits pick a slice of [1, 2) from a generated table, and one comparison
 *   with the boundary table finishes the job.  No libm on the hot path, and
 *   the same answer on every machine.
 * - Memory: a new sketch holds its first 60 values as 16-bit keys in a
 *   buffer inside the struct, and the sum's first four chunks inline, so
 *   a small sketch is one 256-byte block and the many small groups of a
 *   GROUP BY stay small; once the buffer fills it spills into dense
 *   per-sign windows of counts (grown geometrically), which make each
 *   later addition O(1).
 * - The sum is exact: a double is an integer times a power of two, so the
 *   sum of any number of doubles is an integer multiple of 2^-1074 that
 *   needs at most ~2170 bits.  It is held in 32-bit digits stored in 64-bit
 *   chunks, so carries can be deferred for 2^30 additions.
 */
#include "sketch.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

void		(*sketch_check_interrupts) (void) = NULL;

#define FRAC_BITS		52
#define FRAC_MASK		((UINT64_C(1) << FRAC_BITS) - 1)
#define SLICE_BITS		(SKETCH_MAX_SCALE + 1)
#define SUM_BIAS		1074	/* bit 0 of the sum weighs 2^-1074 */
#define SUM_MAX_CHUNKS	72		/* 2^(32*72 - 1074) covers 2^64 * DBL_MAX */
#define SUM_MAX_BYTES	(SUM_MAX_CHUNKS * 4)
#define SUM_CARRY_EVERY (UINT32_C(1) << 30)
#define INTERRUPT_EVERY 4096

/* bucket indexes of the smallest and largest positive doubles at scale 12 */
#define INDEX_MIN		(-1074 * SKETCH_TABLE_SIZE - 1)
#define INDEX_MAX		(1024 * SKETCH_TABLE_SIZE - 1)

static void
MaybeInterrupt(uint64_t i)
{
	if (sketch_check_interrupts != NULL && (i % INTERRUPT_EVERY) == 0)
		sketch_check_interrupts();
}

/* floor(i / 2^k), whatever the sign of i and the compiler's >> */
static inline int32_t
FloorShift(int32_t i, int k)
{
	if (i >= 0)
		return i >> k;
	return -(int32_t) (((uint32_t) (-(i + 1))) >> k) - 1;
}

static void
SetErr(char *err, size_t errlen, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", msg);
}

/* ---------------------------------------------------------------- params */

/* The error bound of scale s: (b-1)/(b+1), b = 2^(2^-s). */
double
sketch_error_for_scale(int scale)
{
	double		b = sketch_bounds[1 << (SKETCH_MAX_SCALE - scale)];

	return (b - 1.0) / (b + 1.0);
}

/* The coarsest scale whose bound is at most relative_error. */
SketchStatus
sketch_scale_for_error(double relative_error, int *scale)
{
	if (!(relative_error > 0.0 && relative_error < 0.5))
		return SKETCH_BAD_PARAM;	/* also refuses NaN */
	for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
	{
		if (sketch_error_for_scale(s) <= relative_error)
		{
			*scale = s;
			return SKETCH_OK;
		}
	}
	return SKETCH_BAD_PARAM;
}

double
sketch_relative_error(const Sketch *s)
{
	return sketch_error_for_scale(s->scale);
}

/* ---------------------------------------------------------------- mapping */

/*
 * Per-scale copies of the tables, derived exactly from the scale-12 ones:
 * at scale s, slice p of [1, 2) (2^(s+1) slices) starts above boundary
 * slice12[p << (12 - s)] >> (12 - s), and the boundaries are every
 * 2^(12 - s)-th one.  A sketch at scale 7 then touches 1.5 kB of table, not
 * 48 kB, which keeps the lookup in the L1 cache.
 */
#define SCALED_SLICES	(4 * SKETCH_TABLE_SIZE)
#define SCALED_BOUNDS	(2 * SKETCH_TABLE_SIZE + SKETCH_MAX_SCALE + 1)

static uint16_t scaled_slice[SCALED_SLICES];
static double scaled_bounds[SCALED_BOUNDS];
static int	slice_at[SKETCH_MAX_SCALE + 1];
static int	bounds_at[SKETCH_MAX_SCALE + 1];
static bool tables_ready = false;

static void
InitTables(void)
{
	int			ns = 0,
				nb = 0;

	for (int s = 0; s <= SKETCH_MAX_SCALE; s++)
	{
		int			shift = SKETCH_MAX_SCALE - s;

		slice_at[s] = ns;
		bounds_at[s] = nb;
		for (int p = 0; p < (2 << s); p++)
			scaled_slice[ns++] = (uint16_t) (sketch_slice[p << shift] >> shift);
		for (int j = 0; j <= (1 << s); j++)
			scaled_bounds[nb++] = sketch_bounds[j << shift];
	}
	tables_ready = true;
}

/*
 * The bucket of a finite magnitude > 0 at the given scale: the i with
 * 2^(i/2^scale) < magnitude <= 2^((i+1)/2^scale).
 */
int32_t
sketch_index(double magnitude, int scale)
{
	uint64_t	bits;
	uint64_t	frac;
	int			exponent;

	if (!tables_ready)
		InitTables();
	memcpy(&bits, &magnitude, sizeof(bits));
	frac = bits & FRAC_MASK;
	exponent = (int) ((bits >> FRAC_BITS) & 0x7ff);
	if (exponent == 0)
	{
		/* subnormal: normalise so that frac holds the bits below the top */
		int			top = 63 - __builtin_clzll(frac);

		exponent = top - SUM_BIAS;
		frac = (frac << (FRAC_BITS - top)) & FRAC_MASK;
	}
	else
		exponent -= 1023;

	if (frac == 0)				/* a power of two closes the bucket below */
		return exponent * (1 << scale) - 1;
	else
	{
		uint64_t	mbits = (UINT64_C(1023) << FRAC_BITS) | frac;
		double		m;
		const double *bounds = scaled_bounds + bounds_at[scale];
		int			j = scaled_slice[slice_at[scale] + (frac >> (FRAC_BITS - 1 - scale))];

		memcpy(&m, &mbits, sizeof(m));
		if (bounds[j + 1] < m)
			j++;
		return exponent * (1 << scale) + j;
	}
}

/* The representative magnitude of bucket i: 2LU/(L+U). */
double
sketch_bucket_value(int32_t index, int scale)
{
	int32_t		octave = FloorShift(index, scale);
	int32_t		j = index - octave * (1 << scale);
	double		b = sketch_bounds[1 << (SKETCH_MAX_SCALE - scale)];
	double		lower = sketch_bounds[j << (SKETCH_MAX_SCALE - scale)];

	return ldexp(lower * (2.0 * b / (1.0 + b)), octave);
}

/* lowest and highest valid bucket index at a scale */
static inline int32_t
IndexMin(int scale)
{
	return FloorShift(INDEX_MIN, SKETCH_MAX_SCALE - scale);
}

static inline int32_t
IndexMax(int scale)
{
	return FloorShift(INDEX_MAX, SKETCH_MAX_SCALE - scale);
}

/* ---------------------------------------------------------------- exact sum */

static inline int64_t *
Chunks(SketchSum *sum)
{
	return sum->heap ? sum->heap : sum->inl;
}

/* chunks allocated on the heap for a window of n: a function of n alone */
static int
HeapCap(int n)
{
	int			cap = 8;

	while (cap < n)
		cap *= 2;
	return cap < SUM_MAX_CHUNKS ? cap : SUM_MAX_CHUNKS;
}

/* Make the chunk window cover chunks lo..hi (and whatever it covered). */
static SketchStatus
SumReserve(SketchSum *sum, int lo, int hi, const SketchMem *mem)
{
	int			newlo,
				newhi,
				n;
	int64_t		old[SUM_MAX_CHUNKS];
	int64_t    *chunk;

	if (sum->n > 0 && lo >= sum->lo && hi < sum->lo + sum->n)
		return SKETCH_OK;
	newlo = sum->n > 0 && sum->lo < lo ? sum->lo : lo;
	newhi = sum->n > 0 && sum->lo + sum->n - 1 > hi ? sum->lo + sum->n - 1 : hi;
	if (newlo < 0 || newhi >= SUM_MAX_CHUNKS)
		return SKETCH_OVERFLOW;
	n = newhi - newlo + 1;
	memcpy(old, Chunks(sum), sizeof(int64_t) * sum->n);
	if (n > SKETCH_SUM_INLINE &&
		(sum->heap == NULL || HeapCap(n) > HeapCap(sum->n)))
	{
		chunk = mem->fn(sum->heap, sizeof(int64_t) * HeapCap(n), mem->arg);
		if (chunk == NULL)
			return SKETCH_NOMEM;
		sum->heap = chunk;
	}
	chunk = Chunks(sum);
	memset(chunk, 0, sizeof(int64_t) * n);
	memcpy(chunk + (sum->lo - newlo), old, sizeof(int64_t) * sum->n);
	sum->lo = (int16_t) newlo;
	sum->n = (int16_t) n;
	return SKETCH_OK;
}

/*
 * Propagate carries so that every chunk but the top one holds a digit in
 * [0, 2^32); the top chunk keeps the sign.
 */
static void
CarryChunks(int64_t *chunk, int n)
{
	int64_t		carry = 0;

	for (int k = 0; k < n - 1; k++)
	{
		int64_t		v = chunk[k] + carry;

		chunk[k] = v & INT64_C(0xffffffff);
		carry = (v - chunk[k]) / (INT64_C(1) << 32);
	}
	if (n > 0)
		chunk[n - 1] += carry;
}

static void
SumCarry(SketchSum *sum)
{
	CarryChunks(Chunks(sum), sum->n);
	sum->adds = 0;
}

/*
 * The periodic carry pass of the add paths.  The window keeps no spare
 * chunk (so that a sum spanning two chunk positions fits inline); instead,
 * when the top chunk has outgrown a digit, the window grows by one.  Between
 * passes the top chunk gains less than 2^30 * 2^33, so it cannot overflow.
 */
static SketchStatus
SumCarryGrow(SketchSum *sum, const SketchMem *mem)
{
	int64_t		top;

	if (sum->n == 0)
		return SKETCH_OK;
	SumCarry(sum);
	top = Chunks(sum)[sum->n - 1];
	if (top >= (INT64_C(1) << 32) || top < -(INT64_C(1) << 32))
	{
		SketchStatus st = SumReserve(sum, sum->lo, sum->lo + sum->n, mem);

		if (st != SKETCH_OK)
			return st;
		SumCarry(sum);
	}
	return SKETCH_OK;
}

/*
 * Room for three digits from bit pos; carries go to the top chunk (see
 * SumCarryGrow).  Once it is made, SumAddMag at pos allocates nothing
 * before the value is in.
 */
static inline SketchStatus
SumRoom(SketchSum *sum, int pos, const SketchMem *mem)
{
	int			c = pos >> 5;

	if (c < sum->lo || c + 2 >= sum->lo + sum->n)
		return SumReserve(sum, c, c + 2, mem);
	return SKETCH_OK;
}

/* add (negative ? -1 : 1) * mag * 2^(pos - 1074), pos >= 0 */
static inline SketchStatus
SumAddMag(SketchSum *sum, bool negative, uint64_t mag, int pos,
		  const SketchMem *mem)
{
	int			c = pos >> 5;
	int			shift = pos & 31;
	uint64_t	low = mag << shift;
	uint64_t	d[3];
	SketchStatus st;

	if (mag == 0)
		return SKETCH_OK;
	if ((st = SumRoom(sum, pos, mem)) != SKETCH_OK)
		return st;
	d[0] = low & 0xffffffff;
	d[1] = low >> 32;
	d[2] = shift ? mag >> (64 - shift) : 0;
	for (int k = 0; k < 3; k++)
	{
		int64_t		v = (int64_t) d[k];

		Chunks(sum)[c - sum->lo + k] += negative ? -v : v;
	}
	if (++sum->adds >= SUM_CARRY_EVERY)
		return SumCarryGrow(sum, mem);
	return SKETCH_OK;
}

/* a finite double as sign, integer magnitude and bit position */
static void
SplitDouble(double x, bool *negative, uint64_t *mag, int *pos)
{
	uint64_t	bits;
	int			e;

	memcpy(&bits, &x, sizeof(bits));
	*negative = (bits >> 63) != 0;
	e = (int) ((bits >> FRAC_BITS) & 0x7ff);
	*mag = bits & FRAC_MASK;
	if (e == 0)
		*pos = 0;
	else
	{
		*mag |= UINT64_C(1) << FRAC_BITS;
		*pos = e - 1;
	}
}

static SketchStatus
SumAddDouble(SketchSum *sum, double x, const SketchMem *mem)
{
	bool		negative;
	uint64_t	mag;
	int			pos;

	SplitDouble(x, &negative, &mag, &pos);
	return SumAddMag(sum, negative, mag, pos, mem);
}

static SketchStatus
SumMerge(SketchSum *dst, const SketchSum *src, const SketchMem *mem)
{
	int64_t		tmp[SUM_MAX_CHUNKS + 1];
	int			n = src->n + 1;
	SketchStatus st;

	if (src->n == 0)
		return SKETCH_OK;
	/* src's digits, carried into one more chunk so each is below 2^32 */
	memcpy(tmp, src->heap ? src->heap : src->inl, sizeof(int64_t) * src->n);
	tmp[src->n] = 0;
	CarryChunks(tmp, n);
	/* fold a top chunk of 0 or -1 (a negative sum's sign) into the one below */
	while (n > 1 && (tmp[n - 1] == 0 || tmp[n - 1] == -1))
	{
		tmp[n - 2] += tmp[n - 1] * (INT64_C(1) << 32);
		n--;
	}
	if ((st = SumCarryGrow(dst, mem)) != SKETCH_OK ||
		(st = SumReserve(dst, src->lo, src->lo + n - 1, mem)) != SKETCH_OK)
		return st;
	for (int k = 0; k < n; k++)
		Chunks(dst)[src->lo - dst->lo + k] += tmp[k];
	return SumCarryGrow(dst, mem);
}

/*
 * The canonical form of the sum: sign, and the magnitude as little-endian
 * bytes whose lowest bit is set, weighing 2^exponent.  Returns the number
 * of bytes (0 for a zero sum).
 */
typedef struct SumForm
{
	bool		negative;
	int32_t		exponent;
	int			nbytes;
	uint8_t		bytes[SUM_MAX_BYTES + 8];
} SumForm;

static void
SumCanonical(const SketchSum *sum, SumForm *f)
{
	int64_t		tmp[SUM_MAX_CHUNKS + 1];
	int			n = sum->n + 1;
	int			k_lo = 0;
	int			k_hi = n - 1;
	int			nbits;
	int			lowbit;

	f->negative = false;
	f->exponent = 0;
	f->nbytes = 0;
	if (sum->n == 0)
		return;
	memcpy(tmp, sum->heap ? sum->heap : sum->inl, sizeof(int64_t) * sum->n);
	tmp[sum->n] = 0;
	CarryChunks(tmp, n);
	if (tmp[n - 1] < 0)
	{
		f->negative = true;
		for (int k = 0; k < n; k++)
			tmp[k] = -tmp[k];
		CarryChunks(tmp, n);
	}
	/* every chunk is now a digit in [0, 2^32): the extra top one absorbed */
	while (k_lo < n && tmp[k_lo] == 0)
		k_lo++;
	if (k_lo == n)
		return;
	while (tmp[k_hi] == 0)
		k_hi--;
	lowbit = 32 * k_lo + __builtin_ctzll((uint64_t) tmp[k_lo]);
	nbits = 32 * k_hi + 64 - __builtin_clzll((uint64_t) tmp[k_hi]);
	f->exponent = 32 * sum->lo + lowbit - SUM_BIAS;
	f->nbytes = (nbits - lowbit + 7) / 8;
	/* bytes of the digits shifted right by lowbit */
	for (int b = 0; b < f->nbytes; b++)
	{
		int			bit = lowbit + 8 * b;
		int			k = bit / 32;
		uint64_t	two = (uint64_t) tmp[k] | (k + 1 < n ? (uint64_t) tmp[k + 1] << 32 : 0);

		f->bytes[b] = (uint8_t) (two >> (bit % 32));
	}
	/* the top byte holds only the bits below nbits */
	if ((nbits - lowbit) % 8)
		f->bytes[f->nbytes - 1] &= (uint8_t) ((1 << ((nbits - lowbit) % 8)) - 1);
}

/* The sign of a sum: -1, 0 or 1. */
static int
SumSign(const SketchSum *sum)
{
	int64_t		tmp[SUM_MAX_CHUNKS + 1];
	int			n = sum->n + 1;

	if (sum->n == 0)
		return 0;
	memcpy(tmp, sum->heap ? sum->heap : sum->inl, sizeof(int64_t) * sum->n);
	tmp[sum->n] = 0;
	CarryChunks(tmp, n);
	if (tmp[n - 1] < 0)
		return -1;
	for (int k = 0; k < n; k++)
		if (tmp[k] != 0)
			return 1;
	return 0;
}

/* Place a canonical form into an empty sum. */
static SketchStatus
SumFromCanonical(SketchSum *sum, const SumForm *f, const SketchMem *mem)
{
	int			pos = f->exponent + SUM_BIAS;
	SketchStatus st;

	/* six bytes at a time: 48-bit magnitudes, well within an addition */
	for (int b = 0; b < f->nbytes; b += 6)
	{
		uint64_t	mag = 0;

		for (int k = b + 5; k >= b; k--)
			mag = (mag << 8) | (k < f->nbytes ? f->bytes[k] : 0);
		st = SumAddMag(sum, f->negative, mag, pos + 8 * b, mem);
		if (st != SKETCH_OK)
			return st;
	}
	SumCarry(sum);
	return SKETCH_OK;
}

/* The sum, correctly rounded to a double; SKETCH_OVERFLOW past DBL_MAX. */
SketchStatus
sketch_sum_double(const Sketch *s, double *result)
{
	SumForm		f;
	int			nbits;
	uint64_t	top = 0;
	bool		sticky = false;
	double		r;

	SumCanonical(&s->sum, &f);
	if (f.nbytes == 0)
	{
		*result = 0.0;
		return SKETCH_OK;
	}
	nbits = 8 * f.nbytes - __builtin_clz((unsigned) f.bytes[f.nbytes - 1]) + 24;
	for (int i = nbits - 1; i >= 0; i--)
	{
		int			bit = (f.bytes[i / 8] >> (i % 8)) & 1;

		if (i >= nbits - 64)
			top = (top << 1) | (uint64_t) bit;
		else if (bit)
			sticky = true;
	}
	if (sticky)
		top |= 1;				/* below the rounding position of a double */
	r = ldexp((double) top, f.exponent + (nbits > 64 ? nbits - 64 : 0));
	if (isinf(r))
		return SKETCH_OVERFLOW;
	*result = f.negative ? -r : r;
	return SKETCH_OK;
}

/* ---------------------------------------------------------------- stores */

static inline bool
StoreEmpty(const SketchStore *st)
{
	return st->lo > st->hi;
}

static void
StoreInit(SketchStore *st)
{
	st->lo = INT32_MAX;
	st->hi = INT32_MIN;
	st->off = 0;
	st->len = 0;
	st->counts = NULL;
}

static inline int64_t
StoreSpan(const SketchStore *st)
{
	return StoreEmpty(st) ? 0 : (int64_t) st->hi - st->lo + 1;
}

/*
 * Make the dense window cover [st->lo, st->hi].  A window that must grow
 * grows by half again on the side it grows (so sorted input costs
 * amortised O(1) a value, not a copy of the window per spill), but never
 * past twice the span limit; the window may reach beyond [lo, hi].
 */
static SketchStatus
StoreCover(SketchStore *st, const SketchMem *mem)
{
	int64_t		lo = st->lo;
	int64_t		hi = st->hi;
	int64_t		old_hi = (int64_t) st->off + st->len - 1;
	uint64_t   *counts;

	if (st->counts != NULL && st->off <= st->lo && st->hi <= old_hi)
		return SKETCH_OK;
	if (st->counts != NULL)
	{
		int64_t		slack = st->len / 2 > 16 ? st->len / 2 : 16;
		int64_t		need_lo = lo < st->off ? lo : st->off;
		int64_t		need_hi = hi > old_hi ? hi : old_hi;

		lo = need_lo - (st->lo < st->off ? slack : 0);
		hi = need_hi + (st->hi > old_hi ? slack : 0);
		if (hi - lo + 1 > 2 * (int64_t) SKETCH_MAX_SPAN)
		{
			lo = need_lo;
			hi = need_hi;
		}
	}
	counts = mem->fn(NULL, sizeof(uint64_t) * (size_t) (hi - lo + 1), mem->arg);
	if (counts == NULL)
		return SKETCH_NOMEM;
	memset(counts, 0, sizeof(uint64_t) * (size_t) (hi - lo + 1));
	if (st->counts != NULL)
	{
		memcpy(counts + (st->off - lo), st->counts, sizeof(uint64_t) * st->len);
		mem->fn(st->counts, 0, mem->arg);
	}
	st->counts = counts;
	st->off = (int32_t) lo;
	st->len = (int32_t) (hi - lo + 1);
	return SKETCH_OK;
}

/* Halve the resolution of a store: bucket i becomes bucket floor(i / 2). */
static void
StoreDownscale(SketchStore *st)
{
	if (StoreEmpty(st))
		return;
	st->lo = FloorShift(st->lo, 1);
	st->hi = FloorShift(st->hi, 1);
	if (st->counts != NULL)
	{
		int32_t		off = FloorShift(st->off, 1);

		for (int32_t k = 0; k < st->len; k++)
		{
			uint64_t	v = st->counts[k];
			int32_t		t = FloorShift(st->off + k, 1) - off;

			st->counts[k] = 0;
			st->counts[t] += v;
		}
		st->len = FloorShift(st->off + st->len - 1, 1) - off + 1;
		st->off = off;
	}
}

/* pending keys: (index - pending_base) << 1 | negative, in 16 bits */
#define PENDING_DELTA_MAX	16383

static inline int32_t
PendingIndex(const Sketch *s, int k)
{
	return s->pending_base + FloorShift((int16_t) s->pending[k], 1);
}

static inline bool
PendingNegative(const Sketch *s, int k)
{
	return s->pending[k] & 1;
}

static inline uint16_t
PendingKey(int32_t delta, bool negative)
{
	return (uint16_t) (int16_t) (delta * 2 + (negative ? 1 : 0));
}

static void
SketchDownscale(Sketch *s)
{
	int32_t		base = FloorShift(s->pending_base, 1);

	s->scale--;
	StoreDownscale(&s->pos);
	StoreDownscale(&s->neg);
	for (int k = 0; k < s->npending; k++)
		s->pending[k] = PendingKey(FloorShift(PendingIndex(s, k), 1) - base,
								   PendingNegative(s, k));
	s->pending_base = base;
}

/*
 * Record that bucket idx of a store is occupied, dropping scales while a
 * span is too wide.  Returns the index at the (possibly new) scale.
 */
static inline int32_t
NoteIndex(Sketch *s, SketchStore *st, int32_t idx)
{
	if (idx >= st->lo && idx <= st->hi)
		return idx;
	if (idx < st->lo)
		st->lo = idx;
	if (idx > st->hi)
		st->hi = idx;
	while (StoreSpan(&s->pos) > SKETCH_MAX_SPAN ||
		   StoreSpan(&s->neg) > SKETCH_MAX_SPAN)
	{
		SketchDownscale(s);
		idx = FloorShift(idx, 1);
	}
	return idx;
}

/* Add count to bucket idx (already noted) through the dense window. */
static SketchStatus
StoreAdd(SketchStore *st, int32_t idx, uint64_t count, const SketchMem *mem)
{
	SketchStatus rc = StoreCover(st, mem);

	if (rc != SKETCH_OK)
		return rc;
	if (st->counts[idx - st->off] > UINT64_MAX - count)
		return SKETCH_OVERFLOW;
	st->counts[idx - st->off] += count;
	return SKETCH_OK;
}

/* Move the pending keys into the dense windows. */
SketchStatus
sketch_flush(Sketch *s, const SketchMem *mem)
{
	SketchStatus rc;

	if (s->npending == 0)
		return SKETCH_OK;

	/*
	 * Both windows first, so that moving the keys allocates nothing: a
	 * longjmp out of the allocator must not leave keys both moved and
	 * pending.
	 */
	if ((!StoreEmpty(&s->pos) && (rc = StoreCover(&s->pos, mem)) != SKETCH_OK) ||
		(!StoreEmpty(&s->neg) && (rc = StoreCover(&s->neg, mem)) != SKETCH_OK))
		return rc;
	for (int k = 0; k < s->npending; k++)
	{
		SketchStore *st = PendingNegative(s, k) ? &s->neg : &s->pos;

		rc = StoreAdd(st, PendingIndex(s, k), 1, mem);
		if (rc != SKETCH_OK)
		{
			/* keep the keys not yet moved */
			memmove(s->pending, s->pending + k, sizeof(uint16_t) * (s->npending - k));
			s->npending = (uint8_t) (s->npending - k);
			return rc;
		}
	}
	s->npending = 0;
	return SKETCH_OK;
}

/* ---------------------------------------------------------------- building */

void
sketch_init(Sketch *s, int scale)
{
	memset(s, 0, sizeof(*s));
	s->scale = (int8_t) scale;
	s->initial_scale = (int8_t) scale;
	s->min = 0.0;
	s->max = 0.0;
	StoreInit(&s->pos);
	StoreInit(&s->neg);
}

void
sketch_free(Sketch *s, const SketchMem *mem)
{
	if (s->sum.heap)
		mem->fn(s->sum.heap, 0, mem->arg);
	if (s->pos.counts)
		mem->fn(s->pos.counts, 0, mem->arg);
	if (s->neg.counts)
		mem->fn(s->neg.counts, 0, mem->arg);
	sketch_init(s, s->initial_scale);
}

static SketchStatus
CheckFinite(double x)
{
	if (isnan(x))
		return SKETCH_NAN;
	if (isinf(x))
		return SKETCH_INFINITE;
	return SKETCH_OK;
}

/* count, min and max for one more value (the caller checked the count) */
static void
NoteValue(Sketch *s, double x)
{
	if (s->count == 0 || x < s->min)
		s->min = x;
	if (s->count == 0 || x > s->max)
		s->max = x;
	s->count++;
}

/* put one occurrence of a non-zero value in its bucket */
static SketchStatus
AddToBucket(Sketch *s, double x, const SketchMem *mem)
{
	bool		negative = x < 0;
	SketchStore *st = negative ? &s->neg : &s->pos;
	int32_t		idx = NoteIndex(s, st, sketch_index(fabs(x), s->scale));
	SketchStatus rc;

	if (st->counts != NULL && idx >= st->off && idx < st->off + st->len)
	{
		st->counts[idx - st->off]++;
		return SKETCH_OK;
	}
	if (s->npending == 0)
		s->pending_base = idx;
	if (s->npending < SKETCH_PENDING &&
		idx - s->pending_base >= -PENDING_DELTA_MAX - 1 &&
		idx - s->pending_base <= PENDING_DELTA_MAX)
	{
		s->pending[s->npending++] = PendingKey(idx - s->pending_base, negative);
		return SKETCH_OK;
	}
	rc = sketch_flush(s, mem);
	return rc != SKETCH_OK ? rc : StoreAdd(st, idx, 1, mem);
}

/*
 * Count one value whose sum digits (mag at bit pos) go in last.  What can
 * fail comes first: room in the sum, then the bucket; the count, min, max
 * and the sum follow, and cannot fail before the value is in.  So a failure,
 * returned or a longjmp out of the allocator, leaves the sketch valid and
 * without the value.
 */
static SketchStatus
AddValue(Sketch *s, double x, bool negative, uint64_t mag, int pos,
		 const SketchMem *mem)
{
	SketchStatus rc;

	if (s->count == UINT64_MAX)
		return SKETCH_OVERFLOW;
	if (mag != 0 && (rc = SumRoom(&s->sum, pos, mem)) != SKETCH_OK)
		return rc;
	if (x == 0.0)
		s->zero_count++;
	else if ((rc = AddToBucket(s, x, mem)) != SKETCH_OK)
		return rc;
	NoteValue(s, x);
	return SumAddMag(&s->sum, negative, mag, pos, mem);
}

/* the general path of sketch_add: zeros, subnormals, growth, errors */
static SketchStatus
AddGeneral(Sketch *s, double x, const SketchMem *mem)
{
	SketchStatus rc = CheckFinite(x);
	bool		negative;
	uint64_t	mag;
	int			pos;

	if (rc != SKETCH_OK)
		return rc;
	if (x == 0.0)
		x = 0.0;				/* -0 and 0 are one value */
	SplitDouble(x, &negative, &mag, &pos);
	return AddValue(s, x, negative, mag, pos, mem);
}

/*
 * Add one value.  The common case (a normal double whose sum digits and
 * bucket already have room) runs straight through here, about forty
 * instructions; everything else takes AddGeneral.
 */
SketchStatus
sketch_add(Sketch *s, double x, const SketchMem *mem)
{
	uint64_t	bits;
	uint64_t	frac;
	uint64_t	mag;
	int			e;
	int			pos;
	int			c;
	int			shift;
	int32_t		idx;
	SketchStore *st;
	SketchSum  *sum = &s->sum;
	int64_t    *ch;

	memcpy(&bits, &x, sizeof(bits));
	e = (int) ((bits >> FRAC_BITS) & 0x7ff);
	pos = e - 1;
	c = pos >> 5;
	if (e == 0 || e == 0x7ff || s->count == UINT64_MAX || s->count == 0 ||
		c < sum->lo || c + 2 >= sum->lo + sum->n || !tables_ready)
		return AddGeneral(s, x, mem);

	/* the bucket: is it inside its store's dense window? */
	frac = bits & FRAC_MASK;
	if (frac == 0)
		idx = (e - 1023) * (1 << s->scale) - 1;
	else
	{
		uint64_t	mbits = (UINT64_C(1023) << FRAC_BITS) | frac;
		double		m;
		const double *bounds = scaled_bounds + bounds_at[s->scale];
		int			j = scaled_slice[slice_at[s->scale] +
									 (frac >> (FRAC_BITS - 1 - s->scale))];

		memcpy(&m, &mbits, sizeof(m));
		j += bounds[j + 1] < m;
		idx = (e - 1023) * (1 << s->scale) + j;
	}
	st = (bits >> 63) ? &s->neg : &s->pos;
	if (st->counts == NULL || (uint32_t) (idx - st->off) >= (uint32_t) st->len ||
		idx < st->lo || idx > st->hi)
		return AddGeneral(s, x, mem);

	/* commit: nothing below can fail */
	st->counts[idx - st->off]++;
	if (x < s->min)
		s->min = x;
	if (x > s->max)
		s->max = x;
	s->count++;
	mag = frac | (UINT64_C(1) << FRAC_BITS);
	shift = pos & 31;
	ch = Chunks(sum) + (c - sum->lo);
	if (bits >> 63)
	{
		ch[0] -= (int64_t) ((mag << shift) & 0xffffffff);
		ch[1] -= (int64_t) ((mag << shift) >> 32);
		ch[2] -= (int64_t) (shift ? mag >> (64 - shift) : 0);
	}
	else
	{
		ch[0] += (int64_t) ((mag << shift) & 0xffffffff);
		ch[1] += (int64_t) ((mag << shift) >> 32);
		ch[2] += (int64_t) (shift ? mag >> (64 - shift) : 0);
	}
	if (++sum->adds >= SUM_CARRY_EVERY)
		return SumCarryGrow(sum, mem);
	return SKETCH_OK;
}

/* An integer: bucketed as a double, summed exactly. */
SketchStatus
sketch_add_int64(Sketch *s, int64_t v, const SketchMem *mem)
{
	uint64_t	mag = v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;

	return AddValue(s, (double) v, v < 0, mag, SUM_BIAS, mem);
}

/* Add count to bucket idx, given at scale from_scale >= s->scale. */
static SketchStatus
AddBucketCount(Sketch *s, bool negative, int32_t idx, int from_scale,
			   uint64_t count, const SketchMem *mem)
{
	SketchStore *st = negative ? &s->neg : &s->pos;

	idx = NoteIndex(s, st, FloorShift(idx, from_scale - s->scale));
	return StoreAdd(st, idx, count, mem);
}

static SketchStatus
MergeStore(Sketch *dst, const Sketch *src, const SketchStore *st, bool negative,
		   const SketchMem *mem)
{
	if (StoreEmpty(st) || st->counts == NULL)
		return SKETCH_OK;
	for (int32_t k = 0; k < st->len; k++)
	{
		SketchStatus rc;

		if (st->counts[k] == 0)
			continue;
		rc = AddBucketCount(dst, negative, st->off + k, src->scale,
							st->counts[k], mem);
		if (rc != SKETCH_OK)
			return rc;
	}
	return SKETCH_OK;
}

/*
 * Note src's outermost buckets in dst and cover them with dst's windows, so
 * that adding src's counts allocates nothing: a failure here leaves dst
 * valid, without src.
 */
static SketchStatus
MergeRoom(Sketch *dst, const Sketch *src, const SketchMem *mem)
{
	SketchStatus rc;

	for (int negative = 0; negative < 2; negative++)
	{
		const SketchStore *from = negative ? &src->neg : &src->pos;
		SketchStore *to = negative ? &dst->neg : &dst->pos;

		if (StoreEmpty(from))
			continue;
		(void) NoteIndex(dst, to, FloorShift(from->lo, src->scale - dst->scale));
		(void) NoteIndex(dst, to, FloorShift(from->hi, src->scale - dst->scale));
	}
	if ((!StoreEmpty(&dst->pos) && (rc = StoreCover(&dst->pos, mem)) != SKETCH_OK) ||
		(!StoreEmpty(&dst->neg) && (rc = StoreCover(&dst->neg, mem)) != SKETCH_OK))
		return rc;
	return SKETCH_OK;
}

/* dst := dst + src; src is not modified. */
SketchStatus
sketch_merge(Sketch *dst, const Sketch *src, const SketchMem *mem)
{
	SketchStatus rc;

	/*
	 * An empty sketch is the identity, whatever its scale; only between two
	 * empty sketches does the coarser scale win (so the result does not
	 * depend on the order).
	 */
	if (src->count == 0)
	{
		if (dst->count == 0 && src->scale < dst->scale)
			dst->scale = src->scale;
		return SKETCH_OK;
	}
	if (dst->count == 0)
		dst->scale = src->scale;
	if (dst->count > UINT64_MAX - src->count)
		return SKETCH_OVERFLOW;
	if ((rc = sketch_flush(dst, mem)) != SKETCH_OK)
		return rc;
	while (dst->scale > src->scale)
		SketchDownscale(dst);
	if ((rc = MergeRoom(dst, src, mem)) != SKETCH_OK ||
		(rc = SumMerge(&dst->sum, &src->sum, mem)) != SKETCH_OK)
		return rc;
	if (dst->count == 0 || src->min < dst->min)
		dst->min = src->min;
	if (dst->count == 0 || src->max > dst->max)
		dst->max = src->max;
	dst->count += src->count;
	dst->zero_count += src->zero_count;
	if ((rc = MergeStore(dst, src, &src->pos, false, mem)) != SKETCH_OK ||
		(rc = MergeStore(dst, src, &src->neg, true, mem)) != SKETCH_OK)
		return rc;
	for (int k = 0; k < src->npending; k++)
	{
		rc = AddBucketCount(dst, PendingNegative(src, k), PendingIndex(src, k),
							src->scale, 1, mem);
		if (rc != SKETCH_OK)
			return rc;
	}
	return SKETCH_OK;
}

/* ---------------------------------------------------------------- queries */

/* the percentile_disc rank of fraction q: max(ceil(q * count), 1) */
static uint64_t
RankOf(const Sketch *s, double q)
{
	double		r = ceil(q * (double) s->count);

	return r < 1.0 ? 1 : (r >= (double) s->count ? s->count : (uint64_t) r);
}

/* the answer for fraction q, whose rank falls in a bucket of value v */
static double
Answer(const Sketch *s, double q, double v)
{
	uint64_t	rank = RankOf(s, q);

	if (rank == 1)
		return s->min;
	if (rank == s->count)
		return s->max;
	return v < s->min ? s->min : (v > s->max ? s->max : v);
}

/*
 * percentile_disc answers for n fractions q (ascending, in [0, 1]) in one
 * walk of the buckets in value order (negative magnitudes from the
 * largest, zero, positive from the smallest): the value of rank
 * max(ceil(q * count), 1), within the relative error, clamped to
 * [min, max].  Returns false for an empty sketch.
 */
bool
sketch_quantiles_sorted(const Sketch *s, const double *q, int n, double *result)
{
	const SketchStore *neg = &s->neg;
	const SketchStore *pos = &s->pos;
	uint64_t	seen = 0;
	int			i = 0;

	if (s->count == 0)
		return false;
#define EMIT(v) \
	while (i < n && RankOf(s, q[i]) <= seen) \
	{ \
		result[i] = Answer(s, q[i], (v)); \
		i++; \
	}
	if (!StoreEmpty(neg) && neg->counts != NULL)
		for (int32_t k = neg->len - 1; k >= 0 && i < n; k--)
		{
			if (neg->counts[k] == 0)
				continue;
			seen += neg->counts[k];
			EMIT(-sketch_bucket_value(neg->off + k, s->scale));
		}
	seen += s->zero_count;
	if (s->zero_count > 0)
		EMIT(0.0);
	if (!StoreEmpty(pos) && pos->counts != NULL)
		for (int32_t k = 0; k < pos->len && i < n; k++)
		{
			if (pos->counts[k] == 0)
				continue;
			seen += pos->counts[k];
			EMIT(sketch_bucket_value(pos->off + k, s->scale));
		}
#undef EMIT
	for (; i < n; i++)
		result[i] = s->max;
	return true;
}

/* One fraction: see sketch_quantiles_sorted. */
bool
sketch_quantile(const Sketch *s, double q, double *result)
{
	return sketch_quantiles_sorted(s, &q, 1, result);
}

/*
 * The fraction of values <= value, counting the whole bucket that holds
 * value (so quantile(rank(v)) lands in v's bucket).  Exact below min, at
 * and above max, and for zero.
 */
bool
sketch_rank(const Sketch *s, double value, double *result)
{
	uint64_t	below = 0;

	if (s->count == 0)
		return false;
	if (value < s->min)
		below = 0;
	else if (value >= s->max)
		below = s->count;
	else if (value < 0)
	{
		int32_t		idx = sketch_index(-value, s->scale);

		for (int32_t k = 0; k < s->neg.len; k++)
			if (s->neg.off + k >= idx)
				below += s->neg.counts[k];
	}
	else
	{
		below = s->count;
		if (!StoreEmpty(&s->pos))
		{
			int32_t		idx = value == 0 ? INT32_MIN : sketch_index(value, s->scale);

			for (int32_t k = 0; k < s->pos.len; k++)
				if (s->pos.off + k > idx)
					below -= s->pos.counts[k];
		}
	}
	*result = (double) below / (double) s->count;
	return true;
}

/* ---------------------------------------------------------------- binary */

typedef struct Buf
{
	uint8_t    *data;
	size_t		len;
	size_t		cap;
	const SketchMem *mem;
	bool		failed;
} Buf;

static void
BufPut(Buf *b, const void *p, size_t n)
{
	if (b->failed || n == 0)
		return;
	if (b->len + n > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 64;
		uint8_t    *d;

		while (cap < b->len + n)
			cap *= 2;
		d = b->mem->fn(b->data, cap, b->mem->arg);
		if (d == NULL)
		{
			b->failed = true;
			return;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
}

static void
PutVarint(Buf *b, uint64_t v)
{
	uint8_t		tmp[10];
	int			n = 0;

	do
	{
		tmp[n] = (uint8_t) (v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	BufPut(b, tmp, n);
}

static inline uint64_t
ZigZag(int64_t v)
{
	return v < 0 ? ((uint64_t) (-(v + 1)) << 1) | 1 : (uint64_t) v << 1;
}

static inline int64_t
UnZigZag(uint64_t v)
{
	return (v & 1) ? -(int64_t) (v >> 1) - 1 : (int64_t) (v >> 1);
}

static void
PutDouble(Buf *b, double x)
{
	uint64_t	bits;
	uint8_t		tmp[8];

	memcpy(&bits, &x, sizeof(bits));
	for (int k = 0; k < 8; k++)
		tmp[k] = (uint8_t) (bits >> (8 * k));
	BufPut(b, tmp, 8);
}

static uint64_t
CountBuckets(const SketchStore *st)
{
	uint64_t	n = 0;

	if (!StoreEmpty(st))
		for (int32_t k = 0; k < st->len; k++)
			n += st->counts[k] != 0;
	return n;
}

/* a store: bucket count, first index, then (gap << 1 | count > 1) [count-2] */
static void
PutStore(Buf *b, const SketchStore *st)
{
	uint64_t	n = CountBuckets(st);
	int32_t		prev = 0;
	bool		first = true;

	PutVarint(b, n);
	if (n == 0)
		return;
	for (int32_t k = 0; k < st->len; k++)
	{
		uint64_t	c = st->counts[k];
		int32_t		idx = st->off + k;

		if (c == 0)
			continue;
		if (first)
			PutVarint(b, ZigZag(idx));
		PutVarint(b, ((uint64_t) (first ? 0 : idx - prev) << 1) | (c > 1));
		if (c > 1)
			PutVarint(b, c - 2);
		prev = idx;
		first = false;
	}
}

static void
PutSum(Buf *b, const SketchSum *sum)
{
	SumForm		f;

	SumCanonical(sum, &f);
	PutVarint(b, ((uint64_t) f.nbytes << 1) | f.negative);
	if (f.nbytes == 0)
		return;
	PutVarint(b, ZigZag(f.exponent));
	BufPut(b, f.bytes, f.nbytes);
}

/*
 * version, scale, count; then, when count > 0: min, max (IEEE, little
 * endian), sum, zero count, positive store, negative store.
 */
SketchStatus
sketch_encode(Sketch *s, const SketchMem *mem, uint8_t **out, size_t *outlen)
{
	Buf			b = {NULL, 0, 0, mem, false};
	uint8_t		head[2] = {SKETCH_FORMAT_VERSION, (uint8_t) s->scale};
	SketchStatus rc = sketch_flush(s, mem);

	if (rc != SKETCH_OK)
		return rc;
	BufPut(&b, head, 2);
	PutVarint(&b, s->count);
	if (s->count > 0)
	{
		PutDouble(&b, s->min);
		PutDouble(&b, s->max);
		PutSum(&b, &s->sum);
		PutVarint(&b, s->zero_count);
		PutStore(&b, &s->pos);
		PutStore(&b, &s->neg);
	}
	if (b.failed)
	{
		if (b.data)
			mem->fn(b.data, 0, mem->arg);
		return SKETCH_NOMEM;
	}
	*out = b.data;
	*outlen = b.len;
	return SKETCH_OK;
}

/* where a parser reports its first error */
typedef struct ParseErr
{
	char	   *err;
	size_t		errlen;
	bool		failed;
} ParseErr;

/* Record the first error; always false, to end a chain of && */
static bool
FailAt(ParseErr *e, const char *msg)
{
	if (!e->failed)
		SetErr(e->err, e->errlen, msg);
	e->failed = true;
	return false;
}

typedef struct Reader
{
	const uint8_t *p;
	const uint8_t *end;
	ParseErr	e;
	bool		nomem;			/* the failure was the allocator's */
} Reader;

#define Fail(r, msg) FailAt(&(r)->e, (msg))

/* a minimal LEB128 varint of at most 64 bits */
static bool
GetVarint(Reader *r, uint64_t *v)
{
	uint64_t	x = 0;

	for (int shift = 0;; shift += 7)
	{
		uint8_t		c;

		if (r->p >= r->end)
			return Fail(r, "unexpected end of data");
		c = *r->p++;
		if (shift == 63 && c > 1)
			return Fail(r, "varint out of range");
		x |= (uint64_t) (c & 0x7f) << shift;
		if (!(c & 0x80))
		{
			if (c == 0 && shift > 0)
				return Fail(r, "varint is not minimally encoded");
			break;
		}
	}
	*v = x;
	return true;
}

static bool
GetDouble(Reader *r, double *x)
{
	uint64_t	bits = 0;

	if (r->end - r->p < 8)
		return Fail(r, "unexpected end of data");
	for (int k = 0; k < 8; k++)
		bits |= (uint64_t) r->p[k] << (8 * k);
	r->p += 8;
	memcpy(x, &bits, sizeof(bits));
	if (!isfinite(*x))
		return Fail(r, "min and max must be finite");
	if (*x == 0.0 && signbit(*x))
		return Fail(r, "negative zero is not canonical");
	return true;
}

static bool
GetSum(Reader *r, SumForm *f)
{
	uint64_t	head,
				e;

	memset(f, 0, sizeof(*f));
	if (!GetVarint(r, &head))
		return false;
	f->negative = head & 1;
	if ((head >> 1) > SUM_MAX_BYTES)
		return Fail(r, "sum is too long");
	f->nbytes = (int) (head >> 1);
	if (f->nbytes == 0)
		return f->negative ? Fail(r, "negative zero sum is not canonical") : true;
	if (!GetVarint(r, &e))
		return false;
	/* range of the exponent first, so that the sum below cannot overflow */
	if (UnZigZag(e) < -SUM_BIAS || UnZigZag(e) > 32 * SUM_MAX_CHUNKS ||
		UnZigZag(e) + 8 * (int64_t) f->nbytes > 32 * (SUM_MAX_CHUNKS - 4) - SUM_BIAS)
		return Fail(r, "sum exponent out of range");
	f->exponent = (int32_t) UnZigZag(e);
	if (r->end - r->p < f->nbytes)
		return Fail(r, "unexpected end of data");
	memcpy(f->bytes, r->p, f->nbytes);
	r->p += f->nbytes;
	if (!(f->bytes[0] & 1) || f->bytes[f->nbytes - 1] == 0)
		return Fail(r, "sum is not canonical");
	return true;
}

/* Read a store into s, checking indexes, order, span and counts. */
static bool
GetStore(Reader *r, Sketch *s, bool negative, uint64_t *total,
		 const SketchMem *mem)
{
	uint64_t	n,
				v;
	int64_t		idx = 0;
	SketchStore *st = negative ? &s->neg : &s->pos;

	if (!GetVarint(r, &n))
		return false;
	if (n > SKETCH_MAX_SPAN || n > (uint64_t) (r->end - r->p))
		return Fail(r, "too many buckets");
	for (uint64_t k = 0; k < n; k++)
	{
		uint64_t	c = 1;
		uint64_t	gap;

		MaybeInterrupt(k + 1);
		if (k == 0)
		{
			if (!GetVarint(r, &v))
				return false;
			idx = UnZigZag(v);
		}
		if (!GetVarint(r, &v))
			return false;
		gap = v >> 1;
		if ((k == 0) != (gap == 0) || gap >= SKETCH_MAX_SPAN)
			return Fail(r, "bucket indexes must increase within the span");
		idx += (int64_t) gap;
		if (v & 1)
		{
			if (!GetVarint(r, &c))
				return false;
			if (c > UINT64_MAX - 2)
				return Fail(r, "bucket count out of range");
			c += 2;
		}
		if (idx < IndexMin(s->scale) || idx > IndexMax(s->scale))
			return Fail(r, "bucket index out of range");
		if (!StoreEmpty(st) && idx - st->lo >= SKETCH_MAX_SPAN)
			return Fail(r, "bucket span too wide for the scale");
		if (*total > UINT64_MAX - c)
			return Fail(r, "bucket counts exceed the count");
		*total += c;
		if (idx < st->lo)
			st->lo = (int32_t) idx;
		st->hi = (int32_t) idx;
	}
	if (n > 0 && StoreCover(st, mem) != SKETCH_OK)
	{
		r->nomem = true;
		return Fail(r, "out of memory");
	}
	return true;
}

/* replay the (already validated) store entries into the dense window */
static void
FillStore(const uint8_t *p, const uint8_t *end, SketchStore *st)
{
	Reader		r = {p, end, {NULL, 0, false}, false};
	uint64_t	n,
				v,
				c;
	int64_t		idx = 0;

	(void) GetVarint(&r, &n);
	for (uint64_t k = 0; k < n; k++)
	{
		if (k == 0)
		{
			(void) GetVarint(&r, &v);
			idx = UnZigZag(v);
		}
		(void) GetVarint(&r, &v);
		idx += (int64_t) (v >> 1);
		c = 1;
		if (v & 1)
		{
			(void) GetVarint(&r, &c);
			c += 2;
		}
		st->counts[idx - st->off] = c;
	}
}

static SketchStatus SumAddScaled(SketchSum *sum, double x, uint64_t count,
								 const SketchMem *mem);

static void *
StackAlloc(void *ptr, size_t size, void *arg)
{
	/* only SumReserve's one heap request can reach here: hand out arg */
	(void) ptr;
	return size > 0 ? arg : NULL;
}

/* sign of (value of f) - count * x, computed exactly */
static int
CompareSumScaled(const SumForm *f, double x, uint64_t count)
{
	int64_t		heap[SUM_MAX_CHUNKS];
	SketchMem	mem = {StackAlloc, heap};
	SketchSum	w;

	memset(&w, 0, sizeof(w));
	if (SumFromCanonical(&w, f, &mem) != SKETCH_OK ||
		SumAddScaled(&w, -x, count, &mem) != SKETCH_OK)
		return 0;				/* cannot happen for decodable fields */
	return SumSign(&w);
}

/*
 * count * min <= sum <= count * max, exactly, with one ulp of slack a value:
 * a bigint such as 2^53 + 1 is bucketed, and kept as min and max, as the
 * double 2^53 while the sum holds it exactly, and a histogram's sum is a
 * rounded double.
 */
static bool
SumWithinBounds(const Sketch *s, const SumForm *f)
{
	double		lower = nextafter(s->min, -INFINITY);
	double		upper = nextafter(s->max, INFINITY);

	return CompareSumScaled(f, isinf(lower) ? s->min : lower, s->count) >= 0 &&
		CompareSumScaled(f, isinf(upper) ? s->max : upper, s->count) <= 0;
}

/* the value that comes first (or last) in order is in the right bucket */
static bool
ExtremeConsistent(const Sketch *s, double x, bool is_min)
{
	const SketchStore *first = is_min ? &s->neg : &s->pos;
	const SketchStore *last = is_min ? &s->pos : &s->neg;

	if (!StoreEmpty(first))
		return (is_min ? x < 0 : x > 0) &&
			sketch_index(fabs(x), s->scale) == first->hi;
	if (s->zero_count > 0)
		return x == 0.0;
	return (is_min ? x > 0 : x < 0) && !StoreEmpty(last) &&
		sketch_index(fabs(x), s->scale) == last->lo;
}

/*
 * Decode and validate a canonical binary sketch into s (initialised here).
 * Every field is checked, so that whatever bytes arrive, the result is a
 * sketch that the add path could have built.
 */
SketchStatus
sketch_decode(const uint8_t *buf, size_t len, Sketch *s, const SketchMem *mem,
			  char *err, size_t errlen)
{
	Reader		r = {buf, buf + len, {err, errlen, false}, false};
	uint64_t	total = 0;
	SumForm		sum;
	const uint8_t *pos_start;
	const uint8_t *neg_start;

	sketch_init(s, 0);
	if (len < 3)
		return Fail(&r, "unexpected end of data"), SKETCH_CORRUPT;
	if (buf[0] != SKETCH_FORMAT_VERSION)
		return Fail(&r, "unsupported format version"), SKETCH_CORRUPT;
	if (buf[1] > SKETCH_MAX_SCALE)
		return Fail(&r, "scale out of range"), SKETCH_CORRUPT;
	s->scale = (int8_t) buf[1];
	s->initial_scale = s->scale;
	r.p += 2;
	if (!GetVarint(&r, &s->count))
		goto fail;
	if (s->count == 0)
	{
		if (r.p != r.end)
			Fail(&r, "trailing data");
		goto done;
	}
	if (!GetDouble(&r, &s->min) || !GetDouble(&r, &s->max) ||
		!GetSum(&r, &sum) || !GetVarint(&r, &s->zero_count))
		goto fail;
	if (s->min > s->max || (s->count == 1 && s->min != s->max))
		Fail(&r, "min and max disagree with the count");
	total = s->zero_count;
	pos_start = r.p;
	if (r.e.failed || !GetStore(&r, s, false, &total, mem))
		goto fail;
	neg_start = r.p;
	if (!GetStore(&r, s, true, &total, mem))
		goto fail;
	if (r.p != r.end)
		Fail(&r, "trailing data");
	else if (total != s->count)
		Fail(&r, "bucket counts do not add up to the count");
	else if (!ExtremeConsistent(s, s->min, true) ||
			 !ExtremeConsistent(s, s->max, false))
		Fail(&r, "min or max is not in the first or last bucket");
	else if ((sum.negative && s->min >= 0) ||
			 (!sum.negative && sum.nbytes > 0 && s->max <= 0) ||
			 (sum.nbytes == 0 && (s->min > 0 || s->max < 0)))
		Fail(&r, "sum disagrees with min and max");
	if (r.e.failed)
		goto fail;
	if (!SumWithinBounds(s, &sum))
	{
		Fail(&r, "sum is not between count * min and count * max");
		goto fail;
	}
	if (!StoreEmpty(&s->pos))
		FillStore(pos_start, neg_start, &s->pos);
	if (!StoreEmpty(&s->neg))
		FillStore(neg_start, r.end, &s->neg);
	if (SumFromCanonical(&s->sum, &sum, mem) != SKETCH_OK)
	{
		sketch_free(s, mem);
		return SKETCH_NOMEM;
	}
done:
	if (!r.e.failed)
		return SKETCH_OK;
fail:
	sketch_free(s, mem);
	return r.nomem ? SKETCH_NOMEM : SKETCH_CORRUPT;
}

/* ---------------------------------------------------------------- text */

static void PutText(Buf *b, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
PutText(Buf *b, const char *fmt,...)
{
	char		tmp[64];
	va_list		ap;
	int			n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	BufPut(b, tmp, (size_t) n);
}

static void
FormatStore(Buf *b, const char *name, const SketchStore *st)
{
	bool		first = true;

	PutText(b, " %s=", name);
	if (StoreEmpty(st))
		return;
	for (int32_t k = 0; k < st->len; k++)
	{
		if (st->counts[k] == 0)
			continue;
		PutText(b, "%s%d:%llu", first ? "" : ",", (int) (st->off + k),
				(unsigned long long) st->counts[k]);
		first = false;
	}
}

/*
 * The text form, lossless:
 *   v1 scale=7 count=3 min=1.5 max=8 sum=0x13p-1 zero=0 pos=74:1,... neg=
 * (an empty sketch stops after count=0).  Doubles print with 17 significant
 * digits, which read back to the same bits; the sum prints as its exact
 * canonical binary form: an odd hexadecimal integer times a power of two.
 */
SketchStatus
sketch_format(Sketch *s, const SketchMem *mem, char **out)
{
	Buf			b = {NULL, 0, 0, mem, false};
	SketchStatus rc = sketch_flush(s, mem);

	if (rc != SKETCH_OK)
		return rc;
	PutText(&b, "v%d scale=%d count=%llu", SKETCH_FORMAT_VERSION, s->scale,
			(unsigned long long) s->count);
	if (s->count > 0)
	{
		SumForm		f;

		PutText(&b, " min=%.17g max=%.17g sum=", s->min, s->max);
		SumCanonical(&s->sum, &f);
		if (f.nbytes == 0)
			PutText(&b, "0");
		else
		{
			bool		lead = true;

			PutText(&b, "%s0x", f.negative ? "-" : "");
			for (int i = f.nbytes - 1; i >= 0; i--)
			{
				if (lead && f.bytes[i] < 16)
					PutText(&b, "%x", f.bytes[i]);
				else
					PutText(&b, "%02x", f.bytes[i]);
				lead = false;
			}
			PutText(&b, "p%d", (int) f.exponent);
		}
		PutText(&b, " zero=%llu", (unsigned long long) s->zero_count);
		FormatStore(&b, "pos", &s->pos);
		FormatStore(&b, "neg", &s->neg);
	}
	BufPut(&b, "", 1);
	if (b.failed)
	{
		if (b.data)
			mem->fn(b.data, 0, mem->arg);
		return SKETCH_NOMEM;
	}
	*out = (char *) b.data;
	return SKETCH_OK;
}

typedef struct TextReader
{
	const char *p;
	ParseErr	e;
} TextReader;

#define TFail(t, msg) FailAt(&(t)->e, (msg))

/* the literal word (e.g. " count=") must come next */
static bool
Expect(TextReader *t, const char *word)
{
	size_t		n = strlen(word);

	if (strncmp(t->p, word, n) != 0)
	{
		char		msg[64];

		snprintf(msg, sizeof(msg), "expected \"%s\"", word);
		return TFail(t, msg);
	}
	t->p += n;
	return true;
}

static bool
ParseU64(TextReader *t, uint64_t *v)
{
	uint64_t	x = 0;

	if (*t->p < '0' || *t->p > '9')
		return TFail(t, "expected an unsigned integer");
	if (t->p[0] == '0' && t->p[1] >= '0' && t->p[1] <= '9')
		return TFail(t, "leading zeros are not allowed");
	for (; *t->p >= '0' && *t->p <= '9'; t->p++)
	{
		if (x > (UINT64_MAX - (uint64_t) (*t->p - '0')) / 10)
			return TFail(t, "integer out of range");
		x = x * 10 + (uint64_t) (*t->p - '0');
	}
	*v = x;
	return true;
}

static bool
ParseI64(TextReader *t, int64_t *v)
{
	bool		negative = *t->p == '-';
	uint64_t	mag;

	if (negative)
		t->p++;
	if (!ParseU64(t, &mag))
		return false;
	if (mag > (uint64_t) INT32_MAX + 1 || (negative && mag == 0))
		return TFail(t, "integer out of range");
	*v = negative ? -(int64_t) mag : (int64_t) mag;
	return true;
}

static bool
ParseDouble(TextReader *t, double *x)
{
	char	   *end;
	const char *p = t->p;

	/* strtod's own grammar, less what it accepts beyond plain numbers */
	if (*p == '-')
		p++;
	if (!((*p >= '0' && *p <= '9') || *p == '.'))
		return TFail(t, "expected a number");
	*x = strtod(t->p, &end);
	if (end == t->p || (*end != ' ' && *end != '\0'))
		return TFail(t, "expected a number");
	t->p = end;
	return true;
}

/* "0" or [-]0x<hex digits, no leading zero>p<exponent> */
static bool
ParseSum(TextReader *t, Buf *b)
{
	bool		negative = false;
	const char *digits;
	size_t		ndigits = 0;
	int64_t		exponent;
	uint8_t		bytes[SUM_MAX_BYTES + 1];
	size_t		nbytes;

	if (t->p[0] == '0' && (t->p[1] == ' ' || t->p[1] == '\0'))
	{
		t->p++;
		PutVarint(b, 0);
		return true;
	}
	if (*t->p == '-')
	{
		negative = true;
		t->p++;
	}
	if (!Expect(t, "0x"))
		return false;
	digits = t->p;
	while ((*t->p >= '0' && *t->p <= '9') || (*t->p >= 'a' && *t->p <= 'f'))
		t->p++, ndigits++;
	if (ndigits == 0 || digits[0] == '0' || ndigits > 2 * SUM_MAX_BYTES)
		return TFail(t, "malformed sum");
	if (!Expect(t, "p") || !ParseI64(t, &exponent))
		return false;
	nbytes = (ndigits + 1) / 2;
	memset(bytes, 0, sizeof(bytes));
	for (size_t i = 0; i < ndigits; i++)
	{
		char		c = digits[ndigits - 1 - i];
		int			d = c <= '9' ? c - '0' : c - 'a' + 10;

		bytes[i / 2] |= (uint8_t) (d << (4 * (i % 2)));
	}
	PutVarint(b, ((uint64_t) nbytes << 1) | negative);
	PutVarint(b, ZigZag(exponent));
	BufPut(b, bytes, nbytes);
	return true;
}

/* "idx:count,idx:count" into the binary store layout */
static bool
ParseStore(TextReader *t, Buf *b, const SketchMem *mem)
{
	Buf			body = {NULL, 0, 0, mem, false};
	uint64_t	n = 0;
	int64_t		prev = 0;

	while (*t->p != ' ' && *t->p != '\0')
	{
		int64_t		idx;
		uint64_t	c;

		MaybeInterrupt(n + 1);
		if (n > 0 && !Expect(t, ","))
			break;
		if (!ParseI64(t, &idx) || !Expect(t, ":") || !ParseU64(t, &c))
			break;
		if (c == 0)
		{
			TFail(t, "bucket counts must be positive");
			break;
		}
		if (n > 0 && idx <= prev)
		{
			TFail(t, "bucket indexes must increase");
			break;
		}
		if (n == 0)
			PutVarint(&body, ZigZag(idx));
		PutVarint(&body, ((uint64_t) (n == 0 ? 0 : idx - prev) << 1) | (c > 1));
		if (c > 1)
			PutVarint(&body, c - 2);
		prev = idx;
		n++;
	}
	if (!t->e.failed)
	{
		PutVarint(b, n);
		if (n > 0)
			BufPut(b, body.data, body.len);
		if (body.failed)
			b->failed = true;
	}
	if (body.data)
		mem->fn(body.data, 0, mem->arg);
	return !t->e.failed;
}

/*
 * Parse the text form into the canonical binary form, which the caller then
 * hands to sketch_decode: one validator serves both.
 */
SketchStatus
sketch_parse(const char *text, size_t len, const SketchMem *mem,
			 uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
	Buf			b = {NULL, 0, 0, mem, false};
	char	   *copy;
	TextReader	t = {NULL, {err, errlen, false}};
	uint64_t	version,
				scale,
				u;
	double		d;

	if (memchr(text, '\0', len) != NULL)
		return TFail(&t, "unexpected zero byte"), SKETCH_CORRUPT;
	copy = mem->fn(NULL, len + 1, mem->arg);
	if (copy == NULL)
		return SKETCH_NOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	t.p = copy;

	if (Expect(&t, "v") && ParseU64(&t, &version) &&
		(version == SKETCH_FORMAT_VERSION || TFail(&t, "unsupported format version")) &&
		Expect(&t, " scale=") && ParseU64(&t, &scale) &&
		(scale <= SKETCH_MAX_SCALE || TFail(&t, "scale out of range")) &&
		Expect(&t, " count=") && ParseU64(&t, &u))
	{
		uint8_t		head[2] = {(uint8_t) version, (uint8_t) scale};

		BufPut(&b, head, 2);
		PutVarint(&b, u);
		if (u > 0 &&
			Expect(&t, " min=") && ParseDouble(&t, &d) && (PutDouble(&b, d), true) &&
			Expect(&t, " max=") && ParseDouble(&t, &d) && (PutDouble(&b, d), true) &&
			Expect(&t, " sum=") && ParseSum(&t, &b) &&
			Expect(&t, " zero=") && ParseU64(&t, &u) && (PutVarint(&b, u), true) &&
			Expect(&t, " pos=") && ParseStore(&t, &b, mem) &&
			Expect(&t, " neg="))
			ParseStore(&t, &b, mem);
		if (!t.e.failed && *t.p != '\0')
			TFail(&t, "trailing characters");
	}
	mem->fn(copy, 0, mem->arg);
	if (t.e.failed || b.failed)
	{
		if (b.data)
			mem->fn(b.data, 0, mem->arg);
		return t.e.failed ? SKETCH_CORRUPT : SKETCH_NOMEM;
	}
	*out = b.data;
	*outlen = b.len;
	return SKETCH_OK;
}

/* ---------------------------------------------------------------- histogram */

/* sum += count * x, exactly: x's 53-bit magnitude times 11-bit pieces */
static SketchStatus
SumAddScaled(SketchSum *sum, double x, uint64_t count, const SketchMem *mem)
{
	bool		negative;
	uint64_t	mag;
	int			pos;

	SplitDouble(x, &negative, &mag, &pos);
	for (int shift = 0; shift < 64; shift += 11)
	{
		uint64_t	piece = (count >> shift) & 0x7ff;
		SketchStatus rc = SumAddMag(sum, negative, mag * piece, pos + shift, mem);

		if (rc != SKETCH_OK)
			return rc;
	}
	return SKETCH_OK;
}

static SketchStatus
AddHistogramStore(Sketch *s, const SketchHistogram *h, bool negative,
				  char *err, size_t errlen, const SketchMem *mem)
{
	int32_t		offset = negative ? h->neg_offset : h->pos_offset;
	const uint64_t *counts = negative ? h->neg_counts : h->pos_counts;
	size_t		n = negative ? h->nneg : h->npos;
	int			shift = h->scale > SKETCH_MAX_SCALE ? h->scale - SKETCH_MAX_SCALE : 0;
	int			at = h->scale - shift;

	for (size_t k = 0; k < n; k++)
	{
		int64_t		idx = (int64_t) offset + (int64_t) k;
		int32_t		idx12;
		SketchStatus rc;

		MaybeInterrupt(k + 1);
		if (counts[k] == 0)
			continue;
		if (idx > INT32_MAX)
			return SetErr(err, errlen, "bucket index out of range"), SKETCH_BAD_PARAM;
		idx12 = FloorShift((int32_t) idx, shift);
		if (idx12 < IndexMin(at) || idx12 > IndexMax(at))
			return SetErr(err, errlen, "bucket index out of range"), SKETCH_BAD_PARAM;
		if (s->count > UINT64_MAX - counts[k])
			return SetErr(err, errlen, "bucket counts out of range"), SKETCH_OVERFLOW;
		s->count += counts[k];
		rc = AddBucketCount(s, negative, idx12, at, counts[k], mem);
		if (rc != SKETCH_OK)
			return rc;
	}
	return SKETCH_OK;
}

/* Bring an estimated sum into [count * min, count * max], exactly. */
static SketchStatus
ClampSum(Sketch *s, const SketchMem *mem)
{
	SumForm		f;
	double		bound;

	SumCanonical(&s->sum, &f);
	if (CompareSumScaled(&f, s->min, s->count) < 0)
		bound = s->min;
	else if (CompareSumScaled(&f, s->max, s->count) > 0)
		bound = s->max;
	else
		return SKETCH_OK;
	if (s->sum.heap)
		mem->fn(s->sum.heap, 0, mem->arg);
	memset(&s->sum, 0, sizeof(s->sum));
	return SumAddScaled(&s->sum, bound, s->count, mem);
}

/* sum of count * representative value over one store */
static SketchStatus
EstimateStoreSum(Sketch *s, const SketchStore *st, bool negative,
				 const SketchMem *mem)
{
	if (StoreEmpty(st))
		return SKETCH_OK;
	for (int32_t k = 0; k < st->len; k++)
	{
		double		v;
		SketchStatus rc;

		if (st->counts[k] == 0)
			continue;
		v = sketch_bucket_value(st->off + k, s->scale);
		rc = SumAddScaled(&s->sum, negative ? -v : v, st->counts[k], mem);
		if (rc != SKETCH_OK)
			return rc;
	}
	return SKETCH_OK;
}

/*
 * Build a sketch from an OpenTelemetry exponential histogram.  Scales finer
 * than SKETCH_MAX_SCALE are folded down exactly; missing min and max become
 * the representative values of the outermost buckets, a missing sum the sum
 * of the representative values.  The result goes through the same checks as
 * binary input.
 */
SketchStatus
sketch_from_histogram(Sketch *s, const SketchHistogram *h, const SketchMem *mem,
					  char *err, size_t errlen)
{
	SketchStatus rc;
	uint8_t    *bytes;
	size_t		len;
	Sketch		built;

	if (h->scale < 0 || h->scale > SKETCH_MAX_HIST_SCALE)
		return SetErr(err, errlen, "scale out of range"), SKETCH_BAD_PARAM;
	if ((h->has_min && !isfinite(h->min)) || (h->has_max && !isfinite(h->max)) ||
		(h->has_sum && !isfinite(h->sum)))
		return SetErr(err, errlen, "min, max and sum must be finite"), SKETCH_BAD_PARAM;
	sketch_init(&built, h->scale > SKETCH_MAX_SCALE ? SKETCH_MAX_SCALE : h->scale);
	built.count = h->zero_count;
	built.zero_count = h->zero_count;
	rc = AddHistogramStore(&built, h, false, err, errlen, mem);
	if (rc == SKETCH_OK)
		rc = AddHistogramStore(&built, h, true, err, errlen, mem);
	if (rc == SKETCH_OK && built.count > 0)
	{
		double		lowest = !StoreEmpty(&built.neg) ?
			-sketch_bucket_value(built.neg.hi, built.scale) :
			built.zero_count > 0 ? 0.0 : sketch_bucket_value(built.pos.lo, built.scale);
		double		highest = !StoreEmpty(&built.pos) ?
			sketch_bucket_value(built.pos.hi, built.scale) :
			built.zero_count > 0 ? 0.0 : -sketch_bucket_value(built.neg.lo, built.scale);

		/* a missing extreme comes from its bucket, but not past a given one */
		built.min = h->has_min ? (h->min == 0.0 ? 0.0 : h->min) : lowest;
		built.max = h->has_max ? (h->max == 0.0 ? 0.0 : h->max) : highest;
		if (!h->has_min && built.min > built.max)
			built.min = built.max;
		if (!h->has_max && built.max < built.min)
			built.max = built.min;
		if (built.count == 1 && !(h->has_min && h->has_max))
		{
			/* one value: whatever is given of it is all of it */
			double		v = h->has_min ? built.min : h->has_max ? built.max :
				h->has_sum ? h->sum : built.min;

			built.min = built.max = v == 0.0 ? 0.0 : v;
		}
		else if (h->has_sum)
		{
			/* nor past the mean that a given sum implies */
			double		mean = h->sum / (double) built.count;

			if (!h->has_min && mean < built.min)
				built.min = mean == 0.0 ? 0.0 : mean;
			if (!h->has_max && mean > built.max)
				built.max = mean == 0.0 ? 0.0 : mean;
		}
		if (h->has_sum)
			rc = SumAddDouble(&built.sum, h->sum, mem);
		else
		{
			rc = EstimateStoreSum(&built, &built.pos, false, mem);
			if (rc == SKETCH_OK)
				rc = EstimateStoreSum(&built, &built.neg, true, mem);
			if (rc == SKETCH_OK)
				rc = ClampSum(&built, mem);
		}
	}
	else if (rc == SKETCH_OK && h->has_sum && h->sum != 0.0)
	{
		SetErr(err, errlen, "a histogram with no values must have a zero sum");
		rc = SKETCH_BAD_PARAM;
	}
	if (rc == SKETCH_OK)
		rc = sketch_encode(&built, mem, &bytes, &len);
	sketch_free(&built, mem);
	if (rc != SKETCH_OK)
		return rc;
	rc = sketch_decode(bytes, len, s, mem, err, errlen);
	mem->fn(bytes, 0, mem->arg);
	return rc == SKETCH_CORRUPT ? SKETCH_BAD_PARAM : rc;
}
