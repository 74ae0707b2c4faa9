#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "ingest/kafka_consumer.h"
#include "rows/chunk.h"

namespace sentinel {

using PartitionKey = std::pair<int, int32_t>;  ///< (topic index, partition)

/// Why a partition waits for its stored offset to be read (and a seek there) before anything
/// is built for it.
enum class Pending {
  kAssigned,    ///< just assigned while PostgreSQL did not answer
  kFenced,      ///< a writer's compare-and-set failed: another instance moved it
  kBehind,      ///< the database holds less than was committed (failover, restore)
  kSeekFailed,  ///< the seek to the stored offset did not happen
  kGapAtStart,  ///< the first message came past the stored offset: seek there again
};

/// A writer committed a batch to PostgreSQL: the partition's next offset, under its epoch.
struct CommittedOffset {
  PartitionKey key;
  uint64_t epoch = 0;
  int64_t next_offset = 0;
};

/// A partition the database holds less of than this instance committed (check_progress).
struct BehindPartition {
  PartitionKey key;
  int64_t committed = 0;
  std::optional<int64_t> stored;  ///< unset: the database holds no offset for it
};

/// Who owns which partition at which epoch, and which offsets are committed (architecture.md §4).
///
/// Every start of a partition (assignment, or a return from pending) opens a new epoch; chunks
/// built under an older one are stale, and writers drop them. A partition sent to pending (fenced
/// by a writer's compare-and-set, behind the database, refused start, failed seek) has no epoch
/// until its stored offset is read again. Offsets a writer committed reach Kafka (and
/// committed()) only if their epoch is still the partition's, and never move backwards.
///
/// Plain values in and out; the consumer thread owns everything but is_current(),
/// request_fence() and batch_committed(), which the writers call.
class OffsetCoordinator {
 public:
  /// `close_partition` is called on the consumer thread when a partition's epoch ends: nothing
  /// more may be built for it (the chunk builder closes it).
  explicit OffsetCoordinator(std::function<void(const PartitionKey&)> close_partition);

  // Consumer thread.
  /// The partition is ours (not started yet: start() or make_pending() follows).
  void assign(const PartitionKey& key) { assigned_[key] = false; }
  /// Starts a new epoch at the stored offset `from` (Chunk::kNoStoredOffset: nothing stored),
  /// which is then what the database is believed to hold. Returns the epoch.
  uint64_t start(const PartitionKey& key, int64_t from);
  /// Ends the partition's epoch (its queued chunks become stale) until it is started again.
  void make_pending(const PartitionKey& key, Pending why);
  /// The partition is no longer ours: forgotten, its chunks stale.
  void revoke(const PartitionKey& key);
  bool assigned(const PartitionKey& key) const { return assigned_.contains(key); }
  bool pending(const PartitionKey& key) const { return pending_.contains(key); }
  const std::map<PartitionKey, Pending>& pending() const { return pending_; }
  /// Takes the pending partitions, to start (or make pending again) each of them.
  std::map<PartitionKey, Pending> take_pending() { return std::exchange(pending_, {}); }
  /// Assigned partitions and whether their fetch is paused (kept by the consumer loop).
  std::map<PartitionKey, bool>& assigned_paused() { return assigned_; }
  size_t assigned_count() const { return assigned_.size(); }
  /// Sends each fenced partition a writer reported (and still owned) to pending.
  void handle_fences();
  /// The offsets committed since the last call, for Kafka: only of partitions still owned at
  /// the epoch they were written under, and only those past what was committed before.
  std::vector<TopicPartition> take_commits();
  /// Per partition the next offset the database is believed to hold (absent: nothing).
  const std::map<PartitionKey, int64_t>& committed() const { return committed_; }
  /// Compares what was believed committed (`believed`, taken before the read) with what the
  /// database holds (`stored`) for `keys`: each one it holds less of goes to pending (kBehind),
  /// and is returned.
  std::vector<BehindPartition> mark_behind(const std::vector<PartitionKey>& keys,
                                           const std::map<PartitionKey, int64_t>& believed,
                                           const std::map<PartitionKey, int64_t>& stored);

  // Writer threads.
  /// Whether the chunk was built under its partition's current epoch.
  bool is_current(const Chunk& chunk) const;
  /// The writer's compare-and-set failed for these partitions.
  void request_fence(const std::vector<PartitionKey>& keys);
  /// A batch committed to PostgreSQL up to these offsets.
  void batch_committed(const std::vector<CommittedOffset>& offsets);

 private:
  std::function<void(const PartitionKey&)> close_partition_;
  // Consumer thread only.
  std::map<PartitionKey, bool> assigned_;  ///< owned partitions → paused
  /// Owned partitions whose stored offset is not known yet, or whose seek there has not
  /// happened: kept paused, nothing built for them, retried from the poll loop with backoff.
  std::map<PartitionKey, Pending> pending_;
  std::map<PartitionKey, int64_t> committed_;
  uint64_t next_epoch_ = 1;

  mutable std::mutex epochs_mutex_;
  std::map<PartitionKey, uint64_t> epochs_;  ///< started partitions and their current epoch
  std::mutex fence_mutex_;
  std::vector<PartitionKey> fence_requests_;
  std::mutex commit_mutex_;
  /// Committed to PostgreSQL, not yet taken for Kafka: next offset and its epoch.
  std::map<PartitionKey, std::pair<int64_t, uint64_t>> to_commit_;
};

}  // namespace sentinel
