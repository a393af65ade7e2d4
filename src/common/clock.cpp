// Wall-clock time and ISO 8601 conversion. Parsing is hand-rolled on purpose: the accepted
// grammar is small, must be strict (NGSI DateTime attributes are compared in queries) and
// must not depend on the process locale or time zone the way strptime/mktime do.
#include "common/clock.h"

#include <chrono>
#include <cstdio>

namespace zc {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// The instants with a four-digit year in UTC: 0000-01-01T00:00:00.000Z to
// 9999-12-31T23:59:59.999Z.
const TimeMs kMinTime = DaysFromCivil(0, 1, 1) * 86400000;
const TimeMs kMaxTime = DaysFromCivil(10000, 1, 1) * 86400000 - 1;

struct Cursor {
  std::string_view s;
  size_t i = 0;
  bool Done() const { return i >= s.size(); }
  char Peek() const { return Done() ? '\0' : s[i]; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i;
    return true;
  }
  // Reads exactly n digits.
  std::optional<int> Digits(int n) {
    int v = 0;
    for (int k = 0; k < n; ++k) {
      if (Done() || s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i++] - '0');
    }
    return v;
  }
};

bool ValidDate(int y, int m, int d) {
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 0 || m < 1 || m > 12 || d < 1 || d > kDays[m - 1]) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

// Parses "Z", "+HH:MM", "+HHMM", "+HH" into an offset in minutes.
std::optional<int> ParseZone(Cursor& c) {
  if (c.Done()) return 0;
  if (c.Eat('Z')) return c.Done() ? std::optional<int>(0) : std::nullopt;
  const char sign = c.Peek();
  if (sign != '+' && sign != '-') return std::nullopt;
  ++c.i;
  auto hh = c.Digits(2);
  if (!hh || *hh > 23) return std::nullopt;
  int mm = 0;
  if (!c.Done()) {
    c.Eat(':');
    auto m = c.Digits(2);
    if (!m || *m > 59) return std::nullopt;
    mm = *m;
  }
  if (!c.Done()) return std::nullopt;
  const int off = *hh * 60 + mm;
  return sign == '+' ? off : -off;
}

}  // namespace

TimeMs NowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string FormatIso8601(TimeMs t) {
  int64_t days = t >= 0 ? t / 86400000 : (t - 86399999) / 86400000;
  int64_t ms_of_day = t - days * 86400000;
  // civil_from_days
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(days - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = static_cast<int64_t>(yoe) + era * 400 + (m <= 2 ? 1 : 0);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(ms_of_day / 3600000),
                static_cast<long long>(ms_of_day / 60000 % 60),
                static_cast<long long>(ms_of_day / 1000 % 60),
                static_cast<long long>(ms_of_day % 1000));
  return buf;
}

std::optional<TimeMs> ParseIso8601(std::string_view text) {
  Cursor c{text};
  auto y = c.Digits(4);
  if (!y || !c.Eat('-')) return std::nullopt;
  auto mo = c.Digits(2);
  if (!mo || !c.Eat('-')) return std::nullopt;
  auto d = c.Digits(2);
  if (!d || !ValidDate(*y, *mo, *d)) return std::nullopt;
  int hh = 0, mi = 0, ss = 0, ms = 0;
  if (c.Eat('T') || c.Eat(' ')) {
    auto h = c.Digits(2);
    if (!h || *h > 23 || !c.Eat(':')) return std::nullopt;
    auto m = c.Digits(2);
    if (!m || *m > 59) return std::nullopt;
    hh = *h;
    mi = *m;
    if (c.Eat(':')) {
      auto s = c.Digits(2);
      if (!s || *s > 60) return std::nullopt;
      ss = *s;
      if (c.Eat('.')) {
        int digits = 0;
        while (!c.Done() && c.Peek() >= '0' && c.Peek() <= '9') {
          if (digits < 3) ms = ms * 10 + (c.Peek() - '0');
          ++digits;
          ++c.i;
        }
        if (digits == 0) return std::nullopt;
        for (int k = digits; k < 3; ++k) ms *= 10;
      }
    }
  }
  auto zone = ParseZone(c);
  if (!zone) return std::nullopt;
  const int64_t days = DaysFromCivil(*y, static_cast<unsigned>(*mo), static_cast<unsigned>(*d));
  const int64_t seconds =
      days * 86400 + int64_t{hh} * 3600 + int64_t{mi} * 60 + ss - int64_t{*zone} * 60;
  const TimeMs t = seconds * 1000 + ms;
  // Years 0000 to 9999 in UTC only: a zone offset must not push the instant out of what
  // FormatIso8601 writes and this function reads back (found by fuzz/fuzz_ngsi_json).
  if (t < kMinTime || t > kMaxTime) return std::nullopt;
  return t;
}

}  // namespace zc
