// The one list of event types (rows/tables.h): every layer loops over it, so it must hold one
// usable spec per EventTable. (A type added without a spec already fails to compile; this says
// which spec and why, and pins the helpers the parser's field tables are built with.)
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "rows/tables.h"

namespace sentinel {
namespace {

TEST(EventSpecs, EveryEventTypeHasAUsableSpecAtItsOwnIndex) {
  ASSERT_EQ(kEventSpecs.size(), static_cast<size_t>(kEventTableCount));
  std::set<std::string_view> names;
  for (int i = 0; i < kEventTableCount; ++i) {
    const EventSpec& spec = event_spec(static_cast<EventTable>(i));
    EXPECT_EQ(spec_problem(i), "") << "spec " << i << " (" << spec.name << ")";
    EXPECT_EQ(static_cast<int>(spec.table), i);
    EXPECT_TRUE(names.insert(spec.name).second) << spec.name << " named twice";
    EXPECT_NE(spec.name, kRejectsTable);
  }
}

TEST(EventSpecs, TheContractTablesAndTheirCostRollUpAreUnchanged) {
  EXPECT_EQ(table_name(EventTable::kAudit), "audit_logs");
  EXPECT_EQ(table_name(EventTable::kInvocations), "invocations");
  EXPECT_FALSE(event_spec(EventTable::kAudit).rolls_up_costs);
  EXPECT_TRUE(event_spec(EventTable::kInvocations).rolls_up_costs);
  EXPECT_EQ(event_spec(EventTable::kAudit).field_count, 14);
  EXPECT_EQ(event_spec(EventTable::kInvocations).field_count, 16);
}

TEST(EventSpecs, ColumnListsSplitIntoTrimmedNames) {
  constexpr std::string_view kColumns = "a, bb,c ,  d";
  EXPECT_EQ(column_count(kColumns), 4);
  EXPECT_EQ(column_count(""), 0);
  EXPECT_EQ(column_at(kColumns, 0), "a");
  EXPECT_EQ(column_at(kColumns, 1), "bb");
  EXPECT_EQ(column_at(kColumns, 2), "c");
  EXPECT_EQ(column_at(kColumns, 3), "d");
  EXPECT_EQ(column_at(kColumns, 4), "");
  const auto fields = leading_columns<3>(EventTable::kInvocations);
  EXPECT_EQ(fields[0], "invocation_id");
  EXPECT_EQ(fields[1], "ts");
  EXPECT_EQ(fields[2], "tenant_id");
}

}  // namespace
}  // namespace sentinel
