#pragma once

#include <string>

namespace sentinel {

/// On a fatal signal (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT) writes one line to stderr, in
/// the log format ("text" or "json"), that names the signal, the thread and the stack as
/// module+offset frames (`addr2line -e MODULE OFFSET` gives the source line), then dies of the
/// same signal (the exit status and a core dump are unchanged). A crash in a library's thread
/// (librdkafka's, libpq's) is diagnosed the same way.
void install_crash_report(const std::string& log_format);

}  // namespace sentinel
