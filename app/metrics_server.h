#pragma once

#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "pipeline/metrics.h"

namespace httplib {
class Server;
}

namespace sentinel {

/// HOST:PORT of --metrics-listen as a host to bind ("" and "[::1]" as 0.0.0.0 and ::1) and a
/// port; throws UsageError naming the fix when it is not that.
std::pair<std::string, int> parse_listen_address(const std::string& listen);

/// Binds and releases HOST:PORT as the server would (SO_REUSEADDR); throws UsageError naming the
/// fix when it cannot (in use, no such address, a privileged port): `run` and `validate` find out
/// before any network wait.
void check_listen_address(const std::string& listen);

/// Serves /metrics (Prometheus text), /healthz (the process is alive) and /readyz (able to work:
/// PostgreSQL reachable and the consumer in its group; the partitions it holds are reported, not
/// required, as an instance beyond the partition count holds none) on HOST:PORT, from its own
/// thread. Started before anything waits for PostgreSQL, so /healthz answers from the first
/// second.
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
