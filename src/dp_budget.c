/*
 * dp_budget.c
 *	  The privacy budget ledger: the setting seller_analytics.privacy_budget,
 *	  the debit that every evaluation of a noisy aggregate makes
 *	  (dp_debit()), and privacy_budget_remaining().
 *
 * Amounts are exact integers: one unit is 1e-9 epsilon.  A budget's total
 * is rounded down, a debit up, both from the exact binary value of the
 * double, so the ledger never counts less than the mechanisms spend.
 *
 * A debit must survive whatever the caller does afterwards: ROLLBACK, an
 * error later in the statement, a savepoint rolled back.  So it is not made
 * in the caller's transaction.  dp_debit() starts a dynamic background
 * worker that connects to the same database, makes the debit in a
 * transaction of its own and commits it, and waits for it; only then does
 * the aggregate draw its noise and return.  The request and the answer
 * travel through a dynamic shared memory segment; an error in the worker
 * (SQLSTATE, message, detail, hint) is raised again in the caller.
 *
 * In that transaction the worker locks the rows of the named budgets in
 * name order (so two debits never deadlock), checks that each has room for
 * the amount, and only then adds it to each and appends one ledger row per
 * budget.  Not enough in any one of them: an error, and nothing spent.  Two
 * sessions racing for the last epsilon queue on the row lock; the second
 * sees the first's debit.
 *
 * PostgreSQL 15 lets a background worker connect only as a role that may
 * log in, so the worker connects as the bootstrap superuser and checks the
 * caller's rights itself: the caller's current_user must be a member of a
 * role the budget was granted to (grant_privacy_budget) unless it is a
 * superuser, and neither current_user nor session_user may be a member of
 * seller_analytics_seller.
 *
 * Each debit costs a process start and a connection (a few milliseconds,
 * doc/privacy.md); a caller that is cancelled while it waits terminates the
 * worker, which then either committed the debit already or spends nothing.
 */
#include "postgres.h"

#include <math.h>

#include "access/parallel.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "dp_budget.h"
#include "dp_noise.h"

#define SETTING_NAME	"seller_analytics.privacy_budget"
#define OWNER_ROLE		"seller_analytics_owner"
#define SELLER_ROLE		"seller_analytics_seller"
#define MAX_NAME_BYTES	200		/* privacy_budgets_name_check */
#define MESSAGE_BYTES	1024

/* the setting as text: budget names separated by commas, "" = none */
static char *privacy_budget_setting = NULL;

/* request and answer of one debit, in a DSM segment */
typedef struct DebitRequest
{
	/* request */
	Oid			database;
	Oid			current_user;
	Oid			session_user;
	int			caller_pid;
	int64		units;
	double		epsilon;
	int			nbudgets;
	bool		batch;			/* dp_debit_batch: units per budget */
	int64		new_total;		/* batch: total of a budget it creates, 0 = none */
	Size		units_offset;	/* batch: where the int64 units[nbudgets] are */
	/* answer */
	int			status;			/* DEBIT_* */
	int			sqlerrcode;
	char		message[MESSAGE_BYTES];
	char		detail[MESSAGE_BYTES];
	char		hint[MESSAGE_BYTES];
	/* the budget names, sorted, each NUL-terminated */
	char		names[FLEXIBLE_ARRAY_MEMBER];
} DebitRequest;

#define DEBIT_NO_ANSWER	0
#define DEBIT_DONE		1
#define DEBIT_FAILED	2

PGDLLEXPORT void seller_analytics_dp_budget_worker(Datum main_arg);

/*
 * Whether a role may spend a budget (the name is $1, the role's OID $2):
 * the budget was granted to a role it is a member of, whose name is still
 * what it was when granted (a role dropped and its OID reused, or renamed,
 * holds nothing).
 */
#define GRANTED_SQL \
	"EXISTS (SELECT 1 FROM seller_analytics.privacy_budget_grants g " \
	"        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) g.role::pg_catalog.oid " \
	"                                 AND r.rolname OPERATOR(pg_catalog.=) g.role_name " \
	"        WHERE g.budget OPERATOR(pg_catalog.=) b.name " \
	"          AND pg_catalog.pg_has_role($2, g.role::pg_catalog.oid, 'MEMBER'))"

/*
 * TotalUnits: a budget's total, epsilon * 1e9 rounded down, computed
 * exactly from the double's mantissa and exponent.  False when epsilon is not finite
 * and positive or the result does not fit in an int64.
 */
static bool
TotalUnits(double epsilon, int64 *units)
{
	int			exponent;
	double		fraction;
	uint64		mantissa;
	uint128		scaled;
	uint128		quotient;
	int			shift;

	if (isnan(epsilon) || isinf(epsilon) || epsilon <= 0.0)
		return false;
	/* epsilon = mantissa * 2^(exponent - 53), mantissa < 2^53 */
	fraction = frexp(epsilon, &exponent);
	mantissa = (uint64) ldexp(fraction, 53);
	shift = 53 - exponent;
	if (shift <= 0)
		return false;			/* at least 2^53 epsilon */
	scaled = (uint128) mantissa * (uint128) DP_UNITS_PER_EPSILON;	/* < 2^83 */
	if (shift >= 127)
		quotient = 0;
	else
		quotient = scaled >> shift;
	if (quotient > (uint128) PG_INT64_MAX)
		return false;
	*units = (int64) quotient;
	return true;
}

int64
dp_ledger_units(double epsilon, bool round_up)
{
	int64		units;

	if (isnan(epsilon) || isinf(epsilon) || epsilon <= 0.0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon must be a finite number greater than zero")));
	if (round_up)
	{
		/*
		 * A debit: the noise is calibrated on epsilon rounded down to a
		 * multiple of 2^-32 (dp_epsilon_from_double), and the ledger counts
		 * that rational, rounded up to a unit, so that 0.1 costs 10^8 units.
		 */
		DpRational	rounded;
		DpStatus	st = dp_epsilon_from_double(epsilon, &rounded);

		if (st == DP_ERR_PARAM)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("epsilon %g is less than 2^-32, the smallest a noisy aggregate takes", epsilon)));
		if (st != DP_OK || dp_epsilon_units(rounded, &units) != DP_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("epsilon %g is too large", epsilon),
					 errdetail("A noisy aggregate takes an epsilon below 2^32.")));
		return units;
	}
	if (!TotalUnits(epsilon, &units))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is too large", epsilon),
				 errdetail("A privacy budget holds at most " INT64_FORMAT " units of 1e-9 epsilon.",
						   PG_INT64_MAX)));
	if (units == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("epsilon %g is less than one unit of a privacy budget", epsilon),
				 errdetail("A privacy budget counts in units of 1e-9 epsilon.")));
	return units;
}

/* white space around a budget name is not part of it */
static bool
IsListSpace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * NextBudgetName: the next element of a comma-separated list, white space
 * around it trimmed, as *start and *len; *cursor becomes NULL after the
 * last.  Returns false past the end.  "" is one empty element, and so is
 * what precedes or follows a stray comma: callers refuse those.
 */
static bool
NextBudgetName(const char **cursor, const char **start, int *len)
{
	const char *p = *cursor;
	const char *end;

	if (p == NULL)
		return false;
	while (IsListSpace(*p))
		p++;
	*start = p;
	while (*p != '\0' && *p != ',')
		p++;
	end = p;
	while (end > *start && IsListSpace(end[-1]))
		end--;
	*len = (int) (end - *start);
	*cursor = (*p == ',') ? p + 1 : NULL;
	return true;
}

/* whether the setting names no budget: empty or only white space */
static bool
IsNoBudget(const char *value)
{
	while (IsListSpace(*value))
		value++;
	return *value == '\0';
}

/* check hook of seller_analytics.privacy_budget: the syntax of the list */
static bool
CheckPrivacyBudget(char **newval, void **extra, GucSource source)
{
	const char *cursor = *newval;
	const char *start;
	int			len;

	if (IsNoBudget(*newval))
		return true;
	while (NextBudgetName(&cursor, &start, &len))
	{
		if (len == 0 || len > MAX_NAME_BYTES)
		{
			GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
			GUC_check_errdetail("The value must be privacy budget names separated by commas, each of 1 to %d bytes.",
								MAX_NAME_BYTES);
			return false;
		}
	}
	return true;
}

static int
CompareNames(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * SessionBudgets: the names the setting lists, sorted, without duplicates;
 * an error if there are none.
 */
static char **
SessionBudgets(int *count)
{
	const char *cursor = privacy_budget_setting;
	const char *start;
	int			len;
	int			n = 0;
	int			unique = 0;
	char	  **names;

	if (cursor == NULL || IsNoBudget(cursor))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no privacy budget set"),
				 errdetail("Every evaluation of a noisy aggregate spends its epsilon from a privacy budget."),
				 errhint("Name the budgets to spend from with SET %s = 'name, ...'.", SETTING_NAME)));
	while (NextBudgetName(&cursor, &start, &len))
		n++;
	names = palloc(sizeof(char *) * n);
	cursor = privacy_budget_setting;
	n = 0;
	while (NextBudgetName(&cursor, &start, &len))
	{
		if (len == 0 || len > MAX_NAME_BYTES)	/* the check hook saw to it */
			elog(ERROR, "invalid value of %s", SETTING_NAME);
		names[n++] = pnstrdup(start, len);
	}
	qsort(names, n, sizeof(char *), CompareNames);
	for (int i = 0; i < n; i++)
		if (unique == 0 || strcmp(names[unique - 1], names[i]) != 0)
			names[unique++] = names[i];
	*count = unique;
	return names;
}

/*
 * IsSeller: a member of seller_analytics_seller, other than a superuser
 * (a member of every role) or a member of seller_analytics_owner (which
 * holds the seller role WITH ADMIN OPTION only to grant it).
 */
static bool
IsSeller(Oid role, Oid seller, Oid owner)
{
	if (superuser_arg(role) || !is_member_of_role_nosuper(role, seller))
		return false;
	return !(OidIsValid(owner) && is_member_of_role_nosuper(role, owner));
}

/* sellers never spend a budget nor see one */
static void
RefuseSellers(Oid current_user, Oid session_user)
{
	Oid			seller = get_role_oid(SELLER_ROLE, true);
	Oid			owner = get_role_oid(OWNER_ROLE, true);

	if (!OidIsValid(seller))
		return;
	if (IsSeller(current_user, seller, owner) || IsSeller(session_user, seller, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for privacy budgets"),
				 errdetail("Members of role \"%s\" neither spend privacy budgets nor read them.",
						   SELLER_ROLE)));
}

/* ---------------------------------------------------------------------
 * The worker
 * ---------------------------------------------------------------------
 */

static void
CopyMessage(char *dest, const char *src)
{
	strlcpy(dest, src ? src : "", MESSAGE_BYTES);
}

/* SPI_execute_with_args or an error */
static void
RunSql(const char *sql, int nargs, Oid *types, Datum *values, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (ret != expected)
		elog(ERROR, "privacy budget query failed: %s", SPI_result_code_string(ret));
}

/* the first name of budgets that SQL (with $1, $2) returns, or NULL */
static char *
FirstName(const char *sql, Datum names, Oid role)
{
	Oid			types[2] = {TEXTARRAYOID, OIDOID};
	Datum		values[2] = {names, ObjectIdGetDatum(role)};

	RunSql(sql, 2, types, values, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return NULL;
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
}

/*
 * MakeDebit: in the worker's transaction, checks the caller's rights and
 * the room in every budget, then debits all of them (or errors).
 */
static void
MakeDebit(DebitRequest *req)
{
	Datum	   *elems = palloc(sizeof(Datum) * req->nbudgets);
	const char *p = req->names;
	Datum		names;
	char	   *user_name;
	char	   *session_name;
	char	   *bad;

	for (int i = 0; i < req->nbudgets; i++)
	{
		elems[i] = CStringGetTextDatum(p);
		p += strlen(p) + 1;
	}
	names = PointerGetDatum(construct_array(elems, req->nbudgets, TEXTOID, -1, false, TYPALIGN_INT));

	user_name = GetUserNameFromId(req->current_user, true);
	session_name = GetUserNameFromId(req->session_user, true);
	if (user_name == NULL || session_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role spending the privacy budget no longer exists")));
	RefuseSellers(req->current_user, req->session_user);

	bad = FirstName("SELECT n FROM pg_catalog.unnest($1) n "
					"WHERE $2 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM seller_analytics.privacy_budgets b "
					"                  WHERE b.name OPERATOR(pg_catalog.=) n) "
					"ORDER BY n LIMIT 1",
					names, req->current_user);
	if (bad != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("privacy budget \"%s\" does not exist", bad),
				 errhint("Check %s.", SETTING_NAME)));
	if (!superuser_arg(req->current_user))
	{
		bad = FirstName("SELECT b.name FROM seller_analytics.privacy_budgets b "
						"WHERE b.name OPERATOR(pg_catalog.=) ANY ($1) AND NOT " GRANTED_SQL
						" ORDER BY b.name LIMIT 1",
						names, req->current_user);
		if (bad != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for privacy budget \"%s\"", bad),
					 errdetail("Role \"%s\" was not granted the budget.", user_name),
					 errhint("The owner grants it with seller_analytics.grant_privacy_budget().")));
	}

	/* lock in name order; check every budget before spending from any */
	{
		Oid			types[1] = {TEXTARRAYOID};
		Datum		values[1] = {names};

		RunSql("SELECT b.name, b.total_units, b.spent_units "
			   "FROM seller_analytics.privacy_budgets b "
			   "WHERE b.name OPERATOR(pg_catalog.=) ANY ($1) "
			   "ORDER BY b.name COLLATE \"C\" FOR NO KEY UPDATE",
			   1, types, values, SPI_OK_SELECT);
	}
	if (SPI_processed != (uint64) req->nbudgets)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("a privacy budget named in %s does not exist", SETTING_NAME)));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		total = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
		int64		spent = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));

		if (req->units > total - spent)
			ereport(ERROR,
					(errcode(ERRCODE_PRIVACY_BUDGET_EXHAUSTED),
					 errmsg("privacy budget \"%s\" is exhausted",
							SPI_getvalue(tuple, desc, 1)),
					 errdetail("The evaluation needs " INT64_FORMAT " units (epsilon %g); "
							   INT64_FORMAT " of " INT64_FORMAT " units are left. Nothing was spent.",
							   req->units, req->epsilon, total - spent, total)));
	}
	{
		Oid			types[6] = {TEXTARRAYOID, INT8OID, FLOAT8OID, NAMEOID, NAMEOID, INT4OID};
		Datum		values[6];

		values[0] = names;
		values[1] = Int64GetDatum(req->units);
		values[2] = Float8GetDatum(req->epsilon);
		values[3] = DirectFunctionCall1(namein, CStringGetDatum(user_name));
		values[4] = DirectFunctionCall1(namein, CStringGetDatum(session_name));
		values[5] = Int32GetDatum(req->caller_pid);
		RunSql("UPDATE seller_analytics.privacy_budgets b "
			   "SET spent_units = b.spent_units OPERATOR(pg_catalog.+) $2 "
			   "WHERE b.name OPERATOR(pg_catalog.=) ANY ($1)",
			   2, types, values, SPI_OK_UPDATE);
		if (SPI_processed != (uint64) req->nbudgets)
			elog(ERROR, "privacy budget debit updated " UINT64_FORMAT " budgets of %d",
				 SPI_processed, req->nbudgets);
		RunSql("INSERT INTO seller_analytics.privacy_ledger "
			   "(budget, units, epsilon, role_name, session_user_name, backend_pid) "
			   "SELECT n, $2, $3, $4, $5, $6 FROM pg_catalog.unnest($1) n ORDER BY n COLLATE \"C\"",
			   6, types, values, SPI_OK_INSERT);
	}
}

static void MakeBatchDebit(DebitRequest *req);

/*
 * The background worker: connects to the caller's database, makes the
 * debit in a transaction of its own, and leaves the answer in the segment.
 */
void
seller_analytics_dp_budget_worker(Datum main_arg)
{
	dsm_segment *seg;
	DebitRequest *req;
	MemoryContext work;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* the caller gave up before we got here: nothing to do */
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		proc_exit(0);
	req = (DebitRequest *) dsm_segment_address(seg);

	BackgroundWorkerInitializeConnectionByOid(req->database, BOOTSTRAP_SUPERUSERID, 0);
	work = AllocSetContextCreate(TopMemoryContext, "privacy budget debit", ALLOCSET_DEFAULT_SIZES);

	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		PushActiveSnapshot(GetTransactionSnapshot());
		pgstat_report_activity(STATE_RUNNING, "privacy budget debit");
		if (req->batch)
			MakeBatchDebit(req);
		else
			MakeDebit(req);
		SPI_finish();
		PopActiveSnapshot();
		CommitTransactionCommand();
		req->status = DEBIT_DONE;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(work);
		edata = CopyErrorData();
		FlushErrorState();
		req->sqlerrcode = edata->sqlerrcode;
		CopyMessage(req->message, edata->message);
		CopyMessage(req->detail, edata->detail);
		CopyMessage(req->hint, edata->hint);
		pg_write_barrier();
		req->status = DEBIT_FAILED;
		AbortCurrentTransaction();
	}
	PG_END_TRY();

	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/* ---------------------------------------------------------------------
 * The caller's side
 * ---------------------------------------------------------------------
 */

/* starts the worker and waits until it has exited */
static void
RunDebitWorker(dsm_segment *seg)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "seller_analytics", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "seller_analytics_dp_budget_worker", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "seller_analytics privacy budget debit for PID %d",
			 MyProcPid);
	strlcpy(worker.bgw_type, "seller_analytics privacy budget", BGW_MAXLEN);
	worker.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	worker.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start a background worker to spend the privacy budget"),
				 errdetail("Nothing was spent."),
				 errhint("All background worker slots are in use: raise max_worker_processes, or run fewer noisy aggregates at once.")));

	/* cancelled while waiting: the worker has committed already, or never will */
	PG_TRY();
	{
		if (WaitForBackgroundWorkerShutdown(handle) == BGWH_POSTMASTER_DIED)
			ereport(FATAL,
					(errcode(ERRCODE_ADMIN_SHUTDOWN),
					 errmsg("postmaster exited during a privacy budget debit")));
	}
	PG_CATCH();
	{
		TerminateBackgroundWorker(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
}

static void FinishDebit(dsm_segment *seg, DebitRequest *req);

void
dp_debit_units(int64 units, double epsilon)
{
	char	  **names;
	int			nbudgets;
	Size		size;
	dsm_segment *seg;
	DebitRequest *req;
	char	   *p;

	Assert(units > 0);
	/*
	 * A parallel worker may spend too (a plan may run a whole aggregation,
	 * final function and all, in one): it has the leader's user, session
	 * user and settings, and it waits here, like any backend, until the
	 * debit has committed before its value goes on to the leader.
	 */
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot spend a privacy budget during recovery")));
	names = SessionBudgets(&nbudgets);
	RefuseSellers(GetUserId(), GetSessionUserId());

	size = offsetof(DebitRequest, names);
	for (int i = 0; i < nbudgets; i++)
		size = add_size(size, strlen(names[i]) + 1);
	seg = dsm_create(size, 0);
	req = (DebitRequest *) dsm_segment_address(seg);
	memset(req, 0, size);
	req->database = MyDatabaseId;
	req->current_user = GetUserId();
	req->session_user = GetSessionUserId();
	req->caller_pid = (IsParallelWorker() && MyProc->lockGroupLeader != NULL) ?
		MyProc->lockGroupLeader->pid : MyProcPid;	/* the leader's, in a worker */
	req->units = units;
	req->epsilon = epsilon;
	req->nbudgets = nbudgets;
	req->status = DEBIT_NO_ANSWER;
	p = req->names;
	for (int i = 0; i < nbudgets; i++)
	{
		strcpy(p, names[i]);
		p += strlen(names[i]) + 1;
	}

	FinishDebit(seg, req);
}

/*
 * FinishDebit: runs the request's worker and raises its error, if any;
 * detaches the segment.
 */
static void
FinishDebit(dsm_segment *seg, DebitRequest *req)
{
	RunDebitWorker(seg);
	pg_read_barrier();

	if (req->status == DEBIT_FAILED)
	{
		int			sqlerrcode = req->sqlerrcode;
		char	   *message = pstrdup(req->message);
		char	   *detail = req->detail[0] ? pstrdup(req->detail) : NULL;
		char	   *hint = req->hint[0] ? pstrdup(req->hint) : NULL;

		dsm_detach(seg);
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg_internal("%s", message),
				 detail ? errdetail_internal("%s", detail) : 0,
				 hint ? errhint("%s", hint) : 0));
	}
	if (req->status != DEBIT_DONE)
	{
		dsm_detach(seg);
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("the privacy budget debit ended without an answer"),
				 errdetail("Its background worker exited early; see the server log. "
						   "Whether the debit was committed, seller_analytics.privacy_ledger tells.")));
	}
	dsm_detach(seg);
}

int64
dp_debit(double epsilon)
{
	int64		units = dp_ledger_units(epsilon, true);

	dp_debit_units(units, epsilon);
	return units;
}

/* ---------------------------------------------------------------------
 * Batch debits: many budgets, each its own amount, one transaction
 *
 * A benchmark publication (publish_benchmarks()) charges every cell of the
 * taxonomy its own amount.  One debit per cell would start one worker per
 * cell (thousands of process starts); dp_debit_batch() hands the whole
 * list to one worker, which debits it in one transaction: every budget or
 * none.  The budgets are named by the caller, not by the setting; only
 * the owner's members (and superusers) may make such a debit, and a
 * budget that does not exist yet may be created with a given total in
 * the same transaction.
 * ---------------------------------------------------------------------
 */

/*
 * MakeBatchDebit: in the worker's transaction, creates the missing budgets
 * (when asked to), locks all of them in name order, checks the room in
 * each, then debits each its amount and appends one ledger row per budget.
 */
static void
MakeBatchDebit(DebitRequest *req)
{
	Datum	   *elems = palloc(sizeof(Datum) * req->nbudgets);
	Datum	   *amounts = palloc(sizeof(Datum) * req->nbudgets);
	const int64 *units = (const int64 *) ((const char *) req + req->units_offset);
	const char *p = req->names;
	Oid			owner = get_role_oid(OWNER_ROLE, true);
	Oid			types[6] = {TEXTARRAYOID, INT8ARRAYOID, INT8OID, NAMEOID, NAMEOID, INT4OID};
	Datum		values[6];
	char	   *user_name;
	char	   *session_name;

	for (int i = 0; i < req->nbudgets; i++)
	{
		elems[i] = CStringGetTextDatum(p);
		amounts[i] = Int64GetDatum(units[i]);
		p += strlen(p) + 1;
	}
	values[0] = PointerGetDatum(construct_array(elems, req->nbudgets, TEXTOID, -1, false, TYPALIGN_INT));
	values[1] = PointerGetDatum(construct_array(amounts, req->nbudgets, INT8OID, sizeof(int64),
												FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
	values[2] = Int64GetDatum(req->new_total);

	user_name = GetUserNameFromId(req->current_user, true);
	session_name = GetUserNameFromId(req->session_user, true);
	if (user_name == NULL || session_name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role spending the privacy budget no longer exists")));
	RefuseSellers(req->current_user, req->session_user);
	if (!superuser_arg(req->current_user) &&
		!(OidIsValid(owner) && has_privs_of_role(req->current_user, owner)))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to spend privacy budgets in a batch"),
				 errdetail("Only members of role \"%s\" make batch debits.", OWNER_ROLE)));
	values[3] = DirectFunctionCall1(namein, CStringGetDatum(user_name));
	values[4] = DirectFunctionCall1(namein, CStringGetDatum(session_name));
	values[5] = Int32GetDatum(req->caller_pid);

	if (req->new_total > 0)
		RunSql("INSERT INTO seller_analytics.privacy_budgets (name, total_units) "
			   "SELECT n, $3 FROM pg_catalog.unnest($1) n ORDER BY n COLLATE \"C\" "
			   "ON CONFLICT (name) DO NOTHING",
			   3, types, values, SPI_OK_INSERT);

	/* lock in name order; check every budget before spending from any */
	RunSql("SELECT b.name, b.total_units, b.spent_units, r.u "
		   "FROM seller_analytics.privacy_budgets b "
		   "JOIN ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) r(n, u) ON b.name OPERATOR(pg_catalog.=) r.n "
		   "ORDER BY b.name COLLATE \"C\" FOR NO KEY UPDATE OF b",
		   2, types, values, SPI_OK_SELECT);
	if (SPI_processed != (uint64) req->nbudgets)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("%d of the %d privacy budgets to debit do not exist",
						req->nbudgets - (int) SPI_processed, req->nbudgets),
				 errdetail("Nothing was spent.")));
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		int64		total = DatumGetInt64(SPI_getbinval(tuple, desc, 2, &isnull));
		int64		spent = DatumGetInt64(SPI_getbinval(tuple, desc, 3, &isnull));
		int64		amount = DatumGetInt64(SPI_getbinval(tuple, desc, 4, &isnull));

		if (amount > total - spent)
			ereport(ERROR,
					(errcode(ERRCODE_PRIVACY_BUDGET_EXHAUSTED),
					 errmsg("privacy budget \"%s\" is exhausted",
							SPI_getvalue(tuple, desc, 1)),
					 errdetail("The debit needs " INT64_FORMAT " units; " INT64_FORMAT " of "
							   INT64_FORMAT " units are left. Nothing was spent from any budget.",
							   amount, total - spent, total)));
	}
	RunSql("UPDATE seller_analytics.privacy_budgets b "
		   "SET spent_units = b.spent_units OPERATOR(pg_catalog.+) r.u "
		   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) r(n, u) WHERE b.name OPERATOR(pg_catalog.=) r.n",
		   2, types, values, SPI_OK_UPDATE);
	if (SPI_processed != (uint64) req->nbudgets)
		elog(ERROR, "privacy budget batch debit updated " UINT64_FORMAT " budgets of %d",
			 SPI_processed, req->nbudgets);
	RunSql("INSERT INTO seller_analytics.privacy_ledger "
		   "(budget, units, epsilon, role_name, session_user_name, backend_pid) "
		   "SELECT r.n, r.u, r.u::pg_catalog.float8 OPERATOR(pg_catalog./) 1e9, $4, $5, $6 "
		   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) r(n, u) ORDER BY r.n COLLATE \"C\"",
		   6, types, values, SPI_OK_INSERT);
}

int64
dp_debit_batch(int nbudgets, char **names, const int64 *units, int64 new_total)
{
	Size		size;
	Size		units_offset;
	dsm_segment *seg;
	DebitRequest *req;
	char	   *p;
	int64		sum = 0;

	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot spend a privacy budget during recovery")));
	RefuseSellers(GetUserId(), GetSessionUserId());
	if (nbudgets == 0)
		return 0;
	size = offsetof(DebitRequest, names);
	for (int i = 0; i < nbudgets; i++)
	{
		int			len = strlen(names[i]);

		if (len == 0 || len > MAX_NAME_BYTES)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a privacy budget name must have 1 to %d bytes", MAX_NAME_BYTES)));
		if (units[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a debit must be at least one unit"),
					 errdetail("Budget \"%s\" is to be debited " INT64_FORMAT " units.",
							   names[i], units[i])));
		if (pg_add_s64_overflow(sum, units[i], &sum))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("the units of a batch debit add up to more than a bigint holds")));
		size = add_size(size, len + 1);
	}
	units_offset = MAXALIGN(size);
	size = add_size(units_offset, mul_size(sizeof(int64), nbudgets));

	seg = dsm_create(size, 0);
	req = (DebitRequest *) dsm_segment_address(seg);
	memset(req, 0, size);
	req->database = MyDatabaseId;
	req->current_user = GetUserId();
	req->session_user = GetSessionUserId();
	req->caller_pid = (IsParallelWorker() && MyProc->lockGroupLeader != NULL) ?
		MyProc->lockGroupLeader->pid : MyProcPid;
	req->units = 0;
	req->epsilon = 0;
	req->nbudgets = nbudgets;
	req->batch = true;
	req->new_total = new_total;
	req->units_offset = units_offset;
	req->status = DEBIT_NO_ANSWER;
	p = req->names;
	for (int i = 0; i < nbudgets; i++)
	{
		strcpy(p, names[i]);
		p += strlen(names[i]) + 1;
	}
	memcpy((char *) req + units_offset, units, sizeof(int64) * nbudgets);
	FinishDebit(seg, req);
	return sum;
}

/*
 * spend_privacy_budgets(budgets text[], units bigint[], new_budget_epsilon
 * double precision DEFAULT NULL) → bigint: one batch debit; budgets that do
 * not exist are created with new_budget_epsilon when it is given.  Returns
 * the units debited in all.
 */
PG_FUNCTION_INFO_V1(seller_analytics_spend_privacy_budgets);
Datum
seller_analytics_spend_privacy_budgets(PG_FUNCTION_ARGS)
{
	ArrayType  *names_arr;
	ArrayType  *units_arr;
	Datum	   *name_datums;
	bool	   *name_nulls;
	int			nnames;
	int64	   *units;
	char	  **names;
	int			nunits;
	int64		new_total = 0;
	char	  **sorted;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the budgets and units of a batch debit must not be NULL")));
	names_arr = PG_GETARG_ARRAYTYPE_P(0);
	units_arr = PG_GETARG_ARRAYTYPE_P(1);
	if (!PG_ARGISNULL(2))
		new_total = dp_ledger_units(PG_GETARG_FLOAT8(2), false);
	if (ARR_NDIM(names_arr) > 1 || ARR_NDIM(units_arr) > 1 || ARR_HASNULL(units_arr))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the budgets and units of a batch debit must be one-dimensional arrays without NULLs")));
	deconstruct_array(names_arr, TEXTOID, -1, false, TYPALIGN_INT, &name_datums, &name_nulls, &nnames);
	nunits = ARR_NDIM(units_arr) == 0 ? 0 : ARR_DIMS(units_arr)[0];
	if (nunits != nnames)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a batch debit needs one amount per budget"),
				 errdetail("%d budgets and %d amounts were given.", nnames, nunits)));
	{
		Datum	   *unit_datums;
		bool	   *unit_nulls;

		deconstruct_array(units_arr, INT8OID, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
						  &unit_datums, &unit_nulls, &nunits);
		units = palloc(sizeof(int64) * Max(nunits, 1));
		for (int i = 0; i < nunits; i++)
			units[i] = DatumGetInt64(unit_datums[i]);
	}
	names = palloc(sizeof(char *) * Max(nnames, 1));
	sorted = palloc(sizeof(char *) * Max(nnames, 1));
	for (int i = 0; i < nnames; i++)
	{
		if (name_nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("a privacy budget name must not be NULL")));
		names[i] = sorted[i] = TextDatumGetCString(name_datums[i]);
	}
	qsort(sorted, nnames, sizeof(char *), CompareNames);
	for (int i = 1; i < nnames; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("privacy budget \"%s\" appears twice in a batch debit", sorted[i])));
	PG_RETURN_INT64(dp_debit_batch(nnames, names, units, new_total));
}

/* ---------------------------------------------------------------------
 * SQL-callable functions
 * ---------------------------------------------------------------------
 */

/* privacy_epsilon_units(epsilon, round_up): what a debit or budget counts */
PG_FUNCTION_INFO_V1(seller_analytics_privacy_epsilon_units);
Datum
seller_analytics_privacy_epsilon_units(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(dp_ledger_units(PG_GETARG_FLOAT8(0), PG_GETARG_BOOL(1)));
}

/*
 * spend_privacy_budget(epsilon): the debit of one evaluation of a noisy
 * aggregate, on its own; returns the units debited from each budget.
 */
PG_FUNCTION_INFO_V1(seller_analytics_spend_privacy_budget);
Datum
seller_analytics_spend_privacy_budget(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(dp_debit(PG_GETARG_FLOAT8(0)));
}

/*
 * privacy_budget_remaining(name): the epsilon left in a budget, for a
 * caller that may spend it, the owner's members and superusers.  The
 * tables are read as seller_analytics_owner (the caller has no privilege
 * on them), with the caller's rights checked here.
 */
PG_FUNCTION_INFO_V1(seller_analytics_privacy_budget_remaining);
Datum
seller_analytics_privacy_budget_remaining(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	Oid			caller = GetUserId();
	Oid			owner = get_role_oid(OWNER_ROLE, false);
	bool		any_budget;
	Oid			save_user;
	int			save_sec;
	Oid			types[2] = {TEXTOID, OIDOID};
	Datum		values[2] = {PointerGetDatum(name), ObjectIdGetDatum(caller)};
	bool		found;
	int64		remaining = 0;
	bool		granted = false;

	RefuseSellers(caller, GetSessionUserId());
	any_budget = superuser_arg(caller) || has_privs_of_role(caller, owner);

	GetUserIdAndSecContext(&save_user, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	RunSql("SELECT b.total_units OPERATOR(pg_catalog.-) b.spent_units, " GRANTED_SQL
		   " FROM seller_analytics.privacy_budgets b WHERE b.name OPERATOR(pg_catalog.=) $1",
		   2, types, values, SPI_OK_SELECT);
	found = (SPI_processed == 1);
	if (found)
	{
		bool		isnull;

		remaining = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		granted = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	}
	SPI_finish();
	SetUserIdAndSecContext(save_user, save_sec);

	if (!found)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("privacy budget \"%s\" does not exist", text_to_cstring(name))));
	if (!any_budget && !granted)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for privacy budget \"%s\"", text_to_cstring(name)),
				 errdetail("Role \"%s\" was not granted the budget.", GetUserNameFromId(caller, false))));
	PG_RETURN_FLOAT8((double) remaining / (double) DP_UNITS_PER_EPSILON);
}

void
dp_budget_init(void)
{
	DefineCustomStringVariable(SETTING_NAME,
							   "The privacy budgets that this session's noisy aggregates spend from.",
							   "Budget names separated by commas; every evaluation of a noisy "
							   "aggregate debits its epsilon from each.  Empty means none, and "
							   "none means noisy aggregates are refused.",
							   &privacy_budget_setting,
							   "",
							   PGC_USERSET,
							   GUC_LIST_INPUT | GUC_NOT_IN_SAMPLE,
							   CheckPrivacyBudget,
							   NULL,
							   NULL);
}
