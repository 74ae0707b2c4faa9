#include "rows/month.h"

#include <fmt/format.h>

namespace sentinel {

std::string partition_name(std::string_view table, int32_t month) {
  return fmt::format("{}_{:04d}_{:02d}", table, month_year(month), month_of_year(month));
}

std::string month_start_text(int32_t month) {
  return fmt::format("{:04d}-{:02d}-01", month_year(month), month_of_year(month));
}

std::string month_text(int32_t month) {
  return fmt::format("{:04d}-{:02d}", month_year(month), month_of_year(month));
}

int32_t current_month(std::chrono::system_clock::time_point now) {
  const std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(now)};
  return make_month(static_cast<int>(ymd.year()), static_cast<int>(unsigned(ymd.month())));
}

std::optional<int32_t> parse_month(std::string_view text) {
  if (text.size() != 7 || text[4] != '-') return std::nullopt;
  int value[2] = {0, 0};
  const std::string_view parts[2] = {text.substr(0, 4), text.substr(5, 2)};
  for (int i = 0; i < 2; ++i) {
    for (const char c : parts[i]) {
      if (c < '0' || c > '9') return std::nullopt;
      value[i] = value[i] * 10 + (c - '0');
    }
  }
  if (value[0] < 1000 || value[1] < 1 || value[1] > 12) return std::nullopt;
  return make_month(value[0], value[1]);
}

}  // namespace sentinel
