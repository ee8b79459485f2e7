/*
 * unit.h
 *	  A tiny harness shared by the C unit tests: named cases with checks, a
 *	  counting allocator and a fixed-seed random number generator.
 *
 * A test program calls case_begin("name"), any number of CHECK/CHECKF, then
 * case_end(); at the end, unit_finish() prints "N passed, M failed" (cases)
 * as the last line and returns the exit status for main.
 */
#ifndef SKETCH_UNIT_H
#define SKETCH_UNIT_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------------------- cases */

#define UNIT_MAX_REPORTS 8		/* failure messages printed per case */

static char unit_case[160];
static long unit_case_failures;
static long unit_case_checks;
static int	unit_passed;
static int	unit_failed;
static clock_t unit_case_start;

static inline void case_begin(const char *fmt,...) __attribute__((format(printf, 1, 2)));

static inline void
case_begin(const char *fmt,...)
{
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(unit_case, sizeof(unit_case), fmt, ap);
	va_end(ap);
	unit_case_failures = 0;
	unit_case_checks = 0;
	unit_case_start = clock();
}

static inline void
case_end(void)
{
	if (unit_case_failures == 0 && unit_case_checks > 0)
	{
		unit_passed++;
		printf("ok    %s (%ld checks, %.2fs)\n", unit_case, unit_case_checks,
			   (double) (clock() - unit_case_start) / CLOCKS_PER_SEC);
	}
	else
	{
		unit_failed++;
		if (unit_case_checks == 0)
			printf("FAIL  %s: no checks ran\n", unit_case);
		else
			printf("FAIL  %s: %ld of %ld checks failed\n", unit_case,
				   unit_case_failures, unit_case_checks);
	}
	fflush(stdout);
}

static inline bool check_(bool ok, const char *file, int line, const char *expr,
						  const char *fmt,...) __attribute__((format(printf, 5, 6)));

static inline bool
check_(bool ok, const char *file, int line, const char *expr, const char *fmt,...)
{
	unit_case_checks++;
	if (ok)
		return true;
	if (unit_case_failures++ < UNIT_MAX_REPORTS)
	{
		va_list		ap;

		printf("  %s:%d: [%s] check failed: %s", file, line, unit_case, expr);
		if (fmt != NULL && fmt[0] != '\0')
		{
			printf(": ");
			va_start(ap, fmt);
			vprintf(fmt, ap);
			va_end(ap);
		}
		printf("\n");
		fflush(stdout);
	}
	return false;
}

#define CHECK(cond) check_((cond), __FILE__, __LINE__, #cond, "%s", "")
#define CHECKF(cond, ...) check_((cond), __FILE__, __LINE__, #cond, __VA_ARGS__)

static inline int
unit_finish(void)
{
	printf("%d passed, %d failed\n", unit_passed, unit_failed);
	fflush(stdout);
	return unit_failed == 0 && unit_passed > 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- memory */

/*
 * The allocator handed to the sketch: malloc/realloc/free, size 0 frees.
 * unit_live counts the blocks it handed out and has not had back.
 */
static long unit_live;

static inline void *
unit_realloc(void *ptr, size_t size, void *arg)
{
	void	   *p;

	(void) arg;
	if (size == 0)
	{
		if (ptr != NULL)
		{
			free(ptr);
			unit_live--;
		}
		return NULL;
	}
	if (ptr == NULL)
	{
		p = malloc(size);
		if (p != NULL)
			unit_live++;
		return p;
	}
	return realloc(ptr, size);
}

static inline void
unit_free(void *ptr)
{
	unit_realloc(ptr, 0, NULL);
}

/* ---------------------------------------------------------------- random */

/* splitmix64: fixed seeds make every run test the same inputs */
typedef struct Rng
{
	uint64_t	state;
} Rng;

static inline uint64_t
rng_next(Rng *r)
{
	uint64_t	z = (r->state += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

/*
 * A random source for the noise samplers (DpRandom of dp_noise.h, with the
 * Rng as its ctx): the generator's bytes, little-endian.  Never fails.
 */
static inline int
rng_fill(void *ctx, uint8_t *buf, size_t len)
{
	Rng		   *r = ctx;

	while (len > 0)
	{
		uint64_t	x = rng_next(r);

		for (int i = 0; i < 8 && len > 0; i++, len--)
		{
			*buf++ = (uint8_t) x;
			x >>= 8;
		}
	}
	return 0;
}

/*
 * KL(r || p) of Bernoulli distributions: the exponent of the Chernoff bound
 * P(X >= r n) <= exp(-n KL(r || p)) for X ~ Binomial(n, p), r > p (and of
 * the lower tail alike), which the statistical tests use.
 */
static inline double
bernoulli_kl(double r, double p)
{
	double		a = r > 0 ? r * log(r / p) : 0;
	double		b = r < 1 ? (1 - r) * log((1 - r) / (1 - p)) : 0;

	return a + b;
}

/* uniform in [0, 1) */
static inline double
rng_unit(Rng *r)
{
	return (double) (rng_next(r) >> 11) * 0x1p-53;
}

/* uniform integer in [0, n), n > 0 */
static inline uint64_t
rng_below(Rng *r, uint64_t n)
{
	return rng_next(r) % n;
}

#endif							/* SKETCH_UNIT_H */
