#!/usr/bin/env bash
# Capture trigger variants, side by side; `make bench-capture-variants` runs
# it.
#
# Three tables of the same definition as seller_analytics.events (columns,
# primary key, index, CHECKs, foreign key to sellers), in one database:
#
#   plain      no trigger
#   c_row      seller_analytics.events itself: the extension's C row
#              trigger, which accumulates a transaction's changes in memory
#              and appends them to pending_deltas at commit
#   sql_stmt   a PL/pgSQL AFTER INSERT ... FOR EACH STATEMENT trigger with a
#              transition table, appending the statement's changes, grouped
#              by (seller, local day, source), to a copy of pending_deltas
#              (with the same index) in one INSERT ... SELECT
#
# pgbench -M prepared, VARIANTS_CLIENTS clients, VARIANTS_SECONDS seconds a
# run, VARIANTS_ROUNDS rounds in which the three alternate (the order
# rotating), every table and pending table truncated before each run, no
# compaction (what is compared is the capture path alone):
#
#   a. single-row INSERT ... ON CONFLICT DO NOTHING, random seller of 10 000
#   c. 100-row INSERT ... SELECT of random sellers, ON CONFLICT DO NOTHING
#
# Prints the median tps and the ratios to plain, and writes
# bench/results/capture-variants-YYYY-MM-DD.md.
#
# Environment: VARIANTS_SECONDS (10), VARIANTS_ROUNDS (3), VARIANTS_CLIENTS
# (16), PG_CONFIG, JOBS as for bench/lib.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"

VARIANTS_SECONDS=${VARIANTS_SECONDS:-10}
VARIANTS_ROUNDS=${VARIANTS_ROUNDS:-3}
VARIANTS_CLIENTS=${VARIANTS_CLIENTS:-16}
export VARIANTS_SECONDS VARIANTS_ROUNDS VARIANTS_CLIENTS

table_of() {
	case $1 in
	plain) echo bench.events_plain ;;
	c_row) echo seller_analytics.events ;;
	sql_stmt) echo bench.events_stmt ;;
	esac
}

in_virtualenv() {
	local report=$1
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/seller_analytics_variants.XXXXXX")
	trap 'rm -rf "$WORK"' EXIT
	psql -X -q -v ON_ERROR_STOP=1 -d postgres -c 'CREATE DATABASE bench'
	psql_b <<-'SQL'
		CREATE EXTENSION seller_analytics;
		CREATE SCHEMA bench;
		INSERT INTO seller_analytics.sellers (seller_id, time_zone)
		SELECT i, (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo'])[1 + i % 4]
		FROM generate_series(1, 10000) i;
		CREATE TABLE bench.events_plain (LIKE seller_analytics.events INCLUDING ALL);
		ALTER TABLE bench.events_plain ADD FOREIGN KEY (seller_id) REFERENCES seller_analytics.sellers;
		CREATE TABLE bench.events_stmt (LIKE seller_analytics.events INCLUDING ALL);
		ALTER TABLE bench.events_stmt ADD FOREIGN KEY (seller_id) REFERENCES seller_analytics.sellers;
		CREATE TABLE bench.pending_stmt (LIKE seller_analytics.pending_deltas INCLUDING ALL);
		CREATE FUNCTION bench.capture_stmt() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			INSERT INTO bench.pending_stmt
			SELECT n.seller_id, seller_analytics.local_day(n.occurred_at, s.time_zone),
				   coalesce(n.traffic_source, 'unknown'),
				   count(*) FILTER (WHERE n.event_type = 'session_start'),
				   count(*) FILTER (WHERE n.event_type = 'page_view'),
				   count(*) FILTER (WHERE n.event_type = 'add_to_cart'),
				   count(*) FILTER (WHERE n.event_type = 'order'),
				   coalesce(sum(coalesce(n.quantity, 1)) FILTER (WHERE n.event_type = 'order'), 0),
				   coalesce(sum(n.amount) FILTER (WHERE n.event_type = 'order'), 0),
				   count(*) FILTER (WHERE n.event_type = 'refund'),
				   coalesce(sum(n.amount) FILTER (WHERE n.event_type = 'refund'), 0),
				   seller_analytics.percentile_agg(n.amount) FILTER (WHERE n.event_type = 'order')
			FROM new_rows n JOIN seller_analytics.sellers s ON s.seller_id = n.seller_id
			GROUP BY 1, 2, 3;
			RETURN NULL;
		END
		$$;
		CREATE TRIGGER capture_stmt AFTER INSERT ON bench.events_stmt
			REFERENCING NEW TABLE AS new_rows
			FOR EACH STATEMENT EXECUTE FUNCTION bench.capture_stmt();
		VACUUM (FREEZE, ANALYZE) seller_analytics.sellers;
	SQL
	local v t
	for v in plain c_row sql_stmt; do
		t=$(table_of $v)
		cat >"$WORK/a_$v.sql" <<-EOF
			\\set sid random(1, 10000)
			INSERT INTO $t VALUES (:sid, 'a' || :client_id || '-' || random(), 'page_view', TIMESTAMPTZ '2026-11-20 00:00+00' + random() * interval '3 days', NULL, (ARRAY['direct', 'search', 'social', 'email', 'ads', 'referral'])[1 + floor(random() * 6)::int], NULL, NULL) ON CONFLICT DO NOTHING;
		EOF
		cat >"$WORK/c_$v.sql" <<-EOF
			INSERT INTO $t SELECT 1 + floor(random() * 10000)::int, 'c' || :client_id || '-' || n || '-' || random(), (ARRAY['session_start', 'page_view', 'page_view', 'add_to_cart', 'order'])[1 + floor(random() * 5)::int], TIMESTAMPTZ '2026-11-20 00:00+00' + random() * interval '3 days', NULL, (ARRAY['direct', 'search', 'social', 'email', 'ads', 'referral'])[1 + floor(random() * 6)::int], round((random() * 100)::numeric, 2), 1 FROM generate_series(1, 100) n ORDER BY random() ON CONFLICT DO NOTHING;
		EOF
	done
	: >"$WORK/tps"
	local part round order tps
	for part in a c; do
		for round in $(seq 1 "$VARIANTS_ROUNDS"); do
			case $((round % 3)) in
			1) order="plain c_row sql_stmt" ;;
			2) order="c_row sql_stmt plain" ;;
			0) order="sql_stmt plain c_row" ;;
			esac
			for v in $order; do
				psql_b -c 'TRUNCATE bench.events_plain, bench.events_stmt, bench.pending_stmt, seller_analytics.events' -c CHECKPOINT
				tps=$(pgbench -n -M prepared -c "$VARIANTS_CLIENTS" -j 2 -T "$VARIANTS_SECONDS" \
					-f "$WORK/${part}_$v.sql" bench 2>/dev/null | awk '/^tps/ { print $3 }')
				echo "$part|$round|$v|$tps" >>"$WORK/tps"
				echo "   $part round $round $v: $tps tps" >&2
			done
		done
	done
	median_tps() {			# median_tps PART VARIANT
		awk -F'|' -v p="$1" -v v="$2" '$1 == p && $3 == v { print $4 }' "$WORK/tps" | sort -g |
			awk '{ x[NR] = $1 } END { if (NR % 2) print x[(NR + 1) / 2]; else print (x[NR / 2] + x[NR / 2 + 1]) / 2 }'
	}
	{
		echo "# Capture trigger variants, $(date +%F)"
		echo
		echo 'Written by `make bench-capture-variants` (bench/ingest/variants.sh): the'
		echo "extension's C row trigger against a PL/pgSQL statement trigger with a transition"
		echo 'table (the same grouping into a copy of pending_deltas) and against no trigger.'
		echo
		bench_machine
		echo '## Runs'
		echo
		echo "pgbench -M prepared -c $VARIANTS_CLIENTS -j 2 -T $VARIANTS_SECONDS, $VARIANTS_ROUNDS rounds per"
		echo 'variant (order rotating), tables truncated and a checkpoint before each run; no'
		echo "compaction.  seller_analytics built from: ${BENCH_SOURCE:-unknown}; server settings of"
		echo 'bench/lib.sh (fsync off).'
		echo
		echo "- a: single-row INSERT ... ON CONFLICT DO NOTHING, random seller of 10 000"
		echo "- c: 100-row INSERT ... SELECT, random sellers in random order"
		echo
		md_table 'part|round|variant|tps' <"$WORK/tps"
		echo
		echo '## Medians'
		echo
		for part in a c; do
			local p c s
			p=$(median_tps "$part" plain)
			c=$(median_tps "$part" c_row)
			s=$(median_tps "$part" sql_stmt)
			echo "$part|$p|$c ($(ratio "$c" "$p")x)|$s ($(ratio "$s" "$p")x)"
		done | md_table 'part|plain tps|C row trigger tps (/ plain)|PL/pgSQL statement trigger tps (/ plain)'
		echo
	} >"$report"
	sed -n '/^## Medians/,$p' "$report"
}

if [ "${1:-}" = "--in-virtualenv" ]; then
	in_virtualenv "$2"
	exit 0
fi

bench_section "packages"
bench_packages "postgresql-$PG_MAJOR" "postgresql-server-dev-$PG_MAJOR" \
	postgresql-common make gcc procps
bench_section "build and install"
bench_build_install

bench_report capture-variants "$HERE/variants.sh"
