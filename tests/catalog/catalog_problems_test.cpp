// Every bad catalog file is a clear error : each problem names the file, the JSON
// pointer of the value at fault and a fix, and all of them are reported at once.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"

namespace sentinel {
namespace {

constexpr std::string_view kFile = "probe.schema.json";

/// The x-sentinel members of the probe type with `changes` applied: a key's value replaced (or
/// added at the end), or removed when the new value is empty.
std::string sentinel_with(
    std::initializer_list<std::pair<std::string_view, std::string_view>> changes = {}) {
  std::vector<std::pair<std::string_view, std::string_view>> members = {
      {"name", R"j("probe")j"},
      {"topic", R"j("probe.events")j"},
      {"table", R"j("probe_events")j"},
      {"partition_by", R"j("ts")j"}};
  for (const auto& [key, value] : changes) {
    const auto it = std::find_if(members.begin(), members.end(),
                                 [key = key](const auto& m) { return m.first == key; });
    if (it != members.end()) {
      it->second = value;
    } else {
      members.emplace_back(key, value);
    }
  }
  std::string out;
  for (const auto& [key, value] : members) {
    if (value.empty()) continue;
    out += (out.empty() ? "\"" : ", \"") + std::string(key) + "\": " + std::string(value);
  }
  return out;
}

constexpr std::string_view kRequired = R"j(["id", "ts", "tenant_id", "kind"])j";

/// A valid schema with `properties` (a comma-led list of members) added, `sentinel` as the
/// members of x-sentinel and `required` as the required list.
std::string schema(std::string_view properties = "", const std::string& sentinel = sentinel_with(),
                   std::string_view required = kRequired) {
  return R"j({
  "type": "object",
  "x-sentinel": {)j" +
         sentinel + R"j(},
  "required": )j" +
         std::string(required) +
         R"j(,
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "ts": {"type": ["string", "integer"], "format": "date-time"},
    "tenant_id": {"type": "string"},
    "kind": {"type": "string"},
    "amount": {"type": ["number", "string"], "x-pg-type": "numeric(12,2)"},
    "tokens": {"type": "integer"},
    "note": {"type": "string"},
    "meta": {"type": "object"})j" +
         std::string(properties) + R"j(
  }
}
)j";
}

/// x-sentinel members with one rollup whose members are `rollup`.
std::string with_rollup(std::string_view rollup) {
  const std::string rollups = "[{" + std::string(rollup) + "}]";
  return sentinel_with({{"rollups", rollups}});
}

constexpr std::string_view kRollup =
    R"j("table": "probe_daily", "key": ["tenant_id", "kind"], "periods": ["day"], "count": "n")j";

std::vector<CatalogProblem> problems_of(const std::string& text) {
  try {
    load_event_type(text, std::string(kFile));
  } catch (const CatalogError& e) {
    return e.problems();
  }
  return {};
}

struct Case {
  const char* name;
  std::string text;
  const char* pointer;
  const char* message;   ///< a part of the problem's message
  const char* fix = "";  ///< a part of the problem's fix
};

class CatalogProblems : public ::testing::TestWithParam<Case> {};

TEST_P(CatalogProblems, NameTheFileThePointerAndAFix) {
  const Case& c = GetParam();
  const std::vector<CatalogProblem> problems = problems_of(c.text);
  ASSERT_FALSE(problems.empty()) << "loaded:\n" << c.text;
  std::string all;
  bool found = false;
  for (const CatalogProblem& p : problems) {
    all += p.to_string() + "\n";
    EXPECT_EQ(p.file, kFile);
    EXPECT_FALSE(p.fix.empty()) << p.to_string();
    found = found || (p.pointer == c.pointer && p.message.find(c.message) != std::string::npos &&
                      p.fix.find(c.fix) != std::string::npos);
  }
  EXPECT_TRUE(found) << "expected " << c.pointer << ": ..." << c.message << "... (fix: ..." << c.fix
                     << "...); got\n"
                     << all;
}

std::string rollup(std::string_view members) {
  return schema("", with_rollup(std::string(kRollup) + std::string(members)));
}

/// A table name one byte too long to leave room for the month partitions' _YYYY_MM.
const std::string kLongTable = "\"" + std::string(56, 'a') + "\"";
/// The shortest event table name whose partitions' trigger (<table>_YYYY_MM_append_only) would
/// pass 63 bytes: PostgreSQL truncates it, and names collide.
const std::string kTable44 = "\"" + std::string(44, 'a') + "\"";
/// The shortest rollup table name whose primary key (<table>_pkey) would pass 63 bytes.
const std::string kRollup59 = "\"" + std::string(59, 'r') + "\"";

std::string rollup_table(const std::string& table) {
  return schema("", with_rollup(R"j("table": )j" + table +
                                R"j(, "key": ["tenant_id"], "periods": ["day"], "count": "n")j"));
}
std::string rollup_key(std::string_view key) {
  return schema("", with_rollup(R"j("table": "probe_daily", "key": )j" + std::string(key) +
                                R"j(, "periods": ["day"], "count": "n")j"));
}

const Case kCases[] = {
    // Keywords the ingestor does not implement.
    {"Pattern", schema(R"j(, "code": {"type": "string", "pattern": "^[a-z]+$"})j"),
     "/properties/code/pattern", "unsupported keyword \"pattern\""},
    {"OneOf", schema(R"j(, "code": {"oneOf": [{"type": "string"}, {"type": "integer"}]})j"),
     "/properties/code/oneOf", "unsupported keyword \"oneOf\""},
    {"Ref", schema(R"j(, "code": {"$ref": "#/$defs/code"})j"), "/properties/code/$ref",
     "unsupported keyword \"$ref\""},
    {"AdditionalProperties", schema(R"j(}, "additionalProperties": {"type": "string")j"),
     "/additionalProperties", "unsupported keyword \"additionalProperties\""},
    {"ExclusiveMinimum", schema(R"j(, "n": {"type": "integer", "exclusiveMinimum": 0})j"),
     "/properties/n/exclusiveMinimum", "unsupported keyword \"exclusiveMinimum\""},
    // Types.
    {"UnknownType", schema(R"j(, "n": {"type": "float"})j"), "/properties/n/type",
     "unknown type \"float\""},
    {"NoType", schema(R"j(, "n": {"description": "what?"})j"), "/properties/n", "no type"},
    {"MixedTypes", schema(R"j(, "n": {"type": ["string", "boolean"]})j"), "/properties/n/type",
     "different columns"},
    {"UnknownPgType", schema(R"j(, "code": {"type": "string", "x-pg-type": "varchar(10)"})j"),
     "/properties/code/x-pg-type", "unknown x-pg-type \"varchar(10)\""},
    {"PgTypeContradictsType", schema(R"j(, "code": {"type": "string", "x-pg-type": "bigint"})j"),
     "/properties/code/x-pg-type", "contradicts"},
    {"JsonbOnAString", schema(R"j(, "code": {"type": "string", "x-pg-type": "jsonb"})j"),
     "/properties/code/x-pg-type", "contradicts"},
    {"NumberWithoutNumeric", schema(R"j(, "price": {"type": "number"})j"), "/properties/price",
     "needs x-pg-type numeric(p,s)"},
    {"NumericPrecisionTooLarge",
     schema(R"j(, "price": {"type": "number", "x-pg-type": "numeric(40,2)"})j"),
     "/properties/price/x-pg-type", "out of range"},
    {"NumericScaleAbovePrecision",
     schema(R"j(, "price": {"type": "number", "x-pg-type": "numeric(4,6)"})j"),
     "/properties/price/x-pg-type", "out of range"},
    {"UnknownFormat", schema(R"j(, "mail": {"type": "string", "format": "email"})j"),
     "/properties/mail/format", "unknown format \"email\""},
    {"DateTimeFormatOnABoolean",
     schema(R"j(, "seen": {"type": "boolean", "format": "date-time"})j"), "/properties/seen/type",
     "format date-time needs type string, integer or [string, integer]"},
    {"UuidFormatOnAnInteger", schema(R"j(, "ref": {"type": "integer", "format": "uuid"})j"),
     "/properties/ref/type", "format uuid needs type string"},
    // Partitioning.
    {"MissingPartitionBy", schema("", sentinel_with({{"partition_by", ""}})), "/x-sentinel",
     "no partition_by"},
    {"PartitionByNotADateTime", schema("", sentinel_with({{"partition_by", R"j("tenant_id")j"}})),
     "/x-sentinel/partition_by", "not a date-time"},
    {"PartitionByNotRequired",
     schema(R"j(, "seen_at": {"type": "string", "format": "date-time"})j",
            sentinel_with({{"partition_by", R"j("seen_at")j"}})),
     "/x-sentinel/partition_by", "not required"},
    {"PartitionByUnknown", schema("", sentinel_with({{"partition_by", R"j("when")j"}})),
     "/x-sentinel/partition_by", "not a property"},
    // Names.
    {"BadTypeName", schema("", sentinel_with({{"name", R"j("Probe")j"}})), "/x-sentinel/name",
     "not a valid type name"},
    {"BadTableName", schema("", sentinel_with({{"table", R"j("Probe-Events")j"}})),
     "/x-sentinel/table", "not a plain PostgreSQL name"},
    {"TableTooLongForItsPartitions", schema("", sentinel_with({{"table", kLongTable}})),
     "/x-sentinel/table", "at most 43"},
    {"RegressionTableOf44BytesTruncatesItsTriggerNames",
     schema("", sentinel_with({{"table", kTable44}})), "/x-sentinel/table", "at most 43",
     "_YYYY_MM_append_only"},
    {"RegressionRollupTableOf59BytesTruncatesItsPrimaryKey", rollup_table(kRollup59),
     "/x-sentinel/rollups/0/table", "at most 58", "_pkey"},
    {"RegressionTableNamedLikeAMonthPartition",
     schema("", sentinel_with({{"table", R"j("audit_logs_2026_12")j"}})), "/x-sentinel/table",
     "month partition", "not ending in _YYYY_MM"},
    {"RegressionRollupTableNamedLikeAMonthPartition", rollup_table(R"j("probe_events_2026_12")j"),
     "/x-sentinel/rollups/0/table", "month partition", "not ending in _YYYY_MM"},
    {"RegressionTableNamedLikePostgresqlsOwn",
     schema("", sentinel_with({{"table", R"j("pg_events")j"}})), "/x-sentinel/table", "pg_",
     "not starting with pg_"},
    {"RegressionRollupTableNamedLikePostgresqlsOwn", rollup_table(R"j("pg_daily")j"),
     "/x-sentinel/rollups/0/table", "pg_", "not starting with pg_"},
    {"BadColumnName", schema(R"j(, "code": {"type": "string", "x-column": "Code Name"})j"),
     "/properties/code/x-column", "not a plain PostgreSQL name"},
    {"ReservedWordColumn", schema(R"j(, "user": {"type": "string"})j"), "/properties/user",
     "reserves"},
    {"ColumnNamedExtra", schema(R"j(, "extra": {"type": "object"})j"), "/properties/extra",
     "adds itself"},
    {"ColumnNamedKafkaOffset",
     schema(R"j(, "offset": {"type": "integer", "x-column": "kafka_offset"})j"),
     "/properties/offset/x-column", "adds itself"},
    {"DuplicateColumn", schema(R"j(, "tenant": {"type": "string", "x-column": "tenant_id"})j"),
     "/properties/tenant/x-column", "also the column of property \"tenant_id\""},
    {"BadSourcePath", schema(R"j(, "code": {"type": "string", "x-source": "usage..code"})j"),
     "/properties/code/x-source", "empty part"},
    // Two properties reading one field (the ingestor could not build its plan).
    {"RegressionXSourceReadsAnotherPropertysField",
     schema(R"j(, "note2": {"type": "string", "x-source": "note"})j"), "/properties/note2/x-source",
     "property \"note\" reads it too", "one property"},
    {"RegressionXSourceReadsThePartitionField",
     schema(R"j(, "when": {"type": "string", "x-source": "ts"})j"), "/properties/when/x-source",
     "property \"ts\" reads it too", "one property"},
    {"RegressionXSourceReadsInsideAnObjectProperty",
     schema(R"j(, "meta_b": {"type": "integer", "x-source": "meta.b"})j"),
     "/properties/meta_b/x-source", "inside meta, which property \"meta\" reads whole",
     "one property"},
    {"RegressionObjectPropertyHoldsAnEarlierXSource",
     schema(R"j(, "u": {"type": "integer", "x-source": "usage.n"}, "usage": {"type": "object"})j"),
     "/properties/usage", "property \"u\" reads usage.n inside it", "one property"},
    {"BadTopic", schema("", sentinel_with({{"topic", R"j("probe events")j"}})), "/x-sentinel/topic",
     "not a valid Kafka topic"},
    // Tables that are the ingestor's.
    {"OwnTableRejects", schema("", sentinel_with({{"table", R"j("ingest_rejects")j"}})),
     "/x-sentinel/table", "ingestor's own"},
    {"OwnTableCatalog", schema("", sentinel_with({{"table", R"j("sentinel_catalog")j"}})),
     "/x-sentinel/table", "ingestor's own"},
    {"CostsAsAnEventTable", schema("", sentinel_with({{"table", R"j("costs")j"}})),
     "/x-sentinel/table", "cost rollup"},
    {"CostsAsTheRollupOfAnotherType",
     schema("",
            with_rollup(
                R"j("table": "costs", "key": ["tenant_id"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/table", "cost rollup"},
    {"OwnTableAsRollup",
     schema(
         "",
         with_rollup(
             R"j("table": "schema_migrations", "key": ["tenant_id"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/table", "ingestor's own"},
    // Rollups.
    {"RollupUnknownKeyProperty",
     schema(
         "",
         with_rollup(
             R"j("table": "probe_daily", "key": ["tenant_id", "region"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/key/1", "\"region\", which is not a property"},
    {"RollupUnknownSumProperty", rollup(R"j(, "sums": {"total": "price"})j"),
     "/x-sentinel/rollups/0/sums/total", "\"price\", which is not a property"},
    {"RollupSumOfText", rollup(R"j(, "sums": {"total": "note"})j"),
     "/x-sentinel/rollups/0/sums/total", "cannot sum \"note\""},
    {"RollupKeyJsonb",
     schema("",
            with_rollup(
                R"j("table": "probe_daily", "key": ["meta"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/key/0", "cannot be keyed by \"meta\""},
    {"RollupKeyTimestamptz",
     schema("",
            with_rollup(
                R"j("table": "probe_daily", "key": ["ts"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/key/0", "cannot be keyed by \"ts\""},
    {"RollupKeyNumeric",
     schema(
         "",
         with_rollup(
             R"j("table": "probe_daily", "key": ["amount"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/key/0", "cannot be keyed by \"amount\""},
    {"RollupKeyNotRequired",
     schema("",
            with_rollup(
                R"j("table": "probe_daily", "key": ["note"], "periods": ["day"], "count": "n")j")),
     "/x-sentinel/rollups/0/key/0", "not required"},
    {"RegressionRollupEmptyKey", rollup_key("[]"), "/x-sentinel/rollups/0/key",
     "the rollup key is empty", "list the properties to group by"},
    {"RegressionRollupDuplicateKey", rollup_key(R"j(["tenant_id", "tenant_id"])j"),
     "/x-sentinel/rollups/0/key/1", "\"tenant_id\" is listed twice", "list each property once"},
    {"RollupUnknownPeriod",
     schema(
         "",
         with_rollup(
             R"j("table": "probe_daily", "key": ["tenant_id"], "periods": ["week"], "count": "n")j")),
     "/x-sentinel/rollups/0/periods/0", "unknown period \"week\""},
    {"RollupNoPeriods",
     schema("",
            with_rollup(
                R"j("table": "probe_daily", "key": ["tenant_id"], "periods": [], "count": "n")j")),
     "/x-sentinel/rollups/0/periods", "no period"},
    {"RollupCountIsAKeyColumn",
     schema(
         "",
         with_rollup(
             R"j("table": "probe_daily", "key": ["tenant_id"], "periods": ["day"], "count": "tenant_id")j")),
     "/x-sentinel/rollups/0/count", "is a key column"},
    {"RollupSumIsAKeyColumn", rollup(R"j(, "sums": {"kind": "tokens"})j"),
     "/x-sentinel/rollups/0/sums/kind", "is a key column"},
    {"RollupSumIsTheCountColumn", rollup(R"j(, "sums": {"n": "tokens"})j"),
     "/x-sentinel/rollups/0/sums/n", "is the count column"},
    {"RollupSumIsPeriodStart", rollup(R"j(, "sums": {"period_start": "tokens"})j"),
     "/x-sentinel/rollups/0/sums/period_start", "every rollup has"},
    {"RollupUnknownKey", rollup(R"j(, "every": "day")j"), "/x-sentinel/rollups/0/every",
     "unknown rollup key \"every\""},
    {"RollupWithoutCount",
     schema("",
            with_rollup(R"j("table": "probe_daily", "key": ["tenant_id"], "periods": ["day"])j")),
     "/x-sentinel/rollups/0", "no count"},
    // The rest of x-sentinel.
    {"IndexOnUnknownProperty",
     schema("", sentinel_with({{"indexes", R"j([["tenant_id", "region"]])j"}})),
     "/x-sentinel/indexes/0/1", "\"region\", which is not a property"},
    {"UnknownUnknownFields", schema("", sentinel_with({{"unknown_fields", R"j("drop")j"}})),
     "/x-sentinel/unknown_fields", "unknown unknown_fields value \"drop\""},
    {"UnknownSentinelKey", schema("", sentinel_with({{"partitions", R"j("monthly")j"}})),
     "/x-sentinel/partitions", "unknown x-sentinel key \"partitions\""},
    {"MaxAgeNotANumber", schema("", sentinel_with({{"max_age_days", R"j("400")j"}})),
     "/x-sentinel/max_age_days", "expected a whole number"},
    {"NoSentinel", R"j({"type": "object", "properties": {"ts": {"type": "string"}}})j", "",
     "no x-sentinel"},
    // Validation keywords where they cannot apply.
    {"EnumOnAnInteger", schema(R"j(, "level": {"type": "integer", "enum": [1, 2]})j"),
     "/properties/level/enum", "enum on a property stored as integer"},
    {"EnumEmpty", schema(R"j(, "level": {"type": "string", "enum": []})j"),
     "/properties/level/enum", "enum is empty"},
    {"MinLengthOnAnInteger", schema(R"j(, "level": {"type": "integer", "minLength": 1})j"),
     "/properties/level/minLength", "length limit on a property stored as integer"},
    {"MinimumOnAString", schema(R"j(, "code": {"type": "string", "minimum": 0})j"),
     "/properties/code/minimum", "not a number"},
    {"MinimumAboveMaximum",
     schema(R"j(, "level": {"type": "integer", "minimum": 5, "maximum": 1})j"),
     "/properties/level/maximum", "below minimum"},
    {"MinLengthAboveMaxLength",
     schema(R"j(, "code": {"type": "string", "minLength": 5, "maxLength": 1})j"),
     "/properties/code/maxLength", "below minLength"},
    {"BoundFinerThanTheScale",
     schema(R"j(, "price": {"type": "number", "x-pg-type": "numeric(6,2)", "minimum": 0.001})j"),
     "/properties/price/minimum", "not a whole number of the column's units"},
    {"BoundBeyondInt64",
     schema(R"j(, "big": {"type": "integer", "maximum": 9223372036854775808})j"),
     "/properties/big/maximum", "too large"},
    {"BoundBeyondThePrecision",
     schema(R"j(, "price": {"type": "number", "x-pg-type": "numeric(4,2)", "maximum": 100})j"),
     "/properties/price", "does not fit numeric(4,2)"},
    {"RegressionNumericBoundBeyondTheIngestorsUnits",
     schema(
         R"j(, "c": {"type": "number", "x-pg-type": "numeric(38,18)", "maximum": 12345678901234567890})j"),
     "/properties/c/maximum", "|value| × 10^18 ≤ 9223372036854775807", "9.223372036854775807"},
    {"RegressionRequiredPropertyAllowingNull",
     schema(R"j(, "q": {"type": ["string", "null"]})j", sentinel_with(),
            R"j(["id", "ts", "tenant_id", "kind", "q"])j"),
     "/required/4", "\"q\" allows null", "remove \"null\""},
    {"Int4TooSmallForItsBounds",
     schema(R"j(, "big": {"type": "integer", "x-pg-type": "integer", "maximum": 3000000000})j"),
     "/properties/big/x-pg-type", "cannot hold these bounds"},
    {"MinimumAsAString", schema(R"j(, "level": {"type": "integer", "minimum": "0"})j"),
     "/properties/level/minimum", "expected a number, found a string"},
    {"RequiredUnknownProperty",
     schema("", sentinel_with(), R"j(["id", "ts", "tenant_id", "kind", "region"])j"), "/required/4",
     "\"region\" is not a property"},
    {"DuplicateKey", schema(R"j(, "note": {"type": "integer"})j"), "/properties/note",
     "appears twice"},
    // Syntax.
    {"MalformedJson", "{\n  \"type\": \"object\",\n  \"title\": \"a\" \"b\",\n}\n", "",
     "malformed JSON/YAML at line 3"},
    {"MalformedYaml", "type: object\nproperties:\n  a: [1, 2\n  b: 3\n", "",
     "malformed JSON/YAML at line"},
    {"NotAnObject", "[1, 2, 3]", "", "expected an object, found a list"},
    {"RegressionYamlSecondDocumentIsNotIgnored", "type: object\n---\ntype: array\n", "",
     "2 YAML documents", "keep one document"},
    {"RegressionYamlUnknownTagIsNotIgnored",
     "type: object\nproperties:\n  n: !foo {type: string}\n", "/properties/n", "YAML tag \"!foo\"",
     "remove the tag"},
};

INSTANTIATE_TEST_SUITE_P(Catalog, CatalogProblems, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CatalogProblemsAll, EveryProblemOfAFileIsReportedAtOnce) {
  const std::vector<CatalogProblem> problems = problems_of(
      schema(R"j(, "code": {"type": "string", "pattern": "x"}, "price": {"type": "number"})j",
             sentinel_with({{"unknown_fields", R"j("drop")j"}})));
  std::vector<std::string> pointers;
  for (const CatalogProblem& p : problems) pointers.push_back(p.pointer);
  EXPECT_EQ(pointers, (std::vector<std::string>{"/properties/code/pattern", "/properties/price",
                                                "/x-sentinel/unknown_fields"}));
}

/// The pointers of a file's problems.
std::vector<std::string> pointers_of(const std::string& text) {
  std::vector<std::string> pointers;
  for (const CatalogProblem& p : problems_of(text)) pointers.push_back(p.pointer);
  return pointers;
}

TEST(CatalogProblemsAll, RegressionOneCauseIsReportedOnceNotWithItsFollowOns) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pointers_of(schema(R"j(, "n": 5)j")), V{"/properties/n"}) << "no empty x-column";
  EXPECT_EQ(pointers_of(schema(R"j(, "n": !!str 5)j")), V{"/properties/n"});
  EXPECT_EQ(pointers_of(schema(
                R"j(, "p": {"type": "number", "x-pg-type": "NUMERIC(10,2)", "minimum": 0.5})j")),
            V{"/properties/p/x-pg-type"})
      << "no minimum read at 0 fraction digits";
  EXPECT_EQ(pointers_of(schema(R"j(, "p": {"type": "number", "minimum": 0.5})j")),
            V{"/properties/p"});
}

TEST(CatalogProblemsAll, AValidSchemaHasNone) {
  EXPECT_TRUE(problems_of(schema()).empty());
  EXPECT_TRUE(
      problems_of(rollup(R"j(, "sums": {"total": "amount", "tokens": "tokens"})j")).empty());
}

TEST(CatalogProblemsAll, TheNameAndFieldLimitsAcceptTheirLastValidValue) {
  const std::string table43 = "\"" + std::string(43, 'a') + "\"";
  EXPECT_TRUE(problems_of(schema("", sentinel_with({{"table", table43}}))).empty());
  EXPECT_TRUE(problems_of(rollup_table("\"" + std::string(58, 'r') + "\"")).empty());
  EXPECT_TRUE(problems_of(schema("", sentinel_with({{"table", R"j("events_2026")j"}}))).empty());
  EXPECT_TRUE(problems_of(schema(R"j(, "a": {"type": "integer", "x-source": "usage.a"},
    "b": {"type": "integer", "x-source": "usage.b"}, "usage_n": {"type": "integer"})j"))
                  .empty());
  EXPECT_TRUE(problems_of(schema(R"j(, "c": {"type": "number", "x-pg-type": "numeric(38,18)",
    "maximum": 9.223372036854775807})j"))
                  .empty());
  EXPECT_TRUE(problems_of(rollup_key(R"j(["tenant_id", "kind"])j")).empty());
}

TEST(CatalogProblemsAll, AProblemReadsAsFilePointerMessageAndFix) {
  const std::vector<CatalogProblem> problems =
      problems_of(schema(R"j(, "code": {"type": "string", "pattern": "x"})j"));
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_EQ(problems[0].to_string().rfind(
                "probe.schema.json: /properties/code/pattern: unsupported keyword \"pattern\" "
                "(fix: remove it",
                0),
            0U)
      << problems[0].to_string();
}

}  // namespace
}  // namespace sentinel
