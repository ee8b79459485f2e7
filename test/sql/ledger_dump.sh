#!/usr/bin/env bash
# The privacy budget ledger through pg_dump and every kind of restore.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`), as a superuser.
#
#   1. a database with the extension, 45 budgets, grants to an analyst role,
#      and debits made by a superuser and by the analyst, through
#      spend_privacy_budget and through noisy aggregates, some naming many
#      budgets at once (the ledger is the largest of the tables, as it is in
#      use), one budget exhausted and one untouched; the owner's direct
#      INSERT of a ledger row or a grant for a budget that does not exist is
#      refused (the check that replaced the foreign keys)
#   2. restored five ways: pg_dump -Fd then pg_restore -j 2 and pg_restore
#      without -j; pg_dump | psql; pg_dump --data-only into a fresh
#      CREATE EXTENSION, through psql and through pg_restore -j 2.  Each
#      restore must succeed, and in each database: every ledger row, budget
#      and grant is identical to the source's; every budget's remaining
#      epsilon is the source's; spent_units is its ledger's sum, and no row
#      names a missing budget; a debit over what is left is refused (DP001)
#      and spends nothing; a debit of exactly what is left succeeds, through
#      the grant, under the next ledger id; an exhausted budget stays so
#   3. partial data-only restores, as a failed load would leave them: the
#      budgets without the ledger still carry what was spent (no budget looks
#      unspent); the ledger without the budgets spends nothing, and
#      create_privacy_budget refuses the names it holds debits for
#
# Prints a summary; exits non-zero on any difference.
set -euo pipefail

# shellcheck source=../pg_tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/../pg_tools.sh"

P=ledger_dump
SRC=${P}_src_$$
ANALYST=${P}_analyst_$$
DBS=("${P}_par_$$" "${P}_ser_$$" "${P}_plain_$$" "${P}_data_$$" "${P}_datapar_$$"
	"${P}_budgets_$$" "${P}_ledger_$$")
work=$(mktemp -d)
chmod 755 "$work"

cleanup() {
	local db
	for db in "$SRC" "${DBS[@]}"; do
		"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	done
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $ANALYST" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

psql_db() { local db=$1; shift; "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
# the SQLSTATE of the last statement of stdin ("" when it succeeded)
sqlstate() { "$PSQL" -X -q -At -v ON_ERROR_STOP=0 -d "$1" 2>/dev/null | tail -1; }

"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $SRC"

# --- 1. budgets, grants, debits ------------------------------------------------
psql_db "$SRC" >/dev/null <<SQL
CREATE EXTENSION seller_analytics;
CREATE ROLE $ANALYST NOLOGIN IN ROLE seller_analytics_analyst;
SELECT seller_analytics.create_privacy_budget('ld_a', 1.0);
SELECT seller_analytics.create_privacy_budget('ld_b', 10.0);
SELECT seller_analytics.create_privacy_budget('ld_c', 0.5);
SELECT seller_analytics.create_privacy_budget('ld_unused', 2.0);
SELECT seller_analytics.create_privacy_budget('ld_many_' || i, 1.0) FROM generate_series(10, 50) i;
SELECT seller_analytics.grant_privacy_budget(b, '$ANALYST') FROM unnest(ARRAY['ld_a', 'ld_b', 'ld_c']) b;

-- a superuser's debits, from two budgets at once
SET seller_analytics.privacy_budget = 'ld_a, ld_b';
SELECT seller_analytics.spend_privacy_budget(0.25) FROM generate_series(1, 3);
-- from 41 budgets at once, three times: most of the ledger's rows
SELECT set_config('seller_analytics.privacy_budget',
                  (SELECT string_agg('ld_many_' || i, ', ') FROM generate_series(10, 50) i), false);
SELECT seller_analytics.spend_privacy_budget(0.125) FROM generate_series(1, 3);
-- the analyst's, through its grants and through noisy aggregates
SET ROLE $ANALYST;
SET seller_analytics.privacy_budget = 'ld_b';
SELECT seller_analytics.spend_privacy_budget(0.1);
SELECT seller_analytics.noisy_count(1.0) FROM generate_series(1, 100);
SELECT seller_analytics.noisy_avg(x, 0, 100, 0.5) FROM generate_series(1, 100) x;
SET seller_analytics.privacy_budget = 'ld_c';
SELECT seller_analytics.spend_privacy_budget(0.5);
RESET ROLE;
SQL

src_summary=$(psql_db "$SRC" -At -F' ' -c "
	SELECT (SELECT count(*) FROM seller_analytics.privacy_budgets),
	       (SELECT count(*) FROM seller_analytics.privacy_budget_grants),
	       (SELECT count(*) FROM seller_analytics.privacy_ledger),
	       (SELECT max(id) FROM seller_analytics.privacy_ledger)")
echo "source: budgets grants ledger_rows max_id = $src_summary"
read -r n_budgets n_grants n_ledger max_id <<<"$src_summary"
check "source: ledger ids 1 to $n_ledger" "$n_ledger" "$max_id"
check "source: 45 budgets, 3 grants, 133 ledger rows" "45 3 133" "$n_budgets $n_grants $n_ledger"

# the check that replaced the foreign keys: the owner cannot write a ledger
# row or a grant for a budget that does not exist (and can for one that does)
check "source: the owner's ledger row for a missing budget is refused" "42501" "$(sqlstate "$SRC" <<SQL
BEGIN;
SET LOCAL ROLE seller_analytics_owner;
INSERT INTO seller_analytics.privacy_ledger (budget, units, epsilon, role_name, session_user_name, backend_pid)
VALUES ('ld_a', 1, 1e-9, 'x', 'x', 0);
INSERT INTO seller_analytics.privacy_ledger (budget, units, epsilon, role_name, session_user_name, backend_pid)
VALUES ('ld_missing', 1, 1e-9, 'x', 'x', 0);
\echo :LAST_ERROR_SQLSTATE
SQL
)"
check "source: the owner's grant of a missing budget is refused" "42501" "$(sqlstate "$SRC" <<SQL
BEGIN;
SET LOCAL ROLE seller_analytics_owner;
INSERT INTO seller_analytics.privacy_budget_grants (budget, role, role_name) VALUES ('ld_a', 'seller_analytics_owner', 'seller_analytics_owner');
INSERT INTO seller_analytics.privacy_budget_grants (budget, role, role_name) VALUES ('ld_missing', '$ANALYST', '$ANALYST');
\echo :LAST_ERROR_SQLSTATE
SQL
)"
check "source: the ledger stays append-only" "55000" "$(sqlstate "$SRC" <<SQL
DELETE FROM seller_analytics.privacy_ledger WHERE budget = 'ld_a';
\echo :LAST_ERROR_SQLSTATE
SQL
)"

# what must survive, one line per row
snapshot() {			# snapshot DB PREFIX
	psql_db "$1" -At -c "SET timezone = 'UTC'" -c "
		SELECT id, budget, units, epsilon, role_name, session_user_name, backend_pid, at
		FROM seller_analytics.privacy_ledger ORDER BY id" >"$work/$2.ledger"
	psql_db "$1" -At -c "SET timezone = 'UTC'" -c "
		SELECT name, total_units, spent_units, created_at
		FROM seller_analytics.privacy_budgets ORDER BY name" >"$work/$2.budgets"
	psql_db "$1" -At -c "SET timezone = 'UTC'" -c "
		SELECT budget, role, role_name, granted_at
		FROM seller_analytics.privacy_budget_grants ORDER BY budget, role_name" >"$work/$2.grants"
	psql_db "$1" -At -c "
		SELECT name, seller_analytics.privacy_budget_remaining(name)
		FROM seller_analytics.privacy_budgets ORDER BY name" >"$work/$2.remaining"
}
same() {			# same NAME FILE1 FILE2
	if cmp -s "$2" "$3"; then
		check "$1" "same" "same"
	else
		diff "$2" "$3" | head -10 || true
		check "$1" "same" "different"
	fi
}
# budgets whose spent_units is not their ledger's sum, and rows (ledger or
# grants) whose budget is missing
inconsistent="SELECT
	(SELECT count(*) FROM seller_analytics.privacy_budgets b
	 WHERE b.spent_units <> (SELECT coalesce(sum(l.units), 0) FROM seller_analytics.privacy_ledger l
	                         WHERE l.budget = b.name))
	+ (SELECT count(*) FROM seller_analytics.privacy_ledger l
	   WHERE NOT EXISTS (SELECT 1 FROM seller_analytics.privacy_budgets b WHERE b.name = l.budget))
	+ (SELECT count(*) FROM seller_analytics.privacy_budget_grants g
	   WHERE NOT EXISTS (SELECT 1 FROM seller_analytics.privacy_budgets b WHERE b.name = g.budget))"

snapshot "$SRC" src
# the next id a debit takes (the owner's INSERTs above, rolled back, used some)
next_id=$(($(psql_db "$SRC" -At -c "SELECT last_value FROM seller_analytics.privacy_ledger_id_seq") + 1))
check "source: ld_a 0.25 left, ld_c none, ld_unused whole" "ld_a|0.25 ld_c|0 ld_unused|2" \
	"$(grep -E '^ld_(a|c|unused)\|' "$work/src.remaining" | paste -sd' ')"
check "source: spent_units is the ledger's sum" "0" "$(psql_db "$SRC" -At -c "$inconsistent")"

# --- 2. dumps and restores ------------------------------------------------------
for db in "${DBS[@]}"; do
	"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $db"
done
"$PG_DUMP" -Fd -f "$work/full.dir" "$SRC"
"$PG_DUMP" -Fp -f "$work/full.sql" "$SRC"
"$PG_DUMP" --data-only -Fp -f "$work/data.sql" "$SRC"
"$PG_DUMP" --data-only -Fd -f "$work/data.dir" "$SRC"

restore() {			# restore LABEL COMMAND...: run it, check its exit status
	local label=$1 rc=0
	shift
	"$@" >"$work/$label.restore.log" 2>&1 || rc=$?
	if [ "$rc" -ne 0 ]; then
		head -5 "$work/$label.restore.log"
	fi
	check "$label: the restore succeeds" "0" "$rc"
}
restore par "$PG_RESTORE" -j 2 -d "${DBS[0]}" "$work/full.dir"
restore ser "$PG_RESTORE" -d "${DBS[1]}" "$work/full.dir"
restore plain "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "${DBS[2]}" -f "$work/full.sql"
psql_db "${DBS[3]}" -c "CREATE EXTENSION seller_analytics"
restore data "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "${DBS[3]}" -f "$work/data.sql"
psql_db "${DBS[4]}" -c "CREATE EXTENSION seller_analytics"
restore datapar "$PG_RESTORE" -j 2 -d "${DBS[4]}" "$work/data.dir"

labels=(par ser plain data datapar)
for i in "${!labels[@]}"; do
	label=${labels[$i]}
	db=${DBS[$i]}
	snapshot "$db" "$label"
	same "$label: every ledger row identical" "$work/src.ledger" "$work/$label.ledger"
	check "$label: ledger rows" "$n_ledger" "$(wc -l <"$work/$label.ledger" | tr -d ' ')"
	same "$label: budgets identical" "$work/src.budgets" "$work/$label.budgets"
	same "$label: grants identical" "$work/src.grants" "$work/$label.grants"
	same "$label: every budget's remaining epsilon identical" "$work/src.remaining" "$work/$label.remaining"
	check "$label: spent_units is the ledger's sum; no row without its budget" "0" \
		"$(psql_db "$db" -At -c "$inconsistent")"
	# more than is left: refused, nothing spent
	check "$label: a debit over what is left is refused" "DP001" "$(sqlstate "$db" <<SQL
SET ROLE $ANALYST;
SET seller_analytics.privacy_budget = 'ld_a';
SELECT seller_analytics.spend_privacy_budget(0.25 + 1e-9);
\echo :LAST_ERROR_SQLSTATE
SQL
)"
	check "$label: ... and spends nothing" "250000000|$n_ledger" \
		"$(psql_db "$db" -At -c "SELECT (total_units - spent_units) || '|' ||
			(SELECT count(*) FROM seller_analytics.privacy_ledger)
			FROM seller_analytics.privacy_budgets WHERE name = 'ld_a'")"
	# exactly what is left: spent, under the next id of the ledger
	check "$label: a debit of exactly what is left, through the grant" "250000000|$next_id|0" \
		"$(psql_db "$db" -At -c "SET ROLE $ANALYST" -c "SET seller_analytics.privacy_budget = 'ld_a'" \
			-c "SELECT seller_analytics.spend_privacy_budget(0.25)" -c "RESET ROLE" \
			-c "SELECT max(id) FROM seller_analytics.privacy_ledger" \
			-c "SELECT seller_analytics.privacy_budget_remaining('ld_a')" | paste -sd'|')"
	check "$label: an exhausted budget stays exhausted" "DP001" "$(sqlstate "$db" <<SQL
SET seller_analytics.privacy_budget = 'ld_c';
SELECT seller_analytics.noisy_count(1e-6) FROM generate_series(1, 3);
\echo :LAST_ERROR_SQLSTATE
SQL
)"
	check "$label: consistent after the new debits" "0" "$(psql_db "$db" -At -c "$inconsistent")"
done

# --- 3. partial restores ----------------------------------------------------------
"$PG_RESTORE" -l "$work/data.dir" >"$work/data.list"
grep -v 'TABLE DATA seller_analytics privacy_ledger ' "$work/data.list" |
	grep -v 'SEQUENCE SET seller_analytics privacy_ledger_id_seq ' >"$work/budgets.list"
grep -v 'TABLE DATA seller_analytics privacy_budgets ' "$work/data.list" |
	grep -v 'TABLE DATA seller_analytics privacy_budget_grants ' >"$work/ledger.list"
n_items=$(wc -l <"$work/data.list")
check "the lists leave out two items each" "$((n_items - 2)) $((n_items - 2))" \
	"$(wc -l <"$work/budgets.list" | tr -d ' ') $(wc -l <"$work/ledger.list" | tr -d ' ')"

db=${DBS[5]}
psql_db "$db" -c "CREATE EXTENSION seller_analytics"
restore budgets-only "$PG_RESTORE" -L "$work/budgets.list" -d "$db" "$work/data.dir"
snapshot "$db" budgets-only
same "budgets-only: every budget's remaining epsilon is the source's" "$work/src.remaining" "$work/budgets-only.remaining"
check "budgets-only: no ledger row" "0" "$(wc -l <"$work/budgets-only.ledger" | tr -d ' ')"
check "budgets-only: ld_a's last 0.25 is all it can spend" "DP001" "$(sqlstate "$db" <<SQL
SET seller_analytics.privacy_budget = 'ld_a';
SELECT seller_analytics.spend_privacy_budget(0.5);
\echo :LAST_ERROR_SQLSTATE
SQL
)"

db=${DBS[6]}
psql_db "$db" -c "CREATE EXTENSION seller_analytics"
restore ledger-only "$PG_RESTORE" -L "$work/ledger.list" -d "$db" "$work/data.dir"
snapshot "$db" ledger-only
same "ledger-only: every ledger row identical" "$work/src.ledger" "$work/ledger-only.ledger"
check "ledger-only: a debit from a budget that is missing is refused" "42704" "$(sqlstate "$db" <<SQL
SET seller_analytics.privacy_budget = 'ld_unused';
SELECT seller_analytics.spend_privacy_budget(0.1);
\echo :LAST_ERROR_SQLSTATE
SQL
)"
check "ledger-only: no budget of a name the ledger has debits for" "55000" "$(sqlstate "$db" <<SQL
SELECT seller_analytics.create_privacy_budget('ld_a', 1.0);
\echo :LAST_ERROR_SQLSTATE
SQL
)"
check "ledger-only: a name without debits can be created" "1" \
	"$(psql_db "$db" -At -c "SELECT seller_analytics.create_privacy_budget('ld_unused', 2.0)" \
		-c "SELECT count(*) FROM seller_analytics.privacy_budgets" | tail -1)"

echo "ledger_dump: $n_budgets budgets, $n_ledger ledger rows, 7 restores, $failures failure(s)"
[ "$failures" -eq 0 ]
