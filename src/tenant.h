/*
 * tenant.h
 *	  The tenant setting and current_seller_id() (tenant.c).
 */
#ifndef TENANT_H
#define TENANT_H

/* defines seller_analytics.seller_id and registers the cache callbacks */
extern void tenant_init(void);

#endif							/* TENANT_H */
