/*
 * fuzz_common.h
 *	  Shared by the libFuzzer harnesses of the percentile sketch core: an
 *	  allocator, a check that aborts with a message, and the properties that
 *	  every sketch accepted by sketch_decode must have.
 */
#ifndef SKETCH_FUZZ_COMMON_H
#define SKETCH_FUZZ_COMMON_H

#include "../../src/sketch.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond) \
	do { \
		if (!(cond)) \
		{ \
			fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__, #cond); \
			abort(); \
		} \
	} while (0)

static void *
fuzz_realloc(void *ptr, size_t size, void *arg)
{
	(void) arg;
	if (size == 0)
	{
		free(ptr);
		return NULL;
	}
	return realloc(ptr, size);
}

static const SketchMem fuzz_mem = {fuzz_realloc, NULL};

static inline bool
fuzz_same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(double)) == 0;
}

static int
fuzz_cmp(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

/* encode s; it must work and, when want is given, give exactly want */
static inline void
fuzz_encode_equals(Sketch *s, const uint8_t *want, size_t wantlen)
{
	uint8_t    *e = NULL;
	size_t		n = 0;

	REQUIRE(sketch_encode(s, &fuzz_mem, &e, &n) == SKETCH_OK);
	REQUIRE(n == wantlen && memcmp(e, want, n) == 0);
	free(e);
}

/* a sketch's encoding decodes again, to the same bytes */
static inline void
fuzz_encoding_is_valid(Sketch *s)
{
	uint8_t    *e = NULL;
	size_t		n = 0;
	Sketch		d;
	char		err[128] = "";

	REQUIRE(sketch_encode(s, &fuzz_mem, &e, &n) == SKETCH_OK);
	if (sketch_decode(e, n, &d, &fuzz_mem, err, sizeof(err)) != SKETCH_OK)
	{
		fprintf(stderr, "a sketch's own encoding does not decode: %s\n", err);
		abort();
	}
	fuzz_encode_equals(&d, e, n);
	sketch_free(&d, &fuzz_mem);
	free(e);
}

/*
 * Properties of a valid sketch whose canonical encoding is enc: the text
 * form parses back to enc, answers lie in [min, max] and are monotone, and
 * the sum has the sign of the values.
 */
static inline void
fuzz_check_sketch(Sketch *s, const uint8_t *enc, size_t enclen)
{
	static const double qs[] = {0.0, 1e-9, 0.001, 0.1, 0.25, 0.5, 0.75, 0.9,
	0.999, 1.0 - 1e-9, 1.0};
	const int	nq = (int) (sizeof(qs) / sizeof(qs[0]));
	double		many[sizeof(qs) / sizeof(qs[0])];
	char	   *text = NULL;
	uint8_t    *parsed = NULL;
	size_t		plen = 0;
	char		err[128] = "";
	double		r,
				prev;
	SketchStatus st;

	/* the text form is lossless */
	REQUIRE(sketch_format(s, &fuzz_mem, &text) == SKETCH_OK);
	st = sketch_parse(text, strlen(text), &fuzz_mem, &parsed, &plen, err, sizeof(err));
	if (st != SKETCH_OK)
	{
		fprintf(stderr, "the text of a valid sketch does not parse: %s: %s\n", err, text);
		abort();
	}
	REQUIRE(plen == enclen && memcmp(parsed, enc, plen) == 0);
	free(parsed);
	free(text);

	REQUIRE(s->scale >= 0 && s->scale <= SKETCH_MAX_SCALE);
	REQUIRE(sketch_relative_error(s) == sketch_error_for_scale(s->scale));
	if (s->count == 0)
	{
		REQUIRE(!sketch_quantile(s, 0.5, &r));
		REQUIRE(!sketch_rank(s, 0.0, &r));
		REQUIRE(sketch_sum_double(s, &r) == SKETCH_OK && r == 0.0);
		return;
	}
	REQUIRE(isfinite(s->min) && isfinite(s->max) && s->min <= s->max);

	/* quantiles: in [min, max], monotone, exact at the ends */
	prev = -INFINITY;
	for (int i = 0; i < nq; i++)
	{
		REQUIRE(sketch_quantile(s, qs[i], &r));
		REQUIRE(r >= s->min && r <= s->max);
		REQUIRE(r >= prev);
		prev = r;
	}
	REQUIRE(sketch_quantile(s, 0.0, &r) && fuzz_same_bits(r, s->min));
	REQUIRE(sketch_quantile(s, 1.0, &r) && fuzz_same_bits(r, s->max));
	REQUIRE(sketch_quantiles_sorted(s, qs, nq, many));
	for (int i = 0; i < nq; i++)
		REQUIRE(sketch_quantile(s, qs[i], &r) && fuzz_same_bits(r, many[i]));

	/* ranks: in [0, 1], monotone, exact outside [min, max) */
	{
		double		probes[] = {-INFINITY, -DBL_MAX, s->min, 0.0, (s->min + s->max) / 2,
		s->max, DBL_MAX};
		double		last = 0.0;

		qsort(probes, sizeof(probes) / sizeof(probes[0]), sizeof(double), fuzz_cmp);
		for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		{
			if (isnan(probes[i]))
				continue;
			REQUIRE(sketch_rank(s, probes[i], &r));
			REQUIRE(r >= 0.0 && r <= 1.0 && r >= last);
			last = r;
			if (probes[i] < s->min)
				REQUIRE(r == 0.0);
			if (probes[i] >= s->max)
				REQUIRE(r == 1.0);
		}
	}

	/* the sum: finite or overflowing, with the sign of the values */
	st = sketch_sum_double(s, &r);
	REQUIRE(st == SKETCH_OK || st == SKETCH_OVERFLOW);
	if (st == SKETCH_OK)
	{
		REQUIRE(isfinite(r));
		if (s->min >= 0)
			REQUIRE(r >= 0);
		if (s->max <= 0)
			REQUIRE(r <= 0);
	}
}

#endif							/* SKETCH_FUZZ_COMMON_H */
