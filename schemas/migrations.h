#pragma once

#include <string_view>
#include <vector>

namespace sentinel {

/// One numbered SQL file of schemas/, compiled into the binary.
struct EmbeddedMigration {
  int version;            ///< from the file name: 001_core.sql → 1
  std::string_view name;  ///< file name without .sql
  std::string_view sql;
};

/// Every migration in version order.
const std::vector<EmbeddedMigration>& embedded_migrations();

}  // namespace sentinel
