/*
 * tenant.c
 *	  Who the current seller is: the tenant setting seller_analytics.seller_id
 *	  and seller_analytics.current_seller_id(), which every row-level
 *	  security policy of the extension compares seller_id with.
 *
 * The current seller is, in this order:
 *
 *	 1. the seller that seller_analytics.seller_roles maps session_user to
 *		(assign_seller_role(): a seller's own login role, e.g. a BI tool's);
 *	 2. for a session_user that is a member of seller_analytics_app (the
 *		application's pooled connections), the tenant setting, typically
 *		SET LOCAL per transaction;
 *	 3. nobody: NULL, which no seller_id equals, so the policies let no
 *		row through.
 *
 * session_user, not current_user: SET ROLE and SECURITY DEFINER functions
 * change current_user, but only a superuser can change session_user, so
 * whoever logged in stays who they are.
 *
 * The setting's check hook refuses a value from anyone who is not a member
 * of seller_analytics_app, so a seller typing SET gets an error, not another
 * seller's rows.  The hook can only decide inside a transaction of a session
 * that has a user (it needs the catalogs): SET, set_config(), and, when the
 * library is preloaded, connection options and ALTER ROLE ... SET values at
 * login.  Values that arrive elsewhere (the configuration file, or a SET
 * before the library was loaded in the session) are taken there and then
 * ignored by current_seller_id() unless session_user is a member of
 * seller_analytics_app: the check that counts is made every time the setting
 * is read.
 *
 * One transaction at most: whatever names a seller lasts until the end of
 * the top-level transaction that named it.  Behind a pooler in transaction
 * mode (PgBouncer), consecutive transactions of one server connection
 * belong to different clients, so a value that outlived its transaction
 * would show one client's seller to the next.  Three rules make it so:
 *
 *	 - a value is honoured only in the top-level transaction whose check
 *	   accepted it (the check stamps it with the transaction's local id), and
 *	   only when it comes from the session (SET, set_config(), a function's
 *	   SET clause): a value from the configuration file, ALTER ROLE or
 *	   ALTER DATABASE ... SET, connection options, or set before the library
 *	   was loaded is refused;
 *	 - at the end of every top-level transaction, commit or abort, a value
 *	   the session still holds is cleared (a callback on the transaction's
 *	   memory context runs after the GUC stack has been unwound), so the
 *	   next transaction starts with none, and SHOW says so;
 *	 - a top-level SET outside a transaction block, which would last only
 *	   itself, is refused with a hint (the utility hook), so an application
 *	   that names its seller with a SET of its own learns it at once rather
 *	   than seeing no rows.
 *
 * A parallel worker restores the leader's settings in a transaction of its
 * own before it joins the leader's: it takes the leader's value as checked.
 *
 * One transaction, one seller: once current_seller_id() has returned the
 * setting's seller in a transaction, the hook refuses another seller until
 * the transaction ends.  A policy on a sequential scan is evaluated row by
 * row, so otherwise a set_config() in a query, or a SET between two FETCHes
 * of a cursor, would let one query read two sellers.
 *
 * The mapping of session_user is looked up through seller_roles' primary
 * key with the latest snapshot and cached per backend until seller_roles is
 * invalidated (its trigger sends a relcache invalidation at every change)
 * or a role changes.  The lookup opens seller_roles first, which processes
 * pending invalidations, and then takes its snapshot, so a revocation that
 * has committed is never read as still in force.  A parallel query cannot
 * take a new snapshot: it reads with its own, and keeps the answer until the
 * transaction ends only.
 */
#include "postgres.h"

#include <errno.h>
#include <limits.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/parallel.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "tenant.h"

#define SCHEMA_NAME		"seller_analytics"
#define APP_ROLE		"seller_analytics_app"
#define SETTING_NAME	"seller_analytics.seller_id"

/*
 * What the check hook accepted: the seller, and the top-level transaction
 * in which it was accepted (or that it was restored from a parallel
 * leader), kept as the setting's "extra".
 */
typedef struct TenantSetting
{
	int64		seller_id;
	LocalTransactionId lxid;	/* transaction that set it */
	bool		from_leader;	/* restored in a parallel worker */
} TenantSetting;

/* the setting as text ("" = unset), and what its assign hook was given */
static char *seller_id_setting = NULL;
static const TenantSetting *tenant_setting = NULL;

/* the library is being loaded: values set before it are not honoured */
static bool tenant_loading = false;

/* a callback clears the setting at the end of this top-level transaction */
static bool tenant_clear_registered = false;

static ProcessUtility_hook_type prev_process_utility = NULL;

/*
 * The seller that current_seller_id() has returned from the setting in the
 * current transaction: from then until the transaction ends, the setting
 * may be cleared but not changed to another seller, so that no query (a
 * sequential scan evaluates the policy row by row) or cursor sees two.
 */
static bool seller_read = false;
static int64 seller_read_value = 0;

/* the mapping of one session user, valid until an invalidation */
static bool mapping_valid = false;
static bool mapping_provisional = false;	/* read with an older snapshot */
static Oid	mapping_user = InvalidOid;
static bool mapping_found = false;
static int64 mapping_seller = 0;

static Oid	roles_relid = InvalidOid;
static Oid	roles_pkey = InvalidOid;
static AttrNumber roles_role_attnum;
static AttrNumber roles_name_attnum;
static AttrNumber roles_seller_attnum;

/*
 * ParseSellerId: a whole decimal bigint, without spaces.  Returns false for
 * anything else (empty, garbage, out of range).
 */
static bool
ParseSellerId(const char *text, int64 *result)
{
	char	   *end;
	long long	v;

	if (text[0] == '\0' || !(text[0] == '-' || (text[0] >= '0' && text[0] <= '9')))
		return false;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || end == text)
		return false;
#if LLONG_MAX > PG_INT64_MAX
	if (v > PG_INT64_MAX || v < PG_INT64_MIN)
		return false;
#endif
	*result = (int64) v;
	return true;
}

/* whether the session user may use the tenant setting (needs a transaction) */
static bool
SessionUserIsApp(void)
{
	Oid			app = get_role_oid(APP_ROLE, true);

	return OidIsValid(app) && is_member_of_role(GetSessionUserId(), app);
}

/*
 * check hook of seller_analytics.seller_id: "" (unset) always; otherwise a
 * bigint, from the session (or an ALTER ... SET being validated, whose value
 * is refused later, at login), and, where it can be decided, only for
 * members of seller_analytics_app.
 */
static bool
CheckSellerId(char **newval, void **extra, GucSource source)
{
	int64		parsed;
	TenantSetting *accepted;

	if (**newval == '\0')
	{
		*extra = NULL;
		return true;
	}
	if (!ParseSellerId(*newval, &parsed))
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errdetail("The value must be a seller id (a bigint), or empty for none.");
		return false;
	}
	if (tenant_loading ||
		(source != PGC_S_SESSION && source != PGC_S_TEST && !InitializingParallelWorker))
	{
		GUC_check_errcode(ERRCODE_CANT_CHANGE_RUNTIME_PARAM);
		GUC_check_errmsg("parameter \"%s\" can only be set within a transaction",
						 SETTING_NAME);
		GUC_check_errdetail("A seller named at connection start, in a role's or database's defaults, in the configuration file, or before the library was loaded is not honoured.");
		GUC_check_errhint("Name the seller at the start of each transaction: SET LOCAL %s = ..., or set_config('%s', ..., true).",
						  SETTING_NAME, SETTING_NAME);
		return false;
	}
	/*
	 * A parallel worker restores the leader's settings, which the leader
	 * checked.  Without a transaction, or before the session has a user
	 * (the postmaster reading the configuration file), there is no one to
	 * ask; current_seller_id() asks every time anyway.  Connection options
	 * and ALTER ROLE ... SET values are checked at login.
	 */
	if (!InitializingParallelWorker && IsTransactionState() &&
		MyProc != NULL && OidIsValid(MyProc->roleId))
	{
		if (!SessionUserIsApp())
		{
			GUC_check_errcode(ERRCODE_INSUFFICIENT_PRIVILEGE);
			GUC_check_errmsg("permission denied to set parameter \"%s\"", SETTING_NAME);
			GUC_check_errdetail("Only members of role \"%s\" may choose the seller of their session.",
								APP_ROLE);
			GUC_check_errhint("A seller's own login role sees its seller's rows without any setting.");
			return false;
		}
		if (seller_read && parsed != seller_read_value)
		{
			GUC_check_errcode(ERRCODE_INVALID_TRANSACTION_STATE);
			GUC_check_errmsg("cannot change \"%s\" in a transaction that has read seller " INT64_FORMAT "'s rows",
							 SETTING_NAME, seller_read_value);
			GUC_check_errdetail("A transaction (and every query and cursor in it) sees one seller.");
			GUC_check_errhint("Name the seller with SET LOCAL at the start of each transaction.");
			return false;
		}
	}
	accepted = (TenantSetting *) malloc(sizeof(TenantSetting));
	if (accepted == NULL)
		return false;
	accepted->seller_id = parsed;
	accepted->from_leader = InitializingParallelWorker;
	accepted->lxid = (MyProc != NULL && IsTransactionState()) ?
		MyProc->lxid : InvalidLocalTransactionId;
	*extra = accepted;
	return true;
}

/*
 * ClearSellerIdAtEnd: a memory context callback on TopTransactionContext,
 * which is deleted at the end of the top-level transaction after the GUC
 * stack was unwound (AtEOXact_GUC): a value the session still holds then
 * was set at session level, and is cleared now, between transactions,
 * where the change is not transactional.  Should that fail, the session
 * ends rather than keep a seller for the next transaction.
 */
static void
ClearSellerIdAtEnd(void *arg)
{
	tenant_clear_registered = false;
	if (tenant_setting == NULL)
		return;
	if (set_config_option(SETTING_NAME, "", PGC_USERSET, PGC_S_SESSION,
						  GUC_ACTION_SET, true, WARNING, false) <= 0)
		ereport(FATAL,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not clear \"%s\" at the end of a transaction",
						SETTING_NAME)));
}

static void
AssignSellerId(const char *newval, void *extra)
{
	tenant_setting = (const TenantSetting *) extra;

	/*
	 * A value assigned inside a transaction is cleared when it ends.  Not in
	 * a parallel worker, whose settings are the leader's for its life.
	 */
	if (tenant_setting != NULL && !tenant_clear_registered &&
		TopTransactionContext != NULL && !IsParallelWorker() &&
		!InitializingParallelWorker)
	{
		MemoryContextCallback *cb;

		cb = MemoryContextAlloc(TopTransactionContext, sizeof(MemoryContextCallback));
		cb->func = ClearSellerIdAtEnd;
		cb->arg = NULL;
		MemoryContextRegisterResetCallback(TopTransactionContext, cb);
		tenant_clear_registered = true;
	}
}

/*
 * TenantSettingInForce: the seller the setting names for this transaction,
 * if any: accepted in this very top-level transaction (or restored from the
 * leader in a parallel worker).
 */
static bool
TenantSettingInForce(int64 *seller_id)
{
	const TenantSetting *t = tenant_setting;

	if (t == NULL)
		return false;
	if (t->from_leader ? !IsParallelWorker() :
		(MyProc == NULL || t->lxid == InvalidLocalTransactionId || t->lxid != MyProc->lxid))
		return false;
	*seller_id = t->seller_id;
	return true;
}

static void
ForgetMapping(void)
{
	mapping_valid = false;
	mapping_provisional = false;
}

/*
 * At the end of a transaction: a mapping read with a query's snapshot is
 * forgotten, and the setting may name another seller again.
 */
static void
TenantXactCallback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT ||
		event == XACT_EVENT_PREPARE || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT)
	{
		if (mapping_provisional)
			ForgetMapping();
		seller_read = false;
	}
}

static void
TenantRelcacheCallback(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == roles_relid)
	{
		roles_relid = InvalidOid;
		ForgetMapping();
	}
}

static void
TenantSyscacheCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	ForgetMapping();
}

/* find seller_roles, its primary key and columns (once per invalidation) */
static bool
LookupSellerRoles(void)
{
	Oid			nsp = get_namespace_oid(SCHEMA_NAME, true);
	Oid			relid;
	Relation	rel;

	relid = OidIsValid(nsp) ? get_relname_relid("seller_roles", nsp) : InvalidOid;
	if (!OidIsValid(relid))
		return false;
	rel = table_open(relid, AccessShareLock);
	roles_pkey = RelationGetPrimaryKeyIndex(rel);
	roles_role_attnum = get_attnum(relid, "role");
	roles_name_attnum = get_attnum(relid, "role_name");
	roles_seller_attnum = get_attnum(relid, "seller_id");
	table_close(rel, AccessShareLock);
	if (!OidIsValid(roles_pkey) || roles_role_attnum == InvalidAttrNumber ||
		roles_name_attnum == InvalidAttrNumber || roles_seller_attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("relation \"%s.seller_roles\" lacks its primary key or a column",
						SCHEMA_NAME)));
	roles_relid = relid;
	return true;
}

/*
 * LookupMapping: the seller that seller_roles maps the role to, if any.
 * A row counts only while its role_name is still the role's name: a role
 * dropped (and its OID reused) or renamed since it was assigned maps to no
 * one.
 */
static bool
LookupMapping(Oid role, int64 *seller_id)
{
	Relation	rel;
	ScanKeyData key;
	Snapshot	snapshot;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *role_name;
	bool		found = false;

	if (!OidIsValid(roles_relid) && !LookupSellerRoles())
		return false;
	role_name = GetUserNameFromId(role, true);
	if (role_name == NULL)
		return false;

	/*
	 * The lock processes pending invalidations; the snapshot comes after.
	 * A parallel query cannot take a new snapshot: it reads with the
	 * query's, and what it finds is kept until the transaction ends only.
	 */
	rel = table_open(roles_relid, AccessShareLock);
	ScanKeyInit(&key, roles_role_attnum, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(role));
	if (IsInParallelMode() && ActiveSnapshotSet())
	{
		snapshot = RegisterSnapshot(GetActiveSnapshot());
		mapping_provisional = true;
	}
	else
	{
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		mapping_provisional = false;
	}
	scan = systable_beginscan(rel, roles_pkey, true, snapshot, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		name_null,
					seller_null;
		Datum		name = heap_getattr(tuple, roles_name_attnum,
										RelationGetDescr(rel), &name_null);
		Datum		seller = heap_getattr(tuple, roles_seller_attnum,
										  RelationGetDescr(rel), &seller_null);

		if (!name_null && !seller_null &&
			strcmp(NameStr(*DatumGetName(name)), role_name) == 0)
		{
			*seller_id = DatumGetInt64(seller);
			found = true;
		}
	}
	systable_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * tenant_current_seller: the seller of this session (see the file header):
 * true and *seller_id set, or false for none.
 */
bool
tenant_current_seller(int64 *seller_id)
{
	Oid			user = GetSessionUserId();
	int64		seller;

	if (!mapping_valid || mapping_user != user)
	{
		bool		found;

		seller = 0;
		found = LookupMapping(user, &seller);
		mapping_user = user;
		mapping_found = found;
		mapping_seller = seller;
		/* an invalidation of seller_roles during the lookup: ask again */
		mapping_valid = OidIsValid(roles_relid);
	}
	if (mapping_found)
	{
		*seller_id = mapping_seller;
		return true;
	}
	if (TenantSettingInForce(&seller) && SessionUserIsApp())
	{
		if (!seller_read && !IsParallelWorker())
		{
			seller_read = true;
			seller_read_value = seller;
		}
		*seller_id = seller;
		return true;
	}
	return false;
}

/*
 * current_seller_id(): the seller of this session (see the file header), or
 * NULL for none.
 */
PG_FUNCTION_INFO_V1(seller_analytics_current_seller_id);
Datum
seller_analytics_current_seller_id(PG_FUNCTION_ARGS)
{
	int64		seller;

	if (tenant_current_seller(&seller))
		PG_RETURN_INT64(seller);
	PG_RETURN_NULL();
}

/*
 * TenantProcessUtility: a top-level SET of the setting outside a transaction
 * block, by a member of seller_analytics_app, is refused: it would name a
 * seller for no statement but itself.  RESET, SET ... TO DEFAULT and an
 * empty value pass; so does SET inside a function, which lasts until the
 * end of its transaction.
 */
static void
TenantProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (context == PROCESS_UTILITY_TOPLEVEL && IsA(parsetree, VariableSetStmt))
	{
		VariableSetStmt *stmt = (VariableSetStmt *) parsetree;

		if (stmt->kind == VAR_SET_VALUE && !stmt->is_local &&
			stmt->name != NULL && pg_strcasecmp(stmt->name, SETTING_NAME) == 0 &&
			!IsTransactionBlock() && SessionUserIsApp())
		{
			char	   *value = ExtractSetVariableArgs(stmt);
			int64		parsed;

			/* an invalid value is reported as such, by the check hook */
			if (value != NULL && ParseSellerId(value, &parsed))
				ereport(ERROR,
						(errcode(ERRCODE_NO_ACTIVE_SQL_TRANSACTION),
						 errmsg("cannot set \"%s\" outside a transaction block", SETTING_NAME),
						 errdetail("The seller named lasts until the end of the transaction that names it; outside a transaction block, that is this statement alone."),
						 errhint("Name the seller at the start of each transaction: BEGIN; SET LOCAL %s = ...; or SELECT set_config('%s', ..., true) before the queries of the same transaction.",
								 SETTING_NAME, SETTING_NAME)));
		}
	}
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context,
							 params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

void
tenant_init(void)
{
	/* a value set before the library was loaded is checked now: refused */
	tenant_loading = true;
	PG_TRY();
	{
		DefineCustomStringVariable(SETTING_NAME,
								   "The seller whose rows this transaction of the application sees.",
								   "Only members of seller_analytics_app may set it, and it lasts "
								   "until the end of the transaction at most (SET LOCAL at its "
								   "start); empty means none, and none means no rows.",
								   &seller_id_setting,
								   "",
								   PGC_USERSET,
								   GUC_NOT_IN_SAMPLE,
								   CheckSellerId,
								   AssignSellerId,
								   NULL);
	}
	PG_FINALLY();
	{
		tenant_loading = false;
	}
	PG_END_TRY();
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = TenantProcessUtility;
	CacheRegisterRelcacheCallback(TenantRelcacheCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(AUTHOID, TenantSyscacheCallback, (Datum) 0);
	RegisterXactCallback(TenantXactCallback, NULL);
}
