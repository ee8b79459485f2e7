/*
 * dp_budget.h
 *	  The privacy budget ledger (dp_budget.c): the setting
 *	  seller_analytics.privacy_budget and the debit every noisy aggregate
 *	  makes before it yields a value.
 */
#ifndef DP_BUDGET_H
#define DP_BUDGET_H

/* one unit of a privacy budget is 1e-9 epsilon */
#define DP_UNITS_PER_EPSILON	INT64CONST(1000000000)

/* SQLSTATE of "privacy budget exhausted": class DP, not used by PostgreSQL */
#define ERRCODE_PRIVACY_BUDGET_EXHAUSTED	MAKE_SQLSTATE('D','P','0','0','1')

/* defines seller_analytics.privacy_budget; call before MarkGUCPrefixReserved */
extern void dp_budget_init(void);

/*
 * epsilon (finite, > 0) in exact units.  A debit (round_up) counts what a
 * noisy aggregate calibrates its noise on, epsilon rounded down to a
 * multiple of 2^-32, rounded up to a unit: never less than it spends, and
 * 0.1 is 10^8 units.  A budget's total is the double rounded down.
 * Errors (22023) for NaN, infinities, values <= 0, a debit below 2^-32 or
 * from 2^32, a total that rounds to zero or exceeds a bigint.
 */
extern int64 dp_ledger_units(double epsilon, bool round_up);

/*
 * Debits epsilon (dp_ledger_units(epsilon, true) units) from every budget that the session's
 * seller_analytics.privacy_budget names, in a transaction of its own that
 * has committed when this returns; returns the units debited from each.
 * Either every named budget is debited or none is.  Errors: no budget set
 * (22023), a budget that does not exist (42704), one the current role was
 * not granted or a member of seller_analytics_seller (42501), not enough
 * left in one of them (ERRCODE_PRIVACY_BUDGET_EXHAUSTED; nothing spent), no
 * background worker slot (53000).  Call it in the final function of a noisy
 * aggregate, once per evaluation, before the noise is drawn.
 */
extern int64 dp_debit(double epsilon);

/* the same with the amount in units already (> 0) */
extern void dp_debit_units(int64 units, double epsilon);

/*
 * One debit of many budgets, each its own amount (> 0), in one transaction
 * of a background worker that has committed when this returns: every budget
 * or none.  Budgets that do not exist are created with new_total units
 * first when new_total > 0 (an error otherwise).  Only members of
 * seller_analytics_owner and superusers; never sellers.  Returns the units
 * debited in all.  Errors as dp_debit's, the budget exhausted named.
 */
extern int64 dp_debit_batch(int nbudgets, char **names, const int64 *units,
							int64 new_total);

#endif							/* DP_BUDGET_H */
