#pragma once

#include <string>

namespace sentinel {

/// glibc's malloc, set up for a process that streams large buffers between threads; called first
/// thing in main(). librdkafka decompresses every producer batch into a new buffer (up to a few
/// MiB) and another thread frees it; the writers free the chunks the consumer thread built.
///
/// - Large buffers come from the heap and are reused (mmap threshold 8 MiB, above a fetch
///   response). Under the old 128 KiB threshold each one was a fresh mapping, faulted in page by
///   page and unmapped again: 0.22 page faults per message, and on a VM where a fault is dear that
///   was ~35% of the ingestor's CPU (bench/results/2026-11-25.md, ninth session).
/// - The heap is never trimmed by itself: memory freed under a backlog is reused rather than
///   returned and faulted in again (zeroed by the kernel); `run` returns it once idle
///   (pipeline/consumer_loop.cpp, give_back_memory_when_idle).
/// - One arena: a second one kept a 64 MiB heap resident next to the main one.
/// - Transparent huge pages for the heap where the kernel gives them on request
///   (`glibc.malloc.hugetlb=1`): growing the heap to its working size then takes ~500 times fewer
///   faults. glibc reads that setting only when the process starts, so when GLIBC_TUNABLES is
///   unset this sets it and executes the same binary again (same PID, same arguments), once; the
///   variable is removed again after the start so that child processes do not inherit it. When
///   GLIBC_TUNABLES is set, it wins and nothing here changes.
void tune_allocator(char** argv);

/// The GLIBC_TUNABLES value tune_allocator() sets (the same settings it falls back to mallopt()
/// for when it cannot start the binary again).
std::string allocator_tunables();

}  // namespace sentinel
