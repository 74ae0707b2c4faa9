#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace sentinel {

/// A message's place in Kafka.
struct MessageId {
  int topic_index = 0;  ///< index into the pipeline's topic list
  int32_t partition = 0;
  int64_t offset = 0;
};

/// Thrown when a payload can be neither read nor known to be gone (Kafka unreachable): the
/// batch that needed it is not committed and is tried again.
class PayloadUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where the raw payload of a row PostgreSQL refused comes from.
///
/// Chunks do not keep payloads: a valid row's payload is needed only if PostgreSQL refuses the
/// row (a db_rejected reject stores it), which is rare, and payloads were more than half of a
/// chunk's bytes. The writer reads them again from Kafka by offset; the messages are still
/// there, because their offsets are not committed until the batch is.
class PayloadSource {
 public:
  virtual ~PayloadSource() = default;
  /// The payload of each message, in the order asked; nullopt for one Kafka no longer has
  /// (deleted by retention or compaction). Throws PayloadUnavailable when it cannot tell.
  virtual std::vector<std::optional<std::string>> payloads(std::span<const MessageId> ids) = 0;
};

}  // namespace sentinel
