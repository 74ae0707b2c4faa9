#include "rows/chunk.h"

#include <chrono>

#include "rows/copy_encoder.h"

namespace sentinel {

void encode_reject(std::string& out, int64_t rejected_at_unix_micros, std::string_view topic,
                   int32_t partition, int64_t offset, RejectReason reason, std::string_view detail,
                   const std::string_view* payload) {
  CopyEncoder e(out);
  e.begin_row(kRejectsFieldCount);
  e.timestamptz(rejected_at_unix_micros);
  e.text(topic);
  e.int4(partition);
  e.int8(offset);
  e.text(to_string(reason));
  e.text(detail);
  if (payload != nullptr) {
    e.bytea(*payload);
  } else {
    e.null();
  }
}

int32_t day_of_unix_micros(int64_t unix_micros) {
  constexpr int64_t kMicrosPerDay = 86'400'000'000;
  int64_t d = unix_micros / kMicrosPerDay;
  if (unix_micros % kMicrosPerDay < 0) --d;
  return static_cast<int32_t>(d);
}

int32_t month_of_unix_micros(int64_t unix_micros) {
  const std::chrono::sys_days day{std::chrono::days{day_of_unix_micros(unix_micros)}};
  const std::chrono::year_month_day ymd{day};
  return static_cast<int32_t>(int(ymd.year()) * 12 + static_cast<int>(unsigned(ymd.month())) - 1);
}

}  // namespace sentinel
