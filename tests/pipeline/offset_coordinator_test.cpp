// The offset coordinator on its own: epochs, fences and commits as plain values (no Kafka, no
// PostgreSQL). What these pin is what the database and Kafka's lag tools get to see.
#include "pipeline/offset_coordinator.h"

#include <gtest/gtest.h>

#include <vector>

namespace sentinel {
namespace {

const PartitionKey kKey{0, 3};

struct Coordinator {
  std::vector<PartitionKey> closed;  ///< partitions the builder was told to close
  OffsetCoordinator offsets{[this](const PartitionKey& key) { closed.push_back(key); }};

  /// Assigned and started at `from` (as when PostgreSQL answered at once); returns its epoch.
  uint64_t own(const PartitionKey& key, int64_t from) {
    offsets.assign(key);
    return offsets.start(key, from);
  }
};

Chunk chunk_of(const PartitionKey& key, uint64_t epoch) {
  Chunk c;
  c.topic_index = key.first;
  c.partition = key.second;
  c.epoch = epoch;
  return c;
}

std::vector<int64_t> offsets_of(const std::vector<TopicPartition>& list) {
  std::vector<int64_t> out;
  for (const auto& tp : list) out.push_back(tp.offset);
  return out;
}

// A writer whose compare-and-set failed reports a fence: from then on the chunks built under the
// old epoch are stale (dropped by the writers), nothing is built until the stored offset is read
// again, and the new epoch does not revive them.
TEST(OffsetCoordinator, AFencedPartitionsOldEpochIsStaleAndStaysStale) {
  Coordinator c;
  const uint64_t old_epoch = c.own(kKey, 100);
  const Chunk old_chunk = chunk_of(kKey, old_epoch);
  EXPECT_TRUE(c.offsets.is_current(old_chunk));

  c.offsets.request_fence({kKey});
  c.offsets.handle_fences();
  EXPECT_FALSE(c.offsets.is_current(old_chunk));
  ASSERT_TRUE(c.offsets.pending(kKey));
  EXPECT_EQ(c.offsets.pending().at(kKey), Pending::kFenced);
  EXPECT_EQ(c.closed, std::vector<PartitionKey>{kKey}) << "the builder must stop building it";

  const uint64_t new_epoch = c.offsets.start(kKey, 150);
  EXPECT_NE(new_epoch, old_epoch);
  EXPECT_FALSE(c.offsets.is_current(old_chunk));
  EXPECT_TRUE(c.offsets.is_current(chunk_of(kKey, new_epoch)));
}

// A batch of the old epoch reported after its partition was fenced and restarted from the stored
// offset: its offset never reaches Kafka, not even one past the restart, and what is believed
// committed is the stored offset read.
TEST(OffsetCoordinator, AStaleWriterEpochsOffsetsAreNeverCommitted) {
  Coordinator c;
  const uint64_t old_epoch = c.own(kKey, 100);
  c.offsets.request_fence({kKey});
  c.offsets.batch_committed({{kKey, old_epoch, 200}});
  c.offsets.handle_fences();
  c.offsets.take_pending();
  c.offsets.start(kKey, 150);
  EXPECT_TRUE(c.offsets.take_commits().empty());
  EXPECT_EQ(c.offsets.committed().at(kKey), 150);
}

// Kafka's committed offset, and the lag computed from it, only ever move forward through
// commits: an older batch's report arriving late does not move them back.
TEST(OffsetCoordinator, CommitsNeverGoBackwards) {
  Coordinator c;
  const uint64_t epoch = c.own(kKey, 100);
  c.offsets.batch_committed({{kKey, epoch, 300}});
  EXPECT_EQ(offsets_of(c.offsets.take_commits()), std::vector<int64_t>{300});
  c.offsets.batch_committed({{kKey, epoch, 200}});
  EXPECT_TRUE(c.offsets.take_commits().empty());
  EXPECT_EQ(c.offsets.committed().at(kKey), 300);
}

// A partition's committed offset advances past a batch only once that batch committed; a start
// with nothing stored believes nothing committed.
TEST(OffsetCoordinator, OffsetsAdvancePastABatchOnlyAfterItCommitted) {
  Coordinator c;
  const uint64_t epoch = c.own(kKey, 100);
  EXPECT_EQ(c.offsets.committed().at(kKey), 100);
  EXPECT_TRUE(c.offsets.take_commits().empty()) << "nothing written yet";
  c.offsets.batch_committed({{kKey, epoch, 250}});
  const auto commits = c.offsets.take_commits();
  ASSERT_EQ(commits.size(), 1u);
  EXPECT_EQ(commits[0].topic_index, kKey.first);
  EXPECT_EQ(commits[0].partition, kKey.second);
  EXPECT_EQ(commits[0].offset, 250);
  EXPECT_EQ(c.offsets.committed().at(kKey), 250);

  const PartitionKey fresh{1, 0};
  c.own(fresh, Chunk::kNoStoredOffset);
  EXPECT_FALSE(c.offsets.committed().contains(fresh));
}

// A revoked partition is somebody else's: its chunks are stale and a batch of it that committed
// meanwhile is not committed to Kafka by this member.
TEST(OffsetCoordinator, ARevokedPartitionsChunksAndOffsetsAreDropped) {
  Coordinator c;
  const uint64_t epoch = c.own(kKey, 100);
  c.offsets.batch_committed({{kKey, epoch, 200}});
  c.offsets.revoke(kKey);
  EXPECT_FALSE(c.offsets.is_current(chunk_of(kKey, epoch)));
  EXPECT_TRUE(c.offsets.take_commits().empty());
  EXPECT_FALSE(c.offsets.assigned(kKey));
}

// The database holds less than was committed (failover to a standby that was behind): that
// partition goes back to pending to be ingested again from what the database holds; a database
// that holds as much or more is fine.
TEST(OffsetCoordinator, APartitionTheDatabaseHoldsLessOfGoesBackToPending) {
  Coordinator c;
  const PartitionKey ahead{0, 1}, same{0, 2}, behind{0, 3}, missing{0, 4};
  for (const auto& key : {ahead, same, behind, missing}) c.own(key, 100);
  const auto believed = c.offsets.committed();
  const std::map<PartitionKey, int64_t> stored = {{ahead, 120}, {same, 100}, {behind, 90}};
  const auto result = c.offsets.mark_behind({ahead, same, behind, missing}, believed, stored);
  ASSERT_EQ(result.size(), 2u);
  EXPECT_EQ(result[0].key, behind);
  EXPECT_EQ(result[0].committed, 100);
  EXPECT_EQ(result[0].stored, 90);
  EXPECT_EQ(result[1].key, missing);
  EXPECT_FALSE(result[1].stored.has_value());
  EXPECT_FALSE(c.offsets.pending(ahead));
  EXPECT_FALSE(c.offsets.pending(same));
  EXPECT_EQ(c.offsets.pending().at(behind), Pending::kBehind);
  EXPECT_EQ(c.offsets.pending().at(missing), Pending::kBehind);
}

}  // namespace
}  // namespace sentinel
