# bench/lib.sh: shared by bench/sketch/run.sh (`make bench`), demo/run.sh
# (`make demo`), bench/ingest/*.sh (`make bench-ingest`,
# `make bench-capture-variants`), bench/security/run.sh
# (`make bench-security`) and bench/privacy/run.sh (`make bench-privacy`);
# sourced, not run.
#
#   bench_packages PKG...     install the Debian packages that are missing
#                             (apt-get; through sudo when not root), the same
#                             way test/run_tests.sh does
#   bench_build_install       build the extension from a clean copy of the
#                             tree (no assertion checking, whatever objects
#                             the tree holds) and install it (sudo when not
#                             root)
#   bench_virtualenv CMD...   run CMD in a throw-away cluster (pg_virtualenv)
#                             configured with BENCH_PG_OPTS
#   bench_section TITLE       progress line on stderr, with elapsed seconds
#   md_table HEADER           Markdown table from '|'-separated rows on stdin
#   bench_machine             a report's "## Machine" section
#   bench_report NAME SCRIPT  run SCRIPT in a throw-away cluster, keep its report
#   bench_assemble_report [COMMAND]   $REPORT from $WORK/head, summary, body
#   bench_print_summary       $WORK/summary as aligned columns and a count
#   psql_b ARGS...            psql on database bench (ON_ERROR_STOP)
#   rows SQL                  a query's rows, '|'-separated
#   ratio A B                 A / B to two decimals
#   pass_if AWK_CONDITION     PASS or FAIL
#   summary_add ITEM MEASURED TARGET STATUS   a line of $WORK/summary
#   median, percentiles       median; p50|p90|p99|mean|n of the numbers on stdin
#   bench_find_server_log     SERVER_LOG: the throw-away cluster's log file
#   log_offset, log_since OFFSET, log_check PART OFFSET
#                             deadlocks and ERRORs of database bench in the log
#   pgb OUT ARGS..., pgb_parse OUT   run pgbench on database bench; its figures
#   bench_sellers_sql N, bench_event_functions_sql, dash_rollup_sql D0 D1 FILTER,
#   dash_load D0 DAYS SELLERS EVENTS BIG_SELLERS BIG_EVENTS
#                             the dashboard data and queries of
#                             bench/ingest/run.sh (sellers, the event
#                             generator bench.day_events, the 90-day
#                             dashboard's three queries, the loading)
#
# Environment: PG_CONFIG (default: PostgreSQL 15's pg_config), JOBS (parallel
# make jobs, default: number of CPUs).

PG_MAJOR=15
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
BENCH_START=${BENCH_START:-$(date +%s)}
export BENCH_START

# Server settings of the throw-away cluster (pg_virtualenv also sets
# fsync=off).  Benchmark-friendly: the data sets fit in shared_buffers, no
# checkpoints or autovacuum while timing (tables are vacuumed explicitly),
# no JIT compilation in the timings.
BENCH_PG_OPTS=(
	shared_buffers=1GB
	work_mem=64MB
	max_parallel_workers_per_gather=2
	jit=off
	autovacuum=off
	max_wal_size=8GB
	checkpoint_timeout=1h
)

if [ "$(id -u)" -eq 0 ]; then
	BENCH_SUDO=()
else
	BENCH_SUDO=(sudo)
fi

as_root() {
	if [ ${#BENCH_SUDO[@]} -gt 0 ] && ! command -v sudo >/dev/null 2>&1; then
		echo "error: '$*' needs root, and sudo is not installed" >&2
		return 1
	fi
	"${BENCH_SUDO[@]}" "$@"
}

# bench_command TARGET: exports BENCH_COMMAND, the command as run for the
# report: "make TARGET" after the settings named in $BENCH_SETTINGS that the
# environment gives (outside the virtualenv stage only)
bench_command() {
	local v
	BENCH_COMMAND="make $1"
	for v in $BENCH_SETTINGS; do
		# shellcheck disable=SC2089,SC2090
		if [ -n "${!v+x}" ]; then BENCH_COMMAND="$v='${!v}' $BENCH_COMMAND"; fi
	done
	# shellcheck disable=SC2090
	export BENCH_COMMAND
}

bench_section() {
	echo "==== $* [$(($(date +%s) - BENCH_START))s]" >&2
}

bench_packages() {
	local pkg missing=()
	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -qx 'install ok installed'; then
			missing+=("$pkg")
		fi
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}" >&2
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update
		as_root env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends "${missing[@]}"
	fi
	if [ ! -x "$PG_CONFIG" ] && ! command -v "$PG_CONFIG" >/dev/null 2>&1; then
		echo "error: $PG_CONFIG not found" >&2
		return 1
	fi
}

bench_build_install() {
	local stage jobs rc=0
	jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
	stage=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_build.XXXXXX")
	# what is built, for the reports
	BENCH_SOURCE=unknown
	if command -v git >/dev/null 2>&1 && git -C "$BENCH_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
		BENCH_SOURCE="commit $(git -C "$BENCH_ROOT" rev-parse --short HEAD)"
		if [ -n "$(git -C "$BENCH_ROOT" status --porcelain -- src control Makefile 2>/dev/null)" ]; then
			BENCH_SOURCE="$BENCH_SOURCE with local changes"
		fi
	fi
	export BENCH_SOURCE
	# The tree without build outputs: objects left by `make test` are built
	# with -DUSE_ASSERT_CHECKING, which would slow the timings down.
	tar -C "$BENCH_ROOT" -cf - \
		--exclude=./.git --exclude=./build --exclude=./results \
		--exclude=./output_iso --exclude=./log --exclude=./tmp_check \
		--exclude='./regression.*' --exclude='*.o' --exclude='*.so' \
		--exclude='*.bc' --exclude=./bench/results . |
		tar -C "$stage" -xf -
	if make --no-print-directory -C "$stage" -j"$jobs" PG_CONFIG="$PG_CONFIG" >"$stage/build.log" 2>&1 &&
		as_root make --no-print-directory -C "$stage" install PG_CONFIG="$PG_CONFIG" >>"$stage/build.log" 2>&1; then
		echo "built and installed seller_analytics ($("$PG_CONFIG" --version))" >&2
	else
		rc=1
		cat "$stage/build.log" >&2
		echo "error: the extension did not build or install" >&2
	fi
	rm -rf "$stage"
	return "$rc"
}

# -t: a temporary cluster directory even as root; the server then runs as
# postgres and the command as the invoking user, so everything the scripts
# write (reports) is written by the client side.
bench_virtualenv() {
	local opts=() o
	for o in "${BENCH_PG_OPTS[@]}"; do
		opts+=(-o "$o")
	done
	pg_virtualenv -t -v "$PG_MAJOR" "${opts[@]}" "$@"
}

md_table() {
	awk -F'|' -v header="$1" '
		BEGIN {
			n = split(header, h, "|")
			line = "|"; sep = "|"
			for (i = 1; i <= n; i++) { line = line " " h[i] " |"; sep = sep "---|" }
			print line; print sep
		}
		NF > 0 {
			line = "|"
			for (i = 1; i <= NF; i++) line = line " " $i " |"
			print line
		}'
}

# ---------------------------------------------------------------------------
# For the benchmarks' runs inside pg_virtualenv (database bench, $WORK):

psql_b() {
	psql -X -q -v ON_ERROR_STOP=1 -d bench "$@"
}

# rows of a query, '|'-separated
rows() {
	psql_b -At -F'|' -c "$1"
}

# ratio A B: A / B to two decimals (NaN when B is not positive)
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NaN" }'
}

# pass_if AWK_CONDITION: PASS or FAIL
pass_if() {
	if awk "BEGIN { exit !($1) }"; then echo PASS; else echo FAIL; fi
}

summary_add() {			# summary_add ITEM MEASURED TARGET STATUS
	echo "$1|$2|$3|$4" >>"$WORK/summary"
}

# ---------------------------------------------------------------------------
# Figures, the server log and pgbench, for the benchmarks' runs inside
# pg_virtualenv (bench/ingest/run.sh, bench/security/run.sh):

# median of the numbers on stdin
median() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "NaN"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# "p50|p90|p99|mean|n" (ms) of the latencies (µs) on stdin, nearest rank
percentiles() {
	sort -g | awk '
		{ v[NR] = $1; s += $1 }
		function at(q,   k) { k = int(q * NR); if (k < q * NR) k++; if (k < 1) k = 1; return v[k] / 1000 }
		END {
			if (NR == 0) { print "NaN|NaN|NaN|NaN|0"; exit }
			printf "%.2f|%.2f|%.2f|%.2f|%d\n", at(0.5), at(0.9), at(0.99), s / NR / 1000, NR
		}'
}

# --- server log ---------------------------------------------------------------

# bench_find_server_log: SERVER_LOG, the log file of pg_virtualenv's cluster
# 15/regress; empty (with a warning) when it cannot be read
bench_find_server_log() {
	SERVER_LOG=$(pg_lsclusters -h 2>/dev/null | awk -v v="$PG_MAJOR" '$1 == v && $2 == "regress" { print $NF; exit }')
	if [ -z "$SERVER_LOG" ] || [ ! -r "$SERVER_LOG" ]; then
		echo "warning: server log not found or not readable ('$SERVER_LOG'); deadlocks and ERRORs are counted from pgbench only" >&2
		SERVER_LOG=""
	fi
}

log_offset() {
	if [ -n "$SERVER_LOG" ] && [ -r "$SERVER_LOG" ]; then
		stat -c %s "$SERVER_LOG"
	else
		echo 0
	fi
}

# log_since OFFSET: the server log written since OFFSET
log_since() {
	if [ -n "$SERVER_LOG" ] && [ -r "$SERVER_LOG" ]; then
		tail -c +"$(($1 + 1))" "$SERVER_LOG"
	fi
}

# log_check PART OFFSET: counts deadlocks and ERRORs since OFFSET into
# $WORK/log_PART ("deadlocks|errors"), the ERROR lines into $WORK/logerr_PART.
# Lines of sessions of other databases are left out: the cluster listens on
# the default port, where other programs of the machine may knock.
log_check() {
	local part=$1 off=$2
	log_since "$off" | awk '
		/ERROR:|FATAL:|PANIC:/ {
			# log_line_prefix "%m [%p] %q%u@%d "
			if (match($0, /\] [^ ]*@[^ ]* /)) {
				split(substr($0, RSTART + 2, RLENGTH - 3), ud, "@")
				if (ud[2] != "bench") next
			}
			print
		}' >"$WORK/logerrall_$part" || true
	head -20 "$WORK/logerrall_$part" >"$WORK/logerr_$part"
	echo "$(grep -c 'deadlock detected' "$WORK/logerrall_$part" || true)|$(wc -l <"$WORK/logerrall_$part")" >"$WORK/log_$part"
}

# --- pgbench --------------------------------------------------------------------

# pgb OUT ARGS...: runs pgbench, stdout and stderr to OUT; never fails
pgb() {
	local out=$1
	shift
	pgbench -n "$@" bench >"$out" 2>&1 || true
}

# "tps|processed|failed|aborted_clients|latency_avg_ms" of a pgbench output
pgb_parse() {
	awk '
		/^tps = / { tps = $3 }
		/^number of transactions actually processed:/ { split($0, a, ": "); split(a[2], b, "/"); done = b[1] + 0 }
		/^number of failed transactions:/ { failed = $5 + 0 }
		/^latency average = / { lat = $4 }
		/aborted in command|client [0-9]+ aborted/ { aborted++ }
		/Run was aborted/ { runaborted = 1 }
		END {
			if (tps == "") tps = 0
			if (runaborted && aborted == 0) aborted = 1
			printf "%s|%d|%d|%d|%s\n", tps, done, failed, aborted, (lat == "" ? "NaN" : lat)
		}' "$1"
}

# --- the dashboard data of bench/ingest/run.sh ---------------------------------

# the sellers' time zones, round robin
BENCH_TIME_ZONES="'UTC','America/New_York','America/Los_Angeles','Europe/Berlin','Asia/Kolkata','Asia/Tokyo','Australia/Sydney'"

# bench_sellers_sql N: SQL inserting sellers 1 .. N, in the seven time zones
# round robin
bench_sellers_sql() {
	cat <<-SQL
		-- sellers in seven time zones, round robin
		INSERT INTO seller_analytics.sellers (seller_id, name, category, region, product_type, time_zone)
		SELECT i, 'seller ' || i,
			   (ARRAY['fashion', 'electronics', 'home', 'toys', 'books'])[1 + i % 5],
			   (ARRAY['us-east', 'us-west', 'eu', 'in', 'apac', 'au'])[1 + i % 6],
			   (ARRAY['physical', 'digital'])[1 + i % 2],
			   (ARRAY[$BENCH_TIME_ZONES])[1 + i % 7]
		FROM generate_series(1, $1) i;
	SQL
}

# bench_event_functions_sql: SQL creating the event generator
# bench.day_events and the procedure bench.pending_load (in schema bench)
bench_event_functions_sql() {
	cat <<-'SQL'
		-- per_seller events of each of sellers first .. first + sellers - 1 in the UTC day from
		-- t0, in time order: 17 % session_start, 62 % page_view, 12 %
		-- add_to_cart, 8 % order, 1 % refund; sources 28 % direct, 30 % search,
		-- 15 % social, 10 % email, 10 % ads, 5 % referral, 2 % none; amounts
		-- exp(N(3.5, 0.8)), quantities 1-3
		CREATE FUNCTION bench.day_events(t0 timestamptz, first bigint, sellers int, per_seller int, id_prefix text)
		RETURNS SETOF seller_analytics.events
		LANGUAGE sql VOLATILE AS $$
			SELECT x.sid, id_prefix || x.sid || '-' || x.k,
				   CASE WHEN x.r < 0.17 THEN 'session_start' WHEN x.r < 0.79 THEN 'page_view'
						WHEN x.r < 0.91 THEN 'add_to_cart' WHEN x.r < 0.99 THEN 'order' ELSE 'refund' END,
				   t0 + x.t * interval '1 second',
				   's' || x.sid || '-' || (x.k / 6),
				   CASE WHEN x.s < 0.02 THEN NULL WHEN x.s < 0.30 THEN 'direct' WHEN x.s < 0.60 THEN 'search'
						WHEN x.s < 0.75 THEN 'social' WHEN x.s < 0.85 THEN 'email' WHEN x.s < 0.95 THEN 'ads'
						ELSE 'referral' END,
				   CASE WHEN x.r >= 0.91 THEN round(exp(3.5 + 0.8 * x.n)::numeric, 2) END,
				   CASE WHEN x.r >= 0.91 AND x.r < 0.99 THEN 1 + x.k % 3 END
			FROM (SELECT sid, k, random() AS r, random() AS s,
						 floor(random() * 86400000000) / 1e6 AS t,
						 sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS n
				  FROM generate_series(first, first + sellers - 1) sid, generate_series(1, per_seller) k) x
			ORDER BY 4
		$$;

		-- txns transactions of rows events each, random sellers of 1..sellers,
		-- in the two UTC days from t0: what a stalled compaction leaves
		CREATE PROCEDURE bench.pending_load(t0 timestamptz, sellers int, txns int, rows int)
		LANGUAGE plpgsql AS $$
		BEGIN
			FOR i IN 1 .. txns LOOP
				INSERT INTO seller_analytics.events
				SELECT 1 + floor(random() * sellers)::bigint, 'p' || i || '-' || e.event_id,
					   e.event_type, e.occurred_at + floor(random() * 2) * interval '1 day',
					   e.session_id, e.traffic_source, e.amount, e.quantity
				FROM bench.day_events(t0, 1, 1, rows, '') e;
				COMMIT;
			END LOOP;
		END
		$$;
	SQL
}

# dash_rollup_sql D0 D1 FILTER: the dashboard's three queries of the days D0
# to D1 (daily metrics, traffic by source, order-value p50/p90), one a line;
# FILTER goes before the day range of each ('seller_id = :sid AND ', or ''
# where row-level security picks the seller)
dash_rollup_sql() {
	local d0=$1 d1=$2 f=$3
	cat <<-EOF
		SELECT day, sessions, page_views, add_to_carts, orders, units, revenue, refunds, refund_amount, conversion_rate, avg_order_value FROM seller_analytics.seller_daily_metrics WHERE ${f}day BETWEEN DATE '$d0' AND DATE '$d1' ORDER BY day;
		SELECT traffic_source, sum(sessions) AS sessions, sum(page_views) AS page_views, sum(orders) AS orders, sum(revenue) AS revenue, sum(orders) / nullif(sum(sessions), 0)::numeric AS conversion_rate FROM seller_analytics.seller_daily_traffic WHERE ${f}day BETWEEN DATE '$d0' AND DATE '$d1' GROUP BY traffic_source ORDER BY traffic_source;
		SELECT seller_analytics.approx_percentile(seller_analytics.percentile_merge(order_value), ARRAY[0.5, 0.9]) FROM seller_analytics.seller_daily_metrics WHERE ${f}day BETWEEN DATE '$d0' AND DATE '$d1';
	EOF
}

# dash_load D0 DAYS SELLERS EVENTS BIG_SELLERS BIG_EVENTS: the dashboard's
# events through the capture trigger: for each UTC day from D0, EVENTS
# events of each of sellers 1 .. SELLERS and BIG_EVENTS of each of the
# BIG_SELLERS sellers after them, in time order, a day per transaction;
# compact() after every 10 days and after the last.  Sets DASH_LOAD_MS and
# DASH_COMPACT_MS (the time loading and compacting) and DASH_COMPACTIONS.
dash_load() {
	local d0=$1 days=$2 sellers=$3 events=$4 big=$5 big_events=$6 d t0 t1
	DASH_LOAD_MS=0
	DASH_COMPACT_MS=0
	DASH_COMPACTIONS=0
	for ((d = 0; d < days; d++)); do
		t0=$(date +%s%N)
		psql_b -c "INSERT INTO seller_analytics.events
			SELECT * FROM (SELECT * FROM bench.day_events(DATE '$d0' + $d, 1, $sellers, $events, 'd$d-')
						   UNION ALL
						   SELECT * FROM bench.day_events(DATE '$d0' + $d, $((sellers + 1)), $big, $big_events, 'D$d-')) u
			ORDER BY occurred_at"
		t1=$(date +%s%N)
		DASH_LOAD_MS=$((DASH_LOAD_MS + (t1 - t0) / 1000000))
		if (((d + 1) % 10 == 0)) || ((d == days - 1)); then
			t0=$(date +%s%N)
			rows 'SELECT * FROM seller_analytics.compact()' >/dev/null
			t1=$(date +%s%N)
			DASH_COMPACT_MS=$((DASH_COMPACT_MS + (t1 - t0) / 1000000))
			DASH_COMPACTIONS=$((DASH_COMPACTIONS + 1))
			echo "   day $((d + 1)) of $days loaded ($((DASH_LOAD_MS / 1000)) s loading, $((DASH_COMPACT_MS / 1000)) s compacting)" >&2
		fi
	done
}

# bench_server_head: the start of a report's "## Server" section: the
# server's version, the commit the extension was built from (bench_build_install
# builds it without assertions), the extensions installed and the options of
# the throw-away cluster
bench_server_head() {
	echo '## Server'
	echo
	echo "- $(rows 'SELECT version()')"
	echo "- seller_analytics built from: ${BENCH_SOURCE:-unknown} (no assertions)"
	echo "- extensions: $(rows "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) FROM pg_extension WHERE extname <> 'plpgsql'")"
	echo "- throw-away cluster (pg_virtualenv) started with: $(printf -- '-o %s ' "${BENCH_PG_OPTS[@]}")(pg_virtualenv adds fsync=off)"
}

# bench_machine: a report's "## Machine" section (date, nproc, load, CPU,
# OS, free -h)
bench_machine() {
	echo '## Machine'
	echo
	echo "- date: $(date '+%F %T %Z')"
	echo "- nproc: $(nproc)"
	echo "- load average at the start (1, 5, 15 min): $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
	echo "- CPU: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
	echo "- OS: $( (. /etc/os-release && echo "$PRETTY_NAME") 2>/dev/null || uname -s) ($(uname -r))"
	echo '- `free -h`:'
	echo
	echo '```'
	free -h
	echo '```'
	echo
}

# bench_report NAME SCRIPT: run "bash SCRIPT --in-virtualenv REPORT" in a
# throw-away cluster and keep REPORT as bench/results/NAME-YYYY-MM-DD.md
bench_report() {
	local name=$1 script=$2 results report tmp_report
	results="$BENCH_ROOT/bench/results"
	mkdir -p "$results"
	report="$results/$name-$(date +%F).md"
	tmp_report=$(mktemp "${TMPDIR:-/tmp}/$name-report.XXXXXX")
	bench_section "benchmark (pg_virtualenv)"
	if ! bench_virtualenv bash "$script" --in-virtualenv "$tmp_report"; then
		rm -f "$tmp_report"
		return 1
	fi
	cp "$tmp_report" "$report"
	chmod 644 "$report"
	rm -f "$tmp_report"
	bench_section "done"
	echo "report: ${report#"$BENCH_ROOT"/}"
}

# bench_assemble_report [COMMAND]: writes $REPORT: $WORK/head, the summary
# (the command when given, the table of $WORK/summary, run time and load at
# the end), then $WORK/body
bench_assemble_report() {
	{
		cat "$WORK/head"
		echo '## Summary'
		echo
		if [ -n "${1:-}" ]; then
			echo "Command: \`$1\`"
			echo
		fi
		md_table 'item|measured|target|result' <"$WORK/summary"
		echo
		echo "Run time: $(($(date +%s) - BENCH_START)) s (with the build); load average at the end:"
		echo "$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)."
		echo
		cat "$WORK/body"
	} >"$REPORT"
}

# bench_print_summary: $WORK/summary in aligned columns on stdout, then the
# number of targets passed and failed
bench_print_summary() {
	awk -F'|' '
		{ item[NR] = $1; m[NR] = $2; t[NR] = $3; r[NR] = $4
		  if (length($1) > w1) w1 = length($1); if (length($2) > w2) w2 = length($2)
		  if (length($3) > w3) w3 = length($3) }
		END {
			if (w3 < 6) w3 = 6
			printf "%-" w1 "s  %-" w2 "s  %-" w3 "s  %s\n", "item", "measured", "target", "result"
			for (i = 1; i <= NR; i++) printf "%-" w1 "s  %-" w2 "s  %-" w3 "s  %s\n", item[i], m[i], t[i], r[i]
		}' "$WORK/summary"
	echo
	echo "targets: $(awk -F'|' '$4 == "PASS"' "$WORK/summary" | wc -l) PASS, $(awk -F'|' '$4 == "FAIL"' "$WORK/summary" | wc -l) FAIL"
}
