#pragma once

#include <string>

#include "catalog/catalog.h"
#include "catalog/event_type.h"
#include "tests/support/test_db.h"

namespace sentinel::testing {

/// Creates the tables of a catalog type by hand SQL, standing in for the DDL `migrate` makes
/// from the catalog (DESIGN §8; being written in parallel): the month-partitioned event table
/// (property columns with their pg_type(), NOT NULL when required, `extra` when unknown fields
/// are kept, the lineage columns), its rollup tables, and lets sentinel_ensure_month_partition
/// make the table's partitions (001's version knows only the built-in tables: it is widened by
/// the test's own copy of its definition). Throws std::runtime_error on any SQL failure.
void create_type_tables_by_hand(const TestDb& db, const EventType& type);

/// What `migrate` will make of `catalog`, by hand: the `extra` column of each type whose table
/// exists (the built-in ones: their tables predate it) and keeps unknown fields, and the tables of
/// every other type (create_type_tables_by_hand).
void create_catalog_tables_by_hand(const TestDb& db, const Catalog& catalog);

/// The CREATE TABLE statement of `type`'s event table (exposed for the failure messages).
std::string event_table_sql(const EventType& type);

}  // namespace sentinel::testing
