#include "pipeline/offset_coordinator.h"

#include <algorithm>

namespace sentinel {

OffsetCoordinator::OffsetCoordinator(std::function<void(const PartitionKey&)> close_partition)
    : close_partition_(std::move(close_partition)) {}

uint64_t OffsetCoordinator::start(const PartitionKey& key, int64_t from) {
  const uint64_t epoch = next_epoch_++;
  {
    std::lock_guard lock(epochs_mutex_);
    epochs_[key] = epoch;
  }
  if (from >= 0) {
    committed_[key] = from;
  } else {
    committed_.erase(key);
  }
  return epoch;
}

void OffsetCoordinator::make_pending(const PartitionKey& key, Pending why) {
  {
    std::lock_guard lock(epochs_mutex_);
    epochs_.erase(key);  // queued chunks of the old epoch are dropped by the writers
  }
  close_partition_(key);
  pending_[key] = why;
}

void OffsetCoordinator::revoke(const PartitionKey& key) {
  {
    std::lock_guard lock(epochs_mutex_);
    epochs_.erase(key);  // queued chunks of this partition are now stale
  }
  close_partition_(key);
  assigned_.erase(key);
  pending_.erase(key);
  committed_.erase(key);
}

void OffsetCoordinator::handle_fences() {
  std::vector<PartitionKey> requests;
  {
    std::lock_guard lock(fence_mutex_);
    requests.swap(fence_requests_);
  }
  std::sort(requests.begin(), requests.end());
  requests.erase(std::unique(requests.begin(), requests.end()), requests.end());
  // Queued chunks of the old epoch are dropped by the writers and nothing is built until the
  // stored offset is read again.
  for (const PartitionKey& key : requests) {
    if (assigned_.contains(key)) make_pending(key, Pending::kFenced);
  }
}

std::vector<TopicPartition> OffsetCoordinator::take_commits() {
  std::map<PartitionKey, std::pair<int64_t, uint64_t>> taken;
  {
    std::lock_guard lock(commit_mutex_);
    taken.swap(to_commit_);
  }
  std::vector<TopicPartition> list;
  std::lock_guard lock(epochs_mutex_);
  for (const auto& [key, committed] : taken) {
    const auto [next, epoch] = committed;
    // Written under an epoch that has ended (fenced, behind, revoked): the partition was started
    // again from what the database holds, which already counts this batch if it landed.
    const auto e = epochs_.find(key);
    if (!assigned_.contains(key) || e == epochs_.end() || e->second != epoch) continue;
    const auto c = committed_.find(key);
    if (c != committed_.end() && c->second >= next) continue;
    committed_[key] = next;
    list.push_back({key.first, key.second, next});
  }
  return list;
}

std::vector<BehindPartition> OffsetCoordinator::mark_behind(
    const std::vector<PartitionKey>& keys, const std::map<PartitionKey, int64_t>& believed,
    const std::map<PartitionKey, int64_t>& stored) {
  std::vector<BehindPartition> behind;
  for (const PartitionKey& key : keys) {
    const auto b = believed.find(key);
    if (b == believed.end() || pending_.contains(key) || !assigned_.contains(key)) continue;
    const auto st = stored.find(key);
    if (st != stored.end() && st->second >= b->second) continue;
    behind.push_back(
        {key, b->second, st == stored.end() ? std::nullopt : std::optional<int64_t>(st->second)});
    make_pending(key, Pending::kBehind);
  }
  return behind;
}

bool OffsetCoordinator::is_current(const Chunk& chunk) const {
  std::lock_guard lock(epochs_mutex_);
  const auto it = epochs_.find({chunk.topic_index, chunk.partition});
  return it != epochs_.end() && it->second == chunk.epoch;
}

void OffsetCoordinator::request_fence(const std::vector<PartitionKey>& keys) {
  std::lock_guard lock(fence_mutex_);
  fence_requests_.insert(fence_requests_.end(), keys.begin(), keys.end());
}

void OffsetCoordinator::batch_committed(const std::vector<CommittedOffset>& offsets) {
  std::lock_guard lock(commit_mutex_);
  for (const auto& o : offsets) to_commit_[o.key] = {o.next_offset, o.epoch};
}

}  // namespace sentinel
