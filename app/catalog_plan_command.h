#pragma once

#include <memory>
#include <string>

#include "catalog/catalog.h"

namespace sentinel {

/// load_catalog(dir), or nullptr after printing every problem of the catalog to stderr, one per
/// line (the command then exits 2).
std::shared_ptr<const Catalog> load_catalog_or_report(const std::string& dir);

/// `sentinel-ingest catalog plan --pg URL [--catalog DIR]`: prints the DDL `migrate` would apply
/// for the built-in types plus the files of `catalog_dir` ("" for the built-in ones only), then
/// what it keeps and what it refuses (with the SQL a DBA would run). Changes nothing: pending
/// numbered migrations are applied in a transaction that is rolled back, so the plan is exact
/// even before the first `migrate`. Returns the exit code: 0 when migrate would succeed (also when
/// there is nothing to do), 2 when it would refuse or the catalog is invalid (every problem on
/// stderr). Throws what apply_migrations throws for the connection (mapped by main).
int run_catalog_plan(const std::string& pg_url, const std::string& catalog_dir);

}  // namespace sentinel
