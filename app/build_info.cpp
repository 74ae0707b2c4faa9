#include "app/build_info.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include "ingest/library_versions.h"
#include "sinks/pg_connection.h"

namespace sentinel {

std::string version_text() {
  return fmt::format("sentinel-ingest {}\ncommit {}\nlibrdkafka {}\nlibpq {}\nsimdjson {}\n{}",
                     SENTINEL_VERSION, build_commit(), librdkafka_version(), libpq_version(),
                     simdjson_version(), OpenSSL_version(OPENSSL_VERSION));
}

}  // namespace sentinel
