#include "app/crash_report.h"

#include <dlfcn.h>
#include <execinfo.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <array>
#include <csignal>
#include <cstdint>
#include <cstring>

namespace sentinel {
namespace {

bool g_json = false;

constexpr std::array<int, 5> kFatalSignals = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/// A line assembled without allocating (the heap may be what broke).
class Line {
 public:
  void add(const char* text) {
    for (; *text != '\0' && size_ < kRoom; ++text) {
      const char c = *text;
      if (g_json && (c == '"' || c == '\\')) {
        if (size_ + 1 >= kRoom) break;
        buf_[size_++] = '\\';
      }
      buf_[size_++] = static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
    }
  }
  /// Adds `text` as is (the JSON frame of the line).
  void raw(const char* text) {
    for (; *text != '\0' && size_ < kRoom; ++text) buf_[size_++] = *text;
  }
  void hex(uintptr_t v) {
    std::array<char, 2 + 2 * sizeof v + 1> s{};
    size_t n = s.size() - 1;
    do {
      s[--n] = "0123456789abcdef"[v & 0xf];
      v >>= 4;
    } while (v != 0);
    s[--n] = 'x';
    s[--n] = '0';
    raw(s.data() + n);
  }
  void dec(long v) {
    std::array<char, 24> s{};
    size_t n = s.size() - 1;
    const bool negative = v < 0;
    unsigned long u =
        negative ? 0UL - static_cast<unsigned long>(v) : static_cast<unsigned long>(v);
    do {
      s[--n] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (negative) s[--n] = '-';
    raw(s.data() + n);
  }
  /// Ends the line with `tail` (room is kept for it however long the line got) and writes it.
  void write_out(const char* tail) {
    for (; *tail != '\0'; ++tail) buf_[size_++] = *tail;
    buf_[size_++] = '\n';
    for (size_t done = 0; done < size_;) {
      const ssize_t n = ::write(STDERR_FILENO, buf_.data() + done, size_ - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

 private:
  static constexpr size_t kTail = 4;  ///< the JSON end `"}` and the newline
  std::array<char, 8192> buf_{};
  static constexpr size_t kRoom = sizeof(buf_) - kTail;
  size_t size_ = 0;
};

/// The file name of a path, without its folders.
const char* base_name(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

void on_fatal_signal(int sig, siginfo_t* info, void*) {
  std::array<void*, 48> frames{};
  const int n = ::backtrace(frames.data(), static_cast<int>(frames.size()));
  Line line;
  line.raw(g_json ? R"({"level":"critical","component":"sentinel","msg":")" : "critical ");
  line.add("fatal signal ");
  line.dec(sig);
  line.add(" (SIG");
  line.add(sigabbrev_np(sig));  // glibc's name of it, from a static table
  line.add(") on thread ");
  line.dec(static_cast<long>(::syscall(SYS_gettid)));
  if (sig == SIGSEGV || sig == SIGBUS) {
    line.add(" at ");
    line.hex(reinterpret_cast<uintptr_t>(info->si_addr));
  }
  line.add("; stack (module+offset):");
  // Frame 0 is this handler; frame 1, the signal trampoline, is kept: the frame after it is where
  // the signal struck.
  for (int i = 1; i < n; ++i) {
    Dl_info where{};
    line.add(" | ");
    if (::dladdr(frames[static_cast<size_t>(i)], &where) != 0 && where.dli_fname != nullptr) {
      line.add(base_name(where.dli_fname));
      line.add("+");
      line.hex(reinterpret_cast<uintptr_t>(frames[static_cast<size_t>(i)]) -
               reinterpret_cast<uintptr_t>(where.dli_fbase));
      if (where.dli_sname != nullptr) {
        line.add(" ");
        line.add(where.dli_sname);
      }
    } else {
      line.hex(reinterpret_cast<uintptr_t>(frames[static_cast<size_t>(i)]));
    }
  }
  line.write_out(g_json ? "\"}" : "");
  // SA_RESETHAND restored the default action: the same signal ends the process as it would have.
  ::raise(sig);
}

}  // namespace

void install_crash_report(const std::string& log_format) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // The sanitizers' own reports are better: their handlers stay.
  static_cast<void>(log_format);
  return;
#endif
  g_json = log_format == "json";
  // The first backtrace() loads libgcc's unwinder (it allocates): done here, not in a crash.
  std::array<void*, 2> warm{};
  ::backtrace(warm.data(), static_cast<int>(warm.size()));
  // Its own stack, so that a stack overflow is reported too (the main thread's).
  static std::array<char, size_t{64} << 10> alt_stack;
  stack_t ss{};
  ss.ss_sp = alt_stack.data();
  ss.ss_size = alt_stack.size();
  ::sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_sigaction = on_fatal_signal;
  sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
  // While one report is written, another fatal signal waits (it is then raised again at exit).
  sigemptyset(&sa.sa_mask);
  for (int sig : kFatalSignals) sigaddset(&sa.sa_mask, sig);
  for (int sig : kFatalSignals) ::sigaction(sig, &sa, nullptr);
}

}  // namespace sentinel
