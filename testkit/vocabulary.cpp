#include "testkit/vocabulary.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <chrono>
#include <cmath>

namespace sentinel {
namespace {

constexpr std::array<ModelPrice, 10> kModels = {{
    {"openai", "gpt-4o", 2500, 10000},
    {"openai", "gpt-4o-mini", 150, 600},
    {"openai", "o3-mini", 1100, 4400},
    {"anthropic", "claude-3-5-sonnet-20241022", 3000, 15000},
    {"anthropic", "claude-3-5-haiku-20241022", 800, 4000},
    {"google", "gemini-1.5-pro", 1250, 5000},
    {"google", "gemini-1.5-flash", 75, 300},
    {"mistral", "mistral-large-latest", 2000, 6000},
    {"mistral", "open-mistral-nemo", 150, 150},
    {"azure-openai", "gpt-4o-2024-08-06", 2500, 10000},
}};

constexpr std::array<const char*, 14> kActions = {
    "auth.login",       "auth.logout",        "auth.mfa.challenge", "auth.token.refresh",
    "apikey.create",    "apikey.revoke",      "policy.update",      "user.invite",
    "user.role.change", "gateway.route.deny", "prompt.blocked",     "data.export",
    "sso.assertion",    "session.expire"};

constexpr std::array<const char*, 16> kCompanies = {
    "acme",   "globex",    "initech", "umbrella", "hooli",   "stark",    "wayne",      "wonka",
    "tyrell", "cyberdyne", "soylent", "aperture", "massive", "vandelay", "pied-piper", "oscorp"};

constexpr std::array<const char*, 5> kAgents = {
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0 Safari/537.36",
    "sentinel-sdk-python/2.4.1", "sentinel-sdk-node/1.9.0", "curl/8.5.0"};

constexpr std::array<RejectReason, 7> kMessageRejectReasons = {
    RejectReason::kInvalidJson, RejectReason::kNotAnObject,  RejectReason::kMissingField,
    RejectReason::kWrongType,   RejectReason::kInvalidValue, RejectReason::kTsOutOfRange,
    RejectReason::kTooLarge};

}  // namespace

std::span<const RejectReason> message_reject_reasons() { return kMessageRejectReasons; }
std::span<const ModelPrice> model_prices() { return kModels; }
std::span<const char* const> audit_actions() { return kActions; }
std::span<const char* const> user_agents() { return kAgents; }

TenantPool::TenantPool(int tenants) {
  std::vector<double> weights;
  for (int i = 0; i < std::max(1, tenants); ++i) {
    const char* company = kCompanies[static_cast<size_t>(i) % kCompanies.size()];
    tenants_.push_back(i < static_cast<int>(kCompanies.size())
                           ? std::string(company)
                           : fmt::format("{}-{:03d}", company, i / kCompanies.size()));
    weights.push_back(1.0 / std::pow(i + 1, 1.1));  // Zipf: a few tenants make most traffic
  }
  popularity_ = std::discrete_distribution<int>(weights.begin(), weights.end());
}

const std::string& TenantPool::pick(std::mt19937_64& rng) {
  return tenants_[static_cast<size_t>(popularity_(rng))];
}

std::string random_uuid_v4(std::mt19937_64& rng) {
  const uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | (b >> 48 & 0x3fff), b & 0xffffffffffffULL);
}

std::string timestamp_json(std::mt19937_64& rng, int64_t us, bool strings, bool integers) {
  // Several equally valid spellings of the same instant.
  int form = static_cast<int>(rng() % 5);
  if (!integers && form == 0) form = 1;
  if (!strings) form = 0;
  const std::chrono::sys_time<std::chrono::microseconds> tp{std::chrono::microseconds{us}};
  if (form == 0) return fmt::format("{}", us / 1000);  // epoch ms (us is a whole ms then)
  const auto secs = std::chrono::floor<std::chrono::seconds>(tp);
  const int64_t micros = (tp - secs).count();
  if (form == 1) return fmt::format("\"{:%Y-%m-%dT%H:%M:%S}.{:06d}Z\"", secs, micros);
  if (form == 2) return fmt::format("\"{:%Y-%m-%dT%H:%M:%S}.{:03d}Z\"", secs, micros / 1000);
  if (form == 3) {  // +05:30, the same instant
    const auto local = secs + std::chrono::minutes(330);
    return fmt::format("\"{:%Y-%m-%dT%H:%M:%S}.{:06d}000+05:30\"", local, micros);
  }
  const auto local = secs - std::chrono::hours(8);
  return fmt::format("\"{:%Y-%m-%dT%H:%M:%S}.{:06d}-08:00\"", local, micros);
}

int64_t wall_clock_micros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sentinel
