// `rejects list` (architecture.md §10): the stored rejects with their replay state, newest first,
// as a table, CSV or JSON; `--summary` counts them by reason and state.
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>
#include <memory>
#include <pqxx/pqxx>

#include "app/config.h"
#include "app/rejects_command.h"
#include "app/report_format.h"
#include "sinks/control_connection.h"
#include "sinks/reject_listing.h"

namespace sentinel {
namespace {

using reject_listing::kStates;
using reject_listing::ListedReject;

/// Rejects read per statement (and held in memory by CSV and JSON).
constexpr int64_t kPageRejects = 2000;

struct ListCli {
  std::string pg_url;
  std::string config;
  RejectFilterOptions filter;
  std::string state = "all";
  int64_t limit = -1;  // -1: 100 for the table, all for CSV and JSON
  std::string format = "table";
  bool payload = false;
  bool summary = false;
};

/// The width the table's lines fit in: $COLUMNS, the terminal's, else 120.
size_t line_width() {
  if (const char* columns = std::getenv("COLUMNS")) {
    const long n = std::strtol(columns, nullptr, 10);
    if (n >= 40) return static_cast<size_t>(n);
  }
  winsize ws{};
  if (::isatty(STDOUT_FILENO) == 1 && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 &&
      ws.ws_col >= 40) {
    return ws.ws_col;
  }
  return 120;
}

/// `text` on one line (control characters as spaces), cut to at most `width` bytes at a UTF-8
/// character boundary, with "…" where it was cut.
std::string fit(const std::string& text, size_t width) {
  std::string line = text;
  for (char& ch : line) {
    if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
  }
  if (line.size() <= width) return line;
  size_t cut = width >= 3 ? width - 3 : 0;  // "…" is three bytes
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  return line.substr(0, cut) + "…";
}

bool valid_utf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80           ? 1
                     : (c >> 5) == 0x6  ? 2
                     : (c >> 4) == 0xE  ? 3
                     : (c >> 3) == 0x1E ? 4
                                        : 0;
    if (n == 0 || i + n > s.size()) return false;
    uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
    for (size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += n;
  }
  return true;
}

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) v |= static_cast<unsigned char>(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[v & 63] : '=';
  }
  return out;
}

/// "2026-12-07T12:00:00.123456Z" → "2026-12-07T12:00:00Z" (the table's width).
std::string to_seconds(const std::string& rfc3339) {
  return rfc3339.size() > 19 ? rfc3339.substr(0, 19) + "Z" : rfc3339;
}

/// The table's last column: the reject's detail, then what the last replay decided (its time is
/// in CSV and JSON).
std::string details(const ListedReject& r) {
  if (r.state == "replayed") return r.detail + " | replayed";
  if (r.state == "invalid" || r.state == "duplicate") {
    return fmt::format("{} | replay: {}: {}", r.detail, r.replay_reason, r.replay_detail);
  }
  return r.detail;
}

void print_table(const std::vector<ListedReject>& rejects) {
  const std::vector<std::string> header = {"id",     "rejected_at", "topic", "partition",
                                           "offset", "reason",      "state", "detail"};
  std::vector<std::vector<std::string>> rows;
  rows.reserve(rejects.size());
  for (const ListedReject& r : rejects) {
    rows.push_back({std::to_string(r.id), to_seconds(r.rejected_at), r.topic,
                    std::to_string(r.partition), std::to_string(r.offset), r.reason, r.state,
                    details(r)});
  }
  // What the columns before the detail take (as ReportTable lays them out), and what is left.
  size_t used = 0;
  for (size_t c = 0; c + 1 < header.size(); ++c) {
    size_t w = header[c].size();
    for (const auto& row : rows) w = std::max(w, row[c].size());
    used += w + 2;
  }
  const size_t room = std::max<size_t>(line_width() > used ? line_width() - used : 0, 20);
  ReportTable t(header, {true, false, false, true, true, false, false, false});
  for (auto& row : rows) {
    row.back() = fit(row.back(), room);
    t.add(std::move(row));
  }
  fmt::print("{}", t.render_text());
}

/// CSV or JSON of one page of rejects, with the header (CSV) or brackets (JSON) of a whole
/// document only where `first` and `last` say.
std::string render_page(const std::vector<ListedReject>& rejects, const ListCli& a, bool first) {
  std::vector<std::string> header = {
      "id",     "rejected_at", "topic",       "partition",       "offset",        "reason",
      "detail", "state",       "replayed_at", "replay_attempts", "replay_reason", "replay_detail"};
  if (a.payload) header.insert(header.end(), {"payload_encoding", "payload"});
  ReportTable t(header, std::vector<bool>(header.size(), false));
  for (const ListedReject& r : rejects) {
    std::vector<std::string> row = {std::to_string(r.id),
                                    r.rejected_at,
                                    r.topic,
                                    std::to_string(r.partition),
                                    std::to_string(r.offset),
                                    r.reason,
                                    r.detail,
                                    r.state,
                                    r.replayed_at,
                                    std::to_string(r.replay_attempts),
                                    r.replay_reason,
                                    r.replay_detail};
    if (a.payload) {
      if (!r.payload) {
        row.insert(row.end(), {"", ""});
      } else if (valid_utf8(*r.payload)) {
        row.insert(row.end(), {"utf8", *r.payload});
      } else {
        row.insert(row.end(), {"base64", base64(*r.payload)});
      }
    }
    t.add(std::move(row));
  }
  if (a.format == "csv") {
    std::string csv = t.render_csv();
    return first ? csv : csv.substr(csv.find("\r\n") + 2);
  }
  // "[\n  {...},\n  {...}\n]\n": the objects, each after ",\n" but the document's first.
  std::string json = t.render_json({"id", "partition", "offset", "replay_attempts"});
  if (rejects.empty()) return "";
  json = json.substr(1, json.size() - 4);  // "\n  {...},\n  {...}"
  return first ? json : "," + json;
}

/// CSV or JSON, a page at a time (memory bounded by the page, not the backlog).
void print_full(pqxx::connection& conn, const reject_listing::ListQuery& q, const ListCli& a) {
  bool first = true;
  if (a.format == "json") fmt::print("[");
  reject_listing::list(conn, q, kPageRejects, [&](const std::vector<ListedReject>& page) {
    fmt::print("{}", render_page(page, a, first));
    first = false;
  });
  if (a.format == "json") {
    fmt::print("{}", first ? "]\n" : "\n]\n");
  } else if (first) {
    fmt::print("{}", render_page({}, a, true));
  }
}

void print_summary(const std::map<std::pair<std::string, std::string>, int64_t>& counts,
                   const std::string& format) {
  std::vector<std::string> header = {"reason"};
  for (const std::string_view s : kStates) header.emplace_back(s);
  header.emplace_back("total");
  ReportTable t(header, {false, true, true, true, true, true});
  std::map<std::string, std::map<std::string, int64_t>> by_reason;
  for (const auto& [key, n] : counts) by_reason[key.first][key.second] += n;
  std::map<std::string, int64_t> totals;
  const auto add = [&](const std::string& name, std::map<std::string, int64_t>& states) {
    std::vector<std::string> row = {name};
    int64_t sum = 0;
    for (const std::string_view s : kStates) {
      row.push_back(std::to_string(states[std::string(s)]));
      sum += states[std::string(s)];
    }
    row.push_back(std::to_string(sum));
    t.add(std::move(row));
  };
  for (auto& [reason, states] : by_reason) {
    add(reason, states);
    for (const auto& [s, n] : states) totals[s] += n;
  }
  if (format != "table") {
    fmt::print("{}", format == "csv" ? t.render_csv()
                                     : t.render_json(std::vector<std::string>(header.begin() + 1,
                                                                              header.end())));
    return;
  }
  t.add_rule();
  add("total", totals);
  fmt::print("{}", t.render_text());
}

int run_list(const ListCli& a) {
  if (a.payload && a.format == "table") {
    throw UsageError("--payload goes with --format csv or json (the table shows no payloads)");
  }
  const RejectFilter filter = a.filter.resolve();
  try {
    pqxx::connection conn = connect_control(a.pg_url);
    const auto counts = reject_listing::count_by_reason_and_state(conn, filter);
    if (a.summary) {
      print_summary(counts, a.format);
      return 0;
    }
    reject_listing::ListQuery q;
    q.filter = filter;
    q.state = a.state == "all" ? "" : a.state;
    q.limit = a.limit >= 0 ? a.limit : a.format == "table" ? 100 : 0;
    q.payload = a.payload;
    if (a.format != "table") {
      print_full(conn, q, a);
      return 0;
    }
    std::vector<ListedReject> rejects;
    reject_listing::list(conn, q, kPageRejects, [&](const std::vector<ListedReject>& page) {
      std::move(page.begin(), page.end(), std::back_inserter(rejects));
    });
    print_table(rejects);
    std::map<std::string, int64_t> by_state;
    for (const auto& [key, n] : counts) by_state[key.second] += n;
    int64_t matching = 0;
    std::string states;
    for (const std::string_view s : kStates) {
      const int64_t n = by_state[std::string(s)];
      if (q.state.empty() || q.state == s) matching += n;
      states += fmt::format("{}{} {}", states.empty() ? "" : ", ", s, n);
    }
    fmt::print("{} shown of {} matching ({}by state: {}){}\n", rejects.size(), matching,
               q.state.empty() ? "" : "--state " + q.state + "; all ", states,
               static_cast<int64_t>(rejects.size()) < matching ? "; --limit 0 shows all" : "");
    return 0;
  } catch (const pqxx::sql_error& e) {
    throw_pg_error(e);
  }
}

}  // namespace

std::function<int()> add_rejects_list(CLI::App& rejects) {
  auto a = std::make_shared<ListCli>();
  CLI::App* cmd = rejects.add_subcommand(
      "list",
      "The stored rejects, newest first (by id), with their replay state (pending: never "
      "replayed): a "
      "table fitted to the line, or CSV or JSON with the full text. Read only: works as the "
      "ingest role, through PgBouncer, on a replica");
  cmd->add_option("--pg", a->pg_url,
                  "PostgreSQL connection string or URI (the ingest role and a replica work)");
  add_reject_filter_options(*cmd, a->filter);
  cmd->add_option("--state", a->state,
                  "Only rejects in this replay state: pending (never replayed), replayed, "
                  "invalid (still invalid at the last replay), duplicate, or all")
      ->capture_default_str()
      ->check(CLI::IsMember({"pending", "replayed", "invalid", "duplicate", "all"}));
  cmd->add_option(
         "--limit", a->limit,
         "At most this many rejects, newest first (by id); 0: all (default: 100 for the table, "
         "all for CSV and JSON)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--format", a->format, "table, csv or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "csv", "json"}));
  cmd->add_flag("--payload", a->payload,
                "CSV and JSON: add each stored payload, as text when it is UTF-8 "
                "(payload_encoding utf8), else base64 (payload_encoding base64)");
  cmd->add_flag("--summary", a->summary,
                "Count the matching rejects by reason and replay state instead of listing them");
  cmd->add_option("--config", a->config, "YAML file of option: value");
  add_env_names(*cmd);
  return [cmd, a]() -> int {
    apply_config_file(*cmd, a->config);
    require_pg_url("rejects list", a->pg_url);
    return run_list(*a);
  };
}

}  // namespace sentinel
