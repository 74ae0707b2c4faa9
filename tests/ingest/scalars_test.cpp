#include "ingest/scalars.h"

#include <gtest/gtest.h>

#include <ctime>
#include <string>

namespace sentinel {
namespace {

int64_t nanos(std::string_view text) {
  const DecimalResult r = parse_decimal_nanos(text);
  EXPECT_TRUE(r.ok()) << text << ": " << describe(r.error);
  return r.nanos;
}

DecimalError decimal_error(std::string_view text) { return parse_decimal_nanos(text).error; }

TEST(DecimalNanos, ReadsPlainDecimalsExactly) {
  EXPECT_EQ(nanos("0"), 0);
  EXPECT_EQ(nanos("1"), 1'000'000'000);
  EXPECT_EQ(nanos("0.000000001"), 1);
  EXPECT_EQ(nanos("1.5"), 1'500'000'000);
  EXPECT_EQ(nanos("0.0123"), 12'300'000);
  EXPECT_EQ(nanos("123.456789012"), 123'456'789'012);
  EXPECT_EQ(nanos("0.1"), 100'000'000);  // not 0.1000000000000000055511151231257827 as a double
  EXPECT_EQ(nanos("0.30000000000000004"), 300'000'000);
  EXPECT_EQ(nanos("4.000"), 4'000'000'000);
}

TEST(DecimalNanos, NegativeZeroIsZero) {
  EXPECT_EQ(nanos("-0"), 0);
  EXPECT_EQ(nanos("-0.0"), 0);
  EXPECT_EQ(nanos("-0.000000000000"), 0);
  EXPECT_EQ(nanos("-0e5"), 0);
  EXPECT_EQ(nanos("0e999999999999999999999"), 0);
}

TEST(DecimalNanos, NegativeValuesAreReported) {
  EXPECT_EQ(decimal_error("-1"), DecimalError::kNegative);
  EXPECT_EQ(decimal_error("-0.000000001"), DecimalError::kNegative);
  // Negative even when it would round to zero nano-units.
  EXPECT_EQ(decimal_error("-1e-20"), DecimalError::kNegative);
}

TEST(DecimalNanos, RoundsHalfEvenAtTheTenthFractionDigit) {
  EXPECT_EQ(nanos("0.0000000005"), 0);  // tie, 0 is even
  EXPECT_EQ(nanos("0.0000000015"), 2);  // tie, 1 is odd
  EXPECT_EQ(nanos("0.0000000025"), 2);  // tie, 2 is even
  EXPECT_EQ(nanos("0.0000000035"), 4);
  EXPECT_EQ(nanos("0.00000000250000000000001"), 3);  // above the tie
  EXPECT_EQ(nanos("0.0000000024999999999"), 2);
  EXPECT_EQ(nanos("0.0000000016"), 2);
  EXPECT_EQ(nanos("0.0000000014"), 1);
  EXPECT_EQ(nanos("1.0000000005"), 1'000'000'000);
  EXPECT_EQ(nanos("1.0000000015"), 1'000'000'002);
  EXPECT_EQ(nanos("0.9999999995"), 1'000'000'000);  // carries into the integer part
  EXPECT_EQ(nanos("0.00000000049"), 0);
  EXPECT_EQ(nanos("0.00000000051"), 1);
}

TEST(DecimalNanos, AppliesExponentsExactly) {
  EXPECT_EQ(nanos("1e-9"), 1);
  EXPECT_EQ(nanos("1E-9"), 1);
  EXPECT_EQ(nanos("1.5e3"), 1'500'000'000'000);
  EXPECT_EQ(nanos("15e-1"), 1'500'000'000);
  EXPECT_EQ(nanos("1E+2"), 100'000'000'000);
  EXPECT_EQ(nanos("1e0"), 1'000'000'000);
  EXPECT_EQ(nanos("12300e-6"), 12'300'000);
  EXPECT_EQ(nanos("5e-10"), 0);   // tie to even
  EXPECT_EQ(nanos("1.5e-9"), 2);  // tie to even
  EXPECT_EQ(nanos("2.5e-9"), 2);  // tie to even
  EXPECT_EQ(nanos("6e-10"), 1);
  EXPECT_EQ(nanos("123456789e-18"), 0);
  EXPECT_EQ(nanos("1e-400"), 0);
  EXPECT_EQ(nanos("1e9"), 1'000'000'000'000'000'000);
  EXPECT_EQ(nanos("0.00001e14"), 1'000'000'000'000'000'000);
}

TEST(DecimalNanos, DetectsOverflowAtInt64Max) {
  EXPECT_EQ(nanos("9223372036.854775807"), INT64_MAX);
  EXPECT_EQ(nanos("9223372036.8547758074999"), INT64_MAX);
  EXPECT_EQ(decimal_error("9223372036.854775808"), DecimalError::kOverflow);
  EXPECT_EQ(decimal_error("9223372036.8547758075"), DecimalError::kOverflow);  // rounds up
  EXPECT_EQ(decimal_error("1e10"), DecimalError::kOverflow);
  EXPECT_EQ(decimal_error("10000000000"), DecimalError::kOverflow);
  EXPECT_EQ(decimal_error("1e400"), DecimalError::kOverflow);
  EXPECT_EQ(decimal_error("1.7976931348623157e308"), DecimalError::kOverflow);
  EXPECT_EQ(decimal_error(std::string(1000, '9')), DecimalError::kOverflow);
  EXPECT_EQ(decimal_error("1e999999999999999999999999"), DecimalError::kOverflow);
}

TEST(DecimalNanos, LongDigitStringsStayExact) {
  EXPECT_EQ(nanos("0." + std::string(1000, '0') + "1"), 0);
  EXPECT_EQ(nanos("0.000000001" + std::string(1000, '0')), 1);
  EXPECT_EQ(nanos("0.0000000005" + std::string(1000, '0') + "1"), 1);  // sticky digit far away
  EXPECT_EQ(nanos("1" + std::string(30, '0') + "e-30"), 1'000'000'000);
}

TEST(DecimalNanos, RejectsWhatIsNotJsonNumberGrammar) {
  for (std::string_view bad : {"", "-", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "1.5.5", " 1",
                               "1 ", "0x10", "NaN", "Infinity", "1,5", "1e5.5", "--1", "1_000"}) {
    EXPECT_EQ(decimal_error(bad), DecimalError::kSyntax) << bad;
    EXPECT_FALSE(is_json_number(bad)) << bad;
  }
  for (std::string_view good : {"0", "-0", "1.0e-5", "12E+3", "9.99"}) {
    EXPECT_TRUE(is_json_number(good)) << good;
  }
}

TEST(JsonInteger, ReadsInt64Exactly) {
  EXPECT_EQ(parse_json_integer("0").value, 0);
  EXPECT_EQ(parse_json_integer("-0").value, 0);
  EXPECT_EQ(parse_json_integer("123").value, 123);
  EXPECT_EQ(parse_json_integer("9223372036854775807").value, INT64_MAX);
  EXPECT_EQ(parse_json_integer("-9223372036854775808").value, INT64_MIN);
  EXPECT_EQ(parse_json_integer("9223372036854775808").error, IntegerError::kOutOfRange);
  EXPECT_EQ(parse_json_integer("-9223372036854775809").error, IntegerError::kOutOfRange);
  EXPECT_EQ(parse_json_integer("99999999999999999999").error, IntegerError::kOutOfRange);
  EXPECT_EQ(parse_json_integer("1.0").error, IntegerError::kNotInteger);
  EXPECT_EQ(parse_json_integer("1e3").error, IntegerError::kNotInteger);
  EXPECT_EQ(parse_json_integer("01").error, IntegerError::kSyntax);
  EXPECT_EQ(parse_json_integer("").error, IntegerError::kSyntax);
}

int64_t ts(std::string_view text) {
  const TimestampResult r = parse_timestamp(text);
  EXPECT_TRUE(r.ok()) << text << ": " << describe(r.error);
  return r.unix_micros;
}

TimestampError ts_error(std::string_view text) { return parse_timestamp(text).error; }

int64_t timegm_micros(int year, int month, int day, int hour, int minute, int second) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1'000'000;
}

TEST(Timestamp, MatchesTimegmAcrossYearsAndMonths) {
  EXPECT_EQ(ts("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ts("2000-01-01T00:00:00Z"), 946'684'800'000'000);
  EXPECT_EQ(ts("1969-12-31T23:59:59Z"), -1'000'000);
  for (int year : {1900, 1969, 1999, 2000, 2024, 2025, 2026, 2100, 2400, 9999}) {
    for (int month = 1; month <= 12; ++month) {
      for (int day : {1, 15, 28}) {
        char text[32];
        std::snprintf(text, sizeof text, "%04d-%02d-%02dT13:45:07Z", year, month, day);
        EXPECT_EQ(ts(text), timegm_micros(year, month, day, 13, 45, 7)) << text;
      }
    }
  }
}

TEST(Timestamp, ChecksLeapYears) {
  EXPECT_EQ(ts("2024-02-29T00:00:00Z"), timegm_micros(2024, 2, 29, 0, 0, 0));
  EXPECT_EQ(ts("2000-02-29T00:00:00Z"), timegm_micros(2000, 2, 29, 0, 0, 0));
  EXPECT_EQ(ts_error("2026-02-29T00:00:00Z"), TimestampError::kDay);
  EXPECT_EQ(ts_error("1900-02-29T00:00:00Z"), TimestampError::kDay);
  EXPECT_EQ(ts_error("2100-02-29T00:00:00Z"), TimestampError::kDay);
  EXPECT_EQ(ts_error("2024-02-30T00:00:00Z"), TimestampError::kDay);
}

TEST(Timestamp, RejectsImpossibleDatesAndTimes) {
  EXPECT_EQ(ts_error("2026-13-01T00:00:00Z"), TimestampError::kMonth);
  EXPECT_EQ(ts_error("2026-00-01T00:00:00Z"), TimestampError::kMonth);
  EXPECT_EQ(ts_error("2026-04-31T00:00:00Z"), TimestampError::kDay);
  EXPECT_EQ(ts_error("2026-01-00T00:00:00Z"), TimestampError::kDay);
  EXPECT_EQ(ts_error("2026-01-32T00:00:00Z"), TimestampError::kDay);
  EXPECT_EQ(ts_error("2026-01-01T24:00:00Z"), TimestampError::kHour);
  EXPECT_EQ(ts_error("2026-01-01T00:60:00Z"), TimestampError::kMinute);
  EXPECT_EQ(ts_error("2026-12-31T23:59:60Z"), TimestampError::kSecond);  // no leap seconds
  EXPECT_EQ(ts_error("2026-01-01T00:00:00+24:00"), TimestampError::kOffset);
  EXPECT_EQ(ts_error("2026-01-01T00:00:00+12:60"), TimestampError::kOffset);
}

TEST(Timestamp, RejectsWhatIsNotRfc3339) {
  for (std::string_view bad :
       {"", "2026-11-15", "2026-11-15T12:00:00", "2026-11-15T12:00Z", "2026-11-15T12:00:00.Z",
        "2026-11-15T12:00:00.1234567890Z", "2026-11-15T12:00:00+0200", "2026-11-15T12:00:00+02",
        "2026-11-15T12:00:00Zjunk", "2026-11-15T12:00:00Z ", " 2026-11-15T12:00:00Z",
        "2026-1-15T12:00:00Z", "2026/11/15T12:00:00Z", "2026-11-15X12:00:00Z",
        "2026-11-15T12:00:00UTC", "+2026-11-15T12:00:00Z", "2026-11-15T12:00:00,5Z",
        "20261115T120000Z", "2026-11-15T12:00:00.5+02:00x"}) {
    EXPECT_EQ(ts_error(bad), TimestampError::kSyntax) << bad;
  }
}

TEST(Timestamp, AppliesOffsets) {
  const int64_t utc = ts("2026-11-15T10:00:00Z");
  EXPECT_EQ(ts("2026-11-15T12:00:00+02:00"), utc);
  EXPECT_EQ(ts("2026-11-15T04:30:00-05:30"), utc);
  EXPECT_EQ(ts("2026-11-15T10:00:00-00:00"), utc);
  EXPECT_EQ(ts("2026-11-15T10:00:00+00:00"), utc);
  EXPECT_EQ(ts("2026-11-16T09:59:00+23:59"), utc);
  EXPECT_EQ(ts("2026-11-14T10:01:00-23:59"), utc);
  EXPECT_EQ(ts("2027-01-01T01:00:00+02:00"), ts("2026-12-31T23:00:00Z"));  // across a year
}

TEST(Timestamp, AcceptsLowercaseAndSpaceSeparators) {
  const int64_t utc = ts("2026-11-15T10:00:00Z");
  EXPECT_EQ(ts("2026-11-15t10:00:00z"), utc);
  EXPECT_EQ(ts("2026-11-15 10:00:00Z"), utc);
}

TEST(Timestamp, ReadsZeroToNineFractionDigits) {
  const int64_t base = ts("2026-11-15T10:00:00Z");
  EXPECT_EQ(ts("2026-11-15T10:00:00.1Z") - base, 100'000);
  EXPECT_EQ(ts("2026-11-15T10:00:00.12Z") - base, 120'000);
  EXPECT_EQ(ts("2026-11-15T10:00:00.123Z") - base, 123'000);
  EXPECT_EQ(ts("2026-11-15T10:00:00.1234Z") - base, 123'400);
  EXPECT_EQ(ts("2026-11-15T10:00:00.12345Z") - base, 123'450);
  EXPECT_EQ(ts("2026-11-15T10:00:00.123456Z") - base, 123'456);
  EXPECT_EQ(ts("2026-11-15T10:00:00.1234564Z") - base, 123'456);
  EXPECT_EQ(ts("2026-11-15T10:00:00.1234566Z") - base, 123'457);
  EXPECT_EQ(ts("2026-11-15T10:00:00.1234565Z") - base, 123'456);    // tie, even
  EXPECT_EQ(ts("2026-11-15T10:00:00.1234575Z") - base, 123'458);    // tie, odd
  EXPECT_EQ(ts("2026-11-15T10:00:00.123456500Z") - base, 123'456);  // tie, even
  EXPECT_EQ(ts("2026-11-15T10:00:00.123456501Z") - base, 123'457);
  EXPECT_EQ(ts("2026-11-15T10:00:00.123456789Z") - base, 123'457);
  EXPECT_EQ(ts("2026-11-15T10:00:00.000000000Z") - base, 0);
  EXPECT_EQ(ts("2026-11-15T10:00:00.9999995Z") - base, 1'000'000);  // carries into the second
  EXPECT_EQ(ts("2026-11-15T10:00:00.5+01:00") - base, -3600'000'000 + 500'000);
}

TEST(Uuid, ReadsCanonicalFormInEitherCase) {
  const std::array<uint8_t, 16> expected = {0x6f, 0x1c, 0x1b, 0x9e, 0x8d, 0x2a, 0x4c, 0x59,
                                            0x9f, 0x0e, 0x2b, 0x7a, 0x4d, 0x1e, 0x3c, 0x55};
  EXPECT_EQ(parse_uuid("6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c55"), expected);
  EXPECT_EQ(parse_uuid("6F1C1B9E-8D2A-4C59-9F0E-2B7A4D1E3C55"), expected);
  EXPECT_EQ(parse_uuid("6f1C1b9E-8d2A-4c59-9F0e-2b7a4D1e3c55"), expected);
  const std::array<uint8_t, 16> zero{};
  EXPECT_EQ(parse_uuid("00000000-0000-0000-0000-000000000000"), zero);
}

TEST(Uuid, RejectsOtherForms) {
  for (std::string_view bad :
       {"", "6f1c1b9e8d2a4c599f0e2b7a4d1e3c55", "{6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c55}",
        "6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c5", "6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c555",
        "6f1c1b9e-8d2a4-c59-9f0e-2b7a4d1e3c55", "6f1c1b9g-8d2a-4c59-9f0e-2b7a4d1e3c55",
        "6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e3c5 ", "6f1c1b9e_8d2a_4c59_9f0e_2b7a4d1e3c55",
        "urn:uuid:6f1c1b9e-8d2a-4c59-9f0e-2b7a4d1e"}) {
    EXPECT_FALSE(parse_uuid(bad).has_value()) << bad;
  }
}

TEST(Inet, ReadsIpv4) {
  const auto a = parse_inet("192.168.1.10");
  ASSERT_TRUE(a.has_value());
  EXPECT_FALSE(a->v6);
  EXPECT_EQ(a->bytes[0], 192);
  EXPECT_EQ(a->bytes[1], 168);
  EXPECT_EQ(a->bytes[2], 1);
  EXPECT_EQ(a->bytes[3], 10);
  EXPECT_TRUE(parse_inet("0.0.0.0").has_value());
  EXPECT_TRUE(parse_inet("255.255.255.255").has_value());
}

TEST(Inet, ReadsIpv6) {
  const auto a = parse_inet("2001:db8::1");
  ASSERT_TRUE(a.has_value());
  EXPECT_TRUE(a->v6);
  const std::array<uint8_t, 16> expected = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0,
                                            0,    0,    0,    0,    0, 0, 0, 1};
  EXPECT_EQ(a->bytes, expected);
  EXPECT_TRUE(parse_inet("::1").has_value());
  EXPECT_TRUE(parse_inet("::").has_value());
  EXPECT_TRUE(parse_inet("2001:DB8:0:0:8:800:200C:417A").has_value());
  const auto mapped = parse_inet("::ffff:192.0.2.1");
  ASSERT_TRUE(mapped.has_value());
  EXPECT_TRUE(mapped->v6);
  EXPECT_EQ(mapped->bytes[10], 0xff);
  EXPECT_EQ(mapped->bytes[15], 1);
}

TEST(Inet, RejectsZonesPrefixesAndJunk) {
  const std::string_view bads[] = {"",
                                   "256.1.1.1",
                                   "1.2.3",
                                   "1.2.3.4.5",
                                   "01.2.3.4",
                                   " 1.2.3.4",
                                   "1.2.3.4 ",
                                   "10.0.0.0/8",
                                   "2001:db8::1/64",
                                   "fe80::1%eth0",
                                   "gggg::1",
                                   "1:2:3:4:5:6:7:8:9",
                                   "localhost",
                                   "::ffff:999.0.2.1",
                                   std::string_view("1.2.3.4\0junk", 12),
                                   "1111:2222:3333:4444:5555:6666:7777:8888:9999:0000"};
  for (std::string_view bad : bads) {
    EXPECT_FALSE(parse_inet(bad).has_value()) << bad;
  }
}

TEST(Utf8Length, CountsCodePoints) {
  EXPECT_EQ(utf8_length(""), 0u);
  EXPECT_EQ(utf8_length("abc"), 3u);
  EXPECT_EQ(utf8_length("\xc3\xa9"), 1u);                              // é
  EXPECT_EQ(utf8_length("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"), 3u);  // 日本語
  EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80!"), 2u);                     // 😀!
}

TEST(DaysFromCivil, MatchesKnownDays) {
  EXPECT_EQ(days_from_civil(1970, 1, 1), 0);
  EXPECT_EQ(days_from_civil(1969, 12, 31), -1);
  EXPECT_EQ(days_from_civil(2000, 1, 1), 10957);
  EXPECT_EQ(days_from_civil(2026, 11, 1), 20758);
}

}  // namespace
}  // namespace sentinel
