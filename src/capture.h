/*
 * capture.h
 *	  The capture trigger on seller_analytics.events (capture.c).
 */
#ifndef CAPTURE_H
#define CAPTURE_H

/* registers the (sub)transaction callbacks; called from _PG_init */
extern void capture_init(void);

#endif							/* CAPTURE_H */
