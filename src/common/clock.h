// Time in the platform: milliseconds since the Unix epoch (UTC) as a plain int64, and the
// ISO 8601 text form NGSI-v2 uses ("2026-11-23T10:00:00.000Z").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zc {

using TimeMs = int64_t;

// The current wall-clock time.
TimeMs NowMs();

// Formats as "YYYY-MM-DDTHH:MM:SS.mmmZ" (always UTC, always milliseconds).
std::string FormatIso8601(TimeMs t);

// Parses ISO 8601 date-times: "2026-11-23", "2026-11-23T10:00", "...:SS", fractions of a
// second, and a zone "Z", "+08:00", "+0800" or none (UTC is assumed). nullopt when invalid.
std::optional<TimeMs> ParseIso8601(std::string_view text);

}  // namespace zc
