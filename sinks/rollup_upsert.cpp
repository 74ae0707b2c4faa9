#include "sinks/rollup_upsert.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <limits>
#include <tuple>
#include <unordered_map>

namespace sentinel {
namespace {

/// A SQL identifier, double-quoted (a property may be named like a keyword: "user", "order").
std::string quoted(std::string_view name) {
  std::string out = "\"";
  for (const char c : name) {
    out.push_back(c);
    if (c == '"') out.push_back('"');
  }
  out.push_back('"');
  return out;
}

const Property& property_of(const EventType& type, const std::string& name) {
  return type.properties[static_cast<size_t>(type.property_index(name))];
}

/// A summed property's units: numeric at its scale, integers as is.
int sum_scale(const Property& p) { return p.type == ColumnType::kNumeric ? p.numeric_scale : 0; }

/// A PostgreSQL array literal being written: {"a","b",NULL}.
class ArrayText {
 public:
  void quoted_value(std::string_view s) {
    separate();
    text_.push_back('"');
    for (const char c : s) {
      if (c == '"' || c == '\\') text_.push_back('\\');
      text_.push_back(c);
    }
    text_.push_back('"');
  }
  void raw_value(std::string_view s) {
    separate();
    text_ += s;
  }
  void null_value() { raw_value("NULL"); }
  std::string done() { return std::move(text_) + "}"; }

 private:
  void separate() {
    if (text_.size() > 1) text_.push_back(',');
  }
  std::string text_ = "{";
};

/// The array literals of the lines' key values (one per key column), periods and period starts:
/// the first parameters of both statements.
std::vector<std::string> key_arrays(const RollupDeltas& d) {
  std::vector<ArrayText> keys(d.rollup->key.size());
  ArrayText periods;
  ArrayText starts;
  for (const RollupLine& line : d.lines) {
    std::string_view packed = line.keys;
    KeyValue value;
    for (size_t k = 0; k < keys.size() && next_key_value(packed, value); ++k) {
      if (value.missing) {
        keys[k].null_value();
      } else {
        keys[k].quoted_value(value.text);
      }
    }
    periods.raw_value(line.period());
    starts.raw_value(date_text(line.period_start));
  }
  std::vector<std::string> out;
  out.reserve(keys.size() + 2);
  for (ArrayText& k : keys) out.push_back(k.done());
  out.push_back(periods.done());
  out.push_back(starts.done());
  return out;
}

/// A statement over the lines' keys, being written: the key arrays as its first parameters, and
/// the unnest arguments "$1::text[], ..., $n::pg_catalog.date[]" over the key columns, period and
/// period_start with their aliases "k0, ..., p, s".
struct KeyedStatement {
  RollupStatement statement;
  std::string args;
  std::string aliases;
};

KeyedStatement keyed_statement(const RollupDeltas& d) {
  KeyedStatement k;
  k.statement.params = key_arrays(d);
  int n = 0;
  for (const std::string& key : d.rollup->key) {
    k.args += fmt::format("${}::{}[], ", n + 1, property_of(*d.type, key).pg_type());
    k.aliases += fmt::format("k{}, ", n);
    ++n;
  }
  k.args += fmt::format("${}::pg_catalog.text[], ${}::pg_catalog.date[]", n + 1, n + 2);
  k.aliases += "p, s";
  return k;
}

/// Sums per (packed key, day) of one rollup: one hash lookup per row.
struct DayKey {
  std::string_view keys;
  int32_t day;
  bool operator==(const DayKey&) const = default;
};
struct DayHash {
  size_t operator()(const DayKey& k) const {
    return std::hash<std::string_view>{}(k.keys) * 31 + static_cast<size_t>(k.day);
  }
};
/// The sums of one rollup per (packed key, day), flat: one hash lookup per row and no allocation
/// per line (the writer's hottest loop with the COPY gather).
class DaySums {
 public:
  explicit DaySums(size_t width) : width_(width) {}
  bool empty() const { return keys_.empty(); }
  size_t size() const { return keys_.size(); }
  /// Adds `count` rows whose sums are `values` (width of them) to the line of `key`.
  template <typename T>
  void add(const DayKey& key, int64_t count, const T* values) {
    const auto [it, added] = index_.try_emplace(key, static_cast<uint32_t>(keys_.size()));
    if (added) {
      keys_.push_back(key);
      counts_.push_back(0);
      sums_.resize(sums_.size() + width_);
    }
    const size_t at = it->second;
    counts_[at] += count;
    for (size_t s = 0; s < width_; ++s) sums_[at * width_ + s] += values[s];
  }
  /// Appends its lines to `out`, as days or (month = true) with period_start as given by its keys.
  void lines(bool month, std::vector<RollupLine>& out) const {
    for (size_t i = 0; i < keys_.size(); ++i) {
      const auto* sums = sums_.data() + i * width_;
      out.push_back({keys_[i].keys, month, keys_[i].day, counts_[i], {sums, sums + width_}});
    }
  }
  /// The same sums per first day of each month.
  DaySums months() const {
    DaySums m(width_);
    for (size_t i = 0; i < keys_.size(); ++i) {
      m.add(DayKey{keys_[i].keys, first_of_month(keys_[i].day)}, counts_[i],
            sums_.data() + i * width_);
    }
    return m;
  }

 private:
  size_t width_;
  std::unordered_map<DayKey, uint32_t, DayHash> index_;
  std::vector<DayKey> keys_;
  std::vector<int64_t> counts_;
  std::vector<__int128> sums_;
};

/// The lines of one rollup from its per-day sums: days and/or months as its periods say, sorted.
std::vector<RollupLine> lines_of(const Rollup& rollup, const DaySums& days) {
  const auto has = [&](std::string_view period) {
    return std::find(rollup.periods.begin(), rollup.periods.end(), period) != rollup.periods.end();
  };
  std::vector<RollupLine> lines;
  lines.reserve(days.size() * 2);
  if (has("day")) days.lines(false, lines);
  if (has("month")) days.months().lines(true, lines);
  std::sort(lines.begin(), lines.end(), [](const RollupLine& a, const RollupLine& b) {
    if (a.keys != b.keys) return keys_less(a.keys, b.keys);
    return std::tie(a.month, a.period_start) < std::tie(b.month, b.period_start);
  });
  return lines;
}

}  // namespace

std::vector<const char*> RollupStatement::param_pointers() const {
  std::vector<const char*> out;
  out.reserve(params.size());
  for (const std::string& p : params) out.push_back(p.c_str());
  return out;
}

bool keys_less(std::string_view a, std::string_view b) {
  KeyValue x;
  KeyValue y;
  for (;;) {
    const bool more_a = next_key_value(a, x);
    const bool more_b = next_key_value(b, y);
    if (!more_a || !more_b) return !more_a && more_b;
    if (x != y) return x < y;
  }
}

std::vector<RollupDeltas> roll_up(const Catalog& catalog, std::span<Chunk* const> chunks,
                                  const std::set<std::pair<uint32_t, uint32_t>>& refused_rows) {
  // One DaySums per (type, rollup), at first[type] + rollup.
  std::vector<size_t> first(catalog.size() + 1, 0);
  std::vector<DaySums> days;
  for (size_t t = 0; t < catalog.size(); ++t) {
    first[t + 1] = first[t] + catalog[t].rollups.size();
    for (const Rollup& r : catalog[t].rollups) days.emplace_back(r.sums.size());
  }
  for (uint32_t ci = 0; ci < chunks.size(); ++ci) {
    const Chunk* c = chunks[ci];
    if (c->rollups.empty()) continue;
    const auto t = static_cast<size_t>(c->type);
    const size_t rollups = catalog[t].rollups.size();
    for (uint32_t ri = 0; ri < c->rows.size(); ++ri) {
      const RowRef& row = c->rows[ri];
      if (row.rollup_index < 0) continue;
      if (!refused_rows.empty() && refused_rows.contains({ci, ri})) continue;
      for (size_t r = 0; r < rollups; ++r) {
        const RollupItem& item = c->rollups[static_cast<size_t>(row.rollup_index) + r];
        days[first[t] + r].add(DayKey{c->keys(item), item.unix_day}, 1,
                               c->rollup_sums.data() + item.sums_begin);
      }
    }
  }
  std::vector<RollupDeltas> out;
  for (size_t t = 0; t < catalog.size(); ++t) {
    for (size_t r = 0; r < catalog[t].rollups.size(); ++r) {
      const DaySums& d = days[first[t] + r];
      if (d.empty()) continue;
      const Rollup& rollup = catalog[t].rollups[r];
      out.push_back(
          {&catalog[t], &rollup, static_cast<int>(t), static_cast<int>(r), lines_of(rollup, d)});
    }
  }
  std::sort(out.begin(), out.end(), [](const RollupDeltas& a, const RollupDeltas& b) {
    return a.rollup->table < b.rollup->table;
  });
  return out;
}

RollupStatement rollup_upsert(const RollupDeltas& d) {
  const Rollup& rollup = *d.rollup;
  KeyedStatement k = keyed_statement(d);
  std::string columns;
  for (const std::string& key : rollup.key)
    columns += quoted(property_of(*d.type, key).column) + ", ";
  const std::string conflict = columns + "period, period_start";
  const std::string count = quoted(rollup.count);
  // Grouped again on the server: two spellings of one value (an inet written two ways) are one
  // row there, and one statement must not touch a row twice.
  std::string select = k.aliases + ", pg_catalog.sum(n)";
  std::string set = fmt::format("{0} = r.{0} + EXCLUDED.{0}", count);
  columns += "period, period_start, " + count;
  k.args += fmt::format(", ${}::pg_catalog.int8[]", k.statement.params.size() + 1);
  k.aliases += ", n";
  ArrayText counts;
  for (const RollupLine& line : d.lines) counts.raw_value(std::to_string(line.count));
  k.statement.params.push_back(counts.done());
  for (size_t s = 0; s < rollup.sums.size(); ++s) {
    const Property& p = property_of(*d.type, rollup.sums[s].second);
    const std::string column = quoted(rollup.sums[s].first);
    columns += ", " + column;
    set += fmt::format(", {0} = r.{0} + EXCLUDED.{0}", column);
    k.args += fmt::format(", ${}::pg_catalog.{}[]", k.statement.params.size() + 1,
                          p.type == ColumnType::kNumeric ? "numeric" : "int8");
    k.aliases += fmt::format(", v{}", s);
    select += fmt::format(", pg_catalog.sum(v{})", s);
    ArrayText sums;
    for (const RollupLine& line : d.lines) sums.raw_value(decimal_text(line.sums[s], sum_scale(p)));
    k.statement.params.push_back(sums.done());
  }
  std::string order = k.aliases.substr(0, k.aliases.find(", n"));
  k.statement.sql = fmt::format(
      "INSERT INTO public.{} AS r ({}, updated_at) SELECT {}, pg_catalog.now() FROM unnest({}) "
      "AS u({}) GROUP BY {} ORDER BY {} ON CONFLICT ({}) DO UPDATE SET {}, "
      "updated_at = EXCLUDED.updated_at",
      quoted(rollup.table), columns, select, k.args, k.aliases, order, order, conflict, set);
  return std::move(k.statement);
}

RollupStatement rollup_stored(const RollupDeltas& d) {
  const Rollup& rollup = *d.rollup;
  KeyedStatement k = keyed_statement(d);
  std::string values = "r." + quoted(rollup.count) + "::pg_catalog.text";
  for (const auto& [column, property] : rollup.sums) {
    values += ", r." + quoted(column) + "::pg_catalog.text";
  }
  std::string join;
  for (size_t i = 0; i < rollup.key.size(); ++i) {
    join += fmt::format("r.{} = u.k{} AND ", quoted(property_of(*d.type, rollup.key[i]).column), i);
  }
  join += "r.period = u.p AND r.period_start = u.s";
  k.statement.sql = fmt::format(
      "SELECT u.i, {} FROM unnest({}) WITH ORDINALITY AS u({}, i) JOIN public.{} r ON {}", values,
      k.args, k.aliases, quoted(rollup.table), join);
  return std::move(k.statement);
}

RollupRoom::RollupRoom(const RollupDeltas& deltas)
    : deltas_(&deltas),
      max_sums_(deltas.rollup->sums.size(), -1),
      numeric_sums_(deltas.rollup->sums.size(), false) {
  const auto has = [&](std::string_view period) {
    return std::find(deltas.rollup->periods.begin(), deltas.rollup->periods.end(), period) !=
           deltas.rollup->periods.end();
  };
  by_day_ = has("day");
  by_month_ = has("month");
  for (const auto& [column, property] : deltas.rollup->sums) {
    scales_.push_back(sum_scale(property_of(*deltas.type, property)));
  }
  for (const RollupLine& line : deltas.lines) {
    RollupLine& held = lines_[{line.keys, line.month, line.period_start}];
    held.sums.assign(scales_.size(), 0);
  }
}

void RollupRoom::set_stored(size_t i, std::string_view count,
                            const std::vector<std::string_view>& sums) {
  const RollupLine& line = deltas_->lines.at(i);
  RollupLine& held = lines_[{line.keys, line.month, line.period_start}];
  held.count = static_cast<int64_t>(parse_units(count, 0));
  for (size_t s = 0; s < sums.size() && s < scales_.size(); ++s) {
    held.sums[s] = parse_units(sums[s], scales_[s]);
  }
}

void RollupRoom::set_column(std::string_view name, std::string_view type, int typmod) {
  if (name == deltas_->rollup->count) max_count_ = column_max_units(type, typmod, 0);
  for (size_t s = 0; s < scales_.size(); ++s) {
    if (name != deltas_->rollup->sums[s].first) continue;
    max_sums_[s] = column_max_units(type, typmod, scales_[s]);
    numeric_sums_[s] = type == "numeric";
  }
}

std::vector<RollupRoom::LineKey> RollupRoom::line_keys(const RollupItem& item,
                                                       std::string_view keys) const {
  std::vector<LineKey> out;
  if (by_month_) out.emplace_back(keys, true, first_of_month(item.unix_day));
  if (by_day_) out.emplace_back(keys, false, item.unix_day);
  return out;
}

std::string RollupRoom::where(const LineKey& key) const {
  return fmt::format("{}, {} {}", describe_key(*deltas_->type, *deltas_->rollup, std::get<0>(key)),
                     std::get<1>(key) ? "month" : "day", date_text(std::get<2>(key)));
}

std::string RollupRoom::problem(const Chunk& c, const RollupItem& item) const {
  const Rollup& rollup = *deltas_->rollup;
  RollupLine none;
  none.sums.assign(scales_.size(), 0);
  for (const LineKey& key : line_keys(item, c.keys(item))) {
    const auto it = lines_.find(key);
    const RollupLine& held = it == lines_.end() ? none : it->second;
    // Numeric sums first: the message says by how much; integer columns only that they are full.
    for (size_t s = 0; s < scales_.size(); ++s) {
      const __int128 v = c.rollup_sums[item.sums_begin + s];
      const __int128 sum = held.sums[s] + v;
      if (!numeric_sums_[s] || max_sums_[s] < 0 || (sum <= max_sums_[s] && -sum <= max_sums_[s])) {
        continue;
      }
      return fmt::format(
          "{} {} cannot be added to {} ({}): numeric field overflow (the sum would be {}; {}.{} "
          "holds at most {})",
          rollup.sums[s].first, short_decimal_text(v, scales_[s]), rollup.table, where(key),
          short_decimal_text(sum, scales_[s]), rollup.table, rollup.sums[s].first,
          short_decimal_text(max_sums_[s], scales_[s]));
    }
    bool full = max_count_ >= 0 && held.count + 1 > max_count_;
    for (size_t s = 0; s < scales_.size(); ++s) {
      const __int128 sum = held.sums[s] + c.rollup_sums[item.sums_begin + s];
      full |= !numeric_sums_[s] && max_sums_[s] >= 0 && (sum > max_sums_[s] || -sum > max_sums_[s]);
    }
    if (full) {
      return fmt::format("{} cannot be added to {} ({}): bigint overflow", deltas_->type->name,
                         rollup.table, where(key));
    }
  }
  return {};
}

void RollupRoom::add(const Chunk& c, const RollupItem& item) {
  for (const LineKey& key : line_keys(item, c.keys(item))) {
    RollupLine& held = lines_[key];
    held.sums.resize(scales_.size());
    ++held.count;
    for (size_t s = 0; s < scales_.size(); ++s) held.sums[s] += c.rollup_sums[item.sums_begin + s];
  }
}

__int128 column_max_units(std::string_view type, int typmod, int scale) {
  const auto pow10 = [](int n) {
    __int128 v = 1;
    for (int i = 0; i < n; ++i) v *= 10;
    return v;
  };
  const auto integer_max = [&](__int128 max) -> __int128 {
    return scale == 0 ? max : -1;  // a fraction stored into an integer column: not ours to bound
  };
  if (type == "bigint") return integer_max(std::numeric_limits<int64_t>::max());
  if (type == "integer") return integer_max(std::numeric_limits<int32_t>::max());
  if (type == "smallint") return integer_max(std::numeric_limits<int16_t>::max());
  if (type != "numeric" || typmod < 4) return -1;
  const int precision = ((typmod - 4) >> 16) & 0xffff;
  const int column_scale = (typmod - 4) & 0xffff;
  if (column_scale > precision) return -1;
  // The column holds (10^p - 1) × 10^-s; in units of 10^-scale that is (10^p - 1) × 10^(scale-s),
  // or, when the column has more fraction digits than the property, 10^(p-s+scale) - 1.
  if (scale >= column_scale) {
    if (precision + scale - column_scale > 38) return -1;
    return (pow10(precision) - 1) * pow10(scale - column_scale);
  }
  if (precision - column_scale + scale > 38) return -1;
  return pow10(precision - column_scale + scale) - 1;
}

__int128 parse_units(std::string_view text, int scale) {
  bool negative = false;
  if (!text.empty() && text.front() == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  __int128 v = 0;
  int fraction_digits = -1;
  for (const char c : text) {
    if (c == '.') {
      fraction_digits = 0;
      continue;
    }
    if (c < '0' || c > '9') break;
    if (fraction_digits >= scale) continue;
    v = v * 10 + (c - '0');
    if (fraction_digits >= 0) ++fraction_digits;
  }
  for (int i = std::max(fraction_digits, 0); i < scale; ++i) v *= 10;
  return negative ? -v : v;
}

std::string short_decimal_text(__int128 units, int scale) {
  std::string s = decimal_text(units, scale);
  if (scale == 0) return s;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

std::string describe_key(const EventType& type, const Rollup& rollup, std::string_view keys) {
  std::string out;
  KeyValue value;
  for (size_t k = 0; k < rollup.key.size() && next_key_value(keys, value); ++k) {
    std::string_view name = property_of(type, rollup.key[k]).column;
    if (name.size() > 3 && name.ends_with("_id")) name.remove_suffix(3);
    if (!out.empty()) out += ", ";
    out += name;
    out += ' ';
    out += value.missing ? std::string_view("null") : value.text;
  }
  return out;
}

std::string date_text(int32_t unix_day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{unix_day}}};
  return fmt::format("{:04d}-{:02d}-{:02d}", int(ymd.year()), unsigned(ymd.month()),
                     unsigned(ymd.day()));
}

int32_t first_of_month(int32_t unix_day) {
  const std::chrono::year_month_day ymd{std::chrono::sys_days{std::chrono::days{unix_day}}};
  const std::chrono::sys_days first{ymd.year() / ymd.month() / 1};
  return static_cast<int32_t>(first.time_since_epoch().count());
}

}  // namespace sentinel
