#pragma once

#include <array>
#include <cstdint>

namespace sentinel {

/// 10^0 … 10^19, every power of ten a uint64 holds: the scales of numeric(p,s) values read and
/// written exactly (ingest's plan, CopyEncoder::numeric).
inline constexpr std::array<uint64_t, 20> kPowersOf10 = [] {
  std::array<uint64_t, 20> p{};
  uint64_t v = 1;
  for (auto& x : p) {
    x = v;
    v *= 10;  // wraps only after the last element
  }
  return p;
}();

}  // namespace sentinel
