#include "sinks/control_connection.h"

#include <chrono>

#include "sinks/connection_defaults.h"
#include "sinks/pg_connection.h"

namespace sentinel {

pqxx::connection connect_control(const std::string& url) {
  const std::string full = with_connection_defaults(url);
  try {
    return pqxx::connection(full);
  } catch (const pqxx::broken_connection& e) {
    // libpqxx keeps no SQLSTATE of a refused connection: one more, bounded attempt finds it.
    throw diagnose_connect_failure(url, redact_url(one_line(e.what())), std::chrono::seconds(3));
  }
}

PgError pg_error_of(const pqxx::sql_error& e) {
  return PgError(redact_url(one_line(e.what())), e.sqlstate());
}

}  // namespace sentinel
