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

-- (end of section: issue 14)
