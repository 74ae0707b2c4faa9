// Binary COPY encoding of each column type the event tables use (rows/copy_encoder.h).
#include <benchmark/benchmark.h>

#include <string>

#include "rows/copy_encoder.h"

namespace sentinel {
namespace {

/// Runs `field` on a reused buffer, cleared every 64 KiB; bytes/s counts encoded bytes.
template <typename Field>
void run(benchmark::State& state, Field field) {
  std::string out;
  out.reserve(128 << 10);
  CopyEncoder enc(out);
  int64_t bytes = 0;
  for (auto _ : state) {
    const size_t before = out.size();
    field(enc);
    bytes += static_cast<int64_t>(out.size() - before);
    if (out.size() > (64 << 10)) out.clear();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(bytes);
}

void BM_EncodeText(benchmark::State& state) {
  const std::string s = "role.assign";
  run(state, [&](CopyEncoder& e) { e.text(s); });
}
void BM_EncodeUuid(benchmark::State& state) {
  const std::array<uint8_t, 16> id{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  run(state, [&](CopyEncoder& e) { e.uuid(id); });
}
void BM_EncodeTimestamptz(benchmark::State& state) {
  int64_t ts = 1'763'000'000'000'000;
  run(state, [&](CopyEncoder& e) { e.timestamptz(++ts); });
}
void BM_EncodeInt4(benchmark::State& state) {
  int32_t v = 0;
  run(state, [&](CopyEncoder& e) { e.int4(++v); });
}
void BM_EncodeInt8(benchmark::State& state) {
  int64_t v = 0;
  run(state, [&](CopyEncoder& e) { e.int8(++v); });
}
void BM_EncodeNumericNanos(benchmark::State& state) {
  int64_t v = 1'234'567;  // $0.001234567, a typical LLM call
  run(state, [&](CopyEncoder& e) { e.numeric_nanos(v += 1'000); });
}
void BM_EncodeInetV4(benchmark::State& state) {
  InetAddress a;
  a.bytes = {10, 1, 2, 3};
  run(state, [&](CopyEncoder& e) { e.inet(a); });
}
void BM_EncodeInetV6(benchmark::State& state) {
  InetAddress a;
  a.v6 = true;
  a.bytes = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x01, 0xff, 0xfe, 0x23, 0x45, 0x67, 0x89, 0x0a};
  run(state, [&](CopyEncoder& e) { e.inet(a); });
}
void BM_EncodeJsonb(benchmark::State& state) {
  const std::string json =
      R"({"request_id": "req_e0f08bcf184eeee4", "region": "eu-west-1", "client": {"name": "web"}})";
  run(state, [&](CopyEncoder& e) { e.jsonb(json); });
}
void BM_EncodeNull(benchmark::State& state) {
  run(state, [&](CopyEncoder& e) { e.null(); });
}
BENCHMARK(BM_EncodeText);
BENCHMARK(BM_EncodeUuid);
BENCHMARK(BM_EncodeTimestamptz);
BENCHMARK(BM_EncodeInt4);
BENCHMARK(BM_EncodeInt8);
BENCHMARK(BM_EncodeNumericNanos);
BENCHMARK(BM_EncodeInetV4);
BENCHMARK(BM_EncodeInetV6);
BENCHMARK(BM_EncodeJsonb);
BENCHMARK(BM_EncodeNull);

}  // namespace
}  // namespace sentinel
