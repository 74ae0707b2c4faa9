#pragma once

#include <map>
#include <string>
#include <vector>

namespace sentinel::testing {

/// A PostgreSQL 15 + PgBouncer of the test's own (scripts/pg.sh), or a streaming standby of one,
/// for tests that restart, stop or reconfigure the server. Stopped and deleted on destruction.
class PgServer {
 public:
  /// Starts a server; `extra` are `-c name=value` settings. With `primary`, a standby of it.
  explicit PgServer(const PgServer* primary = nullptr, const std::vector<std::string>& extra = {});
  ~PgServer();
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  /// Superuser connection string to database "sentinel" (add `dbname=` to pick another).
  std::string url() const { return vars_.at("SENTINEL_TEST_PG_URL"); }
  /// The same through PgBouncer; "" for a standby.
  std::string bouncer_url() const;
  std::string port() const { return vars_.at("SENTINEL_TEST_PG_PORT"); }
  /// The folder holding data/, the logs and env.
  const std::string& dir() const { return dir_; }
  /// Runs `scripts/pg.sh CMD DIR ARGS...` (restart, down, up, bouncer-restart, promote); fails
  /// the test when it fails.
  void ctl(const std::string& cmd, const std::vector<std::string>& args = {});

 private:
  std::string root_;
  std::string dir_;
  std::map<std::string, std::string> vars_;
};

}  // namespace sentinel::testing
