#pragma once

#include <string>

namespace sentinel {

/// `sentinel-ingest catalog plan --pg URL [--catalog DIR]`: prints the DDL `migrate` would apply
/// for the built-in types plus the files of `catalog_dir` ("" for the built-in ones only), then
/// what it keeps and what it refuses (with the SQL a DBA would run). Changes nothing: pending
/// numbered migrations are applied in a transaction that is rolled back, so the plan is exact
/// even before the first `migrate`. Returns the exit code: 0 when migrate would succeed (also when
/// there is nothing to do), 2 when it would refuse. Throws CatalogError for an invalid catalog and
/// what preview_migrations throws for the database (main maps both to their exit codes).
int run_catalog_plan(const std::string& pg_url, const std::string& catalog_dir);

}  // namespace sentinel
