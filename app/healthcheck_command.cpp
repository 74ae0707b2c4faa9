#include "app/healthcheck_command.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <iostream>
#include <memory>
#include <string>

#include "app/config.h"

namespace sentinel {
namespace {

struct HealthcheckArgs {
  std::string listen = "127.0.0.1:9464";
  std::string path = "/healthz";
  int timeout_s = 3;
};

int run_healthcheck(const HealthcheckArgs& a) {
  const auto colon = a.listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == a.listen.size()) {
    throw UsageError("--metrics-listen expects HOST:PORT, got '" + a.listen + "'");
  }
  std::string host = a.listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // `run` listening on every interface is reached on loopback.
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "::") host = "::1";
  int port = 0;
  try {
    port = std::stoi(a.listen.substr(colon + 1));
  } catch (const std::exception&) {
    throw UsageError("--metrics-listen: bad port in '" + a.listen + "'");
  }
  httplib::Client client(host, port);
  client.set_connection_timeout(a.timeout_s, 0);
  client.set_read_timeout(a.timeout_s, 0);
  const auto res = client.Get(a.path);
  if (!res) {
    spdlog::error("healthcheck: {}:{}{}: {}", host, port, a.path, httplib::to_string(res.error()));
    return 1;
  }
  std::cout << res->status << " " << res->body;
  return res->status == 200 ? 0 : 1;
}

}  // namespace

std::function<int()> add_healthcheck_command(CLI::App& app) {
  auto a = std::make_shared<HealthcheckArgs>();
  CLI::App* cmd = app.add_subcommand(
      "healthcheck", "Probe a running `run` over HTTP (for container HEALTHCHECKs); exit 0 if OK");
  cmd->add_option("--metrics-listen", a->listen, "HOST:PORT that `run --metrics-listen` serves")
      ->capture_default_str();
  cmd->add_option("--path", a->path, "/healthz (alive) or /readyz (PostgreSQL and Kafka ready)")
      ->capture_default_str()
      ->check(CLI::IsMember({"/healthz", "/readyz", "/metrics"}));
  cmd->add_option("--timeout", a->timeout_s, "Seconds to wait for the answer")
      ->capture_default_str()
      ->check(CLI::Range(1, 60));
  add_env_names(*cmd);
  return [a]() -> int { return run_healthcheck(*a); };
}

}  // namespace sentinel
