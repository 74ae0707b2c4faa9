#include "sinks/pg_error.h"

#include <algorithm>
#include <array>
#include <initializer_list>

namespace sentinel {
namespace {

constexpr std::array<std::string_view, static_cast<size_t>(PgErrorCategory::kCount)>
    kCategoryNames = {"transient", "row_refused", "missing_partition", "configuration", "fatal"};
static_assert(kCategoryNames.size() == static_cast<size_t>(PgErrorCategory::kCount),
              "one name per PgErrorCategory");

bool one_of(std::string_view s, std::initializer_list<std::string_view> codes) {
  for (std::string_view c : codes)
    if (s == c) return true;
  return false;
}

/// Lost connection (class 08), admin or crash shutdown, the server starting up, serialization
/// failure, deadlock, out of resources (class 53), lock not available, statement cancelled, and
/// a read-only server (a standby not promoted yet, or a pooler still pointing at it during a
/// failover): roll back, reconnect and retry until the primary answers.
bool transient(std::string_view s) {
  return s.empty() || s.starts_with("08") || s.starts_with("53") ||
         one_of(s, {"57P01", "57P02", "57P03", "40001", "40P01", "55P03", "57014", "25006"});
}

// PostgreSQL routes a row to a partition that does not exist with 23514; that is not the row's
// fault, so it must not be bisected into a reject. Told apart from a CHECK violation (also 23514)
// by the error's fields, not by its text (which follows lc_messages): a CHECK violation names its
// constraint, a failed routing names no constraint, only the partitioned table (PostgreSQL 15's
// ExecFindPartition: errtable() of the parent; older servers name no table at all). Whichever
// table it names: the catalog adds event tables at run time, and only they are partitioned; the
// partition function refuses a parent that is not a registered event table.
bool missing_partition(std::string_view s, const PgErrorFields& f) {
  return s == "23514" && f.constraint.empty();
}

struct Fix {
  std::initializer_list<std::string_view> sqlstates;
  std::string_view fix;
};

/// The configuration errors and what the operator must do about each.
const std::array<Fix, 5>& fixes() {
  static const std::array<Fix, 5> kFixes = {{
      {{"42P01", "42703", "42883", "42704", "3F000"},
       "the schema is missing or out of date: run `sentinel-ingest migrate --pg URL`"},
      {{"42501"},
       "the connecting role lacks a privilege: grant it sentinel_ingest (see schemas/README.md)"},
      {{"3D000"}, "the database does not exist: check --pg"},
      {{"28P01"}, "authentication failed: check --pg (its user and password)"},
      {{"28000"},
       "the server does not let this user connect (an unknown role, or no pg_hba.conf entry): "
       "check --pg"},
  }};
  return kFixes;
}

}  // namespace

std::string_view category_name(PgErrorCategory category) {
  const auto i = static_cast<size_t>(category);
  return i < kCategoryNames.size() ? kCategoryNames[i] : "unknown";
}

PgErrorCategory classify_pg_error(std::string_view sqlstate, const PgErrorFields& fields) {
  if (transient(sqlstate)) return PgErrorCategory::kTransient;
  if (missing_partition(sqlstate, fields)) return PgErrorCategory::kMissingPartition;
  if (sqlstate.starts_with("22") || sqlstate.starts_with("23")) {
    return PgErrorCategory::kRowRefused;
  }
  for (const Fix& f : fixes()) {
    if (one_of(sqlstate, f.sqlstates)) return PgErrorCategory::kConfiguration;
  }
  return PgErrorCategory::kFatal;
}

std::string_view pg_error_fix(std::string_view sqlstate) {
  for (const Fix& f : fixes()) {
    if (one_of(sqlstate, f.sqlstates)) return f.fix;
  }
  return "check --pg and the database";
}

}  // namespace sentinel
