#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace sentinel {

/// A connection string that can never work, whatever the server does: libpq cannot parse it, a
/// port or another number in it is not a number, or it asks for a client encoding other than
/// UTF-8. A configuration error (exit code 2): retrying cannot fix it. The message says what is
/// wrong and how to fix it; it never contains the password.
class ConnectionStringError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// `url` with what every connection of ours gets unless the connection string or libpq's
/// environment already says otherwise:
/// - `fallback_application_name=sentinel-ingest`, so that the DBA sees who is connected (an
///   application_name in the string or PGAPPNAME wins, as libpq defines the fallback);
/// - `connect_timeout=10`, so that a host that drops packets, or a server that accepts and never
///   answers, costs a retry after 10 s instead of a hang (unless the string or
///   PGCONNECT_TIMEOUT sets one);
/// - TCP keepalives (`keepalives=1`, `keepalives_idle=30`, `keepalives_interval=10`,
///   `keepalives_count=3`) and `tcp_user_timeout=60000`, so that a peer gone silent (a network
///   partition) is noticed within about a minute on both ends, unless the string sets them;
/// - always `client_encoding=UTF8`: the rows must say exactly what the events said, whatever
///   PGCLIENTENCODING or `ALTER ROLE ... SET client_encoding` say (a setting in the startup
///   packet beats both, also through PgBouncer).
/// Key=value strings and postgres:// URIs both work.
/// Throws ConnectionStringError for a string libpq cannot parse, a port (or another integer
/// setting, in the string or in PGPORT / PGCONNECT_TIMEOUT when the string leaves it out) that
/// is not a number in range, or an explicit client_encoding other than UTF8.
std::string with_connection_defaults(const std::string& url);

/// A libpq or libpqxx message as one log line: libpq ends messages with a newline and puts one
/// between the attempts at several addresses (and before DETAIL/HINT lines); each line break
/// and the indentation after it become "; ", the trailing ones are dropped.
std::string one_line(std::string_view message);

}  // namespace sentinel
