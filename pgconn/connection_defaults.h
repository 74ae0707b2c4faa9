#pragma once

#include <string>

namespace sentinel {

/// `url` with what every connection of ours gets unless the connection string or libpq's
/// environment already says otherwise:
/// - `fallback_application_name=sentinel-ingest`, so that the DBA sees who is connected (an
///   application_name in the string or PGAPPNAME wins, as libpq defines the fallback);
/// - `connect_timeout=10`, so that a host that drops packets, or a server that accepts and never
///   answers, costs a retry after 10 s instead of a hang (unless the string or
///   PGCONNECT_TIMEOUT sets one).
/// Key=value strings and postgres:// URIs both work; a string libpq cannot parse is returned
/// unchanged (connecting reports what is wrong with it).
std::string with_connection_defaults(const std::string& url);

}  // namespace sentinel
