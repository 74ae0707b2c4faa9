#include "catalog/exact_number.h"

#include <cctype>
#include <limits>

namespace sentinel::catalog_detail {

namespace {

struct Decimal {
  bool negative = false;
  std::string digits;    ///< integer and fraction digits, without the point
  int64_t exponent = 0;  ///< value = digits × 10^exponent
};

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  return true;
}

std::optional<Decimal> split_number(std::string_view text) {
  Decimal d;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) {
    d.negative = text.front() == '-';
    text.remove_prefix(1);
  }
  std::string_view exponent;
  if (const size_t e = text.find_first_of("eE"); e != std::string_view::npos) {
    exponent = text.substr(e + 1);
    text = text.substr(0, e);
    if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+')) {
      if (!all_digits(exponent.substr(1)) || exponent.size() > 6) return std::nullopt;
      d.exponent = std::stoll(std::string(exponent));
    } else {
      if (!all_digits(exponent) || exponent.size() > 5) return std::nullopt;
      d.exponent = std::stoll(std::string(exponent));
    }
  }
  const size_t point = text.find('.');
  const std::string_view whole = text.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view{} : text.substr(point + 1);
  if (!all_digits(whole) || (point != std::string_view::npos && !all_digits(fraction))) {
    return std::nullopt;
  }
  d.digits = std::string(whole) + std::string(fraction);
  d.exponent -= static_cast<int64_t>(fraction.size());
  return d;
}

}  // namespace

std::optional<int64_t> exact_units(std::string_view text, int scale) {
  std::optional<Decimal> d = split_number(text);
  if (!d) return std::nullopt;
  int64_t shift = d->exponent + scale;  // units = digits × 10^shift
  std::string digits = d->digits;
  while (shift < 0) {  // drop trailing zeros; any other digit is a fraction of a unit
    if (digits.empty() || digits.back() != '0') {
      if (digits.find_first_not_of('0') == std::string::npos) break;  // zero
      return std::nullopt;
    }
    digits.pop_back();
    ++shift;
  }
  if (shift > 0 && digits.find_first_not_of('0') == std::string::npos) shift = 0;
  if (shift > 19) return std::nullopt;
  digits.append(static_cast<size_t>(std::max<int64_t>(shift, 0)), '0');
  // |int64 min| = max + 1: accumulate negatively so that the minimum fits.
  int64_t value = 0;
  for (const char c : digits) {
    const int digit = c - '0';
    if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) return std::nullopt;
    value = value * 10 - digit;
  }
  if (!d->negative) {
    if (value == std::numeric_limits<int64_t>::min()) return std::nullopt;
    value = -value;
  }
  return value;
}

std::string format_units(int64_t units, int scale) {
  const bool negative = units < 0;
  // Through unsigned so that int64 min has a magnitude.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(units) : static_cast<uint64_t>(units);
  std::string digits = std::to_string(magnitude);
  if (scale > 0) {
    if (digits.size() <= static_cast<size_t>(scale)) {
      digits.insert(0, static_cast<size_t>(scale) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<size_t>(scale), ".");
    while (digits.back() == '0') digits.pop_back();
    if (digits.back() == '.') digits.pop_back();
  }
  return negative ? "-" + digits : digits;
}

}  // namespace sentinel::catalog_detail
