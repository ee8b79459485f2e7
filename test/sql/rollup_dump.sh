#!/usr/bin/env bash
# Rollups through pg_dump/pg_restore.
#
# Runs against the server the PG* environment variables point to (the
# throw-away cluster of `make test`), as a user that may create databases.
#
#   1. creates a database with the extension: sellers in several time zones
#      (one changed after its events came in), a few thousand events loaded
#      in several transactions, compacted, then more events and corrections
#      (updated and deleted orders and page views) left pending and marked
#   2. pg_dump -Fc of the database, pg_restore into a new one (and, with
#      --single-transaction, into another): sellers and events are the same, row for row;
#      the live views seller_daily_metrics and seller_daily_traffic are the
#      same as the original's (order-value sketches byte for byte);
#      verify_rollups finds no difference; compact() folds the reloaded
#      events, after which the views are still the same, nothing is
#      pending and the tables are what a recomputation gives; a seller's
#      login role mapped in the original (seller_roles) still sees its
#      seller's rows, and only those, in the restored databases
#
# Prints a summary; exits non-zero on any difference.
set -euo pipefail

# shellcheck source=../pg_tools.sh
. "$(dirname "${BASH_SOURCE[0]}")/../pg_tools.sh"

SRC=rollup_dump_src_$$
DST=rollup_dump_dst_$$
PAR=rollup_dump_par_$$
SELLER_ROLE=rollup_dump_seller_$$
work=$(mktemp -d)
chmod 755 "$work"

cleanup() {
	"$PSQL" -X -q -d postgres -c "DROP DATABASE IF EXISTS $SRC" -c "DROP DATABASE IF EXISTS $DST" \
		-c "DROP DATABASE IF EXISTS $PAR" -c "DROP ROLE IF EXISTS $SELLER_ROLE" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

psql_db() { local db=$1; shift; "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
psql_src() { psql_db "$SRC" "$@"; }

"$PSQL" -X -q -v ON_ERROR_STOP=1 -d postgres -c "CREATE DATABASE $SRC" -c "CREATE DATABASE $DST" \
	-c "CREATE DATABASE $PAR"

# --- 1. sellers, events, compacted rollups, pending changes -----------------
psql_src >/dev/null <<'SQL'
CREATE EXTENSION seller_analytics;
SET search_path = seller_analytics, public;
INSERT INTO sellers (seller_id, name, category, region, product_type, time_zone, created_at)
SELECT i, 'seller ' || i, 'cat ' || i % 3, 'region ' || i % 2, 'type ' || i % 4,
       (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham',
              'America/Los_Angeles'])[i],
       '2025-12-01 00:00Z'::timestamptz + i * interval '1 day'
FROM generate_series(1, 6) AS i;

-- a batch of events per transaction
CREATE FUNCTION pg_temp.load(first int, last int) RETURNS void LANGUAGE sql AS $$
  INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, session_id,
                                       traffic_source, amount, quantity)
  SELECT 1 + i % 6, 'e' || i,
         (ARRAY['session_start', 'page_view', 'page_view', 'add_to_cart', 'order', 'order', 'refund'])[1 + (i * 7919) % 7],
         '2026-03-27 00:00Z'::timestamptz + (i * 7877 % 518400) * interval '1 second',
         's' || i / 4,
         (ARRAY['google', 'email', NULL, 'social', 'direct'])[1 + (i * 31) % 5],
         round(((i * 104729) % 100000) / 100.0 + 0.01, 2),
         CASE WHEN i % 5 = 0 THEN NULL ELSE (i * 13) % 4 END
  FROM generate_series(first, last) AS i
  ON CONFLICT DO NOTHING;
$$;
SELECT pg_temp.load(1, 1500);
SELECT pg_temp.load(1001, 2500);	-- overlaps: replayed events count once
SELECT * FROM compact();
SELECT pg_temp.load(2501, 3000);
UPDATE events SET amount = amount + 0.5 WHERE event_type = 'order' AND (substr(event_id, 2))::int % 11 = 0;
DELETE FROM events WHERE (substr(event_id, 2))::int % 13 = 0;
UPDATE events SET traffic_source = 'moved' WHERE event_type = 'page_view' AND (substr(event_id, 2))::int % 7 = 0;
UPDATE sellers SET time_zone = 'Asia/Tokyo' WHERE seller_id = 6;
SQL

# a seller's login role, mapped to seller 2
psql_src -c "CREATE ROLE $SELLER_ROLE LOGIN" -c "SELECT seller_analytics.assign_seller_role('$SELLER_ROLE', 2)" >/dev/null

counts=$(psql_src -At -F' ' -c "
	SELECT (SELECT count(*) FROM seller_analytics.sellers), (SELECT count(*) FROM seller_analytics.events),
	       (SELECT count(*) FROM seller_analytics.daily_metrics), (SELECT count(*) FROM seller_analytics.pending_deltas),
	       (SELECT count(*) FROM seller_analytics.recompute_marks)")
echo "source: sellers events metric_rows pending marks = $counts"
read -r n_sellers n_events n_metric n_pending n_marks <<<"$counts"
check "source has compacted rows, pending rows and marks" "yes" \
	"$([ "$n_metric" -gt 0 ] && [ "$n_pending" -gt 0 ] && [ "$n_marks" -gt 0 ] && echo yes || echo no)"
check "source: verify_rollups finds no difference" "0" \
	"$(psql_src -At -c "SELECT count(*) FROM seller_analytics.verify_rollups('2026-01-01', '2026-12-31')")"

# what must survive, one line per row, every bit shown
sellers_query="SELECT seller_id, name, category, region, product_type, time_zone, created_at
	FROM seller_analytics.sellers ORDER BY seller_id"
events_query="SELECT seller_id, event_id, event_type, occurred_at, session_id, traffic_source, amount, quantity
	FROM seller_analytics.events ORDER BY seller_id, event_id"
metrics_query="SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue, refunds,
	refund_amount, encode(seller_analytics.percentile_sketch_send(order_value), 'hex'), conversion_rate, avg_order_value
	FROM seller_analytics.seller_daily_metrics ORDER BY seller_id, day"
traffic_query="SELECT seller_id, day, traffic_source, sessions, page_views, orders, revenue, conversion_rate,
	avg_order_value FROM seller_analytics.seller_daily_traffic ORDER BY seller_id, day, traffic_source"
snapshot() {			# snapshot DB PREFIX
	psql_db "$1" -At -c "SET timezone = 'UTC'" -c "$sellers_query" >"$work/$2.sellers"
	psql_db "$1" -At -c "SET timezone = 'UTC'" -c "$events_query" >"$work/$2.events"
	psql_db "$1" -At -c "$metrics_query" >"$work/$2.metrics"
	psql_db "$1" -At -c "$traffic_query" >"$work/$2.traffic"
}
same() {			# same NAME FILE1 FILE2
	if cmp -s "$2" "$3"; then
		check "$1" "same" "same"
	else
		diff "$2" "$3" | head -10 || true
		check "$1" "same" "different"
	fi
}
snapshot "$SRC" src
check "source: live metric rows" "$(psql_src -At -c "SELECT count(*) FROM seller_analytics.seller_daily_metrics")" \
	"$(wc -l <"$work/src.metrics" | tr -d ' ')"

# --- 2. pg_dump and pg_restore ------------------------------------------------
"$PG_DUMP" -Fc -f "$work/src.dump" "$SRC"
"$PG_RESTORE" --exit-on-error -d "$DST" "$work/src.dump"
# not -j: a parallel restore may load events before sellers (doc/ingestion.md)
"$PG_RESTORE" --exit-on-error --single-transaction -d "$PAR" "$work/src.dump"

for db in "$DST" "$PAR"; do
	label=${db%_$$}
	label=${label#rollup_dump_}
	snapshot "$db" "$label"
	same "$label: sellers identical" "$work/src.sellers" "$work/$label.sellers"
	same "$label: events identical" "$work/src.events" "$work/$label.events"
	check "$label: events rows" "$n_events" "$(wc -l <"$work/$label.events" | tr -d ' ')"
	same "$label: seller_daily_metrics identical" "$work/src.metrics" "$work/$label.metrics"
	same "$label: seller_daily_traffic identical" "$work/src.traffic" "$work/$label.traffic"
	check "$label: verify_rollups finds no difference" "0" \
		"$(psql_db "$db" -At -c "SELECT count(*) FROM seller_analytics.verify_rollups('2026-01-01', '2026-12-31')")"
	folded=$(psql_db "$db" -At -c "SELECT deltas > 0 FROM seller_analytics.compact()")
	check "$label: compact() folds the reloaded events" "t" "$folded"
	check "$label: nothing pending after compact()" "0 0" \
		"$(psql_db "$db" -At -F' ' -c "SELECT (SELECT count(*) FROM seller_analytics.pending_deltas),
		                                      (SELECT count(*) FROM seller_analytics.recompute_marks)")"
	snapshot "$db" "$label.compacted"
	same "$label: seller_daily_metrics identical after compact()" "$work/src.metrics" "$work/$label.compacted.metrics"
	same "$label: seller_daily_traffic identical after compact()" "$work/src.traffic" "$work/$label.compacted.traffic"
	check "$label: verify_rollups after compact()" "0" \
		"$(psql_db "$db" -At -c "SELECT count(*) FROM seller_analytics.verify_rollups('2026-01-01', '2026-12-31')")"
	check "$label: daily_metrics is the recomputation" "0" "$(psql_db "$db" -At -c "
		SELECT count(*) FROM (
		  (SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue, refunds,
		          refund_amount, seller_analytics.percentile_sketch_send(order_value) FROM seller_analytics.daily_metrics
		   EXCEPT
		   SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue, refunds,
		          refund_amount, seller_analytics.percentile_sketch_send(order_value)
		   FROM seller_analytics.recomputed_daily_metrics('2026-01-01', '2026-12-31'))
		  UNION ALL
		  (SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue, refunds,
		          refund_amount, seller_analytics.percentile_sketch_send(order_value)
		   FROM seller_analytics.recomputed_daily_metrics('2026-01-01', '2026-12-31')
		   EXCEPT
		   SELECT seller_id, day, sessions, page_views, add_to_carts, orders, units, revenue, refunds,
		          refund_amount, seller_analytics.percentile_sketch_send(order_value) FROM seller_analytics.daily_metrics)) d")"
	check "$label: the seller's login role sees seller 2's rows only" \
		"$(grep -c '^2|' "$work/src.metrics")|2|2" \
		"$(psql_db "$db" -At -c "SET SESSION AUTHORIZATION $SELLER_ROLE" \
			-c "SELECT count(*) || '|' || min(seller_id) || '|' || max(seller_id) FROM seller_analytics.seller_daily_metrics")"
	# the restored database keeps working: a new event counts at once
	psql_db "$db" -c "INSERT INTO seller_analytics.events (seller_id, event_id, event_type, occurred_at, amount)
		VALUES (1, 'after-restore', 'order', '2026-03-28 12:00Z', 1.00)"
	check "$label: a new event counts after the restore" "0" \
		"$(psql_db "$db" -At -c "SELECT count(*) FROM seller_analytics.verify_rollups('2026-01-01', '2026-12-31')")"
done

echo "rollup_dump: $n_sellers sellers, $n_events events, $failures failure(s)"
[ "$failures" -eq 0 ]
