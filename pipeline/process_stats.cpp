#include "pipeline/process_stats.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace sentinel {

namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int64_t boot_time() {
  std::ifstream in("/proc/stat");
  std::string key;
  int64_t value = 0;
  while (in >> key) {
    if (key == "btime" && in >> value) return value;
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace

void ProcessStats::parse_stat(const std::string& stat, double ticks_per_second, int64_t page_bytes,
                              int64_t boot) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is the first after it; utime 14, stime 15, starttime 22,
  // vsize 23, rss 24 (pages), as proc(5) numbers them.
  const auto close = stat.rfind(')');
  if (close == std::string::npos || ticks_per_second <= 0) return;
  std::istringstream in(stat.substr(close + 1));
  std::vector<std::string> fields{"", "", ""};  // fields 1 and 2 are before ')'
  for (std::string f; in >> f;) fields.push_back(f);
  if (fields.size() <= 24) return;
  try {
    cpu_seconds =
        static_cast<double>(std::stoull(fields[14]) + std::stoull(fields[15])) / ticks_per_second;
    if (boot >= 0) {
      start_time_seconds = static_cast<double>(boot) +
                           static_cast<double>(std::stoull(fields[22])) / ticks_per_second;
    }
    virtual_bytes = static_cast<int64_t>(std::stoull(fields[23]));
    resident_bytes = std::stoll(fields[24]) * page_bytes;
  } catch (const std::exception&) {
    cpu_seconds = start_time_seconds = -1;
    virtual_bytes = resident_bytes = -1;
  }
}

ProcessStats ProcessStats::read() {
  ProcessStats s;
  s.parse_stat(read_file("/proc/self/stat"), static_cast<double>(sysconf(_SC_CLK_TCK)),
               sysconf(_SC_PAGESIZE), boot_time());
  std::error_code ec;
  int64_t fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++fds;
  }
  if (!ec) s.open_fds = fds;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    s.max_fds = static_cast<int64_t>(limit.rlim_cur);
  }
  return s;
}

void ProcessStats::render(std::string& out) const {
  const auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    if (value < 0) return;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
  };
  metric("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
         cpu_seconds);
  metric("process_open_fds", "gauge", "Number of open file descriptors.", open_fds);
  metric("process_max_fds", "gauge", "Maximum number of open file descriptors.", max_fds);
  metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", virtual_bytes);
  metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
         resident_bytes);
  metric("process_start_time_seconds", "gauge",
         "Start time of the process since unix epoch in seconds.", start_time_seconds);
}

}  // namespace sentinel
