#include "tests/support/test_db.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <utility>

namespace sentinel::testing {
namespace {

std::string env_or_throw(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    throw std::runtime_error(std::string(name) +
                             " is not set: run the PostgreSQL tests through scripts/test.sh");
  }
  return v;
}

}  // namespace

std::string query_one(const std::string& url, const std::string& sql) {
  std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(url.c_str()), &PQfinish);
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error("connect: " + std::string(PQerrorMessage(conn.get())));
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> res(PQexec(conn.get(), sql.c_str()), &PQclear);
  const auto status = PQresultStatus(res.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(res.get()));
  }
  if (status == PGRES_TUPLES_OK && PQntuples(res.get()) > 0) {
    return PQgetvalue(res.get(), 0, 0);
  }
  return {};
}

TestDb::TestDb()
    : TestDb(env_or_throw("SENTINEL_TEST_PG_URL"), env_or_throw("SENTINEL_TEST_PGBOUNCER_URL")) {}

TestDb::TestDb(std::string admin_url, std::string bouncer) : admin_url_(std::move(admin_url)) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
  name_ = "t_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
          std::to_string(now % 1000000);
  query_one(admin_url_, "CREATE DATABASE " + name_);
  direct_url_ = admin_url_ + " dbname=" + name_;
  bouncer_url_ = bouncer.empty() ? "" : bouncer + " dbname=" + name_;
}

void TestDb::move_to(const std::string& admin_url) {
  admin_url_ = admin_url;
  direct_url_ = admin_url_ + " dbname=" + name_;
  bouncer_url_.clear();
}

TestDb::~TestDb() {
  try {
    query_one(admin_url_, "DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (...) {
    // A database left behind dies with the throwaway server.
  }
}

std::string TestDb::query(const std::string& sql) const { return query_one(direct_url_, sql); }

}  // namespace sentinel::testing
