#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "rows/chunk.h"
#include "rows/copy_encoder.h"
#include "rows/gather.h"
#include "rows/payload_source.h"
#include "sinks/pg_connection.h"
#include "sinks/rollup_upsert.h"

namespace sentinel {

/// What one committed batch stored.
struct BatchResult {
  std::vector<uint64_t> rows;  ///< by event type (catalog index); sized by the catalog
  std::array<uint64_t, kRejectReasonCount> rejects{};
  uint64_t messages = 0;            ///< Kafka messages covered by the committed offsets
  uint32_t bisections = 0;          ///< COPY attempts made to isolate refused rows
  uint32_t partitions_ensured = 0;  ///< month partitions checked or created before COPY
  /// Partitions whose stored offset did not match the batch (another writer or instance moved
  /// it, or a chunk was stale): their chunks were left out. The caller reloads and seeks.
  std::vector<std::pair<int, int32_t>> fenced;  ///< (topic index, partition)
  /// True when this result includes an earlier call's COMMIT whose reply was lost and which was
  /// found to have landed (its commit token is stored): its rows are counted here, once, and
  /// were not written again.
  bool recovered_lost_commit = false;
  /// Committed offsets: (topic index, partition, next offset).
  struct Offset {
    int topic_index;
    int32_t partition;
    int64_t next_offset;
  };
  std::vector<Offset> offsets;
};

/// A row of a batch that is not stored: PostgreSQL refused it (isolated by bisection), or its
/// deltas do not fit in its rollup rows.
struct RefusedRow {
  RowPos pos;
  std::string message;
  std::optional<std::string> payload;  ///< read again from Kafka
};

/// What a batch's transaction records besides its rows and rollups. Without one, BatchWriter
/// records the Kafka offsets (compare-and-set) and the rejects, as `run` does; `rejects replay`
/// records the replayed rejects' new state instead (sinks/reject_replayer.h).
class BatchLedger {
 public:
  virtual ~BatchLedger() = default;
  /// Runs in the batch's open transaction, after its rows and rollups, before COMMIT. `refused`
  /// are the rows left out. Returns what was fenced, as (topic index, partition) pairs: the
  /// transaction is rolled back and write() goes on without their chunks. Empty: it commits.
  virtual std::vector<std::pair<int, int32_t>> record(PgConnection& conn,
                                                      std::span<Chunk* const> chunks,
                                                      std::span<const RefusedRow> refused) = 0;
};

/// Stores batches of chunks in PostgreSQL, one transaction per batch (architecture.md §1, §4, §5):
/// binary COPY of each event table and of the rejects, the rollup upserts (sinks/rollup_upsert.h:
/// `costs` and every other rollup table of the catalog's types), and the compare-and-set
/// of the offsets, then COMMIT.
///
/// Rows PostgreSQL refuses (SQLSTATE classes 22, 23) are isolated by bisection under savepoints
/// and stored as `db_rejected` rejects, their payloads read again from Kafka; missing month
/// partitions are created through sentinel_ensure_month_partition outside the data transaction.
/// A row whose deltas cannot be added to its rollup rows (a sum or count past what its column
/// holds, e.g. an invocation's cost in `costs`) is isolated
/// the same way: it becomes a `db_rejected` reject and the rest of the batch commits.
///
/// A call either commits or throws a PgError; because offsets are compared-and-set, calling
/// write() again with the same chunks after any failure can never store a row twice. Every
/// attempt stores a unique commit token with its offsets: when a COMMIT's outcome is unknown (its
/// reply was lost), the next write() looks for that token (before writing, and again once its
/// compare-and-set has waited for that COMMIT to finish) and, if the commit landed, returns that
/// attempt's result instead of reporting its partitions as fenced.
///
/// One BatchWriter per writer thread: it owns its connection. Not thread-safe.
class BatchWriter {
 public:
  /// `catalog` says each chunk's type: its table and COPY columns. `topics` names each topic
  /// index of the chunks. `payloads` reads the raw payloads of rows PostgreSQL refuses (chunks do
  /// not keep them); without one, such a reject's payload is NULL. It must outlive the writer.
  /// With a `ledger`, it records each batch instead of the offsets and rejects (no payload
  /// source, no commit token: the ledger's own compare-and-set makes a retry safe).
  BatchWriter(const std::string& pg_url, std::string consumer_group,
              std::vector<std::string> topics, std::shared_ptr<const Catalog> catalog,
              PayloadSource* payloads = nullptr, BatchLedger* ledger = nullptr);

  /// Commits the chunks (in Kafka order per partition). Reconnects first if needed. Throws PgError,
  /// or PayloadUnavailable when refused rows' payloads cannot be read (nothing is committed).
  BatchResult write(std::span<Chunk* const> chunks);

  PgConnection& connection() { return conn_; }

  /// Tests only: runs right after COMMIT is sent and before its reply is read (e.g. to cut the
  /// connection so that the reply is lost while the commit lands).
  void set_after_commit_sent_for_testing(std::function<void(PGconn*)> hook) {
    after_commit_sent_ = std::move(hook);
  }

 private:
  using Refused = RefusedRow;

  /// How the last attempt failed, when that matters to write().
  enum class Failure { kOther, kRollupOverflow, kCommitUnknown };
  /// An attempt whose COMMIT was sent but whose outcome is unknown.
  struct PendingCommit {
    std::string token;
    BatchResult result;                                       ///< what it stored, if it landed
    std::map<std::pair<int, int32_t>, int64_t> next_offsets;  ///< its partitions' new offsets
  };

  /// Makes sure the month partitions the chunks' rows and rejects go to exist (ingest_rejects:
  /// the months of their rejected_at, and this month for rows PostgreSQL may refuse).
  void ensure_partitions(std::span<Chunk* const> chunks, BatchResult& result);
  /// known_partitions_' key of ingest_rejects (an event type's is its catalog index).
  static constexpr int kRejectsKey = -1;
  void ensure_partition(int type, int32_t month, BatchResult& result);
  /// Whether the pending commit's token is in ingest_offsets (that COMMIT landed).
  bool pending_commit_landed();
  /// Forgets the pending commit, which landed: drops the chunks it stored from `live` and
  /// returns its result.
  BatchResult take_pending(std::vector<Chunk*>& live);
  static void merge_into(BatchResult& into, const BatchResult& from);
  /// One attempt at the whole transaction. Returns false when some partitions were fenced (they
  /// are added to result.fenced and the transaction rolled back). `isolate_rollups`: first find
  /// the rows whose deltas cannot be added to their rollup tables and refuse them.
  bool attempt(std::span<Chunk* const> chunks, bool bisect, bool isolate_rollups,
               BatchResult& result);
  /// What the transaction records besides its rows: the ledger's record, or the offsets'
  /// compare-and-set with a new commit token. Returns what was fenced.
  std::vector<std::pair<int, int32_t>> record(std::span<Chunk* const> chunks,
                                              std::span<const Refused> refused,
                                              BatchResult& result);
  /// Adds what the chunks store, less the refused rows, to `result`.
  static void count_stored(std::span<Chunk* const> chunks, std::span<const Refused> refused,
                           BatchResult& result);
  void commit();
  /// Adds to `refused` the rows whose deltas would take a rollup row past what its columns hold:
  /// rows in (partition_by, partition, offset) order are added to the stored rollup rows until
  /// one cannot be; that one is refused (none of its deltas added), the next ones are tried.
  void refuse_overflowing_rollups(std::span<Chunk* const> chunks, std::vector<Refused>& refused);
  /// What the rollup rows of `deltas` hold now, and the most their columns can hold.
  RollupRoom load_rollup_room(const RollupDeltas& deltas);
  void copy_table(std::span<Chunk* const> chunks, int type, bool bisect,
                  std::vector<Refused>& refused, BatchResult& result);
  /// The type's rows of the batch, sorted by (tenant_id, ts). Valid until the next call.
  const std::vector<RowPos>& index_order(std::span<Chunk* const> chunks, int type);
  void copy_rows(std::span<Chunk* const> chunks, int type, std::span<const RowPos> rows);
  void bisect(std::span<Chunk* const> chunks, int type, std::span<const RowPos> rows,
              std::vector<Refused>& refused, BatchResult& result);
  /// An empty result, its per-type counts sized by the catalog.
  BatchResult empty_result() const;
  void read_payloads(std::span<Chunk* const> chunks, std::vector<Refused>& refused);
  void copy_rejects(std::span<Chunk* const> chunks, const std::vector<Refused>& refused);
  /// Upserts every rollup table of the batch's types, in table-name order, refused rows left out.
  void upsert_rollups(std::span<Chunk* const> chunks, const std::vector<Refused>& refused);
  /// Returns the (topic, partition) pairs whose compare-and-set failed.
  std::vector<std::pair<int, int32_t>> store_offsets(std::span<Chunk* const> chunks,
                                                     const std::string& token, BatchResult& result);

  PgConnection conn_;
  PayloadSource* payloads_;
  BatchLedger* ledger_;
  std::string consumer_group_;
  std::vector<std::string> topics_;
  std::shared_ptr<const Catalog> catalog_;
  std::set<std::pair<int, int32_t>> known_partitions_;  ///< (type or kRejectsKey, month)
  std::vector<std::string> copy_sql_;                   ///< by type
  std::string rejects_copy_sql_;
  uint64_t token_prefix_;  ///< random, per writer
  uint64_t attempts_ = 0;  ///< numbers this writer's attempts
  std::string token_;      ///< the current attempt's commit token
  Failure failure_ = Failure::kOther;
  std::optional<PendingCommit> pending_;
  std::function<void(PGconn*)> after_commit_sent_;
  // Reused per batch.
  struct KeyedRow {
    uint32_t tenant;  ///< its number, then its rank in the batch's tenants
    uint64_t ts;      ///< as EventTupleKey::ts
    RowPos pos;
  };
  std::vector<KeyedRow> keyed_rows_;
  std::unordered_map<std::string_view, uint32_t> tenant_numbers_;
  std::vector<std::pair<std::string_view, uint32_t>> tenants_;
  std::vector<uint32_t> tenant_rank_;
  std::vector<RowPos> ordered_rows_;
  std::vector<RowPos> kept_rows_;
  std::string send_buffer_;
};

/// Keeps, for each partition, only the newest run of chunks whose offsets chain (from_offset of
/// one == next_offset of the one before); older chunks are stale and returned for disposal.
/// `chunks` is reordered in place: kept ones first (in their original order); returns how many.
size_t keep_chained(std::vector<Chunk*>& chunks);

}  // namespace sentinel
