#pragma once

#include <string>
#include <string_view>

namespace sentinel {

/// Brokers of the cluster that librdkafka holds a connection to in state UP, counted from its
/// statistics JSON (statistics.interval.ms): each distinct node id >= 0 once, so a bootstrap
/// address and the learned broker behind it count as one and the internal pseudo-broker not at
/// all. -1 when the text is not librdkafka statistics.
int kafka_brokers_up(std::string_view stats_json);

/// librdkafka's version as it reports itself at run time (e.g. "2.0.2").
std::string kafka_library_version();

}  // namespace sentinel
