#pragma once

#include <string>

namespace sentinel {

/// The git commit the binary was built from (12 hex digits, "-dirty" when the tree had changes),
/// or "unknown" when built outside git. Written at build time by app/build_info.cmake.
const char* build_commit();

/// What `--version` prints: the version and commit, then the libraries as loaded (librdkafka,
/// libpq, OpenSSL) or compiled in (simdjson), one per line. The first line is
/// "sentinel-ingest VERSION" (what help2man reads).
std::string version_text();

}  // namespace sentinel
