#pragma once

#include <string>

namespace sentinel::testing {

/// A fresh, empty database on the throwaway server that scripts/test.sh starts, dropped when the
/// object goes away. `direct_url` reaches PostgreSQL itself, `bouncer_url` goes through PgBouncer
/// in transaction mode. The test fails (not skips) when the server is not there: these tests must
/// run through scripts/test.sh (or with SENTINEL_TEST_PG_URL / SENTINEL_TEST_PGBOUNCER_URL set).
class TestDb {
 public:
  TestDb();
  /// The same on a server of the test's own (admin URL with dbname, PgBouncer URL or "").
  TestDb(std::string admin_url, std::string bouncer_url);
  ~TestDb();
  TestDb(const TestDb&) = delete;
  TestDb& operator=(const TestDb&) = delete;

  const std::string& name() const { return name_; }
  const std::string& direct_url() const { return direct_url_; }
  const std::string& bouncer_url() const { return bouncer_url_; }

  /// Runs SQL on the direct connection; returns the first column of the first row ("" if none).
  /// Throws std::runtime_error with the server's message on failure.
  std::string query(const std::string& sql) const;

  /// Points at the same database on another server (a promoted standby, after a failover).
  void move_to(const std::string& admin_url);

 private:
  std::string name_;
  std::string direct_url_;
  std::string bouncer_url_;
  std::string admin_url_;
};

/// Runs SQL against a connection string; returns the first column of the first row.
std::string query_one(const std::string& url, const std::string& sql);

}  // namespace sentinel::testing
