#include "sinks/batch_writer.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <map>
#include <random>
#include <tuple>
#include <unordered_map>

#include "rows/month.h"

namespace sentinel {
namespace {

// A refused row's reject detail: the server's message, and the table, column and constraint it
// named, so that the detail says which field was refused whatever the message language.
std::string refusal_detail(const PgError& e) {
  std::string out = e.what();
  const PgErrorFields& f = e.fields();
  std::string named;
  const auto add = [&](std::string_view what, const std::string& value) {
    if (value.empty()) return;
    named += named.empty() ? "" : ", ";
    named += what;
    named += ' ';
    named += value;
  };
  add("table", f.table);
  add("column", f.column);
  add("constraint", f.constraint);
  add("type", f.datatype);
  if (!named.empty()) out += " [" + named + "]";
  if (!f.context.empty()) {
    std::string where = f.context;
    std::replace(where.begin(), where.end(), '\n', ';');
    out += " (where: " + where + ")";
  }
  return out;
}

}  // namespace

size_t keep_chained(std::vector<Chunk*>& chunks) {
  // Walk backwards: a chunk is kept if no newer chunk of its partition was dropped and it chains
  // into the oldest kept chunk of its partition.
  std::map<std::pair<int, int32_t>, const Chunk*> oldest_kept;
  std::set<std::pair<int, int32_t>> broken;
  std::vector<bool> keep(chunks.size(), false);
  for (size_t i = chunks.size(); i-- > 0;) {
    const Chunk* c = chunks[i];
    const auto key = std::make_pair(c->topic_index, c->partition);
    if (broken.contains(key)) continue;
    auto it = oldest_kept.find(key);
    if (it != oldest_kept.end() && it->second->from_offset != c->next_offset) {
      broken.insert(key);
      continue;
    }
    oldest_kept[key] = c;
    keep[i] = true;
  }
  std::vector<Chunk*> kept, dropped;
  for (size_t i = 0; i < chunks.size(); ++i) (keep[i] ? kept : dropped).push_back(chunks[i]);
  const size_t n = kept.size();
  kept.insert(kept.end(), dropped.begin(), dropped.end());
  chunks = std::move(kept);
  return n;
}

BatchWriter::BatchWriter(const std::string& pg_url, std::string consumer_group,
                         std::vector<std::string> topics, std::shared_ptr<const Catalog> catalog,
                         PayloadSource* payloads, BatchLedger* ledger)
    : conn_(pg_url),
      payloads_(payloads),
      ledger_(ledger),
      consumer_group_(std::move(consumer_group)),
      topics_(std::move(topics)),
      catalog_(std::move(catalog)) {
  for (const EventType& type : catalog_->types()) {
    copy_sql_.push_back(fmt::format("COPY public.{} ({}) FROM STDIN (FORMAT binary)", type.table,
                                    type.copy_columns()));
  }
  rejects_copy_sql_ =
      fmt::format("COPY public.{} ({}) FROM STDIN (FORMAT binary)", kRejectsTable, kRejectsColumns);
  std::random_device random;
  token_prefix_ = (uint64_t{random()} << 32) ^ random();
}

// One retry loop: each way a transaction fails (a lost COMMIT reply, a cost overflow, a missing
// partition, a refused row, fenced partitions) changes the state the next attempt runs with, and
// reading them in one place shows which combination each attempt can meet.
// NOLINTNEXTLINE(readability-function-size)
BatchResult BatchWriter::write(std::span<Chunk* const> input) {
  if (!conn_.connected()) conn_.connect();
  std::vector<Chunk*> live(input.begin(), input.end());
  // The result of an earlier call's COMMIT whose reply was lost and which did land.
  std::optional<BatchResult> recovered;
  // Cheap first look; "not there" is not final yet: that COMMIT may still be running on the
  // server (the compare-and-set below waits for it).
  if (pending_ && pending_commit_landed()) recovered = take_pending(live);
  std::vector<std::pair<int, int32_t>> fenced;
  bool bisect = false;
  bool isolate_rollups = false;
  int partition_retries = 0;
  int overflow_retries = 0;
  BatchResult result = empty_result();
  ensure_partitions(live, result);
  for (;;) {
    const uint32_t ensured = result.partitions_ensured;
    result = empty_result();
    result.partitions_ensured = ensured;
    failure_ = Failure::kOther;
    try {
      if (live.empty()) break;
      if (attempt(live, bisect, isolate_rollups, result)) {
        // Stored without a fence: an earlier COMMIT with an unknown outcome did not land (it
        // would have moved these offsets).
        pending_.reset();
        break;
      }
    } catch (const PgError& e) {
      if (failure_ == Failure::kCommitUnknown && ledger_ == nullptr) {
        // The COMMIT may have landed: remember what it stored, the next call finds out.
        PendingCommit pending{token_, result, {}};
        pending.result.fenced = fenced;
        if (recovered) merge_into(pending.result, *recovered);
        for (const BatchResult::Offset& o : result.offsets) {
          pending.next_offsets[{o.topic_index, o.partition}] = o.next_offset;
        }
        pending_ = std::move(pending);
        throw;
      }
      // A sum that does not fit in a rollup table: find the rows that overflow and refuse them
      // (a few tries: another writer may be adding to the same rows meanwhile).
      if (failure_ == Failure::kRollupOverflow && ++overflow_retries <= 3) {
        isolate_rollups = true;
        continue;
      }
      if (e.missing_partition() && ++partition_retries <= 3) {
        known_partitions_.clear();
        ensure_partitions(live, result);
        continue;
      }
      if (e.row_refused() && !bisect) {
        bisect = true;
        continue;
      }
      throw;
    }
    // Some partitions were fenced. If an earlier COMMIT of ours had an unknown outcome, the
    // compare-and-set has waited for it to finish: its token says whether it is what moved them.
    if (pending_) {
      if (pending_commit_landed()) {
        recovered = take_pending(live);
        continue;
      }
      pending_.reset();
    }
    // Moved by someone else: store the others, leave those out.
    fenced.insert(fenced.end(), result.fenced.begin(), result.fenced.end());
    std::erase_if(live, [&](const Chunk* c) {
      return std::find(result.fenced.begin(), result.fenced.end(),
                       std::make_pair(c->topic_index, c->partition)) != result.fenced.end();
    });
  }
  result.fenced.insert(result.fenced.end(), fenced.begin(), fenced.end());
  if (recovered) merge_into(result, *recovered);
  return result;
}

BatchResult BatchWriter::empty_result() const {
  BatchResult r;
  r.rows.assign(catalog_->size(), 0);
  return r;
}

void BatchWriter::merge_into(BatchResult& into, const BatchResult& from) {
  if (into.rows.size() < from.rows.size()) into.rows.resize(from.rows.size());
  for (size_t t = 0; t < from.rows.size(); ++t) into.rows[t] += from.rows[t];
  for (int r = 0; r < kRejectReasonCount; ++r) into.rejects[r] += from.rejects[r];
  into.messages += from.messages;
  into.bisections += from.bisections;
  into.partitions_ensured += from.partitions_ensured;
  into.fenced.insert(into.fenced.end(), from.fenced.begin(), from.fenced.end());
  into.offsets.insert(into.offsets.end(), from.offsets.begin(), from.offsets.end());
  into.recovered_lost_commit = true;
}

bool BatchWriter::pending_commit_landed() {
  // The token is in ingest_offsets only if that transaction committed. One plain statement, no
  // session state: it works through PgBouncer in transaction mode. After a failover to a server
  // that never saw the commit, the token is not there and the batch is written normally (the
  // compare-and-set then decides).
  PgResult r = conn_.exec_params(
      "SELECT pg_catalog.count(*) FROM public.ingest_offsets WHERE consumer_group = $1 AND "
      "commit_token = $2",
      {consumer_group_.c_str(), pending_->token.c_str()});
  return std::string_view(PQgetvalue(r.get(), 0, 0)) != "0";
}

BatchResult BatchWriter::take_pending(std::vector<Chunk*>& live) {
  PendingCommit pending = std::move(*pending_);
  pending_.reset();
  // The caller retries the same batch (perhaps without the chunks of partitions it lost since):
  // what that commit covered is stored; anything else is still to be written.
  std::erase_if(live, [&](const Chunk* c) {
    const auto it = pending.next_offsets.find({c->topic_index, c->partition});
    return it != pending.next_offsets.end() && c->next_offset <= it->second;
  });
  pending.result.recovered_lost_commit = true;
  return std::move(pending.result);
}

void BatchWriter::ensure_partitions(std::span<Chunk* const> chunks, BatchResult& result) {
  for (const Chunk* c : chunks) {
    int32_t last = -1;
    for (const RowRef& r : c->rows) {
      if (r.month == last) continue;
      last = r.month;
      ensure_partition(c->type, r.month, result);
    }
    if (c->reject_count > 0) {
      for (int32_t m = c->first_reject_month; m <= c->last_reject_month; ++m) {
        ensure_partition(kRejectsKey, m, result);
      }
    }
  }
  // A row PostgreSQL refuses becomes a reject stamped now.
  ensure_partition(kRejectsKey, month_of_unix_micros(now_unix_micros()), result);
}

void BatchWriter::ensure_partition(int type, int32_t month, BatchResult& result) {
  const auto key = std::make_pair(type, month);
  if (known_partitions_.contains(key)) return;
  const std::string start = month_start_text(month);
  const std::string table(type == kRejectsKey ? kRejectsTable
                                              : (*catalog_)[static_cast<size_t>(type)].table);
  // Its own short transaction, read-write whatever defaults a pooled session holds.
  conn_.exec("BEGIN READ WRITE");
  try {
    conn_.exec_params(kEnsurePartitionSql.data(), {table.c_str(), start.c_str()});
    conn_.exec("COMMIT");
  } catch (const PgError&) {
    if (conn_.connected()) {
      try {
        conn_.exec("ROLLBACK");
      } catch (const PgError&) {
        conn_.close();
      }
    }
    throw;
  }
  known_partitions_.insert(key);
  ++result.partitions_ensured;
}

bool BatchWriter::attempt(std::span<Chunk* const> chunks, bool bisect, bool isolate_rollups,
                          BatchResult& result) {
  // Bounded on the server: if this process stalls or the network parts mid-transaction, the
  // server ends the session after 60 s idle and releases its row locks (ingest_offsets, costs)
  // for the next instance. SET LOCAL is transaction-scoped, so PgBouncer transaction mode is fine.
  // PgBouncer in transaction mode hands us server sessions other clients used: whatever they
  // left there (temporary tables or types named like ours, a session search_path, read-only
  // defaults) must not change where the rows go. Every name the transaction uses resolves in
  // pg_catalog, then public; the caller's temporary schema last.
  conn_.exec(
      "BEGIN READ WRITE; SET LOCAL search_path = pg_catalog, public, pg_temp; "
      "SET LOCAL idle_in_transaction_session_timeout = '60s'");
  try {
    std::vector<Refused> refused;
    if (isolate_rollups) refuse_overflowing_rollups(chunks, refused);
    // Every event table, from the one list: the offsets below cover every chunk, so a table
    // left out here would lose its rows without a trace.
    for (int type = 0; type < static_cast<int>(catalog_->size()); ++type) {
      copy_table(chunks, type, bisect, refused, result);
    }
    if (ledger_ == nullptr) {
      read_payloads(chunks, refused);
      copy_rejects(chunks, refused);
    }
    try {
      upsert_rollups(chunks, refused);
    } catch (const PgError& e) {
      if (e.data_exception()) failure_ = Failure::kRollupOverflow;
      throw;
    }
    auto fenced = record(chunks, refused, result);
    if (!fenced.empty()) {
      conn_.exec("ROLLBACK");
      result.fenced = std::move(fenced);
      return false;
    }
    // What the transaction stores, counted before COMMIT: if its reply is lost, this is what
    // the next call returns once it finds the commit landed.
    count_stored(chunks, refused, result);
    failure_ = Failure::kCommitUnknown;
    commit();
    failure_ = Failure::kOther;
    return true;
  } catch (...) {  // PgError, or PayloadUnavailable with the transaction open
    // A COMMIT that failed ended the transaction (or the connection) either way.
    if (failure_ != Failure::kCommitUnknown && conn_.connected()) {
      try {
        conn_.exec("ROLLBACK");
      } catch (const PgError&) {
        conn_.close();
      }
    }
    throw;
  }
}

void BatchWriter::count_stored(std::span<Chunk* const> chunks, std::span<const Refused> refused,
                               BatchResult& result) {
  for (const Chunk* c : chunks) {
    result.rows[static_cast<size_t>(c->type)] += c->rows.size();
    for (int r = 0; r < kRejectReasonCount; ++r) result.rejects[r] += c->rejects_by_reason[r];
    result.messages += c->messages;
  }
  for (const Refused& r : refused) {
    --result.rows[static_cast<size_t>(chunks[r.pos.chunk]->type)];
    ++result.rejects[static_cast<int>(RejectReason::kDbRejected)];
  }
}

std::vector<std::pair<int, int32_t>> BatchWriter::record(std::span<Chunk* const> chunks,
                                                         std::span<const Refused> refused,
                                                         BatchResult& result) {
  if (ledger_ != nullptr) return ledger_->record(conn_, chunks, refused);
  token_ = fmt::format("{:016x}-{}", token_prefix_, ++attempts_);
  return store_offsets(chunks, token_, result);
}

void BatchWriter::commit() {
  // PQsendQuery + PQgetResult is what PQexec does; split so that a test can lose the reply.
  PGconn* raw = conn_.raw();
  if (raw == nullptr) throw PgError("COMMIT: not connected", "");
  if (PQsendQuery(raw, "COMMIT") != 1) {
    std::string msg = std::string("COMMIT: ") + PQerrorMessage(raw);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    throw PgError(msg, "");
  }
  if (after_commit_sent_) after_commit_sent_(raw);
  PgResult r(PQgetResult(raw));
  while (PGresult* extra = PQgetResult(raw)) PQclear(extra);
  if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK &&
      std::string_view(PQcmdStatus(r.get())) == "COMMIT") {
    return;
  }
  const char* state = r ? PQresultErrorField(r.get(), PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r ? PQresultErrorField(r.get(), PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string msg = "COMMIT: ";
  if (primary != nullptr) {
    msg += primary;
  } else if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK) {
    msg += std::string("the server answered ") + PQcmdStatus(r.get());
  } else {
    msg += PQerrorMessage(raw);
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  throw PgError(msg, state ? state : "");
}

void BatchWriter::read_payloads(std::span<Chunk* const> chunks, std::vector<Refused>& refused) {
  if (refused.empty() || payloads_ == nullptr) return;
  std::vector<MessageId> ids;
  ids.reserve(refused.size());
  for (const Refused& r : refused) {
    const Chunk* c = chunks[r.pos.chunk];
    ids.push_back({c->topic_index, c->partition, c->rows[r.pos.row].kafka_offset});
  }
  std::vector<std::optional<std::string>> got = payloads_->payloads(ids);
  if (got.size() != refused.size()) throw PayloadUnavailable("payload source answered short");
  for (size_t i = 0; i < refused.size(); ++i) refused[i].payload = std::move(got[i]);
}

void BatchWriter::copy_table(std::span<Chunk* const> chunks, int type, bool bisect_rows,
                             std::vector<Refused>& refused, BatchResult& result) {
  const std::vector<RowPos>* ordered = &index_order(chunks, type);
  if (!refused.empty()) {
    // Rows already refused (rollup deltas that cannot be added) are left out.
    std::set<std::pair<uint32_t, uint32_t>> skip;
    for (const Refused& r : refused) skip.insert({r.pos.chunk, r.pos.row});
    kept_rows_.clear();
    for (const RowPos& p : *ordered) {
      if (!skip.contains({p.chunk, p.row})) kept_rows_.push_back(p);
    }
    ordered = &kept_rows_;
  }
  const std::vector<RowPos>& rows = *ordered;
  if (rows.empty()) return;
  if (!bisect_rows) {
    copy_rows(chunks, type, rows);
    return;
  }
  bisect(chunks, type, rows, refused, result);
}

const std::vector<RowPos>& BatchWriter::index_order(std::span<Chunk* const> chunks, int type) {
  // A batch holds the rows of many partitions, each in Kafka order: COPYing them so would make
  // consecutive index insertions land all over the (tenant_id, ts) index. Sorted, each
  // insertion lands next to the one before it (docs/decisions.md D15).
  // Tenants are few: number them in order once, then sort by (number, ts) without string compares.
  keyed_rows_.clear();
  tenant_numbers_.clear();
  for (uint32_t i = 0; i < chunks.size(); ++i) {
    const Chunk* c = chunks[i];
    if (c->type != type) continue;
    for (uint32_t r = 0; r < c->rows.size(); ++r) {
      const EventTupleKey key = event_tuple_key(c->tuple(c->rows[r]));
      const auto [it, added] =
          tenant_numbers_.try_emplace(key.tenant, static_cast<uint32_t>(tenant_numbers_.size()));
      keyed_rows_.push_back({it->second, key.ts, {i, r}});
    }
  }
  tenants_.clear();
  for (const auto& [tenant, number] : tenant_numbers_) tenants_.emplace_back(tenant, number);
  std::sort(tenants_.begin(), tenants_.end());
  tenant_rank_.resize(tenants_.size());
  for (uint32_t rank = 0; rank < tenants_.size(); ++rank)
    tenant_rank_[tenants_[rank].second] = rank;
  for (KeyedRow& k : keyed_rows_) k.tenant = tenant_rank_[k.tenant];
  std::sort(keyed_rows_.begin(), keyed_rows_.end(), [](const KeyedRow& a, const KeyedRow& b) {
    return a.tenant != b.tenant ? a.tenant < b.tenant : a.ts < b.ts;
  });
  ordered_rows_.clear();
  for (const KeyedRow& k : keyed_rows_) ordered_rows_.push_back(k.pos);
  return ordered_rows_;
}

void BatchWriter::copy_rows(std::span<Chunk* const> chunks, int type,
                            std::span<const RowPos> rows) {
  // Rows come one by one in index order: gather them into pieces of ~256 KiB (a call into libpq
  // per row would cost more than the copy), prefetching each row's memory ahead of its copy.
  constexpr size_t kPiece = size_t{256} * 1024;
  constexpr size_t kPrefetchAhead = 8;
  conn_.begin_copy(copy_sql_[static_cast<size_t>(type)].c_str());
  send_buffer_.clear();
  gather_tuples(chunks, rows, kPrefetchAhead, kPiece, send_buffer_,
                [&](std::string_view piece) { conn_.put_copy_data(piece); });
  if (!send_buffer_.empty()) conn_.put_copy_data(send_buffer_);
  conn_.end_copy();
  if (send_buffer_.capacity() > 2 * kPiece) std::string().swap(send_buffer_);
}

void BatchWriter::bisect(std::span<Chunk* const> chunks, int type, std::span<const RowPos> rows,
                         std::vector<Refused>& refused, BatchResult& result) {
  if (rows.empty()) return;
  conn_.exec("SAVEPOINT sentinel_bisect");
  try {
    copy_rows(chunks, type, rows);
    conn_.exec("RELEASE SAVEPOINT sentinel_bisect");
    return;
  } catch (const PgError& e) {
    if (!e.row_refused()) throw;  // a missing partition is not the row's fault
    conn_.exec("ROLLBACK TO SAVEPOINT sentinel_bisect");
    conn_.exec("RELEASE SAVEPOINT sentinel_bisect");
    ++result.bisections;
    if (rows.size() == 1) {
      refused.push_back({rows[0], refusal_detail(e), std::nullopt});
      return;
    }
  }
  const size_t half = rows.size() / 2;
  bisect(chunks, type, rows.first(half), refused, result);
  bisect(chunks, type, rows.subspan(half), refused, result);
}

void BatchWriter::copy_rejects(std::span<Chunk* const> chunks,
                               const std::vector<Refused>& refused) {
  bool any = !refused.empty();
  for (const Chunk* c : chunks) any |= c->reject_count > 0;
  if (!any) return;
  conn_.begin_copy(rejects_copy_sql_.c_str());
  for (const Chunk* c : chunks) {
    if (!c->reject_tuples.empty()) conn_.put_copy_data(c->reject_tuples);
  }
  if (!refused.empty()) {
    std::string tuples;
    const int64_t now = now_unix_micros();
    for (const Refused& r : refused) {
      const Chunk* c = chunks[r.pos.chunk];
      const RowRef& row = c->rows[r.pos.row];
      if (r.payload) {
        encode_reject(tuples, now, topics_[c->topic_index], c->partition, row.kafka_offset,
                      RejectReason::kDbRejected, r.message, *r.payload);
      } else {
        // Not kept in the chunk, and Kafka no longer has it (or nothing could be asked).
        encode_reject(
            tuples, now, topics_[c->topic_index], c->partition, row.kafka_offset,
            RejectReason::kDbRejected,
            payloads_ != nullptr ? r.message + " (payload no longer in Kafka)" : r.message,
            nullptr);
      }
    }
    conn_.put_copy_data(tuples);
  }
  conn_.end_copy();
}

RollupRoom BatchWriter::load_rollup_room(const RollupDeltas& deltas) {
  RollupRoom room(deltas);
  const RollupStatement stored = rollup_stored(deltas);
  PgResult rows = conn_.exec_params(stored.sql.c_str(), stored.param_pointers());
  std::vector<std::string_view> sums;
  for (int i = 0; i < PQntuples(rows.get()); ++i) {
    sums.clear();
    for (int col = 2; col < PQnfields(rows.get()); ++col)
      sums.emplace_back(PQgetvalue(rows.get(), i, col));
    room.set_stored(std::stoul(PQgetvalue(rows.get(), i, 0)) - 1, PQgetvalue(rows.get(), i, 1),
                    sums);
  }
  const std::string table = "public.\"" + deltas.rollup->table + "\"";
  PgResult columns = conn_.exec_params(kRollupColumnsSql.data(), {table.c_str()});
  for (int i = 0; i < PQntuples(columns.get()); ++i) {
    room.set_column(PQgetvalue(columns.get(), i, 0), PQgetvalue(columns.get(), i, 1),
                    std::atoi(PQgetvalue(columns.get(), i, 2)));
  }
  return room;
}

namespace {

/// A row with rollup deltas, with what orders it: partition_by, then where it is in Kafka.
struct RolledUpRow {
  int64_t ts;
  int32_t partition;
  int64_t offset;
  RowPos pos;
};

/// The rows of `chunks` that have rollup deltas, in time order.
std::vector<RolledUpRow> rolled_up_rows_in_time_order(std::span<Chunk* const> chunks) {
  std::vector<RolledUpRow> rows;
  for (uint32_t ci = 0; ci < chunks.size(); ++ci) {
    const Chunk* c = chunks[ci];
    if (c->rollups.empty()) continue;
    for (uint32_t ri = 0; ri < c->rows.size(); ++ri) {
      const RowRef& row = c->rows[ri];
      if (row.rollup_index < 0) continue;
      rows.push_back({c->rollups[static_cast<size_t>(row.rollup_index)].ts_unix_micros,
                      c->partition,
                      row.kafka_offset,
                      {ci, ri}});
    }
  }
  std::sort(rows.begin(), rows.end(), [](const RolledUpRow& a, const RolledUpRow& b) {
    return std::tie(a.ts, a.partition, a.offset) < std::tie(b.ts, b.partition, b.offset);
  });
  return rows;
}

}  // namespace

void BatchWriter::refuse_overflowing_rollups(std::span<Chunk* const> chunks,
                                             std::vector<Refused>& refused) {
  const std::vector<RollupDeltas> all = roll_up(*catalog_, chunks, {});
  if (all.empty()) return;
  std::map<std::pair<int, int>, RollupRoom> rooms;  // by (type, rollup)
  for (const RollupDeltas& d : all) {
    rooms.emplace(std::make_pair(d.type_index, d.rollup_index), load_rollup_room(d));
  }
  // Walk the rows in time order, adding each to its rollup rows; one that would take any of them
  // past what its columns hold is refused (and none of its deltas added).
  for (const RolledUpRow& r : rolled_up_rows_in_time_order(chunks)) {
    const Chunk* c = chunks[r.pos.chunk];
    const size_t first = static_cast<size_t>(c->rows[r.pos.row].rollup_index);
    const size_t n = (*catalog_)[static_cast<size_t>(c->type)].rollups.size();
    std::string problem;
    for (size_t i = 0; i < n && problem.empty(); ++i) {
      const RollupItem& item = c->rollups[first + i];
      problem = rooms.at({c->type, item.rollup}).problem(*c, item);
    }
    if (!problem.empty()) {
      refused.push_back({r.pos, std::move(problem), std::nullopt});
      continue;
    }
    for (size_t i = 0; i < n; ++i) {
      const RollupItem& item = c->rollups[first + i];
      rooms.at({c->type, item.rollup}).add(*c, item);
    }
  }
}

void BatchWriter::upsert_rollups(std::span<Chunk* const> chunks,
                                 const std::vector<Refused>& refused) {
  std::set<std::pair<uint32_t, uint32_t>> refused_rows;
  for (const Refused& r : refused) refused_rows.insert({r.pos.chunk, r.pos.row});
  // Tables in name order, keys ascending in each: every writer locks rollup rows in one order.
  for (const RollupDeltas& d : roll_up(*catalog_, chunks, refused_rows)) {
    const RollupStatement upsert = rollup_upsert(d);
    conn_.exec_params(upsert.sql.c_str(), upsert.param_pointers());
  }
}

std::vector<std::pair<int, int32_t>> BatchWriter::store_offsets(std::span<Chunk* const> chunks,
                                                                const std::string& token,
                                                                BatchResult& result) {
  // Per partition: expected = from_offset of its first chunk, new = next_offset of its last.
  std::map<std::pair<int, int32_t>, std::pair<int64_t, int64_t>> ranges;
  for (const Chunk* c : chunks) {
    const auto key = std::make_pair(c->topic_index, c->partition);
    auto [it, inserted] = ranges.try_emplace(key, c->from_offset, c->next_offset);
    if (!inserted) it->second.second = c->next_offset;
  }
  std::string topics = "{", parts = "{", expected = "{", next = "{";
  bool first = true;
  for (const auto& [key, range] : ranges) {
    if (!first) {
      for (std::string* a : {&topics, &parts, &expected, &next}) a->push_back(',');
    }
    first = false;
    append_array_text(topics, topics_[key.first]);
    parts += std::to_string(key.second);
    expected += std::to_string(range.first);
    next += std::to_string(range.second);
  }
  for (std::string* a : {&topics, &parts, &expected, &next}) a->push_back('}');
  // Compare-and-set: an existing row moves only from the expected offset; a missing row is
  // inserted only if nobody inserted it first. Whatever does not come back was fenced.
  static constexpr const char* kSql =
      "WITH i AS (SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[]) "
      "  AS i(topic, part, expected, next)), "
      "upd AS (UPDATE public.ingest_offsets o SET next_offset = i.next, updated_at = now(), "
      "  commit_token = $6 FROM i "
      "  WHERE i.expected >= 0 AND o.consumer_group = $1 AND o.topic = i.topic "
      "  AND o.kafka_partition = i.part AND o.next_offset = i.expected "
      "  RETURNING o.topic, o.kafka_partition), "
      "ins AS (INSERT INTO public.ingest_offsets (consumer_group, topic, kafka_partition, "
      "next_offset, "
      "  updated_at, commit_token) SELECT $1, topic, part, next, now(), $6 FROM i "
      "  WHERE expected < 0 "
      "  ON CONFLICT DO NOTHING RETURNING topic, kafka_partition) "
      "SELECT topic, kafka_partition FROM upd UNION ALL SELECT topic, kafka_partition FROM ins";
  PgResult r = conn_.exec_params(kSql, {consumer_group_.c_str(), topics.c_str(), parts.c_str(),
                                        expected.c_str(), next.c_str(), token.c_str()});
  std::set<std::pair<int, int32_t>> stored;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    const std::string_view topic = PQgetvalue(r.get(), i, 0);
    const auto t = std::find(topics_.begin(), topics_.end(), topic) - topics_.begin();
    stored.insert({static_cast<int>(t), std::stoi(PQgetvalue(r.get(), i, 1))});
  }
  std::vector<std::pair<int, int32_t>> fenced;
  result.offsets.clear();
  for (const auto& [key, range] : ranges) {
    if (stored.contains(key)) {
      result.offsets.push_back({key.first, key.second, range.second});
    } else {
      fenced.push_back(key);
    }
  }
  return fenced;
}

}  // namespace sentinel
