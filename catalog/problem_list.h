#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/catalog.h"

namespace sentinel::catalog_detail {

/// The problems found in one file, collected while reading it so that a person sees all of them
/// at once instead of fixing them one run at a time.
class ProblemList {
 public:
  explicit ProblemList(std::string file) : file_(std::move(file)) {}

  /// Records that the value at `pointer` is wrong (`message`) and how to fix it.
  void add(std::string pointer, std::string message, std::string fix) {
    problems_.push_back({file_, std::move(pointer), std::move(message), std::move(fix)});
  }
  bool empty() const { return problems_.empty(); }
  const std::string& file() const { return file_; }
  std::vector<CatalogProblem>& problems() { return problems_; }

 private:
  std::string file_;
  std::vector<CatalogProblem> problems_;
};

/// `pointer` extended by one JSON pointer token (RFC 6901: '~' is "~0", '/' is "~1").
inline std::string child_pointer(std::string_view pointer, std::string_view token) {
  std::string out(pointer);
  out += '/';
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

/// `pointer` extended by an array index.
inline std::string child_pointer(std::string_view pointer, size_t index) {
  return std::string(pointer) + '/' + std::to_string(index);
}

}  // namespace sentinel::catalog_detail
