# test/pg_tools.sh: sourced by the scripts in test/sql (not run on its own).
# Sets PSQL, PG_DUMP and PG_RESTORE to the client programs of the server
# PG_CONFIG names, or to those on PATH.

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
