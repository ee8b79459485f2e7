/*
 * test/sketch_text.h
 *	  Comparing two texts of one percentile sketch; shared by the unit tests
 *	  and the fuzz harnesses.
 */
#ifndef SELLER_ANALYTICS_TEST_SKETCH_TEXT_H
#define SELLER_ANALYTICS_TEST_SKETCH_TEXT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Two texts of one sketch: only doubles have other spellings (8 as 8e0 or
 * 8.000), so the texts must agree field by field, min= and max= by value
 * (bit for bit).  Both are NUL-terminated; in an accepted text a double is
 * followed by a space, where strtod stops.
 */
static inline bool
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
			uint64_t	ba,
						bb;

			memcpy(&ba, &da, sizeof(ba));
			memcpy(&bb, &db, sizeof(bb));
			if (enda != a + la || endb != b + lb || ba != bb)
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

#endif
