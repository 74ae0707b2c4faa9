#include "tests/integration/pg_server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>

#include "tests/support/process.h"

namespace sentinel::testing {
namespace {

std::string script() { return std::string(SENTINEL_SOURCE_DIR) + "/scripts/pg.sh"; }

void pg_sh(std::vector<std::string> args) {
  args.insert(args.begin(), script());
  const auto [rc, out] = run_command(args, std::chrono::seconds(120));
  ASSERT_EQ(rc, 0) << "pg.sh " << args[1] << ": " << out;
}

}  // namespace

PgServer::PgServer(const PgServer* primary, const std::vector<std::string>& extra) {
  std::string tmpl = ::testing::TempDir() + "sentinel_pg_XXXXXX";
  root_ = mkdtemp(tmpl.data());
  dir_ = root_ + "/pg";
  if (primary == nullptr) {
    std::vector<std::string> args = {"start", dir_};
    for (const auto& e : extra) {
      args.push_back("-c");
      args.push_back(e);
    }
    pg_sh(args);
  } else {
    pg_sh({"standby", dir_, primary->dir_});
  }
  std::ifstream env(dir_ + "/env");
  std::string line;
  while (std::getline(env, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string value = line.substr(eq + 1);
    if (value.size() >= 2 && value.front() == '\'') value = value.substr(1, value.size() - 2);
    vars_[line.substr(0, eq)] = value;
  }
}

PgServer::~PgServer() {
  run_command({script(), "stop", dir_}, std::chrono::seconds(60));
  rmdir(root_.c_str());
}

std::string PgServer::bouncer_url() const {
  const auto it = vars_.find("SENTINEL_TEST_PGBOUNCER_URL");
  return it == vars_.end() ? "" : it->second;
}

void PgServer::ctl(const std::string& cmd, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {cmd, dir_};
  argv.insert(argv.end(), args.begin(), args.end());
  pg_sh(argv);
}

}  // namespace sentinel::testing
