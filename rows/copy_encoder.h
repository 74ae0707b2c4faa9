#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sentinel {

/// The 19-byte header that opens every binary COPY stream (signature, flags, extension length).
inline constexpr std::string_view kCopyHeader{"PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19};
/// The trailer that closes a binary COPY stream: a field count of -1.
inline constexpr std::string_view kCopyTrailer{"\377\377", 2};

/// Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC).
inline constexpr int64_t kPgEpochOffsetMicros = 946'684'800'000'000;

/// An IPv4 or IPv6 address as PostgreSQL's inet stores it.
struct InetAddress {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

/// Appends tuples in PostgreSQL's binary COPY format to a caller-owned buffer.
///
/// A tuple is `begin_row(n)` followed by exactly n field calls, in the column order of the
/// COPY statement. The encoder holds a reference to the buffer; it allocates only when the
/// buffer grows. Not thread-safe; one encoder per buffer.
class CopyEncoder {
 public:
  explicit CopyEncoder(std::string& out) : out_(out) {}

  void begin_row(int16_t fields) { put16(static_cast<uint16_t>(fields)); }
  void null() { put32(0xFFFFFFFFu); }
  void text(std::string_view s) { bytes(s); }
  void bytea(std::string_view s) { bytes(s); }
  void int4(int32_t v) {
    put32(4);
    put32(static_cast<uint32_t>(v));
  }
  void int8(int64_t v) {
    put32(8);
    put64(static_cast<uint64_t>(v));
  }
  void uuid(const std::array<uint8_t, 16>& id) {
    put32(16);
    out_.append(reinterpret_cast<const char*>(id.data()), id.size());
  }
  /// `unix_micros`: microseconds since 1970-01-01 UTC.
  void timestamptz(int64_t unix_micros) {
    put32(8);
    put64(static_cast<uint64_t>(unix_micros - kPgEpochOffsetMicros));
  }
  /// A date given as days since 1970-01-01.
  void date(int32_t unix_days) {
    put32(4);
    put32(static_cast<uint32_t>(unix_days - 10957));
  }
  /// A non-negative amount of nano-units as numeric with scale 9 (e.g. USD with 9 decimals).
  void numeric_nanos(int64_t nanos) { numeric(nanos, 9); }
  /// `units` × 10^-scale (any sign, scale 0..18) as numeric with display scale `scale`: the
  /// value a numeric(p, scale) column stores.
  void numeric(int64_t units, int scale);
  void boolean(bool v) {
    put32(1);
    out_.push_back(v ? '\1' : '\0');
  }
  void inet(const InetAddress& a);
  /// jsonb in binary: a version byte (1) and the JSON text, which PostgreSQL parses.
  void jsonb(std::string_view json) {
    put32(static_cast<uint32_t>(json.size() + 1));
    out_.push_back('\1');
    out_.append(json);
  }

 private:
  void bytes(std::string_view s) {
    put32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void put16(uint16_t v) {
    const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
    out_.append(b, 2);
  }
  void put32(uint32_t v) {
    v = __builtin_bswap32(v);
    out_.append(reinterpret_cast<const char*>(&v), 4);
  }
  void put64(uint64_t v) {
    v = __builtin_bswap64(v);
    out_.append(reinterpret_cast<const char*>(&v), 8);
  }

  std::string& out_;
};

/// Where an event tuple sorts in its table's (tenant_id, ts) index: both event tables' tuples
/// start with a 16-byte id, ts and tenant_id (kAuditColumns, kInvocationsColumns).
struct EventTupleKey {
  std::string_view tenant;
  uint64_t ts = 0;  ///< ts with the sign bit flipped: unsigned order is time order
  friend bool operator<(const EventTupleKey& a, const EventTupleKey& b) {
    return a.tenant != b.tenant ? a.tenant < b.tenant : a.ts < b.ts;
  }
};

/// The key of a tuple written by EventParser; a tuple that does not start with (uuid,
/// timestamptz, text) gets the empty key.
inline EventTupleKey event_tuple_key(std::string_view tuple) {
  // int16 field count | int32 16, uuid | int32 8, int64 ts | int32 n, tenant bytes
  constexpr size_t kTsAt = 2 + 4 + 16 + 4;
  constexpr size_t kTenantAt = kTsAt + 8 + 4;
  const auto be32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, tuple.data() + at, 4);
    return __builtin_bswap32(v);
  };
  EventTupleKey key;
  if (tuple.size() < kTenantAt || be32(2) != 16 || be32(kTsAt - 4) != 8) return key;
  const uint32_t tenant_size = be32(kTenantAt - 4);
  if (tenant_size > tuple.size() - kTenantAt) return key;  // also NULL (0xFFFFFFFF)
  uint64_t ts;
  std::memcpy(&ts, tuple.data() + kTsAt, 8);
  key.ts = __builtin_bswap64(ts) ^ (uint64_t{1} << 63);
  key.tenant = tuple.substr(kTenantAt, tenant_size);
  return key;
}

}  // namespace sentinel
