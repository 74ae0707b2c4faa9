#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sentinel::catalog_detail {

/// `text`, a JSON number literal (sign, digits, fraction, exponent), in units of 10^-scale:
/// "0.5" at scale 4 is 5000. Exact, never through a float. nullopt when the text is not a number,
/// when the value is not a whole number of units, or when it does not fit int64.
std::optional<int64_t> exact_units(std::string_view text, int scale);

/// The shortest decimal text of `units` × 10^-scale: 10000 at scale 4 is "1", 5000 is "0.5".
std::string format_units(int64_t units, int scale);

}  // namespace sentinel::catalog_detail
