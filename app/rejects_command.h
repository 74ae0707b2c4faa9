#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <pqxx/except>
#include <string>

#include "sinks/reject_store.h"

namespace sentinel {

/// Adds `rejects` (list, replay, purge: the rejects lifecycle, architecture.md §10) to `app`.
/// Returns what to run once the command line has been parsed and `rejects` was chosen; it returns
/// the exit code and throws UsageError for bad arguments.
std::function<int()> add_rejects_command(CLI::App& app);

/// The filters `rejects list` and `rejects replay` share, as given on the command line.
struct RejectFilterOptions {
  std::string reason;
  std::string topic;
  std::string since;
  /// The filter; throws UsageError for an unknown reason or a --since that is not a time.
  RejectFilter resolve() const;
};

/// Adds --reason, --topic and --since to `cmd`.
void add_reject_filter_options(CLI::App& cmd, RejectFilterOptions& options);

/// --since: an RFC 3339 time, a UTC date YYYY-MM-DD, or an age back from now (30m, 12h, 7d).
/// Unix microseconds; throws UsageError naming the forms.
int64_t parse_since(const std::string& text, int64_t now_unix_micros);

/// Throws a server error of a `rejects` command as what the user must fix (UsageError, exit 2:
/// a configuration error such as a missing table) or as a PgError to retry later (exit 1).
[[noreturn]] void throw_pg_error(const pqxx::sql_error& e);

/// Throws UsageError (exit 2) when `url` is empty or can never connect, naming `command`.
void require_pg_url(const std::string& command, const std::string& url);

/// `rejects replay`'s sub-command, added to the `rejects` group.
std::function<int()> add_rejects_replay(CLI::App& rejects);

/// `rejects list`'s sub-command (rejects_list_command.cpp), added to the `rejects` group.
std::function<int()> add_rejects_list(CLI::App& rejects);

/// `rejects purge`'s sub-command (rejects_purge_command.cpp), added to the `rejects` group.
std::function<int()> add_rejects_purge(CLI::App& rejects);

}  // namespace sentinel
