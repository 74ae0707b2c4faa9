#include "ingest/scalars.h"

#include <arpa/inet.h>

#include <cstring>
#include <limits>

namespace sentinel {
namespace {

constexpr uint64_t kPow10[19] = {1ull,
                                 10ull,
                                 100ull,
                                 1'000ull,
                                 10'000ull,
                                 100'000ull,
                                 1'000'000ull,
                                 10'000'000ull,
                                 100'000'000ull,
                                 1'000'000'000ull,
                                 10'000'000'000ull,
                                 100'000'000'000ull,
                                 1'000'000'000'000ull,
                                 10'000'000'000'000ull,
                                 100'000'000'000'000ull,
                                 1'000'000'000'000'000ull,
                                 10'000'000'000'000'000ull,
                                 100'000'000'000'000'000ull,
                                 1'000'000'000'000'000'000ull};

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// A number split along JSON's grammar. The exponent saturates far beyond anything that can
/// matter (±10¹⁵), so absurd exponents stay exact in their effect: zero or overflow.
struct NumberParts {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
  int64_t exponent = 0;
  bool has_frac = false;
  bool has_exp = false;
};

bool split_number(std::string_view t, NumberParts& p) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') {
    p.negative = true;
    ++i;
  }
  const size_t int_begin = i;
  if (i >= n || !is_digit(t[i])) return false;
  if (t[i] == '0') {
    ++i;
  } else {
    while (i < n && is_digit(t[i])) ++i;
  }
  p.int_digits = t.substr(int_begin, i - int_begin);
  if (i < n && t[i] == '.') {
    ++i;
    const size_t frac_begin = i;
    while (i < n && is_digit(t[i])) ++i;
    if (i == frac_begin) return false;
    p.frac_digits = t.substr(frac_begin, i - frac_begin);
    p.has_frac = true;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < n && (t[i] == '+' || t[i] == '-')) {
      exp_negative = t[i] == '-';
      ++i;
    }
    const size_t exp_begin = i;
    int64_t e = 0;
    while (i < n && is_digit(t[i])) {
      if (e < 1'000'000'000'000'000) e = e * 10 + (t[i] - '0');
      ++i;
    }
    if (i == exp_begin) return false;
    p.exponent = exp_negative ? -e : e;
    p.has_exp = true;
  }
  return i == n;
}

unsigned two_digits(const char* p) {
  return static_cast<unsigned>(p[0] - '0') * 10 + static_cast<unsigned>(p[1] - '0');
}

bool all_digits(std::string_view t, size_t begin, size_t count) {
  for (size_t i = begin; i < begin + count; ++i) {
    if (!is_digit(t[i])) return false;
  }
  return true;
}

constexpr bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t year, unsigned month) {
  static constexpr unsigned kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kDays[month - 1];
}

/// Hex digit values; 0xFF for anything else.
constexpr std::array<uint8_t, 256> make_hex_table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 0xFF;
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  for (int c = 'A'; c <= 'F'; ++c) t[c] = static_cast<uint8_t>(c - 'A' + 10);
  return t;
}
constexpr std::array<uint8_t, 256> kHex = make_hex_table();

}  // namespace

bool is_json_number(std::string_view text) {
  NumberParts p;
  return split_number(text, p);
}

ScaledDecimal parse_decimal(std::string_view text, int scale) {
  NumberParts p;
  ScaledDecimal r;
  if (scale < 0 || scale > 18 || !split_number(text, p)) {
    r.error = DecimalError::kSyntax;
    return r;
  }
  // The value is the digit string D = int_digits ++ frac_digits scaled so that digit i has the
  // weight 10^q(i) units, q(i) = n_int - 1 - i + exponent + scale.
  const std::string_view ints = p.int_digits;
  const std::string_view fracs = p.frac_digits;
  const int64_t n_int = static_cast<int64_t>(ints.size());
  const int64_t n = n_int + static_cast<int64_t>(fracs.size());
  auto digit = [&](int64_t i) -> unsigned {
    return static_cast<unsigned>(i < n_int ? ints[i] - '0' : fracs[i - n_int] - '0');
  };
  int64_t s = 0;  // first significant digit
  while (s < n && digit(s) == 0) ++s;
  if (s == n) return r;  // zero, whatever its sign or exponent
  r.negative = p.negative;

  const int64_t round_index = n_int + p.exponent + scale;  // the digit of weight 10^-1 units
  const int64_t top_weight = round_index - 1 - s;          // q(s)
  if (top_weight > 18) {
    r.error = DecimalError::kOverflow;
    return r;
  }
  // Whole units: digits [s, min(n, round_index)), then zeros down to weight 0. At most 19
  // digits in all (top_weight <= 18), so the sum stays below 10^19 < 2^64.
  uint64_t acc = 0;
  const int64_t whole_end = std::min(n, round_index);
  for (int64_t i = s; i < whole_end; ++i) acc = acc * 10 + digit(i);
  if (whole_end > s && whole_end == n && round_index > n) acc *= kPow10[round_index - n];

  // Half-even on what lies below one unit (on the magnitude: symmetric for negatives).
  bool below = false;  // something nonzero was cut off
  if (round_index < n) {
    const int64_t first_cut = std::max(round_index, s);
    const unsigned rd = round_index >= s ? digit(round_index) : 0;
    for (int64_t i = first_cut; i < n && !below; ++i) below = digit(i) != 0;
    bool sticky = false;
    for (int64_t i = round_index + 1; i < n && !sticky && round_index >= s; ++i) {
      sticky = digit(i) != 0;
    }
    const bool up = round_index >= s && (rd > 5 || (rd == 5 && (sticky || (acc & 1u))));
    if (up) ++acc;
    if (below) r.rounding = static_cast<int8_t>(up != p.negative ? 1 : -1);
  }
  if (acc > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    r.error = DecimalError::kOverflow;
    return r;
  }
  r.units = p.negative ? -static_cast<int64_t>(acc) : static_cast<int64_t>(acc);
  return r;
}

DecimalResult parse_decimal_nanos(std::string_view text) {
  const ScaledDecimal r = parse_decimal(text, 9);
  if (r.error == DecimalError::kSyntax) return {0, DecimalError::kSyntax};
  if (r.negative) return {0, DecimalError::kNegative};
  if (!r.ok()) return {0, r.error};
  return {r.units, DecimalError::kNone};
}

IntegerResult parse_json_integer(std::string_view text) {
  NumberParts p;
  if (!split_number(text, p)) return {0, IntegerError::kSyntax};
  if (p.has_frac || p.has_exp) return {0, IntegerError::kNotInteger};
  if (p.int_digits.size() > 19) return {0, IntegerError::kOutOfRange};
  uint64_t v = 0;
  for (char c : p.int_digits) v = v * 10 + static_cast<unsigned>(c - '0');
  const uint64_t limit = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) + p.negative;
  if (v > limit) return {0, IntegerError::kOutOfRange};
  // Two's complement negation of v (which may be exactly 2^63).
  return {p.negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v), IntegerError::kNone};
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's algorithm (http://howardhinnant.github.io/date_algorithms.html).
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

TimestampResult parse_timestamp(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS is 19 characters; the shortest whole form adds "Z".
  if (t.size() < 20) return {0, TimestampError::kSyntax};
  if (!all_digits(t, 0, 4) || t[4] != '-' || !all_digits(t, 5, 2) || t[7] != '-' ||
      !all_digits(t, 8, 2) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
      !all_digits(t, 11, 2) || t[13] != ':' || !all_digits(t, 14, 2) || t[16] != ':' ||
      !all_digits(t, 17, 2)) {
    return {0, TimestampError::kSyntax};
  }
  size_t pos = 19;
  uint32_t frac_nanos = 0;
  if (t[pos] == '.') {
    ++pos;
    const size_t begin = pos;
    while (pos < t.size() && is_digit(t[pos])) ++pos;
    const size_t count = pos - begin;
    if (count == 0 || count > 9) return {0, TimestampError::kSyntax};
    for (size_t i = begin; i < pos; ++i) frac_nanos = frac_nanos * 10 + (t[i] - '0');
    frac_nanos *= static_cast<uint32_t>(kPow10[9 - count]);
  }
  if (pos >= t.size()) return {0, TimestampError::kSyntax};
  int offset_sign = 0;
  unsigned offset_hours = 0, offset_minutes = 0;
  if (t[pos] == 'Z' || t[pos] == 'z') {
    if (pos + 1 != t.size()) return {0, TimestampError::kSyntax};
  } else if (t[pos] == '+' || t[pos] == '-') {
    if (pos + 6 != t.size() || !all_digits(t, pos + 1, 2) || t[pos + 3] != ':' ||
        !all_digits(t, pos + 4, 2)) {
      return {0, TimestampError::kSyntax};
    }
    offset_sign = t[pos] == '+' ? 1 : -1;
    offset_hours = two_digits(t.data() + pos + 1);
    offset_minutes = two_digits(t.data() + pos + 4);
  } else {
    return {0, TimestampError::kSyntax};
  }

  const int64_t year = two_digits(t.data()) * 100 + two_digits(t.data() + 2);
  const unsigned month = two_digits(t.data() + 5);
  const unsigned day = two_digits(t.data() + 8);
  const unsigned hour = two_digits(t.data() + 11);
  const unsigned minute = two_digits(t.data() + 14);
  const unsigned second = two_digits(t.data() + 17);
  if (month < 1 || month > 12) return {0, TimestampError::kMonth};
  if (day < 1 || day > days_in_month(year, month)) return {0, TimestampError::kDay};
  if (hour > 23) return {0, TimestampError::kHour};
  if (minute > 59) return {0, TimestampError::kMinute};
  if (second > 59) return {0, TimestampError::kSecond};
  if (offset_hours > 23 || offset_minutes > 59) return {0, TimestampError::kOffset};

  int64_t micros = frac_nanos / 1000;
  const uint32_t below = frac_nanos % 1000;
  if (below > 500 || (below == 500 && (micros & 1))) ++micros;  // half-even
  const int64_t seconds =
      days_from_civil(year, month, day) * 86400 + int64_t{hour} * 3600 + int64_t{minute} * 60 +
      second - offset_sign * (int64_t{offset_hours} * 3600 + int64_t{offset_minutes} * 60);
  return {seconds * 1'000'000 + micros, TimestampError::kNone};
}

std::string_view describe(DecimalError e) {
  switch (e) {
    case DecimalError::kNone:
      return "ok";
    case DecimalError::kSyntax:
      return "not a decimal number";
    case DecimalError::kNegative:
      return "negative";
    case DecimalError::kOverflow:
      return "too large";
  }
  return "?";
}

std::string_view describe(IntegerError e) {
  switch (e) {
    case IntegerError::kNone:
      return "ok";
    case IntegerError::kSyntax:
      return "not a number";
    case IntegerError::kNotInteger:
      return "not an integer";
    case IntegerError::kOutOfRange:
      return "out of range";
  }
  return "?";
}

std::string_view describe(TimestampError e) {
  switch (e) {
    case TimestampError::kNone:
      return "ok";
    case TimestampError::kSyntax:
      return "not an RFC 3339 timestamp (YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm))";
    case TimestampError::kMonth:
      return "month out of range";
    case TimestampError::kDay:
      return "day out of range for the month";
    case TimestampError::kHour:
      return "hour out of range";
    case TimestampError::kMinute:
      return "minute out of range";
    case TimestampError::kSecond:
      return "second out of range";
    case TimestampError::kOffset:
      return "UTC offset out of range";
  }
  return "?";
}

std::optional<std::array<uint8_t, 16>> parse_uuid(std::string_view t) {
  if (t.size() != 36 || t[8] != '-' || t[13] != '-' || t[18] != '-' || t[23] != '-') {
    return std::nullopt;
  }
  std::array<uint8_t, 16> out;
  size_t j = 0;
  for (size_t i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      ++i;
      continue;
    }
    const uint8_t hi = kHex[static_cast<uint8_t>(t[i])];
    const uint8_t lo = kHex[static_cast<uint8_t>(t[i + 1])];
    if ((hi | lo) & 0xF0) return std::nullopt;
    out[j++] = static_cast<uint8_t>(hi << 4 | lo);
    i += 2;
  }
  return out;
}

std::optional<InetAddress> parse_inet(std::string_view t) {
  // The longest IPv6 text (with an embedded IPv4) is 45 characters.
  if (t.empty() || t.size() > 45 || std::memchr(t.data(), '\0', t.size()) != nullptr) {
    return std::nullopt;
  }
  char buf[48];
  std::memcpy(buf, t.data(), t.size());
  buf[t.size()] = '\0';
  InetAddress a;
  a.v6 = t.find(':') != std::string_view::npos;
  if (inet_pton(a.v6 ? AF_INET6 : AF_INET, buf, a.bytes.data()) != 1) return std::nullopt;
  return a;
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (char c : text) count += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return count;
}

std::string format_decimal(int64_t units, int scale) {
  const bool negative = units < 0;
  // The magnitude, without overflow for INT64_MIN.
  const uint64_t magnitude =
      negative ? ~static_cast<uint64_t>(units) + 1 : static_cast<uint64_t>(units);
  const uint64_t pow = kPow10[scale];
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / pow);
  const uint64_t fraction = magnitude % pow;
  if (fraction == 0) return out;
  std::string digits = std::to_string(fraction);
  digits.insert(0, static_cast<size_t>(scale) - digits.size(), '0');
  while (digits.back() == '0') digits.pop_back();
  return out + "." + digits;
}

std::string format_decimal_nanos(int64_t nanos) { return format_decimal(nanos, 9); }

}  // namespace sentinel
