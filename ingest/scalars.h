#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rows/copy_encoder.h"

namespace sentinel {

// Exact, allocation-free readers for the scalar values of an event. Each returns a small result
// that says what was wrong, so that the caller can write a detail naming the field and the
// problem. None of them throws or allocates.

/// Why a decimal did not read.
enum class DecimalError : uint8_t {
  kNone,
  kSyntax,    ///< not a number in JSON's number grammar
  kNegative,  ///< below zero ("-0" and "-0.000" are zero and fine)
  kOverflow,  ///< more than INT64_MAX nano-units
};

/// A decimal in nano-units (value × 10⁹), or why it could not be read.
struct DecimalResult {
  int64_t nanos = 0;
  DecimalError error = DecimalError::kNone;
  bool ok() const { return error == DecimalError::kNone; }
};

/// Reads a non-negative decimal in JSON's number grammar (`-? int frac? exp?`) as an exact count
/// of nano-units. Never goes through a binary float: digits beyond the 9th fraction digit are
/// rounded half-even, exponents of any size are applied exactly.
DecimalResult parse_decimal_nanos(std::string_view text);

/// A decimal read at a fixed scale, or why it could not be read.
struct ScaledDecimal {
  int64_t units = 0;                         ///< value × 10^scale, rounded half-even, signed
  DecimalError error = DecimalError::kNone;  ///< kNone, kSyntax or kOverflow (never kNegative)
  bool negative = false;                     ///< the text is below zero (even when it rounds to 0)
  /// Sign of (units − exact value): +1 rounded up, −1 rounded down, 0 exact. Lets a caller
  /// compare the exact value with a bound: exact < b ⇔ units < b or (units == b and rounding > 0).
  int8_t rounding = 0;
  bool ok() const { return error == DecimalError::kNone; }
};

/// Reads a decimal in JSON's number grammar as an exact count of 10^-scale units (scale 0..18),
/// signed. Never goes through a binary float: digits beyond the scale are rounded half-even
/// (ties to the even unit), exponents of any size are applied exactly; a magnitude beyond
/// INT64_MAX units is kOverflow. parse_decimal_nanos is this at scale 9, non-negative.
ScaledDecimal parse_decimal(std::string_view text, int scale);

/// `units` at `scale` (0..18) as the shortest exact decimal: (15, 1) → "1.5", (-5, 3) → "-0.005".
std::string format_decimal(int64_t units, int scale);

/// A non-negative count of nano-units as the shortest exact decimal: 1500000000 → "1.5",
/// 10000000000000 → "10000".
std::string format_decimal_nanos(int64_t nanos);

/// True when `text` is exactly one number in JSON's grammar.
bool is_json_number(std::string_view text);

/// Why an integer did not read.
enum class IntegerError : uint8_t {
  kNone,
  kSyntax,      ///< not a number in JSON's number grammar
  kNotInteger,  ///< a number with a fraction or an exponent (even `1.0`, `1e3`)
  kOutOfRange,  ///< an integer beyond int64
};

struct IntegerResult {
  int64_t value = 0;
  IntegerError error = IntegerError::kNone;
  bool ok() const { return error == IntegerError::kNone; }
};

/// Reads a JSON integer (`-? (0 | [1-9][0-9]*)`) exactly into an int64.
IntegerResult parse_json_integer(std::string_view text);

/// Why a timestamp did not read; each names the part that is wrong.
enum class TimestampError : uint8_t {
  kNone,
  kSyntax,  ///< not `YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±hh:mm)`
  kMonth,
  kDay,  ///< day 0, or past the end of the month (leap years counted)
  kHour,
  kMinute,
  kSecond,  ///< 60 (leap second) is not accepted
  kOffset,  ///< offset hours > 23 or minutes > 59
};

struct TimestampResult {
  int64_t unix_micros = 0;
  TimestampError error = TimestampError::kNone;
  bool ok() const { return error == TimestampError::kNone; }
};

/// Reads an RFC 3339 timestamp: `YYYY-MM-DD`, `T`/`t`/space, `HH:MM:SS`, 1–9 optional fraction
/// digits, then `Z`/`z` or `±hh:mm`. Returns microseconds since 1970-01-01 UTC; fraction digits
/// beyond the 6th are rounded half-even.
TimestampResult parse_timestamp(std::string_view text);

/// Human words for the errors above, e.g. "month out of range".
std::string_view describe(DecimalError e);
std::string_view describe(IntegerError e);
std::string_view describe(TimestampError e);

/// Reads a UUID in canonical 8-4-4-4-12 hex form, either case.
std::optional<std::array<uint8_t, 16>> parse_uuid(std::string_view text);

/// Reads an IPv4 dotted quad or IPv6 text (RFC 4291, including `::ffff:1.2.3.4`). Zone ids,
/// prefixes, whitespace and empty text are refused.
std::optional<InetAddress> parse_inet(std::string_view text);

/// Number of code points in `text`, which must already be valid UTF-8.
size_t utf8_length(std::string_view text);

/// Days since 1970-01-01 of a proleptic Gregorian date (any year, month 1–12, day 1–31).
int64_t days_from_civil(int64_t year, unsigned month, unsigned day);

}  // namespace sentinel
