#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/event_type.h"

namespace sentinel {

/// One thing wrong with a catalog file: where, what, and how to fix it.
struct CatalogProblem {
  std::string file;     ///< the file's path, or "built-in:NAME.schema.json"
  std::string pointer;  ///< JSON pointer into the file ("" for the whole file)
  std::string message;  ///< what is wrong, e.g. "unsupported keyword \"pattern\""
  std::string fix;      ///< what to do, e.g. "remove it: the ingestor does not implement it"

  /// "FILE: POINTER: MESSAGE (fix: FIX)" on one line.
  std::string to_string() const;
};

/// A catalog that cannot be used. A configuration error: the command exits 2 and prints every
/// problem (not only the first).
class CatalogError : public std::runtime_error {
 public:
  explicit CatalogError(std::vector<CatalogProblem> problems);
  const std::vector<CatalogProblem>& problems() const { return problems_; }

 private:
  std::vector<CatalogProblem> problems_;
};

/// The event types the ingestor knows: the built-in ones, plus and replaced by the files of a
/// catalog folder. Immutable once loaded, shared by every thread (std::shared_ptr<const Catalog>).
/// Types are in a stable order: built-in ones first (audit, invocation), then the folder's by
/// name. A type's index in `types()` is what rows, chunks and metrics carry.
class Catalog {
 public:
  explicit Catalog(std::vector<EventType> types);

  const std::vector<EventType>& types() const { return types_; }
  size_t size() const { return types_.size(); }
  const EventType& operator[](size_t i) const { return types_[i]; }
  /// The type named `name` (x-sentinel.name), or nullptr.
  const EventType* find(std::string_view name) const;
  /// Its index, or -1.
  int index_of(std::string_view name) const;

 private:
  std::vector<EventType> types_;
};

/// Loads the built-in types and, when `dir` is not empty, every `*.schema.json` and
/// `*.schema.yaml` file in it (not recursive; other files are ignored). A file whose
/// x-sentinel.name is a built-in one replaces it. Throws CatalogError listing every problem of
/// every file; std::runtime_error when `dir` cannot be read.
std::shared_ptr<const Catalog> load_catalog(const std::string& dir = {});

/// Parses and checks one schema document (JSON or YAML text). `file` names it in problems.
/// Throws CatalogError.
EventType load_event_type(std::string_view text, const std::string& file);

/// The built-in schema files, embedded at build time from schemas/events/ (name, text).
struct EmbeddedSchema {
  std::string_view file_name;  ///< e.g. "audit.schema.json"
  std::string_view text;
};
const std::vector<EmbeddedSchema>& embedded_event_schemas();

}  // namespace sentinel
