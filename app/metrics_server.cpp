#include "app/metrics_server.h"

#include <httplib.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "app/config.h"

namespace sentinel {

std::pair<std::string, int> parse_listen_address(const std::string& listen) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    throw UsageError("--metrics-listen expects HOST:PORT, got '" + listen + "'");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(listen.substr(colon + 1), &used);
    if (used != listen.size() - colon - 1) port = -1;
  } catch (const std::exception&) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    throw UsageError("--metrics-listen: bad port in '" + listen + "' (expected 0..65535)");
  }
  return {host, port};
}

void check_listen_address(const std::string& listen) {
  const auto [host, port] = parse_listen_address(listen);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    throw UsageError("--metrics-listen " + listen + ": " + ::gai_strerror(rc) +
                     " (use an address of this host, e.g. 0.0.0.0:" + service + ")");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  const int fd = ::socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (fd < 0) throw UsageError("--metrics-listen " + listen + ": " + std::strerror(errno));
  const int yes = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  const int rc = ::bind(fd, found->ai_addr, found->ai_addrlen);
  const int error = errno;
  ::close(fd);
  if (rc != 0) {
    throw UsageError("--metrics-listen " + listen + ": cannot bind: " + std::strerror(error) +
                     (error == EADDRINUSE ? " (another process listens there: choose a free port)"
                                          : " (choose an address and port this user may bind)"));
  }
}

MetricsServer::MetricsServer(const std::string& listen, Metrics& metrics)
    : server_(std::make_unique<httplib::Server>()) {
  const auto [host, port] = parse_listen_address(listen);
  server_->Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [&metrics](const httplib::Request&, httplib::Response& res) {
    const bool pg = metrics.pg_up.load() == 1;
    // Every assignment (an empty one too: an instance beyond the partition count gets one) and
    // revocation counts as a rebalance: after the first, the consumer is in its group.
    const bool in_group = metrics.rebalances.load() > 0;
    const int partitions = metrics.assigned_partitions.load();
    res.status = pg && in_group ? 200 : 503;
    res.set_content(std::string(pg ? "postgres: up\n" : "postgres: DOWN\n") +
                        (in_group ? "kafka: in the consumer group\n"
                                  : "kafka: not in the consumer group yet\n") +
                        "partitions assigned: " + std::to_string(partitions) + "\n",
                    "text/plain");
  });
  if (!server_->bind_to_port(host.c_str(), port)) {
    throw UsageError("--metrics-listen: cannot listen on " + listen +
                     " (another process listens there: choose a free port)");
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("metrics on http://{}/metrics", listen);
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sentinel
