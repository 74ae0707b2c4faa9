#include "app/catalog_plan_command.h"

#include <fmt/format.h>

#include "catalog/catalog.h"
#include "sinks/catalog_schema.h"
#include "sinks/migrator.h"

namespace sentinel {

int run_catalog_plan(const std::string& pg_url, const std::string& catalog_dir) {
  const std::shared_ptr<const Catalog> catalog = load_catalog(catalog_dir);
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
