# test/pg_tools.sh: sourced by the scripts in test/sql (not run on its own).
# Sets PSQL, PG_DUMP and PG_RESTORE to the client programs of the server
# PG_CONFIG names, or to those on PATH, and defines check, which counts the
# failed checks in $failures.

PG_BINDIR=$("${PG_CONFIG:-pg_config}" --bindir 2>/dev/null || true)
tool() {
	if [ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/$1" ]; then
		echo "$PG_BINDIR/$1"
	else
		command -v "$1"
	fi
}
PSQL=$(tool psql)
PG_DUMP=$(tool pg_dump)
PG_RESTORE=$(tool pg_restore)

failures=0
check() {			# check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		echo "ok:   $1"
	else
		echo "FAIL: $1: expected '$2', got '$3'"
		failures=$((failures + 1))
	fi
}
