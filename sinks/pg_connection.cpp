#include "sinks/pg_connection.h"

#include <poll.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <string_view>
#include <utility>

#include "rows/copy_encoder.h"
#include "sinks/connection_defaults.h"

namespace sentinel {
namespace {

/// libpq's notice receiver: the server's NOTICE, WARNING, INFO ... messages go through our logger
/// (named "libpq", one line in --log-format: the formatter folds DETAIL and HINT lines) instead
/// of libpq's default, which prints them to stderr as they come, one line each.
void log_notice(void*, const PGresult* r) {
  const char* severity = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
  const std::string_view s = severity != nullptr ? severity : "NOTICE";
  const spdlog::level::level_enum lvl = s == "WARNING"                 ? spdlog::level::warn
                                        : s.starts_with("DEBUG")       ? spdlog::level::debug
                                        : s == "ERROR" || s == "FATAL" ? spdlog::level::err
                                                                       : spdlog::level::info;
  const std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
  if (!logger->should_log(lvl)) return;
  std::string_view text = PQresultErrorMessage(r);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  logger->clone("libpq")->log(lvl, "{}", text);
}

}  // namespace

void route_notices_to_log(PGconn* conn) {
  if (conn != nullptr) PQsetNoticeReceiver(conn, &log_notice, nullptr);
}

std::string libpq_version() {
  const int v = PQlibVersion();  // 150005 since PostgreSQL 10, 90624 before
  return v >= 100000 ? std::to_string(v / 10000) + "." + std::to_string(v % 10000)
                     : std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
                           std::to_string(v % 100);
}

void append_array_text(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
}

std::string redact_url(std::string_view url) {
  // One place decides what of a connection string is secret (sinks/connection_defaults.h).
  return redact_secrets(url);
}

PgConnection::PgConnection(const std::string& url) : url_(with_connection_defaults(url)) {}

bool PgConnection::connected() const {
  return conn_ != nullptr && PQstatus(conn_.get()) == CONNECTION_OK;
}

void PgConnection::connect() {
  conn_.reset(PQconnectdb(url_.c_str()));
  route_notices_to_log(conn_.get());
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    PgError e = connection_error("connect to PostgreSQL");
    conn_.reset();
    throw e;
  }
  require_utf8();
}

void PgConnection::require_utf8() {
  // Binary COPY still converts text by the client encoding: anything but UTF8 would store
  // mojibake. Ours is in the startup packet; this catches a pooler or server that ignored it.
  const char* encoding = PQparameterStatus(conn_.get(), "client_encoding");
  if (encoding == nullptr || std::string_view(encoding) != "UTF8") {
    conn_.reset();
    throw PgError::misconfigured(
        std::string("connect to PostgreSQL: the connection's client_encoding is ") +
            (encoding ? encoding : "unknown") +
            ", not UTF8, although sentinel-ingest asked for UTF8 (does a pooler between us and "
            "PostgreSQL rewrite it?)",
        "make the connection UTF8: a pooler between sentinel-ingest and PostgreSQL must pass "
        "client_encoding through");
  }
}

PgError PgConnection::connection_error(std::string_view what) const {
  std::string msg(what);
  msg += ": ";
  msg += conn_ ? PQerrorMessage(conn_.get()) : "not connected";
  return PgError(redact_url(one_line(msg)), "");
}

PgError PgConnection::error_from(PGresult* r, std::string_view what) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  std::string msg(what);
  msg += ": ";
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  if (primary != nullptr) {
    msg += primary;
    if (const char* detail = PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL)) {
      msg += " (";
      msg += detail;
      msg += ")";
    }
  } else {
    msg += conn_ ? PQerrorMessage(conn_.get()) : "not connected";
  }
  PgErrorFields fields;
  if (r != nullptr) {
    const auto field = [&](int code) {
      const char* v = PQresultErrorField(r, code);
      return std::string(v ? v : "");
    };
    fields = {field(PG_DIAG_TABLE_NAME), field(PG_DIAG_COLUMN_NAME), field(PG_DIAG_CONSTRAINT_NAME),
              field(PG_DIAG_DATATYPE_NAME), field(PG_DIAG_CONTEXT)};
  }
  return PgError(redact_url(one_line(msg)), state ? state : "", std::move(fields));
}

PgResult PgConnection::check(PGresult* raw, std::string_view what) {
  PgResult r(raw);
  const auto status = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_COPY_IN) return r;
  throw error_from(r.get(), what);
}

PgResult PgConnection::exec(const char* sql) {
  if (!conn_) throw PgError("PostgreSQL: not connected", "");
  return check(PQexec(conn_.get(), sql), sql);
}

PgResult PgConnection::exec_params(const char* sql, const std::vector<const char*>& params) {
  return exec_params_as(sql, params, 0);
}

PgResult PgConnection::exec_params_binary(const char* sql, const std::vector<const char*>& params) {
  return exec_params_as(sql, params, 1);
}

PgResult PgConnection::exec_params_as(const char* sql, const std::vector<const char*>& params,
                                      int result_format) {
  if (!conn_) throw PgError("PostgreSQL: not connected", "");
  return check(PQexecParams(conn_.get(), sql, static_cast<int>(params.size()), nullptr,
                            params.data(), nullptr, nullptr, result_format),
               sql);
}

void PgConnection::begin_copy(const char* copy_sql) {
  if (!conn_) throw PgError("PostgreSQL: not connected", "");
  check(PQexec(conn_.get(), copy_sql), copy_sql);
  put_copy_data(kCopyHeader);
}

void PgConnection::put_copy_data(std::string_view data) {
  // Large pieces are fine: libpq splits them into protocol messages.
  if (PQputCopyData(conn_.get(), data.data(), static_cast<int>(data.size())) != 1) {
    throw connection_error("COPY data");
  }
}

void PgConnection::end_copy() {
  put_copy_data(kCopyTrailer);
  if (PQputCopyEnd(conn_.get(), nullptr) != 1) throw connection_error("COPY end");
  PgResult result(PQgetResult(conn_.get()));
  // Drain: a COPY yields one result, then nullptr.
  while (PGresult* extra = PQgetResult(conn_.get())) PQclear(extra);
  if (!result || PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    throw error_from(result.get(), "COPY");
  }
}

namespace {

using BoundedClock = std::chrono::steady_clock;

/// Waits until `fd` is ready for `events`, at most until `deadline` and in slices of 100 ms so
/// that `stop` is seen. Returns true when ready; throws PgError (SQLSTATE "") on timeout or stop.
bool wait_socket(int fd, short events, BoundedClock::time_point deadline,
                 const std::atomic<bool>* stop, std::string_view what) {
  if (fd < 0) throw PgError(std::string(what) + ": no socket", "");
  for (;;) {
    if (stop != nullptr && stop->load()) {
      throw PgError(std::string(what) + ": given up (stopping)", "");
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - BoundedClock::now());
    if (left.count() <= 0) {
      throw PgError(std::string(what) + ": no answer from PostgreSQL in time", "");
    }
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 100)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) {
      throw PgError(std::string(what) + ": poll failed", "");
    }
  }
}

/// Runs PQconnectPoll on `c` until it is connected or has failed, waiting at most until
/// `deadline` (wait_socket throws on timeout or stop). Returns CONNECTION_OK, or the phase
/// (PQstatus) libpq was in when the step that failed began.
ConnStatusType poll_connect(PGconn* c, BoundedClock::time_point deadline,
                            const std::atomic<bool>* stop) {
  // As documented for PQconnectPoll: behave as if it last returned PGRES_POLLING_WRITING.
  PostgresPollingStatusType st = PGRES_POLLING_WRITING;
  ConnStatusType phase = PQstatus(c);
  for (;;) {
    if (st == PGRES_POLLING_OK) return CONNECTION_OK;
    if (st == PGRES_POLLING_FAILED) return phase;
    // The socket can change between polls (several hosts, SSL fallback): ask every time.
    wait_socket(PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline, stop,
                "connect to PostgreSQL");
    phase = PQstatus(c);
    st = PQconnectPoll(c);
  }
}

/// The last SQLSTATE in a connection error written with PQERRORS_SQLSTATE verbosity, where
/// libpq renders a server's refusal as the line "<severity>:  <SQLSTATE>" (pqBuildErrorMessage3);
/// "" when no server refused (libpq's own errors keep their words). Only the five-character code
/// is read, never the words, which follow lc_messages.
std::string sqlstate_in(std::string_view message) {
  std::string found;
  for (size_t begin = 0; begin < message.size();) {
    size_t end = message.find('\n', begin);
    if (end == std::string_view::npos) end = message.size();
    std::string_view line = message.substr(begin, end - begin);
    while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
    if (line.size() >= 8 && line.substr(line.size() - 8, 3) == ":  ") {
      const std::string_view code = line.substr(line.size() - 5);
      if (std::all_of(code.begin(), code.end(),
                      [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z'); }))
        found = code;
    }
    begin = end + 1;
  }
  return found;
}

constexpr const char* kTlsFix =
    "the TLS handshake failed: check --pg (sslmode, sslrootcert, the server's certificate and "
    "host name)";

/// PgBouncer refuses a login with SQLSTATE 08P01 whatever the reason, and its messages are never
/// translated: for its refusals the fixed text is the only code there is. The SQLSTATE to take
/// the fix from, or empty for any other 08P01 (the server behind PgBouncer unreachable: transient).
std::string_view pgbouncer_refusal(std::string_view message) {
  static constexpr std::pair<std::string_view, std::string_view> kRefusals[] = {
      {"SASL authentication failed", "28P01"},
      {"password authentication failed", "28P01"},
      {"no such user", "28000"},
      {"login rejected", "28000"},  // auth_type = hba, a `reject` line
      {"no such database", "3D000"},
  };
  for (const auto& [text, sqlstate] : kRefusals) {
    if (message.find(text) != std::string_view::npos) return sqlstate;
  }
  return {};
}

/// True when the connection's sslmode checks the server's certificate (verify-ca, verify-full):
/// only then can a failed TLS handshake be the certificate's fault and not the network's.
bool verifies_certificate(PGconn* c) {
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfo(c),
                                                                       &PQconninfoFree);
  for (const PQconninfoOption* o = options.get(); o != nullptr && o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == "sslmode" && o->val != nullptr) {
      return std::string_view(o->val).starts_with("verify-");
    }
  }
  return false;
}

}  // namespace

void PgConnection::connect_within(std::chrono::milliseconds timeout,
                                  const std::atomic<bool>* stop) {
  const auto deadline = BoundedClock::now() + timeout;
  conn_.reset(PQconnectStart(url_.c_str()));
  if (!conn_) throw PgError("connect to PostgreSQL: out of memory", "");
  route_notices_to_log(conn_.get());
  if (PQstatus(conn_.get()) == CONNECTION_BAD) {
    PgError e = connection_error("connect to PostgreSQL");
    conn_.reset();
    throw e;
  }
  try {
    if (poll_connect(conn_.get(), deadline, stop) != CONNECTION_OK) {
      throw connection_error("connect to PostgreSQL");
    }
  } catch (...) {
    conn_.reset();
    throw;
  }
  require_utf8();
}

PgError diagnose_connect_failure(const std::string& url, const std::string& message,
                                 std::chrono::milliseconds timeout) {
  const auto deadline = BoundedClock::now() + timeout;
  std::unique_ptr<PGconn, decltype(&PQfinish)> c(
      PQconnectStart(with_connection_defaults(url).c_str()), &PQfinish);
  if (!c || PQstatus(c.get()) == CONNECTION_BAD) return PgError(message, "");
  route_notices_to_log(c.get());
  // A server's refusal now reads "FATAL:  28P01": its SQLSTATE instead of its words.
  PQsetErrorVerbosity(c.get(), PQERRORS_SQLSTATE);
  ConnStatusType phase = CONNECTION_BAD;
  try {
    phase = poll_connect(c.get(), deadline, nullptr);
  } catch (const PgError&) {
    return PgError(message, "");  // no answer in time: unreachable
  }
  if (phase == CONNECTION_OK) return PgError(message, "");
  const std::string state = sqlstate_in(PQerrorMessage(c.get()));
  // No SQLSTATE, it failed during the TLS handshake and the certificate is checked: a CA,
  // certificate or host name that cannot work (libpq's own check, before any server error could
  // exist). Without verify-*, a handshake cut short is a proxy or a server going away: transient.
  if (state.empty() && phase == CONNECTION_SSL_STARTUP && verifies_certificate(c.get())) {
    return PgError::misconfigured(message, kTlsFix);
  }
  if (state == "08P01") {
    const std::string_view refused_as = pgbouncer_refusal(message);
    if (!refused_as.empty())
      return PgError::misconfigured(message, std::string(pg_error_fix(refused_as)));
  }
  return PgError(message, state);
}

PgResult PgConnection::exec_params_within(const char* sql, const std::vector<const char*>& params,
                                          std::chrono::milliseconds timeout,
                                          const std::atomic<bool>* stop) {
  const auto deadline = BoundedClock::now() + timeout;
  if (!connected()) connect_within(timeout, stop);
  PGconn* c = conn_.get();
  // Whatever goes wrong below leaves the connection in an unknown state: close it, so the next
  // call starts afresh (a late answer to this statement is never mistaken for the next one's).
  try {
    if (PQsetnonblocking(c, 1) != 0) throw connection_error(sql);
    if (PQsendQueryParams(c, sql, static_cast<int>(params.size()), nullptr, params.data(), nullptr,
                          nullptr, 0) != 1) {
      throw connection_error(sql);
    }
    for (;;) {
      const int f = PQflush(c);
      if (f == 0) break;
      if (f < 0) throw connection_error(sql);
      wait_socket(PQsocket(c), POLLIN | POLLOUT, deadline, stop, sql);
      if (PQconsumeInput(c) != 1) throw connection_error(sql);
    }
    PgResult first;
    for (;;) {
      while (PQisBusy(c)) {
        wait_socket(PQsocket(c), POLLIN, deadline, stop, sql);
        if (PQconsumeInput(c) != 1) throw connection_error(sql);
      }
      PGresult* r = PQgetResult(c);
      if (r == nullptr) break;
      if (!first) {
        first.reset(r);
      } else {
        PQclear(r);
      }
    }
    PQsetnonblocking(c, 0);
    return check(first.release(), sql);
  } catch (const PgError& e) {
    // A server's refusal (it answered) keeps the connection; anything else closes it.
    if (e.sqlstate().empty()) conn_.reset();
    throw;
  }
}

}  // namespace sentinel
