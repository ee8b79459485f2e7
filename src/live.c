/*
 * live.c
 *	  Which seller-days are unsettled: pending_day(seller_id, day) and
 *	  any_pending_day(), the two tests the live views read through.
 *
 * The live views (seller_daily_metrics, seller_daily_traffic) read a
 * compacted row as it is when its seller-day is settled (no pending delta,
 * no recompute mark), and compute only the unsettled seller-days as before:
 * rollup plus pending deltas, or a recomputation from raw events.  So a
 * dashboard that nothing is pending for costs about what reading its
 * rollup rows costs: the view plans as a scan of the rollup table with
 * pending_day() as a filter, beside a set-returning function that returns
 * at once when any_pending_day() is false.
 *
 * Both read one set: the unsettled (seller_id, day) keys the caller can
 * see, read through SPI as the caller (so row-level security applies: a
 * caller learns nothing of a seller whose rows it may not read) and
 * read-only with the calling query's snapshot.  The set is read once per
 * snapshot and kept until the next snapshot differs or the transaction
 * ends.  A snapshot is identified as PostgreSQL itself does to reuse one
 * (xmin, xmax and the count of completed transactions), with the command
 * id of its own transaction; the set also depends on who reads (the user
 * and current_seller_id()).  So the table scan's filter and the unsettled
 * rows that the set-returning function returns always agree: every
 * seller-day comes from exactly one of them.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "live.h"
#include "tenant.h"

typedef struct UnsettledKey
{
	int64		seller_id;
	DateADT		day;
} UnsettledKey;

/* the unsettled keys the caller sees with one snapshot */
typedef struct UnsettledSet
{
	bool		valid;
	/* what the set was read with */
	TransactionId xmin;
	TransactionId xmax;
	uint64		completions;
	CommandId	curcid;
	Oid			user;
	bool		has_seller;
	int64		seller;
	/* the keys, in cxt */
	MemoryContext cxt;
	HTAB	   *keys;
	long		nkeys;
	uint64		generation;		/* counts the reads */
} UnsettledSet;

/*
 * What one call site (a filter in one execution of a query) last used: while
 * the query runs with the same snapshot, the set it read is the set.
 */
typedef struct UnsettledCallSite
{
	Snapshot	snapshot;
	uint64		generation;
} UnsettledCallSite;

static UnsettledSet unsettled = {false};
static SPIPlanPtr unsettled_plan = NULL;

static const char *const UnsettledQuery =
"SELECT p.seller_id, p.day FROM seller_analytics.pending_deltas p "
"UNION "
"SELECT m.seller_id, m.day FROM seller_analytics.recompute_marks m";

/* whether the set was read with this snapshot, by this reader */
static bool
UnsettledSetMatches(Snapshot snap, Oid user, bool has_seller, int64 seller)
{
	return unsettled.valid &&
		unsettled.xmin == snap->xmin && unsettled.xmax == snap->xmax &&
		unsettled.completions == snap->snapXactCompletionCount &&
		unsettled.curcid == snap->curcid && unsettled.user == user &&
		unsettled.has_seller == has_seller &&
		(!has_seller || unsettled.seller == seller);
}

/* ReadUnsettledKeys: the keys the caller sees, into unsettled.keys */
static void
ReadUnsettledKeys(void)
{
	HASHCTL		ctl;
	uint64		i;
	int			rc;

	if (unsettled.cxt == NULL)
		unsettled.cxt = AllocSetContextCreate(TopMemoryContext,
											  "seller_analytics unsettled days",
											  ALLOCSET_SMALL_SIZES);
	MemoryContextReset(unsettled.cxt);
	ctl.keysize = sizeof(UnsettledKey);
	ctl.entrysize = sizeof(UnsettledKey);
	ctl.hcxt = unsettled.cxt;
	unsettled.keys = hash_create("seller_analytics unsettled days", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	unsettled.nkeys = 0;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (unsettled_plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(UnsettledQuery, 0, NULL);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		unsettled_plan = plan;
	}
	rc = SPI_execute_plan(unsettled_plan, NULL, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		UnsettledKey key;
		bool		seller_null,
					day_null;

		CHECK_FOR_INTERRUPTS();
		memset(&key, 0, sizeof(key));
		key.seller_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &seller_null));
		key.day = DatumGetDateADT(SPI_getbinval(tuple, desc, 2, &day_null));
		if (seller_null || day_null)
			continue;			/* both columns are NOT NULL */
		hash_search(unsettled.keys, &key, HASH_ENTER, NULL);
	}
	unsettled.nkeys = hash_get_num_entries(unsettled.keys);
	SPI_finish();
}

/*
 * CurrentUnsettledSet: the unsettled keys the caller sees with the active
 * snapshot, read now unless they were read with the same snapshot.
 */
static UnsettledSet *
CurrentUnsettledSet(void)
{
	Snapshot	snap;
	Oid			user = GetUserId();
	int64		seller = 0;
	bool		has_seller = tenant_current_seller(&seller);

	if (!ActiveSnapshotSet())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("seller_analytics.pending_day() needs a query's snapshot")));
	snap = GetActiveSnapshot();
	if (UnsettledSetMatches(snap, user, has_seller, seller))
		return &unsettled;

	unsettled.valid = false;
	ReadUnsettledKeys();
	/* a snapshot without a completion count (restored) is never reused */
	unsettled.valid = (snap->snapXactCompletionCount != 0);
	unsettled.xmin = snap->xmin;
	unsettled.xmax = snap->xmax;
	unsettled.completions = snap->snapXactCompletionCount;
	unsettled.curcid = snap->curcid;
	unsettled.user = user;
	unsettled.has_seller = has_seller;
	unsettled.seller = seller;
	unsettled.generation++;
	return &unsettled;
}

/*
 * UnsettledSetFor: CurrentUnsettledSet(), remembered by the call site for
 * the rest of its query: within one execution of a query the snapshot, the
 * user and the seller stay what they were, so the checks are made once.
 */
static UnsettledSet *
UnsettledSetFor(FunctionCallInfo fcinfo)
{
	UnsettledCallSite *site = (UnsettledCallSite *) fcinfo->flinfo->fn_extra;
	UnsettledSet *set;

	if (site != NULL && ActiveSnapshotSet() &&
		site->snapshot == GetActiveSnapshot() &&
		site->generation == unsettled.generation)
		return &unsettled;
	set = CurrentUnsettledSet();
	if (site == NULL)
	{
		site = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(UnsettledCallSite));
		fcinfo->flinfo->fn_extra = site;
	}
	site->snapshot = GetActiveSnapshot();
	site->generation = set->generation;
	return set;
}

/* forget the set at the end of every transaction */
static void
LiveXactCallback(XactEvent event, void *arg)
{
	unsettled.valid = false;
}

void
live_init(void)
{
	RegisterXactCallback(LiveXactCallback, NULL);
}

/*
 * pending_day(seller_id bigint, day date) returns boolean: whether the
 * seller-day has pending deltas or a recompute mark that the caller can
 * see with the calling query's snapshot.
 */
PG_FUNCTION_INFO_V1(seller_analytics_pending_day);
Datum
seller_analytics_pending_day(PG_FUNCTION_ARGS)
{
	UnsettledSet *set = UnsettledSetFor(fcinfo);
	UnsettledKey key;

	if (set->nkeys == 0)
		PG_RETURN_BOOL(false);
	memset(&key, 0, sizeof(key));
	key.seller_id = PG_GETARG_INT64(0);
	key.day = PG_GETARG_DATEADT(1);
	PG_RETURN_BOOL(hash_search(set->keys, &key, HASH_FIND, NULL) != NULL);
}

/*
 * any_pending_day() returns boolean: whether any seller-day that the caller
 * can see is unsettled, with the calling query's snapshot.
 */
PG_FUNCTION_INFO_V1(seller_analytics_any_pending_day);
Datum
seller_analytics_any_pending_day(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(UnsettledSetFor(fcinfo)->nkeys > 0);
}
