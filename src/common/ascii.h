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

// RFC 9110 field syntax, which outbound requests must keep so that no value can end the
// header section or the request early: a field name is a token (letters, digits and
// !#$%&'*+-.^_`|~), a field value holds no control character but HTAB (no CR, LF, NUL).
constexpr bool IsHttpToken(std::string_view name) {
  constexpr std::string_view kPunctuation = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::ranges::all_of(name, [&](char c) {
    return (c >= '0' && c <= '9') || (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'z') ||
           kPunctuation.find(c) != std::string_view::npos;
  });
}

// `s` without leading and trailing spaces and tabs (RFC 9110's optional whitespace around
// list items and parameters).
constexpr std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr bool IsHttpFieldValue(std::string_view value) {
  return std::ranges::none_of(value, [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
  });
}

}  // namespace zc
