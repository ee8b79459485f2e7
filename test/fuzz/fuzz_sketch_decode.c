/*
 * fuzz_sketch_decode.c
 *	  libFuzzer harness: arbitrary bytes to sketch_decode.
 *
 * Rejected input must be SKETCH_CORRUPT with a message.  Accepted input must
 * be canonical (re-encoding gives the input back), read back through the
 * text form, answer within [min, max], and stay valid when merged with a
 * copy, with itself and into an empty sketch, and when values are added;
 * merging it with another sketch must not depend on the order.
 */
#include "fuzz_common.h"

int			LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Sketch		s,
				copy,
				self,
				empty;
	char		err[128] = "";
	SketchStatus st = sketch_decode(data, size, &s, &fuzz_mem, err, sizeof(err));

	if (st != SKETCH_OK)
	{
		REQUIRE(st == SKETCH_CORRUPT);
		REQUIRE(err[0] != '\0');
		return 0;
	}
	fuzz_encode_equals(&s, data, size);
	fuzz_check_sketch(&s, data, size);

	/* merged with a copy and with itself: the same sketch, valid */
	REQUIRE(sketch_decode(data, size, &copy, &fuzz_mem, NULL, 0) == SKETCH_OK);
	REQUIRE(sketch_decode(data, size, &self, &fuzz_mem, NULL, 0) == SKETCH_OK);
	st = sketch_merge(&copy, &s, &fuzz_mem);
	if (s.count > UINT64_MAX / 2)
	{
		REQUIRE(st == SKETCH_OVERFLOW);
		REQUIRE(sketch_merge(&self, &self, &fuzz_mem) == SKETCH_OVERFLOW);
	}
	else
	{
		uint8_t    *e = NULL;
		size_t		n = 0;

		REQUIRE(st == SKETCH_OK);
		REQUIRE(copy.count == 2 * s.count);
		REQUIRE(sketch_merge(&self, &self, &fuzz_mem) == SKETCH_OK);
		REQUIRE(sketch_encode(&copy, &fuzz_mem, &e, &n) == SKETCH_OK);
		fuzz_encode_equals(&self, e, n);
		free(e);
		fuzz_encoding_is_valid(&copy);
	}
	/* the source of a merge is untouched */
	fuzz_encode_equals(&s, data, size);

	/* an empty sketch at the same scale is the identity, in both orders */
	sketch_init(&empty, s.scale);
	REQUIRE(sketch_merge(&empty, &s, &fuzz_mem) == SKETCH_OK);
	fuzz_encode_equals(&empty, data, size);
	sketch_free(&empty, &fuzz_mem);
	sketch_init(&empty, s.scale);
	REQUIRE(sketch_merge(&s, &empty, &fuzz_mem) == SKETCH_OK);
	fuzz_encode_equals(&s, data, size);

	/* merging is commutative: with a small sketch at another scale */
	{
		Sketch		t,
					a,
					b;
		uint8_t    *e = NULL;
		size_t		n = 0;
		SketchStatus sa,
					sb;

		sketch_init(&t, (s.scale + 5) % (SKETCH_MAX_SCALE + 1));
		REQUIRE(sketch_add(&t, 1.0, &fuzz_mem) == SKETCH_OK);
		REQUIRE(sketch_add(&t, -3.5, &fuzz_mem) == SKETCH_OK);
		if (s.count > 0)
			REQUIRE(sketch_add(&t, s.max, &fuzz_mem) == SKETCH_OK);
		REQUIRE(sketch_encode(&t, &fuzz_mem, &e, &n) == SKETCH_OK);
		REQUIRE(sketch_decode(e, n, &b, &fuzz_mem, NULL, 0) == SKETCH_OK);
		free(e);
		REQUIRE(sketch_decode(data, size, &a, &fuzz_mem, NULL, 0) == SKETCH_OK);
		sa = sketch_merge(&a, &t, &fuzz_mem);
		sb = sketch_merge(&b, &s, &fuzz_mem);
		REQUIRE(sa == sb);
		if (sa == SKETCH_OK)
		{
			REQUIRE(sketch_encode(&a, &fuzz_mem, &e, &n) == SKETCH_OK);
			fuzz_encode_equals(&b, e, n);
			free(e);
			fuzz_encoding_is_valid(&a);
		}
		else
			REQUIRE(sa == SKETCH_OVERFLOW);
		sketch_free(&t, &fuzz_mem);
		sketch_free(&a, &fuzz_mem);
		sketch_free(&b, &fuzz_mem);
	}

	/* more values: still valid */
	if (s.count > 0)
	{
		double		more[] = {s.min, s.max, 0.0, (s.min + s.max) / 2, -s.max};

		for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		{
			st = sketch_add(&s, more[i], &fuzz_mem);
			REQUIRE(st == SKETCH_OK || (st == SKETCH_OVERFLOW && s.count == UINT64_MAX) ||
					(st == SKETCH_INFINITE && isinf(more[i])));
		}
		st = sketch_add_int64(&s, (int64_t) (s.count & 0xffff) - 0x8000, &fuzz_mem);
		REQUIRE(st == SKETCH_OK || (st == SKETCH_OVERFLOW && s.count == UINT64_MAX));
		fuzz_encoding_is_valid(&s);
	}

	sketch_free(&s, &fuzz_mem);
	sketch_free(&copy, &fuzz_mem);
	sketch_free(&self, &fuzz_mem);
	sketch_free(&empty, &fuzz_mem);
	return 0;
}
