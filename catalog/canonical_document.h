#pragma once

#include <string>
#include <string_view>

#include "catalog/event_type.h"

namespace sentinel::catalog_detail {

/// The effective schema of `type` as JSON: every key in one fixed order, every default written
/// out (x-column, x-source, x-pg-type, the x-sentinel defaults), no comments or annotations the
/// model does not keep. Pretty-printed (a value stays on one line when it fits in 100 columns).
/// Loading it again gives the same type and the same text: it is what `catalog show` prints and
/// what the checksum covers, so that two spellings of one type (JSON or YAML, defaults written
/// or not) have one checksum.
std::string canonical_document(const EventType& type);

/// The SHA-256 of `text`, in lower-case hex.
std::string sha256_hex(std::string_view text);

}  // namespace sentinel::catalog_detail
