#include "testkit/json_draft.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

namespace sentinel {

JsonDraft::Member* JsonDraft::find(std::string_view key) {
  for (Member& m : members_) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

const JsonDraft::Member* JsonDraft::find(std::string_view key) const {
  for (const Member& m : members_) {
    if (m.key == key) return &m;
  }
  return nullptr;
}

void JsonDraft::set(const std::vector<std::string>& path, std::string raw) {
  JsonDraft* object = this;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    Member* m = object->find(path[i]);
    if (m == nullptr) {
      object->members_.push_back({path[i], {}, nullptr});
      m = &object->members_.back();
    }
    if (!m->child) m->child = std::make_unique<JsonDraft>();
    object = m->child.get();
  }
  Member* leaf = object->find(path.back());
  if (leaf == nullptr) {
    object->members_.push_back({path.back(), std::move(raw), nullptr});
  } else {
    leaf->raw = std::move(raw);
    leaf->child.reset();
  }
}

bool JsonDraft::remove(const std::vector<std::string>& path) {
  JsonDraft* object = this;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    Member* m = object->find(path[i]);
    if (m == nullptr || !m->child) return false;
    object = m->child.get();
  }
  auto& ms = object->members_;
  const auto at =
      std::find_if(ms.begin(), ms.end(), [&](const Member& m) { return m.key == path.back(); });
  if (at == ms.end()) return false;
  ms.erase(at);
  return true;
}

const std::string* JsonDraft::get(const std::vector<std::string>& path) const {
  const JsonDraft* object = this;
  for (size_t i = 0; i + 1 < path.size(); ++i) {
    const Member* m = object->find(path[i]);
    if (m == nullptr || !m->child) return nullptr;
    object = m->child.get();
  }
  const Member* leaf = object->find(path.back());
  return leaf == nullptr || leaf->child ? nullptr : &leaf->raw;
}

void JsonDraft::append(std::string key, std::string raw) {
  members_.push_back({std::move(key), std::move(raw), nullptr});
}

void JsonDraft::rotate(std::mt19937_64& rng) {
  if (members_.size() < 2) return;
  const auto step = static_cast<std::ptrdiff_t>(rng() % members_.size());
  std::rotate(members_.begin(), members_.begin() + step, members_.end());
}

std::string JsonDraft::render() const {
  std::string out;
  render_to(out);
  return out;
}

void JsonDraft::render_to(std::string& out) const {
  out += '{';
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i > 0) out += ',';
    out += json_string(members_[i].key, false);
    out += ':';
    if (members_[i].child) {
      members_[i].child->render_to(out);
    } else {
      out += members_[i].raw;
    }
  }
  out += '}';
}

namespace {

/// The code point starting at s[i] (valid UTF-8), advancing i past it.
uint32_t decode(std::string_view s, size_t& i) {
  const auto b = static_cast<unsigned char>(s[i]);
  const int extra = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : b >= 0xC0 ? 1 : 0;
  uint32_t cp = extra == 0 ? b : b & (0x3Fu >> extra);
  for (int k = 1; k <= extra && i + static_cast<size_t>(k) < s.size(); ++k) {
    cp = (cp << 6) | (static_cast<unsigned char>(s[i + static_cast<size_t>(k)]) & 0x3Fu);
  }
  i += static_cast<size_t>(extra) + 1;
  return cp;
}

uint64_t pow10(int n) {
  uint64_t p = 1;
  for (int i = 0; i < n; ++i) p *= 10;
  return p;
}

}  // namespace

std::string json_string(std::string_view utf8, bool escape_non_ascii) {
  std::string out = "\"";
  for (size_t i = 0; i < utf8.size();) {
    const char c = utf8[i];
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x80) {
      const size_t start = i;
      const uint32_t cp = decode(utf8, i);
      if (!escape_non_ascii) {
        out.append(utf8.substr(start, i - start));
      } else if (cp > 0xFFFF) {
        const uint32_t v = cp - 0x10000;
        out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
      } else {
        out += fmt::format("\\u{:04x}", cp);
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20) {
      out += fmt::format("\\u{:04x}", b);
    } else {
      out += c;
    }
    ++i;
  }
  out += '"';
  return out;
}

int64_t code_points(std::string_view utf8) {
  return std::count_if(utf8.begin(), utf8.end(),
                       [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

std::string fit_length(std::string s, int64_t min_length, int64_t max_length) {
  if (max_length >= 0 && code_points(s) > max_length) {
    size_t i = 0;
    for (int64_t kept = 0; kept < max_length; ++kept) decode(s, i);
    s.resize(i);
  }
  int64_t n = code_points(s);
  if (n < min_length && n > 0) {
    s += '-';
    ++n;
  }
  for (int64_t k = 0; n < min_length; ++n, ++k) s += static_cast<char>('a' + k % 26);
  return s;
}

int64_t log_uniform(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  if (hi <= lo) return lo;
  const uint64_t width = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  int digits = 1;
  for (uint64_t w = width; w >= 10; w /= 10) ++digits;
  const int d = 1 + static_cast<int>(rng() % static_cast<uint64_t>(digits));
  const uint64_t cap = d >= 20 ? width : std::min(width, pow10(d) - 1);
  const uint64_t r = cap == std::numeric_limits<uint64_t>::max() ? rng() : rng() % (cap + 1);
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + r);
}

int64_t saturating_scale(int64_t value, int scale) {
  for (int i = 0; i < scale; ++i) {
    if (value > std::numeric_limits<int64_t>::max() / 10)
      return std::numeric_limits<int64_t>::max();
    value *= 10;
  }
  return value;
}

int64_t units_below_precision(int precision) {
  return precision >= 19 ? std::numeric_limits<int64_t>::max()
                         : static_cast<int64_t>(pow10(precision) - 1);
}

int64_t nanos_to_units(int64_t nanos, int scale) {
  if (scale >= 9) return saturating_scale(nanos, scale - 9);
  return nanos / static_cast<int64_t>(pow10(9 - scale));
}

std::string decimal_text(int64_t units, int scale) {
  const bool negative = units < 0;
  const uint64_t magnitude =
      negative ? 0 - static_cast<uint64_t>(units) : static_cast<uint64_t>(units);
  if (scale == 0) return fmt::format("{}{}", negative ? "-" : "", magnitude);
  const uint64_t one = pow10(scale);
  return fmt::format("{}{}.{:0{}d}", negative ? "-" : "", magnitude / one, magnitude % one, scale);
}

std::string numeric_json(int64_t units, int scale, bool strings, bool numbers,
                         std::mt19937_64& rng) {
  int form = static_cast<int>(rng() % 4);
  if (!numbers) form = 3;
  if (!strings && form == 3) form = 0;
  std::string full = decimal_text(units, scale);
  switch (form) {
    case 1: {  // without trailing zeros: 0.25 for 0.2500
      if (scale == 0) return full;
      std::string trimmed = full;
      while (trimmed.back() == '0') trimmed.pop_back();
      if (trimmed.back() == '.') trimmed.pop_back();
      return trimmed;
    }
    case 2:
      return scale == 0 ? full : fmt::format("{}e-{}", units, scale);
    case 3:
      return "\"" + full + "\"";
    default:
      return full;
  }
}

}  // namespace sentinel
