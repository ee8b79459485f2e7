/*
 * tenant.h
 *	  The tenant setting and current_seller_id() (tenant.c).
 */
#ifndef TENANT_H
#define TENANT_H

/* defines seller_analytics.seller_id and registers the cache callbacks */
extern void tenant_init(void);

/* the current seller, as current_seller_id() returns it; false for none */
extern bool tenant_current_seller(int64 *seller_id);

#endif							/* TENANT_H */
