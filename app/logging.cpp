#include "app/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <string_view>

#include "app/config.h"

namespace sentinel {
namespace {

constexpr std::string_view kOwnLogger = "sentinel";

/// JSON's short escape of `c`; empty when it has none.
std::string_view short_escape(char c) {
  switch (c) {
    case '"':
      return "\\\"";
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\r':
      return "\\r";
    case '\t':
      return "\\t";
    default:
      return {};
  }
}

/// Appends `text` as the inside of a JSON string.
void append_json_escaped(std::string_view text, spdlog::memory_buf_t& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    if (const std::string_view esc = short_escape(c); !esc.empty()) {
      dest.append(esc);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      const char code[6] = {'\\', 'u', '0', '0', kHex[(c >> 4) & 0xf], kHex[c & 0xf]};
      dest.append(code, code + 6);
    } else {
      dest.push_back(c);
    }
  }
}

/// The logger's name as component and facility: "librdkafka/FAIL", "libpq", "sentinel".
struct Origin {
  std::string_view component;
  std::string_view facility;
};
Origin origin_of(const spdlog::details::log_msg& msg) {
  const std::string_view name(msg.logger_name.data(), msg.logger_name.size());
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos) return {name, {}};
  return {name.substr(0, slash), name.substr(slash + 1)};
}

/// %* in JSON: the log message as the inside of a JSON string.
void json_message(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  append_json_escaped(std::string_view(msg.payload.data(), msg.payload.size()), dest);
}

/// %& in JSON: `"component":"…"` and, when there is one, `,"facility":"…"`.
void json_origin(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const Origin o = origin_of(msg);
  dest.append(std::string_view(R"("component":")"));
  append_json_escaped(o.component, dest);
  dest.push_back('"');
  if (!o.facility.empty()) {
    dest.append(std::string_view(R"(,"facility":")"));
    append_json_escaped(o.facility, dest);
    dest.push_back('"');
  }
}

/// %* in text: the message on one line: each line break (with the indentation after it) becomes
/// "; ", trailing ones are dropped, other control characters become spaces.
void text_message(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const std::string_view text(msg.payload.data(), msg.payload.size());
  const auto is_break = [](char c) { return c == '\n' || c == '\r'; };
  size_t i = 0;
  while (i < text.size()) {
    if (is_break(text[i])) {
      while (i < text.size() && (is_break(text[i]) || text[i] == ' ' || text[i] == '\t')) ++i;
      if (i < text.size()) dest.append(std::string_view("; "));
      continue;
    }
    dest.push_back(static_cast<unsigned char>(text[i]) < 0x20 ? ' ' : text[i]);
    ++i;
  }
}

/// %& in text: "[librdkafka FAIL] " for a library's line, nothing for our own.
void text_origin(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) {
  const Origin o = origin_of(msg);
  if (o.component == kOwnLogger) return;
  dest.push_back('[');
  dest.append(o.component);
  if (!o.facility.empty()) {
    dest.push_back(' ');
    dest.append(o.facility);
  }
  dest.append(std::string_view("] "));
}

/// A pattern flag that `Format` renders.
template <void (*Format)(const spdlog::details::log_msg&, spdlog::memory_buf_t&)>
class Flag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    Format(msg, dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<Flag>(); }
};

}  // namespace

const std::vector<std::string>& log_level_names() {
  static const std::vector<std::string> kNames = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
  return kNames;
}

void setup_logging(const std::string& format, const std::string& level) {
  auto logger = std::make_shared<spdlog::logger>(std::string(kOwnLogger),
                                                 std::make_shared<spdlog::sinks::stderr_sink_mt>());
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (format == "json") {
    formatter->add_flag<Flag<json_message>>('*').add_flag<Flag<json_origin>>('&').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","thread":%t,%&,"msg":"%*"})");
  } else if (format == "text") {
    formatter->add_flag<Flag<text_message>>('*').add_flag<Flag<text_origin>>('&').set_pattern(
        "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ %&%*");
  } else {
    throw UsageError("--log-format must be text or json, got '" + format + "'");
  }
  logger->set_formatter(std::move(formatter));
  const auto& names = log_level_names();
  if (std::find(names.begin(), names.end(), level) == names.end()) {
    std::string valid;
    for (const std::string& n : names) valid += (valid.empty() ? "" : ", ") + n;
    throw UsageError("--log-level must be one of " + valid + ", got '" + level + "'");
  }
  logger->set_level(spdlog::level::from_str(level));
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace sentinel
