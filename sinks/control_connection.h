#pragma once

#include <pqxx/pqxx>
#include <string>

#include "sinks/pg_error.h"

namespace sentinel {

/// A libpqxx connection for the control plane (migrations, partitions, reports) to `url`,
/// completed by with_connection_defaults (throws ConnectionStringError for a string that can
/// never connect). When PostgreSQL cannot be reached or refuses the connection, throws a PgError
/// classified by diagnose_connect_failure — SQLSTATE or libpq's connection phase, never the
/// message's words — so a wrong password, database or CA is a configuration error in any server
/// language, and an unreachable server is transient.
pqxx::connection connect_control(const std::string& url);

/// A libpqxx server error as a PgError (its SQLSTATE, a one-line message without passwords), so
/// that it is classified like every other PostgreSQL error.
PgError pg_error_of(const pqxx::sql_error& e);

}  // namespace sentinel
