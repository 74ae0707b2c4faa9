// libFuzzer target over everything a Kafka message's bytes reach before PostgreSQL: the event
// parser/validator (both event kinds) and the scalar readers (decimal, integer, timestamp, UUID,
// inet). The first byte picks the target; the rest is the input. Besides crashes, hangs and
// sanitizer reports it checks the parser's own contracts:
//   - a rejected message leaves the output buffer exactly as it was;
//   - an accepted message appends a tuple whose field count is that of its table;
//   - a decimal, integer or timestamp that reads is also a well-formed number / time.
// Built by fuzz/build.sh with clang -fsanitize=fuzzer,address,undefined.
#include <simdjson.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ingest/event_parser.h"
#include "ingest/scalars.h"
#include "rows/tables.h"

namespace {

using namespace sentinel;

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "contract broken: %s\n", what);
    std::abort();
  }
}

/// Walks the binary COPY tuple appended at `at`: its field count, then each field's int32 length
/// (-1 for NULL) and bytes, ending exactly at the end of `out`. Returns the field count.
int16_t walk_tuple(const std::string& out, size_t at) {
  auto u16 = [&](size_t i) {
    return static_cast<uint16_t>((static_cast<uint8_t>(out[i]) << 8) |
                                 static_cast<uint8_t>(out[i + 1]));
  };
  check(out.size() >= at + 2, "a tuple starts with its field count");
  const auto fields = static_cast<int16_t>(u16(at));
  size_t i = at + 2;
  for (int16_t f = 0; f < fields; ++f) {
    check(out.size() >= i + 4, "a field starts with its length");
    const auto len = static_cast<int32_t>((static_cast<uint32_t>(u16(i)) << 16) | u16(i + 2));
    i += 4;
    check(len >= -1, "a field length is -1 (NULL) or more");
    if (len > 0) i += static_cast<size_t>(len);
    check(i <= out.size(), "a field ends inside the tuple");
  }
  check(i == out.size(), "the tuple ends where its fields end");
  return fields;
}

void fuzz_event(bool invocation, const uint8_t* data, size_t size) {
  static EventParser parser;
  // simdjson reads up to SIMDJSON_PADDING bytes past the end, as it does in the chunk builder's
  // scratch buffer.
  static std::vector<char> padded;
  padded.assign(data, data + size);
  padded.resize(size + simdjson::SIMDJSON_PADDING, '\0');
  MessageContext ctx;
  ctx.kafka_partition = 3;
  ctx.kafka_offset = 1042;
  ctx.now_unix_micros = 1'794'000'000'000'000;  // 2026-11
  std::string out = "prefix";
  const std::string before = out;
  if (invocation) {
    InvocationCost cost{};
    const auto rejection = parser.parse_invocation(padded.data(), size, ctx, out, cost);
    if (rejection) {
      check(out == before, "a rejected invocation leaves the buffer as it was");
    } else {
      check(walk_tuple(out, before.size()) == parser.catalog().find("invocation")->field_count(),
            "an invocation tuple has one field per column");
      check(cost.cost_nanos >= 0, "costs are not negative");
    }
  } else {
    int64_t ts = 0;
    const auto rejection = parser.parse_audit(padded.data(), size, ctx, out, ts);
    if (rejection) {
      check(out == before, "a rejected audit event leaves the buffer as it was");
    } else {
      check(walk_tuple(out, before.size()) == parser.catalog().find("audit")->field_count(),
            "an audit tuple has one field per column");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0] % 6;
  ++data;
  --size;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  switch (mode) {
    case 0:
      fuzz_event(false, data, size);
      break;
    case 1:
      fuzz_event(true, data, size);
      break;
    case 2: {
      const DecimalResult d = parse_decimal_nanos(text);
      if (d.ok()) check(is_json_number(text) && d.nanos >= 0, "a decimal that reads is a number");
      break;
    }
    case 3: {
      const IntegerResult i = parse_json_integer(text);
      if (i.ok()) check(is_json_number(text), "an integer that reads is a number");
      break;
    }
    case 4: {
      const TimestampResult t = parse_timestamp(text);
      // Years 0000-9999 with offsets of less than a day.
      if (t.ok()) {
        check(
            t.unix_micros > -62'200'000'000'000'000LL && t.unix_micros < 253'500'000'000'000'000LL,
            "a timestamp that reads is within years 0-9999");
      }
      break;
    }
    default:
      (void)parse_uuid(text);
      (void)parse_inet(text);
      break;
  }
  return 0;
}
