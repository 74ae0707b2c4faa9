#include "pipeline/stored_offsets.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "sinks/offset_store.h"

namespace sentinel {

StoredOffsets::StoredOffsets(const std::string& pg_url, std::string group,
                             std::vector<std::string> topics, std::chrono::milliseconds max_backoff,
                             Metrics& metrics, Failure& failure)
    : control_(pg_url),
      group_(std::move(group)),
      topics_(std::move(topics)),
      max_backoff_(max_backoff),
      metrics_(metrics),
      failure_(failure) {}

void StoredOffsets::answered(bool ok) {
  if (ok) {
    metrics_.pg_up = 1;
    backoff_ = std::chrono::milliseconds(100);
    retry_at_ = Clock::now();
    return;
  }
  connection_lost_ = true;
  retry_at_ = Clock::now() + backoff_;
  // Capped lower than the writers' backoff: after an outage the stored offsets must be checked
  // within seconds of the server answering (each try costs the loop at most kControlTimeout).
  backoff_ = std::min({backoff_ * 2, max_backoff_, kControlMaxBackoff});
}

void StoredOffsets::failed(const PgError& e) {
  control_.close();
  answered(false);
  if (e.configuration()) failure_.configuration(e);
}

void StoredOffsets::retry_later() {
  retry_at_ = Clock::now() + backoff_;
  backoff_ = std::min(backoff_ * 2, max_backoff_);
}

std::optional<std::map<PartitionKey, int64_t>> StoredOffsets::load(
    const std::vector<PartitionKey>& keys) {
  try {
    auto stored = load_offsets_within(control_, group_, topics_, keys, kControlTimeout, stop_);
    answered(true);
    return stored;
  } catch (const PgError& e) {
    metrics_.pg_up = 0;
    failed(e);
    if (!e.configuration()) {
      spdlog::warn("loading stored offsets: {}; those partitions stay paused until it works",
                   e.what());
    }
    return std::nullopt;
  }
}

bool StoredOffsets::check_due() const {
  const auto now = Clock::now();
  return now >= retry_at_ && (connection_lost_.load() || now >= next_check_);
}

std::optional<std::map<PartitionKey, int64_t>> StoredOffsets::check(
    const std::vector<PartitionKey>& keys) {
  connection_lost_ = false;
  std::string identity;
  std::map<PartitionKey, int64_t> stored;
  try {
    identity = server_identity(control_, kControlTimeout, stop_);
    stored = load_offsets_within(control_, group_, topics_, keys, kControlTimeout, stop_);
    answered(true);
  } catch (const PgError& e) {
    failed(e);  // and connection_lost_ again: check as soon as it answers
    if (!e.configuration()) spdlog::debug("checking the stored offsets: {}", e.what());
    return std::nullopt;
  }
  next_check_ = Clock::now() + kProgressCheckInterval;
  if (!identity.empty() && identity != server_identity_) {
    if (!server_identity_.empty()) {
      spdlog::warn("PostgreSQL is another server now ({}; was {}): checked the stored offsets",
                   identity, server_identity_);
    }
    server_identity_ = identity;
  }
  return stored;
}

}  // namespace sentinel
