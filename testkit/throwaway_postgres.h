#pragma once

#include <string>
#include <vector>

namespace sentinel {

/// A PostgreSQL 15 server in a temporary folder, for the demo: initdb, start on a Unix socket
/// only (no TCP port to collide with), and on destruction stop it and delete the folder. When
/// this process is root, the server runs as the `postgres` user (initdb refuses root).
class ThrowawayPostgres {
 public:
  /// `settings`: extra `-c name=value` server settings. Throws std::runtime_error with the
  /// server's log when it cannot start.
  explicit ThrowawayPostgres(const std::vector<std::string>& settings = {});
  ~ThrowawayPostgres();
  ThrowawayPostgres(const ThrowawayPostgres&) = delete;
  ThrowawayPostgres& operator=(const ThrowawayPostgres&) = delete;

  /// libpq connection string for database `postgres` as the superuser.
  const std::string& url() const { return url_; }

 private:
  int run(const std::vector<std::string>& argv, bool quiet = true);

  std::string bin_;
  std::string dir_;
  std::string url_;
  bool started_ = false;
};

}  // namespace sentinel
