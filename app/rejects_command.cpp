#include "app/rejects_command.h"

#include <fmt/format.h>

#include <chrono>
#include <map>
#include <memory>

#include "app/config.h"
#include "ingest/scalars.h"
#include "rows/reject_reason.h"
#include "sinks/connection_defaults.h"
#include "sinks/control_connection.h"
#include "sinks/pg_error.h"

namespace sentinel {

int64_t parse_since(const std::string& text, int64_t now_unix_micros) {
  const auto bad = [&] {
    return UsageError("--since " + text +
                      ": expected an RFC 3339 time (2026-12-01T00:00:00Z), a UTC date "
                      "(2026-12-01) or an age back from now (30m, 12h, 7d)");
  };
  if (text.empty()) throw bad();
  const char unit = text.back();
  if (unit == 'm' || unit == 'h' || unit == 'd') {
    const std::string digits = text.substr(0, text.size() - 1);
    if (digits.empty() || digits.size() > 9 ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      throw bad();
    }
    const int64_t per = unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
    // At most a century back: what ingest_rejects can hold, and far from int64's end.
    constexpr int64_t kCenturySeconds = int64_t{100} * 366 * 86400;
    const int64_t seconds_back = std::stoll(digits) * per;
    if (seconds_back > kCenturySeconds) {
      throw UsageError("--since " + text + ": more than a century back; give a date instead");
    }
    return now_unix_micros - seconds_back * 1'000'000;
  }
  const TimestampResult t =
      parse_timestamp(text.size() == 10 ? text + "T00:00:00Z" : std::string(text));
  if (!t.ok()) throw bad();
  return t.unix_micros;
}

RejectFilter RejectFilterOptions::resolve() const {
  RejectFilter f;
  if (!reason.empty()) {
    bool known = false;
    std::string names;
    for (const std::string_view name : kRejectReasonNames) {
      known |= name == reason;
      names += (names.empty() ? "" : ", ") + std::string(name);
    }
    if (!known) throw UsageError("--reason " + reason + ": not a reject reason; they are " + names);
    f.reason = reason;
  }
  if (!topic.empty()) f.topic = topic;
  if (!since.empty()) {
    const int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    f.since_unix_micros = parse_since(since, now);
  }
  return f;
}

void throw_pg_error(const pqxx::sql_error& e) {
  const PgError error = pg_error_of(e);
  if (error.configuration()) throw UsageError(std::string(error.what()) + " (" + error.fix() + ")");
  throw error;
}

void require_pg_url(const std::string& command, const std::string& url) {
  if (url.empty()) {
    throw UsageError(command +
                     ": missing --pg (or SENTINEL_PG_URL, or `pg:` in the --config file)");
  }
  with_connection_defaults(url);  // a string that can never connect: exit 2 at once
}

void add_reject_filter_options(CLI::App& cmd, RejectFilterOptions& options) {
  cmd.add_option("--reason", options.reason,
                 "Only rejects stored with this reason (ts_out_of_range, invalid_value, ...)");
  cmd.add_option("--topic", options.topic, "Only rejects of this Kafka topic");
  cmd.add_option("--since", options.since,
                 "Only rejects stored at or after this time: RFC 3339, a UTC date YYYY-MM-DD, or "
                 "an age such as 7d, 12h, 30m");
}

std::function<int()> add_rejects_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand(
      "rejects",
      "The messages that did not become rows (ingest_rejects): list them, replay them with the "
      "current catalog and limits (exactly once), purge old ones");
  cmd->require_subcommand(1);
  auto runners = std::make_shared<std::map<std::string, std::function<int()>>>();
  (*runners)["list"] = add_rejects_list(*cmd);
  (*runners)["replay"] = add_rejects_replay(*cmd);
  (*runners)["purge"] = add_rejects_purge(*cmd);
  return [cmd, runners] { return runners->at(cmd->get_subcommands().front()->get_name())(); };
}

}  // namespace sentinel
