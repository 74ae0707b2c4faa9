#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sinks/pg_error.h"

namespace sentinel {

/// Sends the server's notices on `conn` (NOTICE, WARNING, ... with their DETAIL and HINT) to
/// spdlog's default logger, named "libpq", at the matching level, instead of libpq's default
/// printing to stderr. Every PGconn of sinks/ gets it when created.
void route_notices_to_log(PGconn* conn);

/// libpq's version as the loaded library reports it (PQlibVersion()), e.g. "15.5".
std::string libpq_version();

/// Removes passwords from a connection string or URI before it is shown to a person.
std::string redact_url(std::string_view url);

/// Why connecting to `url` fails, as a PgError to classify: one more connection attempt (within
/// `timeout`) that reads what libpq can tell without reading its message, which follows the
/// server's lc_messages: the SQLSTATE the server refused the connection with (28P01, 3D000,
/// 57P03, 53300, ...), else the phase libpq was in when it failed — the TLS handshake (a CA,
/// certificate or sslmode that cannot work: configuration), or reaching the server (refused,
/// unreachable, no answer: transient). `message` is what the caller's own attempt said (shown to
/// the operator). An attempt that now succeeds is transient too.
PgError diagnose_connect_failure(const std::string& url, const std::string& message,
                                 std::chrono::milliseconds timeout);

/// Appends `s` to `out` as one element of a PostgreSQL array literal ('{...}'), quoted: any text
/// (commas, quotes, backslashes, braces, newlines) reads back as itself.
void append_array_text(std::string& out, std::string_view s);

struct PgResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

/// One libpq connection (a world of its own: one per writer thread). Only unnamed statements and
/// transaction-scoped state are used, so it works through PgBouncer in transaction mode.
class PgConnection {
 public:
  /// Completes `url` with with_connection_defaults (throws ConnectionStringError for a string
  /// that can never connect).
  explicit PgConnection(const std::string& url);
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  /// Connects (or reconnects). Throws PgError; a connection whose client_encoding is not UTF8
  /// after all (a pooler or server that ignored ours) is closed and refused as misconfigured.
  void connect();
  bool connected() const;
  void close() { conn_.reset(); }

  /// Runs a statement without parameters; throws PgError on failure.
  PgResult exec(const char* sql);
  /// Runs a statement with text parameters (nullptr = NULL); throws PgError on failure.
  PgResult exec_params(const char* sql, const std::vector<const char*>& params);
  /// As exec_params, with every result column in binary format (bytea as its bytes).
  PgResult exec_params_binary(const char* sql, const std::vector<const char*>& params);

  /// A binary COPY in three steps: begin (sends the statement and the COPY header), put the
  /// tuples in as many pieces as convenient, end (sends the trailer and waits for the result).
  /// A refusal by the server surfaces from end_copy (or put_copy_data) as a PgError with the
  /// server's SQLSTATE; the transaction is then aborted.
  void begin_copy(const char* copy_sql);
  void put_copy_data(std::string_view data);
  void end_copy();

  /// Connects (or reconnects) without ever waiting longer than `timeout` (non-blocking libpq:
  /// PQconnectStart/PQconnectPoll), and gives up early when `stop` becomes true. For callers that
  /// must stay responsive (the consumer thread): a black-holed server or a PgBouncer queueing for
  /// a server that is gone is reported as a connection failure (PgError, SQLSTATE "") instead of
  /// hanging. Host names are still resolved synchronously by libpq.
  void connect_within(std::chrono::milliseconds timeout, const std::atomic<bool>* stop = nullptr);
  /// exec_params() with a deadline: the statement is sent and its result awaited with poll() on
  /// the socket, at most `timeout`, checking `stop` every 100 ms. Connects first (within the same
  /// deadline) when not connected. On timeout or stop the connection is closed (not cancelled:
  /// PQcancel itself blocks on a hung server) and a PgError with SQLSTATE "" is thrown, which is
  /// transient(): the caller treats PostgreSQL as unreachable and retries later.
  PgResult exec_params_within(const char* sql, const std::vector<const char*>& params,
                              std::chrono::milliseconds timeout,
                              const std::atomic<bool>* stop = nullptr);

  PGconn* raw() { return conn_.get(); }
  const std::string& url() const { return url_; }

 private:
  /// Throws PgError::misconfigured (and closes) unless the server says client_encoding is UTF8.
  void require_utf8();
  /// exec_params with results in `result_format` (0 text, 1 binary).
  PgResult exec_params_as(const char* sql, const std::vector<const char*>& params,
                          int result_format);
  PgError error_from(PGresult* r, std::string_view what) const;
  PgError connection_error(std::string_view what) const;
  PgResult check(PGresult* r, std::string_view what);

  std::string url_;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_{nullptr, &PQfinish};
};

}  // namespace sentinel
