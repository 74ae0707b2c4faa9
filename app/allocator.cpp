#include "app/allocator.h"

#include <fmt/format.h>
#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace sentinel {

namespace {

constexpr int kArenas = 1;
constexpr int kMmapThreshold = 8 << 20;
/// Never trim by itself (1 GiB is above any working set the budget allows): under a backlog the
/// heap's top was given back at 16 MiB free and faulted in again, 2 MiB huge page by 2 MiB, the
/// kernel zeroing each: 6-14% of the ingestor's CPU (`clear_page_erms` under librdkafka's
/// `sysmalloc`). The consumer loop gives the heap back once idle instead (malloc_trim).
constexpr int kTrimThreshold = 1 << 30;

/// Set beside GLIBC_TUNABLES for the second start: the tunables are ours, not the operator's.
constexpr const char* kReexecMarker = "SENTINEL_INGEST_ALLOCATOR_TUNED";

}  // namespace

std::string allocator_tunables() {
  return fmt::format(
      "glibc.malloc.arena_max={}:glibc.malloc.mmap_threshold={}:glibc.malloc.trim_threshold={}:"
      "glibc.malloc.hugetlb=1",
      kArenas, kMmapThreshold, kTrimThreshold);
}

void tune_allocator(char** argv) {
  if (std::getenv(kReexecMarker) != nullptr) {
    // The second start: glibc has read the tunables; children must not inherit them.
    unsetenv(kReexecMarker);
    unsetenv("GLIBC_TUNABLES");
    return;
  }
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;  // the operator's choice

  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    setenv("GLIBC_TUNABLES", allocator_tunables().c_str(), 1);
    setenv(kReexecMarker, "1", 1);
    execv(self, argv);  // returns only on failure
    unsetenv(kReexecMarker);
    unsetenv("GLIBC_TUNABLES");
  }
  // Without a second start: the same settings, less the huge pages.
  mallopt(M_ARENA_MAX, kArenas);
  mallopt(M_MMAP_THRESHOLD, kMmapThreshold);
  mallopt(M_TRIM_THRESHOLD, kTrimThreshold);
}

}  // namespace sentinel
