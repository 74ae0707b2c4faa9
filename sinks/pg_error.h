#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sentinel {

/// What the ingestor does about a PostgreSQL error (architecture.md §5). The one vocabulary of
/// errors: the writers, the consumer thread, the commands and `main` all ask classify_pg_error.
enum class PgErrorCategory {
  kTransient,         ///< roll back, reconnect with backoff, retry the same work
  kRowRefused,        ///< a row's data was refused (classes 22, 23): bisect, it becomes a reject
  kMissingPartition,  ///< COPY found no month partition for a row: create it, retry
  kConfiguration,     ///< no retry fixes it: tell the operator the fix (pg_error_fix), exit 2
  kFatal,             ///< anything else: stop, exit 1
  kCount
};

/// "transient", "row_refused", "missing_partition", "configuration", "fatal".
std::string_view category_name(PgErrorCategory category);

/// The fields of a server error that name the object it is about (empty when the server did not
/// say). They classify an error independently of the server's message language (lc_messages).
struct PgErrorFields {
  std::string table;       ///< PG_DIAG_TABLE_NAME
  std::string column;      ///< PG_DIAG_COLUMN_NAME
  std::string constraint;  ///< PG_DIAG_CONSTRAINT_NAME
  std::string datatype;    ///< PG_DIAG_DATATYPE_NAME
  std::string context;     ///< PG_DIAG_CONTEXT, e.g. the COPY line and column of a refused value
};

/// The category of an error with this SQLSTATE ("": PostgreSQL never answered — refused, reset
/// or timed-out connections — which is transient). Decided by the SQLSTATE and the fields only,
/// never by the message, whose language follows the server's lc_messages.
PgErrorCategory classify_pg_error(std::string_view sqlstate, const PgErrorFields& fields = {});

/// For a configuration error, what the operator must do, e.g. "the connecting role lacks a
/// privilege: grant it sentinel_ingest (see schemas/README.md)"; a generic "check --pg and the
/// database" for other SQLSTATEs.
std::string_view pg_error_fix(std::string_view sqlstate);

/// A PostgreSQL error with its SQLSTATE ("" when the connection itself failed). The message is
/// one line (libpq's line breaks become "; ") and never contains a password.
class PgError : public std::runtime_error {
 public:
  PgError(const std::string& message, std::string sqlstate, PgErrorFields fields = {})
      : std::runtime_error(message),
        sqlstate_(std::move(sqlstate)),
        fields_(std::move(fields)),
        category_(classify_pg_error(sqlstate_, fields_)) {}
  /// A failure that no retry fixes and that has no SQLSTATE of its own (a connection that cannot
  /// be used as configured: one that does not talk UTF-8, a TLS setup that fails); `fix` is what
  /// the operator must do.
  static PgError misconfigured(const std::string& message, std::string fix = {}) {
    PgError e(message, "");
    e.category_ = PgErrorCategory::kConfiguration;
    e.fix_ = std::move(fix);
    return e;
  }
  const std::string& sqlstate() const { return sqlstate_; }
  /// Table, column, constraint and type the server named (PostgreSQL sets them for constraint
  /// violations and most data errors).
  const PgErrorFields& fields() const { return fields_; }
  PgErrorCategory category() const { return category_; }
  /// What the operator must do about a configuration error.
  std::string fix() const { return fix_.empty() ? std::string(pg_error_fix(sqlstate_)) : fix_; }

  bool transient() const { return category_ == PgErrorCategory::kTransient; }
  bool row_refused() const { return category_ == PgErrorCategory::kRowRefused; }
  bool missing_partition() const { return category_ == PgErrorCategory::kMissingPartition; }
  bool configuration() const { return category_ == PgErrorCategory::kConfiguration; }
  /// A refused value (class 22, e.g. a cost sum that overflows numeric(20,9)), as opposed to a
  /// refused row (class 23, a constraint): both are row_refused().
  bool data_exception() const { return row_refused() && sqlstate_.starts_with("22"); }

 private:
  std::string sqlstate_;
  PgErrorFields fields_;
  PgErrorCategory category_;
  std::string fix_;
};

}  // namespace sentinel
