#!/usr/bin/env bash
# The tenant setting behind a transaction pooler: a real PgBouncer in
# pool_mode = transaction with ONE server connection, so that consecutive
# transactions of different clients run on the same backend.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`: TCP to localhost, password required),
# as a superuser.  Creates its own database and login role, with names
# ending in this process's id, starts PgBouncer (Debian's pgbouncer) on a
# free loopback port, and stops it and drops them on exit, failure or not.
#
#   1. a database with the extension: sellers 1 and 2 with events over
#      six days, the first four compacted, the rest pending, and a
#      corrected order (a recomputed day); an application login role, a
#      member of seller_analytics_app, with a password (scram-sha-256 from
#      the client to PgBouncer and from PgBouncer to the server)
#   2. PgBouncer: pool_mode = transaction, default_pool_size = 1,
#      max_db_connections = 1, and nothing that resets a server connection
#      between clients (server_reset_query empty, server_reset_query_always
#      off): whatever the extension does not clear reaches the next client.
#      A control shows it: a custom setting of no extension, set with a
#      plain SET by one client, is seen by the next client on the same
#      backend.
#   3. for each way one client ("A") can name a seller -- SET inside
#      BEGIN ... COMMIT, SET LOCAL, set_config(..., false) and (..., true)
#      outside and inside a block, a SET inside a PL/pgSQL function called
#      outside and inside a block, a plain SET outside a block (refused:
#      SQLSTATE 25P01), an error mid-transaction then ROLLBACK, a statement
#      timeout, a cancel by pg_cancel_backend and one by the client (psql's
#      cancel request, through PgBouncer), the client disconnecting in the
#      middle of a query and while idle in its transaction -- A first shows
#      that its way named seller 1 where it should (it sees seller 1's
#      events), then the next client ("B"), which names no seller, runs a
#      statement on its own and a BEGIN ... COMMIT block: it must find
#      SHOW seller_analytics.seller_id empty, current_seller_id() NULL and
#      0 rows in every table and view of the schema it may read.  B must run
#      on A's backend where A ended normally (the pool's one connection);
#      after a disconnect in the middle of a transaction PgBouncer closes
#      that connection, and B's backend is reported.
#   4. the documented application path through PgBouncer: BEGIN; SET LOCAL
#      seller_analytics.seller_id = 2; every table and view; COMMIT: exactly
#      the rows the superuser gets with WHERE seller_id = 2 (md5 of the rows)
#   5. concurrently through the one server connection: pgbench clients that
#      name seller 1 in the leaky ways (SET inside a block, set_config(...,
#      false) outside one) interleaved with clients that name none and fail
#      (division by zero) if they see a row
#
# Prints a summary; exits non-zero on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../pg_tools.sh
. "$HERE/../pg_tools.sh"

DB=pooler_$$
APP=sa_pooler_app_$$
PASSWORD=pooler_$$_$(od -An -tx1 -N12 /dev/urandom | tr -d ' \n')
PGBENCH=$(tool pgbench)
PGBOUNCER=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
# the server as PgBouncer reaches it: over TCP (password authentication)
SERVER_HOST=${PGHOST:-localhost}
case $SERVER_HOST in /*) SERVER_HOST=127.0.0.1 ;; esac
SERVER_PORT=${PGPORT:-5432}
work=$(mktemp -d)
chmod 755 "$work"
bouncer_pid=""
client=""
PORT=""

stop_bouncer() {
	local i
	if [ -n "$bouncer_pid" ] && kill -0 "$bouncer_pid" 2>/dev/null; then
		kill -TERM "$bouncer_pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$bouncer_pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$bouncer_pid" 2>/dev/null || true
	fi
	bouncer_pid=""
}

cleanup() {
	local pid
	# a client left in the background by a failed case
	if [ -n "$client" ]; then
		kill -KILL "$client" 2>/dev/null || true
	fi
	stop_bouncer
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
	"$PSQL" -X -q -d postgres -c "DROP ROLE IF EXISTS $APP" >/dev/null 2>&1 || true
	if [ -n "${POOLER_KEEP:-}" ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

psql_su() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DB" "$@"; }
# a client of the application through PgBouncer
bouncer() {
	PGPASSWORD=$PASSWORD PGOPTIONS='' "$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U "$APP" -d "$DB" "$@"
}
# bouncer_bg OUT ARGS...: the same in the background, its output to OUT;
# $! is psql's own pid
bouncer_bg() {
	local out=$1
	shift
	(
		export PGPASSWORD=$PASSWORD PGOPTIONS=''
		exec "$PSQL" -X -q -h 127.0.0.1 -p "$PORT" -U "$APP" -d "$DB" "$@" >"$out" 2>&1
	) &
	# no job: no "Killed" message from bash; wait_gone waits for it
	disown
}

if ! [ -x "$PGBOUNCER" ]; then
	echo "FAIL: pgbouncer not found (Debian package pgbouncer)"
	exit 1
fi
if [ "$(id -u)" -eq 0 ]; then
	echo "FAIL: pooler.sh runs as the server's user, not root (PgBouncer refuses root)"
	exit 1
fi

# --- 1. data, role -------------------------------------------------------------
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $DB"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
	-c "CREATE ROLE $APP LOGIN PASSWORD '$PASSWORD' IN ROLE seller_analytics_app" 2>/dev/null ||
	{
		# the group role exists once the extension was created in some database
		psql_su -c "CREATE EXTENSION seller_analytics"
		"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres \
			-c "CREATE ROLE $APP LOGIN PASSWORD '$PASSWORD' IN ROLE seller_analytics_app"
	}
psql_su >/dev/null <<SQL
CREATE EXTENSION IF NOT EXISTS seller_analytics;
SET search_path = seller_analytics, public;
INSERT INTO sellers (seller_id, name, category, time_zone) VALUES
    (1, 'Harbor Books', 'books', 'America/New_York'),
    (2, 'Kiez Coffee', 'food', 'Europe/Berlin');

-- events i = first .. last: the two sellers in turn, every 37 minutes from
-- 2026-03-01 00:00 UTC
CREATE FUNCTION pg_temp.load(first int, last int) RETURNS void LANGUAGE sql AS \$\$
  INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, session_id,
                                       traffic_source, amount, quantity)
  SELECT 1 + i % 2, 'e' || i,
         (ARRAY['session_start', 'page_view', 'page_view', 'add_to_cart', 'order', 'order', 'refund'])[1 + (i * 7919) % 7],
         '2026-03-01 00:00Z'::timestamptz + i * interval '37 minutes',
         's' || i / 6,
         (ARRAY['search', 'email', NULL, 'social', 'direct'])[1 + (i * 31) % 5],
         CASE WHEN (i * 7919) % 7 >= 4 THEN round(((i * 104729) % 10000) / 100.0 + 0.01, 2) END,
         CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % 3 END
  FROM generate_series(first, last) AS i
  ON CONFLICT DO NOTHING;
\$\$;
SELECT pg_temp.load(1, 80);
SELECT pg_temp.load(81, 155);
SELECT * FROM compact();
SELECT pg_temp.load(156, 230);
-- a corrected order of seller 1 in a compacted day: recomputed from events
UPDATE events SET amount = amount + 3 WHERE seller_id = 1 AND event_id = (
    SELECT min(event_id) FROM events WHERE seller_id = 1 AND event_type = 'order'
                                       AND occurred_at < '2026-03-03 00:00Z');

-- a SET inside a PL/pgSQL function: names seller 1 and returns how many
-- events the caller then sees
CREATE FUNCTION public.pooler_name_seller_1() RETURNS bigint LANGUAGE plpgsql AS \$\$
BEGIN
    SET seller_analytics.seller_id = 1;
    RETURN (SELECT count(*) FROM seller_analytics.events);
END
\$\$;
REVOKE ALL ON FUNCTION public.pooler_name_seller_1() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.pooler_name_seller_1() TO $APP;
SQL

state=$(psql_su -At -F' ' -c "
	SELECT (SELECT count(*) FROM seller_analytics.events WHERE seller_id = 1),
	       (SELECT count(*) FROM seller_analytics.events WHERE seller_id = 2),
	       (SELECT count(DISTINCT seller_id) FROM seller_analytics.daily_metrics),
	       (SELECT count(DISTINCT seller_id) FROM seller_analytics.pending_deltas),
	       (SELECT count(*) FROM seller_analytics.recompute_marks)")
read -r n1 n2 n_compacted n_pending n_marks <<<"$state"
check "data: both sellers have events, compacted rollups and pending deltas; a recomputed day" \
	"yes 2 2 yes" "$([ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] && echo yes || echo no) $n_compacted $n_pending $([ "$n_marks" -gt 0 ] && echo yes || echo no)"

# every table and view of the schema the application may read that holds
# sellers' rows (a seller_id column; the benchmark settings and releases
# are public figures, the same for everyone)
mapfile -t RELS < <(psql_su -At -c "
	SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE n.nspname = 'seller_analytics' AND c.relkind IN ('r', 'v', 'p', 'm')
	  AND has_table_privilege('$APP', c.oid, 'SELECT')
	  AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
	              AND a.attname = 'seller_id' AND NOT a.attisdropped)
	ORDER BY c.relname")
check "the application role may read the seller tables and views" "yes" \
	"$(printf '%s\n' "${RELS[@]}" | grep -qx events && printf '%s\n' "${RELS[@]}" | grep -qx seller_daily_metrics &&
		printf '%s\n' "${RELS[@]}" | grep -qx seller_daily_traffic && echo yes || echo "no: ${RELS[*]}")"
# counts: "rel=N rel=N ..." of every readable relation
counts_expr=$(for r in "${RELS[@]}"; do printf "'%s=' || (SELECT count(*) FROM seller_analytics.%s)\n" "$r" "$r"; done |
	paste -sd, -)
counts_expr="concat_ws(' ', $counts_expr)"
zero_counts=$(for r in "${RELS[@]}"; do printf '%s=0\n' "$r"; done | paste -sd' ' -)

# --- 2. PgBouncer ------------------------------------------------------------------
# start_bouncer: on a free loopback port (a few tries: another program may
# take the port between the check and the bind)
start_bouncer() {
	local try i
	printf '"%s" "%s"\n' "$APP" "$PASSWORD" >"$work/userlist.txt"
	chmod 600 "$work/userlist.txt"
	for ((try = 0; try < 8; try++)); do
		PORT=$((20000 + (RANDOM * 7 + $$ + try * 101) % 30000))
		if [ -n "$(ss -Htln "sport = :$PORT" 2>/dev/null)" ]; then
			continue
		fi
		cat >"$work/pgbouncer.ini" <<-INI
			[databases]
			$DB = host=$SERVER_HOST port=$SERVER_PORT dbname=$DB

			[pgbouncer]
			listen_addr = 127.0.0.1
			listen_port = $PORT
			unix_socket_dir =
			auth_type = scram-sha-256
			auth_file = $work/userlist.txt
			pool_mode = transaction
			default_pool_size = 1
			min_pool_size = 0
			reserve_pool_size = 0
			max_db_connections = 1
			max_client_conn = 200
			server_reset_query =
			server_reset_query_always = 0
			ignore_startup_parameters = extra_float_digits
			logfile = $work/pgbouncer.log
			pidfile = $work/pgbouncer.pid
			log_connections = 1
			log_disconnections = 1
		INI
		rm -f "$work/pgbouncer.pid"
		"$PGBOUNCER" "$work/pgbouncer.ini" >>"$work/pgbouncer.out" 2>&1 &
		bouncer_pid=$!
		for ((i = 0; i < 50; i++)); do
			if ! kill -0 "$bouncer_pid" 2>/dev/null; then
				break
			fi
			if bouncer -At -c 'SELECT 1' >/dev/null 2>&1; then
				return 0
			fi
			sleep 0.1
		done
		stop_bouncer
	done
	echo "FAIL: PgBouncer did not start"
	tail -20 "$work/pgbouncer.out" "$work/pgbouncer.log" 2>/dev/null || true
	return 1
}
start_bouncer
check "PgBouncer $("$PGBOUNCER" --version | awk 'NR == 1 { print $2 }') on 127.0.0.1:$PORT (pool_mode = transaction, one server connection) serves the application" \
	"1" "$(bouncer -At -c 'SELECT 1')"

# the control: a setting no extension clears, set by one client with a plain
# SET, is seen by the next client on the same backend (nothing resets the
# server connection between clients)
a=$(bouncer -At -c "SET pooler_test.marker = 'from A'" -c 'SELECT pg_backend_pid()')
b=$(bouncer -At -c "SELECT pg_backend_pid() || ' ' || current_setting('pooler_test.marker', true)")
check "control: a plain SET of a setting of no extension reaches the next client, on the same backend" \
	"$a from A" "$b"

# --- 3. each way of naming a seller, then the next client ----------------------------
# probe: the next client, naming no seller: a statement on its own, SHOW,
# and a BEGIN ... COMMIT block
cat >"$work/probe.sql" <<SQL
SELECT 'implicit|' || pg_backend_pid() || '|[' || current_setting('seller_analytics.seller_id') || ']|'
       || coalesce(seller_analytics.current_seller_id()::text, 'NULL') || '|' || $counts_expr;
\echo -n 'show|'
SHOW seller_analytics.seller_id;
BEGIN;
SELECT 'block|' || pg_backend_pid() || '|[' || current_setting('seller_analytics.seller_id') || ']|'
       || coalesce(seller_analytics.current_seller_id()::text, 'NULL') || '|' || $counts_expr;
COMMIT;
SQL

# what A's statements print: "pid|N" (its backend), "seen|N" (events it
# sees where it named seller 1), "after|N" (events it sees afterwards),
# "sqlstate|S" (an error's)
SEEN="SELECT 'seen|' || count(*) FROM seller_analytics.events;"
AFTER="SELECT 'after|' || count(*) FROM seller_analytics.events;"
PID="SELECT 'pid|' || pg_backend_pid();"
STATE="\\echo 'sqlstate|':LAST_ERROR_SQLSTATE"

declare -A CASE_SQL CASE_WANT CASE_TITLE
add_case() {			# add_case NAME TITLE WANT SQL: A's script and what it must print
	CASE_TITLE[$1]=$2
	CASE_WANT[$1]=$3
	CASE_SQL[$1]=$4
	CASES+=("$1")
}
CASES=()
add_case set_in_block "SET inside BEGIN ... COMMIT" "seen|$n1 after|0" "
BEGIN;
$PID
SET seller_analytics.seller_id = 1;
$SEEN
COMMIT;
$AFTER"
add_case set_local "SET LOCAL inside BEGIN ... COMMIT" "seen|$n1 after|0" "
BEGIN;
$PID
SET LOCAL seller_analytics.seller_id = 1;
$SEEN
COMMIT;
$AFTER"
# \; sends the statements in one query: one implicit transaction
add_case set_config_false_outside "set_config(..., false) outside a block" "seen|$n1 after|0" "
$PID
SELECT set_config('seller_analytics.seller_id', '1', false) \\; $SEEN
$AFTER"
add_case set_config_true_outside "set_config(..., true) outside a block" "seen|$n1 after|0" "
$PID
SELECT set_config('seller_analytics.seller_id', '1', true) \\; $SEEN
$AFTER"
add_case set_config_false_in_block "set_config(..., false) inside BEGIN ... COMMIT" "seen|$n1 after|0" "
BEGIN;
$PID
SELECT set_config('seller_analytics.seller_id', '1', false);
$SEEN
COMMIT;
$AFTER"
add_case set_config_true_in_block "set_config(..., true) inside BEGIN ... COMMIT" "seen|$n1 after|0" "
BEGIN;
$PID
SELECT set_config('seller_analytics.seller_id', '1', true);
$SEEN
COMMIT;
$AFTER"
add_case function_outside "SET inside a PL/pgSQL function, called outside a block" "seen|$n1 after|0" "
$PID
SELECT 'seen|' || public.pooler_name_seller_1();
$AFTER"
add_case function_in_block "SET inside a PL/pgSQL function, called inside BEGIN ... COMMIT" "seen|$n1 seen|$n1 after|0" "
BEGIN;
$PID
SELECT 'seen|' || public.pooler_name_seller_1();
$SEEN
COMMIT;
$AFTER"
add_case plain_set_outside "plain SET outside a block (refused)" "sqlstate|25P01 after|0" "
$PID
SET seller_analytics.seller_id = 1;
$STATE
$AFTER"
add_case error_rollback "an error mid-transaction, then ROLLBACK" "seen|$n1 sqlstate|22012 after|0" "
BEGIN;
$PID
SET seller_analytics.seller_id = 1;
$SEEN
SELECT 1 / 0;
$STATE
ROLLBACK;
$AFTER"
add_case statement_timeout "a statement timeout mid-transaction (cancel), then ROLLBACK" "seen|$n1 sqlstate|57014 after|0" "
BEGIN;
$PID
SET seller_analytics.seller_id = 1;
SET LOCAL statement_timeout = '200ms';
$SEEN
SELECT pg_sleep(10);
$STATE
ROLLBACK;
$AFTER"

# a_line OUT: A's lines that a case checks, space-separated
a_lines() {
	grep -E '^(seen|after|sqlstate)\|' "$1" | paste -sd' ' - || true
}
a_pid() {
	sed -n 's/^pid|//p' "$1" | head -1
}

# probe_check NAME A_PID SAME: runs the next client, checks its output;
# SAME=same: it must run on A_PID, else its backend is reported
probe_check() {
	local name=$1 apid=$2 same=$3 out=$work/$1.probe bpid want got
	bouncer -At -f "$work/probe.sql" >"$out" 2>&1 || true
	bpid=$(sed -n 's/^implicit|\([0-9]*\)|.*/\1/p' "$out")
	want="implicit|$bpid|[]|NULL|$zero_counts show| block|$bpid|[]|NULL|$zero_counts"
	got=$(paste -sd' ' "$out")
	check "$name: the next client sees no seller: SHOW '', current_seller_id() NULL, 0 rows in ${#RELS[@]} relations" \
		"$want" "$got"
	if [ "$same" = same ]; then
		check "$name: the next client ran on the same backend" "$apid" "$bpid"
	elif [ -z "$apid" ]; then
		echo "      (the next client ran on backend $bpid)"
	elif [ "$apid" = "$bpid" ]; then
		echo "      (the next client ran on the same backend, $bpid)"
	else
		echo "      (PgBouncer closed the backend; the next client ran on a new one, $apid -> $bpid)"
	fi
}

for name in "${CASES[@]}"; do
	echo "-- ${CASE_TITLE[$name]}"
	printf '%s\n' "${CASE_SQL[$name]}" >"$work/$name.sql"
	bouncer -At -f "$work/$name.sql" >"$work/$name.out" 2>&1 || true
	check "$name: A (${CASE_TITLE[$name]})" "${CASE_WANT[$name]}" "$(a_lines "$work/$name.out")"
	probe_check "$name" "$(a_pid "$work/$name.out")" same
done

# wait_active PATTERN: the application's backend running a query like
# PATTERN, seen from the superuser's direct connection; echoes its pid
wait_active() {
	local i pid
	for ((i = 0; i < 100; i++)); do
		pid=$(psql_su -At -c "SELECT pid FROM pg_stat_activity WHERE usename = '$APP' AND datname = '$DB'
			AND state = 'active' AND query LIKE '$1' LIMIT 1")
		if [ -n "$pid" ]; then
			echo "$pid"
			return 0
		fi
		sleep 0.1
	done
	return 1
}
# wait_line FILE PATTERN: until FILE has a line matching PATTERN
wait_line() {
	local i
	for ((i = 0; i < 100; i++)); do
		if grep -qE "$2" "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}
# wait_gone PID: until the process PID has ended (at most 10 s)
wait_gone() {
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# a query in the middle of A's transaction; $1: what A runs then
in_query_sql() {
	cat <<-SQL
		BEGIN;
		$PID
		SET seller_analytics.seller_id = 1;
		$SEEN
		$1
		$STATE
		ROLLBACK;
		$AFTER
	SQL
}

# cancelled by the superuser (pg_cancel_backend), then ROLLBACK
echo "-- a cancel mid-transaction by pg_cancel_backend(), then ROLLBACK"
in_query_sql 'SELECT pg_sleep(31);' >"$work/cancel_backend.sql"
bouncer_bg "$work/cancel_backend.out" -At -f "$work/cancel_backend.sql"
client=$!
target=$(wait_active 'SELECT pg_sleep(31)%' || true)
check "cancel_backend: A's backend is in its query" "yes" "$([ -n "$target" ] && echo yes || echo no)"
if [ -n "$target" ]; then
	psql_su -At -c "SELECT pg_cancel_backend($target)" >/dev/null
fi
wait_gone "$client" || true
check "cancel_backend: A (cancelled by pg_cancel_backend, then ROLLBACK)" "seen|$n1 sqlstate|57014 after|0" \
	"$(a_lines "$work/cancel_backend.out")"
probe_check cancel_backend "$(a_pid "$work/cancel_backend.out")" same

# cancelled by the client: on SIGINT psql sends a cancel request (through
# PgBouncer, which passes it to the backend) and, running a script, ends it
# there: the client goes away with its transaction aborted and open
echo "-- a cancel mid-transaction by the client (psql's cancel request through PgBouncer), then the client ends"
in_query_sql 'SELECT pg_sleep(32);' >"$work/cancel_client.sql"
bouncer_bg "$work/cancel_client.out" -At -f "$work/cancel_client.sql"
client=$!
target=$(wait_active 'SELECT pg_sleep(32)%' || true)
check "cancel_client: A's backend is in its query" "yes" "$([ -n "$target" ] && echo yes || echo no)"
kill -INT "$client" 2>/dev/null || true
wait_gone "$client" || true
check "cancel_client: A had named seller 1; its query was cancelled at its request" "seen|$n1 cancelled" \
	"$(a_lines "$work/cancel_client.out") $(grep -q 'canceling statement due to user request' "$work/cancel_client.out" && echo cancelled || echo 'not cancelled')"
probe_check cancel_client "$(a_pid "$work/cancel_client.out")" report

# the client dies in the middle of a query of its transaction
echo "-- the client disconnects in the middle of a query of its transaction"
in_query_sql 'SELECT pg_sleep(33);' >"$work/disconnect_query.sql"
bouncer_bg "$work/disconnect_query.out" -At -f "$work/disconnect_query.sql"
client=$!
target=$(wait_active 'SELECT pg_sleep(33)%' || true)
check "disconnect_query: A's backend is in its query" "yes" "$([ -n "$target" ] && echo yes || echo no)"
kill -KILL "$client" 2>/dev/null || true
wait_gone "$client" || true
check "disconnect_query: A had named seller 1" "seen|$n1" "$(a_lines "$work/disconnect_query.out")"
probe_check disconnect_query "$(a_pid "$work/disconnect_query.out")" report

# the client dies while idle in its transaction (psql runs a shell command)
echo "-- the client disconnects while idle in its transaction"
in_query_sql '\! sleep 30' >"$work/disconnect_idle.sql"
bouncer_bg "$work/disconnect_idle.out" -At -f "$work/disconnect_idle.sql"
client=$!
wait_line "$work/disconnect_idle.out" '^seen\|' || true
sleep 0.3
idle=$(psql_su -At -c "SELECT count(*) FROM pg_stat_activity WHERE usename = '$APP' AND datname = '$DB'
	AND state = 'idle in transaction'")
check "disconnect_idle: A's backend is idle in its transaction" "1" "$idle"
children=$(pgrep -P "$client" || true)
kill -KILL "$client" 2>/dev/null || true
wait_gone "$client" || true
for pid in $children; do kill -KILL "$pid" 2>/dev/null || true; done
check "disconnect_idle: A had named seller 1" "seen|$n1" "$(a_lines "$work/disconnect_idle.out")"
probe_check disconnect_idle "$(a_pid "$work/disconnect_idle.out")" report

# --- 4. the documented path ---------------------------------------------------------
# md5 of every readable relation's rows, one "rel=md5/count" per relation;
# FILTER: '' or 'WHERE x.seller_id = 2'
digest_expr() {
	local r
	for r in "${RELS[@]}"; do
		printf "'%s=' || (SELECT coalesce(md5(string_agg(x::text, E'\\\\n' ORDER BY x::text)), '-') || '/' || count(*) FROM seller_analytics.%s x %s)\n" \
			"$r" "$r" "$1"
	done | paste -sd, -
}
got=$(bouncer -At <<SQL 2>&1
BEGIN;
SET LOCAL seller_analytics.seller_id = 2;
SELECT concat_ws(' ', $(digest_expr ''));
COMMIT;
SQL
)
want=$(psql_su -At -c "SELECT concat_ws(' ', $(digest_expr 'WHERE x.seller_id = 2'))")
check "documented path (BEGIN; SET LOCAL ... = 2; ...; COMMIT): exactly seller 2's rows in every relation" "$want" "$got"
check "documented path: seller 2's rows are there (events, seller_daily_metrics, seller_daily_traffic)" "yes" \
	"$(grep -q 'events=[0-9a-f]*/[1-9]' <<<"$got" && grep -q 'seller_daily_metrics=[0-9a-f]*/[1-9]' <<<"$got" &&
		grep -q 'seller_daily_traffic=[0-9a-f]*/[1-9]' <<<"$got" && echo yes || echo no)"
probe_check documented_path "" report

# --- 5. concurrently, on the one server connection -------------------------------------
cat >"$work/leaky_block.sql" <<'SQL'
BEGIN;
SET seller_analytics.seller_id = 1;
SELECT 1 / (count(*) > 0)::int FROM seller_analytics.events;
COMMIT;
SQL
cat >"$work/leaky_outside.sql" <<'SQL'
SELECT set_config('seller_analytics.seller_id', '1', false);
SQL
cat >"$work/none.sql" <<SQL
SELECT 1 / (count(*) = 0)::int FROM seller_analytics.events;
SELECT 1 / (current_setting('seller_analytics.seller_id') = '')::int;
BEGIN;
SELECT 1 / ((SELECT count(*) FROM seller_analytics.seller_daily_metrics) = 0)::int;
SELECT 1 / (seller_analytics.current_seller_id() IS NULL)::int;
COMMIT;
SQL
PGPASSWORD=$PASSWORD "$PGBENCH" -n -h 127.0.0.1 -p "$PORT" -U "$APP" -c 8 -j 2 -T 4 \
	-f "$work/leaky_block.sql" -f "$work/leaky_outside.sql" -f "$work/none.sql" "$DB" >"$work/pgbench.out" 2>&1 || true
processed=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pgbench.out")
aborted=$(grep -c 'aborted' "$work/pgbench.out" || true)
check "concurrently: 8 pgbench clients on the one server connection, leaky ways and no seller interleaved: no client saw a seller it did not name" \
	"0 yes" "$aborted $([ "${processed:-0}" -gt 100 ] && echo yes || echo "no (${processed:-0} transactions)")"
if [ "$aborted" != 0 ]; then
	head -20 "$work/pgbench.out"
fi
echo "      ($processed transactions in 4 s)"

stop_bouncer
echo "pooler: ${#CASES[@]} + 4 ways of naming a seller, the documented path and a concurrent run through PgBouncer (transaction pooling, one server connection), $failures failure(s)"
[ "$failures" -eq 0 ]
