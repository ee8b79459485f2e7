#!/usr/bin/env bash
# Ingest benchmark of the capture trigger, and the dashboard it feeds;
# `make bench-ingest` runs it.
#
# Installs the Debian packages it needs when they are missing, builds and
# installs the extension, then in a throw-away cluster (pg_virtualenv, with
# the settings in bench/lib.sh) compares two events tables of the same
# definition in one database: seller_analytics.events (with the capture
# trigger) and bench.events_plain (LIKE ... INCLUDING ALL plus the same
# foreign key to seller_analytics.sellers, no trigger):
#
#   a. pgbench, single-row INSERT ... ON CONFLICT DO NOTHING, random seller
#   b. pgbench, single-row inserts, all on one seller
#   c. pgbench, 100-row INSERT ... SELECT of random sellers in random order
#   d. one COPY of a 1 M-row file (a day of events of every seller)
#   m. one INSERT ... SELECT of INGEST_MEM_ROWS rows in one transaction: the
#      backend's peak private memory (RssAnon, sampled every 0.1 s), with
#      and without the trigger
#
# a-c: INGEST_CLIENTS clients for INGEST_SECONDS per run, INGEST_ROUNDS
# rounds per contender, plain and capture alternating (ABBA); the table is
# truncated and a checkpoint taken before every run.  During every capture
# run a second pgbench calls compact() every INGEST_COMPACT_INTERVAL seconds,
# as pg_cron would in production; its cost is the capture side's.  Figures:
# median tps and the ratio capture / plain.  Afterwards: verify_rollups
# (live, then after a final compact()) must be empty, pgbench must report no
# failed transaction and no aborted client, and the server log no deadlock
# and no ERROR.
#
# Dashboard: DASH_SELLERS sellers x DASH_DAYS days x DASH_EVENTS events per
# seller-day loaded through the capture trigger in time order (a day per
# transaction), compacted; then a seller's DASH_DAYS-day dashboard (daily
# metrics, traffic by source, order-value p50/p90) from the live views
# against the same answers from raw events, pgbench with INGEST_CLIENTS
# clients and a random seller per transaction, p99 latency from the
# per-transaction log; once compacted and once with pending deltas present.
#
# The report goes to bench/results/ingest-YYYY-MM-DD.md; a summary with
# PASS/FAIL per target is printed at the end.  About 12 minutes on 2 cores
# with the defaults.
#
# Environment (defaults in parentheses):
#   INGEST_SECONDS (15)  INGEST_ROUNDS (3)  INGEST_CLIENTS (16)
#   INGEST_THREADS (2)   INGEST_SELLERS (10000)  INGEST_BATCH (100)
#   INGEST_COPY_ROWS (1000000)  INGEST_COPY_ROUNDS (3)
#   INGEST_COMPACT_INTERVAL (5)
#   DASH_SELLERS (10000)  DASH_DAYS (90)  DASH_EVENTS (10)
#   DASH_BIG_SELLERS (20)  DASH_BIG_EVENTS (500; the big sellers' events per day)
#   DASH_SECONDS (8)  DASH_ROUNDS (3)  DASH_PENDING_TXNS (2000)
#   DASH_PENDING_ROWS (50, events per pending transaction)
#   DASH_VERIFY_DAYS (3, the last days of the range verify_rollups checks)
#   INGEST_MEM_ROWS (5000000)
#   INGEST_PARTS ("a b c d m dash": which parts to run)
#   INGEST_PERF (0; 1: perf record the backends during one more capture
#                run of a and of c, INGEST_PERF_SECONDS (8) long, and of a
#                capture COPY, and add the profiles to the report)
#   INGEST_PERF_KEEP (unset; a directory: keep the perf data there)
#   PG_CONFIG, JOBS as for bench/lib.sh
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

BENCH_SETTINGS="INGEST_SECONDS INGEST_ROUNDS INGEST_CLIENTS INGEST_THREADS INGEST_SELLERS
	INGEST_BATCH INGEST_COPY_ROWS INGEST_COPY_ROUNDS INGEST_COMPACT_INTERVAL DASH_SELLERS
	DASH_DAYS DASH_EVENTS DASH_BIG_SELLERS DASH_BIG_EVENTS DASH_SECONDS DASH_ROUNDS DASH_PENDING_TXNS DASH_PENDING_ROWS
	DASH_VERIFY_DAYS INGEST_PARTS INGEST_PERF INGEST_PERF_SECONDS INGEST_MEM_ROWS"
# the command as run, for the report
if [ "${1:-}" != "--in-virtualenv" ]; then
	bench_command bench-ingest
fi

INGEST_SECONDS=${INGEST_SECONDS:-15}
INGEST_ROUNDS=${INGEST_ROUNDS:-3}
INGEST_CLIENTS=${INGEST_CLIENTS:-16}
INGEST_THREADS=${INGEST_THREADS:-2}
INGEST_SELLERS=${INGEST_SELLERS:-10000}
INGEST_BATCH=${INGEST_BATCH:-100}
INGEST_COPY_ROWS=${INGEST_COPY_ROWS:-1000000}
INGEST_COPY_ROUNDS=${INGEST_COPY_ROUNDS:-3}
INGEST_COMPACT_INTERVAL=${INGEST_COMPACT_INTERVAL:-5}
DASH_SELLERS=${DASH_SELLERS:-10000}
DASH_DAYS=${DASH_DAYS:-90}
DASH_EVENTS=${DASH_EVENTS:-10}
DASH_BIG_SELLERS=${DASH_BIG_SELLERS:-20}
DASH_BIG_EVENTS=${DASH_BIG_EVENTS:-500}
DASH_SECONDS=${DASH_SECONDS:-8}
DASH_ROUNDS=${DASH_ROUNDS:-3}
DASH_PENDING_TXNS=${DASH_PENDING_TXNS:-2000}
DASH_PENDING_ROWS=${DASH_PENDING_ROWS:-50}
DASH_VERIFY_DAYS=${DASH_VERIFY_DAYS:-3}
INGEST_PARTS=${INGEST_PARTS:-a b c d m dash}
INGEST_MEM_ROWS=${INGEST_MEM_ROWS:-5000000}
INGEST_PERF=${INGEST_PERF:-0}
INGEST_PERF_SECONDS=${INGEST_PERF_SECONDS:-8}
export INGEST_SECONDS INGEST_ROUNDS INGEST_CLIENTS INGEST_THREADS INGEST_SELLERS \
	INGEST_BATCH INGEST_COPY_ROWS INGEST_COPY_ROUNDS INGEST_COMPACT_INTERVAL \
	DASH_SELLERS DASH_DAYS DASH_EVENTS DASH_BIG_SELLERS DASH_BIG_EVENTS DASH_SECONDS DASH_ROUNDS \
	DASH_PENDING_TXNS DASH_PENDING_ROWS DASH_VERIFY_DAYS INGEST_PARTS INGEST_PERF INGEST_PERF_SECONDS \
	INGEST_MEM_ROWS

# the events of a-c happen in these three UTC days; d's in the middle one
EV_T0='2026-11-20 00:00:00+00'
EV_SPAN=259200
COPY_DAY='2026-11-21 00:00:00+00'
# verify_rollups over every local day of a-d
VERIFY_FROM='2026-11-01'
VERIFY_TO='2026-12-31'
# the dashboard's days: local days DASH_D0 .. DASH_D0 + DASH_DAYS - 1
DASH_D0='2026-08-01'
HOT_SELLER=1
TIME_ZONES=$BENCH_TIME_ZONES

# ---------------------------------------------------------------------------
# Inside pg_virtualenv: run.sh --in-virtualenv REPORT_FILE

has_part() {
	[[ " $INGEST_PARTS " == *" $1 "* ]]
}

# statement latency (ms) of the line of pgbench -r output containing PATTERN
pgb_stmt_latency() {
	awk -v pat="$2" 'index($0, pat) > 0 && $1 ~ /^[0-9.]+$/ { print $1; exit }' "$1"
}

# The pgbench scripts.  Single-row insert: the seller is SID (a pgbench
# expression), the event type, source, time, amount and quantity random with
# the mix of bench.day_events; unique event ids from the client id and a
# random 63-bit number.
write_single_script() {		# TABLE SID_EXPR FILE
	cat >"$3" <<-EOF
		\\set sid $2
		\\set r random(1, 1000)
		\\set s random(1, 100)
		\\set t random(0, $((EV_SPAN - 1)))
		\\set g random_gaussian(-3000, 3000, 3.0)
		\\set eid random(1, 9000000000000000000)
		INSERT INTO $1 (seller_id, event_id, event_type, occurred_at, session_id, traffic_source, amount, quantity)
		VALUES (:sid::bigint, 'e' || :client_id::int || '-' || :eid::bigint,
			CASE WHEN :r::int <= 170 THEN 'session_start' WHEN :r::int <= 790 THEN 'page_view'
				 WHEN :r::int <= 910 THEN 'add_to_cart' WHEN :r::int <= 990 THEN 'order' ELSE 'refund' END,
			TIMESTAMPTZ '$EV_T0' + :t::int * INTERVAL '1 second',
			's' || :client_id::int || '-' || (:eid::bigint % 100000),
			CASE WHEN :s::int <= 2 THEN NULL WHEN :s::int <= 30 THEN 'direct' WHEN :s::int <= 60 THEN 'search'
				 WHEN :s::int <= 75 THEN 'social' WHEN :s::int <= 85 THEN 'email' WHEN :s::int <= 95 THEN 'ads'
				 ELSE 'referral' END,
			CASE WHEN :r::int > 910 THEN round(exp(3.5 + 0.8 * :g::int / 1000.0)::numeric, 2) END,
			CASE WHEN :r::int > 910 AND :r::int <= 990 THEN 1 + :eid::bigint % 3 END)
		ON CONFLICT DO NOTHING;
	EOF
}

# INGEST_BATCH rows of random sellers in one INSERT ... SELECT
write_batch_script() {		# TABLE FILE
	cat >"$2" <<-EOF
		\\set eid random(1, 9000000000000000000)
		INSERT INTO $1 (seller_id, event_id, event_type, occurred_at, session_id, traffic_source, amount, quantity)
		SELECT x.sid, 'b' || :client_id::int || '-' || :eid::bigint || '-' || x.g,
			CASE WHEN x.r < 0.17 THEN 'session_start' WHEN x.r < 0.79 THEN 'page_view'
				 WHEN x.r < 0.91 THEN 'add_to_cart' WHEN x.r < 0.99 THEN 'order' ELSE 'refund' END,
			TIMESTAMPTZ '$EV_T0' + x.t * INTERVAL '1 second',
			's' || x.sid || '-' || (:eid::bigint % 100000),
			CASE WHEN x.s < 0.02 THEN NULL WHEN x.s < 0.30 THEN 'direct' WHEN x.s < 0.60 THEN 'search'
				 WHEN x.s < 0.75 THEN 'social' WHEN x.s < 0.85 THEN 'email' WHEN x.s < 0.95 THEN 'ads'
				 ELSE 'referral' END,
			CASE WHEN x.r >= 0.91 THEN round(exp(3.5 + 0.8 * x.n)::numeric, 2) END,
			CASE WHEN x.r >= 0.91 AND x.r < 0.99 THEN 1 + x.g % 3 END
		FROM (SELECT g, 1 + floor(random() * $INGEST_SELLERS)::bigint AS sid, random() AS r,
					 random() AS s, floor(random() * $EV_SPAN)::int AS t,
					 sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n
			  FROM generate_series(1, $INGEST_BATCH) g) x
		ON CONFLICT DO NOTHING;
	EOF
}

table_of() {
	if [ "$1" = capture ]; then echo seller_analytics.events; else echo bench.events_plain; fi
}

# fresh_table CONTENDER: empty table (and rollups), checkpoint
fresh_table() {
	if [ "$1" = capture ]; then
		# the truncate trigger empties the rollup tables too
		psql_b -c 'TRUNCATE seller_analytics.events' -c 'CHECKPOINT'
	else
		psql_b -c 'TRUNCATE bench.events_plain' -c 'CHECKPOINT'
	fi
}

# ingest_run PART CONTENDER ROUND: one timed pgbench run; appends
# "part|contender|round|tps|processed|failed|aborted|lat|rows|pending_left|compactions|compact_ms|compact_failed"
# to $WORK/ingest
ingest_run() {
	local part=$1 who=$2 round=$3 script=$WORK/script_$1_$2.sql
	local out=$WORK/pgb_${part}_${who}_$round.out cout=$WORK/compact_${part}_$round.out
	local cpid="" res rowsin pending=- ncomp=- compms=- compfail=-
	fresh_table "$who"
	if [ "$who" = capture ]; then
		# the compaction loop: one client, compact() every interval
		pgb "$cout" -c 1 -j 1 -T "$INGEST_SECONDS" -r -f "$WORK/compact.sql" &
		cpid=$!
	fi
	pgb "$out" -M prepared -c "$INGEST_CLIENTS" -j "$INGEST_THREADS" -T "$INGEST_SECONDS" -f "$script"
	if [ -n "$cpid" ]; then
		wait "$cpid" || true
		local cp
		cp=$(pgb_parse "$cout")
		ncomp=$(cut -d'|' -f2 <<<"$cp")
		compfail=$(( $(cut -d'|' -f3 <<<"$cp") + $(cut -d'|' -f4 <<<"$cp") ))
		compms=$(pgb_stmt_latency "$cout" 'compact()')
		pending=$(rows 'SELECT count(*) FROM seller_analytics.pending_deltas')
	fi
	res=$(pgb_parse "$out")
	rowsin=$(rows "SELECT count(*) FROM $(table_of "$who")")
	echo "$part|$who|$round|$res|$rowsin|$pending|$ncomp|${compms:-NaN}|$compfail" >>"$WORK/ingest"
	printf '   %s %-7s round %d: %s tps (processed %s, failed %s, aborted %s)%s\n' "$part" "$who" "$round" \
		"$(cut -d'|' -f1 <<<"$res")" "$(cut -d'|' -f2 <<<"$res")" "$(cut -d'|' -f3 <<<"$res")" \
		"$(cut -d'|' -f4 <<<"$res")" \
		"$([ "$who" = capture ] && echo ", $ncomp compactions of ${compms:-?} ms, $pending pending at the end")" >&2
}

# verify_capture PART: a final compact() (folding what the loop left), then
# verify_rollups over every day of the part;
# "pending_before|rows|pending_after|events|verify_ms|compact_ms" to
# $WORK/verify_PART
verify_capture() {
	local part=$1 before comp pend ev t0 t1 cms
	before=$(rows 'SELECT count(*) FROM seller_analytics.pending_deltas')
	cms=$(psql_b -c '\timing on' -c 'SELECT * FROM seller_analytics.compact()' | awk '$1 == "Time:" { print $2 }')
	t0=$(date +%s%N)
	comp=$(rows "SELECT count(*) FROM seller_analytics.verify_rollups('$VERIFY_FROM', '$VERIFY_TO')")
	t1=$(date +%s%N)
	pend=$(rows 'SELECT count(*) FROM seller_analytics.pending_deltas')
	ev=$(rows 'SELECT count(*) FROM seller_analytics.events')
	echo "$before|$comp|$pend|$ev|$(((t1 - t0) / 1000000))|$cms" >"$WORK/verify_$part"
	# keep a few differing rows for the report
	if [ "$comp" != 0 ]; then
		rows "SELECT * FROM seller_analytics.verify_rollups('$VERIFY_FROM', '$VERIFY_TO') LIMIT 10" >"$WORK/verify_rows_$part"
	fi
}

# perf_summary DATA COMPACT_PID: where the backends' samples went, from the
# call stacks (postgres is stripped of static symbols, the module is not)
perf_summary() {
	perf script -i "$1" -F pid,ip,sym 2>/dev/null | awk -v cpid="${2:-0}" '
		function flush_sample(   i, f, under, tz, infl) {
			if (n == 0) return
			total++
			if (pid == cpid) {
				compact++
				cleaf[fr[1]]++
				for (i = 1; i <= n; i++) if (fr[i] ~ /^ExecInsert$|^ExecDelete$|^ExecAgg$|^ExecHashJoin|^ExecOnConflictUpdate$|^percentile_sketch_merge$|^percentile_merge/) { cpart[fr[i]]++ }
				n = 0
				return
			}
			client++
			leaf[fr[1]]++
			infl = 0
			for (i = 1; i <= n; i++) {
				f = fr[i]
				if (f == "seller_analytics_capture_events") { trig++ }
				if (f == "ReadEvent") {
					read++
					under = (i > 1) ? fr[i - 1] : ""
					if (under ~ /^(systable_|table_open|relation_close|relation_open|hash_create|hash_destroy|pg_tzset|pg_tz_acceptable|get_attnum|get_namespace_oid|get_relname_relid|RelationGetPrimaryKeyIndex|RegisterSnapshot|UnregisterSnapshot|GetLatestSnapshot|SellerTimeZone|LookupTimeZone|index_|ScanKeyInit)/)
						tzl++
				}
				if (f == "AddEvent") add++
				if (f ~ /^Flush(Level)?([.]|$)/ && !infl) {
					fl++
					infl = 1
					if (i > 1) flunder[fr[i - 1]]++
				}
			}
			n = 0
		}
		function top(arr, k, label, denom,   key, best, bk, j, used) {
			for (j = 1; j <= k; j++) {
				best = 0; bk = ""
				for (key in arr) if (!(key in used) && arr[key] > best) { best = arr[key]; bk = key }
				if (bk == "") break
				used[bk] = 1
				printf "| %s: %s | %d | %.1f %% |\n", label, bk, best, 100 * best / denom
			}
		}
		/^ *[0-9]+ *$/ { flush_sample(); pid = $1 + 0; next }
		/^\t+ *[0-9a-f]+ / { s = $2; for (k = 3; k <= NF; k++) s = s " " $k; sub(/\+0x[0-9a-f]+$/, "", s); fr[++n] = s; next }
		/^[ \t]*$/ { flush_sample() }
		END {
			flush_sample()
			if (total == 0) { print "no samples"; exit }
			printf "| samples, all backends | %d | 100 %% |\n", total
			printf "| compaction loop backend | %d | %.1f %% |\n", compact, 100 * compact / total
			printf "| insert backends | %d | %.1f %% |\n", client, 100 * client / total
			printf "| capture trigger (capture_events, per row) | %d | %.1f %% |\n", trig, 100 * trig / total
			printf "| - ReadEvent (columns, seller time zone, local day) | %d | %.1f %% |\n", read, 100 * read / total
			printf "| - - seller time-zone lookups (sellers index scans, LookupTimeZone) | %d | %.1f %% |\n", tzl, 100 * tzl / total
			printf "| - AddEvent (hash table, sums, sketch) | %d | %.1f %% |\n", add, 100 * add / total
			printf "| Flush of the captured changes to pending_deltas | %d | %.1f %% |\n", fl, 100 * fl / total
			top(flunder, 6, "- called by the Flush", total)
			top(cpart, 8, "compaction, under", total)
			top(cleaf, 6, "compaction, self", total)
			top(leaf, 10, "insert backends, self", total)
		}'
}

# perf_keep DATA COMPACT_PID: moves the perf data to INGEST_PERF_KEEP (a
# directory) when set, for a closer look (perf report -i), else removes it
perf_keep() {
	if [ -n "${INGEST_PERF_KEEP:-}" ]; then
		mkdir -p "$INGEST_PERF_KEEP"
		mv "$1" "$INGEST_PERF_KEEP/"
		echo "$2" >"$INGEST_PERF_KEEP/$(basename "$1" .data).compact_pid"
	else
		rm -f "$1"
	fi
}

# perf_profile PART SCRIPT: one more capture run under perf record (the
# backends of database bench), summary to $WORK/perf_PART
perf_profile() {
	local part=$1 script=$2 pids cpid_db data=$WORK/perf_$1.data
	if ! command -v perf >/dev/null 2>&1; then
		echo "perf is not installed" >"$WORK/perf_$part"
		return
	fi
	fresh_table capture
	PGAPPNAME=bench_compact pgb "$WORK/compact_perf_$part.out" -c 1 -j 1 -T "$INGEST_PERF_SECONDS" -r -f "$WORK/compact.sql" &
	local cpid=$!
	pgb "$WORK/pgb_perf_$part.out" -M prepared -c "$INGEST_CLIENTS" -j "$INGEST_THREADS" -T "$INGEST_PERF_SECONDS" -f "$script" &
	local bpid=$!
	sleep 2
	pids=$(rows "SELECT string_agg(pid::text, ',') FROM pg_stat_activity WHERE datname = 'bench' AND pid <> pg_backend_pid()")
	cpid_db=$(rows "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_compact' LIMIT 1")
	perf record -q -F 499 -g -o "$data" -p "$pids" -- sleep $((INGEST_PERF_SECONDS > 5 ? INGEST_PERF_SECONDS - 3 : 2)) >/dev/null 2>&1 || true
	wait "$bpid" "$cpid" || true
	{
		echo "perf record -F 499 -g of the backends of database bench during a capture run of $part"
		echo "($(pgb_parse "$WORK/pgb_perf_$part.out" | cut -d'|' -f1) tps); shares of the samples whose call stack holds the function:"
		echo
		echo "| where | samples | share |"
		echo "|---|---|---|"
		perf_summary "$data" "${cpid_db:-0}"
	} >"$WORK/perf_$part"
	perf_keep "$data" "${cpid_db:-0}"
}

# perf_profile_copy FILE: one more capture COPY under perf record
perf_profile_copy() {
	local file=$1 data=$WORK/perf_d.data pid ms
	if ! command -v perf >/dev/null 2>&1; then
		echo "perf is not installed" >"$WORK/perf_d"
		return
	fi
	fresh_table capture
	PGAPPNAME=bench_perf_copy psql_b -c 'SELECT pg_sleep(2)' -c '\timing on' -c "COPY seller_analytics.events FROM '$file'" >"$WORK/perf_copy.out" 2>&1 &
	local ppid=$!
	sleep 1
	pid=$(rows "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_perf_copy' LIMIT 1")
	# ends when the backend exits
	perf record -q -F 499 -g -o "$data" -p "$pid" >/dev/null 2>&1 || true
	wait "$ppid" || true
	ms=$(awk '$1 == "Time:" { print $2 }' "$WORK/perf_copy.out")
	{
		echo "perf record -F 499 -g of the backend running a capture COPY of $INGEST_COPY_ROWS rows ($ms ms"
		echo "under perf); shares of the samples whose call stack holds the function:"
		echo
		echo "| where | samples | share |"
		echo "|---|---|---|"
		perf_summary "$data" 0
	} >"$WORK/perf_d"
	perf_keep "$data" 0
}

# --- m: memory of one large transaction -----------------------------------------

# mem_run CONTENDER: one INSERT ... SELECT of INGEST_MEM_ROWS rows (a day of
# events of INGEST_SELLERS sellers) in one transaction into an empty table;
# the backend's anonymous resident memory (RssAnon of /proc/PID/status:
# its private heap, not the shared buffers) read every 0.1 s, and by
# pg_backend_memory_contexts before the statement; appends
# "contender|rows|ms|idle_kb|peak_kb|pending_rows" to $WORK/mem
mem_run() {
	local who=$1 per_seller out=$WORK/mem_$1.out pid ppid kb peak=0 idle=0 ms pend=-
	per_seller=$(((INGEST_MEM_ROWS + INGEST_SELLERS - 1) / INGEST_SELLERS))
	fresh_table "$who"
	PGAPPNAME=bench_mem psql_b -c 'SELECT pg_sleep(2)' -c '\timing on' -c 'BEGIN' \
		-c "INSERT INTO $(table_of "$who") SELECT * FROM bench.day_events('$COPY_DAY', 1, $INGEST_SELLERS, $per_seller, 'm-') LIMIT $INGEST_MEM_ROWS" \
		-c 'COMMIT' >"$out" 2>&1 &
	ppid=$!
	sleep 1
	pid=$(rows "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench_mem' LIMIT 1")
	idle=$(awk '$1 == "RssAnon:" { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
	while kill -0 "$ppid" 2>/dev/null; do
		kb=$(awk '$1 == "RssAnon:" { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		if [ -n "$kb" ] && ((kb > peak)); then peak=$kb; fi
		sleep 0.1
	done
	wait "$ppid" || true
	# INSERT and COMMIT
	ms=$(awk '$1 == "Time:" { s += $2 } END { print s + 0 }' "$out")
	if [ "$who" = capture ]; then
		pend=$(rows 'SELECT count(*) FROM seller_analytics.pending_deltas')
	fi
	echo "$who|$(rows "SELECT count(*) FROM $(table_of "$who")")|$ms|$idle|$peak|$pend" >>"$WORK/mem"
	echo "   m $who: $ms ms, RssAnon idle $idle kB, peak $peak kB, $pend pending rows" >&2
}

# --- dashboard ----------------------------------------------------------------

write_dash_scripts() {
	local d0=$DASH_D0 d1 ts0 ts1
	d1=$(rows "SELECT DATE '$DASH_D0' + $DASH_DAYS - 1")
	# an instant's local day is within two days of its UTC date (as the
	# install script's recomputation assumes): bounds for the index
	ts0="(DATE '$d0' - 2)::timestamp AT TIME ZONE 'UTC'"
	ts1="(DATE '$d1' + 3)::timestamp AT TIME ZONE 'UTC'"
	DASH_D1=$d1
	{
		echo "\\set sid random(1, $DASH_SELLERS)"
		dash_rollup_sql "$d0" "$d1" 'seller_id = :sid AND '
	} >"$WORK/dash_rollup.sql"
	# the raw answers as an application would write them: events joined to
	# sellers, the local day by AT TIME ZONE (what local_day() computes)
	local from="FROM seller_analytics.events e JOIN seller_analytics.sellers s ON s.seller_id = e.seller_id"
	local where="WHERE e.seller_id = :sid AND e.occurred_at >= $ts0 AND e.occurred_at < $ts1 AND (e.occurred_at AT TIME ZONE s.time_zone)::date BETWEEN DATE '$d0' AND DATE '$d1'"
	cat >"$WORK/dash_raw.sql" <<-EOF
		\\set sid random(1, $DASH_SELLERS)
		SELECT (e.occurred_at AT TIME ZONE s.time_zone)::date AS day, count(*) FILTER (WHERE e.event_type = 'session_start') AS sessions, count(*) FILTER (WHERE e.event_type = 'page_view') AS page_views, count(*) FILTER (WHERE e.event_type = 'add_to_cart') AS add_to_carts, count(*) FILTER (WHERE e.event_type = 'order') AS orders, coalesce(sum(coalesce(e.quantity, 1)) FILTER (WHERE e.event_type = 'order'), 0) AS units, coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'order'), 0) AS revenue, count(*) FILTER (WHERE e.event_type = 'refund') AS refunds, coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'refund'), 0) AS refund_amount, count(*) FILTER (WHERE e.event_type = 'order') / nullif(count(*) FILTER (WHERE e.event_type = 'session_start'), 0)::numeric AS conversion_rate, sum(e.amount) FILTER (WHERE e.event_type = 'order') / nullif(count(*) FILTER (WHERE e.event_type = 'order'), 0) AS avg_order_value $from $where GROUP BY 1 ORDER BY 1;
		SELECT coalesce(e.traffic_source, 'unknown') AS traffic_source, count(*) FILTER (WHERE e.event_type = 'session_start') AS sessions, count(*) FILTER (WHERE e.event_type = 'page_view') AS page_views, count(*) FILTER (WHERE e.event_type = 'order') AS orders, coalesce(sum(e.amount) FILTER (WHERE e.event_type = 'order'), 0) AS revenue, count(*) FILTER (WHERE e.event_type = 'order') / nullif(count(*) FILTER (WHERE e.event_type = 'session_start'), 0)::numeric AS conversion_rate $from $where GROUP BY 1 HAVING count(*) FILTER (WHERE e.event_type IN ('session_start', 'page_view', 'order')) > 0 ORDER BY 1;
		SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY e.amount) $from $where AND e.event_type = 'order';
	EOF
	# the big sellers: the same queries
	local w
	for w in rollup raw; do
		{
			printf '\\set sid random(%d, %d)\n' $((DASH_SELLERS + 1)) $((DASH_SELLERS + DASH_BIG_SELLERS))
			tail -n +2 "$WORK/dash_$w.sql"
		} >"$WORK/dash_${w}_big.sql"
	done
}

# dash_run CASE CONTENDER ROUND: appends
# "case|contender|round|tps|processed|failed|aborted|p50|p90|p99|mean|n|q1|q2|q3"
# to $WORK/dash
dash_run() {
	local case=$1 who=$2 round=$3 out=$WORK/dash_$1_$2_$3.out prefix=$WORK/dashlog_$1_$2_$3
	local res pct q1 q2 q3
	rm -f "$prefix".*
	local script=$WORK/dash_$who.sql
	if [ "$case" = big ]; then script=$WORK/dash_${who}_big.sql; fi
	pgb "$out" -M prepared -c "$INGEST_CLIENTS" -j "$INGEST_THREADS" -T "$DASH_SECONDS" -r \
		-l --log-prefix="$prefix" -f "$script"
	res=$(pgb_parse "$out")
	# per-transaction log: client_id transaction_no time(µs) script_no epoch µs
	pct=$(cat "$prefix".* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { print $3 }' | percentiles)
	rm -f "$prefix".*
	# -r: "latency failures statement" per statement
	q1=$(awk '$1 ~ /^[0-9.]+$/ && index($0, "SELECT") { n++; if (n == 1) print $1 }' "$out")
	q2=$(awk '$1 ~ /^[0-9.]+$/ && index($0, "SELECT") { n++; if (n == 2) print $1 }' "$out")
	q3=$(awk '$1 ~ /^[0-9.]+$/ && index($0, "SELECT") { n++; if (n == 3) print $1 }' "$out")
	echo "$case|$who|$round|$res|$pct|${q1:-NaN}|${q2:-NaN}|${q3:-NaN}" >>"$WORK/dash"
	printf '   %-9s %-6s round %d: %s tps, p50 %s ms, p99 %s ms (failed %s, aborted %s)\n' "$case" "$who" "$round" \
		"$(cut -d'|' -f1 <<<"$res")" "$(cut -d'|' -f1 <<<"$pct")" "$(cut -d'|' -f3 <<<"$pct")" \
		"$(cut -d'|' -f3 <<<"$res")" "$(cut -d'|' -f4 <<<"$res")" >&2
}

# median of field F (1-based, of the dash lines) for CASE, CONTENDER
dash_median() {
	awk -F'|' -v c="$1" -v w="$2" -v f="$3" '$1 == c && $2 == w { print $f }' "$WORK/dash" | median
}

ingest_median() {
	awk -F'|' -v p="$1" -v w="$2" -v f="$3" '$1 == p && $2 == w { print $f }' "$WORK/ingest" | median
}

ingest_sum() {
	awk -F'|' -v p="$1" -v f="$2" '$1 == p && $f ~ /^[0-9]+$/ { s += $f } END { print s + 0 }' "$WORK/ingest"
}

in_virtualenv() {
	REPORT=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_ingest.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	: >"$WORK/summary"
	: >"$WORK/head"
	: >"$WORK/body"
	: >"$WORK/ingest"
	: >"$WORK/dash"
	report() { cat >>"$WORK/body"; }

	# the server log (pg_virtualenv's cluster 15/regress)
	bench_find_server_log

	local nsellers=$((INGEST_SELLERS > DASH_SELLERS + DASH_BIG_SELLERS ? INGEST_SELLERS : DASH_SELLERS + DASH_BIG_SELLERS))
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b <<-SQL
		CREATE EXTENSION seller_analytics;
		CREATE SCHEMA bench;
		$(bench_sellers_sql "$nsellers")
		-- the same table without the capture trigger
		CREATE TABLE bench.events_plain (LIKE seller_analytics.events INCLUDING ALL);
		ALTER TABLE bench.events_plain ADD FOREIGN KEY (seller_id)
			REFERENCES seller_analytics.sellers (seller_id);
		VACUUM (FREEZE, ANALYZE) seller_analytics.sellers;

		$(bench_event_functions_sql)
	SQL

	# the two tables' definitions, triggers aside
	local def_sql def_cap def_plain same_def
	def_sql="SELECT string_agg(x, E'\n' ORDER BY x) FROM (
		SELECT 'column ' || attname::text || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' not null' ELSE '' END
		FROM pg_attribute WHERE attrelid = '%s'::regclass AND attnum > 0 AND NOT attisdropped
		UNION ALL
		SELECT 'constraint ' || contype::text || ' ' || pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = '%s'::regclass
		UNION ALL
		SELECT 'index ' || regexp_replace(pg_get_indexdef(indexrelid), '^.* USING ', '') FROM pg_index WHERE indrelid = '%s'::regclass) d(x)"
	# shellcheck disable=SC2059
	def_cap=$(rows "$(printf "$def_sql" seller_analytics.events seller_analytics.events seller_analytics.events)")
	# shellcheck disable=SC2059
	def_plain=$(rows "$(printf "$def_sql" bench.events_plain bench.events_plain bench.events_plain)")
	if [ "$def_cap" = "$def_plain" ]; then same_def=yes; else same_def=no; fi
	summary_add "same definition of both tables (columns, PK, index, CHECKs, FK)" "$same_def" "yes" \
		"$([ "$same_def" = yes ] && echo PASS || echo FAIL)"

	# the compaction loop's script
	cat >"$WORK/compact.sql" <<-EOF
		\\sleep $INGEST_COMPACT_INTERVAL s
		SELECT * FROM seller_analytics.compact();
	EOF
	local w
	for w in plain capture; do
		write_single_script "$(table_of $w)" "random(1, $INGEST_SELLERS)" "$WORK/script_a_$w.sql"
		write_single_script "$(table_of $w)" "$HOT_SELLER" "$WORK/script_b_$w.sql"
		write_batch_script "$(table_of $w)" "$WORK/script_c_$w.sql"
	done

	# --- machine and server --------------------------------------------------
	local today
	today=$(date +%F)
	{
		echo "# Ingest benchmark of the capture trigger, $today"
		echo
		echo 'Written by `make bench-ingest` (bench/ingest/run.sh): inserts into'
		echo '`seller_analytics.events` (capture trigger) against the same inserts into'
		echo '`bench.events_plain` (same columns, primary key, index, CHECKs and foreign key'
		echo 'to sellers; no trigger), in one database and one run; then a 90-day seller'
		echo 'dashboard from the live views against the same answers from raw events.'
		echo
		bench_machine
		echo "The machine is shared: other work ran beside this benchmark, which is why"
		echo "the contenders alternate in every round and the figures are medians and ratios."
		echo
		bench_server_head
		echo "- fsync is off (as pg_virtualenv sets it) and synchronous_commit on: every commit"
		echo "  still writes its WAL, but nothing waits for the disk.  Deliberately: with fsync on,"
		echo "  the WAL flush per commit of this VM's disk would dominate the single-row runs and"
		echo "  hide the trigger's CPU cost, so the ratios here are the stricter ones."
		echo "- pgbench $(pgbench --version | awk '{ print $3 }'), -M prepared, TCP to localhost, on the same 2 CPUs as the server"
		echo '- settings as seen by the server:'
		echo
		rows "SELECT name, setting || coalesce(' ' || unit, ''), source FROM pg_settings
			  WHERE name IN ('shared_buffers', 'work_mem', 'max_parallel_workers_per_gather',
				'jit', 'fsync', 'synchronous_commit', 'full_page_writes', 'wal_level',
				'autovacuum', 'max_wal_size', 'checkpoint_timeout', 'max_connections')
			  ORDER BY name" | md_table 'setting|value|source'
		echo
	} >"$WORK/head"

	{
		echo '## Set-up'
		echo
		echo "- $nsellers sellers in seven time zones (round robin): $TIME_ZONES."
		echo "- \`seller_analytics.events\`: the extension's table, with the \`capture\` trigger."
		echo "- \`bench.events_plain\`: \`CREATE TABLE bench.events_plain (LIKE seller_analytics.events"
		echo "  INCLUDING ALL)\` plus the same foreign key to sellers.  Definitions identical"
		echo "  (columns, not-null, primary key, \`(seller_id, occurred_at)\` index, six CHECKs,"
		echo "  foreign key), triggers aside: **$same_def**."
		echo "- Event mix (pgbench scripts and \`bench.day_events\`): 17 % session_start,"
		echo "  62 % page_view, 12 % add_to_cart, 8 % order (amount exp(N(3.5, 0.8)), quantity"
		echo "  1-3), 1 % refund (amount); sources 28 % direct, 30 % search, 15 % social, 10 %"
		echo "  email, 10 % ads, 5 % referral, 2 % none (\"unknown\"); occurred_at uniform in"
		echo "  three UTC days from $EV_T0 (d: one day from $COPY_DAY)."
		echo "- Every run starts from an empty table (TRUNCATE; the capture table's truncate"
		echo "  trigger empties the rollups and pending_deltas too) after a CHECKPOINT."
		echo "- Compaction: during every capture run of a-c a second pgbench (one client) runs"
		echo "  \`\\sleep $INGEST_COMPACT_INTERVAL s; SELECT * FROM seller_analytics.compact();\` in a loop,"
		echo "  as pg_cron would (every minute by default; every $INGEST_COMPACT_INTERVAL s here, which is"
		echo "  harsher).  Its CPU is charged to the capture side (plain runs have no such loop)."
		echo "- Errors: pgbench's failed transactions and aborted clients, and the server log's"
		echo "  ERROR/FATAL/PANIC lines of database bench (or of no database) during each part."
		echo
	} | report

	# --- local_day() against AT TIME ZONE (the raw side of verify_rollups,
	# event_facts, recomputations) ---------------------------------------------
	local zone ld at
	: >"$WORK/localday"
	for zone in America/New_York UTC; do
		{
			echo '\o /dev/null'
			echo '\timing on'
			for r in 0 1 2 3; do
				echo "\\echo @$r local_day"
				echo "SELECT count(seller_analytics.local_day(TIMESTAMPTZ '$EV_T0' + i * interval '1 minute', '$zone')) FROM generate_series(1, 200000) i;"
				echo "\\echo @$r at_time_zone"
				echo "SELECT count(((TIMESTAMPTZ '$EV_T0' + i * interval '1 minute') AT TIME ZONE '$zone')::date) FROM generate_series(1, 200000) i;"
			done
		} | psql_b | awk '$1 ~ /^@/ { round = substr($1, 2); name = $2; next }
			$1 == "Time:" && round > 0 { print name, $2 }' >"$WORK/localday_raw"
		ld=$(awk '$1 == "local_day" { print $2 }' "$WORK/localday_raw" | median)
		at=$(awk '$1 == "at_time_zone" { print $2 }' "$WORK/localday_raw" | median)
		echo "$zone|$(awk -v m="$ld" 'BEGIN { printf "%.2f", m * 1000 / 200000 }')|$(awk -v m="$at" 'BEGIN { printf "%.2f", m * 1000 / 200000 }')|$(ratio "$ld" "$at")" >>"$WORK/localday"
	done
	summary_add "local_day(t, 'America/New_York') per call (AT TIME ZONE ...::date)" \
		"$(awk -F'|' 'NR == 1 { printf "%s us (%s us), %sx", $2, $3, $4 }' "$WORK/localday")" "-" "-"
	{
		echo "local_day() (used by event_facts, verify_rollups, the recomputations and the"
		echo "time-zone trigger; the capture trigger does the same zone lookup once per seller"
		echo "and backend) against the built-in \`(t AT TIME ZONE zone)::date\`: 200 000 calls,"
		echo "median of 3 rounds, per call:"
		echo
		md_table 'zone|local_day() us|AT TIME ZONE us|ratio' <"$WORK/localday"
		echo
	} | report

	# --- a-c: pgbench ----------------------------------------------------------
	local part r first second
	for part in a b c; do
		has_part "$part" || continue
		local logoff
		logoff=$(log_offset)
		bench_section "$part. pgbench, $INGEST_ROUNDS rounds x (plain, capture) x $INGEST_SECONDS s"
		for ((r = 1; r <= INGEST_ROUNDS; r++)); do
			if ((r % 2)); then first=plain; second=capture; else first=capture; second=plain; fi
			# the capture run that ends the part leaves its data for verify
			if ((r == INGEST_ROUNDS)) && [ "$second" = plain ]; then
				ingest_run "$part" plain "$r"
				ingest_run "$part" capture "$r"
			else
				ingest_run "$part" "$first" "$r"
				ingest_run "$part" "$second" "$r"
			fi
		done
		bench_section "$part. verify_rollups"
		verify_capture "$part"
		log_check "$part" "$logoff"
		if [ "$INGEST_PERF" = 1 ] && { [ "$part" = a ] || [ "$part" = c ]; }; then
			bench_section "$part. perf profile of a capture run"
			perf_profile "$part" "$WORK/script_${part}_capture.sql"
		fi
	done

	# --- d: COPY ---------------------------------------------------------------
	if has_part d; then
		local logoff copyfile per_seller ms
		logoff=$(log_offset)
		per_seller=$(((INGEST_COPY_ROWS + INGEST_SELLERS - 1) / INGEST_SELLERS))
		copyfile="$(rows 'SHOW data_directory')/bench_ingest_copy.tsv"
		bench_section "d. writing the COPY file ($INGEST_SELLERS sellers x $per_seller events)"
		psql_b -c "COPY (SELECT * FROM bench.day_events('$COPY_DAY', 1, $INGEST_SELLERS, $per_seller, 'c-')
			LIMIT $INGEST_COPY_ROWS) TO '$copyfile'"
		: >"$WORK/copy"
		for ((r = 1; r <= INGEST_COPY_ROUNDS; r++)); do
			if ((r % 2)) || ((r == INGEST_COPY_ROUNDS)); then first=plain; second=capture; else first=capture; second=plain; fi
			for w in $first $second; do
				bench_section "d. COPY round $r, $w"
				fresh_table "$w"
				ms=$(psql_b -c '\timing on' -c "COPY $(table_of "$w") FROM '$copyfile'" |
					awk '$1 == "Time:" { print $2 }')
				local cms=- pend=-
				if [ "$w" = capture ]; then
					pend=$(rows 'SELECT count(*) FROM seller_analytics.pending_deltas')
					if ((r < INGEST_COPY_ROUNDS)); then
						cms=$(psql_b -c '\timing on' -c 'SELECT * FROM seller_analytics.compact()' |
							awk '$1 == "Time:" { print $2 }')
					fi
				fi
				echo "$w|$r|$ms|$pend|$cms" >>"$WORK/copy"
				echo "   d $w round $r: $ms ms$([ "$w" = capture ] && echo ", $pend pending rows, compact() $cms ms")" >&2
			done
		done
		# the last capture COPY: compact (timed), then verify
		bench_section "d. compact() and verify_rollups"
		verify_capture d
		awk -F'|' -v c="$(cut -d'|' -f6 "$WORK/verify_d")" -v r="$INGEST_COPY_ROUNDS" 'BEGIN { OFS = "|" } $1 == "capture" && $2 == r { $5 = c } { print }' \
			"$WORK/copy" >"$WORK/copy.tmp" && mv "$WORK/copy.tmp" "$WORK/copy"
		log_check d "$logoff"
		if [ "$INGEST_PERF" = 1 ]; then
			bench_section "d. perf profile of a capture COPY"
			perf_profile_copy "$copyfile"
		fi
		rm -f "$copyfile" || true
	fi

	# --- m: memory of one large transaction ----------------------------------------
	if has_part m; then
		local logoff
		logoff=$(log_offset)
		: >"$WORK/mem"
		for w in plain capture; do
			bench_section "m. one transaction of $INGEST_MEM_ROWS rows, $w"
			mem_run "$w"
		done
		bench_section "m. compact() and verify_rollups"
		verify_capture m
		log_check m "$logoff"
	fi

	# --- ingest results -----------------------------------------------------------
	local -A target=([a]=0.85 [b]=0.85 [c]=0.75 [d]=0.70)
	local -A title=(
		[a]="single-row inserts, random seller of $INGEST_SELLERS"
		[b]="single-row inserts, all on seller $HOT_SELLER"
		[c]="$INGEST_BATCH-row INSERT ... SELECT, random sellers in random order"
		[d]="COPY of $INGEST_COPY_ROWS rows (a day of events of $INGEST_SELLERS sellers)"
	)
	local -A rowsper=([a]=1 [b]=1 [c]=$INGEST_BATCH)
	if [ -s "$WORK/ingest" ] || [ -s "${WORK}/copy" ]; then
		{
			echo "## Ingest: capture against plain"
			echo
			echo "a-c: pgbench -M prepared -c $INGEST_CLIENTS -j $INGEST_THREADS -T $INGEST_SECONDS, $INGEST_ROUNDS rounds per"
			echo "contender, plain and capture alternating (plain first in odd rounds; the last"
			echo "round ends with capture, whose data verify_rollups then checks).  tps is"
			echo "pgbench's (without connection time); rows/s = tps x rows per transaction."
			echo "The compaction columns are those of the compaction loop during the capture run:"
			echo "compactions done, mean compact() time, the share of the run its backend spent"
			echo "compacting (compactions x mean time / duration, of one of the 2 CPUs; above 100 %"
			echo "when the last compaction ran past the end of the run), and the pending_deltas"
			echo "rows left at the end (a backlog when compaction could not keep up)."
			echo
		} | report
	fi
	for part in a b c; do
		has_part "$part" || continue
		local tp tc rr failed aborted dl le vr verdict
		tp=$(ingest_median "$part" plain 4)
		tc=$(ingest_median "$part" capture 4)
		rr=$(ratio "$tc" "$tp")
		failed=$(ingest_sum "$part" 6)
		aborted=$(ingest_sum "$part" 7)
		failed=$((failed + $(ingest_sum "$part" 13)))
		dl=$(cut -d'|' -f1 "$WORK/log_$part")
		le=$(cut -d'|' -f2 "$WORK/log_$part")
		vr=$(cat "$WORK/verify_$part")
		summary_add "$part. ${title[$part]}: capture / plain tps" "${rr}x ($(printf '%.0f' "$tc") / $(printf '%.0f' "$tp") tps)" \
			">= ${target[$part]}x" "$(pass_if "$rr >= ${target[$part]}")"
		verdict=PASS
		if [ "$failed" != 0 ] || [ "$aborted" != 0 ] || [ "$dl" != 0 ] || [ "$le" != 0 ]; then verdict=FAIL; fi
		summary_add "$part. failed transactions / aborted clients / deadlocks / log ERRORs" \
			"$failed / $aborted / $dl / $le" "0 / 0 / 0 / 0" "$verdict"
		verdict=PASS
		if [ "$(cut -d'|' -f2 <<<"$vr")" != 0 ] || [ "$(cut -d'|' -f3 <<<"$vr")" != 0 ]; then verdict=FAIL; fi
		summary_add "$part. verify_rollups rows after compact() ($(cut -d'|' -f4 <<<"$vr") events)" \
			"$(cut -d'|' -f2 <<<"$vr")" "0" "$verdict"
		{
			echo "### $part. ${title[$part]}"
			echo
			echo "capture / plain (median tps): **${rr}x** (target >= ${target[$part]}x)."
			echo
			awk -F'|' -v p="$part" -v k="${rowsper[$part]}" -v secs="$INGEST_SECONDS" '$1 == p {
					busy = ($11 ~ /^[0-9]+$/ && $12 ~ /^[0-9.]+$/) ? sprintf("%.0f %%", $11 * $12 / (secs * 10)) : "-"
					printf "%s|%s|%.0f|%.0f|%d|%d|%d|%s|%d|%s|%s|%s|%s\n", $3, $2, $4, $4 * k, $5, $6, $7, $8, $9, $11, $12, busy, $10
				}' "$WORK/ingest" |
				md_table 'round|contender|tps|rows/s|transactions|failed|aborted clients|latency avg ms|rows in table|compactions|compact() ms|compaction busy|pending left'
			echo
			echo "Median: plain $(printf '%.0f' "$tp") tps, capture $(printf '%.0f' "$tc") tps."
			echo "Server log during the part: $dl 'deadlock detected', $le ERROR/FATAL/PANIC lines."
			if [ -s "$WORK/logerr_$part" ]; then
				echo
				echo '```'
				cat "$WORK/logerr_$part"
				echo '```'
			fi
			echo "After the last capture run ($(cut -d'|' -f4 <<<"$vr") events), a final compact() folded the"
			echo "$(cut -d'|' -f1 <<<"$vr") pending rows the loop had left ($(cut -d'|' -f3 <<<"$vr") left after it), then"
			echo "verify_rollups('$VERIFY_FROM', '$VERIFY_TO'): $(cut -d'|' -f2 <<<"$vr") rows ($(cut -d'|' -f5 <<<"$vr") ms)."
			if [ -s "$WORK/verify_rows_$part" ]; then
				echo
				echo '```'
				cat "$WORK/verify_rows_$part"
				echo '```'
			fi
			echo
		} | report
	done
	if has_part d; then
		local cp cc rr dl le vr verdict
		cp=$(awk -F'|' '$1 == "plain" { print $3 }' "$WORK/copy" | median)
		cc=$(awk -F'|' '$1 == "capture" { print $3 }' "$WORK/copy" | median)
		# throughput ratio: time plain / time capture
		rr=$(ratio "$cp" "$cc")
		dl=$(cut -d'|' -f1 "$WORK/log_d")
		le=$(cut -d'|' -f2 "$WORK/log_d")
		vr=$(cat "$WORK/verify_d")
		summary_add "d. ${title[d]}: capture / plain rows/s" "${rr}x ($(printf '%.1f' "$(awk -v m="$cc" 'BEGIN { print m / 1000 }')") / $(printf '%.1f' "$(awk -v m="$cp" 'BEGIN { print m / 1000 }')") s)" \
			">= ${target[d]}x" "$(pass_if "$rr >= ${target[d]}")"
		verdict=PASS
		if [ "$dl" != 0 ] || [ "$le" != 0 ]; then verdict=FAIL; fi
		summary_add "d. deadlocks / log ERRORs" "$dl / $le" "0 / 0" "$verdict"
		verdict=PASS
		if [ "$(cut -d'|' -f2 <<<"$vr")" != 0 ] || [ "$(cut -d'|' -f3 <<<"$vr")" != 0 ]; then verdict=FAIL; fi
		summary_add "d. verify_rollups rows after compact() ($(cut -d'|' -f4 <<<"$vr") events)" \
			"$(cut -d'|' -f2 <<<"$vr")" "0" "$verdict"
		{
			echo "### d. ${title[d]}"
			echo
			echo "A server-side \`COPY <table> FROM '<file>'\` (text format, written beforehand with"
			echo "\`COPY (SELECT * FROM bench.day_events(...)) TO\`, rows in time order), timed by"
			echo "psql's \\timing, including the commit (where the capture trigger appends its"
			echo "pending rows); $INGEST_COPY_ROUNDS rounds per contender, alternating, each into an empty table."
			echo "compact() after each capture COPY is timed separately (not in the ratio)."
			echo
			echo "capture / plain (rows/s, i.e. plain time / capture time, medians): **${rr}x** (target >= ${target[d]}x)."
			echo
			awk -F'|' -v n="$INGEST_COPY_ROWS" '{ printf "%s|%s|%.0f|%.0f|%s|%s\n", $2, $1, $3, n / ($3 / 1000), $4, $5 }' "$WORK/copy" |
				md_table 'round|contender|ms|rows/s|pending rows after COPY|compact() ms'
			echo
			echo "Server log during the part: $dl 'deadlock detected', $le ERROR/FATAL/PANIC lines."
			echo "After the last capture COPY ($(cut -d'|' -f4 <<<"$vr") events, $(cut -d'|' -f1 <<<"$vr") pending rows), compact() ($(cut -d'|' -f6 <<<"$vr") ms) left"
			echo "$(cut -d'|' -f3 <<<"$vr") pending rows; verify_rollups('$VERIFY_FROM', '$VERIFY_TO'): $(cut -d'|' -f2 <<<"$vr") rows ($(cut -d'|' -f5 <<<"$vr") ms)."
			if [ -s "$WORK/verify_rows_d" ]; then
				echo
				echo '```'
				cat "$WORK/verify_rows_d"
				echo '```'
			fi
			echo
		} | report
	fi

	if has_part m; then
		local mp mc mpk mck vr dl le verdict
		mp=$(awk -F'|' '$1 == "plain" { printf "%.1f", ($5 - $4) / 1024 / ($2 / 1e6) }' "$WORK/mem")
		mc=$(awk -F'|' '$1 == "capture" { printf "%.1f", ($5 - $4) / 1024 / ($2 / 1e6) }' "$WORK/mem")
		mpk=$(awk -F'|' '$1 == "plain" { printf "%.0f", $5 / 1024 }' "$WORK/mem")
		mck=$(awk -F'|' '$1 == "capture" { printf "%.0f", $5 / 1024 }' "$WORK/mem")
		vr=$(cat "$WORK/verify_m")
		dl=$(cut -d'|' -f1 "$WORK/log_m")
		le=$(cut -d'|' -f2 "$WORK/log_m")
		summary_add "m. one transaction of $INGEST_MEM_ROWS rows: peak backend memory growth per million rows, capture (plain)" \
			"$mc MB ($mp MB); peak $mck MB ($mpk MB)" "-" "-"
		verdict=PASS
		if [ "$(cut -d'|' -f2 <<<"$vr")" != 0 ] || [ "$(cut -d'|' -f3 <<<"$vr")" != 0 ] ||
			[ "$dl" != 0 ] || [ "$le" != 0 ]; then verdict=FAIL; fi
		summary_add "m. verify_rollups rows after compact() ($(cut -d'|' -f4 <<<"$vr") events) / log ERRORs" \
			"$(cut -d'|' -f2 <<<"$vr") / $le" "0 / 0" "$verdict"
		{
			echo "### m. memory of one transaction of $INGEST_MEM_ROWS rows"
			echo
			echo "One \`BEGIN; INSERT INTO <table> SELECT * FROM bench.day_events(...) LIMIT $INGEST_MEM_ROWS; COMMIT\`"
			echo "(a day of events of $INGEST_SELLERS sellers, the mix above) into an empty table, per contender."
			echo "The backend's private memory is its RssAnon (/proc/PID/status: anonymous"
			echo "resident pages, which leaves out the shared buffers), read before the statement"
			echo "and every 0.1 s until COMMIT returns; growth = peak - before.  Both sides hold"
			echo "PostgreSQL's queue of AFTER ROW trigger events for the foreign key until the"
			echo "statement ends; the capture side queues its trigger's events too, and holds at"
			echo "most seller_analytics.capture_memory ($(rows 'SHOW seller_analytics.capture_memory')) of captured changes."
			echo
			awk -F'|' '{ printf "%s|%s|%.0f|%.0f|%.0f|%.1f|%s\n", $1, $2, $3, $4 / 1024, $5 / 1024, ($5 - $4) / 1024 / ($2 / 1e6), $6 }' "$WORK/mem" |
				md_table 'contender|rows|ms (INSERT + COMMIT)|MB before|peak MB|growth MB per million rows|pending rows at commit'
			echo
			echo "Server log during the part: $dl 'deadlock detected', $le ERROR/FATAL/PANIC lines."
			echo "compact() ($(cut -d'|' -f6 <<<"$vr") ms) folded $(cut -d'|' -f1 <<<"$vr") pending rows and left $(cut -d'|' -f3 <<<"$vr");"
			echo "verify_rollups('$VERIFY_FROM', '$VERIFY_TO'): $(cut -d'|' -f2 <<<"$vr") rows ($(cut -d'|' -f5 <<<"$vr") ms)."
			echo
		} | report
	fi

	# --- dashboard ----------------------------------------------------------------
	if has_part dash; then
		local logoff t0 t1 load_s comp_s ncomp=0 cstat
		logoff=$(log_offset)
		psql_b -c 'TRUNCATE seller_analytics.events, bench.events_plain' -c 'CHECKPOINT'
		write_dash_scripts
		bench_section "dashboard: loading $DASH_SELLERS sellers x $DASH_DAYS days x $DASH_EVENTS events"
		# a day per transaction in time order, through the capture trigger;
		# compact() after every 10 days (timed apart)
		dash_load "$DASH_D0" "$DASH_DAYS" "$DASH_SELLERS" "$DASH_EVENTS" "$DASH_BIG_SELLERS" "$DASH_BIG_EVENTS"
		load_s=$DASH_LOAD_MS
		comp_s=$DASH_COMPACT_MS
		ncomp=$DASH_COMPACTIONS
		bench_section "dashboard: VACUUM ANALYZE"
		psql_b -c 'VACUUM (ANALYZE) seller_analytics.events, seller_analytics.daily_metrics,
			seller_analytics.daily_traffic, seller_analytics.pending_deltas, seller_analytics.recompute_marks'
		cstat=$(rows "SELECT (SELECT count(*) FROM seller_analytics.events),
			pg_size_pretty(pg_total_relation_size('seller_analytics.events')),
			(SELECT count(*) FROM seller_analytics.daily_metrics),
			pg_size_pretty(pg_total_relation_size('seller_analytics.daily_metrics')),
			(SELECT count(*) FROM seller_analytics.daily_traffic),
			pg_size_pretty(pg_total_relation_size('seller_analytics.daily_traffic'))")

		# the answers agree (20 small and 3 big sellers): daily metrics and
		# traffic exactly, p50/p90 within the sketch's error of percentile_disc
		local agree
		agree=$(check_dash_answers 20 3)

		local cases="compacted" c
		if ((DASH_BIG_SELLERS > 0)); then cases="compacted big"; fi
		for c in $cases; do
			bench_section "dashboard: $c, $DASH_ROUNDS rounds x (rollup, raw) x $DASH_SECONDS s"
			for ((r = 1; r <= DASH_ROUNDS; r++)); do
				if ((r % 2)); then first=rollup; second=raw; else first=raw; second=rollup; fi
				dash_run "$c" "$first" "$r"
				dash_run "$c" "$second" "$r"
			done
		done
		dash_plans compacted 42
		if ((DASH_BIG_SELLERS > 0)); then dash_plans big $((DASH_SELLERS + 1)); fi

		bench_section "dashboard: $DASH_PENDING_TXNS transactions of $DASH_PENDING_ROWS events, not compacted"
		local pend_s pstat
		t0=$(date +%s%N)
		psql_b -c "CALL bench.pending_load(DATE '$DASH_D1' - 1, $DASH_SELLERS, $DASH_PENDING_TXNS, $DASH_PENDING_ROWS)"
		t1=$(date +%s%N)
		pend_s=$(((t1 - t0) / 1000000))
		pstat=$(rows "SELECT count(*), count(DISTINCT seller_id), round(count(*)::numeric / $DASH_SELLERS, 1),
			pg_size_pretty(pg_total_relation_size('seller_analytics.pending_deltas'))
			FROM seller_analytics.pending_deltas")
		local agree_p
		agree_p=$(check_dash_answers 20 0)
		cases="$cases pending"
		bench_section "dashboard: pending, $DASH_ROUNDS rounds x (rollup, raw) x $DASH_SECONDS s"
		for ((r = 1; r <= DASH_ROUNDS; r++)); do
			if ((r % 2)); then first=rollup; second=raw; else first=raw; second=rollup; fi
			dash_run pending "$first" "$r"
			dash_run pending "$second" "$r"
		done
		dash_plans pending 42

		bench_section "dashboard: verify_rollups over the last $DASH_VERIFY_DAYS days"
		local vfrom vlive vcomp vms
		vfrom=$(rows "SELECT DATE '$DASH_D1' - $DASH_VERIFY_DAYS + 1")
		t0=$(date +%s%N)
		vlive=$(rows "SELECT count(*) FROM seller_analytics.verify_rollups('$vfrom', '$DASH_D1')")
		t1=$(date +%s%N)
		vms=$(((t1 - t0) / 1000000))
		rows 'SELECT * FROM seller_analytics.compact()' >/dev/null
		vcomp=$(rows "SELECT count(*) FROM seller_analytics.verify_rollups('$vfrom', '$DASH_D1')")
		log_check dash "$logoff"

		# --- dashboard results
		local -A case_title=(
			[compacted]="compacted, small sellers ($DASH_EVENTS events/day)"
			[big]="compacted, big sellers ($DASH_BIG_EVENTS events/day)"
			[pending]="pending deltas present, small sellers"
		)
		local p99r p99x tpsr tpsx rc dl le verdict
		for c in $cases; do
			p99r=$(dash_median "$c" rollup 11)
			p99x=$(dash_median "$c" raw 11)
			tpsr=$(dash_median "$c" rollup 4)
			tpsx=$(dash_median "$c" raw 4)
			rc=$(ratio "$p99x" "$p99r")
			summary_add "dashboard, ${case_title[$c]}: raw / rollup p99 latency at $INGEST_CLIENTS clients" \
				"${rc}x ($p99x / $p99r ms)" ">= 50x" "$(pass_if "$rc >= 50")"
			summary_add "dashboard, ${case_title[$c]}: rollup / raw tps" \
				"$(ratio "$tpsr" "$tpsx")x ($(printf '%.0f' "$tpsr") / $(printf '%.1f' "$tpsx") tps)" "-" "-"
		done
		verdict=PASS
		if [ "$(cut -d' ' -f1 <<<"$agree")" != "$(cut -d' ' -f2 <<<"$agree")" ] ||
			[ "$(cut -d' ' -f1 <<<"$agree_p")" != "$(cut -d' ' -f2 <<<"$agree_p")" ]; then verdict=FAIL; fi
		summary_add "dashboard: rollup answers equal to raw, sellers (compacted; pending)" \
			"$(tr ' ' / <<<"$agree"); $(tr ' ' / <<<"$agree_p")" "all" "$verdict"
		local dfail dab
		dfail=$(awk -F'|' '{ s += $6 } END { print s + 0 }' "$WORK/dash")
		dab=$(awk -F'|' '{ s += $7 } END { print s + 0 }' "$WORK/dash")
		dl=$(cut -d'|' -f1 "$WORK/log_dash")
		le=$(cut -d'|' -f2 "$WORK/log_dash")
		verdict=PASS
		if [ "$dfail" != 0 ] || [ "$dab" != 0 ] || [ "$dl" != 0 ] || [ "$le" != 0 ]; then verdict=FAIL; fi
		summary_add "dashboard: failed transactions / aborted clients / deadlocks / log ERRORs" \
			"$dfail / $dab / $dl / $le" "0 / 0 / 0 / 0" "$verdict"
		verdict=PASS
		if [ "$vlive" != 0 ] || [ "$vcomp" != 0 ]; then verdict=FAIL; fi
		summary_add "dashboard: verify_rollups rows over the last $DASH_VERIFY_DAYS days, live / compacted" \
			"$vlive / $vcomp" "0 / 0" "$verdict"

		{
			echo "## Dashboard: a seller's $DASH_DAYS days from the rollups against raw events"
			echo
			echo "### Data"
			echo
			echo "$DASH_SELLERS small sellers x $DASH_DAYS days x $DASH_EVENTS events per seller and day, and"
			echo "$DASH_BIG_SELLERS big sellers (ids $((DASH_SELLERS + 1)) to $((DASH_SELLERS + DASH_BIG_SELLERS))) x $DASH_BIG_EVENTS events per day (UTC days"
			echo "$DASH_D0 to $DASH_D1), loaded through the capture trigger in time order, one"
			echo "\`INSERT ... SELECT\` of a UTC day of \`bench.day_events\` ($((DASH_SELLERS * DASH_EVENTS + DASH_BIG_SELLERS * DASH_BIG_EVENTS)) rows)"
			echo "per transaction, with compact() after every 10 days.  Sized for this machine"
			echo "(2 CPUs, 15 minutes for the whole benchmark): $DASH_EVENTS events per seller-day is a small"
			echo "seller; the raw queries read every event of the seller, the rollups a row per"
			echo "day (and per day and source), so the speed-up grows with the events per"
			echo "seller-day, which is what the big sellers show."
			echo
			echo "- loading: $((load_s / 1000)) s ($(awk -v n="$(cut -d'|' -f1 <<<"$cstat")" -v s="$load_s" 'BEGIN { printf "%.0f", n / (s / 1000) }') rows/s), $ncomp compactions: $((comp_s / 1000)) s"
			echo "- events: $(cut -d'|' -f1 <<<"$cstat") rows, $(cut -d'|' -f2 <<<"$cstat") with indexes"
			echo "- daily_metrics: $(cut -d'|' -f3 <<<"$cstat") rows, $(cut -d'|' -f4 <<<"$cstat"); daily_traffic: $(cut -d'|' -f5 <<<"$cstat") rows, $(cut -d'|' -f6 <<<"$cstat")"
			echo "- then VACUUM (ANALYZE) of events and the rollup tables (autovacuum is off in this cluster)"
			echo "- pending case: then \`CALL bench.pending_load(...)\`: $DASH_PENDING_TXNS transactions of"
			echo "  $DASH_PENDING_ROWS events of random sellers in the last two days of the range"
			echo "  ($((pend_s / 1000)) s), not compacted: pending_deltas $(cut -d'|' -f1 <<<"$pstat") rows of $(cut -d'|' -f2 <<<"$pstat") sellers"
			echo "  ($(cut -d'|' -f3 <<<"$pstat") per seller on average, $(cut -d'|' -f4 <<<"$pstat")), as if compaction had stalled for a while"
			echo "  (not analyzed since)."
			echo
			echo "### Queries (one pgbench transaction: a random seller, the three queries)"
			echo
			echo "rollup (\`dash_rollup.sql\`; the big sellers' script differs in the \\set line only):"
			echo
			echo '```sql'
			cat "$WORK/dash_rollup.sql"
			echo '```'
			echo
			echo "raw events (\`dash_raw.sql\`), as an application would write them without the"
			echo "extension: events joined to sellers, the local day by \`AT TIME ZONE\` (the"
			echo "occurred_at bounds let it use events_seller_time), exact percentile_cont.  Not the"
			echo "extension's event_facts view, whose local_day() is slower (see the summary):"
			echo
			echo '```sql'
			cat "$WORK/dash_raw.sql"
			echo '```'
			echo
			echo "Answers: for 20 random small sellers and 3 big ones, the daily metrics and the"
			echo "traffic by source of the two scripts are equal, and p50/p90 from the sketches"
			echo "within the sketch's relative error of the exact percentile_disc: compacted"
			echo "$(tr ' ' / <<<"$agree"), with pending deltas (20 small sellers) $(tr ' ' / <<<"$agree_p") (equal / checked)."
			echo
			echo "### Latency (pgbench -M prepared -c $INGEST_CLIENTS -j $INGEST_THREADS -T $DASH_SECONDS, per-transaction log)"
			echo
			echo "$DASH_ROUNDS rounds per contender and case, alternating; p50/p90/p99/mean of the"
			echo "transaction latencies of each run (ms, nearest rank), statement means from -r."
			echo
			awk -F'|' '{ printf "%s|%s|%s|%.1f|%d|%s|%s|%s|%s|%s|%s|%s\n", $1, $3, $2, $4, $5, $9, $10, $11, $12, $14, $15, $16 }' "$WORK/dash" |
				md_table 'case|round|contender|tps|transactions|p50 ms|p90 ms|p99 ms|mean ms|daily ms|traffic ms|p50/p90 ms'
			echo
			echo "Medians over the rounds:"
			echo
			{
				for c in $cases; do
					echo "$c|$(dash_median "$c" rollup 11)|$(dash_median "$c" raw 11)|$(ratio "$(dash_median "$c" raw 11)" "$(dash_median "$c" rollup 11)")x|$(dash_median "$c" rollup 9)|$(dash_median "$c" raw 9)|$(ratio "$(dash_median "$c" raw 9)" "$(dash_median "$c" rollup 9)")x|$(ratio "$(dash_median "$c" rollup 4)" "$(dash_median "$c" raw 4)")x"
				done
			} | md_table 'case|rollup p99 ms|raw p99 ms|raw / rollup p99|rollup p50 ms|raw p50 ms|raw / rollup p50|rollup / raw tps'
			echo
			echo "Server log during the dashboard part: $dl 'deadlock detected', $le ERROR/FATAL/PANIC lines."
			if [ -s "$WORK/logerr_dash" ]; then
				echo
				echo '```'
				cat "$WORK/logerr_dash"
				echo '```'
			fi
			echo "verify_rollups('$vfrom', '$DASH_D1'): $vlive rows with the pending deltas ($vms ms), $vcomp after compact()."
			echo
			echo '<details><summary>plans of the dashboard queries (EXPLAIN ANALYZE, one seller)</summary>'
			echo
			echo '```'
			for c in $cases; do cat "$WORK/plans_$c"; done
			echo '```'
			echo
			echo '</details>'
			echo
		} | report
	fi

	# --- perf profiles --------------------------------------------------------------
	if [ "$INGEST_PERF" = 1 ]; then
		{
			echo "## Where the capture side's time goes (perf)"
			echo
			echo "The profiles ran after the timed runs (not in the figures above).  postgres is"
			echo "stripped of its static functions, so the shares are of samples whose call"
			echo "stack holds the named (exported or module) function."
			echo
			for part in a c d; do
				[ -s "$WORK/perf_$part" ] || continue
				echo "### $part"
				echo
				cat "$WORK/perf_$part"
				echo
			done
		} | report
	fi

	# --- summary: the report is the header, the summary, then the sections ---
	bench_assemble_report "${BENCH_COMMAND:-make bench-ingest}"

	echo
	echo "== Ingest benchmark, $today ($(nproc) CPUs, PostgreSQL $(rows 'SHOW server_version'))"
	echo
	bench_print_summary
}

# check_dash_answers N NBIG: "equal checked" for N random small sellers and
# NBIG big ones: the rollup script's three answers against the raw script's
check_dash_answers() {
	local n=$1 nbig=$2 d0=$DASH_D0 d1=$DASH_D1 ts0 ts1
	if ((nbig > DASH_BIG_SELLERS)); then nbig=$DASH_BIG_SELLERS; fi
	ts0="(DATE '$d0' - 2)::timestamp AT TIME ZONE 'UTC'"
	ts1="(DATE '$d1' + 3)::timestamp AT TIME ZONE 'UTC'"
	rows "WITH s AS (SELECT DISTINCT 1 + floor(random() * $DASH_SELLERS)::bigint AS sid FROM generate_series(1, $n)
				 UNION
				 SELECT DISTINCT $((DASH_SELLERS + 1)) + floor(random() * $((DASH_BIG_SELLERS > 0 ? DASH_BIG_SELLERS : 1)))::bigint
				 FROM generate_series(1, $nbig)),
		f AS (SELECT e.seller_id, (e.occurred_at AT TIME ZONE sl.time_zone)::date AS day,
					 coalesce(e.traffic_source, 'unknown') AS traffic_source,
					 (e.event_type = 'session_start')::int AS sessions,
					 (e.event_type = 'page_view')::int AS page_views,
					 (e.event_type = 'add_to_cart')::int AS add_to_carts,
					 (e.event_type = 'order')::int AS orders,
					 CASE WHEN e.event_type = 'order' THEN coalesce(e.quantity, 1) ELSE 0 END AS units,
					 CASE WHEN e.event_type = 'order' THEN e.amount ELSE 0 END AS revenue,
					 (e.event_type = 'refund')::int AS refunds,
					 CASE WHEN e.event_type = 'refund' THEN e.amount ELSE 0 END AS refund_amount,
					 CASE WHEN e.event_type = 'order' THEN e.amount END AS order_amount
			  FROM seller_analytics.events e JOIN seller_analytics.sellers sl ON sl.seller_id = e.seller_id
			  WHERE e.occurred_at >= $ts0 AND e.occurred_at < $ts1
				AND (e.occurred_at AT TIME ZONE sl.time_zone)::date BETWEEN DATE '$d0' AND DATE '$d1'
				AND e.seller_id IN (SELECT sid FROM s)),
		c AS (
		SELECT s.sid,
			(SELECT coalesce(array_agg(row(day, sessions::numeric, page_views::numeric, add_to_carts::numeric,
					orders::numeric, units::numeric, revenue, refunds::numeric, refund_amount) ORDER BY day), '{}')
			 FROM seller_analytics.seller_daily_metrics
			 WHERE seller_id = s.sid AND day BETWEEN DATE '$d0' AND DATE '$d1')
			= (SELECT coalesce(array_agg(row(day, sessions, page_views, add_to_carts, orders, units, revenue,
					refunds, refund_amount) ORDER BY day), '{}')
			   FROM (SELECT day, sum(sessions)::numeric AS sessions, sum(page_views)::numeric AS page_views,
							sum(add_to_carts)::numeric AS add_to_carts, sum(orders)::numeric AS orders,
							sum(units)::numeric AS units, sum(revenue) AS revenue,
							sum(refunds)::numeric AS refunds, sum(refund_amount) AS refund_amount
					 FROM f WHERE seller_id = s.sid GROUP BY day) r) AS daily_ok,
			(SELECT coalesce(array_agg(row(traffic_source, sessions, page_views, orders, revenue) ORDER BY traffic_source), '{}')
			 FROM (SELECT traffic_source, sum(sessions)::numeric AS sessions, sum(page_views)::numeric AS page_views,
						  sum(orders)::numeric AS orders, sum(revenue) AS revenue
				   FROM seller_analytics.seller_daily_traffic
				   WHERE seller_id = s.sid AND day BETWEEN DATE '$d0' AND DATE '$d1' GROUP BY traffic_source) t)
			= (SELECT coalesce(array_agg(row(traffic_source, sessions, page_views, orders, revenue) ORDER BY traffic_source), '{}')
			   FROM (SELECT traffic_source, sum(sessions)::numeric AS sessions, sum(page_views)::numeric AS page_views,
							sum(orders)::numeric AS orders, sum(revenue) AS revenue
					 FROM f WHERE seller_id = s.sid GROUP BY traffic_source
					 HAVING sum(sessions) <> 0 OR sum(page_views) <> 0 OR sum(orders) <> 0) t) AS traffic_ok,
			(SELECT bool_and(u.a IS NOT NULL AND abs(u.a - u.e) <= 1e-9 + seller_analytics.sketch_relative_error(m.sk) * abs(u.e))
			 FROM (SELECT seller_analytics.percentile_merge(order_value) AS sk
				   FROM seller_analytics.seller_daily_metrics
				   WHERE seller_id = s.sid AND day BETWEEN DATE '$d0' AND DATE '$d1') m,
				  (SELECT percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY order_amount) AS ex
				   FROM f WHERE seller_id = s.sid AND order_amount IS NOT NULL) x,
				  unnest(seller_analytics.approx_percentile(m.sk, ARRAY[0.5, 0.9]), x.ex::float8[]) AS u(a, e)
			 WHERE x.ex IS NOT NULL) AS pct_ok
		FROM s)
		SELECT count(*) FILTER (WHERE daily_ok AND traffic_ok AND coalesce(pct_ok, true)) || ' ' || count(*) FROM c" |
		tr -d '\n'
}

# dash_plans CASE SELLER: EXPLAIN ANALYZE of both scripts' queries for SELLER,
# prepared as pgbench -M prepared does and executed six times first, so that
# the plan shown is the one the runs used (generic or custom)
dash_plans() {
	local case=$1 sid=$2 who q
	: >"$WORK/plans_$case"
	for who in rollup raw; do
		while IFS= read -r q; do
			case $q in '\set'*|'') continue ;; esac
			q=${q//:sid/\$1}
			{
				echo "-- $case, $who, seller $sid: ${q:0:100}..."
				psql_b -At <<-SQL
					PREPARE q(bigint) AS ${q%;};
					\\o /dev/null
					EXECUTE q($sid); EXECUTE q($sid); EXECUTE q($sid);
					EXECUTE q($sid); EXECUTE q($sid); EXECUTE q($sid);
					\\o
					EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE q($sid);
				SQL
				echo
			} >>"$WORK/plans_$case" 2>&1
		done <"$WORK/dash_$who.sql"
	done
}

if [ "${1:-}" = "--in-virtualenv" ]; then
	in_virtualenv "$2"
	exit 0
fi

# ---------------------------------------------------------------------------
# Main run.

bench_section "packages"
packages=("postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR"
	"postgresql-client-$PG_MAJOR" postgresql-common make gcc procps)
if [ "${INGEST_PERF:-0}" = 1 ]; then packages+=(linux-perf); fi
bench_packages "${packages[@]}"
bench_section "build and install"
bench_build_install

bench_report ingest "$HERE/run.sh"
