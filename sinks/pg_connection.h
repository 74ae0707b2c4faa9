#pragma once

#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace sentinel {

/// The fields of a server error that name the object it is about (empty when the server did not
/// say). They classify an error independently of the server's message language (lc_messages).
struct PgErrorFields {
  std::string table;       ///< PG_DIAG_TABLE_NAME
  std::string column;      ///< PG_DIAG_COLUMN_NAME
  std::string constraint;  ///< PG_DIAG_CONSTRAINT_NAME
  std::string datatype;    ///< PG_DIAG_DATATYPE_NAME
  std::string context;     ///< PG_DIAG_CONTEXT, e.g. the COPY line and column of a refused value
};

/// A PostgreSQL error with its SQLSTATE ("" when the connection itself failed). The message is
/// one line (libpq's line breaks become "; ") and never contains a password.
class PgError : public std::runtime_error {
 public:
  PgError(std::string message, std::string sqlstate, PgErrorFields fields = {})
      : std::runtime_error(std::move(message)),
        sqlstate_(std::move(sqlstate)),
        fields_(std::move(fields)) {}
  /// A failure without an SQLSTATE that no retry fixes (a connection that cannot be used as
  /// configured, e.g. one that does not talk UTF-8).
  static PgError misconfigured(std::string message) {
    PgError e(std::move(message), "");
    e.misconfigured_ = true;
    return e;
  }
  const std::string& sqlstate() const { return sqlstate_; }
  /// Table, column, constraint and type the server named (PostgreSQL sets them for constraint
  /// violations and most data errors).
  const PgErrorFields& fields() const { return fields_; }

  /// Lost connection, admin shutdown, serialization failure, deadlock, out of resources: roll
  /// back, reconnect and retry the same work (architecture.md §5).
  bool transient() const;
  /// The data of one row was refused (classes 22 and 23): bisect to find it.
  bool row_refused() const;
  /// Permission denied, missing table or column: a configuration problem no retry fixes.
  bool configuration() const;

 private:
  std::string sqlstate_;
  bool misconfigured_ = false;
  PgErrorFields fields_;
};

/// Removes passwords from a connection string or URI before it is shown to a person.
std::string redact_url(std::string_view url);

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
  explicit PgConnection(std::string url);
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
  PgError error_from(PGresult* r, std::string_view what) const;
  PgError connection_error(std::string_view what) const;
  PgResult check(PGresult* r, std::string_view what);

  std::string url_;
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn_{nullptr, &PQfinish};
};

}  // namespace sentinel
