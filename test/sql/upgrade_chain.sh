#!/usr/bin/env bash
# The upgrade chain: 0.1 -> 0.2 -> 0.3 -> 0.4 -> 0.5 -> 0.6 -> 0.7 with data in every step,
# against a fresh CREATE EXTENSION.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`), as a superuser.
#
#   1. a database starts at 0.1 and keeps sketches in a table of its own;
#      ALTER EXTENSION ... UPDATE TO '0.2', then sellers and events are
#      loaded, partly compacted, and a reader role is granted SELECT on the
#      live view the 0.2 way
#   2. ALTER EXTENSION ... UPDATE TO '0.3': the sketches, the events and the
#      live views are what they were (as a superuser); the 0.2 reader now
#      sees no row (row-level security fails closed); a seller login
#      mapped with assign_seller_role sees its seller's rows only
#   3. ALTER EXTENSION ... UPDATE TO '0.4': the live views are what they
#      were; a privacy budget can be created and spent
#   4. ALTER EXTENSION ... UPDATE TO '0.5': a noisy aggregate spends from
#      the budget created in 0.4
#   5. ALTER EXTENSION ... UPDATE TO '0.6'
#   6. ALTER EXTENSION ... UPDATE TO '0.7'
#   7. the upgraded database's extension is the same, object for object, as
#      a fresh CREATE EXTENSION's: owners, privileges, row-level security,
#      policies, view options, function attributes and triggers
#
# Prints a summary; exits non-zero on any difference.
set -euo pipefail

# shellcheck source=../pg_tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/../pg_tools.sh"

OLD=upgrade_chain_old_$$
NEW=upgrade_chain_new_$$
READER=upgrade_chain_reader_$$
SELLER=upgrade_chain_seller_$$
work=$(mktemp -d)

cleanup() {
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $OLD" -c "DROP DATABASE IF EXISTS $NEW" \
		-c "DROP ROLE IF EXISTS $READER" -c "DROP ROLE IF EXISTS $SELLER" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

psql_db() { local db=$1; shift; "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -d "$db" "$@"; }

"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $OLD" -c "CREATE DATABASE $NEW" \
	-c "CREATE ROLE $READER LOGIN" -c "CREATE ROLE $SELLER LOGIN"

# --- 1. 0.1, then 0.2 with data ----------------------------------------------
psql_db "$OLD" >/dev/null <<SQL
CREATE EXTENSION seller_analytics VERSION '0.1';
CREATE TABLE public.kept AS
SELECT g, seller_analytics.percentile_agg(x::float8) AS s
FROM generate_series(1, 3000) AS x, generate_series(1, 3) AS g
WHERE x % g = 0 GROUP BY g;
ALTER EXTENSION seller_analytics UPDATE TO '0.2';
SET search_path = seller_analytics, public;
INSERT INTO sellers (seller_id, name, time_zone)
SELECT i, 'seller ' || i, (ARRAY['UTC', 'Europe/Berlin', 'America/New_York'])[i]
FROM generate_series(1, 3) AS i;
INSERT INTO events (seller_id, event_id, event_type, occurred_at, traffic_source, amount, quantity)
SELECT 1 + i % 3, 'e' || i,
       (ARRAY['session_start', 'page_view', 'order', 'refund'])[1 + i % 4],
       '2026-03-01 00:00Z'::timestamptz + i * interval '7 minutes',
       (ARRAY['google', NULL, 'email'])[1 + i % 3],
       round((i % 97) + 0.5, 2), 1
FROM generate_series(1, 2000) AS i;
SELECT compact();
INSERT INTO events (seller_id, event_id, event_type, occurred_at, amount)
SELECT 1 + i % 3, 'late' || i, 'order', '2026-03-02 12:00Z'::timestamptz + i * interval '1 minute', 10
FROM generate_series(1, 30) AS i;
UPDATE events SET amount = amount + 1 WHERE event_id = 'e3';
GRANT USAGE ON SCHEMA seller_analytics TO $READER;
GRANT SELECT ON seller_daily_metrics, daily_metrics, pending_deltas, recompute_marks,
      events, sellers, live_deltas, marked_recomputed, event_facts TO $READER;
GRANT EXECUTE ON FUNCTION recompute_seller_day(bigint, date) TO $READER;
SQL

views='SELECT string_agg(format($$%s|%s|%s|%s|%s|%s$$, seller_id, day, sessions, orders, revenue,
                                 seller_analytics.percentile_sketch_send(order_value)),
                          E'"'"'\n'"'"' ORDER BY seller_id, day)
       FROM seller_analytics.seller_daily_metrics'
sketches='SELECT string_agg(g || $$:$$ || s::text, $$;$$ ORDER BY g) FROM public.kept'

psql_db "$OLD" -c "$views" >"$work/views_02"
psql_db "$OLD" -c "$sketches" >"$work/sketches_02"
check "0.2: the reader sees every seller" "3" \
	"$(psql_db "$OLD" -c "SET SESSION AUTHORIZATION $READER" \
		-c "SELECT count(DISTINCT seller_id) FROM seller_analytics.seller_daily_metrics")"

# --- 2. 0.3 ------------------------------------------------------------------
psql_db "$OLD" -c "ALTER EXTENSION seller_analytics UPDATE TO '0.3'" >/dev/null
check "version after the update" "0.3" \
	"$(psql_db "$OLD" -c "SELECT extversion FROM pg_extension WHERE extname = 'seller_analytics'")"
psql_db "$OLD" -c "$views" >"$work/views_03"
psql_db "$OLD" -c "$sketches" >"$work/sketches_03"
check "live views unchanged by the update" "" "$(diff "$work/views_02" "$work/views_03" || true)"
check "stored sketches unchanged by the update" "" "$(diff "$work/sketches_02" "$work/sketches_03" || true)"
check "the live views are not empty" "1" "$(grep -c '^1|' "$work/views_03" | awk '{print ($1 > 0)}')"
check "0.3: the 0.2 reader sees no row" "0" \
	"$(psql_db "$OLD" -c "SET SESSION AUTHORIZATION $READER" \
		-c "SELECT count(*) FROM seller_analytics.seller_daily_metrics")"
psql_db "$OLD" -c "SELECT seller_analytics.assign_seller_role('$SELLER', 2)" >/dev/null
check "0.3: a mapped seller login sees its seller only" \
	"$(grep -c '^2|' "$work/views_03")|2|2" \
	"$(psql_db "$OLD" -c "SET SESSION AUTHORIZATION $SELLER" \
		-c "SELECT count(*) || '|' || min(seller_id) || '|' || max(seller_id) FROM seller_analytics.seller_daily_metrics")"
check "0.3: verify_rollups finds no difference" "0" \
	"$(psql_db "$OLD" -c "SELECT count(*) FROM seller_analytics.verify_rollups('2026-02-01', '2026-04-30')")"
psql_db "$OLD" -c "SELECT seller_analytics.revoke_seller_role('$SELLER')" >/dev/null
# the reader's grants were the test's own doing: take them back before comparing
psql_db "$OLD" >/dev/null <<SQL
SET search_path = seller_analytics;
REVOKE ALL ON seller_daily_metrics, daily_metrics, pending_deltas, recompute_marks,
       events, sellers, live_deltas, marked_recomputed, event_facts FROM $READER;
REVOKE ALL ON FUNCTION seller_analytics.recompute_seller_day(bigint, date) FROM $READER;
REVOKE USAGE ON SCHEMA seller_analytics FROM $READER;
SQL

# --- 3. 0.4 ------------------------------------------------------------------
psql_db "$OLD" -c "ALTER EXTENSION seller_analytics UPDATE TO '0.4'" >/dev/null
check "version after the update to 0.4" "0.4" \
	"$(psql_db "$OLD" -c "SELECT extversion FROM pg_extension WHERE extname = 'seller_analytics'")"
psql_db "$OLD" -c "$views" >"$work/views_04"
check "live views unchanged by the update to 0.4" "" "$(diff "$work/views_03" "$work/views_04" || true)"
check "0.4: a privacy budget is created and spent" "250000000|0.75|1" \
	"$(psql_db "$OLD" -c "SELECT seller_analytics.create_privacy_budget('upgrade', 1)" \
		-c "SET seller_analytics.privacy_budget = 'upgrade'" \
		-c "SELECT seller_analytics.spend_privacy_budget(0.25)" \
		-c "SELECT seller_analytics.privacy_budget_remaining('upgrade') || '|' ||
		           (SELECT count(*) FROM seller_analytics.privacy_ledger)" | tail -2 | paste -sd'|')"

# --- 4. 0.5 ------------------------------------------------------------------
psql_db "$OLD" -c "ALTER EXTENSION seller_analytics UPDATE TO '0.5'" >/dev/null
check "version after the update to 0.5" "0.5" \
	"$(psql_db "$OLD" -c "SELECT extversion FROM pg_extension WHERE extname = 'seller_analytics'")"
check "0.5: a noisy aggregate spends from the budget kept since 0.4" "2|0.5" \
	"$(psql_db "$OLD" -c "SET seller_analytics.privacy_budget = 'upgrade'" \
		-c "SELECT seller_analytics.noisy_count(0.25) IS NOT NULL FROM seller_analytics.events" \
		-c "SELECT (SELECT count(*) FROM seller_analytics.privacy_ledger) || '|' ||
		           seller_analytics.privacy_budget_remaining('upgrade')" | tail -1)"

# --- 5. 0.6 ------------------------------------------------------------------
psql_db "$OLD" -c "ALTER EXTENSION seller_analytics UPDATE TO '0.6'" >/dev/null
check "version after the update to 0.6" "0.6" \
	"$(psql_db "$OLD" -c "SELECT extversion FROM pg_extension WHERE extname = 'seller_analytics'")"

# --- 6. 0.7 ------------------------------------------------------------------
psql_db "$OLD" -c "ALTER EXTENSION seller_analytics UPDATE TO '0.7'" >/dev/null
check "version after the update to 0.7" "0.7" \
	"$(psql_db "$OLD" -c "SELECT extversion FROM pg_extension WHERE extname = 'seller_analytics'")"

# --- 7. upgraded = fresh -----------------------------------------------------
psql_db "$NEW" -c "CREATE EXTENSION seller_analytics" >/dev/null

# every member object with what decides who may do what with it
fingerprint='
WITH members AS (
    SELECT d.classid, d.objid
    FROM pg_depend d JOIN pg_extension x ON x.oid = d.refobjid
    WHERE x.extname = $$seller_analytics$$ AND d.deptype = $$e$$
)
SELECT pg_describe_object(m.classid, m.objid, 0) || $$ | $$ || concat_ws($$ | $$,
       CASE m.classid
           WHEN $$pg_class$$::regclass THEN
               (SELECT concat_ws($$ $$, c.relowner::regrole, c.relacl::text, c.relrowsecurity,
                                 c.relforcerowsecurity, c.reloptions::text)
                FROM pg_class c WHERE c.oid = m.objid)
           WHEN $$pg_proc$$::regclass THEN
               (SELECT concat_ws($$ $$, p.proowner::regrole, p.proacl::text, p.prosecdef,
                                 p.provolatile, p.proparallel, p.proisstrict, p.proconfig::text)
                FROM pg_proc p WHERE p.oid = m.objid)
           WHEN $$pg_type$$::regclass THEN
               (SELECT concat_ws($$ $$, t.typowner::regrole, t.typacl::text)
                FROM pg_type t WHERE t.oid = m.objid)
           WHEN $$pg_namespace$$::regclass THEN
               (SELECT concat_ws($$ $$, n.nspowner::regrole, n.nspacl::text)
                FROM pg_namespace n WHERE n.oid = m.objid)
       END)
FROM members m
UNION ALL
SELECT $$policy $$ || concat_ws($$ | $$, tablename, policyname, permissive, roles::text, cmd, qual, with_check)
FROM pg_policies WHERE schemaname = $$seller_analytics$$
UNION ALL
SELECT $$trigger $$ || concat_ws($$ | $$, t.tgrelid::regclass, t.tgname, t.tgenabled, t.tgtype, t.tgfoid::regprocedure)
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = $$seller_analytics$$::regnamespace AND NOT t.tgisinternal
ORDER BY 1'

psql_db "$OLD" -c "$fingerprint" >"$work/fp_old"
psql_db "$NEW" -c "$fingerprint" >"$work/fp_new"
check "upgraded extension = fresh extension ($(wc -l <"$work/fp_new") objects, policies, triggers)" \
	"" "$(diff "$work/fp_old" "$work/fp_new" || true)"

if [ "$failures" -gt 0 ]; then
	echo "upgrade_chain: $failures check(s) failed"
	exit 1
fi
echo "upgrade_chain: all checks passed"
