#include "app/allocator.h"

#include <malloc.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace sentinel {

const char* const kAllocatorTunables =
    "glibc.malloc.arena_max=1:glibc.malloc.mmap_threshold=8388608:"
    "glibc.malloc.trim_threshold=16777216:glibc.malloc.hugetlb=1";

namespace {

/// Set beside GLIBC_TUNABLES for the second start: the tunables are ours, not the operator's.
constexpr const char* kReexecMarker = "SENTINEL_INGEST_ALLOCATOR_TUNED";

}  // namespace

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
    setenv("GLIBC_TUNABLES", kAllocatorTunables, 1);
    setenv(kReexecMarker, "1", 1);
    execv(self, argv);  // returns only on failure
    unsetenv(kReexecMarker);
    unsetenv("GLIBC_TUNABLES");
  }
  // Without a second start: the same settings, less the huge pages.
  mallopt(M_ARENA_MAX, 1);
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  mallopt(M_TRIM_THRESHOLD, 16 << 20);
}

}  // namespace sentinel
