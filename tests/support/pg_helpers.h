#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "tests/support/test_db.h"

namespace sentinel::testing {

/// How one SQL string ended: ok, or the server's SQLSTATE and primary message.
struct SqlOutcome {
  bool ok = false;
  std::string sqlstate;
  std::string message;
};

/// Runs `sql` on a new connection to `url` and reports how it ended instead of throwing.
inline SqlOutcome try_sql(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    return {false, "", PQerrorMessage(conn.get())};
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(res.get());
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) return {true, "", ""};
  const char* state = PQresultErrorField(res.get(), PG_DIAG_SQLSTATE);
  const char* primary = PQresultErrorField(res.get(), PG_DIAG_MESSAGE_PRIMARY);
  return {false, state ? state : "", primary ? primary : PQresultErrorMessage(res.get())};
}

/// A LOGIN role for one test (no password: the throwaway server trusts local connections).
/// On destruction, what it owns in the test database goes back to the admin and the role is
/// dropped.
class TestRole {
 public:
  /// Creates `<db name>_<suffix>` with CREATE ROLE ... LOGIN `options`.
  TestRole(const TestDb& db, const std::string& suffix, const std::string& options = "")
      : db_(db), name_(db.name() + "_" + suffix) {
    db_.query("CREATE ROLE " + name_ + " LOGIN " + options);
  }
  ~TestRole() {
    try {
      db_.query("REASSIGN OWNED BY " + name_ + " TO CURRENT_USER; DROP OWNED BY " + name_ +
                "; DROP ROLE " + name_);
    } catch (...) {
      // A role left behind dies with the throwaway server.
    }
  }
  TestRole(const TestRole&) = delete;
  TestRole& operator=(const TestRole&) = delete;

  const std::string& name() const { return name_; }
  /// The test database, connected directly as this role.
  std::string url() const { return db_.direct_url() + " user=" + name_; }

 private:
  const TestDb& db_;
  std::string name_;
};

}  // namespace sentinel::testing
