#pragma once

#include <memory>
#include <string>
#include <thread>

#include "pipeline/metrics.h"

namespace httplib {
class Server;
}

namespace sentinel {

/// Serves /metrics (Prometheus text), /healthz (the process is alive) and /readyz (PostgreSQL
/// reachable and partitions assigned) on HOST:PORT, from its own thread.
class MetricsServer {
 public:
  /// Throws UsageError when `listen` is not HOST:PORT or the port cannot be bound.
  MetricsServer(const std::string& listen, Metrics& metrics);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace sentinel
