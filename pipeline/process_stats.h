#pragma once

#include <cstdint>
#include <string>

namespace sentinel {

/// What the Prometheus `process_*` metrics report, read from /proc/self when asked (at scrape
/// time, on the metrics thread): nothing on the data path counts it. A field that cannot be read
/// is negative and its metric is left out.
struct ProcessStats {
  double cpu_seconds = -1;         ///< user + system CPU time
  double start_time_seconds = -1;  ///< Unix time the process started (boot time + start ticks)
  int64_t resident_bytes = -1;
  int64_t virtual_bytes = -1;
  int64_t open_fds = -1;
  int64_t max_fds = -1;  ///< the soft RLIMIT_NOFILE

  /// Reads /proc/self/stat, /proc/stat (boot time), /proc/self/fd and the fd limit.
  static ProcessStats read();
  /// Parses the text of /proc/PID/stat; `ticks_per_second` and `page_bytes` from sysconf,
  /// `boot_time` from /proc/stat's btime. Leaves the fd fields as they are.
  void parse_stat(const std::string& stat, double ticks_per_second, int64_t page_bytes,
                  int64_t boot_time);
  /// Appends the process_* metrics (HELP, TYPE, value) in the Prometheus client convention.
  void render(std::string& out) const;
};

}  // namespace sentinel
