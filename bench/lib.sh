# bench/lib.sh: shared by bench/sketch/run.sh (`make bench`) and
# bench/demo.sh (`make demo`); sourced, not run.
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
