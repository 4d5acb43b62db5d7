// Test-only: fresh keys and self-signed certificates made with libcrypto, as PEM.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <functional>
#include <string>

#include "absl/strings/escaping.h"

namespace berth::registry::auth::testkeys {

inline std::string PemOf(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

// A new private key: "rsa" (2048 bits) or an EC curve name ("P-256", "P-384").
inline std::string NewKeyPem(const std::string& kind) {
  EVP_PKEY* key = kind == "rsa" ? EVP_RSA_gen(2048) : EVP_EC_gen(kind.c_str());
  std::string pem = PemOf(key);
  EVP_PKEY_free(key);
  return pem;
}

// A self-signed certificate (CN=`cn`, one day) for the key in `key_pem`; when `issuer_key_pem`
// and `issuer_cert_pem` are given, signed by them instead.
inline std::string CertPem(const std::string& key_pem, const std::string& cn,
                           const std::string& issuer_key_pem = "",
                           const std::string& issuer_cert_pem = "") {
  BIO* kb = BIO_new_mem_buf(key_pem.data(), static_cast<int>(key_pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  EVP_PKEY* signer = key;
  X509* issuer = nullptr;
  if (!issuer_key_pem.empty()) {
    BIO* ib = BIO_new_mem_buf(issuer_key_pem.data(), static_cast<int>(issuer_key_pem.size()));
    signer = PEM_read_bio_PrivateKey(ib, nullptr, nullptr, nullptr);
    BIO_free(ib);
    BIO* cb = BIO_new_mem_buf(issuer_cert_pem.data(), static_cast<int>(issuer_cert_pem.size()));
    issuer = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
    BIO_free(cb);
  }
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert),
                   static_cast<long>(std::hash<std::string>()(cn) & 0xffffff));
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, issuer != nullptr ? X509_get_subject_name(issuer) : name);
  if (issuer == nullptr) {  // self-signed: a CA others can chain to
    X509_EXTENSION* ext =
        X509V3_EXT_conf_nid(nullptr, nullptr, NID_basic_constraints, "critical,CA:TRUE");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, signer, EVP_sha256());
  BIO* out = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(out, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  std::string pem(data, static_cast<size_t>(n));
  BIO_free(out);
  X509_free(cert);
  if (issuer != nullptr) X509_free(issuer);
  if (signer != key) EVP_PKEY_free(signer);
  EVP_PKEY_free(key);
  return pem;
}

// The DER of the first certificate in `pem`, standard base64 (an x5c entry).
inline std::string CertDerBase64(const std::string& pem) {
  BIO* b = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
  BIO_free(b);
  unsigned char* der = nullptr;
  const int n = i2d_X509(cert, &der);
  X509_free(cert);
  std::string raw(reinterpret_cast<char*>(der), static_cast<size_t>(n));
  OPENSSL_free(der);
  return absl::Base64Escape(raw);
}

}  // namespace berth::registry::auth::testkeys
