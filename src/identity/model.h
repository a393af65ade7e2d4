// The identity model: the organisation tree, users, service accounts (systems and
// devices), and tokens. Plain values; the Directory (directory.h) owns them in memory and
// writes every change through to an IdentityStore.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"

namespace zc::identity {

// A tenant (NGSI `Fiware-Service`) a principal may use, under a service-path prefix.
struct TenantGrant {
  std::string tenant;      // "" is the default tenant; "*" is every tenant
  std::string path = "/";  // service-path prefix; "/" covers every path
  bool write = false;      // read-write, else read-only

  bool operator==(const TenantGrant&) const = default;
};

// A node of the organisation tree: the district, its departments and sections, towns
// and streets. Codes follow GB/T 2260 where one applies (e.g. "440608" for Gaoming).
struct Department {
  std::string code;    // unique, [A-Za-z0-9_.-]{1,64}
  std::string name;    // display name, e.g. "高明区城市管理和综合执法局"
  std::string parent;  // code of the parent; "" for a root
  std::string kind;    // district, department, section, town, street, other
};

inline constexpr const char* kStatusActive = "active";
inline constexpr const char* kStatusDisabled = "disabled";

struct User {
  std::string login;  // unique, [A-Za-z0-9_.@-]{1,64}
  std::string display_name;
  std::string department;  // a Department code, may be empty
  std::vector<std::string> roles;
  std::vector<TenantGrant> tenants;
  std::string status = kStatusActive;
  std::string password_hash;  // Argon2id, libsodium's crypto_pwhash_str format
  int failed_logins = 0;      // consecutive failures since the last success
  int lockouts = 0;           // lockouts since the last success (the backoff doubles)
  TimeMs locked_until = 0;
  TimeMs created = 0;
};

// A system or a device that authenticates with a client id and secret (OAuth2 client
// credentials) or with API keys.
struct ServiceAccount {
  std::string client_id;  // unique, same alphabet as logins
  std::string name;
  std::string department;
  std::string kind = "service";  // "service" or "device"
  std::vector<std::string> roles;
  std::vector<TenantGrant> tenants;
  std::string status = kStatusActive;
  std::string secret_hash;  // SHA-256 hex of the (high-entropy, generated) secret
  TimeMs created = 0;
};

inline constexpr const char* kTokenBearer = "bearer";   // from /oauth/token, expires
inline constexpr const char* kTokenApiKey = "api_key";  // for a service account

// An issued token. Only the SHA-256 of the token text is kept; the text is shown once.
struct TokenRecord {
  std::string id;    // public id (16 hex characters), for listing and revocation
  std::string hash;  // SHA-256 hex of the token text
  std::string kind = kTokenBearer;
  std::string subject;               // login or client id
  std::string subject_kind;          // user, service, device
  std::vector<std::string> roles;    // a subset of the subject's roles (the scope)
  std::vector<TenantGrant> tenants;  // a narrowing of the subject's grants
  std::string description;
  TimeMs issued = 0;
  TimeMs expires = 0;  // 0: does not expire (API keys)
  bool revoked = false;
};

// Who a valid token speaks for: the subject with the token's roles and grants resolved.
struct Principal {
  std::string subject;
  std::string kind;  // user, service, device
  std::string department;
  std::string token_id;
  std::vector<std::string> roles;
  std::vector<std::string> permissions;  // sorted, unique
  std::vector<TenantGrant> tenants;
  TimeMs expires = 0;
};

}  // namespace zc::identity
