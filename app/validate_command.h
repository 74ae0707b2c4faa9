#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "app/commands.h"

namespace sentinel {

/// The librdkafka configuration of `run`'s consumer (bootstrap servers, group, --kafka-prop),
/// checked by librdkafka itself without a network call: every property name and value
/// (rd_kafka_conf_set), then the whole (rd_kafka_new). Returns each --kafka-prop property once,
/// with the value librdkafka holds (sensitive ones as ***). Throws UsageError naming the property and
/// the fix.
std::vector<std::pair<std::string, std::string>> check_kafka_settings(const PipelineOptions& p);

/// `validate`: the settings of `run` (already parsed), then PostgreSQL (reachable, schema
/// current, the catalog's tables, the ingest role's privileges), Kafka (a broker answers, every
/// topic exists, its partition count) and the metrics address (can be bound). Prints one line
/// per check, `ok` or `FAIL` with the fix, on stdout. Each network check waits at most
/// `timeout`. Returns 0 when every check passed, 2 otherwise.
int cmd_validate(const RunArgs& args, std::chrono::milliseconds timeout);

}  // namespace sentinel
