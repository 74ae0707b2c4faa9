#include "app/report_format.h"

#include <fmt/format.h>

#include <algorithm>

namespace sentinel {

ReportTable::ReportTable(std::vector<std::string> header, std::vector<bool> right_aligned)
    : header_(std::move(header)), right_(std::move(right_aligned)) {
  right_.resize(header_.size(), false);
}

void ReportTable::add(std::vector<std::string> row) {
  row.resize(header_.size());
  rows_.push_back(std::move(row));
}

void ReportTable::add_rule() { rows_.emplace_back(); }

size_t ReportTable::rows() const {
  return std::count_if(rows_.begin(), rows_.end(), [](const auto& r) { return !r.empty(); });
}

std::string ReportTable::render_text() const {
  std::vector<size_t> width(header_.size());
  for (size_t c = 0; c < header_.size(); ++c) width[c] = header_[c].size();
  for (const auto& row : rows_) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < cells.size(); ++c) {
      if (c > 0) l += "  ";
      l += right_[c] ? fmt::format("{:>{}}", cells[c], width[c])
                     : fmt::format("{:<{}}", cells[c], width[c]);
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  size_t total = 0;
  for (size_t w : width) total += w + 2;
  const std::string rule(total > 2 ? total - 2 : 0, '-');
  line(header_);
  out += rule + "\n";
  for (const auto& row : rows_) {
    if (row.empty()) {
      out += rule + "\n";
    } else {
      line(row);
    }
  }
  return out;
}

std::string ReportTable::render_csv() const {
  const auto cell = [](const std::string& s) {
    if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char ch : s) {
      if (ch == '"') q += '"';
      q += ch;
    }
    return q + "\"";
  };
  std::string out;
  const auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size(); ++c) out += (c > 0 ? "," : "") + cell(cells[c]);
    out += "\r\n";
  };
  line(header_);
  for (const auto& row : rows_) {
    if (!row.empty()) line(row);
  }
  return out;
}

std::string ReportTable::render_json(const std::vector<std::string>& numbers) const {
  std::string out = "[";
  bool first = true;
  for (const auto& row : rows_) {
    if (row.empty()) continue;
    out += first ? "\n  {" : ",\n  {";
    first = false;
    for (size_t c = 0; c < row.size(); ++c) {
      out += (c > 0 ? ", " : "") + json_string(header_[c]) + ": ";
      const bool number = std::find(numbers.begin(), numbers.end(), header_[c]) != numbers.end();
      if (number) {
        out += row[c].empty() ? "null" : row[c];
      } else {
        out += json_string(row[c]);
      }
    }
    out += "}";
  }
  out += first ? "]\n" : "\n]\n";
  return out;
}

std::string human_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

std::string json_string(const std::string& text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\t') {
      out += "\\t";
    } else if (ch == '\r') {
      out += "\\r";
    } else if (u < 0x20) {
      out += "\\u00";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace sentinel
