#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sentinel {

/// Why a Kafka message did not become a row (architecture.md §2). The names are a contract: they
/// are stored in ingest_rejects.reason and label sentinel_ingest_rejects_total.
enum class RejectReason : uint8_t {
  kInvalidJson,
  kNotAnObject,
  kMissingField,
  kWrongType,
  kInvalidValue,
  kTsOutOfRange,
  kTooLarge,
  kDbRejected,
  kCount,  ///< not a reason: sizes kRejectReasonNames and every per-reason array
};
inline constexpr int kRejectReasonCount = static_cast<int>(RejectReason::kCount);

inline constexpr std::array<std::string_view, kRejectReasonCount> kRejectReasonNames = {
    "invalid_json",  "not_an_object",   "missing_field", "wrong_type",
    "invalid_value", "ts_out_of_range", "too_large",     "db_rejected"};
static_assert(std::none_of(kRejectReasonNames.begin(), kRejectReasonNames.end(),
                           [](std::string_view name) { return name.empty(); }),
              "one name per RejectReason (a reason added without a name fails here)");

constexpr std::string_view to_string(RejectReason r) {
  return kRejectReasonNames[static_cast<int>(r)];
}

/// A bad message, as a value: the reason and a detail naming the field and the problem,
/// e.g. `missing field: tenant_id`.
struct Rejection {
  RejectReason reason;
  std::string detail;
};

}  // namespace sentinel
