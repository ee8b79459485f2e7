#!/usr/bin/env bash
# percentile_sketch through binary COPY and through pg_dump/pg_restore.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`), as a user that may create databases.
#
#   1. creates a database with the extension and a table of sketches of
#      varied shapes: empty (at several scales), one value, zeros only,
#      negative only, mixed signs, a huge range, subnormals, bigint extremes,
#      a sum beyond double precision, every precision, histograms, a large
#      (TOASTed) sketch, and a NULL
#   2. binary COPY out to a file and back into another table: the same bytes
#      (send) and the same answers from every accessor; a corrupted binary
#      sketch is refused on the way in
#   3. pg_dump -Fc of the database, pg_restore into a new one: every answer
#      (text, bytes, count, min, max, sum, mean, relative error, percentiles
#      at 101 fractions, ranks at 13 values) is the same as in the original
#
# Prints a summary; exits non-zero on any difference.
set -euo pipefail

# shellcheck source=../pg_tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/../pg_tools.sh"

SRC=sketch_dump_src_$$
DST=sketch_dump_dst_$$
work=$(mktemp -d)
chmod 755 "$work"

cleanup() {
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $SRC" -c "DROP DATABASE IF EXISTS $DST" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

psql_src() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$SRC" "$@"; }

"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST"

# --- 1. the sketches --------------------------------------------------------
psql_src <<'SQL'
CREATE EXTENSION seller_analytics;
SET search_path = seller_analytics, public;
CREATE FUNCTION u(i bigint, salt text) RETURNS double precision
LANGUAGE sql IMMUTABLE
AS $$ SELECT (('x' || md5(salt || i::text))::bit(52)::bigint)::float8 / 4503599627370496.0 $$;

CREATE TABLE sketches (id serial PRIMARY KEY, name text NOT NULL, s percentile_sketch);
INSERT INTO sketches (name, s)
SELECT 'empty scale ' || sc, ('v1 scale=' || sc || ' count=0')::percentile_sketch FROM generate_series(0, 12, 6) AS sc
UNION ALL SELECT 'one value', sketch_add(NULL, 3)
UNION ALL SELECT 'zeros only', percentile_agg(0::float8) FROM generate_series(1, 100)
UNION ALL SELECT 'negative only', percentile_agg(-x::float8 / 7) FROM generate_series(1, 1000) AS x
UNION ALL SELECT 'mixed signs', percentile_agg((u(i, 'ms') - 0.4) * 1000) FROM generate_series(1, 5000) AS i
UNION ALL SELECT 'huge range', percentile_agg((CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END) * 10 ^ (600 * u(i, 'hr') - 300))
          FROM generate_series(1, 20000) AS i
UNION ALL SELECT 'subnormals', percentile_agg(i * 5e-324) FROM generate_series(-300, 300) AS i
UNION ALL SELECT 'bigint extremes', percentile_agg(x)
          FROM (VALUES (9223372036854775807::bigint), ((-9223372036854775808)::bigint), (0), (1), (-1)) AS v(x)
UNION ALL SELECT 'sum beyond double', sketch_add(sketch_add(NULL, 1e308), 1e308)
UNION ALL SELECT 'prices e=' || e, percentile_agg(round((5 + 495 * u(i, 'pr'))::numeric, 2), e)
          FROM generate_series(1, 3000) AS i, (VALUES (0.4::float8), (0.05), (0.01), (0.001), (0.0001)) AS v(e)
          GROUP BY e
UNION ALL SELECT 'histogram scale 0', percentile_sketch_from_histogram(0, 2, 0, '{1,1}', 1, '{3}')
UNION ALL SELECT 'histogram scale 20', percentile_sketch_from_histogram(20, 5, 1000000, '{1,0,2,9}', -77, '{4}', sum => 12.5)
UNION ALL SELECT 'large', percentile_agg((u(i, 'lg') - 0.5) * 10 ^ (u(i, 'lx') * 40 - 20), 0.0001)
          FROM generate_series(1, 50000) AS i
UNION ALL SELECT 'null', NULL;

-- every answer, one line per sketch, in a form that shows every bit
CREATE FUNCTION answers(s percentile_sketch) RETURNS text LANGUAGE plpgsql
SET search_path = seller_analytics, public AS $$
DECLARE
  r text;
  sum_text text;
BEGIN
  IF s IS NULL THEN
    RETURN 'NULL';
  END IF;
  BEGIN
    sum_text := sketch_sum(s)::text || ' ' || sketch_mean(s)::text;
  EXCEPTION WHEN numeric_value_out_of_range THEN
    sum_text := 'sum out of range';
  END;
  SELECT concat_ws(' | ', s::text, encode(percentile_sketch_send(s), 'hex'),
                   sketch_count(s), sketch_min(s), sketch_max(s), sum_text,
                   sketch_relative_error(s),
                   approx_percentile(s, ARRAY(SELECT k / 100.0 FROM generate_series(0, 100) AS k)::float8[]),
                   (SELECT string_agg(coalesce(approx_percentile_rank(s, v)::text, 'NULL'), ',' ORDER BY v)
                    FROM unnest('{-Infinity,-1e300,-1000,-1,-1e-300,0,1e-310,1,3,100,1e300,Infinity,-3}'::float8[]) AS v))
  INTO r;
  RETURN r;
END $$;
SQL

rows=$(psql_src -At -c "SELECT count(*) FROM seller_analytics.sketches")
echo "sketches: $rows"

# --- 2. binary COPY out and in -----------------------------------------------
psql_src <<SQL
\copy (SELECT id, name, s FROM seller_analytics.sketches ORDER BY id) TO '$work/sketches.bin' WITH (FORMAT binary)
CREATE TABLE seller_analytics.copied (LIKE seller_analytics.sketches);
\copy seller_analytics.copied FROM '$work/sketches.bin' WITH (FORMAT binary)
SQL
check "binary COPY: rows" "$rows" "$(psql_src -At -c "SELECT count(*) FROM seller_analytics.copied")"
check "binary COPY: same bytes" "0" "$(psql_src -At -c "
	SELECT count(*) FROM seller_analytics.sketches AS a JOIN seller_analytics.copied AS b USING (id)
	WHERE seller_analytics.percentile_sketch_send(a.s) IS DISTINCT FROM seller_analytics.percentile_sketch_send(b.s)
	   OR a.name <> b.name")"
check "binary COPY: same answers" "0" "$(psql_src -At -c "
	SELECT count(*) FROM seller_analytics.sketches AS a JOIN seller_analytics.copied AS b USING (id)
	WHERE seller_analytics.answers(a.s) <> seller_analytics.answers(b.s)")"

# The first sketch's format version byte: after the 19-byte file header,
# the tuple's field count (2 bytes), id (4 + 4), name (4 + its length) and
# the sketch's length (4).
name_len=$(psql_src -At -c "SELECT octet_length(name) FROM seller_analytics.sketches ORDER BY id LIMIT 1")
offset=$((19 + 2 + 4 + 4 + 4 + name_len + 4))
cp "$work/sketches.bin" "$work/corrupt.bin"
check "binary COPY: version byte located" "01" "$(od -An -tx1 -j "$offset" -N1 "$work/corrupt.bin" | tr -d ' ')"
printf '\002' | dd of="$work/corrupt.bin" bs=1 seek="$offset" conv=notrunc status=none
err=$(psql_src -c "CREATE TABLE seller_analytics.corrupt (LIKE seller_analytics.sketches)" \
	-c "\\copy seller_analytics.corrupt FROM '$work/corrupt.bin' WITH (FORMAT binary)" 2>&1 >/dev/null || true)
case $err in
	*"invalid binary data for type percentile_sketch"*"Unsupported format version."*)
		check "binary COPY: corrupt sketch refused" "refused" "refused" ;;
	*)
		check "binary COPY: corrupt sketch refused" "refused" "$err" ;;
esac
check "binary COPY: nothing loaded from the corrupt file" "0" \
	"$(psql_src -At -c "SELECT count(*) FROM seller_analytics.corrupt")"
psql_src -c "DROP TABLE seller_analytics.copied, seller_analytics.corrupt"

# --- 3. pg_dump and pg_restore -----------------------------------------------
"$PG_DUMP" -Fc -f "$work/src.dump" "$SRC"
"$PG_RESTORE" --exit-on-error -d "$DST" "$work/src.dump"
answers_query="SELECT id, name, seller_analytics.answers(s) FROM seller_analytics.sketches ORDER BY id"
psql_src -At -c "$answers_query" >"$work/src.answers"
"$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$DST" -At -c "$answers_query" >"$work/dst.answers"
check "pg_restore: rows" "$rows" "$(wc -l <"$work/dst.answers" | tr -d ' ')"
if cmp -s "$work/src.answers" "$work/dst.answers"; then
	check "pg_restore: same answers for every sketch" "same" "same"
else
	diff "$work/src.answers" "$work/dst.answers" | head -20 || true
	check "pg_restore: same answers for every sketch" "same" "different"
fi
# the answers are not vacuous: the percentiles of the mixed-signs sketch
check "answers include percentiles" "1" "$(grep -c '^[0-9]*|mixed signs|.*{-39[0-9.]*,' "$work/src.answers" || true)"

echo "sketch_dump: $rows sketches, $failures failure(s)"
[ "$failures" -eq 0 ]
