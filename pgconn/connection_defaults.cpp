#include "pgconn/connection_defaults.h"

#include <libpq-fe.h>

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <string_view>

namespace sentinel {

namespace {

constexpr std::string_view kFix =
    "; fix --pg (a key=value string such as 'host=db port=5432 dbname=sentinel user=app' or a "
    "URI such as 'postgresql://app@db:5432/sentinel', see the libpq documentation on "
    "connection strings)";

std::string trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

/// True when `s` is a decimal integer in [min, max], as libpq's parse_int_param wants it.
bool integer_in(std::string_view s, long min, long max) {
  const std::string t = trimmed(s);
  long v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  return !t.empty() && ec == std::errc() && end == t.data() + t.size() && v >= min && v <= max;
}

/// "UTF8", "utf-8", "unicode": the names PostgreSQL accepts for UTF-8.
bool is_utf8_name(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      n += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return n == "utf8" || n == "unicode";
}

}  // namespace

std::string with_connection_defaults(const std::string& url) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &error), &PQconninfoFree);
  if (options == nullptr) {
    // libpq says what is wrong; without a message it ran out of memory, which no retry of ours
    // would fix either. It may quote the whole URI: the password goes.
    std::string why = error != nullptr ? one_line(error) : "out of memory";
    PQfreemem(error);
    if (const size_t scheme = url.find("://"); scheme != std::string::npos) {
      const size_t at = url.find('@', scheme + 3);
      const size_t colon = url.find(':', scheme + 3);
      if (at != std::string::npos && colon < at && at > colon + 1) {
        const std::string password = url.substr(colon + 1, at - colon - 1);
        for (size_t p; (p = why.find(password)) != std::string::npos;) {
          why.replace(p, password.size(), "***");
        }
      }
    }
    throw ConnectionStringError("--pg is not a valid connection string: " + why +
                                std::string(kFix));
  }
  PQfreemem(error);
  const auto value = [&](std::string_view keyword) -> const char* {
    for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
      if (keyword == o->keyword) return o->val != nullptr && *o->val != '\0' ? o->val : nullptr;
    }
    return nullptr;
  };
  const auto is_set = [&](std::string_view keyword) { return value(keyword) != nullptr; };

  // What libpq would only find out when connecting, and then report like a network failure.
  // Where the string leaves a setting out, libpq takes it from its environment variable.
  const char* port_env = value("port") == nullptr ? std::getenv("PGPORT") : nullptr;
  if (const char* ports = port_env != nullptr && *port_env != '\0' ? port_env : value("port")) {
    const std::string where = ports == port_env ? " (PGPORT in the environment)" : "";
    std::string_view rest = ports;
    for (;;) {
      const size_t comma = rest.find(',');
      const std::string_view one = rest.substr(0, comma);
      if (!trimmed(one).empty() && !integer_in(one, 1, 65535)) {
        throw ConnectionStringError("--pg: invalid port \"" + std::string(one) + "\"" + where +
                                    ": a port is a number from 1 to 65535" + std::string(kFix));
      }
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  for (std::string_view key : {"connect_timeout", "keepalives", "keepalives_idle",
                               "keepalives_interval", "keepalives_count", "tcp_user_timeout"}) {
    if (const char* v = value(key); v != nullptr && !integer_in(v, -2147483647L, 2147483647L)) {
      throw ConnectionStringError("--pg: " + std::string(key) + "=\"" + v + "\" is not a number" +
                                  std::string(kFix));
    }
  }
  if (const char* v = std::getenv("PGCONNECT_TIMEOUT"); v != nullptr && *v != '\0' &&
                                                        !is_set("connect_timeout") &&
                                                        !integer_in(v, -2147483647L, 2147483647L)) {
    throw ConnectionStringError(std::string("PGCONNECT_TIMEOUT=\"") + v +
                                "\" in the environment is not a number; fix or unset it");
  }
  struct Choice {
    std::string_view key;
    std::initializer_list<std::string_view> allowed;
  };
  for (const Choice& c :
       {Choice{"sslmode", {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}},
        Choice{"gssencmode", {"disable", "prefer", "require"}},
        Choice{"channel_binding", {"disable", "prefer", "require"}},
        Choice{"target_session_attrs",
               {"any", "read-write", "read-only", "primary", "standby", "prefer-standby"}}}) {
    const char* v = value(c.key);
    if (v == nullptr) continue;
    bool ok = false;
    for (std::string_view a : c.allowed) ok = ok || a == v;
    if (!ok) {
      std::string list;
      for (std::string_view a : c.allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      throw ConnectionStringError("--pg: " + std::string(c.key) + "=\"" + v + "\" is not one of " +
                                  list + std::string(kFix));
    }
  }
  if (const char* enc = value("client_encoding"); enc != nullptr && !is_utf8_name(enc)) {
    throw ConnectionStringError(
        "--pg sets client_encoding=" + std::string(enc) +
        ": sentinel-ingest stores text exactly as the events carry it and always talks UTF8 "
        "to PostgreSQL; remove client_encoding from --pg (or set it to UTF8)");
  }

  std::string out = url;
  const bool uri = url.starts_with("postgresql://") || url.starts_with("postgres://");
  const auto add = [&](std::string_view key, std::string_view v) {
    const std::string param = std::string(key) + "=" + std::string(v);
    if (uri) {
      out += (out.find('?') == std::string::npos ? "?" : "&") + param;
    } else {
      out += (out.empty() ? "" : " ") + param;
    }
  };
  if (!is_set("fallback_application_name")) add("fallback_application_name", "sentinel-ingest");
  if (!is_set("connect_timeout") && std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    add("connect_timeout", "10");
  }
  if (!is_set("client_encoding")) add("client_encoding", "UTF8");
  if (!is_set("keepalives")) add("keepalives", "1");
  if (!is_set("keepalives_idle")) add("keepalives_idle", "30");
  if (!is_set("keepalives_interval")) add("keepalives_interval", "10");
  if (!is_set("keepalives_count")) add("keepalives_count", "3");
  if (!is_set("tcp_user_timeout")) add("tcp_user_timeout", "60000");
  return out;
}

std::string one_line(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  size_t i = 0;
  while (i < message.size()) {
    const char c = message[i];
    if (c == '\n' || c == '\r') {
      while (i < message.size() && std::isspace(static_cast<unsigned char>(message[i]))) ++i;
      while (!out.empty() && (out.back() == ' ' || out.back() == '\t')) out.pop_back();
      if (i < message.size() && !out.empty()) out += "; ";
      continue;
    }
    out += c;
    ++i;
  }
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

}  // namespace sentinel
