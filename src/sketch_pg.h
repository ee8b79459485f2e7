/*
 * sketch_pg.h
 *	  What the SQL glue of the percentile sketch (sketch_pg.c) offers to the
 *	  extension's other C files.
 */
#ifndef SKETCH_PG_H
#define SKETCH_PG_H

#include "postgres.h"

#include "sketch.h"

/* a SketchMem that allocates in cxt */
extern SketchMem sketch_pg_mem(MemoryContext cxt);

/* ereport a failed core call on values (NaN, infinity, overflow, memory) */
extern void sketch_pg_check(SketchStatus st);

/* the canonical stored form of s, as percentile_agg returns it */
extern bytea *sketch_pg_encode(Sketch *s);

/* the scale of percentile_agg without a relative error argument */
extern int	sketch_pg_default_scale(void);

#endif							/* SKETCH_PG_H */
