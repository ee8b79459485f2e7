#!/usr/bin/env bash
# Benchmark of row-level security: the 90-day dashboard read by a seller's own
# login against the same dashboard read by the owner with an explicit filter;
# `make bench-security` runs it.
#
# Installs the Debian packages it needs when they are missing, builds and
# installs the extension, then in a throw-away cluster (pg_virtualenv, with
# the settings in bench/lib.sh):
#
# Dashboard.  The data of bench/ingest/run.sh's dashboard part, smaller:
# SEC_SELLERS small sellers x SEC_DAYS days x SEC_EVENTS events per
# seller-day and SEC_BIG_SELLERS big sellers x SEC_BIG_EVENTS, loaded through
# the capture trigger a day per transaction and compacted (bench.day_events
# and dash_load of bench/lib.sh).  The dashboard query is the ingest
# benchmark's (dash_rollup_sql: daily metrics, traffic by source, order-value
# p50/p90 of the 90 days, three statements in one pgbench transaction), run
# by three contenders, interleaved (the order rotating from round to round):
#
#   seller  a seller's login role, mapped with assign_seller_role and
#           connected as itself: the queries without any seller filter,
#           row-level security picks the rows
#   owner   a login role that is a member of seller_analytics_owner (as a
#           DBA is): the same queries with WHERE seller_id = :sid AND ...
#   app     a login role that is a member of seller_analytics_app: SET
#           seller_analytics.seller_id = N, then the queries without filter
#
# pgbench -M prepared, one client, SEC_TXNS transactions per run, SEC_ROUNDS
# rounds, for a small seller and a big one, in three states: compacted;
# pending (after bench.pending_load and SEC_SELLER_PENDING_TXNS more
# transactions for each measured seller, not compacted); corrected (then an
# order of each measured seller changed, so that a day is recomputed from
# raw events).  Figures: p50 and p99 of the transaction latencies of all
# rounds (per-transaction log; the first SKIP_TXNS of each run, while the
# plan cache fills, left out), and the ratio seller / owner (target: p50 at
# most 1.2x).  The seller's answers must equal the owner's, and the seller's
# plans (EXPLAIN ANALYZE, in the report) must read daily_metrics,
# daily_traffic and pending_deltas through their index, with
# seller_id = current_seller_id() in the index condition.
#
# Loading.  SEC_COPY_ROWS events (a day of the small sellers) into an empty
# events table, SEC_COPY_ROUNDS rounds, alternating: as a member of
# seller_analytics_ingest COPY into the view event_intake, COPY into a
# temporary table then INSERT ... SELECT ... ON CONFLICT DO NOTHING into
# events, and multi-row INSERT ... ON CONFLICT DO NOTHING (1000 rows a
# statement, one transaction); as the superuser, COPY into events.  rows/s
# and the ratios to the superuser's COPY (COPY into events is refused for the
# ingest role under row-level security, which is checked too).
#
# The report goes to bench/results/security-YYYY-MM-DD.md; a summary with
# PASS/FAIL per target is printed at the end.  About 7 to 8 minutes on 2
# cores with the defaults.
#
# Environment (defaults in parentheses):
#   SEC_SELLERS (4000)  SEC_DAYS (90)  SEC_EVENTS (10)  SEC_BIG_SELLERS (20)
#   SEC_BIG_EVENTS (500)  SEC_ROUNDS (15)  SEC_TXNS (200, per run)
#   SEC_PENDING_TXNS (800)  SEC_PENDING_ROWS (50)  SEC_SELLER_PENDING_TXNS (20)
#   SEC_COPY_ROWS (200000)  SEC_COPY_ROUNDS (3)
#   SEC_PARTS ("copy dash": which parts to run)
#   PG_CONFIG, JOBS as for bench/lib.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

BENCH_SETTINGS="SEC_SELLERS SEC_DAYS SEC_EVENTS SEC_BIG_SELLERS SEC_BIG_EVENTS SEC_ROUNDS
	SEC_TXNS SEC_PENDING_TXNS SEC_PENDING_ROWS SEC_SELLER_PENDING_TXNS SEC_COPY_ROWS
	SEC_COPY_ROUNDS SEC_PARTS"
# the command as run, for the report
if [ "${1:-}" != "--in-virtualenv" ]; then
	bench_command bench-security
fi

SEC_SELLERS=${SEC_SELLERS:-4000}
SEC_DAYS=${SEC_DAYS:-90}
SEC_EVENTS=${SEC_EVENTS:-10}
SEC_BIG_SELLERS=${SEC_BIG_SELLERS:-20}
SEC_BIG_EVENTS=${SEC_BIG_EVENTS:-500}
SEC_ROUNDS=${SEC_ROUNDS:-15}
SEC_TXNS=${SEC_TXNS:-200}
SEC_PENDING_TXNS=${SEC_PENDING_TXNS:-800}
SEC_PENDING_ROWS=${SEC_PENDING_ROWS:-50}
SEC_SELLER_PENDING_TXNS=${SEC_SELLER_PENDING_TXNS:-20}
SEC_COPY_ROWS=${SEC_COPY_ROWS:-200000}
SEC_COPY_ROUNDS=${SEC_COPY_ROUNDS:-3}
SEC_PARTS=${SEC_PARTS:-copy dash}
export SEC_SELLERS SEC_DAYS SEC_EVENTS SEC_BIG_SELLERS SEC_BIG_EVENTS SEC_ROUNDS SEC_TXNS \
	SEC_PENDING_TXNS SEC_PENDING_ROWS SEC_SELLER_PENDING_TXNS SEC_COPY_ROWS SEC_COPY_ROUNDS SEC_PARTS

# the dashboard's days, as in bench/ingest/run.sh
DASH_D0='2026-08-01'
# the sellers measured: a small one (the ingest benchmark's plans use 42)
# and the first big one
SMALL_SELLER=42
BIG_SELLER=$((SEC_SELLERS + 1))
# the day of the loading part's events
COPY_DAY='2026-11-21 00:00:00+00'
CONTENDERS="seller owner app"
# the first transactions of every pgbench run (a new connection) are not
# counted: the owner's statements, which have a parameter, are planned anew
# for their first five executions (plan_cache_mode auto), before the
# generic plan is chosen; the seller's, which have none, once
SKIP_TXNS=6

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: run.sh --in-virtualenv REPORT_FILE

has_part() {
	[[ " $SEC_PARTS " == *" $1 "* ]]
}

# as ROLE CMD...: CMD with the login role ROLE's password (every role of
# this benchmark has the same, BENCH_PASSWORD)
as() {
	local role=$1
	shift
	PGUSER=$role PGPASSWORD=$BENCH_PASSWORD "$@"
}

# the login role of a contender in a case (small or big seller)
role_of() {			# role_of CONTENDER SIZE
	case $1 in
	seller) echo "bench_seller_$2" ;;
	owner) echo bench_owner ;;
	app) echo bench_app ;;
	esac
}

sid_of() {			# sid_of SIZE
	if [ "$1" = big ]; then echo "$BIG_SELLER"; else echo "$SMALL_SELLER"; fi
}

# write_scripts: the pgbench scripts $WORK/dash_CONTENDER_SIZE.sql
write_scripts() {
	local size sid
	for size in small big; do
		sid=$(sid_of "$size")
		dash_rollup_sql "$DASH_D0" "$DASH_D1" '' >"$WORK/dash_seller_$size.sql"
		{
			echo "\\set sid $sid"
			dash_rollup_sql "$DASH_D0" "$DASH_D1" 'seller_id = :sid AND '
		} >"$WORK/dash_owner_$size.sql"
		{
			echo "BEGIN;"
			echo "SET LOCAL seller_analytics.seller_id = '$sid';"
			dash_rollup_sql "$DASH_D0" "$DASH_D1" ''
			echo "COMMIT;"
		} >"$WORK/dash_app_$size.sql"
	done
}

# dash_run CASE SIZE CONTENDER ROUND [warm-up]: one pgbench run (a new
# connection) of SKIP_TXNS + SEC_TXNS transactions; appends
# "case|size|contender|round|tps|processed|failed|aborted|latency_avg|p50|p90|p99|mean|n|q1|q2|q3"
# to $WORK/dash and the latencies (µs) of the last SEC_TXNS transactions to
# $WORK/lat_CASE_SIZE_CONTENDER (nothing for a warm-up)
dash_run() {
	local case=$1 size=$2 who=$3 round=$4 warm=${5:-}
	local out=$WORK/pgb_${case}_${size}_${who}_$round.out prefix=$WORK/log_${case}_${size}_${who}_$round
	local res lat pct n q1 q2 q3
	rm -f "$prefix".*
	n=$((SKIP_TXNS + SEC_TXNS))
	if [ -n "$warm" ]; then n=$((SKIP_TXNS + (SEC_TXNS + 4) / 5)); fi
	as "$(role_of "$who" "$size")" pgb "$out" -M prepared -c 1 -j 1 -t "$n" -r \
		-l --log-prefix="$prefix" -f "$WORK/dash_${who}_$size.sql"
	res=$(pgb_parse "$out")
	# per-transaction log: client_id transaction_no time(µs) script_no epoch
	# µs; transactions are numbered from 0
	lat=$(cat "$prefix".* 2>/dev/null | awk -v skip="$SKIP_TXNS" '$3 ~ /^[0-9]+$/ && $2 >= skip { print $3 }')
	rm -f "$prefix".*
	if [ -n "$warm" ]; then
		if [ "$(cut -d'|' -f2 <<<"$res")" != "$n" ]; then
			echo "error: the warm-up run of $who ($size seller) failed:" >&2
			cat "$out" >&2
			return 1
		fi
		return 0
	fi
	echo "$lat" >>"$WORK/lat_${case}_${size}_$who"
	pct=$(percentiles <<<"$lat")
	# -r: "latency failures statement" per statement; the three SELECTs
	q1=$(awk '$1 ~ /^[0-9.]+$/ && index($0, "SELECT") { n++; if (n == 1) print $1 }' "$out")
	q2=$(awk '$1 ~ /^[0-9.]+$/ && index($0, "SELECT") { n++; if (n == 2) print $1 }' "$out")
	q3=$(awk '$1 ~ /^[0-9.]+$/ && index($0, "SELECT") { n++; if (n == 3) print $1 }' "$out")
	echo "$case|$size|$who|$round|$res|$pct|${q1:-NaN}|${q2:-NaN}|${q3:-NaN}" >>"$WORK/dash"
	printf '   %-9s %-5s %-6s round %2d: p50 %s ms, p99 %s ms (failed %s, aborted %s)\n' "$case" "$size" "$who" "$round" \
		"$(cut -d'|' -f1 <<<"$pct")" "$(cut -d'|' -f3 <<<"$pct")" \
		"$(cut -d'|' -f3 <<<"$res")" "$(cut -d'|' -f4 <<<"$res")" >&2
}

# dash_case CASE: warm-up, then SEC_ROUNDS rounds of the three contenders
# (order rotating), for the small and the big seller
dash_case() {
	local case=$1 size r k who list
	read -r -a list <<<"$CONTENDERS"
	for size in small big; do
		bench_section "dashboard: $case, $size seller $(sid_of "$size"), $SEC_ROUNDS rounds x (${CONTENDERS// /, }) x $SEC_TXNS transactions"
		for who in "${list[@]}"; do
			dash_run "$case" "$size" "$who" 0 warm-up
		done
		for ((r = 1; r <= SEC_ROUNDS; r++)); do
			for ((k = 0; k < ${#list[@]}; k++)); do
				who=${list[$(((k + r - 1) % ${#list[@]}))]}
				dash_run "$case" "$size" "$who" "$r"
			done
		done
		check_answers "$case" "$size"
		explain_case "$case" "$size"
		if [ "$case" = corrected ]; then nested_plans "$size"; fi
	done
}

# pooled "p50|p90|p99|mean|n" of CASE SIZE CONTENDER over all rounds
pooled() {
	grep -v '^$' "$WORK/lat_$1_$2_$3" | percentiles
}

# round_ratio CASE SIZE: the median over the rounds of seller p50 / owner
# p50 of the same round (the two ran one after the other)
round_ratio() {
	awk -F'|' -v c="$1" -v s="$2" '
		$1 == c && $2 == s && $3 == "seller" { a[$4] = $10 }
		$1 == c && $2 == s && $3 == "owner" { b[$4] = $10 }
		END { for (r in a) if (b[r] > 0) print a[r] / b[r] }' "$WORK/dash" | median
}

# check_answers CASE SIZE: the seller's answers (no filter, as its login)
# against the owner's (with the filter); "equal" or "DIFFERENT" to
# $WORK/answers_CASE_SIZE
check_answers() {
	local case=$1 size=$2 sid
	sid=$(sid_of "$size")
	dash_rollup_sql "$DASH_D0" "$DASH_D1" '' |
		as "$(role_of seller "$size")" psql_b -At >"$WORK/ans_seller_${case}_$size"
	dash_rollup_sql "$DASH_D0" "$DASH_D1" "seller_id = $sid AND " |
		as bench_owner psql_b -At >"$WORK/ans_owner_${case}_$size"
	if [ -s "$WORK/ans_owner_${case}_$size" ] &&
		cmp -s "$WORK/ans_seller_${case}_$size" "$WORK/ans_owner_${case}_$size"; then
		echo "equal ($(wc -l <"$WORK/ans_owner_${case}_$size" | tr -d ' ') lines)" >"$WORK/answers_${case}_$size"
	else
		echo "DIFFERENT" >"$WORK/answers_${case}_$size"
	fi
}

# explain_case CASE SIZE: EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) of the
# seller's and the owner's three queries, prepared as pgbench -M prepared
# does and executed six times first (the plan the runs used), to
# $WORK/plan_CASE_SIZE_CONTENDER
explain_case() {
	local case=$1 size=$2 sid who q n
	sid=$(sid_of "$size")
	for who in seller owner; do
		: >"$WORK/plan_${case}_${size}_$who"
		n=0
		while IFS= read -r q; do
			case $q in '\set'* | '') continue ;; esac
			n=$((n + 1))
			local prep="PREPARE q AS ${q%;}"
			if [ "$who" = owner ]; then
				q=${q//:sid/\$1}
				prep="PREPARE q(bigint) AS ${q%;}"
			fi
			local args=""
			if [ "$who" = owner ]; then args="($sid)"; fi
			{
				echo "-- $case, $size seller $sid, $who ($(role_of "$who" "$size")), query $n: ${q:0:90}..."
				as "$(role_of "$who" "$size")" psql_b -At <<-SQL
					$prep;
					\\o /dev/null
					EXECUTE q$args; EXECUTE q$args; EXECUTE q$args;
					EXECUTE q$args; EXECUTE q$args; EXECUTE q$args;
					\\o
					EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q$args;
				SQL
				echo
			} >>"$WORK/plan_${case}_${size}_$who" 2>&1
		done <"$WORK/dash_${who}_$size.sql"
	done
}

# nested_plans SIZE: the plan of the query inside recompute_seller_day()
# for the measured seller's corrected day, as the seller's login and as the
# owner (auto_explain with log_nested_statements, loaded by the superuser,
# who then takes the identity with SET SESSION AUTHORIZATION; the seller's
# mapping follows session_user), to $WORK/nested_SIZE
nested_plans() {
	local size=$1 sid day who
	sid=$(sid_of "$size")
	day=$(rows "SELECT min(day) FROM seller_analytics.recompute_marks WHERE seller_id = $sid")
	: >"$WORK/nested_$size"
	for who in seller owner; do
		{
			echo "-- recompute_seller_day($sid, '$day') as $(role_of "$who" "$size"): the query inside"
			# the notices: the function's query, then the calling query, per
			# call; the last call's first
			psql_b -At 2>&1 <<-SQL | awk '/^[0-9]+$/ { next } /^NOTICE:  duration/ { n++; sub(/^NOTICE:  /, "") } { b[n] = b[n] $0 "\n" } END { printf "%s", b[n - 1] }'
				LOAD 'auto_explain';
				SET auto_explain.log_min_duration = 0;
				SET auto_explain.log_nested_statements = on;
				SET auto_explain.log_analyze = on;
				SET auto_explain.log_buffers = on;
				SET auto_explain.log_level = notice;
				SET SESSION AUTHORIZATION $(role_of "$who" "$size");
				SELECT count(*) FROM generate_series(1, 7) g, LATERAL seller_analytics.recompute_seller_day($sid + 0 * g, '$day') r;
			SQL
			echo
		} >>"$WORK/nested_$size"
	done
}

# plan_check FILE STATE: "yes (...)" when, in the plans of FILE, the rollup
# tables (daily_metrics, daily_traffic, and pending_deltas once it holds
# rows: STATE other than compacted) are read only through their index on
# (seller_id, ...) with seller_id = seller_analytics.current_seller_id() in
# the index condition, and no table of the extension by a sequential scan
# but the small ones; else "NO: " and what is not
plan_check() {
	awk -v state="$2" '
		function tbl(line) {
			if (match(line, / on (daily_metrics|daily_traffic|pending_deltas|recompute_marks|events|sellers)[ _]/))
				return substr(line, RSTART + 4, RLENGTH - 5)
			return ""
		}
		/Seq Scan on / {
			t = tbl($0)
			if (t == "") next
			if (t == "recompute_marks" || (t == "pending_deltas" && state == "compacted")) { small[t]++; next }
			bad = bad "; Seq Scan on " t
			next
		}
		/(Index Scan|Index Only Scan|Bitmap Index Scan) / {
			t = tbl($0); want = t; next
		}
		want != "" && /Index Cond:/ {
			if ($0 ~ /seller_id = seller_analytics\.current_seller_id\(\)/) n[want]++
			else bad = bad "; index condition on " want " without seller_id = current_seller_id()"
			want = ""
		}
		END {
			if (n["daily_metrics"] == 0) bad = bad "; no index scan of daily_metrics"
			if (n["daily_traffic"] == 0) bad = bad "; no index scan of daily_traffic"
			if (state != "compacted" && n["pending_deltas"] == 0) bad = bad "; no index scan of pending_deltas"
			if (bad != "") { print "NO" bad; exit }
			out = "yes: index scans with seller_id = current_seller_id(): daily_metrics " n["daily_metrics"] + 0 \
				", daily_traffic " n["daily_traffic"] + 0 ", pending_deltas " n["pending_deltas"] + 0 \
				", recompute_marks " n["recompute_marks"] + 0
			sq = ""
			for (t in small) sq = sq (sq == "" ? "" : ", ") t " " small[t]
			if (sq != "") out = out "; sequential scans of the small tables: " sq
			print out
		}' "$1"
}

# plan_shape FILE: the plan nodes of FILE, one a line, without their
# figures and conditions, and without Result nodes (where the policy's
# condition of both sides of an anti-join meet, the seller's plans check
# current_seller_id() = current_seller_id() once in a Result)
plan_shape() {
	sed -n -E 's/^ *(-> +)?([A-Z][A-Za-z]*( [A-Z][A-Za-z]*)*( using [a-z_]+)?( on [a-z_]+)?) .*\((actual|never executed).*/\2/p' "$1" | grep -vx Result
}

# --- loading: COPY into event_intake and the rest ------------------------------

# copy_run CONTENDER ROUND: one load into an empty events table; appends
# "contender|round|ms|rows_in_table|pending_rows" to $WORK/copy
copy_run() {
	local who=$1 round=$2 t0 t1 n p
	psql_b -c 'TRUNCATE seller_analytics.events' -c 'CHECKPOINT'
	t0=$(date +%s%N)
	case $who in
	intake)
		as bench_ingest psql_b -c "\\copy seller_analytics.event_intake FROM '$WORK/copy.tsv'"
		;;
	staging)
		as bench_ingest psql_b <<-SQL
			BEGIN;
			CREATE TEMP TABLE staging (seller_id bigint, event_id text, event_type text,
				occurred_at timestamptz, session_id text, traffic_source text,
				amount numeric(14,2), quantity integer) ON COMMIT DROP;
			\\copy staging FROM '$WORK/copy.tsv'
			INSERT INTO seller_analytics.events SELECT * FROM staging ON CONFLICT DO NOTHING;
			COMMIT;
		SQL
		;;
	values)
		as bench_ingest psql_b -1 -f "$WORK/copy_values.sql"
		;;
	superuser)
		psql_b -c "\\copy seller_analytics.events FROM '$WORK/copy.tsv'"
		;;
	esac
	t1=$(date +%s%N)
	n=$(rows 'SELECT count(*) FROM seller_analytics.events')
	p=$(rows 'SELECT count(*) FROM seller_analytics.pending_deltas')
	echo "$who|$round|$(((t1 - t0) / 1000000))|$n|$p" >>"$WORK/copy"
	echo "   $who round $round: $(((t1 - t0) / 1000000)) ms, $n rows, $p pending rows" >&2
}

copy_part() {
	local per_seller r k who list refused
	per_seller=$(((SEC_COPY_ROWS + SEC_SELLERS - 1) / SEC_SELLERS))
	bench_section "loading: writing $SEC_COPY_ROWS events ($SEC_SELLERS sellers x $per_seller)"
	psql_b -c "\\copy (SELECT * FROM bench.day_events('$COPY_DAY', 1, $SEC_SELLERS, $per_seller, 'c-') LIMIT $SEC_COPY_ROWS) TO '$WORK/copy.tsv'"
	# the same rows as INSERT statements of 1000 rows each
	psql_b -At >"$WORK/copy_values.sql" <<-SQL
		SET TimeZone = 'UTC';
		CREATE TEMP TABLE copy_rows (LIKE seller_analytics.events);
		\\copy copy_rows FROM '$WORK/copy.tsv'
		SELECT 'INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, session_id, traffic_source, amount, quantity) VALUES '
			   || string_agg(format('(%s, %L, %L, %L, %L, %L, %L, %L)', seller_id, event_id, event_type,
									occurred_at, session_id, traffic_source, amount, quantity), ', ' ORDER BY n)
			   || ' ON CONFLICT DO NOTHING;'
		FROM (SELECT e.*, row_number() OVER () - 1 AS n FROM copy_rows e) x
		GROUP BY n / 1000 ORDER BY n / 1000;
	SQL

	# COPY into events is refused for the ingest role
	refused=$(as bench_ingest psql_b -c "\\copy seller_analytics.events FROM '$WORK/copy.tsv'" 2>&1 || true)
	if grep -q 'COPY FROM not supported with row-level security' <<<"$refused"; then
		echo "refused: ${refused//$'\n'/ }" >"$WORK/copy_refused"
	else
		echo "NOT refused: ${refused//$'\n'/ }" >"$WORK/copy_refused"
	fi
	list=(intake staging values superuser)
	for ((r = 1; r <= SEC_COPY_ROUNDS; r++)); do
		bench_section "loading: round $r of $SEC_COPY_ROUNDS"
		for ((k = 0; k < ${#list[@]}; k++)); do
			who=${list[$(((k + r - 1) % ${#list[@]}))]}
			copy_run "$who" "$r"
		done
	done
	psql_b -c 'TRUNCATE seller_analytics.events' -c 'CHECKPOINT'
}

copy_median() {			# copy_median CONTENDER: median ms
	awk -F'|' -v w="$1" '$1 == w { print $3 }' "$WORK/copy" | median
}

in_virtualenv() {
	REPORT=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_security.XXXXXX")
	chmod 755 "$WORK"
	trap 'rm -rf "$WORK"' EXIT
	: >"$WORK/summary"
	: >"$WORK/head"
	: >"$WORK/body"
	: >"$WORK/dash"
	: >"$WORK/copy"
	report() { cat >>"$WORK/body"; }
	bench_find_server_log

	local nsellers=$((SEC_SELLERS + SEC_BIG_SELLERS))
	BENCH_PASSWORD=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b <<-SQL
		CREATE EXTENSION seller_analytics;
		CREATE SCHEMA bench;
		$(bench_sellers_sql "$nsellers")
		VACUUM (FREEZE, ANALYZE) seller_analytics.sellers;

		$(bench_event_functions_sql)

		-- txns transactions of rows events each of one seller, in the two UTC
		-- days from t0
		CREATE PROCEDURE bench.seller_pending_load(t0 timestamptz, seller bigint, txns int, rows int)
		LANGUAGE plpgsql AS \$\$
		BEGIN
			FOR i IN 1 .. txns LOOP
				INSERT INTO seller_analytics.events
				SELECT * FROM bench.day_events(t0 + (i % 2) * interval '1 day', seller, 1, rows, 'q' || i || '-');
				COMMIT;
			END LOOP;
		END
		\$\$;

		-- the login roles: every contender connects as itself
		CREATE ROLE bench_seller_small LOGIN PASSWORD '$BENCH_PASSWORD';
		CREATE ROLE bench_seller_big LOGIN PASSWORD '$BENCH_PASSWORD';
		SELECT seller_analytics.assign_seller_role('bench_seller_small', $SMALL_SELLER);
		SELECT seller_analytics.assign_seller_role('bench_seller_big', $BIG_SELLER);
		CREATE ROLE bench_owner LOGIN PASSWORD '$BENCH_PASSWORD' IN ROLE seller_analytics_owner;
		CREATE ROLE bench_app LOGIN PASSWORD '$BENCH_PASSWORD' IN ROLE seller_analytics_app;
		CREATE ROLE bench_ingest LOGIN PASSWORD '$BENCH_PASSWORD' IN ROLE seller_analytics_ingest;
	SQL
	export BENCH_PASSWORD

	# --- machine and server --------------------------------------------------
	local today
	today=$(date +%F)
	{
		echo "# Row-level security benchmark, $today"
		echo
		echo 'Written by `make bench-security` (bench/security/run.sh): the 90-day seller'
		echo 'dashboard of the ingest benchmark read by a seller'"'"'s own login role under'
		echo 'row-level security, against the same queries run by a member of'
		echo '`seller_analytics_owner` with an explicit `seller_id = ` filter, side by side in'
		echo 'one run; then loading through `event_intake` against the alternatives.'
		echo
		bench_machine
		echo "The machine is shared: other work may run beside this benchmark, which is why"
		echo "the contenders alternate in every round and the figures are medians and ratios."
		echo
		bench_server_head
		echo "- pgbench $(pgbench --version | awk '{ print $3 }'), -M prepared, one client, TCP to localhost with"
		echo "  password authentication (scram-sha-256), on the same CPUs as the server"
		echo '- settings as seen by the server:'
		echo
		rows "SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings
			  WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather',
				'jit', 'fsync', 'synchronous_commit', 'autovacuum', 'max_connections',
				'plan_cache_mode', 'password_encryption')
			  ORDER BY name" | md_table 'setting|value|source'
		echo
	} >"$WORK/head"

	# --- loading ------------------------------------------------------------------
	if has_part copy; then
		copy_part
	fi

	# --- dashboard ----------------------------------------------------------------
	if has_part dash; then
		local logoff cstat pstat
		DASH_D1=$(rows "SELECT DATE '$DASH_D0' + $SEC_DAYS - 1")
		write_scripts
		bench_section "dashboard: loading $SEC_SELLERS sellers x $SEC_DAYS days x $SEC_EVENTS events, $SEC_BIG_SELLERS x $SEC_BIG_EVENTS"
		dash_load "$DASH_D0" "$SEC_DAYS" "$SEC_SELLERS" "$SEC_EVENTS" "$SEC_BIG_SELLERS" "$SEC_BIG_EVENTS"
		bench_section "dashboard: VACUUM ANALYZE"
		psql_b -c 'VACUUM (ANALYZE) seller_analytics.events, seller_analytics.daily_metrics,
			seller_analytics.daily_traffic, seller_analytics.pending_deltas, seller_analytics.recompute_marks'
		cstat=$(rows "SELECT (SELECT count(*) FROM seller_analytics.events),
			pg_size_pretty(pg_total_relation_size('seller_analytics.events')),
			(SELECT count(*) FROM seller_analytics.daily_metrics),
			pg_size_pretty(pg_total_relation_size('seller_analytics.daily_metrics')),
			(SELECT count(*) FROM seller_analytics.daily_traffic),
			pg_size_pretty(pg_total_relation_size('seller_analytics.daily_traffic'))")
		logoff=$(log_offset)

		dash_case compacted

		bench_section "dashboard: pending deltas ($SEC_PENDING_TXNS + 2 x $SEC_SELLER_PENDING_TXNS transactions of $SEC_PENDING_ROWS events)"
		psql_b -c "CALL bench.pending_load(DATE '$DASH_D1' - 1, $SEC_SELLERS, $SEC_PENDING_TXNS, $SEC_PENDING_ROWS)" \
			-c "CALL bench.seller_pending_load(DATE '$DASH_D1' - 1, $SMALL_SELLER, $SEC_SELLER_PENDING_TXNS, $SEC_PENDING_ROWS)" \
			-c "CALL bench.seller_pending_load(DATE '$DASH_D1' - 1, $BIG_SELLER, $SEC_SELLER_PENDING_TXNS, $SEC_PENDING_ROWS)"
		pstat=$(rows "SELECT count(*), count(DISTINCT seller_id),
			count(*) FILTER (WHERE seller_id = $SMALL_SELLER), count(*) FILTER (WHERE seller_id = $BIG_SELLER)
			FROM seller_analytics.pending_deltas")
		dash_case pending

		bench_section "dashboard: a corrected order of each measured seller"
		local s
		for s in "$SMALL_SELLER" "$BIG_SELLER"; do
			psql_b -c "UPDATE seller_analytics.events SET amount = amount + 1
				WHERE (seller_id, event_id) = (SELECT seller_id, event_id FROM seller_analytics.events
											   WHERE seller_id = $s AND event_type = 'order'
												 AND occurred_at >= DATE '$DASH_D1' - 10
											   ORDER BY occurred_at LIMIT 1)"
		done
		local marks
		marks=$(rows "SELECT string_agg(seller_id || ' ' || day, ', ' ORDER BY seller_id, day) FROM seller_analytics.recompute_marks")
		dash_case corrected
		log_check dash "$logoff"

		# --- dashboard results
		local -A case_title=(
			[compacted]="compacted"
			[pending]="pending deltas"
			[corrected]="pending deltas and a recomputed day"
		)
		local c size rs ro ra p50r p99r ans plan same verdict
		for c in compacted pending corrected; do
			for size in small big; do
				rs=$(pooled "$c" "$size" seller)
				ro=$(pooled "$c" "$size" owner)
				ra=$(pooled "$c" "$size" app)
				p50r=$(ratio "$(cut -d'|' -f1 <<<"$rs")" "$(cut -d'|' -f1 <<<"$ro")")
				p99r=$(ratio "$(cut -d'|' -f3 <<<"$rs")" "$(cut -d'|' -f3 <<<"$ro")")
				summary_add "dashboard, $size seller, ${case_title[$c]}: seller login (RLS) / owner with seller_id =, p50 latency" \
					"${p50r}x ($(cut -d'|' -f1 <<<"$rs") / $(cut -d'|' -f1 <<<"$ro") ms; per round: $(printf '%.2f' "$(round_ratio "$c" "$size")")x)" \
					"<= 1.2x" "$(pass_if "$p50r <= 1.2")"
				summary_add "dashboard, $size seller, ${case_title[$c]}: the same, p99 latency" \
					"${p99r}x ($(cut -d'|' -f3 <<<"$rs") / $(cut -d'|' -f3 <<<"$ro") ms)" "-" "-"
				echo "$c|$size|$rs|$ro|$ra" >>"$WORK/pooled"
			done
		done
		for c in compacted pending corrected; do
			ans="$(cat "$WORK/answers_${c}_small"); $(cat "$WORK/answers_${c}_big")"
			verdict=PASS
			if grep -q DIFFERENT <<<"$ans"; then verdict=FAIL; fi
			summary_add "dashboard, ${case_title[$c]}: the seller's answers equal the owner's (small; big)" "$ans" "equal" "$verdict"
		done
		verdict=PASS
		local plans_ok=""
		for c in compacted pending corrected; do
			for size in small big; do
				plan=$(plan_check "$WORK/plan_${c}_${size}_seller" "$c")
				if cmp -s <(plan_shape "$WORK/plan_${c}_${size}_seller") <(plan_shape "$WORK/plan_${c}_${size}_owner"); then
					same=same
				else
					same=$(diff <(plan_shape "$WORK/plan_${c}_${size}_seller") <(plan_shape "$WORK/plan_${c}_${size}_owner") || true)
					same=$(awk '
						/^</ { sub(/^< /, ""); s[$0]++ }
						/^>/ { sub(/^> /, ""); o[$0]++ }
						END {
							for (k in s) a = a (a == "" ? "" : ", ") k " x" s[k]
							for (k in o) b = b (b == "" ? "" : ", ") k " x" o[k]
							printf "seller: %s; owner: %s", (a == "" ? "-" : a), (b == "" ? "-" : b)
						}' <<<"$same")
				fi
				echo "$c|$size|$plan|$same" >>"$WORK/plancheck"
				case $plan in yes*) ;; *) verdict=FAIL ;; esac
			done
		done
		plans_ok=$(awk -F'|' '$3 ~ /^yes/' "$WORK/plancheck" | wc -l)
		summary_add "dashboard: the seller's plans read the rollup tables by their index, with seller_id = current_seller_id() (states x sellers)" \
			"$plans_ok / $(wc -l <"$WORK/plancheck")" "all" "$verdict"
		local dfail dab dl le
		dfail=$(awk -F'|' '{ s += $7 } END { print s + 0 }' "$WORK/dash")
		dab=$(awk -F'|' '{ s += $8 } END { print s + 0 }' "$WORK/dash")
		dl=$(cut -d'|' -f1 "$WORK/log_dash")
		le=$(cut -d'|' -f2 "$WORK/log_dash")
		verdict=PASS
		if [ "$dfail" != 0 ] || [ "$dab" != 0 ] || [ "$dl" != 0 ] || [ "$le" != 0 ]; then verdict=FAIL; fi
		summary_add "dashboard: failed transactions / aborted clients / deadlocks / log ERRORs" \
			"$dfail / $dab / $dl / $le" "0 / 0 / 0 / 0" "$verdict"

		{
			echo "## Dashboard: a seller's login under row-level security against the owner's filter"
			echo
			echo "### Data"
			echo
			echo "The data of the ingest benchmark's dashboard part (\`bench.day_events\`, \`dash_load\`"
			echo "in bench/lib.sh), with fewer small sellers: $SEC_SELLERS small sellers x $SEC_DAYS days x $SEC_EVENTS"
			echo "events per seller and day, and $SEC_BIG_SELLERS big sellers (ids $BIG_SELLER to $nsellers) x $SEC_BIG_EVENTS"
			echo "events per day (UTC days $DASH_D0 to $DASH_D1), loaded through the capture trigger in"
			echo "time order, a day per transaction, compact() after every 10 days; sellers in seven"
			echo "time zones."
			echo
			echo "- loading: $((DASH_LOAD_MS / 1000)) s, $DASH_COMPACTIONS compactions: $((DASH_COMPACT_MS / 1000)) s"
			echo "- events: $(cut -d'|' -f1 <<<"$cstat") rows, $(cut -d'|' -f2 <<<"$cstat") with indexes"
			echo "- daily_metrics: $(cut -d'|' -f3 <<<"$cstat") rows, $(cut -d'|' -f4 <<<"$cstat"); daily_traffic: $(cut -d'|' -f5 <<<"$cstat") rows, $(cut -d'|' -f6 <<<"$cstat")"
			echo "- then VACUUM (ANALYZE) of events and the rollup tables (autovacuum is off in this cluster)"
			echo "- measured: small seller $SMALL_SELLER and big seller $BIG_SELLER, three states in turn:"
			echo "  - compacted: as loaded;"
			echo "  - pending deltas: then \`CALL bench.pending_load(...)\` ($SEC_PENDING_TXNS transactions of"
			echo "    $SEC_PENDING_ROWS events of random small sellers in the last two days) and"
			echo "    $SEC_SELLER_PENDING_TXNS transactions of $SEC_PENDING_ROWS events of each measured seller, not"
			echo "    compacted: pending_deltas $(cut -d'|' -f1 <<<"$pstat") rows of $(cut -d'|' -f2 <<<"$pstat") sellers, $(cut -d'|' -f3 <<<"$pstat") of seller $SMALL_SELLER,"
			echo "    $(cut -d'|' -f4 <<<"$pstat") of seller $BIG_SELLER (not analyzed since);"
			echo "  - pending deltas and a recomputed day: then an order of each measured seller"
			echo "    changed (\`UPDATE ... SET amount = amount + 1\`), so that the views recompute that"
			echo "    seller-day from raw events (recompute_seller_day()); recompute_marks: $marks."
			echo
			echo "### Contenders"
			echo
			echo "Each connects as its own login role (password authentication) and runs the three"
			echo "queries of the ingest benchmark's dashboard (\`dash_rollup_sql\` in bench/lib.sh) in"
			echo "one pgbench transaction:"
			echo
			echo "- **seller**: \`bench_seller_small\` / \`bench_seller_big\`, created LOGIN and mapped"
			echo "  with \`seller_analytics.assign_seller_role(role, $SMALL_SELLER)\` / \`($BIG_SELLER)\`: no seller filter;"
			echo "  the tenant_read policies (\`seller_id = seller_analytics.current_seller_id()\`)"
			echo "  choose the rows. Small seller's script:"
			echo
			echo '```sql'
			cat "$WORK/dash_seller_small.sql"
			echo '```'
			echo
			echo "- **owner**: \`bench_owner\`, a LOGIN member of \`seller_analytics_owner\` (as a DBA is):"
			echo "  row-level security applies (forced) with the owner_all policy, USING (true); the"
			echo "  queries with the ingest benchmark's explicit filter:"
			echo
			echo '```sql'
			cat "$WORK/dash_owner_small.sql"
			echo '```'
			echo
			echo "- **app**: \`bench_app\`, a LOGIN member of \`seller_analytics_app\`: \`SET"
			echo "  seller_analytics.seller_id = '$SMALL_SELLER'\` at the start of every transaction (as a pool"
			echo "  would on checkout), then the seller's queries. Its transaction has one statement more"
			echo "  (a round trip); the per-statement means below compare the queries alone."
			echo
			echo "pgbench -n -M prepared -c 1 -j 1 -t $SEC_TXNS -r -l per run; a warm-up run of each"
			echo "contender (not counted), then $SEC_ROUNDS rounds in which the three run one after the"
			echo "other, the order rotating.  Latencies: every transaction of the $SEC_ROUNDS rounds"
			echo "(pgbench's per-transaction log), nearest-rank percentiles, in ms."
			echo
			echo "### Latency"
			echo
			echo "seller / owner is the overhead of row-level security for the seller's own login;"
			echo "target: p50 at most 1.2x."
			echo
			# pooled: state|size|seller p50|p90|p99|mean|n|owner ...|app ...
			awk -F'|' '{
					printf "%s|%s|%s|%s|%s|%s|**%.2fx**|%.2fx|%s|%s|%.2fx|%d / %d / %d\n", $1, $2, $3, $5, $8, $10,
						($8 > 0 ? $3 / $8 : 0), ($10 > 0 ? $5 / $10 : 0), $13, $15, ($8 > 0 ? $13 / $8 : 0), $7, $12, $17
				}' "$WORK/pooled" |
				md_table 'state|seller|seller p50|seller p99|owner p50|owner p99|seller / owner p50|seller / owner p99|app p50|app p99|app / owner p50|transactions (seller / owner / app)'
			echo
			echo "Per statement (means of pgbench -r over the rounds, ms): daily metrics, traffic"
			echo "by source, p50/p90; and the transactions counted:"
			echo
			local w
			for c in compacted pending corrected; do
				for size in small big; do
					for w in $CONTENDERS; do
						awk -F'|' -v c="$c" -v s="$size" -v w="$w" '
							$1 == c && $2 == s && $3 == w { q1 += $15; q2 += $16; q3 += $17; n++; tx += $14 }
							END { if (n) printf "%s|%s|%s|%.3f|%.3f|%.3f|%d\n", c, s, w, q1 / n, q2 / n, q3 / n, tx }' "$WORK/dash"
					done
				done
			done | md_table 'state|seller|contender|daily metrics ms|traffic ms|p50/p90 ms|transactions'
			echo
			echo "<details><summary>per round: p50 (ms) of each contender and the ratio seller / owner of"
			echo "the round (the spread shows the noise; the summary gives the median of these"
			echo "ratios beside the ratio of the pooled p50s)</summary>"
			echo
			for c in compacted pending corrected; do
				for size in small big; do
					awk -F'|' -v c="$c" -v s="$size" '
						$1 == c && $2 == s { p[$4 "|" $3] = $10; if ($4 > max) max = $4 }
						END {
							for (r = 1; r <= max; r++) {
								a = p[r "|seller"]; b = p[r "|owner"]; d = p[r "|app"]
								printf "%s|%s|%d|%s|%s|%s|%.2fx\n", c, s, r, a, b, d, (b > 0 ? a / b : 0)
							}
						}' "$WORK/dash"
				done
			done | md_table 'state|seller|round|seller p50|owner p50|app p50|seller / owner'
			echo
			echo '</details>'
			echo
			echo "Answers: the seller's three queries (as its login, no filter) against the owner's"
			echo "(\`seller_id = N\`), output compared line for line:"
			echo
			for c in compacted pending corrected; do
				echo "- ${case_title[$c]}: small seller $(cat "$WORK/answers_${c}_small"), big seller $(cat "$WORK/answers_${c}_big")"
			done
			echo
			echo "Server log during the dashboard part: $dl 'deadlock detected', $le ERROR/FATAL/PANIC lines."
			if [ -s "$WORK/logerr_dash" ]; then
				echo
				echo '```'
				cat "$WORK/logerr_dash"
				echo '```'
			fi
			echo
			echo "### Plans"
			echo
			echo "The seller's queries under row-level security, as the seller's login:"
			echo "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) of each query prepared as pgbench -M prepared"
			echo "prepares it and executed six times first, so that the plan is the one the runs"
			echo "used.  The check below: daily_metrics and daily_traffic (and pending_deltas once"
			echo "it holds rows) are read only through their primary key or (seller_id, day) index"
			echo "with \`seller_id = seller_analytics.current_seller_id()\` in the index condition,"
			echo "and no table is read by a sequential scan but recompute_marks (a row per"
			echo "corrected seller-day; here at most two) and pending_deltas while it is empty."
			echo "The last column compares the plan nodes with the owner's (Result nodes left"
			echo "out): the nodes only the seller's plans have, and those only the owner's have."
			echo "The recomputation of a corrected day runs inside recompute_seller_day(), whose"
			echo "own plan EXPLAIN does not show; it is at the end, from auto_explain."
			echo
			md_table 'state|seller|the seller'"'"'s plans|plan nodes: only the seller'"'"'s; only the owner'"'"'s' <"$WORK/plancheck"
			echo
			echo "Small seller, compacted:"
			echo
			echo '```'
			cat "$WORK/plan_compacted_small_seller"
			echo '```'
			echo
			echo "Small seller, pending deltas and a recomputed day:"
			echo
			echo '```'
			cat "$WORK/plan_corrected_small_seller"
			echo '```'
			echo
			echo '<details><summary>the other plans: the seller'"'"'s in every state, the owner'"'"'s (with seller_id = $1)</summary>'
			echo
			echo '```'
			for c in compacted pending corrected; do
				for size in small big; do
					if [ "$size/$c" != small/compacted ] && [ "$size/$c" != small/corrected ]; then
						cat "$WORK/plan_${c}_${size}_seller"
					fi
					cat "$WORK/plan_${c}_${size}_owner"
				done
			done
			echo '```'
			echo
			echo '</details>'
			echo
			echo "Inside recompute_seller_day() (pending deltas and a recomputed day), as the"
			echo "seller's login and as the owner, the seventh call of the session (auto_explain,"
			echo "log_nested_statements; by then PL/pgSQL may use a generic plan, as in the runs):"
			echo
			echo '```'
			cat "$WORK/nested_small" "$WORK/nested_big"
			echo '```'
			echo
		} | report
	fi

	# --- loading results ----------------------------------------------------------
	if has_part copy; then
		local mi ms mv mu verdict
		mi=$(copy_median intake)
		ms=$(copy_median staging)
		mv=$(copy_median values)
		mu=$(copy_median superuser)
		rps() { awk -v n="$SEC_COPY_ROWS" -v m="$1" 'BEGIN { if (m > 0) printf "%.0f", n / (m / 1000); else print "NaN" }'; }
		summary_add "loading $SEC_COPY_ROWS events: COPY into event_intake (ingest role) / COPY into events (superuser), rows/s" \
			"$(ratio "$mu" "$mi")x ($(rps "$mi") / $(rps "$mu") rows/s)" "-" "-"
		summary_add "loading: COPY into a temporary table + INSERT ... ON CONFLICT DO NOTHING (ingest role) / COPY (superuser), rows/s" \
			"$(ratio "$mu" "$ms")x ($(rps "$ms") / $(rps "$mu") rows/s)" "-" "-"
		summary_add "loading: INSERT ... VALUES (1000 rows) ON CONFLICT DO NOTHING (ingest role) / COPY (superuser), rows/s" \
			"$(ratio "$mu" "$mv")x ($(rps "$mv") / $(rps "$mu") rows/s)" "-" "-"
		verdict=PASS
		case $(cat "$WORK/copy_refused") in refused*) ;; *) verdict=FAIL ;; esac
		if awk -F'|' -v n="$SEC_COPY_ROWS" '$4 != n { bad = 1 } END { exit !bad }' "$WORK/copy"; then verdict=FAIL; fi
		summary_add "loading: every load gives all $SEC_COPY_ROWS rows; COPY into events refused for the ingest role" \
			"$(awk -F'|' -v n="$SEC_COPY_ROWS" '$4 == n' "$WORK/copy" | wc -l) / $(wc -l <"$WORK/copy") loads; $(cut -d: -f1 "$WORK/copy_refused")" \
			"all; refused" "$verdict"
		{
			echo "## Loading as the ingest role"
			echo
			echo "COPY FROM into a table under row-level security is refused for everyone the"
			echo "policies apply to (PostgreSQL: \"COPY FROM not supported with row-level security\"),"
			echo "so \`seller_analytics_ingest\` loads files through the view \`event_intake\`, whose"
			echo "INSTEAD OF trigger inserts each row with ON CONFLICT DO NOTHING.  What that costs"
			echo "against the alternatives, and against the superuser's COPY into events (which"
			echo "row-level security does not apply to):"
			echo
			echo "- a file of $SEC_COPY_ROWS events (a day of the $SEC_SELLERS small sellers, \`bench.day_events\`,"
			echo "  in time order), loaded from the client (psql \`\\copy\`, COPY ... FROM STDIN) into"
			echo "  an empty events table (TRUNCATE and CHECKPOINT before each load), all through"
			echo "  the capture trigger; time: the psql run, from connecting to the commit"
			echo "- **intake**: \`bench_ingest\` (LOGIN member of seller_analytics_ingest): \`\\copy"
			echo "  seller_analytics.event_intake FROM file\`"
			echo "- **staging**: \`bench_ingest\`, one transaction: CREATE TEMP TABLE staging (the"
			echo "  columns of events; LIKE would need SELECT on events) ON COMMIT DROP, \`\\copy"
			echo "  staging FROM file\`, \`INSERT INTO seller_analytics.events SELECT * FROM staging"
			echo "  ON CONFLICT DO NOTHING\`"
			echo "- **values**: \`bench_ingest\`, one transaction of \`INSERT INTO seller_analytics.events"
			echo "  (...) VALUES (...), ... ON CONFLICT DO NOTHING\` statements of 1000 rows each"
			echo "- **superuser**: \`\\copy seller_analytics.events FROM file\` as the superuser"
			echo "- $SEC_COPY_ROUNDS rounds, the order rotating"
			echo
			echo "COPY into events as bench_ingest: $(cat "$WORK/copy_refused")"
			echo
			awk -F'|' -v n="$SEC_COPY_ROWS" '{ printf "%s|%s|%d|%.0f|%s|%s\n", $2, $1, $3, ($3 > 0 ? n / ($3 / 1000) : 0), $4, $5 }' "$WORK/copy" |
				md_table 'round|contender|ms|rows/s|rows in events|pending_deltas rows'
			echo
			echo "Medians:"
			echo
			{
				echo "intake|$mi|$(rps "$mi")|$(ratio "$mu" "$mi")x"
				echo "staging|$ms|$(rps "$ms")|$(ratio "$mu" "$ms")x"
				echo "values|$mv|$(rps "$mv")|$(ratio "$mu" "$mv")x"
				echo "superuser|$mu|$(rps "$mu")|1.00x"
			} | md_table 'contender|ms|rows/s|rows/s / superuser COPY'
			echo
		} | report
	fi

	# --- summary: the report is the header, the summary, then the sections ---
	bench_assemble_report "${BENCH_COMMAND:-make bench-security}"

	echo
	echo "== Row-level security benchmark, $today ($(nproc) CPUs, PostgreSQL $(rows 'SHOW server_version'))"
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
	"postgresql-client-$PG_MAJOR" postgresql-common make gcc procps
bench_section "build and install"
bench_build_install

bench_report security "$HERE/run.sh"
