#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sentinel::testing {

/// A child process (the sentinel-ingest binary, usually) with its output captured to a file.
/// Killed with SIGKILL on destruction if still running.
class Process {
 public:
  /// Starts argv[0] with the given arguments; stdout and stderr go to `log_path` (appended).
  Process(const std::vector<std::string>& argv, const std::string& log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int sig);
  /// Waits up to `timeout` for the exit; returns the exit code (128+N for signal N) or nullopt.
  std::optional<int> wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

/// Runs a command to completion (up to `timeout`), returns {exit code, combined output}.
std::pair<int, std::string> run_command(const std::vector<std::string>& argv,
                                        std::chrono::milliseconds timeout);

/// How often `needle` occurs in `text`.
size_t count_occurrences(const std::string& text, const std::string& needle);

/// Polls `condition` every 50 ms until it holds (true) or `timeout` passes (false).
bool wait_until(std::chrono::milliseconds timeout, const std::function<bool()>& condition);

/// A TCP port on 127.0.0.1 that was free a moment ago (for --metrics-listen and the like).
int free_port();

/// Listens on 127.0.0.1 and never says a word: the kernel completes every TCP handshake, nobody
/// reads. What a hung server, or a proxy in front of a dead one, looks like to a client.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  SilentServer(const SilentServer&) = delete;
  SilentServer& operator=(const SilentServer&) = delete;
  int port() const { return port_; }
  /// The listening socket (a test may accept on it itself).
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

/// The whole contents of a file ("" if missing).
std::string read_file(const std::string& path);

}  // namespace sentinel::testing
