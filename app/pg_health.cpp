#include "app/pg_health.h"

#include <libpq-fe.h>
#include <poll.h>
#include <spdlog/spdlog.h>

#include "sinks/connection_defaults.h"
#include "sinks/pg_connection.h"

namespace sentinel {

struct PgHealthCheck::Conn {
  std::unique_ptr<PGconn, decltype(&PQfinish)> pg{nullptr, &PQfinish};
};

namespace {

using Clock = std::chrono::steady_clock;

/// Waits until the socket is readable (or writable) or `deadline`; false on timeout.
bool wait_socket(PGconn* pg, bool for_write, Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left.count() <= 0) return false;
  pollfd p{PQsocket(pg), static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

std::string error_of(PGconn* pg) {
  return redact_url(one_line(pg ? PQerrorMessage(pg) : "out of memory"));
}

}  // namespace

PgHealthCheck::PgHealthCheck(std::string pg_url, Metrics& metrics,
                             std::chrono::milliseconds interval, std::chrono::milliseconds timeout)
    : url_(with_connection_defaults(pg_url)),
      metrics_(metrics),
      interval_(interval),
      timeout_(timeout),
      conn_(std::make_unique<Conn>()),
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
  const auto deadline = Clock::now() + timeout_;
  std::string error;
  auto fail = [&](std::string message) {
    conn_->pg.reset();
    if (message != last_error_) {
      spdlog::warn("PostgreSQL health check failed: {}", message);
      last_error_ = std::move(message);
    }
    return false;
  };
  PGconn* pg = conn_->pg.get();
  if (pg == nullptr || PQstatus(pg) != CONNECTION_OK) {
    // Non-blocking connect so that an unreachable host cannot hold the thread (or shutdown).
    conn_->pg.reset(PQconnectStart(url_.c_str()));
    pg = conn_->pg.get();
    if (pg == nullptr || PQstatus(pg) == CONNECTION_BAD) return fail(error_of(pg));
    for (;;) {
      const PostgresPollingStatusType s = PQconnectPoll(pg);
      if (s == PGRES_POLLING_OK) break;
      if (s == PGRES_POLLING_FAILED) return fail(error_of(pg));
      if (!wait_socket(pg, s == PGRES_POLLING_WRITING, deadline)) {
        return fail("no answer to connect within the health-check timeout");
      }
    }
  }
  if (PQsendQuery(pg, "SELECT 1") == 0) return fail(error_of(pg));
  PQflush(pg);
  bool ok = false;
  for (;;) {
    if (PQconsumeInput(pg) == 0) return fail(error_of(pg));
    if (PQisBusy(pg) == 0) {
      PGresult* r = PQgetResult(pg);
      if (r == nullptr) break;
      ok = PQresultStatus(r) == PGRES_TUPLES_OK;
      if (!ok) error = PQresultErrorMessage(r);
      PQclear(r);
      continue;
    }
    if (!wait_socket(pg, false, deadline)) {
      return fail("no answer to SELECT 1 within the health-check timeout");
    }
  }
  if (!ok) return fail(redact_url(one_line(error)));
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
