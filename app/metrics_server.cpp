#include "app/metrics_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include "app/config.h"

namespace sentinel {

MetricsServer::MetricsServer(const std::string& listen, Metrics& metrics)
    : server_(std::make_unique<httplib::Server>()) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon + 1 == listen.size()) {
    throw UsageError("--metrics-listen expects HOST:PORT, got '" + listen + "'");
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  int port = 0;
  try {
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    throw UsageError("--metrics-listen: bad port in '" + listen + "'");
  }
  server_->Get("/metrics", [&metrics](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  server_->Get("/readyz", [&metrics](const httplib::Request&, httplib::Response& res) {
    const bool pg = metrics.pg_up.load() == 1;
    const bool assigned = metrics.assigned_partitions.load() > 0;
    res.status = pg && assigned ? 200 : 503;
    res.set_content(
        std::string(pg ? "postgres: up\n" : "postgres: DOWN\n") +
            (assigned ? "kafka: partitions assigned\n" : "kafka: no partitions assigned\n"),
        "text/plain");
  });
  if (!server_->bind_to_port(host.c_str(), port)) {
    throw UsageError("--metrics-listen: cannot listen on " + listen);
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("metrics on http://{}/metrics", listen);
}

MetricsServer::~MetricsServer() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace sentinel
