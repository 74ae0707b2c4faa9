#pragma once
// The real sample events of tests/data, as the micro-benchmarks feed them to the parser.
#include <simdjson.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace sentinel::bench {

/// The sample events of one file, each in its own padded buffer (as the chunk arena gives them).
struct Samples {
  std::vector<std::string> padded;
  std::vector<size_t> sizes;
  size_t total_bytes = 0;
};

inline Samples load(const std::string& name) {
  std::ifstream in(std::string(SENTINEL_TEST_DATA_DIR) + "/" + name);
  if (!in) throw std::runtime_error("cannot read tests/data/" + name);
  Samples s;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    s.sizes.push_back(line.size());
    s.total_bytes += line.size();
    line.append(simdjson::SIMDJSON_PADDING, '\0');
    s.padded.push_back(line);
  }
  return s;
}

inline int64_t now_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sentinel::bench
