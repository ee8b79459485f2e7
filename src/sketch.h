/*
 * sketch.h
 *	  Mergeable relative-error percentile sketch: the pure-C core.
 *
 * A sketch summarises a multiset of finite doubles.  Values are counted in
 * logarithmic buckets: at scale s, bucket i of each sign holds the magnitudes
 * in (2^(i/2^s), 2^((i+1)/2^s)], the layout of OpenTelemetry's exponential
 * histograms.  A quantile is answered with the bucket's representative value
 * 2LU/(L+U), whose relative distance to anything in the bucket is at most
 * alpha(s) = (b-1)/(b+1) with b = 2^(2^-s), then clamped to [min, max].
 * Zeros have their own exact bucket; count, min and max are exact, and the sum
 * is kept exactly (a fixed-point integer of up to ~2200 bits), so it does not
 * depend on the order of additions.
 *
 * When the span of occupied bucket indexes of one sign exceeds
 * SKETCH_MAX_SPAN, the whole sketch drops one scale (pairs of buckets merge).
 * The resulting scale is the largest one at which the spans of the whole
 * multiset fit, so it depends on the multiset alone: a merge of sketches is
 * bit-identical, once encoded, to the sketch of the union of their inputs,
 * whatever the order or grouping.
 *
 * This file and sketch.c include no PostgreSQL headers: memory comes from a
 * caller-supplied allocator, errors are returned as SketchStatus, and long
 * loops call sketch_check_interrupts when it is set.
 */
#ifndef SELLER_ANALYTICS_SKETCH_H
#define SELLER_ANALYTICS_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SKETCH_MAX_SCALE		12		/* finest scale: alpha = 8.46e-5 */
#define SKETCH_TABLE_SIZE		(1 << SKETCH_MAX_SCALE)
#define SKETCH_DEFAULT_ERROR	0.005	/* gives scale 7: alpha = 0.00271 */
#define SKETCH_MAX_SPAN			65536	/* bucket indexes per sign: 16 octaves
										 * at scale 12, 512 at scale 7 */
#define SKETCH_FORMAT_VERSION	1
#define SKETCH_MAX_HIST_SCALE	20		/* finest OpenTelemetry scale */

/* the generated boundary tables (sketch_table.c) */
extern const double sketch_bounds[SKETCH_TABLE_SIZE + 1];
extern const uint16_t sketch_slice[2 * SKETCH_TABLE_SIZE];

typedef enum SketchStatus
{
	SKETCH_OK = 0,
	SKETCH_NAN,					/* a NaN value */
	SKETCH_INFINITE,			/* an infinite value */
	SKETCH_OVERFLOW,			/* a count or a result out of range */
	SKETCH_CORRUPT,				/* malformed encoded or text input */
	SKETCH_BAD_PARAM,			/* a parameter out of its range */
	SKETCH_NOMEM				/* the allocator returned NULL */
} SketchStatus;

/*
 * The allocator: fn(NULL, n, arg) allocates n bytes, fn(p, n, arg) resizes p
 * (n > 0), fn(p, 0, arg) frees p.  It may also not return (longjmp) on
 * failure; the sketch is then left valid but possibly missing the value.
 */
typedef void *(*SketchReallocFn) (void *ptr, size_t size, void *arg);
typedef struct SketchMem
{
	SketchReallocFn fn;
	void	   *arg;
} SketchMem;

/* called every few thousand iterations of a long loop, when set */
extern void (*sketch_check_interrupts) (void);

/* one sign's buckets: a dense window of counts plus the occupied range */
typedef struct SketchStore
{
	int32_t		lo;				/* lowest occupied index, INT32_MAX if none */
	int32_t		hi;				/* highest occupied index */
	int32_t		off;			/* index of counts[0] */
	int32_t		len;			/* slots in counts */
	uint64_t   *counts;			/* NULL until the pending buffer spills */
} SketchStore;

/*
 * The exact sum: chunk k weighs 2^(32 * (lo + k) - 1074).  Up to
 * SKETCH_SUM_INLINE chunks live in the struct; a wider sum moves to heap.
 */
#define SKETCH_SUM_INLINE	4
typedef struct SketchSum
{
	int64_t    *heap;			/* NULL while the chunks fit in inl */
	int64_t		inl[SKETCH_SUM_INLINE];
	int16_t		lo;
	int16_t		n;
	uint32_t	adds;			/* additions since the last carry pass */
} SketchSum;

/*
 * The first values wait in a buffer inside the struct, as 16-bit keys
 * ((index - pending_base) << 1 | negative), so that a small sketch is one
 * 256-byte block: the many small groups of a GROUP BY stay small and
 * cache-friendly.  When the buffer fills it spills into the dense windows.
 */
#define SKETCH_PENDING		60

typedef struct Sketch
{
	uint64_t	count;
	uint64_t	zero_count;
	double		min;
	double		max;
	SketchSum	sum;
	SketchStore pos;
	SketchStore neg;
	int32_t		pending_base;	/* index the pending keys are relative to */
	uint8_t		npending;
	int8_t		scale;
	int8_t		initial_scale;	/* the scale asked for at sketch_init */
	uint16_t	pending[SKETCH_PENDING];
} Sketch;

/* a pre-aggregated OpenTelemetry exponential histogram */
typedef struct SketchHistogram
{
	int			scale;
	uint64_t	zero_count;
	int32_t		pos_offset;
	const uint64_t *pos_counts;
	size_t		npos;
	int32_t		neg_offset;
	const uint64_t *neg_counts;
	size_t		nneg;
	bool		has_min;
	bool		has_max;
	bool		has_sum;
	double		min;
	double		max;
	double		sum;
} SketchHistogram;

/* parameters */
extern SketchStatus sketch_scale_for_error(double relative_error, int *scale);
extern double sketch_error_for_scale(int scale);

/* building */
extern void sketch_init(Sketch *s, int scale);
extern void sketch_free(Sketch *s, const SketchMem *mem);
extern SketchStatus sketch_add(Sketch *s, double x, const SketchMem *mem);
extern SketchStatus sketch_add_int64(Sketch *s, int64_t v, const SketchMem *mem);
extern SketchStatus sketch_merge(Sketch *dst, const Sketch *src, const SketchMem *mem);
extern SketchStatus sketch_flush(Sketch *s, const SketchMem *mem);
extern SketchStatus sketch_from_histogram(Sketch *s, const SketchHistogram *h,
										  const SketchMem *mem,
										  char *err, size_t errlen);

/* accessors (on a flushed sketch; false/NaN-free answers for count 0) */
extern bool sketch_quantile(const Sketch *s, double q, double *result);
extern bool sketch_quantiles_sorted(const Sketch *s, const double *q, int n,
									double *result);
extern bool sketch_rank(const Sketch *s, double value, double *result);
extern SketchStatus sketch_sum_double(const Sketch *s, double *result);
extern double sketch_relative_error(const Sketch *s);
extern double sketch_bucket_value(int32_t index, int scale);
extern int32_t sketch_index(double magnitude, int scale);

/* the canonical binary form (flushes the sketch first) */
extern SketchStatus sketch_encode(Sketch *s, const SketchMem *mem,
								  uint8_t **out, size_t *outlen);
extern SketchStatus sketch_decode(const uint8_t *buf, size_t len, Sketch *s,
								  const SketchMem *mem,
								  char *err, size_t errlen);

/* the lossless text form */
extern SketchStatus sketch_format(Sketch *s, const SketchMem *mem, char **out);
extern SketchStatus sketch_parse(const char *text, size_t len,
								 const SketchMem *mem, uint8_t **out,
								 size_t *outlen, char *err, size_t errlen);

#endif							/* SELLER_ANALYTICS_SKETCH_H */
