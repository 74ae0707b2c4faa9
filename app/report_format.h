#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sentinel {

/// A small table of text cells that the report commands (`partitions`, `costs`) print as aligned
/// text, CSV (RFC 4180) or a JSON array of objects. Cells are kept as text, so decimals such as
/// numeric(20,9) costs are shown exactly as PostgreSQL sent them.
class ReportTable {
 public:
  /// `right_aligned[i]`: column i holds numbers (right-aligned in text).
  ReportTable(std::vector<std::string> header, std::vector<bool> right_aligned);

  void add(std::vector<std::string> row);
  /// A horizontal rule in the text form (ignored by CSV and JSON).
  void add_rule();
  size_t rows() const;

  std::string render_text() const;
  std::string render_csv() const;
  /// Columns named in `numbers` are written as bare JSON numbers (empty cells as null);
  /// everything else, decimals of money included, as JSON strings, so no reader turns them
  /// into binary floats.
  std::string render_json(const std::vector<std::string>& numbers) const;

 private:
  std::vector<std::string> header_;
  std::vector<bool> right_;
  std::vector<std::vector<std::string>> rows_;  // an empty row is a rule
};

/// 1536 → "1.5 KiB".
std::string human_bytes(int64_t bytes);

/// `text` as a JSON string literal, quotes included.
std::string json_string(const std::string& text);

}  // namespace sentinel
