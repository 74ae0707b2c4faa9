#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

/// The passwords of connection string `conninfo` as they may show up in a message, each raw as
/// written and percent-decoded: the URI userinfo's password (the userinfo is everything between
/// `://` and the last `@` before the first `?`, so an unencoded `@`, `/`, `#` or space stays in
/// it; with an unencoded `@` or `:` also what follows each `:` of the userinfo, and the pieces
/// libpq would split it into: libpq quotes those in its parse errors, e.g. `invalid port
/// "SEKRIT@host"`), `password=` values of a URI query (up to `&`) and of a key=value string
/// (quoted or not, also unterminated). Fragments shorter than 3 characters are left out: they
/// would blank out every such letter of a message and reveal next to nothing.
std::vector<std::string> password_fragments(std::string_view conninfo);

/// `text` (a connection string, or a message that may quote one or pieces of one) with every
/// password replaced by `***`: the password of each postgres:// or postgresql:// URI in it
/// (userinfo as in password_fragments), every `password=` value (quoted or up to `&` or
/// whitespace), and every password fragment of `conninfo` (when given) and of each connection
/// string with_connection_defaults has seen in this process. The one place that decides what of
/// a connection string is secret: every message built from one goes through it.
std::string redact_secrets(std::string_view text, std::string_view conninfo = {});

/// A libpq or libpqxx message as one log line: libpq ends messages with a newline and puts one
/// between the attempts at several addresses (and before DETAIL/HINT lines); each line break
/// and the indentation after it become "; ", the trailing ones are dropped.
std::string one_line(std::string_view message);

}  // namespace sentinel
