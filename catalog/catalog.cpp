#include "catalog/catalog.h"

#include <fmt/format.h>

namespace sentinel {

std::string CatalogProblem::to_string() const {
  std::string s = file;
  if (!pointer.empty()) s += ": " + pointer;
  s += ": " + message;
  if (!fix.empty()) s += " (fix: " + fix + ")";
  return s;
}

namespace {
std::string join_problems(const std::vector<CatalogProblem>& problems) {
  std::string s;
  for (const CatalogProblem& p : problems) {
    if (!s.empty()) s += '\n';
    s += p.to_string();
  }
  return s;
}
}  // namespace

CatalogError::CatalogError(std::vector<CatalogProblem> problems)
    : std::runtime_error(join_problems(problems)), problems_(std::move(problems)) {}

Catalog::Catalog(std::vector<EventType> types) : types_(std::move(types)) {}

const EventType* Catalog::find(std::string_view name) const {
  const int i = index_of(name);
  return i < 0 ? nullptr : &types_[static_cast<size_t>(i)];
}

int Catalog::index_of(std::string_view name) const {
  for (size_t i = 0; i < types_.size(); ++i) {
    if (types_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

// load_catalog and load_event_type: being written (catalog loader).

}  // namespace sentinel
