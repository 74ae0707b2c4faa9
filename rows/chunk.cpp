#include "rows/chunk.h"

#include <chrono>
#include <cstring>

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

void append_key_value(std::string& packed, const std::string_view* value) {
  const uint32_t size = value == nullptr ? kNullKeyValue : static_cast<uint32_t>(value->size());
  packed.append(reinterpret_cast<const char*>(&size), 4);
  if (value != nullptr) packed.append(*value);
}

std::string decimal_text(__int128 units, int scale) {
  const bool negative = units < 0;
  auto v =
      negative ? -static_cast<unsigned __int128>(units) : static_cast<unsigned __int128>(units);
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v > 0);
  while (static_cast<int>(digits.size()) <= scale) digits.push_back('0');
  std::string out = negative ? "-" : "";
  for (size_t i = digits.size(); i-- > 0;) {
    out.push_back(digits[i]);
    if (i == static_cast<size_t>(scale) && scale > 0) out.push_back('.');
  }
  return out;
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
