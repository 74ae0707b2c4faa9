#pragma once

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace sentinel {

/// A JSON object under construction: members in insertion order, each a raw JSON value or a
/// nested object, so that a generated event can still be changed (a field dropped, a value
/// replaced, a duplicate added) before it becomes text.
class JsonDraft {
 public:
  JsonDraft() = default;
  JsonDraft(JsonDraft&&) noexcept = default;
  JsonDraft& operator=(JsonDraft&&) noexcept = default;

  /// Sets the member at `path` (nested objects made as needed) to the JSON text `raw`, replacing
  /// what was there.
  void set(const std::vector<std::string>& path, std::string raw);
  /// Removes the member at `path`; false if there was none.
  bool remove(const std::vector<std::string>& path);
  /// The JSON text of the member at `path`, or nullptr (absent, or a nested object).
  const std::string* get(const std::vector<std::string>& path) const;
  /// Adds `key` at the top level even if it is there already (a duplicate key).
  void append(std::string key, std::string raw);
  /// Moves the top-level members round by a random step: fields come in any order.
  void rotate(std::mt19937_64& rng);
  std::string render() const;

 private:
  struct Member {
    std::string key;
    std::string raw;                   ///< when child is null
    std::unique_ptr<JsonDraft> child;  ///< a nested object
  };
  Member* find(std::string_view key);
  const Member* find(std::string_view key) const;
  void render_to(std::string& out) const;

  std::vector<Member> members_;
};

/// `utf8` as a JSON string literal: quotes, backslashes and control characters escaped; every
/// character beyond ASCII as \uXXXX (surrogate pairs above U+FFFF) when `escape_non_ascii`.
std::string json_string(std::string_view utf8, bool escape_non_ascii);

/// Code points of valid UTF-8 text.
int64_t code_points(std::string_view utf8);

/// `s` made `min_length`..`max_length` code points long (max_length < 0: no upper bound):
/// padded with '-' and the alphabet, or cut at a character boundary. The same `s` always becomes
/// the same text (a tenant stays one tenant).
std::string fit_length(std::string s, int64_t min_length, int64_t max_length);

/// A value in [lo, hi] with a uniformly random number of digits above lo: small magnitudes as
/// often as large ones, as amounts and counts are in real traffic.
int64_t log_uniform(std::mt19937_64& rng, int64_t lo, int64_t hi);

/// value × 10^scale, saturated at INT64_MAX.
int64_t saturating_scale(int64_t value, int scale);
/// The largest number of units numeric(precision, s) holds: 10^precision − 1, at most INT64_MAX.
int64_t units_below_precision(int precision);
/// Nano-units (scale 9) at `scale`, cut toward zero.
int64_t nanos_to_units(int64_t nanos, int scale);

/// `units` × 10^-scale exactly, as "I.FFF" ("-0.0500" at scale 4, "12" at scale 0).
std::string decimal_text(int64_t units, int scale);
/// The same number as a JSON value in one of several exact spellings: a JSON number with all
/// `scale` fraction digits, without trailing zeros, or in exponent form; or a decimal string.
/// Only the spellings `strings`/`numbers` allow.
std::string numeric_json(int64_t units, int scale, bool strings, bool numbers,
                         std::mt19937_64& rng);

}  // namespace sentinel
