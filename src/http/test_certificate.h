// Test-only: a key and a self-signed certificate made with OpenSSL's EVP and X509 APIs, for
// the TLS tests of the server (tls_test.cpp) and of the outbound client (client_test.cpp).
// Header-only and included by tests alone, so the module library does not carry it.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace zc::http::testing {

struct PemPair {
  std::string certificate;
  std::string key;
};

template <typename T, void (*Free)(T*)>
struct OsslFree {
  void operator()(T* p) const { Free(p); }
};
template <typename T, void (*Free)(T*)>
using OsslPtr = std::unique_ptr<T, OsslFree<T, Free>>;

inline std::string PemOf(auto write) {
  OsslPtr<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
  if (write(bio.get()) != 1) throw std::runtime_error("PEM write failed");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(size));
}

inline void AddExtension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  OsslPtr<X509_EXTENSION, X509_EXTENSION_free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) throw std::runtime_error("extension");
}

// A P-256 key and a self-signed certificate valid one hour, named `common_name` and
// carrying `alt_names` (OpenSSL's subjectAltName syntax).
inline PemPair MakeSelfSigned(const char* common_name = "localhost",
                              const char* alt_names = "DNS:localhost,IP:127.0.0.1") {
  OsslPtr<EVP_PKEY, EVP_PKEY_free> key(EVP_EC_gen("P-256"));
  OsslPtr<X509, X509_free> cert(X509_new());
  if (!key || !cert) throw std::runtime_error("key generation failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  AddExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(cert.get(), NID_subject_alt_name, alt_names);
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) throw std::runtime_error("sign");
  return {PemOf([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }), PemOf([&](BIO* b) {
            return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
          })};
}

}  // namespace zc::http::testing
