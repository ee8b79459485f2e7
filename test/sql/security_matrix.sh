#!/usr/bin/env bash
# The access matrix: who can read and change what.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`), as a superuser: it creates login roles.
#
#   1. creates a database with the extension and two sellers, A (1) and B
#      (2), each with events, compacted rollups, pending changes and a
#      recomputation mark, and login roles of its own (names unique to the
#      run, passwords set, dropped at the end): a superuser's session, a DBA
#      (member of seller_analytics_owner), members of seller_analytics_ingest,
#      _app, _analyst and _jobs, the same app login with
#      SET seller_analytics.seller_id = A at the start of its session, two
#      seller logins mapped to A and to B by assign_seller_role, and a login
#      that is a member of none of the extension's roles
#   2. logged in as each, on every table and view of schema seller_analytics
#      (whatever pg_class lists, so a relation added later shows up): SELECT,
#      COPY TO STDOUT, INSERT of a row of A and of B, UPDATE and DELETE of
#      A's rows and of B's, TRUNCATE, COPY FROM STDIN of a row of A and of B,
#      each in a transaction of its own that is rolled back; and
#      current_seller_id() before and after SET LOCAL
#      seller_analytics.seller_id = B.  The tables are the same, row for row,
#      before and after.
#   3. the outcome, one line per relation and one column per operation, is
#      compared with test/expected/security_matrix.out (at the end); whatever
#      that file says, these must hold (a re-blessed file cannot hide a leak):
#        - the seller logins and the app with A never see, change or add a
#          row of the other seller, and see every row of their own in
#          sellers and events
#        - the app without the setting, the analyst, the jobs role, the
#          ingest role and the plain login see no row anywhere
#        - no one but the owner and the superuser changes anything, except
#          the ingest role, which can only add events: INSERT into events
#          for A and B and COPY into event_intake work, and nothing else
#   4. a seller login whose session starts with SET seller_analytics.seller_id
#      = the other seller (refused at once where the library is preloaded;
#      elsewhere taken unchecked until the library loads in the session)
#      still sees its own seller's rows and no other's
#   5. the ingest role commits an INSERT into events and a COPY (twice) into
#      event_intake: the events are there, once, their changes pending, and
#      verify_rollups finds no difference
#
# SECURITY_MATRIX_BLESS=1 writes the expected file instead of comparing
# (only when everything else passes).  Read every cell before committing it:
# the file is the specification of the security model.
#
# Prints a summary; exits non-zero on any difference or violated invariant.
set -euo pipefail

# shellcheck source=../pg_tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/../pg_tools.sh"

EXPECTED="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/expected/security_matrix.out"
DB=security_matrix_$$
PREFIX=sa_mx_$$
PASSWORD=mx_$$_$RANDOM$RANDOM
A=1
B=2
work=$(mktemp -d)
chmod 755 "$work"

# identities: id, login role (empty: the superuser of PG*), description
IDS=(superuser owner ingest app app_a seller_a seller_b analyst jobs nobody)
declare -A ROLE=(
	[superuser]="" [owner]=${PREFIX}_owner [ingest]=${PREFIX}_ingest
	[app]=${PREFIX}_app [app_a]=${PREFIX}_app
	[seller_a]=${PREFIX}_seller_a [seller_b]=${PREFIX}_seller_b
	[analyst]=${PREFIX}_analyst [jobs]=${PREFIX}_jobs [nobody]=${PREFIX}_nobody
)
declare -A WHAT=(
	[superuser]="a superuser (bypasses row-level security)"
	[owner]="a DBA: member of seller_analytics_owner"
	[ingest]="member of seller_analytics_ingest"
	[app]="member of seller_analytics_app, seller_analytics.seller_id not set"
	[app_a]="the same app login, naming seller A with SET LOCAL in every transaction"
	[seller_a]="seller A's login (assign_seller_role)"
	[seller_b]="seller B's login (assign_seller_role)"
	[analyst]="member of seller_analytics_analyst"
	[jobs]="member of seller_analytics_jobs"
	[nobody]="a login in none of the extension's roles"
)
LOGINS=(owner ingest app seller_a seller_b analyst jobs nobody)
declare -A GROUP=(
	[owner]=seller_analytics_owner [ingest]=seller_analytics_ingest
	[app]=seller_analytics_app [analyst]=seller_analytics_analyst
	[jobs]=seller_analytics_jobs
)
OPS=(select copyto insA insB updA updB delA delB trunc cpfrA cpfrB)

psql_su() { "$PSQL" -X -q -v ON_ERROR_STOP=1 "$@"; }
psql_db() { psql_su -d "$DB" "$@"; }
# psql_as ID ARGS...: a session logged in as the identity
psql_as() {
	local id=$1
	shift
	if [ -z "${ROLE[$id]}" ]; then
		"$PSQL" -X -q -d "$DB" "$@"
	else
		PGPASSWORD=$PASSWORD "$PSQL" -X -q -U "${ROLE[$id]}" -d "$DB" "$@"
	fi
}

all_roles() {
	local id
	for id in "${LOGINS[@]}"; do
		printf '%s\n' "${ROLE[$id]}"
	done
}

cleanup() {
	local roles left
	roles=$(all_roles | paste -sd, -)
	# the seller role's grants and everything the logins hold in the database
	psql_su -d "$DB" >/dev/null 2>&1 <<SQL || true
SET client_min_messages = warning;
DO \$\$
DECLARE
	r name;
BEGIN
	FOREACH r IN ARRAY ARRAY['${ROLE[seller_a]}', '${ROLE[seller_b]}']::name[] LOOP
		BEGIN
			PERFORM seller_analytics.revoke_seller_role(r);
		EXCEPTION WHEN OTHERS THEN
			NULL;
		END;
	END LOOP;
	FOR r IN SELECT rolname FROM pg_roles WHERE rolname = ANY (string_to_array('$roles', ',')) LOOP
		EXECUTE format('DROP OWNED BY %I', r);
	END LOOP;
END
\$\$;
SQL
	psql_su -d postgres >/dev/null 2>&1 -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" || true
	psql_su -d postgres >/dev/null 2>&1 -c "SET client_min_messages = warning" \
		-c "DROP ROLE IF EXISTS $roles" || true
	left=$(psql_su -d postgres -At -c "SELECT string_agg(rolname, ' ') FROM pg_roles
		WHERE rolname = ANY (string_to_array('$roles', ','))" 2>/dev/null || true)
	if [ -n "$left" ]; then
		echo "WARNING: roles left behind: $left"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

started=$(date +%s)
if [ "$(psql_su -d postgres -At -c "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")" != t ]; then
	echo "FAIL: security_matrix needs a superuser (it creates login roles)"
	exit 1
fi

# --- 1. database, fixtures, identities ---------------------------------------
psql_su -d postgres -c "CREATE DATABASE $DB"
# the cells are read from error messages: in English, whatever the locale
psql_su -d postgres -c "ALTER DATABASE $DB SET lc_messages = 'C'"
export LC_ALL=C
# the extension first: it creates the group roles when they do not exist
psql_db -c "CREATE EXTENSION seller_analytics"
{
	for id in "${LOGINS[@]}"; do
		echo "CREATE ROLE ${ROLE[$id]} LOGIN PASSWORD '$PASSWORD';"
		if [ -n "${GROUP[$id]:-}" ]; then
			echo "GRANT ${GROUP[$id]} TO ${ROLE[$id]};"
		fi
	done
} | psql_su -d postgres

psql_db >/dev/null <<SQL
SET search_path = seller_analytics, public;
INSERT INTO sellers (seller_id, name, time_zone)
VALUES ($A, 'seller A', 'UTC'), ($B, 'seller B', 'Europe/Berlin');

-- events of both sellers over two days, compacted
CREATE FUNCTION pg_temp.load(first int, last int) RETURNS void LANGUAGE sql AS \$\$
  INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, session_id,
                                       traffic_source, amount, quantity)
  SELECT s, 'e' || i, t.type, '2026-03-01 08:00Z'::timestamptz + i * interval '3 hours',
         's' || s || '-' || i / 3, (ARRAY['google', 'email', NULL, 'direct'])[1 + i % 4],
         CASE WHEN t.type IN ('order', 'refund') THEN 10 + i END,
         CASE WHEN t.type = 'order' THEN 1 + i % 3 END
  FROM unnest(ARRAY[$A, $B]) AS s, generate_series(first, last) AS i,
       LATERAL (SELECT (ARRAY['session_start', 'page_view', 'page_view', 'order', 'add_to_cart',
                              'order', 'refund', 'session_start'])[1 + (i - 1) % 8] AS type) t;
\$\$;
SELECT pg_temp.load(1, 8);
SELECT * FROM compact();
-- corrected orders (a recomputation mark each) and new events, left pending
UPDATE events SET amount = amount + 1 WHERE event_id = 'e4';
SELECT pg_temp.load(9, 12);

SELECT assign_seller_role('${ROLE[seller_a]}', $A);
SELECT assign_seller_role('${ROLE[seller_b]}', $B);
SQL

# the relations: name, kind, seller_id's position among the columns (0: none),
# first column
psql_db -At -F' ' >"$work/relations" <<'SQL'
SELECT c.relname, c.relkind,
       coalesce((SELECT count(*) FROM pg_attribute b
                 WHERE b.attrelid = c.oid AND b.attnum > 0 AND NOT b.attisdropped
                   AND b.attnum <= a.attnum), 0),
       (SELECT b.attname FROM pg_attribute b
        WHERE b.attrelid = c.oid AND b.attnum > 0 AND NOT b.attisdropped
        ORDER BY b.attnum LIMIT 1)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'seller_id' AND NOT a.attisdropped
WHERE n.nspname = 'seller_analytics' AND c.relkind IN ('r', 'p', 'f', 'm', 'v')
ORDER BY c.relkind = 'v', c.relname
SQL
RELS=()
declare -A KIND SIDPOS FIRSTCOL
while read -r rel kind pos first; do
	RELS+=("$rel")
	KIND[$rel]=$kind
	SIDPOS[$rel]=$pos
	FIRSTCOL[$rel]=$first
done <"$work/relations"
echo "relations: ${RELS[*]}"

# what a session sees: "seen SELLER:ROWS ..." for a relation with seller_id,
# "rows N" for one without
seen_query() {
	if [ "${SIDPOS[$1]}" -gt 0 ]; then
		echo "SELECT 'seen' || coalesce(' ' || string_agg(seller_id || ':' || n, ' ' ORDER BY seller_id), '')
FROM (SELECT seller_id, count(*) AS n FROM seller_analytics.$1 GROUP BY seller_id) s;"
	else
		echo "SELECT 'rows ' || count(*) FROM seller_analytics.$1;"
	fi
}

# every row, as the superuser sees it (bypassing row-level security)
for rel in "${RELS[@]}"; do
	printf '%s %s\n' "$rel" "$(psql_db -At -c "$(seen_query "$rel")")"
done >"$work/truth"

# every relation but event_intake (which reads nothing) has rows of both
# sellers, or the matrix would prove nothing
while read -r rel _ rest; do
	[ "$rel" = event_intake ] && continue
	if [ "${SIDPOS[$rel]}" -gt 0 ]; then
		check "fixture: $rel has rows of A and of B" "yes" \
			"$(case " $rest " in *" $A:"*" $B:"*) echo yes ;; *) echo "no: $rest" ;; esac)"
	fi
done <"$work/truth"

# a fingerprint of every table, to show that the matrix changed nothing
fingerprint() {
	local rel
	for rel in "${RELS[@]}"; do
		[ "${KIND[$rel]}" = v ] && continue
		printf '%s %s\n' "$rel" "$(psql_db -At -c "SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY t::text), ''))
			FROM seller_analytics.$rel t")"
	done
}
fingerprint >"$work/before"

# --- 2. the operations --------------------------------------------------------

# A valid row of a seller (@S@) per relation: columns, and tab-separated
# values (COPY text format); constraints are met, so that what shows is the
# privilege or policy check.  A relation not listed gets a row with only its
# seller_id (or DEFAULT VALUES).  The sellers row of A and of B exists, so an
# INSERT that passes every check fails on the primary key (23505).
event_cols="seller_id, event_id, event_type, occurred_at, session_id, traffic_source, amount, quantity"
event_row=$'@S@\tmx-new\torder\t2026-03-02 10:00:00+00\tmx-session\tdirect\t9.99\t1'
declare -A ROW_COLS=(
	[sellers]="seller_id, name, time_zone"
	[events]=$event_cols
	[event_intake]=$event_cols
	[daily_metrics]="seller_id, day"
	[daily_traffic]="seller_id, day, traffic_source"
	[pending_deltas]="seller_id, day, traffic_source, sessions, page_views, add_to_carts, orders, units, revenue, refunds, refund_amount"
	[recompute_marks]="seller_id, day"
	[seller_roles]="role, role_name, seller_id"
)
declare -A ROW_VALS=(
	[sellers]=$'@S@\tmatrix\tUTC'
	[events]=$event_row
	[event_intake]=$event_row
	[daily_metrics]=$'@S@\t2001-01-01'
	[daily_traffic]=$'@S@\t2001-01-01\tmatrix'
	[pending_deltas]=$'@S@\t2001-01-01\tmatrix\t1\t0\t0\t0\t0\t0\t0\t0'
	[recompute_marks]=$'@S@\t2001-01-01'
	[seller_roles]="${ROLE[nobody]}"$'\t'"${ROLE[nobody]}"$'\t@S@'
)

# emit_op REL OP STATEMENT...: one operation in a transaction of its own,
# after a marker, with psql's ROW_COUNT after each statement.  psql leaves
# its SQLSTATE variable alone when COPY FROM STDIN fails while reading its
# data, so errors are read from psql's messages instead (VERBOSITY verbose):
# they name the script line, hence the operation.
emit_op() {
	local rel=$1 op=$2 stmt
	shift 2
	printf '\\echo @@ %s %s\n' "$rel" "$op"
	echo "BEGIN;"
	for stmt in "$@"; do
		echo "$stmt"
		printf '%s\n' '\echo @@= :ROW_COUNT'
	done
	echo "ROLLBACK;"
}

sql_values() {			# sql_values TAB-SEPARATED-VALUES: 'v1', 'v2', ...
	local IFS=$'\t' v out=""
	for v in $1; do
		out+="${out:+, }'${v//\'/\'\'}'"
	done
	echo "$out"
}

{
	printf '%s\n' '\set VERBOSITY verbose'
	for rel in "${RELS[@]}"; do
		q=seller_analytics.$rel
		emit_op "$rel" select "$(seen_query "$rel")"
		emit_op "$rel" copyto "COPY $q TO STDOUT;"
		if [ "${SIDPOS[$rel]}" -gt 0 ]; then
			cols=${ROW_COLS[$rel]:-seller_id}
			vals=${ROW_VALS[$rel]:-@S@}
			# a COPY refused before it reads its data leaves the data line in
			# psql's query buffer, where \r drops it: it must not end a statement
			case $vals in
				*[\;\\\']*) echo "bad row for $rel: $vals" >&2; exit 1 ;;
			esac
			for s in A B; do
				id=${!s}
				row=${vals//@S@/$id}
				emit_op "$rel" "ins$s" "INSERT INTO $q ($cols) VALUES ($(sql_values "$row"));"
				emit_op "$rel" "upd$s" "UPDATE $q SET seller_id = seller_id WHERE seller_id = $id;"
				emit_op "$rel" "del$s" "DELETE FROM $q WHERE seller_id = $id;"
				emit_op "$rel" "cpfr$s" "COPY $q ($cols) FROM STDIN;"$'\n'"$row"$'\n\\.\n\\r'
			done
		else
			# no seller to tell apart: the whole relation, in the A columns
			emit_op "$rel" insA "INSERT INTO $q DEFAULT VALUES;"
			emit_op "$rel" updA "UPDATE $q SET ${FIRSTCOL[$rel]} = ${FIRSTCOL[$rel]};"
			emit_op "$rel" delA "DELETE FROM $q;"
		fi
		emit_op "$rel" trunc "TRUNCATE $q;"
	done
	# the session's seller, and whether it can choose another
	emit_op - whoami "SELECT 'who ' || coalesce(seller_analytics.current_seller_id()::text, '-');"
	emit_op - setB "SET LOCAL seller_analytics.seller_id = '$B';"
	emit_op - whoB "SET LOCAL seller_analytics.seller_id = '$B';" \
		"SELECT 'who ' || coalesce(seller_analytics.current_seller_id()::text, '-');"
} >"$work/ops.sql"

# the app login tries to choose seller A for its whole session first
# (refused: the setting lasts one transaction at most), then names seller A
# at the start of every transaction, as a pooled application does
{
	printf '%s\n' '\set VERBOSITY verbose'
	printf '%s\n' '\echo @@ - session'
	echo "SET seller_analytics.seller_id = '$A';"
	printf '%s\n' '\echo @@= :ROW_COUNT'
} >"$work/session.sql"
sed "s/^BEGIN;\$/BEGIN; SET LOCAL seller_analytics.seller_id = '$A';/" "$work/ops.sql" >"$work/ops_app_a.sql"

for id in "${IDS[@]}"; do
	scripts=(-f "$work/ops.sql")
	if [ "$id" = app_a ]; then
		scripts=(-f "$work/session.sql" -f "$work/ops_app_a.sql")
	fi
	psql_as "$id" -At -v ON_ERROR_STOP=0 "${scripts[@]}" >"$work/out.$id" 2>"$work/err.$id" || {
		echo "FAIL: psql as $id: $(head -3 "$work/err.$id")"
		failures=$((failures + 1))
	}
done

fingerprint >"$work/after"
if cmp -s "$work/before" "$work/after"; then
	check "the matrix left every table as it was" same same
else
	diff "$work/before" "$work/after" || true
	check "the matrix left every table as it was" same different
fi

# --- 3. the matrix ------------------------------------------------------------

# One cell per identity, relation and operation (see the legend in render):
# the first error of the operation, named, or else what it saw or wrote.
for id in "${IDS[@]}"; do
	scripts=("$work/ops.sql")
	if [ "$id" = app_a ]; then
		scripts=("$work/session.sql" "$work/ops_app_a.sql")
	fi
	awk -v id="$id" -v A="$A" -v B="$B" -v relfile="$work/relations" \
		-v truthfile="$work/truth" -v errfile="$work/err.$id" -v outfile="$work/out.$id" '
	function letters(counts, rel,    n, i, kv, pair, seen, out, s) {
		# counts: "SELLER:ROWS ..." seen; total[rel, SELLER]: every row
		n = split(counts, kv, " ")
		for (i = 1; i <= n; i++) {
			split(kv[i], pair, ":")
			seen[pair[1]] = pair[2]
		}
		out = ""
		for (s in seen) if (s != A && s != B) out = "?"
		if (A in seen) out = out (seen[A] == total[rel, A] ? "A" : "a")
		if (B in seen) out = out (seen[B] == total[rel, B] ? "B" : "b")
		return out == "" ? "-" : out
	}
	function errname(code, msg) {
		if (code == "42501") return msg ~ /row-level security/ ? "rls" : "denied"
		if (code == "0A000" && msg ~ /row-level security/) return "nocopy"
		if (code == "0A000" && msg ~ /foreign key/) return "fkey"
		if (code == "23503") return "fkey"
		if (code == "23505") return "pkey"
		if (code == "55000" && msg ~ /view/) return "rdonly"
		if (code == "42809") return "notab"
		return "E" code
	}
	function finish(    cell, s, copied, who) {
		if (key == "") return
		if (key in errcode)
			cell = errname(errcode[key], errmsg[key])
		else if (op == "copyto") {
			if (sidpos[rel] > 0) {
				copied = ""
				for (s in copycount) copied = copied " " s ":" copycount[s]
				cell = letters(copied, rel)
			} else
				cell = "rows " ncopy
		} else if (data ~ /^seen/)
			cell = letters(substr(data, 6), rel)
		else if (data ~ /^rows /)
			cell = data
		else if (data ~ /^who /) {
			who = substr(data, 5)
			cell = who == A ? "A" : who == B ? "B" : who
		} else if (op == "trunc" || op == "session" || op == "setB")
			cell = "ok"
		else
			cell = count
		print id, rel, op, cell
		key = ""
	}
	FILENAME == relfile { sidpos[$1] = $3; next }
	FILENAME == truthfile {
		for (i = 3; i <= NF; i++) { split($i, pair, ":"); total[$1, pair[1]] = pair[2] }
		next
	}
	FILENAME == errfile {
		# psql:SCRIPT:LINE: ERROR:  SQLSTATE: message
		if ($0 !~ /^psql:.*: ERROR:  /) next
		s = substr($0, 6)
		i = index(s, ": ERROR:  ")
		where = lineop[substr(s, 1, i - 1)]
		s = substr(s, i + 10)
		if (where == "") {
			print "security_matrix: an error outside the operations: " s > "/dev/stderr"
			next
		}
		if (!(where in errcode)) {
			errcode[where] = substr(s, 1, 5)
			errmsg[where] = substr(s, 8)
		}
		next
	}
	FILENAME == outfile {
		if ($0 ~ /^@@ /) {
			finish(); rel = $2; op = $3; key = rel " " op; count = 0; data = ""; ncopy = 0
			delete copycount
		} else if ($0 ~ /^@@= /)
			count = $2
		else if (op == "copyto") {
			ncopy++
			if (sidpos[rel] > 0) { split($0, f, "\t"); copycount[f[sidpos[rel]]]++ }
		} else
			data = $0
		next
	}
	{
		# a script: which operation each line belongs to
		if (FNR == 1) cur = ""
		if ($1 == "\\echo" && $2 == "@@") cur = $3 " " $4
		lineop[FILENAME ":" FNR] = cur
	}
	END { finish() }
	' "$work/relations" "$work/truth" "${scripts[@]}" "$work/err.$id" "$work/out.$id"
done >"$work/cells"

declare -A CELL
while read -r id rel op cell; do
	CELL["$id $rel $op"]=$cell
done <"$work/cells"

render() {
	local id rel op line
	cat <<'EOF'
# The access matrix of seller_analytics (test/sql/security_matrix.sh).
#
# One block per identity, one line per table (t) and view (v) of schema
# seller_analytics, one column per operation, each in a transaction of its
# own that is rolled back.  Seller A is seller_id 1, B is 2; both have rows
# in every relation but event_intake (which reads nothing).
#
#   select  SELECT of every row           insA  insB   INSERT of a row of A / of B
#   copyto  COPY ... TO STDOUT            updA  updB   UPDATE of A's / B's rows
#   trunc   TRUNCATE                      delA  delB   DELETE of A's / B's rows
#                                         cpfrA cpfrB  COPY ... FROM STDIN, a row of A / of B
#
# Cells
#   A B AB -  whose rows were seen: every row of seller A, of B, of both;
#             - none (a b: some of that seller's rows, not all)
#   0 1 2 ... rows inserted, updated, deleted or copied in; ok: TRUNCATE done
#   denied    42501 permission denied (for the table, the view or the schema)
#   rls       42501 new row violates row-level security policy
#   nocopy    0A000 COPY FROM not supported with row-level security
#   fkey      a foreign key stops it: 23503 DELETE of a seller that has
#             events, 0A000 TRUNCATE of a table that one references
#   pkey      23505 INSERT of a seller that exists: past every privilege
#             and policy check
#   notab     42809 COPY or TRUNCATE of a view (COPY FROM works on a view
#             with an INSTEAD OF INSERT trigger)
#   rdonly    55000 INSERT, UPDATE or DELETE of a view that is not updatable
#   Ennnnn    any other error, by SQLSTATE
#   .         not tried (a relation without seller_id: the A columns stand
#             for the whole relation)
#
# Under each identity: current_seller_id() in its session; whether it can
# SET LOCAL seller_analytics.seller_id = B, and if so, current_seller_id() then.
EOF
	for id in "${IDS[@]}"; do
		echo
		echo "== $id: ${WHAT[$id]}"
		if [ "$id" = app_a ]; then
			echo "SET seller_analytics.seller_id = A for the session: ${CELL["$id - session"]:-?}"
		fi
		line="current_seller_id(): ${CELL["$id - whoami"]:-?}; SET LOCAL seller_analytics.seller_id = B: ${CELL["$id - setB"]:-?}"
		if [ "${CELL["$id - setB"]:-}" = ok ]; then
			line="$line, then current_seller_id(): ${CELL["$id - whoB"]:-?}"
		fi
		echo "$line"
		{
			printf '%-22s' "relation"
			for op in "${OPS[@]}"; do
				printf ' %-6s' "$op"
			done
			echo
			for rel in "${RELS[@]}"; do
				printf '%-20s %s' "$rel" "$([ "${KIND[$rel]}" = v ] && echo v || echo t)"
				for op in "${OPS[@]}"; do
					printf ' %-6s' "${CELL["$id $rel $op"]:-.}"
				done
				echo
			done
		} | sed 's/ *$//'
	done
}
render >"$work/matrix"

# --- invariants (independent of the expected file) ----------------------------
violations=0
violation() {
	echo "VIOLATION: $*"
	violations=$((violations + 1))
}
is_count() { [[ $1 =~ ^[0-9]+$ ]]; }
# wrote CELL: rows were written, or the statement got past every privilege
# and policy check (stopped by a key, or an integrity error)
wrote() {
	is_count "$1" && [ "$1" -gt 0 ] && return 0
	case $1 in
		ok | pkey | fkey | E23*) return 0 ;;
	esac
	return 1
}

# scoped identities: their seller and the other one
declare -A OWN=([seller_a]=A [seller_b]=B [app_a]=A)
declare -A OTHER=([seller_a]=B [seller_b]=A [app_a]=B)
for id in seller_a seller_b app_a; do
	own=${OWN[$id]}
	other=${OTHER[$id]}
	lower=${other,,}
	for rel in "${RELS[@]}"; do
		for op in select copyto; do
			c=${CELL["$id $rel $op"]:-}
			# a cell of sellers seen (not an error code or a row count)
			if [[ $c =~ ^[-ABab?]+$ ]] && [[ $c == *"$other"* || $c == *"$lower"* || $c == *"?"* ]]; then
				violation "$id sees rows of seller $other in $rel ($op: $c)"
			fi
		done
		for op in "upd$other" "del$other" "ins$other" "cpfr$other" trunc; do
			c=${CELL["$id $rel $op"]:-}
			if wrote "$c"; then
				violation "$id changes rows of seller $other in $rel ($op: $c)"
			fi
		done
	done
	for rel in sellers events; do
		c=${CELL["$id $rel select"]:-}
		[ "$c" = "$own" ] || violation "$id does not see exactly seller $own's rows in $rel (select: $c)"
	done
	c=${CELL["$id - whoami"]:-}
	[ "$c" = "$own" ] || violation "$id: current_seller_id() is '$c', not $own"
	# a seller's login cannot choose another seller (the app can)
	c=${CELL["$id - whoB"]:-}
	if [ "$id" != app_a ] && [ "$c" != denied ] && [ "$c" != "$own" ]; then
		violation "$id: after SET seller_analytics.seller_id = B, current_seller_id() is '$c'"
	fi
done

# identities that see no seller's rows.  The cohort benchmarks' tables hold
# no seller's rows (released figures and their configuration, public by
# design): rows of them are no violation.
declare -A PUBLIC_REL=([benchmark_metrics]=1 [benchmark_settings]=1 [benchmark_taxonomy]=1
	[benchmark_releases]=1 [benchmark_publications]=1)
for id in app analyst jobs ingest nobody; do
	for rel in "${RELS[@]}"; do
		for op in select copyto; do
			c=${CELL["$id $rel $op"]:-}
			case $c in
				*[A-Za-z?]*)
					case $c in
						denied | rls | - | "rows 0" | notab | E?????) ;;
						"rows "*) [ -n "${PUBLIC_REL[$rel]:-}" ] ||
							violation "$id sees rows in $rel ($op: $c)" ;;
						*) violation "$id sees rows in $rel ($op: $c)" ;;
					esac ;;
			esac
		done
	done
done

# no one but the owner and the superuser writes; the ingest role only adds events
for id in app app_a seller_a seller_b analyst jobs nobody ingest; do
	for rel in "${RELS[@]}"; do
		for op in insA insB updA updB delA delB trunc cpfrA cpfrB; do
			c=${CELL["$id $rel $op"]:-}
			if [ "$id" = ingest ]; then
				case "$rel $op" in
					"events insA" | "events insB" | "event_intake "*) continue ;;
				esac
			fi
			if wrote "$c"; then
				violation "$id writes to $rel ($op: $c)"
			fi
		done
	done
done
for op in insA insB; do
	c=${CELL["ingest events $op"]:-}
	[ "$c" = 1 ] || violation "ingest cannot INSERT into events ($op: $c)"
done
for op in cpfrA cpfrB; do
	c=${CELL["ingest event_intake $op"]:-}
	[ "$c" = 1 ] || violation "ingest cannot COPY into event_intake ($op: $c)"
done
for op in updA updB delA delB trunc; do
	c=${CELL["ingest event_intake $op"]:-}
	if wrote "$c"; then
		violation "ingest writes to event_intake ($op: $c)"
	fi
done
check "invariants of the security model" 0 "$violations"

# --- 4. a seller's session that starts by choosing another seller -------------
# Until the module is loaded in a session, nothing checks a SET of the
# setting; current_seller_id() must ignore it all the same.
for id in seller_a seller_b; do
	own=${OWN[$id]}
	other=${OTHER[$id]}
	want=$(
		for rel in events sellers; do
			awk -v rel="$rel" -v s="${!own}" \
				'$1 == rel { for (i = 3; i <= NF; i++) if ($i ~ "^" s ":") print "seen " $i }' "$work/truth"
		done
		echo "${!own}"
	)
	got=$(psql_as "$id" -At 2>/dev/null <<SQL || true
SET seller_analytics.seller_id = '${!other}';
$(seen_query events)
$(seen_query sellers)
SELECT coalesce(seller_analytics.current_seller_id()::text, '-');
SQL
	)
	check "$id, after SET seller_analytics.seller_id = $other first thing, sees only $own's rows" \
		"$(tr '\n' ' ' <<<"$want")" "$(tr '\n' ' ' <<<"$got")"
done

# --- 5. the ingest role commits -----------------------------------------------
pending_before=$(psql_db -At -c "SELECT count(*) FROM seller_analytics.pending_deltas")
printf '%s\t%s\torder\t2026-03-02 11:00:00+00\tmx-session\tdirect\t5.00\t2\n' "$B" mx-copied >"$work/ingest.tsv"
psql_as ingest -v ON_ERROR_STOP=1 >/dev/null <<SQL || check "ingest: INSERT and COPY committed" ok failed
INSERT INTO seller_analytics.events ($event_cols)
VALUES ($A, 'mx-inserted', 'order', '2026-03-02 11:00:00+00', 'mx-session', 'email', 7.00, 1);
\\copy seller_analytics.event_intake ($event_cols) FROM '$work/ingest.tsv'
\\copy seller_analytics.event_intake ($event_cols) FROM '$work/ingest.tsv'
SQL
check "ingest: committed events are in events (a replayed COPY counts once)" "$A mx-inserted,$B mx-copied" \
	"$(psql_db -At -c "SELECT string_agg(seller_id || ' ' || event_id, ',' ORDER BY seller_id)
		FROM seller_analytics.events WHERE event_id LIKE 'mx-%'")"
check "ingest: their changes are pending" yes \
	"$(psql_db -At -c "SELECT CASE WHEN count(*) > $pending_before THEN 'yes' ELSE 'no' END
		FROM seller_analytics.pending_deltas")"
check "ingest: verify_rollups finds no difference" 0 \
	"$(psql_db -At -c "SELECT count(*) FROM seller_analytics.verify_rollups('2026-01-01', '2026-12-31')")"

# --- 6. the expected matrix ---------------------------------------------------
if [ "${SECURITY_MATRIX_BLESS:-}" = 1 ]; then
	if [ "$violations" -eq 0 ] && [ "$failures" -eq 0 ]; then
		cp "$work/matrix" "$EXPECTED"
		echo "blessed: $EXPECTED (read every cell before committing it)"
	else
		echo "FAIL: not blessed: $failures failure(s), $violations invariant(s) violated"
		failures=$((failures + 1))
	fi
elif [ ! -f "$EXPECTED" ]; then
	cat "$work/matrix"
	check "expected matrix exists" yes no
elif diff -u "$EXPECTED" "$work/matrix" >"$work/matrix.diff"; then
	check "matrix as expected (test/expected/security_matrix.out)" same same
else
	cat "$work/matrix.diff"
	check "matrix as expected (test/expected/security_matrix.out)" same different
fi

echo "security_matrix: ${#IDS[@]} identities, ${#RELS[@]} relations, ${#OPS[@]} operations," \
	"$violations invariant(s) violated, $failures failure(s), $(( $(date +%s) - started ))s"
[ "$failures" -eq 0 ]
