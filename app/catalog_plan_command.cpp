#include "app/catalog_plan_command.h"

#include <fmt/format.h>

#include <cstdio>

#include "sinks/catalog_schema.h"
#include "sinks/migrator.h"

namespace sentinel {

std::shared_ptr<const Catalog> load_catalog_or_report(const std::string& dir) {
  try {
    return load_catalog(dir);
  } catch (const CatalogError& e) {
    for (const CatalogProblem& p : e.problems()) fmt::print(stderr, "{}\n", p.to_string());
    return nullptr;
  }
}

int run_catalog_plan(const std::string& pg_url, const std::string& catalog_dir) {
  const std::shared_ptr<const Catalog> catalog = load_catalog_or_report(catalog_dir);
  if (!catalog) return 2;
  std::vector<int> pending;
  const CatalogPlan plan = preview_migrations(pg_url, *catalog, pending);
  if (!pending.empty()) {
    fmt::print("-- numbered migrations {} are applied first (schemas/)\n",
               fmt::join(pending, ", "));
  }
  fmt::print("{}", plan.to_text());
  return plan.refused() ? 2 : 0;
}

}  // namespace sentinel
