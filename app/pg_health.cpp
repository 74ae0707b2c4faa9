#include "app/pg_health.h"

#include <spdlog/spdlog.h>

#include "sinks/pg_connection.h"

namespace sentinel {

// The health thread reuses the COPY path's bounded calls (connect_within, exec_params_within)
// rather than libpqxx: libpqxx 6 can bound neither connecting nor waiting for an answer, and an
// unbounded wait on a hung server would hold this thread, and with it shutdown (D11). Its
// connections also get the same check as the writers': client_encoding must really be UTF8.
struct PgHealthCheck::Conn {
  explicit Conn(const std::string& url) : pg(url) {}
  PgConnection pg;
};

PgHealthCheck::PgHealthCheck(std::string pg_url, Metrics& metrics,
                             std::chrono::milliseconds interval, std::chrono::milliseconds timeout)
    : url_(std::move(pg_url)),
      metrics_(metrics),
      interval_(interval),
      timeout_(timeout),
      conn_(std::make_unique<Conn>(url_)),
      thread_([this] { loop(); }) {}

PgHealthCheck::~PgHealthCheck() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

bool PgHealthCheck::ping() {
  try {
    // Connects first when needed; connecting and the answer share the one deadline. A timeout
    // closes the connection, so the next ping starts afresh.
    conn_->pg.exec_params_within("SELECT 1", {}, timeout_);
  } catch (const PgError& e) {
    conn_->pg.close();
    if (e.what() != last_error_) {
      spdlog::warn("PostgreSQL health check failed: {}", e.what());
      last_error_ = e.what();
    }
    return false;
  }
  if (!last_error_.empty()) {
    spdlog::info("PostgreSQL health check: reachable again");
    last_error_.clear();
  }
  return true;
}

void PgHealthCheck::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    metrics_.pg_up = ping() ? 1 : 0;
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace sentinel
