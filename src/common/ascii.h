// ASCII helpers for protocol tokens (header names, authentication schemes), which compare
// without regard to case and never depend on the locale.
#pragma once

#include <algorithm>
#include <string_view>

namespace zc {

constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// Equal ignoring ASCII case ("Content-Type" == "content-type").
constexpr bool IEquals(std::string_view a, std::string_view b) {
  return std::ranges::equal(a, b, [](char x, char y) { return AsciiLower(x) == AsciiLower(y); });
}

}  // namespace zc
