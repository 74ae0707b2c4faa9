#include "catalog/pg_identifier.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace sentinel::catalog_detail {

namespace {

// PostgreSQL 15's keywords that are "reserved" or "reserved (can be function or type)" (Appendix
// C of its manual), sorted: neither kind can be a column or table name unless quoted.
constexpr std::array<std::string_view, 101> kReserved = {
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
};

}  // namespace

bool is_reserved_word(std::string_view word) {
  return std::binary_search(kReserved.begin(), kReserved.end(), word);
}

std::string identifier_problem(std::string_view name, size_t max_bytes) {
  if (name.empty()) return "is empty";
  const bool first_ok = (name[0] >= 'a' && name[0] <= 'z') || name[0] == '_';
  const bool rest_ok = std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
  if (!first_ok || !rest_ok) {
    return "is not a plain PostgreSQL name ([a-z_][a-z0-9_]*: lower case letters, digits, "
           "underscores, not starting with a digit)";
  }
  if (name.size() > max_bytes) {
    return fmt::format("is {} bytes long; at most {} fit", name.size(), max_bytes);
  }
  if (is_reserved_word(name)) return "is a word PostgreSQL reserves";
  return {};
}

}  // namespace sentinel::catalog_detail
