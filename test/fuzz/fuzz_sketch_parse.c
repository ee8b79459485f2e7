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
#include "../sketch_text.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
