/*
 * capture.c
 *	  The capture trigger on seller_analytics.events, and the seller's local
 *	  day of an instant.
 *
 * A row trigger, capture_events(), adds the signed contribution of every
 * event row that an INSERT, UPDATE or DELETE touches to an in-memory table
 * of the current (sub)transaction, keyed by (seller, local day, traffic
 * source).  At pre-commit (or pre-prepare) the table is appended to
 * seller_analytics.pending_deltas, one row per key, and the seller-days
 * whose order-value sketch cannot be corrected by subtraction (an order
 * that was updated or deleted) to seller_analytics.recompute_marks.  No
 * rollup row is ever read or updated here, so writers never wait for each
 * other on a hot seller and cannot deadlock on rollups.
 *
 * A subtransaction gets its own table: merged into its parent's when it
 * commits, dropped when it rolls back.
 *
 * Memory is bounded whatever the size of the transaction.  An entry has a
 * fixed size (counts in int64, amounts as int128 sums of cents, so no
 * numeric is ever allocated per row) except for its order-value sketch,
 * which grows with the spread of the values but never past its bucket cap.
 * Each level's table and sketches live in a memory context of their own;
 * when it passes seller_analytics.capture_memory, the trigger appends the
 * level's entries to pending_deltas at once, within the same
 * (sub)transaction, and empties the context.  A flush builds its rows a
 * batch at a time in a context reset per batch.  So the capture holds at
 * most capture_memory (plus one row's growth) per open savepoint level; a
 * large transaction only writes more pending rows, which compaction folds
 * like any others.  PostgreSQL's own queue of AFTER ROW trigger events (12
 * bytes a row and trigger until the statement ends, as for the foreign
 * key) is outside this bound.
 *
 * The local day of an event uses the seller's time zone, read through the
 * sellers primary key with the latest snapshot and cached per backend until
 * sellers is invalidated.  A change of a seller's time zone locks events
 * against writers, invalidates the caches and marks the seller's days for
 * recomputation (install script), so a day is never computed with a time
 * zone that is no longer the seller's.
 */
#include "postgres.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "access/tableam.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "storage/proc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "capture.h"
#include "sketch_pg.h"

#define SCHEMA_NAME		"seller_analytics"
#define SOURCE_MAX		64		/* octets: events_traffic_source_valid */
#define NULL_SOURCE		"unknown"	/* the source of events without one */

typedef enum EventType
{
	EV_SESSION_START,
	EV_PAGE_VIEW,
	EV_ADD_TO_CART,
	EV_ORDER,
	EV_REFUND
} EventType;

/* zeroed before it is filled: the hash compares every byte */
typedef struct CaptureKey
{
	int64		seller_id;
	DateADT		day;
	char		source[SOURCE_MAX + 1];
} CaptureKey;

typedef struct CaptureEntry
{
	CaptureKey	key;
	int64		sessions;
	int64		page_views;
	int64		add_to_carts;
	int64		orders;
	int64		units;
	int64		refunds;
	int128		revenue;		/* cents */
	int128		refund_amount;	/* cents */
	bool		has_revenue;	/* an amount went into revenue (then its
								 * numeric has two decimals, as before) */
	bool		has_refund_amount;
	Sketch	   *order_value;	/* orders added (in the level's context), or
								 * NULL */
	bool		recompute;		/* an order left this key */
} CaptureEntry;

/* the changes of one (sub)transaction level that touched events */
typedef struct CaptureLevel
{
	int			nest_level;
	MemoryContext cxt;			/* entries and their sketches */
	HTAB	   *entries;
	bool		truncated;		/* events was truncated at this level: the
								 * outer levels' changes go when it commits */
	struct CaptureLevel *parent;
} CaptureLevel;

/* innermost level with changes; the levels live in TopTransactionContext */
static CaptureLevel *capture_top = NULL;

/* seller_analytics.capture_memory, kB: a level's table flushes past it */
static int	capture_memory_kb = 65536;

/* per event row, and per key of a flush: reset after each */
static MemoryContext capture_row_cxt = NULL;

/*
 * seller -> time zone, for the life of the backend.  Any relcache
 * invalidation of sellers empties it: the trigger on a change of time zone
 * sends one (time_zones_changed()), which other backends receive when they
 * next lock a relation, and this backend at once.  A writer cannot miss
 * one: the change locks events in SHARE mode, so it cannot commit while a
 * transaction that has written events (and may have cached zones) is open,
 * and a transaction that locks events after it commits processes the
 * invalidation first.
 */
typedef struct TzCacheEntry
{
	int64		seller_id;
	pg_tz	   *tz;
} TzCacheEntry;

#define TZ_CACHE_MAX	1000000 /* entries; emptied when it grows past */

static HTAB *tz_cache = NULL;
static Oid	sellers_relid = InvalidOid;
static Oid	sellers_pkey = InvalidOid;
static AttrNumber sellers_id_attnum;
static AttrNumber sellers_tz_attnum;

/* attribute numbers of the events columns the trigger reads, per relation */
typedef enum EventColumn
{
	COL_SELLER_ID,
	COL_EVENT_TYPE,
	COL_OCCURRED_AT,
	COL_TRAFFIC_SOURCE,
	COL_AMOUNT,
	COL_QUANTITY,
	NUM_EVENT_COLUMNS
} EventColumn;

static const char *const event_column_names[NUM_EVENT_COLUMNS] = {
	"seller_id", "event_type", "occurred_at", "traffic_source", "amount", "quantity"
};

static Oid	events_relid = InvalidOid;
static AttrNumber event_attnums[NUM_EVENT_COLUMNS];

/* ------------------------------------------------------------ local days */

/*
 * Does tz stay within a day of UTC?  The recomputation from raw events looks
 * for a local day's events within two days of its UTC date, which holds for
 * offsets under 24 hours: every IANA zone, historical local mean times
 * included (under 16 hours), but not every POSIX string ('FOO+100').  Checked
 * at 1 January and 1 July of every tenth year from 1800 to 2200 and of every
 * year from 1970 to 2100, which meets both offsets of any POSIX rule.
 */
static bool
OffsetsUnderADay(pg_tz *tz)
{
	long		gmtoff;

	if (pg_get_timezone_offset(tz, &gmtoff))
		return gmtoff > -SECS_PER_DAY && gmtoff < SECS_PER_DAY;
	for (int year = 1800; year <= 2200; year += (year >= 1970 && year < 2100) ? 1 : 10)
	{
		for (int half = 0; half < 2; half++)
		{
			pg_time_t	t = (pg_time_t) ((date2j(year, 1 + 6 * half, 1) - UNIX_EPOCH_JDATE)) *
				SECS_PER_DAY;
			struct pg_tm *tm = pg_localtime(&t, tz);

			if (tm == NULL || tm->tm_gmtoff <= -SECS_PER_DAY || tm->tm_gmtoff >= SECS_PER_DAY)
				return false;
		}
	}
	return true;
}

/* the zones checked so far (pg_tzset's zones live as long as the backend) */
typedef struct CheckedZone
{
	pg_tz	   *tz;
	bool		ok;
} CheckedZone;

static HTAB *checked_zones = NULL;

/* a time zone the rollups accept, or NULL */
static pg_tz *
LookupTimeZone(const char *name)
{
	pg_tz	   *tz = pg_tzset(name);
	CheckedZone *z;
	bool		found;

	if (tz == NULL)
		return NULL;
	if (checked_zones == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(pg_tz *);
		ctl.entrysize = sizeof(CheckedZone);
		checked_zones = hash_create("seller_analytics checked time zones", 64,
									&ctl, HASH_ELEM | HASH_BLOBS);
	}
	z = hash_search(checked_zones, &tz, HASH_ENTER, &found);
	if (!found)
		z->ok = pg_tz_acceptable(tz) && OffsetsUnderADay(tz);
	return z->ok ? tz : NULL;
}

/* the local calendar day of t in tz */
static DateADT
LocalDay(TimestampTz t, pg_tz *tz)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (TIMESTAMP_NOT_FINITE(t))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("event time must be finite")));
	if (timestamp2tm(t, &tzoff, &tm, &fsec, NULL, tz) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
}

/* local_day(timestamptz, time_zone text) returns date */
PG_FUNCTION_INFO_V1(seller_analytics_local_day);
Datum
seller_analytics_local_day(PG_FUNCTION_ARGS)
{
	TimestampTz t = PG_GETARG_TIMESTAMPTZ(0);
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	pg_tz	   *tz = LookupTimeZone(name);

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" not recognized", name)));
	PG_RETURN_DATEADT(LocalDay(t, tz));
}

/* is_valid_time_zone(text) returns boolean */
PG_FUNCTION_INFO_V1(seller_analytics_is_valid_time_zone);
Datum
seller_analytics_is_valid_time_zone(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));

	PG_RETURN_BOOL(LookupTimeZone(name) != NULL);
}

static void
ForgetTimeZones(void)
{
	if (tz_cache != NULL)
		hash_destroy(tz_cache);
	tz_cache = NULL;
	sellers_relid = InvalidOid;
}

static void
CaptureRelcacheCallback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == sellers_relid)
		ForgetTimeZones();
	if (!OidIsValid(relid) || relid == events_relid)
		events_relid = InvalidOid;
}

/*
 * invalidate_caches(): statement trigger that sends a relcache invalidation
 * of its table, which empties the per-backend caches built from it (the
 * time zones of sellers here, the seller of a login role in tenant.c): all
 * backends' at its commit, this one's at its next command.
 * time_zones_changed() is the same function under its name of version 0.2.
 */
PG_FUNCTION_INFO_V1(seller_analytics_invalidate_caches);
Datum
seller_analytics_invalidate_caches(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by the trigger manager",
						get_func_name(fcinfo->flinfo->fn_oid))));
	CacheInvalidateRelcache(trigdata->tg_relation);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(seller_analytics_time_zones_changed);
Datum
seller_analytics_time_zones_changed(PG_FUNCTION_ARGS)
{
	return seller_analytics_invalidate_caches(fcinfo);
}

/* find sellers, its primary key and columns (once per invalidation) */
static void
LookupSellers(void)
{
	Oid			relid;
	Relation	rel;

	relid = get_relname_relid("sellers", get_namespace_oid(SCHEMA_NAME, false));
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.sellers\" does not exist", SCHEMA_NAME)));
	rel = table_open(relid, AccessShareLock);
	sellers_pkey = RelationGetPrimaryKeyIndex(rel);
	sellers_id_attnum = get_attnum(relid, "seller_id");
	sellers_tz_attnum = get_attnum(relid, "time_zone");
	table_close(rel, AccessShareLock);
	if (!OidIsValid(sellers_pkey) || sellers_id_attnum == InvalidAttrNumber ||
		sellers_tz_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s.sellers\" lacks its primary key or time_zone column",
						SCHEMA_NAME)));
	sellers_relid = relid;
}

/* The seller's time zone, or an error when there is no such seller. */
static pg_tz *
SellerTimeZone(int64 seller_id)
{
	TzCacheEntry *hit;
	bool		found;
	Relation	rel;
	ScanKeyData key;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *name = NULL;
	pg_tz	   *tz;

	if (tz_cache != NULL)
	{
		hit = hash_search(tz_cache, &seller_id, HASH_FIND, NULL);
		if (hit != NULL)
			return hit->tz;
	}

	if (!OidIsValid(sellers_relid))
		LookupSellers();
	rel = table_open(sellers_relid, AccessShareLock);
	ScanKeyInit(&key, sellers_id_attnum, BTEqualStrategyNumber, F_INT8EQ,
				Int64GetDatum(seller_id));
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = systable_beginscan(rel, sellers_pkey, true, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, sellers_tz_attnum,
									 RelationGetDescr(rel), &isnull);

		name = isnull ? pstrdup("UTC") : TextDatumGetCString(d);
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("seller %lld does not exist", (long long) seller_id),
				 errhint("Add the seller to seller_analytics.sellers before its events.")));
	tz = LookupTimeZone(name);
	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" of seller %lld not recognized",
						name, (long long) seller_id)));

	/* the relation may have been invalidated by the scan's lock */
	if (tz_cache == NULL || hash_get_num_entries(tz_cache) >= TZ_CACHE_MAX)
	{
		HASHCTL		ctl;

		if (tz_cache != NULL)
			hash_destroy(tz_cache);
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(TzCacheEntry);
		tz_cache = hash_create("seller_analytics time zones", 1024, &ctl,
							   HASH_ELEM | HASH_BLOBS);
	}
	hit = hash_search(tz_cache, &seller_id, HASH_ENTER, &found);
	hit->tz = tz;
	return tz;
}

/* ---------------------------------------------------------- accumulation */

/* a new, empty table of entries in lvl's context */
static void
NewEntryTable(CaptureLevel *lvl)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(CaptureKey);
	ctl.entrysize = sizeof(CaptureEntry);
	ctl.hcxt = lvl->cxt;
	lvl->entries = hash_create("seller_analytics captured changes", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* drop what a level has captured so far, and its memory */
static void
ClearEntries(CaptureLevel *lvl)
{
	MemoryContextReset(lvl->cxt);
	NewEntryTable(lvl);
}

/* the current (sub)transaction level, made on first use */
static CaptureLevel *
CurrentLevel(void)
{
	int			level = GetCurrentTransactionNestLevel();

	if (capture_top == NULL || capture_top->nest_level < level)
	{
		CaptureLevel *lvl = MemoryContextAlloc(TopTransactionContext,
											   sizeof(CaptureLevel));

		lvl->nest_level = level;
		lvl->cxt = AllocSetContextCreate(TopTransactionContext,
										 "seller_analytics capture",
										 ALLOCSET_DEFAULT_SIZES);
		NewEntryTable(lvl);
		lvl->truncated = false;
		lvl->parent = capture_top;
		capture_top = lvl;
	}
	Assert(capture_top->nest_level == level);
	return capture_top;
}

/* a level that has ended: its memory goes */
static void
FreeLevel(CaptureLevel *lvl)
{
	MemoryContextDelete(lvl->cxt);
	pfree(lvl);
}

static CaptureEntry *
EntryFor(HTAB *entries, const CaptureKey *key)
{
	bool		found;
	CaptureEntry *e = hash_search(entries, key, HASH_ENTER, &found);

	if (!found)
	{
		memset(((char *) e) + sizeof(CaptureKey), 0,
			   sizeof(CaptureEntry) - sizeof(CaptureKey));
	}
	return e;
}

/*
 * An amount in cents, exactly, and as the double that numeric_float8 gives
 * (what percentile_agg adds to a sketch): cents / 100.0 is the double
 * nearest to the decimal, as strtod's, while |cents| < 2^53.  amount is
 * numeric(14, 2) by the table's definition; anything finer or larger is an
 * error, not a rounding.  Works on numeric_out's text, in capture_row_cxt.
 */
static int64
AmountCents(Datum amount, double *value)
{
	const char *p = DatumGetCString(DirectFunctionCall1(numeric_out, amount));
	bool		negative = false;
	int64		cents = 0;
	int			int_digits = 0;
	int			frac_digits = 0;

	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p >= '0' && *p <= '9'; p++)
	{
		if (int_digits > 0 || *p != '0')
			int_digits++;
		if (int_digits > 13)
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("event amount is out of range"),
					 errdetail("Amounts must be below 10^13.")));
		cents = cents * 10 + (*p - '0');
	}
	if (*p == '.')
	{
		for (p++; *p >= '0' && *p <= '9'; p++)
		{
			if (frac_digits < 2)
				cents = cents * 10 + (*p - '0');
			else if (*p != '0')
				ereport(ERROR,
						(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
						 errmsg("event amount must be a whole number of cents")));
			frac_digits++;
		}
	}
	for (; frac_digits < 2; frac_digits++)
		cents *= 10;
	if (*p != '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("event amount must be finite")));
	if (negative)
		cents = -cents;
	*value = (double) cents / 100.0;
	return cents;
}

/*
 * A sum of cents as a numeric: with two decimals when any amount went into
 * it (as the sum of numeric(14, 2) values has), else 0.
 */
static Datum
CentsToNumeric(int128 cents, bool any)
{
	char		buf[48];
	char	   *p = buf + sizeof(buf);
	bool		negative = cents < 0;
	uint128		u = negative ? -(uint128) cents : (uint128) cents;
	int			digits = 0;

	if (!any)
		return NumericGetDatum(int64_to_numeric(0));
	if (cents >= PG_INT64_MIN && cents <= PG_INT64_MAX)
		return NumericGetDatum(int64_div_fast_to_numeric((int64) cents, 2));
	*--p = '\0';
	do
	{
		*--p = '0' + (int) (u % 10);
		u /= 10;
		if (++digits == 2)
			*--p = '.';
	} while (u != 0 || digits < 3);
	if (negative)
		*--p = '-';
	return DirectFunctionCall3(numeric_in, CStringGetDatum(p),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}

static void
AddToSketch(CaptureEntry *e, double x, MemoryContext cxt)
{
	SketchMem	mem = sketch_pg_mem(cxt);

	if (e->order_value == NULL)
	{
		e->order_value = MemoryContextAlloc(cxt, sizeof(Sketch));
		sketch_init(e->order_value, sketch_pg_default_scale());
	}
	sketch_pg_check(sketch_add(e->order_value, x, &mem));
}

/* the columns of events the trigger reads */
typedef struct EventRow
{
	int64		seller_id;
	EventType	type;
	TimestampTz occurred_at;
	char		source[SOURCE_MAX + 1];
	int64		cents;			/* amount of an order or refund, in cents */
	double		value;			/* the same as the sketch adds it */
	int64		quantity;		/* 1 when NULL */
	DateADT		day;
} EventRow;

/* the events columns' attribute numbers in rel (once per invalidation) */
static void
LookupEventColumns(Relation rel)
{
	for (int c = 0; c < NUM_EVENT_COLUMNS; c++)
	{
		int			attnum = SPI_fnumber(RelationGetDescr(rel), event_column_names[c]);

		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("capture_events() needs a column \"%s\"",
							event_column_names[c])));
		event_attnums[c] = attnum;
	}
	events_relid = RelationGetRelid(rel);
}

static inline Datum
GetColumn(HeapTuple tuple, TupleDesc desc, EventColumn c, bool *isnull)
{
	return heap_getattr(tuple, event_attnums[c], desc, isnull);
}

/* does the text datum equal the NUL-terminated string lit? */
static inline bool
TextIs(text *t, const char *lit, size_t litlen)
{
	return VARSIZE_ANY_EXHDR(t) == litlen &&
		memcmp(VARDATA_ANY(t), lit, litlen) == 0;
}

#define TEXT_IS(t, lit) TextIs((t), (lit), sizeof(lit) - 1)

static void
ReadEvent(HeapTuple tuple, TupleDesc desc, EventRow *ev)
{
	bool		isnull;
	Datum		d;
	text	   *type;

	memset(ev, 0, sizeof(EventRow));

	d = GetColumn(tuple, desc, COL_SELLER_ID, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("event seller_id must not be null")));
	ev->seller_id = DatumGetInt64(d);

	d = GetColumn(tuple, desc, COL_EVENT_TYPE, &isnull);
	type = isnull ? NULL : DatumGetTextPP(d);
	if (type == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("event event_type must not be null")));
	else if (TEXT_IS(type, "page_view"))
		ev->type = EV_PAGE_VIEW;
	else if (TEXT_IS(type, "session_start"))
		ev->type = EV_SESSION_START;
	else if (TEXT_IS(type, "add_to_cart"))
		ev->type = EV_ADD_TO_CART;
	else if (TEXT_IS(type, "order"))
		ev->type = EV_ORDER;
	else if (TEXT_IS(type, "refund"))
		ev->type = EV_REFUND;
	else
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("unknown event_type \"%s\"", text_to_cstring(type)),
				 errhint("Known event types are session_start, page_view, add_to_cart, order and refund.")));

	d = GetColumn(tuple, desc, COL_OCCURRED_AT, &isnull);
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("event occurred_at must not be null")));
	ev->occurred_at = DatumGetTimestampTz(d);

	d = GetColumn(tuple, desc, COL_TRAFFIC_SOURCE, &isnull);
	if (isnull)
		strcpy(ev->source, NULL_SOURCE);
	else
	{
		text	   *t = DatumGetTextPP(d);
		int			len = VARSIZE_ANY_EXHDR(t);

		if (len < 1 || len > SOURCE_MAX)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("traffic_source must be 1 to %d bytes long", SOURCE_MAX)));
		memcpy(ev->source, VARDATA_ANY(t), len);
	}

	d = GetColumn(tuple, desc, COL_AMOUNT, &isnull);
	if ((ev->type == EV_ORDER || ev->type == EV_REFUND) && isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("an event of type \"%s\" needs an amount",
						ev->type == EV_ORDER ? "order" : "refund")));
	if (!isnull && numeric_is_nan(DatumGetNumeric(d)))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("event amount must not be NaN")));
	if (ev->type == EV_ORDER || ev->type == EV_REFUND)
		ev->cents = AmountCents(d, &ev->value);

	d = GetColumn(tuple, desc, COL_QUANTITY, &isnull);
	ev->quantity = isnull ? 1 : DatumGetInt32(d);

	ev->day = LocalDay(ev->occurred_at, SellerTimeZone(ev->seller_id));
}

/* Do two event rows contribute exactly the same to every metric? */
static bool
SameContribution(const EventRow *a, const EventRow *b)
{
	if (a->seller_id != b->seller_id || a->type != b->type ||
		a->day != b->day || strcmp(a->source, b->source) != 0)
		return false;
	if (a->type == EV_ORDER && a->quantity != b->quantity)
		return false;
	if (a->type == EV_ORDER || a->type == EV_REFUND)
		return a->cents == b->cents;
	return true;
}

static void
AddEvent(CaptureLevel *lvl, const EventRow *ev, int sign)
{
	CaptureKey	key;
	CaptureEntry *e;

	memset(&key, 0, sizeof(key));
	key.seller_id = ev->seller_id;
	key.day = ev->day;
	strcpy(key.source, ev->source);
	e = EntryFor(lvl->entries, &key);

	switch (ev->type)
	{
		case EV_SESSION_START:
			e->sessions += sign;
			break;
		case EV_PAGE_VIEW:
			e->page_views += sign;
			break;
		case EV_ADD_TO_CART:
			e->add_to_carts += sign;
			break;
		case EV_ORDER:
			e->orders += sign;
			e->units += sign * ev->quantity;
			e->revenue += sign * (int128) ev->cents;
			e->has_revenue = true;
			if (sign > 0)
				AddToSketch(e, ev->value, lvl->cxt);
			else
				e->recompute = true;	/* a sketch cannot subtract */
			break;
		case EV_REFUND:
			e->refunds += sign;
			e->refund_amount += sign * (int128) ev->cents;
			e->has_refund_amount = true;
			break;
	}
}

static pg_noinline void FlushLevel(CaptureLevel *lvl);

/*
 * Give the memory of a flushed table back to the system.  Its blocks go
 * back to malloc, which keeps the freed space of the heap resident where
 * other allocations (PostgreSQL's queue of trigger events grows all through
 * a large statement) sit above it: without this the backend's resident
 * memory grew by more than the bound over a few flushes.  Once per flush,
 * that is once per capture_memory of captured changes.
 */
static void
ReleaseFreedMemory(void)
{
#ifdef __GLIBC__
	malloc_trim(0);
#endif
}

/* capture_events(): AFTER INSERT OR UPDATE OR DELETE ... FOR EACH ROW */
PG_FUNCTION_INFO_V1(seller_analytics_capture_events);
Datum
seller_analytics_capture_events(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	CaptureLevel *lvl;
	EventRow	oldrow;
	EventRow	newrow;
	MemoryContext old;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("capture_events() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("capture_events() must be fired AFTER ... FOR EACH ROW")));

	desc = RelationGetDescr(trigdata->tg_relation);
	if (RelationGetRelid(trigdata->tg_relation) != events_relid)
		LookupEventColumns(trigdata->tg_relation);
	lvl = CurrentLevel();

	old = MemoryContextSwitchTo(capture_row_cxt);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		ReadEvent(trigdata->tg_trigtuple, desc, &newrow);
		AddEvent(lvl, &newrow, +1);
	}
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		ReadEvent(trigdata->tg_trigtuple, desc, &oldrow);
		AddEvent(lvl, &oldrow, -1);
	}
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		ReadEvent(trigdata->tg_trigtuple, desc, &oldrow);
		ReadEvent(trigdata->tg_newtuple, desc, &newrow);
		if (!SameContribution(&oldrow, &newrow))
		{
			AddEvent(lvl, &oldrow, -1);
			AddEvent(lvl, &newrow, +1);
		}
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("capture_events() handles INSERT, UPDATE and DELETE only")));
	MemoryContextSwitchTo(old);
	MemoryContextReset(capture_row_cxt);

	/* past the bound: to pending_deltas now, in this (sub)transaction */
	if (MemoryContextMemAllocated(lvl->cxt, true) > (Size) capture_memory_kb * 1024)
	{
		FlushLevel(lvl);
		ClearEntries(lvl);
		ReleaseFreedMemory();
	}

	return PointerGetDatum(NULL);
}

/* ----------------------------------------------------- (sub)transactions */

/* fold src's entries into dst's table, copying sketches into dst's context */
static void
MergeEntries(CaptureLevel *dst, CaptureLevel *src)
{
	HASH_SEQ_STATUS status;
	CaptureEntry *s;
	SketchMem	mem = sketch_pg_mem(dst->cxt);

	hash_seq_init(&status, src->entries);
	while ((s = hash_seq_search(&status)) != NULL)
	{
		CaptureEntry *d = EntryFor(dst->entries, &s->key);

		d->sessions += s->sessions;
		d->page_views += s->page_views;
		d->add_to_carts += s->add_to_carts;
		d->orders += s->orders;
		d->units += s->units;
		d->refunds += s->refunds;
		d->revenue += s->revenue;
		d->refund_amount += s->refund_amount;
		d->has_revenue |= s->has_revenue;
		d->has_refund_amount |= s->has_refund_amount;
		if (s->order_value != NULL)
		{
			if (d->order_value == NULL)
			{
				d->order_value = MemoryContextAlloc(dst->cxt, sizeof(Sketch));
				sketch_init(d->order_value, s->order_value->initial_scale);
			}
			sketch_pg_check(sketch_merge(d->order_value, s->order_value, &mem));
		}
		d->recompute |= s->recompute;
	}
}

static void
CaptureSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	CaptureLevel *lvl = capture_top;

	/* the cache may hold a zone that the subtransaction wrote */
	if (event == SUBXACT_EVENT_ABORT_SUB)
		ForgetTimeZones();
	if (lvl == NULL || lvl->nest_level != level)
		return;

	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			if (lvl->parent != NULL && lvl->parent->nest_level == level - 1)
			{
				if (lvl->truncated)
				{
					ClearEntries(lvl->parent);
					lvl->parent->truncated = true;
				}
				MergeEntries(lvl->parent, lvl);
				capture_top = lvl->parent;
				FreeLevel(lvl);
			}
			else
				lvl->nest_level = level - 1;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			capture_top = lvl->parent;
			FreeLevel(lvl);
			break;
		default:
			break;
	}
}

/*
 * discard_captured_changes(): events was truncated.  The changes this
 * (sub)transaction captured so far go, and so do the outer levels' when
 * this level commits; a rollback to an earlier savepoint keeps them.
 */
PG_FUNCTION_INFO_V1(seller_analytics_discard_captured_changes);
Datum
seller_analytics_discard_captured_changes(PG_FUNCTION_ARGS)
{
	CaptureLevel *lvl = CurrentLevel();

	ClearEntries(lvl);
	lvl->truncated = true;
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------- flush */

/*
 * Rows go into the extension's internal tables directly, as COPY does:
 * heap inserts of up to DIRECT_BATCH_ROWS rows (or DIRECT_BATCH_BYTES of
 * values) at a time with table_multi_insert, one WAL record per heap page
 * rather than per row, then their index entries; without planning,
 * permission checks or triggers (they have none).  A row's values are built
 * in the batch's memory context (DirectInsertBegin's caller switches to it
 * through DirectInsertNewRow), which is reset after each batch.
 */
#define DIRECT_BATCH_ROWS	100
#define DIRECT_BATCH_BYTES	(64 * 1024)

typedef struct DirectInsert
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	CommandId	cid;
	MemoryContext batch_cxt;	/* the buffered rows' values */
	TupleTableSlot *slots[DIRECT_BATCH_ROWS];
	int			nslots;			/* made so far */
	int			nbuffered;		/* rows waiting in slots[0 .. nbuffered) */
	Size		bytes;			/* of by-reference values buffered */
} DirectInsert;

static void
DirectInsertBegin(DirectInsert *di, Oid relid)
{
	di->rel = table_open(relid, RowExclusiveLock);
	di->estate = CreateExecutorState();
	di->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(di->rri, di->rel, 1, NULL, 0);
	ExecOpenIndices(di->rri, false);
	di->cid = GetCurrentCommandId(true);
	di->batch_cxt = AllocSetContextCreate(CurrentMemoryContext,
										  "seller_analytics direct insert",
										  ALLOCSET_DEFAULT_SIZES);
	di->nslots = 0;
	di->nbuffered = 0;
	di->bytes = 0;
}

/* attribute number of a column that must exist */
static AttrNumber
DirectInsertColumn(DirectInsert *di, const char *name)
{
	int			attnum = SPI_fnumber(RelationGetDescr(di->rel), name);

	if (attnum <= 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s\" lacks column \"%s\"",
						RelationGetRelationName(di->rel), name)));
	return attnum;
}

/* insert the buffered rows and their index entries */
static void
DirectInsertFlush(DirectInsert *di)
{
	MemoryContext old;

	if (di->nbuffered == 0)
		return;
	old = MemoryContextSwitchTo(GetPerTupleMemoryContext(di->estate));
	table_multi_insert(di->rel, di->slots, di->nbuffered, di->cid, 0, NULL);
	MemoryContextSwitchTo(old);
	for (int i = 0; i < di->nbuffered; i++)
	{
		if (di->rri->ri_NumIndices > 0)
			ExecInsertIndexTuples(di->rri, di->slots[i], di->estate, false, false,
								  NULL, NIL);
		ExecClearTuple(di->slots[i]);
		ResetPerTupleExprContext(di->estate);
	}
	di->nbuffered = 0;
	di->bytes = 0;
	MemoryContextReset(di->batch_cxt);
}

/*
 * An empty row (every column NULL) to fill in, in the batch's memory
 * context, which is current until DirectInsertRow.
 */
static TupleTableSlot *
DirectInsertNewRow(DirectInsert *di, MemoryContext *old)
{
	TupleTableSlot *slot;

	if (di->nbuffered == di->nslots)
		di->slots[di->nslots++] =
			ExecInitExtraTupleSlot(di->estate, RelationGetDescr(di->rel),
								   &TTSOpsVirtual);
	slot = di->slots[di->nbuffered];
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, slot->tts_tupleDescriptor->natts * sizeof(bool));
	*old = MemoryContextSwitchTo(di->batch_cxt);
	return slot;
}

/* the row filled in since DirectInsertNewRow is complete */
static void
DirectInsertRow(DirectInsert *di, MemoryContext old)
{
	TupleTableSlot *slot = di->slots[di->nbuffered];
	TupleDesc	desc = slot->tts_tupleDescriptor;

	MemoryContextSwitchTo(old);
	ExecStoreVirtualTuple(slot);
	for (int i = 0; i < desc->natts; i++)
		if (!slot->tts_isnull[i] && !TupleDescAttr(desc, i)->attbyval)
			di->bytes += VARSIZE_ANY(DatumGetPointer(slot->tts_values[i]));
	di->nbuffered++;
	if (di->nbuffered == DIRECT_BATCH_ROWS || di->bytes >= DIRECT_BATCH_BYTES)
		DirectInsertFlush(di);
}

static void
DirectInsertEnd(DirectInsert *di)
{
	DirectInsertFlush(di);
	ExecCloseIndices(di->rri);
	ExecResetTupleTable(di->estate->es_tupleTable, false);
	FreeExecutorState(di->estate);
	MemoryContextDelete(di->batch_cxt);
	table_close(di->rel, NoLock);
}

#define DELTA_COLUMNS 12

static const char *const delta_column_names[DELTA_COLUMNS] = {
	"seller_id", "day", "traffic_source", "sessions", "page_views",
	"add_to_carts", "orders", "units", "revenue", "refunds", "refund_amount",
	"order_value"
};

/*
 * Append a level's entries to pending_deltas and recompute_marks, in the
 * current (sub)transaction.  Rows are built in the batch context of
 * DirectInsert, so a flush needs no more memory than one batch.
 */
static pg_noinline void
FlushLevel(CaptureLevel *lvl)
{
	HTAB	   *entries = lvl->entries;
	Oid			nsp;
	Oid			pending;
	Oid			marks;
	DirectInsert di;
	AttrNumber	att[DELTA_COLUMNS];
	bool		any_marks = false;
	HASH_SEQ_STATUS status;
	CaptureEntry *e;
	SketchMem	mem = sketch_pg_mem(lvl->cxt);
	MemoryContext old;

	if (hash_get_num_entries(entries) == 0)
		return;

	/* the extension was dropped after the events changed: nothing to keep */
	nsp = get_namespace_oid(SCHEMA_NAME, true);
	pending = OidIsValid(nsp) ? get_relname_relid("pending_deltas", nsp) : InvalidOid;
	marks = OidIsValid(nsp) ? get_relname_relid("recompute_marks", nsp) : InvalidOid;
	if (!OidIsValid(pending) || !OidIsValid(marks))
		return;

	DirectInsertBegin(&di, pending);
	for (int c = 0; c < DELTA_COLUMNS; c++)
		att[c] = DirectInsertColumn(&di, delta_column_names[c]) - 1;

	hash_seq_init(&status, entries);
	while ((e = hash_seq_search(&status)) != NULL)
	{
		TupleTableSlot *slot = DirectInsertNewRow(&di, &old);
		Datum	   *v = slot->tts_values;
		bool	   *isnull = slot->tts_isnull;

		CHECK_FOR_INTERRUPTS();
		for (int c = 0; c < DELTA_COLUMNS - 1; c++)
			isnull[att[c]] = false;
		v[att[0]] = Int64GetDatum(e->key.seller_id);
		v[att[1]] = DateADTGetDatum(e->key.day);
		v[att[2]] = CStringGetTextDatum(e->key.source);
		v[att[3]] = Int64GetDatum(e->sessions);
		v[att[4]] = Int64GetDatum(e->page_views);
		v[att[5]] = Int64GetDatum(e->add_to_carts);
		v[att[6]] = Int64GetDatum(e->orders);
		v[att[7]] = Int64GetDatum(e->units);
		v[att[8]] = CentsToNumeric(e->revenue, e->has_revenue);
		v[att[9]] = Int64GetDatum(e->refunds);
		v[att[10]] = CentsToNumeric(e->refund_amount, e->has_refund_amount);
		if (e->order_value != NULL)
		{
			sketch_pg_check(sketch_flush(e->order_value, &mem));
			v[att[11]] = PointerGetDatum(sketch_pg_encode(e->order_value));
			isnull[att[11]] = false;
		}
		any_marks |= e->recompute;
		DirectInsertRow(&di, old);
	}
	DirectInsertEnd(&di);

	if (any_marks)
	{
		AttrNumber	mark_seller;
		AttrNumber	mark_day;

		DirectInsertBegin(&di, marks);
		mark_seller = DirectInsertColumn(&di, "seller_id") - 1;
		mark_day = DirectInsertColumn(&di, "day") - 1;
		hash_seq_init(&status, entries);
		while ((e = hash_seq_search(&status)) != NULL)
		{
			TupleTableSlot *slot;

			if (!e->recompute)
				continue;
			slot = DirectInsertNewRow(&di, &old);
			slot->tts_values[mark_seller] = Int64GetDatum(e->key.seller_id);
			slot->tts_values[mark_day] = DateADTGetDatum(e->key.day);
			slot->tts_isnull[mark_seller] = false;
			slot->tts_isnull[mark_day] = false;
			DirectInsertRow(&di, old);
		}
		DirectInsertEnd(&di);
	}
	CommandCounterIncrement();
}

/*
 * flush_captured_changes(): append what this transaction has captured so
 * far to pending_deltas now, rather than at commit, so that a compaction in
 * the same transaction folds it.  Only outside savepoints: rows written in a
 * subtransaction would go if it rolled back, while the outer changes stay.
 * Returns the number of pending rows written.
 */
PG_FUNCTION_INFO_V1(seller_analytics_flush_captured_changes);
Datum
seller_analytics_flush_captured_changes(PG_FUNCTION_ARGS)
{
	long		n;

	n = 0;
	for (CaptureLevel *lvl = capture_top; lvl != NULL; lvl = lvl->parent)
		n += hash_get_num_entries(lvl->entries);
	if (n == 0)
		PG_RETURN_INT64(0);
	if (GetCurrentTransactionNestLevel() > 1 || capture_top->parent != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("cannot compact inside a savepoint of a transaction that has changed events"),
				 errhint("Release or roll back the savepoint first, or compact after the transaction commits.")));
	n = hash_get_num_entries(capture_top->entries);
	FlushLevel(capture_top);
	ClearEntries(capture_top);
	PG_RETURN_INT64(n);
}

static void
CaptureXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PRE_PREPARE:
			if (capture_top != NULL)
			{
				Assert(capture_top->parent == NULL);
				FlushLevel(capture_top);
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the cache may hold a zone that the transaction wrote */
			ForgetTimeZones();
			/* FALLTHROUGH */
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PREPARE:
		case XACT_EVENT_PARALLEL_COMMIT:
			/* the memory went with TopTransactionContext */
			capture_top = NULL;
			if (capture_row_cxt != NULL)
				MemoryContextReset(capture_row_cxt);
			break;
		default:
			break;
	}
}

void
capture_init(void)
{
	DefineCustomIntVariable("seller_analytics.capture_memory",
							"Memory the capture trigger may hold per transaction level before it writes its changes to pending_deltas.",
							"Past it, the changes captured so far are appended at once, within the same transaction; "
							"a smaller value means more pending rows, not less data.",
							&capture_memory_kb,
							65536,
							64,
							MAX_KILOBYTES,
							PGC_USERSET,
							GUC_UNIT_KB,
							NULL,
							NULL,
							NULL);
	capture_row_cxt = AllocSetContextCreate(TopMemoryContext,
											"seller_analytics capture row",
											ALLOCSET_SMALL_SIZES);
	RegisterXactCallback(CaptureXactCallback, NULL);
	CacheRegisterRelcacheCallback(CaptureRelcacheCallback, (Datum) 0);
	RegisterSubXactCallback(CaptureSubXactCallback, NULL);
}
