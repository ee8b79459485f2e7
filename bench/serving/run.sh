#!/usr/bin/env bash
# Serving benchmark: the seller dashboard at scale, through PgBouncer in
# transaction mode, while events stream in and compaction runs;
# `make bench-serving` runs it.
#
# Installs the Debian packages it needs when they are missing (pgbouncer
# among them), builds and installs the extension, then in a throw-away
# cluster (pg_virtualenv, with the settings in bench/lib.sh,
# max_connections raised for the seller logins, and seller_analytics in
# shared_preload_libraries):
#
# Data.  SERV_SELLERS sellers x SERV_DAYS days x SERV_EVENTS events per
# seller-day, loaded through the capture trigger a day per transaction and
# compacted (bench.day_events and dash_load of bench/lib.sh), then VACUUM
# (ANALYZE).
#
# Part "read" (runnable alone: SERVING_PART=read).  All compacted, nothing
# else running.  The dashboard's three queries (daily metrics, traffic by
# source, order-value p50/p90 of the 90 days; dash_rollup_sql of
# bench/lib.sh) from the live views seller_daily_metrics and
# seller_daily_traffic, against the same queries on the compacted tables
# daily_metrics and daily_traffic directly, both as the application role
# (BEGIN; SET LOCAL seller_analytics.seller_id = random seller; queries;
# COMMIT), pgbench -M simple, SERV_READ_CLIENTS direct connections, unpaced,
# SERV_READ_ROUNDS rounds of SERV_READ_SECONDS each, alternating; median
# dashboards/s and the ratio tables / live (target: at most 1.5x).  Then
# one daily-metrics query sent as a BI tool sends it (simple protocol, no
# prepared statement), EXPLAIN ANALYZE from the live view and from the
# table, SERV_EXPLAIN_N times each, interleaved: the medians of Planning
# Time, Execution Time and their sum, and the ratio live / table of the sum
# (target: at most 2x).  The two answers must be equal.
#
# Part "serve".  PgBouncer (pool_mode = transaction, SERV_POOL server
# connections) in front of the server.  In the background throughout: a
# pgbench of the ingest role inserting SERV_INGEST_BATCH events of a random
# seller per transaction into events (INSERT ... ON CONFLICT DO NOTHING,
# through the capture trigger) at SERV_INGEST_RATE transactions/s, and one
# calling compact() every SERV_COMPACT_INTERVAL seconds.  The dashboard
# (BEGIN; SET LOCAL seller_analytics.seller_id = random seller; the three
# queries; my_benchmarks() where that function exists; COMMIT), pgbench
# -M simple paced at SERV_RATE dashboards/s in all (-R), SERV_SECONDS per
# run, by two contenders alternating over SERV_ROUNDS rounds:
#   pooled   SERV_CLIENTS client connections through PgBouncer
#   direct   SERV_DIRECT_CLIENTS direct connections, no pooler
# SERV_RATE defaults to 60 % of the dashboards/s that SERV_DIRECT_CLIENTS
# direct connections sustain unpaced under the same background load
# (measured first, for SERV_PROBE_SECONDS).  Figures: p50 and p99 latency
# (pgbench's per-transaction log; with -R, latency counts from the
# scheduled start), dashboards/s and events/s sustained, errors (pgbench's
# failed transactions and aborted clients of every pgbench, and the server
# log's ERRORs: must be 0).
#
# Part "bi".  SERV_BI_CLIENTS sellers' own login roles (mapped with
# assign_seller_role) connected directly, one pgbench process per login
# (pgbench logs in as one user), each one client paced at
# SERV_BI_RATE / SERV_BI_CLIENTS: the three queries (and my_benchmarks())
# with no seller setting, row-level security picks the rows; the same
# background load.  Same figures.
#
# The report goes to bench/results/serving-YYYY-MM-DD.md; a summary with
# PASS/FAIL per target is printed at the end.  About 6 minutes on 2 cores
# with the defaults.
#
# Environment (defaults in parentheses):
#   SERV_SELLERS (2000)  SERV_DAYS (90)  SERV_EVENTS (10)
#   SERV_READ_CLIENTS (16)  SERV_READ_SECONDS (10)  SERV_READ_ROUNDS (3)
#   SERV_EXPLAIN_N (100)
#   SERV_CLIENTS (2000)  SERV_POOL (32)  SERV_DIRECT_CLIENTS (16)
#   SERV_RATE (60 % of the measured capacity)  SERV_PROBE_SECONDS (10)
#   SERV_SECONDS (30)  SERV_ROUNDS (2)
#   SERV_INGEST_RATE (50, transactions/s)  SERV_INGEST_BATCH (10, events each)
#   SERV_COMPACT_INTERVAL (5, seconds)
#   SERV_BI_CLIENTS (200)  SERV_BI_RATE (SERV_RATE)
#   SERVING_PART ("read serve bi": which parts to run; the data is loaded
#                 for any)
#   PG_CONFIG, JOBS as for bench/lib.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

BENCH_SETTINGS="SERV_SELLERS SERV_DAYS SERV_EVENTS SERV_READ_CLIENTS SERV_READ_SECONDS
	SERV_READ_ROUNDS SERV_EXPLAIN_N SERV_CLIENTS SERV_POOL SERV_DIRECT_CLIENTS SERV_RATE
	SERV_PROBE_SECONDS SERV_SECONDS SERV_ROUNDS SERV_INGEST_RATE SERV_INGEST_BATCH
	SERV_COMPACT_INTERVAL SERV_BI_CLIENTS SERV_BI_RATE SERVING_PART"
# the command as run, for the report
if [ "${1:-}" != "--in-virtualenv" ]; then
	bench_command bench-serving
fi

SERV_SELLERS=${SERV_SELLERS:-2000}
SERV_DAYS=${SERV_DAYS:-90}
SERV_EVENTS=${SERV_EVENTS:-10}
SERV_READ_CLIENTS=${SERV_READ_CLIENTS:-16}
SERV_READ_SECONDS=${SERV_READ_SECONDS:-10}
SERV_READ_ROUNDS=${SERV_READ_ROUNDS:-3}
SERV_EXPLAIN_N=${SERV_EXPLAIN_N:-100}
SERV_CLIENTS=${SERV_CLIENTS:-2000}
SERV_POOL=${SERV_POOL:-32}
SERV_DIRECT_CLIENTS=${SERV_DIRECT_CLIENTS:-16}
SERV_RATE=${SERV_RATE:-}
SERV_PROBE_SECONDS=${SERV_PROBE_SECONDS:-10}
SERV_SECONDS=${SERV_SECONDS:-30}
SERV_ROUNDS=${SERV_ROUNDS:-2}
SERV_INGEST_RATE=${SERV_INGEST_RATE:-50}
SERV_INGEST_BATCH=${SERV_INGEST_BATCH:-10}
SERV_COMPACT_INTERVAL=${SERV_COMPACT_INTERVAL:-5}
SERV_BI_CLIENTS=${SERV_BI_CLIENTS:-200}
SERV_BI_RATE=${SERV_BI_RATE:-}
SERVING_PART=${SERVING_PART:-read serve bi}
# a login per seller: no more logins than sellers
if [ "$SERV_BI_CLIENTS" -gt "$SERV_SELLERS" ]; then SERV_BI_CLIENTS=$SERV_SELLERS; fi
export SERV_SELLERS SERV_DAYS SERV_EVENTS SERV_READ_CLIENTS SERV_READ_SECONDS SERV_READ_ROUNDS \
	SERV_EXPLAIN_N SERV_CLIENTS SERV_POOL SERV_DIRECT_CLIENTS SERV_RATE SERV_PROBE_SECONDS \
	SERV_SECONDS SERV_ROUNDS SERV_INGEST_RATE SERV_INGEST_BATCH SERV_COMPACT_INTERVAL \
	SERV_BI_CLIENTS SERV_BI_RATE SERVING_PART

# the seller logins, the pool, the direct clients and the jobs connect at
# once; the library preloaded, as doc/security.md says to install it (a
# seller named before the library is loaded in a session is not honoured,
# so without it a new connection's first transaction would see no rows)
BENCH_PG_OPTS+=("max_connections=$((SERV_BI_CLIENTS + SERV_POOL + SERV_READ_CLIENTS + SERV_DIRECT_CLIENTS + 50))"
	"shared_preload_libraries=seller_analytics")

DASH_D0='2026-08-01'
# seconds of each seller login's run left out of its latencies (part bi),
# and of each paced run of part serve
BI_SKIP=5
SERVE_SKIP=3

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: run.sh --in-virtualenv REPORT_FILE

has_part() {
	[[ " $SERVING_PART " == *" $1 "* ]]
}

# as ROLE CMD...: CMD as the login role ROLE (every role of this benchmark
# has the password BENCH_PASSWORD)
as() {
	local role=$1
	shift
	PGUSER=$role PGPASSWORD=$BENCH_PASSWORD "$@"
}

# the dashboard's queries on the tables daily_metrics and daily_traffic
# directly: the live views' columns, computed the way the views compute them
dash_table_sql() {
	local d0=$1 d1=$2
	cat <<-EOF
		SELECT day, sessions, page_views, add_to_carts, orders, units, revenue, refunds, refund_amount, orders::numeric / nullif(sessions, 0)::numeric AS conversion_rate, revenue / nullif(orders, 0)::numeric AS avg_order_value FROM seller_analytics.daily_metrics WHERE day BETWEEN DATE '$d0' AND DATE '$d1' ORDER BY day;
		SELECT traffic_source, sum(sessions) AS sessions, sum(page_views) AS page_views, sum(orders) AS orders, sum(revenue) AS revenue, sum(orders) / nullif(sum(sessions), 0)::numeric AS conversion_rate FROM seller_analytics.daily_traffic WHERE day BETWEEN DATE '$d0' AND DATE '$d1' GROUP BY traffic_source ORDER BY traffic_source;
		SELECT seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), ARRAY[0.5, 0.9]) FROM seller_analytics.daily_metrics WHERE day BETWEEN DATE '$d0' AND DATE '$d1';
	EOF
}

# app_script KIND: a pgbench script of the application: a random seller
# named with SET LOCAL, then the queries of KIND (live or table) and, for
# the live dashboard, my_benchmarks() where it exists
app_script() {
	echo "\\set sid random(1, $SERV_SELLERS)"
	echo 'BEGIN;'
	echo 'SET LOCAL seller_analytics.seller_id = :sid;'
	if [ "$1" = table ]; then
		dash_table_sql "$DASH_D0" "$DASH_D1"
	else
		dash_rollup_sql "$DASH_D0" "$DASH_D1" ''
		if [ -n "$MY_BENCHMARKS" ]; then echo "$MY_BENCHMARKS"; fi
	fi
	echo 'COMMIT;'
}

# pgbs OUT ARGS...: pgbench on database bench, stdout and stderr to OUT;
# never fails.  (Not bench/lib.sh's pgb, whose "-d bench" pgbench reads as
# --debug: a line per statement sent and received, which 2,000 clients
# would pay for.)
pgbs() {
	local out=$1
	shift
	pgbench -n "$@" bench >"$out" 2>&1 || true
}

# "p50|p90|p99|mean|n" (ms) of the per-transaction logs PREFIX.*, but for
# the first SERVE_SKIP s: pgbench starts its rate schedule before its
# clients have connected, and catches up after (2,000 connections take a
# moment), which would put the connecting time into the first latencies
log_percentiles() {
	{ cat "$1".* 2>/dev/null || true; } | awk -v skip="$SERVE_SKIP" '
		$5 ~ /^[0-9]+$/ { n++; t[n] = $5 + $6 / 1e6; l[n] = $3; if (n == 1 || t[n] < t0) t0 = t[n] }
		END { for (i = 1; i <= n; i++) if (t[i] >= t0 + skip) print l[i] }' | percentiles
}

# --- PgBouncer ---------------------------------------------------------------------

BOUNCER_DIR=""
BOUNCER_PORT=""

# as_postgres CMD...: CMD as the server's user when run as root (PgBouncer
# refuses to run as root)
as_postgres() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# bouncer_start: PgBouncer in transaction mode on a free loopback port in
# front of the server, SERV_POOL server connections; clients authenticate
# with md5 (cheap enough to open thousands of connections at once; the
# server side is scram-sha-256)
bouncer_start() {
	local try i
	BOUNCER_DIR=$WORK/pgbouncer
	mkdir -p "$BOUNCER_DIR"
	printf '"%s" "%s"\n' bench_app "$BENCH_PASSWORD" >"$BOUNCER_DIR/userlist.txt"
	chmod 600 "$BOUNCER_DIR/userlist.txt"
	if [ "$(id -u)" -eq 0 ]; then chown -R postgres "$BOUNCER_DIR"; fi
	for ((try = 0; try < 8; try++)); do
		BOUNCER_PORT=$((20000 + (RANDOM * 7 + $$ + try * 101) % 30000))
		if [ -n "$(ss -Htln "sport = :$BOUNCER_PORT" 2>/dev/null)" ]; then continue; fi
		cat >"$BOUNCER_DIR/pgbouncer.ini" <<-INI
			[databases]
			bench = host=$SERVER_HOST port=$PGPORT dbname=bench

			[pgbouncer]
			listen_addr = 127.0.0.1
			listen_port = $BOUNCER_PORT
			unix_socket_dir =
			auth_type = md5
			auth_file = $BOUNCER_DIR/userlist.txt
			pool_mode = transaction
			default_pool_size = $SERV_POOL
			max_db_connections = $SERV_POOL
			max_client_conn = $((SERV_CLIENTS + 100))
			server_reset_query =
			ignore_startup_parameters = extra_float_digits
			logfile = $BOUNCER_DIR/pgbouncer.log
			pidfile = $BOUNCER_DIR/pgbouncer.pid
			log_connections = 0
			log_disconnections = 0
		INI
		if [ "$(id -u)" -eq 0 ]; then chown postgres "$BOUNCER_DIR/pgbouncer.ini"; fi
		rm -f "$BOUNCER_DIR/pgbouncer.pid"
		as_postgres bash -c "ulimit -n $FDS 2>/dev/null || ulimit -n \$(ulimit -Hn); exec pgbouncer -d '$BOUNCER_DIR/pgbouncer.ini'" \
			>>"$WORK/pgbouncer.out" 2>&1 || true
		for ((i = 0; i < 50; i++)); do
			if as bench_app psql -X -q -h 127.0.0.1 -p "$BOUNCER_PORT" -d bench -At -c 'SELECT 1' >/dev/null 2>&1; then
				return 0
			fi
			sleep 0.1
		done
		bouncer_stop
	done
	echo "error: PgBouncer did not start" >&2
	cat "$WORK/pgbouncer.out" "$BOUNCER_DIR/pgbouncer.log" >&2 2>/dev/null || true
	return 1
}

bouncer_stop() {
	local pid i
	if [ -n "$BOUNCER_DIR" ] && [ -s "$BOUNCER_DIR/pgbouncer.pid" ]; then
		pid=$(cat "$BOUNCER_DIR/pgbouncer.pid")
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
		rm -f "$BOUNCER_DIR/pgbouncer.pid"
	fi
}

# --- background load: ingest and compaction -----------------------------------------

BG_PIDS=()

# background_start SECONDS TAG: the ingest pgbench and the compaction loop
# for SECONDS, their outputs to $WORK/ingest_TAG.out and compact_TAG.out
background_start() {
	local seconds=$1 tag=$2
	as bench_ingest pgbs "$WORK/ingest_$tag.out" -M simple -c 2 -j 1 -R "$SERV_INGEST_RATE" -T "$seconds" \
		-f "$WORK/ingest.sql" &
	BG_PIDS+=($!)
	pgbs "$WORK/compact_$tag.out" -c 1 -j 1 -T "$seconds" -f "$WORK/compact.sql" &
	BG_PIDS+=($!)
}

background_wait() {
	local pid
	for pid in "${BG_PIDS[@]}"; do
		wait "$pid" || true
	done
	BG_PIDS=()
}

# "events/s|failed|aborted|compactions|compaction failed/aborted" of a run's background
background_figures() {
	local tag=$1 ing cmp
	ing=$(pgb_parse "$WORK/ingest_$tag.out")
	cmp=$(pgb_parse "$WORK/compact_$tag.out")
	echo "$(awk -v t="$(cut -d'|' -f1 <<<"$ing")" -v b="$SERV_INGEST_BATCH" 'BEGIN { printf "%.0f", t * b }')|$(cut -d'|' -f3 <<<"$ing")|$(cut -d'|' -f4 <<<"$ing")|$(cut -d'|' -f2 <<<"$cmp")|$(($(cut -d'|' -f3 <<<"$cmp") + $(cut -d'|' -f4 <<<"$cmp")))"
}

# --- part read: live views against the tables ----------------------------------------

read_part() {
	local r k who list tps s ans_live ans_table ans_su equal=0 checked=0
	bench_section "read: answers, live views against the tables"
	app_script live | sed '/my_benchmarks/d' >"$WORK/read_live.sql"
	app_script table >"$WORK/read_table.sql"
	for s in 1 $((SERV_SELLERS / 2)) "$SERV_SELLERS"; do
		checked=$((checked + 1))
		ans_live=$({ echo 'BEGIN;'; echo "SET LOCAL seller_analytics.seller_id = $s;"; dash_rollup_sql "$DASH_D0" "$DASH_D1" ''; echo 'COMMIT;'; } |
			as bench_app psql_b -At)
		ans_table=$({ echo 'BEGIN;'; echo "SET LOCAL seller_analytics.seller_id = $s;"; dash_table_sql "$DASH_D0" "$DASH_D1"; echo 'COMMIT;'; } |
			as bench_app psql_b -At)
		ans_su=$(dash_rollup_sql "$DASH_D0" "$DASH_D1" "seller_id = $s AND " | psql_b -At)
		if [ -n "$ans_live" ] && [ "$ans_live" = "$ans_table" ] && [ "$ans_live" = "$ans_su" ]; then
			equal=$((equal + 1))
		fi
	done
	echo "$equal|$checked" >"$WORK/read_answers"

	list=(live table)
	for ((r = 1; r <= SERV_READ_ROUNDS; r++)); do
		bench_section "read: round $r of $SERV_READ_ROUNDS, $SERV_READ_CLIENTS clients x $SERV_READ_SECONDS s, live views and tables"
		for ((k = 0; k < 2; k++)); do
			who=${list[$(((k + r - 1) % 2))]}
			as bench_app pgbs "$WORK/read_${who}_$r.out" -M simple -c "$SERV_READ_CLIENTS" -j 2 \
				-T "$SERV_READ_SECONDS" -f "$WORK/read_$who.sql"
			tps=$(pgb_parse "$WORK/read_${who}_$r.out")
			echo "$who|$r|$tps" >>"$WORK/read"
			echo "   $who: $(cut -d'|' -f1 <<<"$tps") dashboards/s (failed $(cut -d'|' -f3 <<<"$tps"), aborted $(cut -d'|' -f4 <<<"$tps"))" >&2
		done
	done

	bench_section "read: EXPLAIN ANALYZE of the daily-metrics query, $SERV_EXPLAIN_N x live view and table, interleaved"
	local q_live q_table i sid
	q_live=$(dash_rollup_sql "$DASH_D0" "$DASH_D1" '' | sed -n 1p)
	q_table=$(dash_table_sql "$DASH_D0" "$DASH_D1" | sed -n 1p)
	{
		for ((i = 1; i <= SERV_EXPLAIN_N; i++)); do
			sid=$((1 + (i * 7919) % SERV_SELLERS))
			for who in live table; do
				if ((i % 2 == 0)); then who=$([ "$who" = live ] && echo table || echo live); fi
				echo "\\echo == $who"
				echo 'BEGIN;'
				echo "SET LOCAL seller_analytics.seller_id = $sid;"
				if [ "$who" = live ]; then echo "EXPLAIN (ANALYZE) $q_live"; else echo "EXPLAIN (ANALYZE) $q_table"; fi
				echo 'COMMIT;'
			done
		done
	} >"$WORK/explain.sql"
	as bench_app psql_b -At -f "$WORK/explain.sql" >"$WORK/explain.out"
	# "who|planning|execution" per query
	awk '
		/^== / { who = $2; next }
		/^Planning Time: / { p = $3 }
		/^Execution Time: / { printf "%s|%s|%s\n", who, p, $3 }' "$WORK/explain.out" >"$WORK/explain"
	# the plans, once each, for the report
	{
		echo 'BEGIN;'
		echo "SET LOCAL seller_analytics.seller_id = $((SERV_SELLERS / 2));"
		echo "EXPLAIN (ANALYZE, BUFFERS) $q_live"
		echo "EXPLAIN (ANALYZE, BUFFERS) $q_table"
		echo 'COMMIT;'
	} | as bench_app psql_b -At >"$WORK/explain_plans" 2>&1
}

read_results() {
	local tl tt rt pl el sl pt et st rs verdict
	tl=$(awk -F'|' '$1 == "live" { print $3 }' "$WORK/read" | median)
	tt=$(awk -F'|' '$1 == "table" { print $3 }' "$WORK/read" | median)
	med() { awk -F'|' -v w="$1" -v c="$2" '$1 == w { print (c == 4 ? $2 + $3 : $c) }' "$WORK/explain" | median; }
	pl=$(med live 2)
	el=$(med live 3)
	sl=$(med live 4)
	pt=$(med table 2)
	et=$(med table 3)
	st=$(med table 4)
	rt=$(ratio "$tt" "$tl")
	rs=$(ratio "$sl" "$st")
	summary_add "read, $SERV_READ_CLIENTS clients, all compacted: dashboards/s from the tables / from the live views" \
		"${rt}x ($(printf '%.0f' "$tt") / $(printf '%.0f' "$tl") per s)" "<= 1.5x" "$(pass_if "$rt <= 1.5")"
	summary_add "read: one daily-metrics query, simple protocol, planning + execution, live view / table (medians of $SERV_EXPLAIN_N)" \
		"${rs}x ($(printf '%.3f' "$sl") / $(printf '%.3f' "$st") ms)" "<= 2x" "$(pass_if "$rs <= 2")"
	verdict=PASS
	if [ "$(cut -d'|' -f1 "$WORK/read_answers")" != "$(cut -d'|' -f2 "$WORK/read_answers")" ]; then verdict=FAIL; fi
	summary_add "read: the live views' answers equal the tables' and the superuser's (sellers)" \
		"$(cut -d'|' -f1 "$WORK/read_answers") / $(cut -d'|' -f2 "$WORK/read_answers")" "all" "$verdict"
	local rf
	rf=$(awk -F'|' '{ f += $5 + $6 } END { print f + 0 }' "$WORK/read")
	summary_add "read: failed transactions + aborted clients" "$rf" "0" "$(pass_if "$rf == 0")"
	{
		echo "## Read: the live views against the compacted tables"
		echo
		echo "All compacted, nothing else running.  As \`bench_app\` (a member of"
		echo "\`seller_analytics_app\`), direct connections, pgbench -M simple (every query"
		echo "planned anew, as a BI tool or a pooler without prepared statements has it),"
		echo "$SERV_READ_CLIENTS clients, unpaced, $SERV_READ_SECONDS s per run, $SERV_READ_ROUNDS rounds alternating."
		echo "Live views:"
		echo
		echo '```sql'
		cat "$WORK/read_live.sql"
		echo '```'
		echo
		echo "Tables (the views' columns computed the same way):"
		echo
		echo '```sql'
		cat "$WORK/read_table.sql"
		echo '```'
		echo
		awk -F'|' '{ printf "%s|%s|%.0f|%d|%d|%d|%s\n", $2, $1, $3, $4, $5, $6, $7 }' "$WORK/read" |
			md_table 'round|contender|dashboards/s|transactions|failed|aborted clients|latency avg ms'
		echo
		echo "Medians: live views $(printf '%.0f' "$tl") dashboards/s, tables $(printf '%.0f' "$tt") dashboards/s:"
		echo "tables / live **${rt}x** (target: at most 1.5x)."
		echo
		echo "One daily-metrics query (the first of the dashboard), simple protocol, in a"
		echo "transaction that names the seller with SET LOCAL; EXPLAIN (ANALYZE) $SERV_EXPLAIN_N times"
		echo "from the live view and from daily_metrics, interleaved, a different seller each"
		echo "time; medians in ms:"
		echo
		{
			echo "live view|$(printf '%.3f' "$pl")|$(printf '%.3f' "$el")|$(printf '%.3f' "$sl")"
			echo "daily_metrics|$(printf '%.3f' "$pt")|$(printf '%.3f' "$et")|$(printf '%.3f' "$st")"
			echo "live / table|$(ratio "$pl" "$pt")x|$(ratio "$el" "$et")x|**${rs}x**"
		} | md_table 'from|planning|execution|planning + execution'
		echo
		echo "Target: planning + execution of the live view at most 2x the table's."
		echo
		echo "<details><summary>the two plans (seller $((SERV_SELLERS / 2)))</summary>"
		echo
		echo '```'
		cat "$WORK/explain_plans"
		echo '```'
		echo
		echo '</details>'
		echo
	} | report
}

# --- part serve: through PgBouncer and direct -----------------------------------------

# serve_run CONTENDER ROUND RATE SECONDS [probe]: one paced (RATE empty:
# unpaced) dashboard run with the background load; appends
# "contender|round|tps|processed|failed|aborted|lat_avg|p50|p90|p99|mean|n|events/s|ing failed|ing aborted|compactions|compact failed|log errors|conn ms"
# to $WORK/serve (or $WORK/probe)
serve_run() {
	local who=$1 round=$2 rate=$3 seconds=$4 probe=${5:-} tag out prefix res pct bg off conn
	local args=(-M simple -j 2 -T "$seconds" -f "$WORK/dash_app.sql")
	tag=${who}_$round${probe:+_probe}
	out=$WORK/serve_$tag.out
	prefix=$WORK/lat_$tag
	rm -f "$prefix".*
	if [ -n "$rate" ]; then args+=(-R "$rate" -l --log-prefix="$prefix"); fi
	off=$(log_offset)
	background_start "$((seconds + 1))" "$tag"
	if [ "$who" = pooled ]; then
		as bench_app pgbs "$out" -h 127.0.0.1 -p "$BOUNCER_PORT" -c "$SERV_CLIENTS" "${args[@]}"
	else
		as bench_app pgbs "$out" -c "$SERV_DIRECT_CLIENTS" "${args[@]}"
	fi
	background_wait
	log_check "serve_$tag" "$off"
	res=$(pgb_parse "$out")
	pct=$(log_percentiles "$prefix")
	rm -f "$prefix".*
	bg=$(background_figures "$tag")
	conn=$(sed -n 's/^initial connection time = \([0-9.]*\) ms/\1/p' "$out")
	echo "$who|$round|$res|$pct|$bg|$(cut -d'|' -f2 "$WORK/log_serve_$tag")|${conn:-NaN}" >>"$WORK/${probe:-serve}"
	printf '   %-6s round %s: %s dashboards/s, p50 %s ms, p99 %s ms, %s events/s; failed %s, aborted %s, log ERRORs %s\n' \
		"$who" "$round" "$(cut -d'|' -f1 <<<"$res")" "$(cut -d'|' -f1 <<<"$pct")" "$(cut -d'|' -f3 <<<"$pct")" \
		"$(cut -d'|' -f1 <<<"$bg")" "$(cut -d'|' -f3 <<<"$res")" "$(cut -d'|' -f4 <<<"$res")" \
		"$(cut -d'|' -f2 "$WORK/log_serve_$tag")" >&2
}

serve_part() {
	local r k who list
	bench_section "serve: PgBouncer, $SERV_POOL server connections"
	bouncer_start
	app_script live >"$WORK/dash_app.sql"
	if [ -z "$SERV_RATE" ]; then
		bench_section "serve: capacity, $SERV_DIRECT_CLIENTS direct clients unpaced, with ingest and compaction, $SERV_PROBE_SECONDS s"
		serve_run direct 0 "" "$SERV_PROBE_SECONDS" probe
		SERV_RATE=$(awk -F'|' '{ printf "%d", $3 * 0.6 }' "$WORK/probe")
		RATE_HOW="60 % of the $(awk -F'|' '{ printf "%.0f", $3 }' "$WORK/probe") dashboards/s that $SERV_DIRECT_CLIENTS direct clients sustained unpaced under the same background load"
		if [ "$SERV_RATE" -lt 1 ]; then SERV_RATE=1; fi
	else
		RATE_HOW="set by SERV_RATE"
	fi
	list=(pooled direct)
	for ((r = 1; r <= SERV_ROUNDS; r++)); do
		bench_section "serve: round $r of $SERV_ROUNDS, $SERV_RATE dashboards/s, pooled ($SERV_CLIENTS clients) and direct ($SERV_DIRECT_CLIENTS)"
		for ((k = 0; k < 2; k++)); do
			who=${list[$(((k + r - 1) % 2))]}
			serve_run "$who" "$r" "$SERV_RATE" "$SERV_SECONDS"
		done
	done
	bouncer_stop
}

# pooled figures of a contender over the rounds: "p50|p99|dashboards/s|events/s|errors|transactions"
serve_pooled() {
	local who=$1 p
	p=$(awk -F'|' -v w="$who" '$1 == w' "$WORK/serve")
	# latencies: the median over the rounds of each round's percentile
	echo "$(cut -d'|' -f8 <<<"$p" | median)|$(cut -d'|' -f10 <<<"$p" | median)|$(cut -d'|' -f3 <<<"$p" | median)|$(cut -d'|' -f13 <<<"$p" | median)|$(awk -F'|' '{ s += $5 + $6 + $14 + $15 + $17 + $18 } END { print s + 0 }' <<<"$p")|$(awk -F'|' '{ s += $4 } END { print s + 0 }' <<<"$p")"
}

serve_results() {
	local po di errs
	po=$(serve_pooled pooled)
	di=$(serve_pooled direct)
	summary_add "serve: $SERV_CLIENTS clients through PgBouncer ($SERV_POOL server connections), paced at $SERV_RATE/s: p50 / p99 latency" \
		"$(cut -d'|' -f1 <<<"$po") / $(cut -d'|' -f2 <<<"$po") ms" "-" "-"
	summary_add "serve: $SERV_DIRECT_CLIENTS direct connections, same rate: p50 / p99 latency" \
		"$(cut -d'|' -f1 <<<"$di") / $(cut -d'|' -f2 <<<"$di") ms" "-" "-"
	summary_add "serve: pooled / direct, p50 and p99 latency" \
		"$(ratio "$(cut -d'|' -f1 <<<"$po")" "$(cut -d'|' -f1 <<<"$di")")x, $(ratio "$(cut -d'|' -f2 <<<"$po")" "$(cut -d'|' -f2 <<<"$di")")x" "-" "-"
	summary_add "serve: dashboards/s sustained, pooled / direct (paced at $SERV_RATE/s)" \
		"$(printf '%.1f' "$(cut -d'|' -f3 <<<"$po")") / $(printf '%.1f' "$(cut -d'|' -f3 <<<"$di")")" \
		">= 0.95 x $SERV_RATE" "$(pass_if "$(cut -d'|' -f3 <<<"$po") >= 0.95 * $SERV_RATE && $(cut -d'|' -f3 <<<"$di") >= 0.95 * $SERV_RATE")"
	summary_add "serve: events/s through the capture trigger meanwhile, pooled / direct runs" \
		"$(cut -d'|' -f4 <<<"$po") / $(cut -d'|' -f4 <<<"$di")" "-" "-"
	errs=$(($(cut -d'|' -f5 <<<"$po") + $(cut -d'|' -f5 <<<"$di")))
	summary_add "serve: errors (failed transactions, aborted clients of dashboards, ingest and compaction; server log ERRORs)" \
		"$errs" "0" "$(pass_if "$errs == 0")"
	{
		echo "## Serving: $SERV_CLIENTS clients through PgBouncer against $SERV_DIRECT_CLIENTS direct connections"
		echo
		echo "- PgBouncer $(pgbouncer --version | awk 'NR == 1 { print $2 }'): \`pool_mode = transaction\`, \`default_pool_size = $SERV_POOL\`,"
		echo "  \`max_db_connections = $SERV_POOL\`, \`max_client_conn = $((SERV_CLIENTS + 100))\`, \`server_reset_query\` empty,"
		echo "  clients authenticated with md5 (the server with scram-sha-256), on 127.0.0.1, on the"
		echo "  same CPUs as the server and the clients"
		echo "- the dashboard, pgbench -M simple, -j 2, \`\\set sid random(1, $SERV_SELLERS)\`, paced (-R) at"
		echo "  **$SERV_RATE dashboards/s** in all ($RATE_HOW):"
		echo
		echo '```sql'
		cat "$WORK/dash_app.sql"
		echo '```'
		echo
		if [ -z "$MY_BENCHMARKS" ]; then
			echo "  (\`seller_analytics.my_benchmarks()\` does not exist in this build: not called.)"
			echo
		fi
		echo "- meanwhile, for each run: the ingest role (\`bench_ingest\`, direct, 2 clients) at"
		echo "  $SERV_INGEST_RATE transactions/s of $SERV_INGEST_BATCH events of a random seller (the last day of the range):"
		echo
		echo '```sql'
		cat "$WORK/ingest.sql"
		echo '```'
		echo
		echo "  and the superuser calling \`seller_analytics.compact()\` every $SERV_COMPACT_INTERVAL s (as pg_cron would)."
		echo "- $SERV_SECONDS s per run, $SERV_ROUNDS rounds, the two contenders alternating.  Latency: pgbench's"
		echo "  per-transaction log (with -R it counts from the scheduled start, so waiting for a"
		echo "  pool connection or a busy CPU is in it) but for the first $SERVE_SKIP s of each run"
		echo "  (pgbench's schedule starts before its clients have connected), nearest-rank"
		echo "  percentiles per run; the summary gives the median over the rounds."
		echo
		awk -F'|' '{ printf "%s|%s|%.1f|%s|%s|%s|%d|%d / %d / %d|%s|%d|%s\n", $2, $1, $3, $8, $9, $10, $4, $5, $6, $18, $13, $16, ($1 == "pooled" ? $19 : "-") }' "$WORK/serve" |
			md_table 'round|contender|dashboards/s|p50 ms|p90 ms|p99 ms|dashboards|failed / aborted / log ERRORs|events/s|compactions|connecting the clients, ms'
		echo
		if [ -s "$WORK/probe" ]; then
			echo "Capacity probe (unpaced, $SERV_DIRECT_CLIENTS direct clients, the same background load,"
			echo "$SERV_PROBE_SECONDS s): $(awk -F'|' '{ printf "%.0f dashboards/s, latency avg %s ms, %s events/s", $3, $7, $13 }' "$WORK/probe")."
			echo
		fi
		if cat "$WORK"/logerr_serve_* 2>/dev/null | grep -q .; then
			echo "Server log ERRORs (first lines):"
			echo
			echo '```'
			cat "$WORK"/logerr_serve_* | head -20
			echo '```'
			echo
		fi
	} | report
}

# --- part bi: sellers' own logins, directly ---------------------------------------------

bi_part() {
	local i pids=() off rate each
	rate=${SERV_BI_RATE:-${SERV_RATE:-100}}
	each=$(awk -v r="$rate" -v n="$SERV_BI_CLIENTS" 'BEGIN { printf "%.4f", r / n }')
	{
		dash_rollup_sql "$DASH_D0" "$DASH_D1" ''
		if [ -n "$MY_BENCHMARKS" ]; then echo "$MY_BENCHMARKS"; fi
	} >"$WORK/dash_bi.sql"
	bench_section "bi: $SERV_BI_CLIENTS seller logins, one pgbench each, $rate dashboards/s in all, $SERV_SECONDS s"
	off=$(log_offset)
	background_start "$((SERV_SECONDS + 3))" bi
	for ((i = 1; i <= SERV_BI_CLIENTS; i++)); do
		as "bench_bi_$i" pgbs "$WORK/bi_$i.out" -M simple -c 1 -j 1 -R "$each" -T "$SERV_SECONDS" \
			-l --log-prefix="$WORK/bilat_$i" -f "$WORK/dash_bi.sql" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || true; done
	background_wait
	log_check bi "$off"
	local tps=0 done_=0 failed=0 aborted=0 res pct bg
	for ((i = 1; i <= SERV_BI_CLIENTS; i++)); do
		res=$(pgb_parse "$WORK/bi_$i.out")
		done_=$((done_ + $(cut -d'|' -f2 <<<"$res")))
		failed=$((failed + $(cut -d'|' -f3 <<<"$res")))
		aborted=$((aborted + $(cut -d'|' -f4 <<<"$res")))
	done
	# The pgbench processes log in one after the other (many password logins
	# at once take seconds) and each starts its schedule before its login:
	# its first transactions catch up and count the wait in their latency.
	# Latencies: every login's transactions from BI_SKIP s after its first
	# one (its per-transaction log, in time order).  Dashboards/s: all of
	# them over the SERV_SECONDS of each login's schedule.
	local logs=("$WORK"/bilat_*.*)
	pct=$(awk -v skip="$BI_SKIP" '
		FNR == 1 { t0 = "" }
		$5 ~ /^[0-9]+$/ { t = $5 + $6 / 1e6; if (t0 == "") t0 = t; if (t >= t0 + skip) print $3 }' "${logs[@]}" | percentiles)
	tps=$(awk -v n="$done_" -v s="$SERV_SECONDS" 'BEGIN { printf "%.1f", n / s }')
	bg=$(background_figures bi)
	local errs
	errs=$((failed + aborted + $(cut -d'|' -f2,3 <<<"$bg" | tr '|' '+') + $(cut -d'|' -f5 <<<"$bg") + $(cut -d'|' -f2 "$WORK/log_bi")))
	summary_add "bi: $SERV_BI_CLIENTS seller logins connected directly, paced at $rate/s in all: p50 / p99 latency" \
		"$(cut -d'|' -f1 <<<"$pct") / $(cut -d'|' -f3 <<<"$pct") ms" "-" "-"
	summary_add "bi: dashboards/s sustained (all the logins' dashboards over their $SERV_SECONDS s), events/s meanwhile" \
		"$tps, $(cut -d'|' -f1 <<<"$bg")" ">= 0.95 x $rate" "$(pass_if "$tps >= 0.95 * $rate")"
	summary_add "bi: errors (failed, aborted, ingest and compaction, server log ERRORs)" "$errs" "0" "$(pass_if "$errs == 0")"
	{
		echo "## Sellers' own logins (BI tools), connected directly"
		echo
		echo "$SERV_BI_CLIENTS login roles \`bench_bi_N\`, each mapped to seller N with"
		echo "\`seller_analytics.assign_seller_role\`, password authentication (scram-sha-256), all"
		echo "connected at once (max_connections $(rows 'SHOW max_connections')).  pgbench logs in as one user, so"
		echo "one pgbench process per login: -M simple -c 1 -R $each -T $SERV_SECONDS, $rate dashboards/s in all,"
		echo "the queries with no seller setting and no filter (row-level security picks the rows):"
		echo
		echo '```sql'
		cat "$WORK/dash_bi.sql"
		echo '```'
		echo
		echo "The same background load (ingest at $SERV_INGEST_RATE transactions/s of $SERV_INGEST_BATCH events, compact() every"
		echo "$SERV_COMPACT_INTERVAL s).  The pgbench processes log in one after the other, and each"
		echo "starts its schedule before its login, so that its first transactions catch up;"
		echo "latencies leave out each login's first $BI_SKIP s; dashboards/s: all the dashboards"
		echo "over the $SERV_SECONDS s of every login's schedule."
		echo
		{
			echo "$SERV_BI_CLIENTS|$(printf '%.1f' "$tps")|$(cut -d'|' -f1 <<<"$pct")|$(cut -d'|' -f2 <<<"$pct")|$(cut -d'|' -f3 <<<"$pct")|$done_|$failed / $aborted / $(cut -d'|' -f2 "$WORK/log_bi")|$(cut -d'|' -f1 <<<"$bg")|$(cut -d'|' -f4 <<<"$bg")"
		} | md_table 'logins|dashboards/s|p50 ms|p90 ms|p99 ms|dashboards|failed / aborted / log ERRORs|events/s|compactions'
		echo
		if [ -s "$WORK/logerr_bi" ]; then
			echo '```'
			cat "$WORK/logerr_bi"
			echo '```'
			echo
		fi
	} | report
}

cleanup_in_virtualenv() {
	local pid
	for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	bouncer_stop
	rm -rf "$WORK"
}

in_virtualenv() {
	REPORT=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_serving.XXXXXX")
	chmod 755 "$WORK"
	trap cleanup_in_virtualenv EXIT
	: >"$WORK/summary"
	: >"$WORK/head"
	: >"$WORK/body"
	: >"$WORK/read"
	: >"$WORK/serve"
	: >"$WORK/probe"
	report() { cat >>"$WORK/body"; }
	bench_find_server_log
	SERVER_HOST=${PGHOST:-localhost}
	case $SERVER_HOST in /*) SERVER_HOST=127.0.0.1 ;; esac

	# file descriptors: pgbench and PgBouncer hold one per client connection
	FDS=$(ulimit -Hn)
	if [ "$FDS" = unlimited ] || [ "$FDS" -gt 65536 ]; then FDS=65536; fi
	ulimit -n "$FDS"
	CLIENTS_NOTE=""
	if [ "$((SERV_CLIENTS + SERV_BI_CLIENTS + 200))" -gt "$FDS" ]; then
		CLIENTS_NOTE="(asked for $SERV_CLIENTS; the file descriptor limit, $FDS, allows $((FDS - SERV_BI_CLIENTS - 200)))"
		SERV_CLIENTS=$((FDS - SERV_BI_CLIENTS - 200))
	fi

	BENCH_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	export BENCH_PASSWORD
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b <<-SQL
		CREATE EXTENSION seller_analytics;
		CREATE SCHEMA bench;
		$(bench_sellers_sql "$SERV_SELLERS")
		VACUUM (FREEZE, ANALYZE) seller_analytics.sellers;

		$(bench_event_functions_sql)

		CREATE ROLE bench_app LOGIN PASSWORD '$BENCH_PASSWORD' IN ROLE seller_analytics_app;
		CREATE ROLE bench_ingest LOGIN PASSWORD '$BENCH_PASSWORD' IN ROLE seller_analytics_ingest;
		GRANT USAGE ON SCHEMA bench TO bench_ingest;
		GRANT EXECUTE ON FUNCTION bench.day_events(timestamptz, bigint, int, int, text) TO bench_ingest;
		-- the sellers' own logins
		DO \$\$
		BEGIN
			FOR i IN 1 .. $SERV_BI_CLIENTS LOOP
				EXECUTE format('CREATE ROLE %I LOGIN PASSWORD %L', 'bench_bi_' || i, '$BENCH_PASSWORD');
				PERFORM seller_analytics.assign_seller_role(('bench_bi_' || i)::name, i);
			END LOOP;
		END
		\$\$;
	SQL
	# my_benchmarks(), where it exists (another piece of work adds it)
	MY_BENCHMARKS=""
	if [ "$(rows "SELECT count(*) FROM pg_proc WHERE proname = 'my_benchmarks'
			AND pronamespace = 'seller_analytics'::regnamespace AND pronargs = pronargdefaults")" != 0 ]; then
		MY_BENCHMARKS='SELECT * FROM seller_analytics.my_benchmarks();'
	fi

	# --- machine and server --------------------------------------------------
	local today
	today=$(date +%F)
	{
		echo "# Serving benchmark, $today"
		echo
		echo 'Written by `make bench-serving` (bench/serving/run.sh): the 90-day seller'
		echo 'dashboard read by the application through PgBouncer in transaction mode, by'
		echo 'thousands of clients, against direct connections, while events stream in'
		echo 'through the capture trigger and compaction runs; sellers'"'"' own logins connected'
		echo 'directly; and the live views against the compacted tables, side by side in one run.'
		echo
		bench_machine
		echo "The machine is shared: other work may run beside this benchmark.  Everything"
		echo "(server, PgBouncer, the pgbench clients) runs on the same $(nproc) CPUs."
		echo
		bench_server_head
		echo "- pgbench $(pgbench --version | awk '{ print $3 }'), PgBouncer $(pgbouncer --version | awk 'NR == 1 { print $2 }'), TCP to 127.0.0.1 / localhost"
		echo "- file descriptors: ulimit -n $FDS $CLIENTS_NOTE"
		echo '- settings as seen by the server:'
		echo
		rows "SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings
			  WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather',
				'jit', 'fsync', 'synchronous_commit', 'autovacuum', 'max_connections',
				'plan_cache_mode', 'password_encryption')
			  ORDER BY name" | md_table 'setting|value|source'
		echo
	} >"$WORK/head"

	# --- data ------------------------------------------------------------------
	DASH_D1=$(rows "SELECT DATE '$DASH_D0' + $SERV_DAYS - 1")
	bench_section "data: $SERV_SELLERS sellers x $SERV_DAYS days x $SERV_EVENTS events"
	dash_load "$DASH_D0" "$SERV_DAYS" "$SERV_SELLERS" "$SERV_EVENTS" 0 0
	psql_b -c 'VACUUM (ANALYZE) seller_analytics.events, seller_analytics.daily_metrics,
		seller_analytics.daily_traffic, seller_analytics.pending_deltas, seller_analytics.recompute_marks'
	local cstat
	cstat=$(rows "SELECT (SELECT count(*) FROM seller_analytics.events),
		pg_size_pretty(pg_total_relation_size('seller_analytics.events')),
		(SELECT count(*) FROM seller_analytics.daily_metrics),
		(SELECT count(*) FROM seller_analytics.daily_traffic)")
	{
		echo "## Data"
		echo
		echo "$SERV_SELLERS sellers (seven time zones) x $SERV_DAYS days ($DASH_D0 to $DASH_D1) x $SERV_EVENTS"
		echo "events per seller and day (\`bench.day_events\`, \`dash_load\` of bench/lib.sh), loaded"
		echo "through the capture trigger a day per transaction in $((DASH_LOAD_MS / 1000)) s, $DASH_COMPACTIONS"
		echo "compactions in $((DASH_COMPACT_MS / 1000)) s; then VACUUM (ANALYZE).  events: $(cut -d'|' -f1 <<<"$cstat") rows"
		echo "($(cut -d'|' -f2 <<<"$cstat")); daily_metrics: $(cut -d'|' -f3 <<<"$cstat") rows; daily_traffic:"
		echo "$(cut -d'|' -f4 <<<"$cstat") rows."
		echo
	} | report

	# ingest and compaction, for the background load
	cat >"$WORK/ingest.sql" <<-SQL
		\\set sid random(1, $SERV_SELLERS)
		\\set k random(1, 1000000000000)
		INSERT INTO seller_analytics.events SELECT * FROM bench.day_events(DATE '$DASH_D1', :sid, 1, $SERV_INGEST_BATCH, 'r' || :client_id || '-' || :k || '-') ON CONFLICT DO NOTHING;
	SQL
	cat >"$WORK/compact.sql" <<-SQL
		SELECT * FROM seller_analytics.compact();
		\\sleep $SERV_COMPACT_INTERVAL s
	SQL

	if has_part read; then
		read_part
		read_results
	fi
	if has_part serve; then
		serve_part
		serve_results
	fi
	if has_part bi; then
		bi_part
	fi

	# --- the state at the end: the rollups still equal the events ---
	if has_part serve || has_part bi; then
		bench_section "verify_rollups after a last compact()"
		local nd
		rows 'SELECT * FROM seller_analytics.compact()' >/dev/null
		nd=$(rows "SELECT count(*) FROM seller_analytics.verify_rollups(DATE '$DASH_D0', DATE '$DASH_D1' + 1)")
		summary_add "verify_rollups over the $SERV_DAYS days after the runs and a last compact(): differences" "$nd" "0" "$(pass_if "$nd == 0")"
	fi

	bench_assemble_report "${BENCH_COMMAND:-make bench-serving}"
	echo
	echo "== Serving benchmark, $today ($(nproc) CPUs, PostgreSQL $(rows 'SHOW server_version'))"
	echo
	bench_print_summary
}

if [ "${1:-}" = "--in-virtualenv" ]; then
	in_virtualenv "$2"
	exit 0
fi

# ---------------------------------------------------------------------------
# Main run.

bench_section "packages"
bench_packages "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	"postgresql-client-$PG_MAJOR" postgresql-common make gcc procps pgbouncer iproute2
bench_section "build and install"
bench_build_install

bench_report serving "$HERE/run.sh"
