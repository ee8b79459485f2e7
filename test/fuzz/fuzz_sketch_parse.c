/*
 * fuzz_sketch_parse.c
 *	  libFuzzer harness: arbitrary bytes to sketch_parse, then sketch_decode.
 *
 * Rejected input must be SKETCH_CORRUPT with a message.  Accepted input must
 * decode to the sketch whose canonical text differs from the input at most
 * in the spelling of min and max (a double reads the same written as 8,
 * 8.0 or 8e0; every other field has one spelling), and text -> binary ->
 * text must be a fixed point.
 */
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Same fields in the same order; min= and max= compared by value.  Both
 * texts are NUL-terminated, and in an accepted text a double is followed by
 * a space, where strtod stops.
 */
static bool
texts_equivalent(const char *a, const char *b)
{
	for (;;)
	{
		const char *ea = strchr(a, ' ');
		const char *eb = strchr(b, ' ');
		size_t		la = ea ? (size_t) (ea - a) : strlen(a);
		size_t		lb = eb ? (size_t) (eb - b) : strlen(b);

		if ((ea == NULL) != (eb == NULL))
			return false;
		if (la > 4 && lb > 4 && (strncmp(a, "min=", 4) == 0 || strncmp(a, "max=", 4) == 0) &&
			strncmp(a, b, 4) == 0)
		{
			char	   *enda,
					   *endb;
			double		da = strtod(a + 4, &enda);
			double		db = strtod(b + 4, &endb);

			if (enda != a + la || endb != b + lb || !fuzz_same_bits(da, db))
				return false;
		}
		else if (la != lb || memcmp(a, b, la) != 0)
			return false;
		if (ea == NULL)
			return true;
		a += la + 1;
		b += lb + 1;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t    *bytes = NULL;
	size_t		n = 0;
	char		err[128] = "";
	char	   *text = NULL;
	Sketch		s;
	SketchStatus st = sketch_parse((const char *) data, size, &fuzz_mem, &bytes, &n,
								   err, sizeof(err));

	if (st != SKETCH_OK)
	{
		REQUIRE(st == SKETCH_CORRUPT);
		REQUIRE(err[0] != '\0');
		return 0;
	}
	REQUIRE(n >= 3);
	err[0] = '\0';
	st = sketch_decode(bytes, n, &s, &fuzz_mem, err, sizeof(err));
	if (st != SKETCH_OK)
	{
		REQUIRE(st == SKETCH_CORRUPT);
		REQUIRE(err[0] != '\0');
		free(bytes);
		return 0;
	}
	/* what the parser wrote is what the encoder writes */
	fuzz_encode_equals(&s, bytes, n);
	/* includes: format -> parse gives the same bytes (the fixed point) */
	fuzz_check_sketch(&s, bytes, n);

	REQUIRE(sketch_format(&s, &fuzz_mem, &text) == SKETCH_OK);
	{
		/* accepted text has no NUL inside, so a copy with one at the end is the text */
		char	   *input = malloc(size + 1);

		REQUIRE(input != NULL);
		memcpy(input, data, size);
		input[size] = '\0';
		if (!texts_equivalent(input, text))
		{
			fprintf(stderr, "accepted \"%s\"\n     as \"%s\"\n", input, text);
			abort();
		}
		free(input);
	}
	free(text);
	free(bytes);
	sketch_free(&s, &fuzz_mem);
	return 0;
}
