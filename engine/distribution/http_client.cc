#include "engine/distribution/http_client.h"

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstring>
#include <map>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace berth::engine::distribution {
namespace {

// Debian's bundle of the system roots: certs.d CAs are added to these, not used instead
// (Docker does the same with its system pool).
constexpr char kSystemBundle[] = "/etc/ssl/certs/ca-certificates.crt";

void GlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// Certificate stores, parsed once per process and shared by every TLS connection: Debian's
// libcurl is built with a CA path, which keeps it from caching the store it loads, so each
// new connection re-parsed the ~140 system roots (tens of ms of CPU; a fifth of a push's CPU
// went there, since the ping tries https first even for plain-http registries). Keyed by the
// extra (certs.d) PEM added to the system roots; "" is the system roots alone. Never freed:
// few distinct keys exist in a daemon's life.
X509_STORE* SharedStore(const std::string& extra_pem) {
  static absl::Mutex mu(absl::kConstInit);
  static auto* stores = new std::map<std::string, X509_STORE*>();
  absl::MutexLock l(&mu);
  if (auto it = stores->find(extra_pem); it != stores->end()) return it->second;
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return nullptr;
  // A missing system bundle leaves only the extra CAs (verification fails closed).
  (void)X509_STORE_load_file(store, kSystemBundle);
  if (!extra_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(extra_pem.data(), static_cast<int>(extra_pem.size()));
    if (bio != nullptr) {
      STACK_OF(X509_INFO)* infos = PEM_X509_INFO_read_bio(bio, nullptr, nullptr, nullptr);
      for (int i = 0; infos != nullptr && i < sk_X509_INFO_num(infos); ++i) {
        X509_INFO* info = sk_X509_INFO_value(infos, i);
        if (info->x509 != nullptr) X509_STORE_add_cert(store, info->x509);
      }
      sk_X509_INFO_pop_free(infos, X509_INFO_free);
      BIO_free(bio);
    }
  }
  (*stores)[extra_pem] = store;
  return store;
}

// CURLOPT_SSL_CTX_FUNCTION: the connection verifies against the shared store instead of one
// curl would load (curl's own CA file and path are turned off for it).
CURLcode UseSharedStore(CURL*, void* ssl_ctx, void* user) {
  X509_STORE* store = SharedStore(*static_cast<const std::string*>(user));
  if (store == nullptr) return CURLE_SSL_CACERT_BADFILE;
  SSL_CTX_set1_cert_store(static_cast<SSL_CTX*>(ssl_ctx), store);
  return CURLE_OK;
}

struct Transfer {
  const HttpRequest* req;
  HttpResponse resp;
  absl::Status callback_error;
  size_t body_offset = 0;  // of req->body sent so far
  bool headers_seen = false;
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  absl::string_view line(data, size * n);
  line = absl::StripTrailingAsciiWhitespace(line);
  if (absl::StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or a 100 Continue): start over.
    t->resp.headers.clear();
    t->resp.body.clear();
    t->resp.status = 0;
    t->headers_seen = false;
    size_t sp = line.find(' ');
    if (sp != absl::string_view::npos) {
      int code = 0;
      if (absl::SimpleAtoi(line.substr(sp + 1, 3), &code)) t->resp.status = code;
    }
    return size * n;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    t->resp.headers.emplace_back(
        std::string(line.substr(0, colon)),
        std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t len = size * n;
  const bool success = t->resp.status >= 200 && t->resp.status < 300;
  if (success && t->req->on_success_headers && !t->headers_seen) {
    t->headers_seen = true;
    absl::Status s = t->req->on_success_headers(t->resp);
    if (!s.ok()) {
      t->callback_error = s;
      return 0;
    }
  }
  if (success && t->req->body_sink) {
    absl::Status s = t->req->body_sink(absl::string_view(data, len));
    if (!s.ok()) {
      t->callback_error = s;
      return 0;
    }
    t->resp.sunk += static_cast<int64_t>(len);
    return len;
  }
  if (t->resp.body.size() + len > t->req->max_body) {
    t->callback_error = absl::FailedPreconditionError(
        absl::StrCat("response body larger than ", t->req->max_body, " bytes"));
    return 0;
  }
  t->resp.body.append(data, len);
  return len;
}

size_t OnRead(char* buf, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t max = size * n;
  if (t->req->body_source) {
    absl::StatusOr<size_t> got = t->req->body_source(buf, max);
    if (!got.ok()) {
      t->callback_error = got.status();
      return CURL_READFUNC_ABORT;
    }
    return *got;
  }
  const std::string& body = t->req->body;
  size_t len = std::min(max, body.size() - t->body_offset);
  std::memcpy(buf, body.data() + t->body_offset, len);
  t->body_offset += len;
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->req->cancelled != nullptr && t->req->cancelled->load()) return 1;
  return 0;
}

}  // namespace

std::string HttpResponse::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::vector<std::string> HttpResponse::Headers(absl::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

// curl_global_init waits for the first handle: it initializes OpenSSL (configuration,
// providers) and touches gnutls/p11-kit pages, which an idle daemon that never talks to a
// registry does not need (measured: berthd idle RSS 30.8 -> 28.7 MiB).
HttpClient::HttpClient(std::string user_agent) : user_agent_(std::move(user_agent)) {}

HttpClient::~HttpClient() {
  absl::MutexLock l(&mu_);
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* HttpClient::Take() {
  {
    absl::MutexLock l(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  GlobalInit();
  return curl_easy_init();
}

void HttpClient::Give(void* handle) {
  absl::MutexLock l(&mu_);
  if (idle_.size() < 16) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

absl::StatusOr<HttpResponse> HttpClient::Do(const HttpRequest& req, HttpResponse* partial) {
  CURL* curl = static_cast<CURL*>(Take());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_reset(curl);
  Transfer t;
  t.req = &req;
  char error[CURL_ERROR_SIZE] = {0};

  curl_easy_setopt(curl, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, user_agent_.c_str());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(req.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(req.stall_timeout)));
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  // Blob GETs get redirected to storage backends: credentials stay with the registry.
  curl_easy_setopt(curl, CURLOPT_UNRESTRICTED_AUTH, 0L);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_BUFFERSIZE, 256L << 10);
  curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 1L << 20);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);

  curl_easy_setopt(curl, CURLOPT_CAINFO, nullptr);
  curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, UseSharedStore);
  curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, &req.tls.extra_ca_pem);
  if (!req.tls.client_cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, req.tls.client_cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEY, req.tls.client_key_file.c_str());
  }

  struct curl_slist* headers = nullptr;
  for (const auto& h : req.headers) headers = curl_slist_append(headers, h.c_str());
  if (req.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (req.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, OnRead);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    const curl_off_t size = req.body_source ? static_cast<curl_off_t>(req.body_size)
                                            : static_cast<curl_off_t>(req.body.size());
    // -1 (unknown): curl sends HTTP/1.1 chunked.
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, size < 0 ? curl_off_t{-1} : size);
    // No "Expect: 100-continue" round trip before each upload.
    headers = curl_slist_append(headers, "Expect:");
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);
  Give(curl);

  if (rc == CURLE_OK) return std::move(t.resp);
  const std::string what = absl::StrCat(req.method, " ", req.url);
  if (req.cancelled != nullptr && req.cancelled->load()) {
    return absl::CancelledError(absl::StrCat(what, ": cancelled"));
  }
  if (!t.callback_error.ok()) return t.callback_error;
  if (partial != nullptr) {
    partial->status = t.resp.status;
    partial->headers = t.resp.headers;
    partial->sunk = t.resp.sunk;
  }
  std::string msg = error[0] != 0 ? std::string(error) : curl_easy_strerror(rc);
  return absl::UnavailableError(absl::StrCat(what, ": ", msg));
}

bool IsRetryable(const absl::Status& s) { return absl::IsUnavailable(s); }

}  // namespace berth::engine::distribution
