/*
 * seller_analytics.c
 *	  Module initialisation of the seller_analytics extension.
 *
 * The extension's SQL objects live in the schema seller_analytics; see
 * control/seller_analytics--0.1.sql.  This file holds what must happen once
 * per backend when the library loads: the pure-C cores' interrupt check,
 * the transaction callbacks of the capture trigger and of the live read,
 * the tenant setting and the privacy budget setting.
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "capture.h"
#include "dp_budget.h"
#include "dp_noise.h"
#include "live.h"
#include "sketch.h"
#include "tenant.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* lets the pure-C sketch and noise cores honour query cancellation in long loops */
static void
SketchCheckInterrupts(void)
{
	CHECK_FOR_INTERRUPTS();
}

void
_PG_init(void)
{
	sketch_check_interrupts = SketchCheckInterrupts;
	dp_check_interrupts = SketchCheckInterrupts;
	capture_init();
	tenant_init();
	live_init();
	dp_budget_init();
	/* no placeholder settings seller_analytics.* from now on: a typo errors */
	MarkGUCPrefixReserved("seller_analytics");
}
