#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/metrics.h"
#include "rows/chunk.h"
#include "sinks/batch_writer.h"

namespace sentinel {

/// Wall-clock time now, in ms since the Unix epoch.
int64_t now_unix_ms();

/// Adds what a committed batch did to `metrics`: its commit time, rows and rejects, bytes, the
/// ingest and end-to-end latency of every stored row, fences. `live` are the chunks the batch was
/// written from; those of partitions it fenced stored nothing and are not counted.
void record_batch(Metrics& metrics, const BatchResult& result, const std::vector<Chunk*>& live,
                  double commit_seconds);

}  // namespace sentinel
