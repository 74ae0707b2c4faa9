// Rows encoded by sentinel::CopyEncoder, sent with COPY ... FROM STDIN (FORMAT binary), read back
// as PostgreSQL's text: every column type the encoder writes, at its edges.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "rows/copy_encoder.h"
#include "tests/support/test_db.h"

namespace sentinel {
namespace {

using testing::TestDb;

constexpr int16_t kFields = 11;
constexpr const char* kNull = "<NULL>";

std::array<uint8_t, 16> uuid_bytes(uint8_t first, uint8_t step) {
  std::array<uint8_t, 16> u{};
  for (int i = 0; i < 16; ++i) u[i] = static_cast<uint8_t>(first + i * step);
  return u;
}

InetAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  InetAddress ip;
  ip.bytes = {a, b, c, d};
  return ip;
}

InetAddress v6(std::initializer_list<uint16_t> groups) {
  InetAddress ip;
  ip.v6 = true;
  int i = 0;
  for (const uint16_t g : groups) {
    ip.bytes[i++] = static_cast<uint8_t>(g >> 8);
    ip.bytes[i++] = static_cast<uint8_t>(g);
  }
  return ip;
}

class CopyEncodingPg : public ::testing::Test {
 protected:
  using Conn = std::unique_ptr<PGconn, decltype(&PQfinish)>;
  using Result = std::unique_ptr<PGresult, decltype(&PQclear)>;

  void SetUp() override {
    db_.query(
        "CREATE TABLE scratch (n int4, u uuid, t timestamptz, s text, i4 int4, i8 int8, "
        "num numeric(20,9), ip inet, j jsonb, b bytea, d date)");
  }

  // One tuple: n, then the other ten fields through `fill`.
  void row(int32_t n, const std::function<void(CopyEncoder&)>& fill) {
    CopyEncoder e(tuples_);
    e.begin_row(kFields);
    e.int4(n);
    fill(e);
  }
  // A row with only the numeric column set.
  void numeric_row(int32_t n, int64_t nanos) {
    row(n, [&](CopyEncoder& e) {
      for (int i = 0; i < 5; ++i) e.null();
      e.numeric_nanos(nanos);
      for (int i = 0; i < 4; ++i) e.null();
    });
  }

  void copy_in() {
    Conn conn(PQconnectdb(db_.direct_url().c_str()), &PQfinish);
    ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
    Result begin(PQexec(conn.get(), "COPY scratch FROM STDIN (FORMAT binary)"), &PQclear);
    ASSERT_EQ(PQresultStatus(begin.get()), PGRES_COPY_IN) << PQerrorMessage(conn.get());
    std::string stream(kCopyHeader);
    stream += tuples_;
    stream += kCopyTrailer;
    ASSERT_EQ(PQputCopyData(conn.get(), stream.data(), static_cast<int>(stream.size())), 1);
    ASSERT_EQ(PQputCopyEnd(conn.get(), nullptr), 1);
    Result end(PQgetResult(conn.get()), &PQclear);
    ASSERT_EQ(PQresultStatus(end.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(end.get());
  }

  // Every row as text (NULL as kNull), in order of n, in UTC.
  std::vector<std::vector<std::string>> read_back() {
    Conn conn(PQconnectdb(db_.direct_url().c_str()), &PQfinish);
    Result r(PQexec(conn.get(),
                    "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET bytea_output = 'hex'; "
                    "SELECT * FROM scratch ORDER BY n"),
             &PQclear);
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << PQresultErrorMessage(r.get());
    std::vector<std::vector<std::string>> out;
    for (int i = 0; i < PQntuples(r.get()); ++i) {
      std::vector<std::string> fields;
      for (int j = 0; j < PQnfields(r.get()); ++j) {
        fields.push_back(PQgetisnull(r.get(), i, j)
                             ? kNull
                             : std::string(PQgetvalue(r.get(), i, j), PQgetlength(r.get(), i, j)));
      }
      out.push_back(std::move(fields));
    }
    return out;
  }

  TestDb db_;
  std::string tuples_;
};

TEST_F(CopyEncodingPg, EveryTypeReadsBackExactly) {
  std::string all_bytes;
  std::string all_bytes_hex = "\\x";
  for (int i = 0; i < 256; ++i) {
    all_bytes.push_back(static_cast<char>(i));
    constexpr char kHex[] = "0123456789abcdef";
    all_bytes_hex += kHex[i >> 4];
    all_bytes_hex += kHex[i & 15];
  }
  const std::string non_ascii =
      "h\xc3\xa9llo w\xc3\xb6rld \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac "
      "\xf0\x9f\x9a\x80";
  const std::string awkward = "tab\there\nnewline \\backslash \"quote\" 'apostrophe' |";

  row(0, [&](CopyEncoder& e) {
    e.uuid(uuid_bytes(0x00, 0x11));
    e.timestamptz(1'796'083'199'999'999);  // 2026-11-30T23:59:59.999999Z
    e.text("plain ascii");
    e.int4(std::numeric_limits<int32_t>::min());
    e.int8(std::numeric_limits<int64_t>::min());
    e.numeric_nanos(0);
    e.inet(v4(192, 168, 0, 1));
    e.jsonb(R"({"a":1})");
    e.bytea(all_bytes);
    e.date(20758);  // 2026-11-01
  });
  row(1, [&](CopyEncoder& e) {
    e.uuid(uuid_bytes(0xff, 0));
    e.timestamptz(0);
    e.text(non_ascii);
    e.int4(std::numeric_limits<int32_t>::max());
    e.int8(std::numeric_limits<int64_t>::max());
    e.numeric_nanos(1'000'000'000);
    e.inet(v6({0, 0, 0, 0, 0, 0, 0, 1}));
    e.jsonb("[1,\"x\",null,{\"k\":\"\xc3\xbc\"}]");
    e.bytea("");
    e.date(0);
  });
  row(2, [&](CopyEncoder& e) {
    e.uuid(uuid_bytes(0, 0));
    e.timestamptz(-1);
    e.text("");
    e.int4(0);
    e.int8(-1);
    e.numeric_nanos(1);
    e.inet(v6({0x2001, 0xdb8, 0, 0, 0, 0xff00, 0x42, 0x8329}));
    e.jsonb("\"str\"");
    e.bytea(std::string(1, '\0'));
    e.date(-1);
  });
  row(3, [&](CopyEncoder& e) {
    e.uuid(uuid_bytes(0x12, 1));
    e.timestamptz(kPgEpochOffsetMicros);
    e.text(awkward);
    e.int4(-1);
    e.int8(4'294'967'296);
    e.numeric_nanos(123'456'789'123'456'789);
    e.inet(v4(255, 255, 255, 255));
    e.jsonb(R"({"b":{"c":[true,false]},"a":1.50})");
    e.bytea("\\x");
    e.date(10957);  // 2000-01-01
  });
  row(4, [&](CopyEncoder& e) {
    e.uuid(uuid_bytes(0xa0, 3));
    e.timestamptz(253'402'300'799'999'999);  // 9999-12-31T23:59:59.999999Z
    e.text(std::string(100'000, 'x'));
    e.int4(42);
    e.int8(0);
    e.numeric_nanos(std::numeric_limits<int64_t>::max());
    e.inet(v6({0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304}));
    e.jsonb("{}");
    e.bytea("\xff");
    e.date(2'932'896);  // 9999-12-31
  });
  row(5, [&](CopyEncoder& e) {
    for (int i = 0; i < kFields - 1; ++i) e.null();
  });
  const int64_t numerics[] = {
      10'000'000'000'000,         // 10000: a whole base-10000 digit, nothing after the point
      100'000'000'000'000'001,    // 100000000.000000001: zero digits inside
      100'000,                    // 0.0001
      1'500'000'000,              // 1.5
      999'999'999,                // 0.999999999
      9'999'000'000'000,          // 9999
      1'000'000,                  // 0.001
      5'000'000'000'000'000'000,  // 5000000000
      123'400'000,                // 0.1234
  };
  for (size_t i = 0; i < std::size(numerics); ++i) {
    numeric_row(static_cast<int32_t>(10 + i), numerics[i]);
  }
  copy_in();

  const std::vector<std::vector<std::string>> rows = read_back();
  ASSERT_EQ(rows.size(), 6u + std::size(numerics));
  using Row = std::vector<std::string>;
  EXPECT_EQ(rows[0],
            (Row{"0", "00112233-4455-6677-8899-aabbccddeeff", "2026-11-30 23:59:59.999999+00",
                 "plain ascii", "-2147483648", "-9223372036854775808", "0.000000000", "192.168.0.1",
                 "{\"a\": 1}", all_bytes_hex, "2026-11-01"}));
  EXPECT_EQ(rows[1], (Row{"1", "ffffffff-ffff-ffff-ffff-ffffffffffff", "1970-01-01 00:00:00+00",
                          non_ascii, "2147483647", "9223372036854775807", "1.000000000", "::1",
                          "[1, \"x\", null, {\"k\": \"\xc3\xbc\"}]", "\\x", "1970-01-01"}));
  EXPECT_EQ(rows[2], (Row{"2", "00000000-0000-0000-0000-000000000000",
                          "1969-12-31 23:59:59.999999+00", "", "0", "-1", "0.000000001",
                          "2001:db8::ff00:42:8329", "\"str\"", "\\x00", "1969-12-31"}));
  EXPECT_EQ(rows[3],
            (Row{"3", "12131415-1617-1819-1a1b-1c1d1e1f2021", "2000-01-01 00:00:00+00", awkward,
                 "-1", "4294967296", "123456789.123456789", "255.255.255.255",
                 "{\"a\": 1.50, \"b\": {\"c\": [true, false]}}", "\\x5c78", "2000-01-01"}));
  EXPECT_EQ(rows[4], (Row{"4", "a0a3a6a9-acaf-b2b5-b8bb-bec1c4c7cacd",
                          "9999-12-31 23:59:59.999999+00", std::string(100'000, 'x'), "42", "0",
                          "9223372036.854775807", "::ffff:1.2.3.4", "{}", "\\xff", "9999-12-31"}));
  Row nulls(kFields, kNull);
  nulls[0] = "5";
  EXPECT_EQ(rows[5], nulls);
  const char* expected_numerics[] = {
      "10000.000000000", "100000000.000000001",  "0.000100000",
      "1.500000000",     "0.999999999",          "9999.000000000",
      "0.001000000",     "5000000000.000000000", "0.123400000",
  };
  for (size_t i = 0; i < std::size(numerics); ++i) {
    EXPECT_EQ(rows[6 + i][6], expected_numerics[i]) << numerics[i] << " nano-units";
  }
}

// numeric_nanos' bytes must be what PostgreSQL itself sends for the same value, so that the
// server stores an identical numeric (same digits, weight and display scale).
TEST_F(CopyEncodingPg, NumericBytesEqualPostgresOwnBinaryForm) {
  for (const int64_t nanos :
       {int64_t{0}, int64_t{1}, int64_t{1'000'000'000}, int64_t{123'456'789'123'456'789},
        std::numeric_limits<int64_t>::max(), int64_t{10'000'000'000'000}}) {
    std::string ours;
    CopyEncoder(ours).numeric_nanos(nanos);
    const std::string text = std::to_string(nanos / 1'000'000'000) + "." +
                             std::string(9 - std::to_string(nanos % 1'000'000'000).size(), '0') +
                             std::to_string(nanos % 1'000'000'000);
    const std::string hex =
        db_.query("SELECT encode(numeric_send('" + text + "'::numeric(20,9)), 'hex')");
    std::string theirs;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      theirs.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    // Ours carries the 4-byte field length first.
    ASSERT_GE(ours.size(), 4u);
    EXPECT_EQ(ours.substr(4), theirs) << text;
  }
}

/// `units` × 10^-scale as decimal text with exactly `scale` fraction digits ("-0.05" at 2).
std::string decimal_text(int64_t units, int scale) {
  const bool negative = units < 0;
  const uint64_t magnitude =
      negative ? ~static_cast<uint64_t>(units) + 1 : static_cast<uint64_t>(units);
  uint64_t pow = 1;
  for (int i = 0; i < scale; ++i) pow *= 10;
  std::string text = (negative ? "-" : "") + std::to_string(magnitude / pow);
  if (scale == 0) return text;
  const std::string fraction = std::to_string(magnitude % pow);
  return text + "." + std::string(static_cast<size_t>(scale) - fraction.size(), '0') + fraction;
}

// CopyEncoder::numeric at any scale and sign (numeric(p,s) properties of any event type): the
// bytes PostgreSQL itself sends for numeric(38, s), so that the server stores the same value.
TEST_F(CopyEncodingPg, NumericAtAnyScaleAndSignEqualsPostgresOwnBinaryForm) {
  const std::pair<int64_t, int> cases[] = {
      {0, 0},
      {0, 4},
      {-1, 0},
      {42, 0},
      {-5, 3},
      {8766, 4},
      {-8766, 4},
      {10000, 4},
      {-12345, 2},
      {1, 18},
      {-1, 18},
      {123'456'789'012'345'678, 18},
      {99'999, 5},
      {-100'000, 5},
      {1'500'000'000, 9},
      {-1'500'000'000, 9},
      {7, 16},
      {-7, 17},
      {std::numeric_limits<int64_t>::max(), 0},
      {std::numeric_limits<int64_t>::max(), 18},
      {std::numeric_limits<int64_t>::min(), 6},
  };
  for (const auto& [units, scale] : cases) {
    std::string ours;
    CopyEncoder(ours).numeric(units, scale);
    const std::string text = decimal_text(units, scale);
    const std::string hex = db_.query("SELECT encode(numeric_send('" + text + "'::numeric(38," +
                                      std::to_string(scale) + ")), 'hex')");
    std::string theirs;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) {
      theirs.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    }
    ASSERT_GE(ours.size(), 4u);
    EXPECT_EQ(ours.substr(4), theirs) << text;
  }
}

TEST_F(CopyEncodingPg, BooleanIsPostgresOwnBinaryForm) {
  for (const bool v : {true, false}) {
    std::string ours;
    CopyEncoder(ours).boolean(v);
    const std::string hex =
        db_.query(std::string("SELECT encode(boolsend(") + (v ? "true" : "false") + "), 'hex')");
    EXPECT_EQ(ours, std::string("\0\0\0\1", 4) + (v ? '\1' : '\0')) << hex;
    EXPECT_EQ(hex, v ? "01" : "00");
  }
}

}  // namespace
}  // namespace sentinel
