#pragma once

#include <string>
#include <string_view>

namespace sentinel::catalog_detail {

/// The longest identifier PostgreSQL keeps whole (NAMEDATALEN - 1 bytes); longer ones are
/// silently truncated, which would make two names one.
inline constexpr size_t kMaxIdentifierBytes = 63;

/// Why `name` cannot be a table or column name written unquoted in the DDL that `migrate` runs,
/// or empty when it can: [a-z_][a-z0-9_]*, at most `max_bytes`, not a reserved word.
std::string identifier_problem(std::string_view name, size_t max_bytes = kMaxIdentifierBytes);

/// True for the words PostgreSQL reserves (they cannot name a column or table unquoted).
bool is_reserved_word(std::string_view word);

}  // namespace sentinel::catalog_detail
