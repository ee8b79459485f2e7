/*
 * gen_corpus.c
 *	  Writes the seed corpora of the sketch fuzz harnesses: the binary form
 *	  of a few sketches to corpus/fuzz_sketch_decode/ and their text form
 *	  (plus a few other spellings that parse) to corpus/fuzz_sketch_parse/.
 *
 *	  cc -std=c11 -D_GNU_SOURCE -Isrc -o gen_corpus test/fuzz/gen_corpus.c \
 *		  src/sketch.c src/sketch_table.c -lm
 *	  ./gen_corpus test/fuzz/corpus
 */
#include "../../src/sketch.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *
gen_realloc(void *ptr, size_t size, void *arg)
{
	(void) arg;
	if (size == 0)
	{
		free(ptr);
		return NULL;
	}
	return realloc(ptr, size);
}

static const SketchMem mem = {gen_realloc, NULL};
static const char *outdir;

static void
write_file(const char *harness, const char *name, const void *data, size_t len)
{
	char		path[512];
	FILE	   *f;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, harness, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0)
	{
		perror(path);
		exit(1);
	}
}

/* both forms of a sketch */
static void
emit(const char *name, Sketch *s)
{
	uint8_t    *bytes;
	size_t		len;
	char	   *text;

	if (sketch_encode(s, &mem, &bytes, &len) != SKETCH_OK ||
		sketch_format(s, &mem, &text) != SKETCH_OK)
	{
		fprintf(stderr, "%s: cannot encode\n", name);
		exit(1);
	}
	write_file("fuzz_sketch_decode", name, bytes, len);
	write_file("fuzz_sketch_parse", name, text, strlen(text));
	free(bytes);
	free(text);
	sketch_free(s, &mem);
}

static void
add(Sketch *s, double x)
{
	if (sketch_add(s, x, &mem) != SKETCH_OK)
	{
		fprintf(stderr, "cannot add %g\n", x);
		exit(1);
	}
}

/* a small fixed-seed generator */
static uint64_t state = 42;

static double
next_unit(void)
{
	state = state * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
	return (double) (state >> 11) * 0x1p-53;
}

int
main(int argc, char **argv)
{
	Sketch		s;

	if (argc != 2)
	{
		fprintf(stderr, "usage: %s corpus-directory\n", argv[0]);
		return 2;
	}
	outdir = argv[1];

	sketch_init(&s, 7);
	emit("empty-scale7", &s);

	sketch_init(&s, 12);
	emit("empty-scale12", &s);

	sketch_init(&s, 7);
	add(&s, 1.5);
	emit("single", &s);

	sketch_init(&s, 7);
	add(&s, 0.0);
	add(&s, 0.0);
	emit("zeros", &s);

	sketch_init(&s, 7);
	add(&s, 1.5);
	add(&s, 8.0);
	add(&s, 0.0);
	add(&s, -0.25);
	emit("mixed-signs", &s);

	/* 60 order values of 5..500 with cents */
	sketch_init(&s, 7);
	for (int i = 0; i < 60; i++)
		add(&s, round((5.0 + 495.0 * next_unit()) * 100.0) / 100.0);
	emit("orders-60", &s);

	/* lognormal-ish, both signs, repeated buckets (counts > 1) */
	sketch_init(&s, 5);
	for (int i = 0; i < 200; i++)
		add(&s, (i % 5 == 0 ? -1.0 : 1.0) * exp(4.0 * (next_unit() - 0.5)));
	emit("signed-200-scale5", &s);

	/* a range wide enough to drop the scale */
	sketch_init(&s, 12);
	for (int i = 0; i < 40; i++)
		add(&s, pow(10.0, -300.0 + 600.0 * next_unit()));
	emit("wide-range", &s);

	sketch_init(&s, 0);
	add(&s, DBL_MAX);
	add(&s, -DBL_MAX);
	add(&s, DBL_TRUE_MIN);
	add(&s, DBL_MIN);
	add(&s, 1.0);
	emit("extremes-scale0", &s);

	sketch_init(&s, 9);
	for (int i = 0; i < 20; i++)
		add(&s, ldexp(1.0 + i, -1074 + i));	/* subnormals */
	emit("subnormals", &s);

	sketch_init(&s, 7);
	sketch_add_int64(&s, INT64_MIN, &mem);
	sketch_add_int64(&s, INT64_MAX, &mem);
	sketch_add_int64(&s, (INT64_C(1) << 53) + 1, &mem);
	emit("int64-extremes", &s);

	/* other spellings of the doubles, which the parser accepts too */
	{
		char	   *text;
		char		alt[256];
		const char *p;

		sketch_init(&s, 7);
		add(&s, 1.5);
		add(&s, 8.0);
		add(&s, 0.0);
		add(&s, -0.25);
		if (sketch_format(&s, &mem, &text) != SKETCH_OK ||
			(p = strstr(text, " sum=")) == NULL)
			return 1;
		/* "... min=-0.25 max=8 sum=..." becomes "min=-2.5e-1 max=0x1p3" */
		snprintf(alt, sizeof(alt), "v1 scale=7 count=4 min=-2.5e-1 max=0x1p3%s", p);
		write_file("fuzz_sketch_parse", "spelling-1", alt, strlen(alt));
		snprintf(alt, sizeof(alt), "v1 scale=7 count=4 min=-.250 max=8.000%s", p);
		write_file("fuzz_sketch_parse", "spelling-2", alt, strlen(alt));
		free(text);
		sketch_free(&s, &mem);
	}
	return 0;
}
