/*
 * test_sketch_alloc.c
 *	  Allocation failures in the percentile sketch core.
 *
 * One scenario (adds that spill, grow and drop scales; merge; flush;
 * encode, decode, format, parse; a histogram) runs again and again with an
 * allocator that fails from its N-th request on, or at its N-th request
 * only, for N = 0, 1, 2, ... until a run sees no failure.  Failures either
 * return NULL or, as PostgreSQL's palloc does, longjmp out.  Every call must
 * return SKETCH_OK or SKETCH_NOMEM (never a misleading SKETCH_CORRUPT), and
 * afterwards the sketches must still be valid (they encode, and the
 * encoding decodes), hold no more than what was added, and free without a
 * leak.
 */
#include "../../src/sketch.h"
#include "unit.h"

#include <math.h>
#include <setjmp.h>

/* ---------------------------------------------------------------- allocator */

static long run_n;				/* N of this run, for messages */
static long alloc_calls;		/* requests for memory so far */
static long fail_at = -1;		/* the request that fails; -1: none */
static bool fail_persistent;	/* and every later one too */
static bool fail_longjmp;		/* longjmp out instead of returning NULL */
static long failures;
static const char *current_op = "";
static char failed_ops[256];	/* the calls that saw a failure, for messages */
static jmp_buf jump_target;

/* every live block, so that a longjmp's stranded buffers can be reclaimed */
#define MAX_BLOCKS 4096
static void *blocks[MAX_BLOCKS];
static int	nblocks;

static void
forget_block(void *p)
{
	for (int i = 0; i < nblocks; i++)
		if (blocks[i] == p)
		{
			blocks[i] = blocks[--nblocks];
			return;
		}
	fprintf(stderr, "freeing an unknown block %p\n", p);
	abort();
}

static void *
failing_realloc(void *ptr, size_t size, void *arg)
{
	void	   *p;

	if (size == 0)
	{
		if (ptr != NULL)
			forget_block(ptr);
		return unit_realloc(ptr, 0, arg);
	}
	if (fail_at >= 0 && (alloc_calls == fail_at ||
						 (fail_persistent && alloc_calls > fail_at)))
	{
		alloc_calls++;
		failures++;
		if (strlen(failed_ops) + strlen(current_op) + 2 < sizeof(failed_ops) &&
			strstr(failed_ops, current_op) == NULL)
		{
			strcat(failed_ops, " ");
			strcat(failed_ops, current_op);
		}
		if (fail_longjmp)
			longjmp(jump_target, 1);
		return NULL;
	}
	alloc_calls++;
	if (ptr != NULL)
		forget_block(ptr);
	p = unit_realloc(ptr, size, arg);
	if (nblocks == MAX_BLOCKS)
		abort();
	if (p != NULL)
		blocks[nblocks++] = p;
	else if (ptr != NULL)
		blocks[nblocks++] = ptr;	/* a failed realloc keeps the block */
	return p;
}

/* static: they survive a longjmp unclobbered */
static Sketch A,
			B,
			D,
			H;
static uint8_t *bytes;
static size_t nbytes;
static char *text;
static uint8_t *parsed;
static size_t nparsed;

static const SketchMem mem_ = {failing_realloc, NULL};
static const SketchMem *const M = &mem_;

/*
 * Run one call; a longjmp out of it counts as SKETCH_NOMEM.  The setjmp is
 * in a function of its own, so that no caller's local can be clobbered.
 */
typedef enum Op
{
	OP_ADD, OP_ADD_INT64, OP_MERGE, OP_FLUSH, OP_ENCODE, OP_DECODE, OP_FORMAT,
	OP_PARSE, OP_HISTOGRAM, OP_DECODE_GOOD
} Op;

/* a valid encoding, made before the failures begin */
static uint8_t *good;
static size_t ngood;

static SketchHistogram hist;

static const char *const op_names[] = {"add", "add_int64", "merge", "flush", "encode",
"decode", "format", "parse", "from_histogram", "decode of a valid encoding"};

static SketchStatus
run(Op op, Sketch *s, const Sketch *t, double x, int64_t v)
{
	current_op = op_names[op];
	if (fail_longjmp)
	{
		if (setjmp(jump_target) != 0)
			return SKETCH_NOMEM;
	}
	switch (op)
	{
		case OP_ADD:
			return sketch_add(s, x, M);
		case OP_ADD_INT64:
			return sketch_add_int64(s, v, M);
		case OP_MERGE:
			return sketch_merge(s, t, M);
		case OP_FLUSH:
			return sketch_flush(s, M);
		case OP_ENCODE:
			return sketch_encode(s, M, &bytes, &nbytes);
		case OP_DECODE:
			return sketch_decode(bytes, nbytes, s, M, NULL, 0);
		case OP_FORMAT:
			return sketch_format(s, M, &text);
		case OP_PARSE:
			return sketch_parse(text, strlen(text), M, &parsed, &nparsed, NULL, 0);
		case OP_HISTOGRAM:
			return sketch_from_histogram(s, &hist, M, NULL, 0);
		case OP_DECODE_GOOD:
			return sketch_decode(good, ngood, s, M, NULL, 0);
	}
	return SKETCH_BAD_PARAM;
}

#define CHECK_OK_OR_NOMEM(st, what) \
	CHECKF((st) == SKETCH_OK || (st) == SKETCH_NOMEM, "N=%ld %s: status %d", run_n, what, (int) (st))

/* ---------------------------------------------------------------- scenario */

static double values[400];
static int64_t ints[40];
static uint64_t hist_counts[300];
static uint64_t added_a;		/* values whose addition to A succeeded */

static void
make_values(void)
{
	Rng			r = {77};

	for (int i = 0; i < 400; i++)
	{
		/* many octaves (so scales drop), both signs, zeros */
		double		x = ldexp(1.0 + rng_unit(&r), (int) rng_below(&r, 400) - 200);

		if (i % 17 == 0)
			x = 0.0;
		values[i] = (i % 3 == 0) ? -x : x;
	}
	for (int i = 0; i < 40; i++)
		ints[i] = (int64_t) (rng_next(&r) >> rng_below(&r, 64)) * (i % 2 ? -1 : 1);
	for (int i = 0; i < 300; i++)
		hist_counts[i] = rng_below(&r, 4);
}

/* the canonical bytes of a sketch, with the allocator not failing */
static bool
valid_encoding(Sketch *s, uint64_t max_count, const char *what)
{
	uint8_t    *e = NULL;
	size_t		len;
	Sketch		d;
	SketchStatus st = sketch_encode(s, M, &e, &len);
	bool		ok;

	if (!CHECKF(st == SKETCH_OK, "N=%ld (failed in%s) %s: encode after the failures: %d", run_n, failed_ops, what, st))
		return false;
	st = sketch_decode(e, len, &d, M, NULL, 0);
	ok = CHECKF(st == SKETCH_OK, "N=%ld (failed in%s) %s: the sketch left behind does not decode: %d",
				run_n, failed_ops, what, st);
	if (st == SKETCH_OK)
	{
		ok &= CHECKF(d.count <= max_count, "N=%ld %s: count %llu of %llu", run_n, what,
					 (unsigned long long) d.count, (unsigned long long) max_count);
		sketch_free(&d, M);
	}
	failing_realloc(e, 0, NULL);
	return ok;
}

static void
scenario(void)
{
	SketchStatus st;

	/* adds: pending buffer, spill, window growth, sum growth, scale drops */
	sketch_init(&A, 12);
	added_a = 0;
	for (int i = 0; i < 400; i++)
	{
		st = run(OP_ADD, &A, NULL, values[i], 0);
		CHECK_OK_OR_NOMEM(st, "sketch_add");
		added_a += st == SKETCH_OK;
	}
	for (int i = 0; i < 40; i++)
	{
		st = run(OP_ADD_INT64, &A, NULL, 0, ints[i]);
		CHECK_OK_OR_NOMEM(st, "sketch_add_int64");
		added_a += st == SKETCH_OK;
	}
	/* B reaches past A's range on both sides, so the merge must grow A */
	sketch_init(&B, 9);
	for (int i = 0; i < 100; i++)
	{
		st = run(OP_ADD, &B, NULL, values[i] * (i % 2 ? 1e200 : 1e-200), 0);
		CHECK_OK_OR_NOMEM(st, "sketch_add to B");
	}
	st = run(OP_MERGE, &A, &B, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_merge");
	st = run(OP_MERGE, &B, &A, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_merge back");
	st = run(OP_FLUSH, &A, NULL, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_flush");

	/* decoding a valid encoding */
	st = run(OP_DECODE_GOOD, &D, NULL, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_decode of a valid encoding");
	if (st == SKETCH_OK)
		sketch_free(&D, M);

	/* the binary and text forms */
	bytes = NULL;
	st = run(OP_ENCODE, &A, NULL, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_encode");
	if (st == SKETCH_OK)
	{
		st = run(OP_DECODE, &D, NULL, 0, 0);
		CHECK_OK_OR_NOMEM(st, "sketch_decode");
		if (st == SKETCH_OK)
			sketch_free(&D, M);
	}
	text = NULL;
	st = run(OP_FORMAT, &A, NULL, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_format");
	if (st == SKETCH_OK)
	{
		parsed = NULL;
		st = run(OP_PARSE, NULL, NULL, 0, 0);
		CHECK_OK_OR_NOMEM(st, "sketch_parse");
		if (st == SKETCH_OK)
		{
			failing_realloc(parsed, 0, NULL);
			parsed = NULL;
		}
	}

	/* a histogram wide enough to drop scales */
	memset(&hist, 0, sizeof(hist));
	hist.scale = 20;
	hist.zero_count = 2;
	hist.pos_offset = -(150 << 20);
	hist.pos_counts = hist_counts;
	hist.npos = 300;
	hist.neg_offset = 5 << 20;
	hist.neg_counts = hist_counts + 100;
	hist.nneg = 200;
	st = run(OP_HISTOGRAM, &H, NULL, 0, 0);
	CHECK_OK_OR_NOMEM(st, "sketch_from_histogram");
	if (st == SKETCH_OK)
		sketch_free(&H, M);
}

/* after a run: valid sketches, then everything freed */
static void
aftermath(void)
{
	long		stranded;

	fail_at = -1;
	valid_encoding(&A, added_a + 100, "A");
	valid_encoding(&B, 100 + added_a + 100, "B");
	sketch_free(&A, M);
	sketch_free(&B, M);
	if (bytes)
		failing_realloc(bytes, 0, NULL);
	if (text)
		failing_realloc(text, 0, NULL);
	if (parsed)
		failing_realloc(parsed, 0, NULL);
	bytes = NULL;
	text = NULL;
	parsed = NULL;

	/*
	 * What is left was stranded by a longjmp out of a call (a buffer held in
	 * a local variable), which a memory context reset reclaims.  Returning
	 * NULL must strand nothing.
	 */
	stranded = nblocks;
	if (!fail_longjmp)
		CHECKF(stranded == 0, "N=%ld (failed in%s): %ld blocks leaked", run_n, failed_ops, stranded);
	while (nblocks > 0)
		failing_realloc(blocks[nblocks - 1], 0, NULL);
	CHECKF(unit_live == 0, "N=%ld: %ld blocks live", run_n, unit_live);
}

static void
sweep(bool persistent, bool use_longjmp)
{
	long		total;

	case_begin("allocation failure %s, %s", persistent ? "from the N-th request on" :
			   "at the N-th request only", use_longjmp ? "longjmp" : "NULL returned");
	/* how many requests the scenario makes when nothing fails */
	fail_at = -1;
	run_n = -1;
	fail_longjmp = false;
	alloc_calls = 0;
	failed_ops[0] = '\0';
	scenario();
	total = alloc_calls;
	aftermath();
	CHECKF(total > 20, "only %ld requests", total);

	fail_persistent = persistent;
	fail_longjmp = use_longjmp;
	for (long n = 0; n <= total + 1; n++)
	{
		fail_at = n;
		run_n = n;
		alloc_calls = 0;
		failures = 0;
		failed_ops[0] = '\0';
		scenario();
		if (n < total)
			CHECKF(failures > 0, "N=%ld: no failure", run_n);
		aftermath();
	}
	fail_longjmp = false;
	fail_persistent = false;
	case_end();
}

int
main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	make_values();
	{
		/* outside the failing allocator's books, which aftermath() clears */
		const SketchMem plain = {unit_realloc, NULL};
		Sketch		g;

		/* wide and both signs: its decode allocates two windows and a sum */
		sketch_init(&g, 7);
		for (int i = 0; i < 200; i++)
			if (sketch_add(&g, values[i], &plain) != SKETCH_OK)
				return 1;
		if (sketch_encode(&g, &plain, &good, &ngood) != SKETCH_OK)
			return 1;
		sketch_free(&g, &plain);
		unit_live = 0;			/* good stays until the end */
	}
	sweep(true, false);
	sweep(false, false);
	sweep(true, true);
	sweep(false, true);
	free(good);
	return unit_finish();
}
