#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "rows/chunk.h"

namespace sentinel {

// The rollups of a batch (architecture.md §9): the chunks' rollup items summed per (key, period,
// period_start) of each rollup table, and the SQL that adds them to those tables in the batch's
// transaction. `costs` is the built-in invocation type's rollup; every other one is the same code.

/// One line of a rollup upsert: the exact sums of the committed rows of one key and period.
struct RollupLine {
  std::string_view keys;       ///< packed key values (rows/chunk.h), into a chunk's arena
  bool month = false;          ///< period 'month', else 'day'
  int32_t period_start = 0;    ///< days since 1970-01-01: the UTC day, or the first of its month
  int64_t count = 0;           ///< rows
  std::vector<__int128> sums;  ///< one per sum of the rollup, in its property's units

  std::string_view period() const { return month ? "month" : "day"; }
};

/// The lines of one rollup table in a batch.
struct RollupDeltas {
  const EventType* type = nullptr;
  const Rollup* rollup = nullptr;
  int type_index = 0;
  int rollup_index = 0;
  /// Sorted ascending by (key values, period, period_start), so that every writer locks the
  /// table's rows in the same order.
  std::vector<RollupLine> lines;
};

/// Sums the rollup items of `chunks`, leaving out the (chunk, row) pairs of `refused_rows` (rows
/// PostgreSQL refused). Each row counts once in each of its rollups' periods. One entry per rollup
/// table that has lines, in table-name order (the order writers upsert them in).
std::vector<RollupDeltas> roll_up(const Catalog& catalog, std::span<Chunk* const> chunks,
                                  const std::set<std::pair<uint32_t, uint32_t>>& refused_rows);

/// Orders packed keys by their values, value by value (bytes; a missing value first).
bool keys_less(std::string_view a, std::string_view b);

/// A statement and its parameters (array literals), for PgConnection::exec_params.
struct RollupStatement {
  std::string sql;
  std::vector<std::string> params;

  std::vector<const char*> param_pointers() const;
};

/// Adds the lines to their table: one INSERT ... SELECT FROM unnest(...) ORDER BY the key ON
/// CONFLICT (key..., period, period_start) DO UPDATE adding count and sums.
RollupStatement rollup_upsert(const RollupDeltas& deltas);

/// What the lines' rows hold now: one result row per line that exists, columns (its 1-based index
/// in `lines`, count, each sum) as text.
RollupStatement rollup_stored(const RollupDeltas& deltas);

/// The headroom of one rollup table's lines while a batch's rows are tried one by one: what each
/// line holds (stored, plus the rows let in so far) and the most each column can hold. Used to
/// find the rows whose deltas would overflow a column, so that they alone are refused.
class RollupRoom {
 public:
  explicit RollupRoom(const RollupDeltas& deltas);
  /// Sets line `i` (0-based, of deltas.lines) to what its row holds: count and sums as text.
  void set_stored(size_t i, std::string_view count, const std::vector<std::string_view>& sums);
  /// Sets the limit of the table's column `name` (the count or a sum column), else ignores it.
  void set_column(std::string_view name, std::string_view type, int typmod);
  /// Why `item` (of a row of `c`) cannot be added to the table, or "" when it can: the first
  /// column it would take past its limit, month before day.
  std::string problem(const Chunk& c, const RollupItem& item) const;
  /// Adds `item` to its lines.
  void add(const Chunk& c, const RollupItem& item);

 private:
  using LineKey = std::tuple<std::string_view, bool, int32_t>;  ///< (keys, month, period_start)
  std::vector<LineKey> line_keys(const RollupItem& item, std::string_view keys) const;
  std::string where(const LineKey& key) const;

  const RollupDeltas* deltas_;
  bool by_day_ = false;
  bool by_month_ = false;
  std::vector<int> scales_;  ///< each sum's units
  std::map<LineKey, RollupLine> lines_;
  __int128 max_count_ = -1;
  std::vector<__int128> max_sums_;  ///< -1: unbounded or unknown
  std::vector<bool> numeric_sums_;  ///< a numeric column (else an integer one)
};

/// The columns of a rollup table with their SQL type and typmod: (name, type, typmod), where
/// type is format_type's text without modifier ("numeric", "bigint" ...). $1: the table.
inline constexpr std::string_view kRollupColumnsSql =
    "SELECT a.attname, pg_catalog.format_type(a.atttypid, NULL), a.atttypmod "
    "FROM pg_catalog.pg_attribute a WHERE a.attrelid = $1::pg_catalog.regclass AND a.attnum > 0 "
    "AND NOT a.attisdropped";

/// The largest magnitude a column can hold, in the units of a property at `scale` (10^-scale);
/// -1 when unbounded or unknown. `type` and `typmod` as kRollupColumnsSql returns them.
__int128 column_max_units(std::string_view type, int typmod, int scale);

/// A value as text (PostgreSQL's numeric or integer output) in units of 10^-scale; digits past
/// the scale are dropped.
__int128 parse_units(std::string_view text, int scale);

/// The shortest exact decimal of `units` at `scale`: (9200000000000000000, 9) → "9200000000".
std::string short_decimal_text(__int128 units, int scale);

/// "tenant t1, verdict block": a line's key as a person reads it (a column's "_id" suffix
/// dropped, a missing value as null).
std::string describe_key(const EventType& type, const Rollup& rollup, std::string_view keys);

/// "YYYY-MM-DD" of a day number.
std::string date_text(int32_t unix_day);

/// The first day of the UTC month of a day number.
int32_t first_of_month(int32_t unix_day);

}  // namespace sentinel
