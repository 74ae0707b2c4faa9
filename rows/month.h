#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sentinel {

/// A UTC month as one integer: year*12 + (month-1), so 2026-11 is 24322 and consecutive months
/// are consecutive integers. The same numbering as sentinel::month_of_unix_micros
/// (rows/chunk.h). Names and texts below are defined for years 1000–9999.
inline constexpr int32_t make_month(int year, int month_1_to_12) {
  return static_cast<int32_t>(year * 12 + (month_1_to_12 - 1));
}
inline constexpr int month_year(int32_t month) { return static_cast<int>(month / 12); }
/// 1–12.
inline constexpr int month_of_year(int32_t month) { return static_cast<int>(month % 12) + 1; }

/// The month's partition of `table`: partition_name("audit_logs", 2026-11) → "audit_logs_2026_11".
std::string partition_name(std::string_view table, int32_t month);

/// The month's first day as PostgreSQL date text: "2026-11-01".
std::string month_start_text(int32_t month);

/// "2026-11".
std::string month_text(int32_t month);

/// Now, in microseconds since the Unix epoch (the unit of the rows' timestamps).
inline int64_t now_unix_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// The UTC month that `now` falls in.
int32_t current_month(std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Parses "YYYY-MM" (exactly; year 1000–9999, month 01–12); nullopt for anything else.
std::optional<int32_t> parse_month(std::string_view text);

/// Creates (if missing) the month partition of a table and returns its name; $1 is the table
/// ("audit_logs" | "invocations"), $2 the month's first day (month_start_text). Run it outside
/// any data transaction: it holds a lock on the parent table until its transaction ends.
inline constexpr std::string_view kEnsurePartitionSql =
    "SELECT public.sentinel_ensure_month_partition($1, $2::pg_catalog.date)";

}  // namespace sentinel
