#include "sinks/connection_defaults.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <regex>
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

/// `s` with every valid %XX decoded; an invalid one (libpq refuses the string) stays as it is.
std::string percent_decoded(std::string_view s) {
  const auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

/// Where the URI whose "://" ends at `start` has its userinfo: [start, position of the last `@`
/// before the first `?` (or the next "://", in a message quoting several)), or else of libpq's
/// own choice, the first `@` before the first `/` (a password with an unencoded `?`); npos when
/// none.
size_t userinfo_end(std::string_view text, size_t start) {
  const size_t limit = std::min(text.find('?', start), text.find("://", start));
  const size_t at =
      text.substr(0, limit == std::string_view::npos ? text.size() : limit).rfind('@');
  if (at != std::string_view::npos && at >= start) return at;
  const size_t first = text.find_first_of("@/", start);
  return first != std::string_view::npos && text[first] == '@' ? first : std::string_view::npos;
}

/// True when the "://" at `pos` ends "postgres" or "postgresql".
bool postgres_scheme_at(std::string_view text, size_t pos) {
  const std::string_view before = text.substr(0, pos);
  return before.ends_with("postgresql") || before.ends_with("postgres");
}

constexpr size_t kShortestFragment = 3;

/// Password fragments of every connection string with_connection_defaults has seen.
std::mutex g_seen_mutex;
std::vector<std::string> g_seen_fragments;

void remember_fragments(std::string_view conninfo) {
  std::vector<std::string> fragments = password_fragments(conninfo);
  std::lock_guard lock(g_seen_mutex);
  for (std::string& f : fragments) {
    if (std::find(g_seen_fragments.begin(), g_seen_fragments.end(), f) == g_seen_fragments.end()) {
      g_seen_fragments.push_back(std::move(f));
    }
  }
}

std::string checked_with_defaults(const std::string& url);

/// The password pieces of a postgresql:// URI `s`: the userinfo's, whole and as libpq cuts it,
/// and the query's password=.
void uri_password_pieces(std::string_view s, std::vector<std::string>& raw) {
  const size_t start = s.find("://") + 3;
  if (const size_t at = userinfo_end(s, start); at != std::string_view::npos) {
    const std::string_view userinfo = s.substr(start, at - start);
    for (size_t c = userinfo.find(':'); c != std::string_view::npos;
         c = userinfo.find(':', c + 1)) {
      raw.emplace_back(userinfo.substr(c + 1));
    }
    // The pieces libpq cuts an unencoded `@`, `/`, `:` or `#` into (it quotes them).
    if (const size_t colon = userinfo.find(':'); colon != std::string_view::npos) {
      std::string_view rest = userinfo.substr(colon + 1);
      for (;;) {
        const size_t cut = rest.find_first_of("@/:?#");
        raw.emplace_back(rest.substr(0, cut));
        if (cut == std::string_view::npos) break;
        rest.remove_prefix(cut + 1);
      }
    }
  }
  for (size_t q = s.find('?'); q != std::string_view::npos; q = s.find('&', q + 1)) {
    const std::string_view param = s.substr(q + 1, s.find('&', q + 1) - (q + 1));
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos && percent_decoded(param.substr(0, eq)) == "password") {
      raw.emplace_back(param.substr(eq + 1));
    }
  }
}

/// The password pieces of a key=value string `s`: every `password = value`, the value quoted
/// (backslash escapes, possibly unterminated) or up to whitespace, then the word after it if that
/// has no `=` (libpq quotes it: `missing "=" after "RIT"`).
void keyword_password_pieces(std::string_view s, std::vector<std::string>& raw) {
  for (size_t p = s.find("password"); p != std::string_view::npos; p = s.find("password", p + 1)) {
    if (p > 0 && !std::isspace(static_cast<unsigned char>(s[p - 1]))) continue;
    size_t i = p + 8;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i >= s.size() || s[i] != '=') continue;
    ++i;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    if (i < s.size() && s[i] == '\'') {
      std::string unescaped;
      size_t j = i + 1;
      for (; j < s.size() && s[j] != '\''; ++j) {
        if (s[j] == '\\' && j + 1 < s.size()) ++j;
        unescaped += s[j];
      }
      raw.emplace_back(s.substr(i + 1, j - i - 1));
      raw.push_back(std::move(unescaped));
    } else {
      size_t j = i;
      while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
      raw.emplace_back(s.substr(i, j - i));
      size_t k = j;
      while (k < s.size() && std::isspace(static_cast<unsigned char>(s[k]))) ++k;
      size_t e = k;
      while (e < s.size() && !std::isspace(static_cast<unsigned char>(s[e]))) ++e;
      const std::string_view next = s.substr(k, e - k);
      if (!next.empty() && next.find('=') == std::string_view::npos) {
        raw.emplace_back(next);
        raw.emplace_back(s.substr(i, e - i));
      }
    }
  }
}

}  // namespace

std::vector<std::string> password_fragments(std::string_view conninfo) {
  std::vector<std::string> raw;
  std::string_view s = conninfo;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  if (s.starts_with("postgresql://") || s.starts_with("postgres://")) {
    uri_password_pieces(s, raw);
  } else {
    keyword_password_pieces(s, raw);
  }
  std::vector<std::string> out;
  for (const std::string& r : raw) {
    for (std::string f : {r, percent_decoded(r)}) {
      if (f.size() >= kShortestFragment && std::find(out.begin(), out.end(), f) == out.end()) {
        out.push_back(std::move(f));
      }
    }
  }
  return out;
}

std::string redact_secrets(std::string_view text, std::string_view conninfo) {
  // URIs: the password of the userinfo, whatever characters it holds.
  std::string s;
  size_t i = 0;
  for (size_t pos = text.find("://"); pos != std::string_view::npos;
       pos = text.find("://", pos + 3)) {
    if (pos < i || !postgres_scheme_at(text, pos)) continue;
    const size_t start = pos + 3;
    const size_t at = userinfo_end(text, start);
    if (at == std::string_view::npos) continue;
    const size_t colon = text.find(':', start);
    if (colon >= at) continue;
    s.append(text.substr(i, colon + 1 - i));
    s += "***";
    i = at;
  }
  s.append(text.substr(i));
  // key=value strings and URI queries: password=value, quoted (maybe unterminated) or not.
  static const std::regex kv_password(R"((password\s*=\s*)('(?:[^'\\]|\\[\s\S])*'?|[^\s&]*))",
                                      std::regex::icase);
  s = std::regex_replace(s, kv_password, "$1***");
  // Whatever else of a password a message quotes (libpq's parse errors do).
  std::vector<std::string> fragments = password_fragments(conninfo);
  {
    std::lock_guard lock(g_seen_mutex);
    fragments.insert(fragments.end(), g_seen_fragments.begin(), g_seen_fragments.end());
  }
  std::sort(fragments.begin(), fragments.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const std::string& f : fragments) {
    if (f == "***") continue;
    for (size_t p = s.find(f); p != std::string::npos; p = s.find(f, p + 3)) {
      s.replace(p, f.size(), "***");
    }
  }
  return s;
}

std::string with_connection_defaults(const std::string& url) {
  remember_fragments(url);
  try {
    return checked_with_defaults(url);
  } catch (const ConnectionStringError& e) {
    // libpq's verdict and ours may quote pieces of the string: never its password.
    throw ConnectionStringError(redact_secrets(e.what(), url));
  }
}

namespace {

/// The parsed options of a connection string, as libpq reads them.
class Conninfo {
 public:
  /// Throws ConnectionStringError with libpq's reason (which may quote pieces of the string:
  /// with_connection_defaults redacts).
  explicit Conninfo(const std::string& url) {
    char* error = nullptr;
    options_.reset(PQconninfoParse(url.c_str(), &error));
    if (options_ == nullptr) {
      // libpq says what is wrong; without a message it ran out of memory, which no retry of ours
      // would fix either.
      std::string why = error != nullptr ? one_line(error) : "out of memory";
      PQfreemem(error);
      throw ConnectionStringError("--pg is not a valid connection string: " + why +
                                  std::string(kFix));
    }
    PQfreemem(error);
  }

  /// The value of `keyword`; null when the string leaves it out or empty.
  const char* value(std::string_view keyword) const {
    for (const PQconninfoOption* o = options_.get(); o->keyword != nullptr; ++o) {
      if (keyword == o->keyword) return o->val != nullptr && *o->val != '\0' ? o->val : nullptr;
    }
    return nullptr;
  }
  bool is_set(std::string_view keyword) const { return value(keyword) != nullptr; }

 private:
  struct Free {
    void operator()(PQconninfoOption* o) const { PQconninfoFree(o); }
  };
  std::unique_ptr<PQconninfoOption, Free> options_;
};

// What libpq would only find out when connecting, and then report like a network failure.
// Where the string leaves a setting out, libpq takes it from its environment variable.

void check_ports(const Conninfo& c) {
  const char* port_env = c.value("port") == nullptr ? std::getenv("PGPORT") : nullptr;
  const char* ports = port_env != nullptr && *port_env != '\0' ? port_env : c.value("port");
  if (ports == nullptr) return;
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

void check_integers(const Conninfo& c) {
  for (std::string_view key : {"connect_timeout", "keepalives", "keepalives_idle",
                               "keepalives_interval", "keepalives_count", "tcp_user_timeout"}) {
    if (const char* v = c.value(key); v != nullptr && !integer_in(v, -2147483647L, 2147483647L)) {
      throw ConnectionStringError("--pg: " + std::string(key) + "=\"" + v + "\" is not a number" +
                                  std::string(kFix));
    }
  }
  if (const char* v = std::getenv("PGCONNECT_TIMEOUT"); v != nullptr && *v != '\0' &&
                                                        !c.is_set("connect_timeout") &&
                                                        !integer_in(v, -2147483647L, 2147483647L)) {
    throw ConnectionStringError(std::string("PGCONNECT_TIMEOUT=\"") + v +
                                "\" in the environment is not a number; fix or unset it");
  }
}

void check_choices(const Conninfo& conninfo) {
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
    const char* v = conninfo.value(c.key);
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
  if (const char* enc = conninfo.value("client_encoding"); enc != nullptr && !is_utf8_name(enc)) {
    throw ConnectionStringError(
        "--pg sets client_encoding=" + std::string(enc) +
        ": sentinel-ingest stores text exactly as the events carry it and always talks UTF8 "
        "to PostgreSQL; remove client_encoding from --pg (or set it to UTF8)");
  }
}

/// `url` with sentinel-ingest's defaults for what it leaves out.
std::string with_defaults_added(const std::string& url, const Conninfo& c) {
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
  if (!c.is_set("fallback_application_name")) add("fallback_application_name", "sentinel-ingest");
  if (!c.is_set("connect_timeout") && std::getenv("PGCONNECT_TIMEOUT") == nullptr) {
    add("connect_timeout", "10");
  }
  if (!c.is_set("client_encoding")) add("client_encoding", "UTF8");
  if (!c.is_set("keepalives")) add("keepalives", "1");
  if (!c.is_set("keepalives_idle")) add("keepalives_idle", "30");
  if (!c.is_set("keepalives_interval")) add("keepalives_interval", "10");
  if (!c.is_set("keepalives_count")) add("keepalives_count", "3");
  if (!c.is_set("tcp_user_timeout")) add("tcp_user_timeout", "60000");
  return out;
}

std::string checked_with_defaults(const std::string& url) {
  const Conninfo conninfo(url);
  check_ports(conninfo);
  check_integers(conninfo);
  check_choices(conninfo);
  return with_defaults_added(url, conninfo);
}

}  // namespace

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
