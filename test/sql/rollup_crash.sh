#!/usr/bin/env bash
# Crash test of the events, the capture trigger and the rollups: the server
# is killed with SIGKILL under concurrent load, and after crash recovery
# every acknowledged change is there, nothing else is, and the rollups are
# exact.
#
# Runs its own cluster (initdb in a temporary directory, fsync = on,
# synchronous_commit = on, a Unix socket in that directory only), so the
# server of `make test` is not disturbed; it is removed on exit.  Runs as
# the current user (when started as root, it runs itself as postgres).
#
#   1. creates the extension and 8 sellers in 6 time zones (UTC,
#      Europe/Berlin, America/New_York, Asia/Kolkata, Australia/Lord_Howe,
#      Pacific/Chatham), events around the 2026 DST changes
#   2. three cycles of: 4 clients (one psql session each, ON_ERROR_STOP)
#      writing transactions of multi-row or single-row inserts with replays
#      of stored ids and ids repeated in the batch (ON CONFLICT DO NOTHING),
#      corrections by UPDATE (type, amount, quantity, source, time: other
#      days, orders that become refunds ...) and DELETE of earlier events,
#      savepoints rolled back and released, whole transactions rolled back;
#      a loop calling compact(); a loop changing a seller's time zone back
#      and forth; after a few seconds the postmaster and all its processes
#      get SIGKILL at once, the clients fail, pg_ctl starts the server again
#      (crash recovery, checked in the log)
#   3. after each restart: each client wrote down every transaction it
#      meant to run (its intents) and printed a transaction's number only
#      after COMMIT returned; from that the exact expected events follow:
#      every acknowledged insert, update and delete is there with the values
#      written, the one transaction in doubt (the one after the last
#      acknowledged) is there entirely or not at all, later ones, rolled-back
#      savepoints and transactions and ignored replays left nothing; the
#      live views seller_daily_metrics and seller_daily_traffic equal
#      recomputed_daily_metrics / recomputed_daily_traffic over every column
#      (sketches byte for byte, ratios), verify_rollups() is empty; then
#      compact() runs, leaves nothing pending, and all of it holds again
#   4. a clean restart and the same checks once more
#
# Prints a summary; exits non-zero on any failure.  Environment:
# ROLLUP_CRASH_CYCLES (3), ROLLUP_CRASH_LOAD_SECONDS (2, load before each
# crash), ROLLUP_CRASH_KEEP (set: keep the cluster directory, for a look).
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then
	# initdb and postgres refuse to run as root
	self=$(mktemp /tmp/rollup_crash.XXXXXX.sh)
	cp "$0" "$self"
	chmod 755 "$self"
	chown postgres "$self"
	cd /tmp
	exec runuser -u postgres -- env ROLLUP_CRASH_SELF="$self" PG_CONFIG="${PG_CONFIG:-}" bash "$self" "$@"
fi
if [ -n "${ROLLUP_CRASH_SELF:-}" ]; then
	rm -f "$ROLLUP_CRASH_SELF" || true
fi

PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null || true)
if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/initdb" ]; then
	PG_BINDIR=/usr/lib/postgresql/15/bin
fi
INITDB=$PG_BINDIR/initdb
PG_CTL=$PG_BINDIR/pg_ctl
PSQL=$PG_BINDIR/psql

CYCLES=${ROLLUP_CRASH_CYCLES:-3}
LOAD_SECONDS=${ROLLUP_CRASH_LOAD_SECONDS:-2}
CLIENTS=4
MAX_TXN=20000			# per client and cycle; the crash comes long before

work=$(mktemp -d "${TMPDIR:-/tmp}/rollup_crash.XXXXXX")
data=$work/data
# The socket is in $work and the server listens on no TCP address, so any
# port number is free; it only names the socket.
port=$((20000 + RANDOM % 20000))

# only this cluster, whatever the environment says
unset PGSERVICE PGSERVICEFILE PGOPTIONS PGPASSWORD PGPASSFILE PGSSLMODE PGHOSTADDR
PGUSER=$(id -un)
export PGHOST=$work PGPORT=$port PGUSER PGDATABASE=crash PGCONNECT_TIMEOUT=10

bg_pids=()
cleanup() {
	local pid
	for pid in "${bg_pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	if [ -f "$data/postmaster.pid" ]; then
		"$PG_CTL" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ -n "${ROLLUP_CRASH_KEEP:-}" ]; then
		echo "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

failures=0
last_ok=1
check() {			# check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		echo "ok:   $1"
		last_ok=1
	else
		echo "FAIL: $1: expected '$2', got '$3'"
		failures=$((failures + 1))
		last_ok=0
	fi
}

q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -At "$@"; }

# --- the cluster --------------------------------------------------------------
"$INITDB" -D "$data" -A trust -U "$PGUSER" -E UTF8 --no-locale --no-sync >"$work/initdb.log" 2>&1 ||
	{ cat "$work/initdb.log"; exit 1; }
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$work'
port = $port
fsync = on
synchronous_commit = on
full_page_writes = on
wal_sync_method = fsync
max_connections = 30
shared_buffers = 32MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF
start_server() {
	"$PG_CTL" -D "$data" -l "$work/server.log" -w -t 60 start >"$work/pg_ctl.out" 2>&1 ||
		{ cat "$work/pg_ctl.out" "$work/server.log"; exit 1; }
}
start_server
q -d postgres -c "CREATE DATABASE crash"

q <<'SQL'
CREATE EXTENSION seller_analytics;
INSERT INTO seller_analytics.sellers (seller_id, name, time_zone) VALUES
    (1, 's1', 'UTC'), (2, 's2', 'Europe/Berlin'), (3, 's3', 'America/New_York'),
    (4, 's4', 'Asia/Kolkata'), (5, 's5', 'Australia/Lord_Howe'),
    (6, 's6', 'Pacific/Chatham'), (7, 's7', 'Europe/Berlin'),
    (8, 's8', 'America/New_York');

CREATE SCHEMA crash_check;
-- what the clients meant to do, and which transactions they saw committed
CREATE TABLE crash_check.intent (
    cycle int, client int, kind text, t int, seller_id bigint, event_id text,
    event_type text, amount numeric, source text, epoch bigint, quantity int);
CREATE TABLE crash_check.ack (cycle int, client int, t int);

-- differences between the live views and the recomputation, every column
CREATE FUNCTION crash_check.view_mismatches() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    d0 date;
    d1 date;
    n bigint;
BEGIN
    SELECT min(d), max(d) INTO d0, d1
    FROM (SELECT seller_analytics.local_day(e.occurred_at, s.time_zone) AS d
          FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)
          UNION ALL SELECT day FROM seller_analytics.seller_daily_metrics
          UNION ALL SELECT day FROM seller_analytics.seller_daily_traffic) days;
    IF d0 IS NULL THEN
        RETURN 0;
    END IF;
    CREATE TEMP TABLE vm ON COMMIT DROP AS
    SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
           refunds, refund_amount, seller_analytics.percentile_sketch_send(order_value) AS order_value,
           conversion_rate, avg_order_value
    FROM seller_analytics.seller_daily_metrics;
    CREATE TEMP TABLE rm ON COMMIT DROP AS
    SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue,
           refunds, refund_amount, seller_analytics.percentile_sketch_send(order_value) AS order_value,
           orders::numeric / nullif(sessions, 0)::numeric AS conversion_rate,
           revenue / nullif(orders, 0) AS avg_order_value
    FROM seller_analytics.recomputed_daily_metrics(d0, d1);
    CREATE TEMP TABLE vt ON COMMIT DROP AS
    SELECT seller_id, day, traffic_source, sessions, page_views, orders, revenue,
           conversion_rate, avg_order_value
    FROM seller_analytics.seller_daily_traffic;
    CREATE TEMP TABLE rt ON COMMIT DROP AS
    SELECT seller_id, day, traffic_source, sessions, page_views, orders, revenue,
           orders::numeric / nullif(sessions, 0)::numeric AS conversion_rate,
           revenue / nullif(orders, 0) AS avg_order_value
    FROM seller_analytics.recomputed_daily_traffic(d0, d1);
    SELECT (SELECT count(*) FROM (TABLE vm EXCEPT ALL TABLE rm) a)
         + (SELECT count(*) FROM (TABLE rm EXCEPT ALL TABLE vm) b)
         + (SELECT count(*) FROM (TABLE vt EXCEPT ALL TABLE rt) c)
         + (SELECT count(*) FROM (TABLE rt EXCEPT ALL TABLE vt) d)
         + (SELECT count(*) FROM vm
            WHERE conversion_rate IS DISTINCT FROM orders::numeric / nullif(sessions, 0)
               OR avg_order_value IS DISTINCT FROM revenue / nullif(orders, 0))
         + (SELECT count(*) FROM vt
            WHERE conversion_rate IS DISTINCT FROM orders::numeric / nullif(sessions, 0)
               OR avg_order_value IS DISTINCT FROM revenue / nullif(orders, 0))
    INTO n;
    DROP TABLE vm, rm, vt, rt;
    RETURN n;
END
$$;

CREATE FUNCTION crash_check.verify_rows() RETURNS bigint
LANGUAGE sql AS $$
    SELECT count(*)
    FROM (SELECT min(seller_analytics.local_day(e.occurred_at, s.time_zone)) AS d0,
                 max(seller_analytics.local_day(e.occurred_at, s.time_zone)) AS d1
          FROM seller_analytics.events e JOIN seller_analytics.sellers s USING (seller_id)) r,
         seller_analytics.verify_rollups(r.d0 - 3, r.d1 + 3) v
$$;

-- The events the intents and acknowledgements imply, against the stored
-- ones.  A client's transaction t committed if t <= its last acknowledged
-- one, or t is the one after (in doubt: the crash came between COMMIT and
-- the acknowledgement) and its inserts are there.
CREATE INDEX ON crash_check.intent (cycle, client, t);
CREATE VIEW crash_check.acked AS
SELECT c.cycle, c.client, coalesce(max(a.t), 0) AS acked
FROM (SELECT DISTINCT cycle, client FROM crash_check.intent) c
LEFT JOIN crash_check.ack a USING (cycle, client)
GROUP BY c.cycle, c.client;

CREATE VIEW crash_check.in_doubt AS
SELECT a.cycle, a.client, a.acked + 1 AS t, count(*) AS inserts,
       count(e.event_id) AS present
FROM crash_check.acked a
JOIN crash_check.intent i ON i.cycle = a.cycle AND i.client = a.client
                         AND i.t = a.acked + 1 AND i.kind = 'I'
LEFT JOIN seller_analytics.events e ON e.seller_id = i.seller_id AND e.event_id = i.event_id
GROUP BY a.cycle, a.client, a.acked;

-- the expected events, in table crash_check.expected (tables and ANALYZE:
-- the planner knows nothing of the rows just loaded)
CREATE FUNCTION crash_check.refresh_expected() RETURNS void
SET client_min_messages = warning
LANGUAGE plpgsql AS $$
BEGIN
    ANALYZE crash_check.intent;
    ANALYZE crash_check.ack;
    DROP TABLE IF EXISTS crash_check.committed, crash_check.expected;
    CREATE TABLE crash_check.committed AS
    SELECT i.*
    FROM crash_check.intent i
    JOIN crash_check.acked a USING (cycle, client)
    LEFT JOIN crash_check.in_doubt d ON d.cycle = i.cycle AND d.client = i.client AND d.t = i.t
    WHERE i.t <= a.acked OR d.present = d.inserts;
    ANALYZE crash_check.committed;
    CREATE TABLE crash_check.expected AS
    SELECT i.seller_id, i.event_id,
           CASE WHEN u.t IS NULL THEN i.event_type ELSE u.event_type END AS event_type,
           CASE WHEN u.t IS NULL THEN i.amount ELSE u.amount END AS amount,
           CASE WHEN u.t IS NULL THEN i.source ELSE u.source END AS source,
           CASE WHEN u.t IS NULL THEN i.epoch ELSE u.epoch END AS epoch,
           CASE WHEN u.t IS NULL THEN i.quantity ELSE u.quantity END AS quantity
    FROM crash_check.committed i
    LEFT JOIN crash_check.committed u
           ON u.kind = 'U' AND u.seller_id = i.seller_id AND u.event_id = i.event_id
    WHERE i.kind = 'I'
      AND NOT EXISTS (SELECT 1 FROM crash_check.committed d
                      WHERE d.kind = 'D' AND d.seller_id = i.seller_id
                        AND d.event_id = i.event_id);
    ANALYZE crash_check.expected;
END
$$;

CREATE VIEW crash_check.stored AS
SELECT seller_id, event_id, event_type, amount, traffic_source AS source,
       extract(epoch FROM occurred_at)::bigint AS epoch, quantity
FROM seller_analytics.events;
SQL

# --- the load ---------------------------------------------------------------------
# instants (epoch seconds, UTC) near DST changes: 2026-03-08 07:00, 03-29
# 01:00, 04-04 14:30, 10-03 15:30, 10-25 01:00, 11-01 06:00
ANCHORS=(1772953200 1774746000 1775313000 1791041400 1792890000 1793512800)
TYPES=(session_start session_start session_start page_view page_view page_view
	add_to_cart order order refund)
SOURCES=("" search ads social email unknown)

# rand_event: sets typ amt src ep qty (amt, src, qty may be empty: NULL)
# and their SQL literals amt_sql src_sql qty_sql (no subshells: speed)
rand_event() {
	typ=${TYPES[RANDOM % 10]}
	src=${SOURCES[RANDOM % 6]}
	ep=$((ANCHORS[RANDOM % 6] + (RANDOM % 193 - 96) * 900))
	if [ $((RANDOM % 4)) -eq 0 ]; then
		ep=$((ep + RANDOM % 900))
	fi
	amt='' qty=
	case $typ in
		order | refund)
			printf -v amt '%d.%02d' $((RANDOM % 3000)) $((RANDOM % 100))
			if [ $((RANDOM % 3)) -ne 0 ]; then qty=$((RANDOM % 4)); fi
			;;
	esac
	literals
}
literals() {
	amt_sql=${amt:-NULL}
	qty_sql=${qty:-NULL}
	src_sql=NULL
	if [ -n "$src" ]; then src_sql="'$src'"; fi
}
row() {				# row SELLER ID: sets r, the VALUES row of the rand_event values
	r="($1, '$2', '$typ', to_timestamp($ep), $amt_sql, $src_sql, $qty_sql)"
}

# gen_client CYCLE CLIENT INTENTS: the SQL of one client on stdout, what it
# means to do in INTENTS ("cycle client kind t seller id type amount source
# epoch quantity"; kind I insert, U update, D delete, X insert that is
# rolled back)
gen_client() {
	local cy=$1 c=$2 intents=$3 t j n sid id rb ins kind sql tgt
	local -a seller_e1 seller_e2 rolled_back
	for ((t = 1; t <= MAX_TXN; t++)); do
		rb=0
		if [ $((RANDOM % 25)) -eq 0 ]; then rb=1; fi
		kind=I
		if [ "$rb" = 1 ]; then kind=X; fi
		rolled_back[t]=$rb
		n=$((1 + RANDOM % 6))
		sql="BEGIN;"
		ins=()
		for ((j = 1; j <= n; j++)); do
			sid=$((1 + RANDOM % 8))
			id="k${cy}c${c}t${t}e${j}"
			[ "$j" -eq 1 ] && seller_e1[t]=$sid
			[ "$j" -eq 2 ] && seller_e2[t]=$sid
			rand_event
			row "$sid" "$id"
			ins+=("$r")
			echo "$cy $c $kind $t $sid $id $typ $amt $src $ep $qty" >>"$intents"
		done
		[ "$n" -lt 2 ] && seller_e2[t]=0
		# the first event again with another payload: ignored
		if [ $((RANDOM % 3)) -eq 0 ]; then
			rand_event
			row "${seller_e1[t]}" "k${cy}c${c}t${t}e1"
			ins+=("$r")
		fi
		# a replay of the previous transaction's first event: ignored
		if [ "$t" -gt 1 ] && [ "${rolled_back[t - 1]}" = 0 ] && [ $((RANDOM % 2)) -eq 0 ]; then
			rand_event
			row "${seller_e1[t - 1]}" "k${cy}c${c}t$((t - 1))e1"
			ins+=("$r")
		fi
		if [ $((RANDOM % 4)) -eq 0 ]; then
			# one statement per row
			for j in "${ins[@]}"; do
				sql+=" INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, amount, traffic_source, quantity) VALUES $j ON CONFLICT DO NOTHING;"
			done
		else
			local IFS=,
			sql+=" INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, amount, traffic_source, quantity) VALUES ${ins[*]} ON CONFLICT DO NOTHING;"
			unset IFS
		fi
		# a correction of the first event of transaction t-5: every column
		if [ "$t" -gt 5 ] && [ $((RANDOM % 3)) -eq 0 ]; then
			tgt="k${cy}c${c}t$((t - 5))e1"
			sid=${seller_e1[t - 5]}
			rand_event
			if [ -z "$amt" ] && [ $((RANDOM % 2)) -eq 0 ]; then
				amt=1.50
				literals
			fi
			sql+=" UPDATE seller_analytics.events SET event_type = '$typ', occurred_at = to_timestamp($ep), amount = $amt_sql, traffic_source = $src_sql, quantity = $qty_sql WHERE seller_id = $sid AND event_id = '$tgt';"
			[ "$rb" = 0 ] && echo "$cy $c U $t $sid $tgt $typ $amt $src $ep $qty" >>"$intents"
		fi
		# a deletion of the second event of transaction t-7
		if [ "$t" -gt 7 ] && [ "${seller_e2[t - 7]}" != 0 ] && [ $((RANDOM % 4)) -eq 0 ]; then
			tgt="k${cy}c${c}t$((t - 7))e2"
			sid=${seller_e2[t - 7]}
			sql+=" DELETE FROM seller_analytics.events WHERE seller_id = $sid AND event_id = '$tgt';"
			[ "$rb" = 0 ] && echo "$cy $c D $t $sid $tgt     " >>"$intents"
		fi
		# a savepoint: rolled back, or released
		if [ $((RANDOM % 5)) -eq 0 ]; then
			sid=$((1 + RANDOM % 8))
			id="k${cy}c${c}t${t}s1"
			rand_event
			row "$sid" "$id"
			sql+=" SAVEPOINT s; INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, amount, traffic_source, quantity) VALUES $r;"
			if [ $((RANDOM % 2)) -eq 0 ]; then
				sql+=" ROLLBACK TO SAVEPOINT s;"
				echo "$cy $c X $t $sid $id $typ $amt $src $ep $qty" >>"$intents"
			else
				sql+=" RELEASE SAVEPOINT s;"
				echo "$cy $c $kind $t $sid $id $typ $amt $src $ep $qty" >>"$intents"
			fi
		fi
		# a pause in the open transaction: the crash often comes there, and
		# the load stays small enough for quick checks
		sql+=" DO \$\$BEGIN PERFORM pg_sleep(0.008); END\$\$;"
		if [ "$rb" = 1 ]; then
			sql+=" ROLLBACK;"
		else
			sql+=" COMMIT;"
		fi
		# printed only once COMMIT (or ROLLBACK) has returned
		printf '%s\n\\echo %s %s %s\n' "$sql" "$cy" "$c" "$t"
	done
}

errors_other_than_crash() {	# the lines of a client's stderr not caused by the crash
	grep -v -E 'server closed the connection unexpectedly|This probably means the server terminated abnormally|before or while processing the request|connection to server .* failed|connection to server was lost|could not send data to server|no connection to the server|terminating connection|SSL SYSCALL|could not receive data from server|FATAL: +the database system is|Connection refused|No such file or directory|Is the server running|^\s*$|^psql:.*: (ERROR|FATAL): +(terminating|the database system)|^psql:<stdin>:[0-9]+: (server closed|could not|no connection|connection to server)' "$1" || true
}

pm_pid() { head -n 1 "$data/postmaster.pid"; }
children_of() {			# pids whose parent is $PM (no forks: quick)
	local p line rest
	for p in /proc/[0-9]*; do
		read -r line 2>/dev/null <"$p/stat" || continue
		rest=${line##*) }
		# shellcheck disable=SC2086  # the fields: state ppid ...
		set -- $rest
		if [ "${2:-}" = "$PM" ]; then
			echo "${p#/proc/}"
		fi
	done
}
running() {			# is process $1 there, and not a zombie?
	local line rest
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	rest=${line##*) }
	[ "${rest:0:1}" != Z ]
}

total_acked=0
show() {			# show QUERY: the first rows, after a failure
	q -c "$1 LIMIT 5" | sed 's/^/      /'
}
run_checks() {			# run_checks LABEL
	local label=$1 unexpected missing
	q -c "SELECT crash_check.refresh_expected()" >/dev/null
	unexpected="SELECT * FROM crash_check.stored EXCEPT SELECT * FROM crash_check.expected"
	missing="SELECT * FROM crash_check.expected EXCEPT SELECT * FROM crash_check.stored"
	check "$label: no event that no committed transaction wrote (or with other values)" "0" \
		"$(q -c "SELECT count(*) FROM ($unexpected) x")"
	[ "$last_ok" = 1 ] || show "$unexpected"
	check "$label: every acknowledged insert, update and delete there" "0" \
		"$(q -c "SELECT count(*) FROM ($missing) x")"
	[ "$last_ok" = 1 ] || show "$missing"
	check "$label: the transaction in doubt is there entirely or not at all" "0" \
		"$(q -c "SELECT count(*) FROM crash_check.in_doubt WHERE present NOT IN (0, inserts)")"
	check "$label: live views = recomputation from raw events" "0" \
		"$(q -c "SELECT crash_check.view_mismatches()")"
	check "$label: verify_rollups() empty" "0" "$(q -c "SELECT crash_check.verify_rows()")"
	q -c "SELECT seller_analytics.compact()" >/dev/null
	check "$label: compact() leaves nothing pending" "0|0" \
		"$(q -c "SELECT (SELECT count(*) FROM seller_analytics.pending_deltas), (SELECT count(*) FROM seller_analytics.recompute_marks)")"
	check "$label, compacted: live views = recomputation from raw events" "0" \
		"$(q -c "SELECT crash_check.view_mismatches()")"
	check "$label, compacted: verify_rollups() empty" "0" "$(q -c "SELECT crash_check.verify_rows()")"
}

started=$(date +%s)
for ((cy = 1; cy <= CYCLES; cy++)); do
	bg_pids=()
	for ((c = 1; c <= CLIENTS; c++)); do
		: >"$work/intent.$cy.$c"
		(gen_client "$cy" "$c" "$work/intent.$cy.$c" |
			timeout 120 "$PSQL" -X -q -v ON_ERROR_STOP=1 -At >"$work/ack.$cy.$c" 2>"$work/err.$cy.$c") &
		bg_pids+=($!)
	done
	(while :; do
		echo "SELECT seller_analytics.compact();"
		echo "SELECT pg_sleep(0.05);"
	done | timeout 120 "$PSQL" -X -q -v ON_ERROR_STOP=1 -At >/dev/null 2>"$work/err.$cy.compact") &
	bg_pids+=($!)
	# seller 8 changes its time zone back and forth: its days are recomputed
	(while :; do
		echo "UPDATE seller_analytics.sellers SET time_zone = CASE time_zone WHEN 'America/New_York' THEN 'Asia/Kolkata' ELSE 'America/New_York' END WHERE seller_id = 8;"
		echo "SELECT pg_sleep(0.4);"
	done | timeout 120 "$PSQL" -X -q -v ON_ERROR_STOP=1 -At >/dev/null 2>"$work/err.$cy.tz") &
	bg_pids+=($!)

	sleep "$LOAD_SECONDS"
	# the crash: the postmaster and every process of it at once (the
	# postmaster stopped first, so that it starts no new one meanwhile)
	PM=$(pm_pid)
	kill -STOP "$PM"
	for _ in $(seq 100); do
		read -r line 2>/dev/null <"/proc/$PM/stat" || break
		rest=${line##*) }
		[ "${rest:0:1}" = T ] && break
		sleep 0.01
	done
	kids=$(children_of)
	before=$(cat "$work"/ack.$cy.* | wc -l)
	# the children first: the stopped postmaster cannot notice, and none of
	# them sees the postmaster gone before it dies itself
	# shellcheck disable=SC2086
	kill -9 $kids "$PM" 2>/dev/null || true
	# dead at once; gone (reaped by init, so that the new postmaster does
	# not take the old one's pid for a running server) a little later
	for _ in $(seq 200); do
		gone=1
		for pid in $PM $kids; do
			if kill -0 "$pid" 2>/dev/null; then gone=0; fi
		done
		[ "$gone" = 1 ] && break
		sleep 0.05
	done
	alive=0
	for pid in $PM $kids; do
		if running "$pid"; then alive=$((alive + 1)); fi
	done
	check "cycle $cy: server and its $(echo "$kids" | wc -w) processes killed" "0" "$alive"
	for pid in "${bg_pids[@]}"; do
		wait "$pid" || true
	done
	bg_pids=()
	other=""
	for f in "$work/err.$cy".*; do
		other+=$(errors_other_than_crash "$f")
	done
	check "cycle $cy: clients failed only because of the crash" "" "$other"

	start_server
	check "cycle $cy: crash recovery ran (the log says so for the ${cy}th time)" "$cy" \
		"$(grep -c 'database system was not properly shut down; automatic recovery in progress' "$work/server.log" || true)"

	# what the clients meant to do, and what they saw committed
	cat "$work"/intent.$cy.* >"$work/intents"
	cat "$work"/ack.$cy.* >"$work/acks"
	q -c "\\copy crash_check.intent FROM '$work/intents' WITH (FORMAT csv, DELIMITER ' ')" \
		-c "\\copy crash_check.ack FROM '$work/acks' WITH (FORMAT csv, DELIMITER ' ')"
	acked=$(q -c "SELECT sum(acked) FROM crash_check.acked WHERE cycle = $cy")
	total_acked=$((total_acked + acked))
	echo "cycle $cy: $acked transactions acknowledged ($before when the server was killed), $(q -c "SELECT count(*) FROM crash_check.in_doubt WHERE cycle = $cy AND present > 0") in doubt found committed"
	check "cycle $cy: the clients got work done" "1" "$([ "$acked" -ge 20 ] && echo 1 || echo "$acked")"
	run_checks "cycle $cy"
done

# a clean restart
"$PG_CTL" -D "$data" -m fast -w stop >/dev/null
start_server
run_checks "clean restart"

read -r events metric_rows traffic_rows < <(q -F ' ' -c "SELECT (SELECT count(*) FROM seller_analytics.events), (SELECT count(*) FROM seller_analytics.daily_metrics), (SELECT count(*) FROM seller_analytics.daily_traffic)")
check "the rollups are not empty" "1" "$([ "$metric_rows" -gt 0 ] && [ "$traffic_rows" -gt 0 ] && echo 1 || echo 0)"
echo "rollup_crash: $CYCLES crashes, $total_acked transactions acknowledged, $events events, $metric_rows metric rows, $traffic_rows traffic rows, $(($(date +%s) - started)) s, $failures failure(s)"
[ "$failures" -eq 0 ]
