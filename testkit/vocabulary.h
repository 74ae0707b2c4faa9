#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "rows/reject_reason.h"

namespace sentinel {

// What the event generators draw realistic values from: tenants with a skewed popularity, LLM
// providers and models with their prices, audit actions, user agents, uuids and timestamps in
// every spelling the ingestor accepts. Shared by EventGenerator (the two built-in types, by hand)
// and SchemaGenerator (any type of the catalog), so both make the same kind of traffic.

/// One LLM model and its list price.
struct ModelPrice {
  const char* provider;
  const char* name;
  int64_t input_nanos_per_token;  ///< USD per 1M tokens × 1000
  int64_t output_nanos_per_token;
};

/// Models of several providers, with real-looking prices.
std::span<const ModelPrice> model_prices();
/// Audit actions of an LLM gateway ("auth.login", "apikey.rotate", ...).
std::span<const char* const> audit_actions();
/// User agents of browsers, SDKs and curl.
std::span<const char* const> user_agents();

/// Tenant ids ("acme", "globex", ..., then "acme-001", ...) with a Zipf popularity: a few tenants
/// make most of the traffic, as on a real gateway.
class TenantPool {
 public:
  explicit TenantPool(int tenants);
  const std::string& pick(std::mt19937_64& rng);
  const std::vector<std::string>& tenants() const { return tenants_; }

 private:
  std::vector<std::string> tenants_;
  std::discrete_distribution<int> popularity_;
};

/// The reject reasons a message can earn by itself (db_rejected needs the database), in the order
/// the generators make malformed events: each in turn, so a few events cover all of them.
std::span<const RejectReason> message_reject_reasons();

/// A random version-4 uuid, lower-case, canonical 36-character form.
std::string random_uuid_v4(std::mt19937_64& rng);

/// The instant `unix_micros` (a whole millisecond) as the JSON value of a date-time field, in one
/// of several equally valid spellings: epoch milliseconds (an integer), RFC 3339 in UTC with 6 or
/// 3 fraction digits, or with a +05:30 or -08:00 offset and 9 fraction digits. Only integer
/// spellings when `strings` is false, only string ones when `integers` is false.
std::string timestamp_json(std::mt19937_64& rng, int64_t unix_micros, bool strings = true,
                           bool integers = true);

/// The wall clock in Unix microseconds.
int64_t wall_clock_micros();

}  // namespace sentinel
