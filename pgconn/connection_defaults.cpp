#include "pgconn/connection_defaults.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <string_view>

namespace sentinel {

std::string with_connection_defaults(const std::string& url) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(url.c_str(), &error), &PQconninfoFree);
  PQfreemem(error);
  if (options == nullptr) return url;
  const auto is_set = [&](std::string_view keyword) {
    for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
      if (keyword == o->keyword) return o->val != nullptr && *o->val != '\0';
    }
    return false;
  };
  std::string out = url;
  const bool uri = url.starts_with("postgresql://") || url.starts_with("postgres://");
  const auto add = [&](std::string_view key, std::string_view value) {
    const std::string param = std::string(key) + "=" + std::string(value);
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
  return out;
}

}  // namespace sentinel
