#include "testkit/throwaway_postgres.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace sentinel {
namespace fs = std::filesystem;

namespace {

std::string find_pg_bin() {
  for (const char* candidate :
       {"/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin"}) {
    if (fs::exists(fs::path(candidate) / "initdb")) return candidate;
  }
  throw std::runtime_error(
      "PostgreSQL server binaries not found (looked in /usr/lib/postgresql/*/bin): run "
      "scripts/setup.sh");
}

}  // namespace

int ThrowawayPostgres::run(const std::vector<std::string>& argv, bool quiet) {
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    if (geteuid() == 0) {
      // Drop to the postgres user: initdb and postgres refuse to run as root.
      const passwd* pw = getpwnam("postgres");
      if (pw == nullptr || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) _exit(126);
    }
    if (quiet) {
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
    }
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

ThrowawayPostgres::ThrowawayPostgres(const std::vector<std::string>& settings)
    : bin_(find_pg_bin()) {
  std::string tmpl = (fs::temp_directory_path() / "sentinel-demo-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create a temporary folder");
  dir_ = tmpl;
  if (geteuid() == 0) {
    const passwd* pw = getpwnam("postgres");
    if (pw == nullptr) throw std::runtime_error("running as root needs a `postgres` user");
    if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      throw std::runtime_error("cannot hand " + dir_ + " to the postgres user");
    }
  }
  const std::string data = dir_ + "/data";
  if (run({bin_ + "/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
           "--locale=C.UTF-8"}) != 0) {
    throw std::runtime_error("initdb failed in " + data);
  }
  std::string options = "-k " + dir_ + " -c listen_addresses='' -c fsync=off";
  for (const auto& s : settings) options += " -c " + s;
  if (run({bin_ + "/pg_ctl", "-D", data, "-l", dir_ + "/postgres.log", "-w", "-t", "60", "-o",
           options, "start"}) != 0) {
    std::ifstream log(dir_ + "/postgres.log");
    std::stringstream text;
    text << log.rdbuf();
    throw std::runtime_error("PostgreSQL did not start:\n" + text.str());
  }
  started_ = true;
  url_ = "host=" + dir_ + " port=5432 user=postgres dbname=postgres";
}

ThrowawayPostgres::~ThrowawayPostgres() {
  try {
    if (started_) run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-m", "fast", "-w", "stop"});
  } catch (const std::exception&) {
    // No fork (or no memory) to stop the server with: a destructor must not throw. Deleting the
    // folder below still ends the server: it shuts down once its postmaster.pid is gone.
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace sentinel
