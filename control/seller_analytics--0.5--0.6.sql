/* control/seller_analytics--0.5--0.6.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "ALTER EXTENSION seller_analytics UPDATE TO '0.6'" to load this file. \quit

-------------------------------------------------------------------------------
-- issue 12: serving through a transaction pooler; the live read
-------------------------------------------------------------------------------

-- (end of section: issue 12)


-------------------------------------------------------------------------------
-- issue 13: ledger and aggregate defects
-------------------------------------------------------------------------------

-- (end of section: issue 13, ledger and aggregate defects)


-------------------------------------------------------------------------------
-- issue 13: cohort benchmarks
-------------------------------------------------------------------------------

-- (end of section: issue 13, cohort benchmarks)


-------------------------------------------------------------------------------
-- issue 14: ingestion
-------------------------------------------------------------------------------

-- The capture trigger's memory is bounded (seller_analytics.capture_memory,
-- defined by the module): past it, a transaction's captured changes go to
-- pending_deltas at once, in chunks, rather than all at commit.
COMMENT ON FUNCTION seller_analytics.capture_events() IS
    'row trigger: accumulates each transaction''s changes of events and appends them to pending_deltas at commit, or earlier in chunks once they pass seller_analytics.capture_memory';

-- (end of section: issue 14)
