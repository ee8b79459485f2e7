/*
 * live.h
 *	  The unsettled seller-days that the live views read through (live.c).
 */
#ifndef LIVE_H
#define LIVE_H

/* registers the end-of-transaction callback */
extern void live_init(void);

#endif							/* LIVE_H */
