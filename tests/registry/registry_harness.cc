#include "tests/registry/registry_harness.h"

#include <curl/curl.h>
#include <signal.h>

#include <atomic>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/testing/runfiles.h"
#include "tests/daemon_harness.h"

namespace berth::tests {
namespace {

size_t OnBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* out) {
  auto* result = static_cast<HttpResult*>(out);
  absl::string_view line(data, size * n);
  if (absl::StartsWith(line, "HTTP/")) {
    result->headers.clear();  // a new response (after 100 Continue)
    return size * n;
  }
  const size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    result->headers.emplace_back(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))),
                                 std::string(absl::StripAsciiWhitespace(line.substr(colon + 1))));
  }
  return size * n;
}

}  // namespace

std::string HttpResult::Header(const std::string& name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

std::vector<std::string> HttpResult::Headers(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) out.push_back(v);
  }
  return out;
}

absl::StatusOr<HttpResult> Http(const std::string& method, const std::string& url,
                                const std::string& body, const std::vector<std::string>& headers,
                                bool send_body, const std::string& ca_file) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) return absl::InternalError("curl_easy_init failed");
  HttpResult result;
  curl_slist* list = nullptr;
  // No "Expect: 100-continue" round trip and no form Content-Type unless the test sets one.
  list = curl_slist_append(list, "Expect:");
  bool has_content_type = false;
  for (const std::string& h : headers) {
    list = curl_slist_append(list, h.c_str());
    if (absl::StartsWithIgnoreCase(h, "Content-Type:")) has_content_type = true;
  }
  if (!has_content_type) list = curl_slist_append(list, "Content-Type:");
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> list_owner(list, curl_slist_free_all);
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &result.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &result);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!ca_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, ca_file.c_str());
    curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
  }
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (!body.empty() || send_body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    return absl::UnavailableError(absl::StrCat(method, " ", url, ": ", curl_easy_strerror(rc)));
  }
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  return result;
}

absl::StatusOr<RegistryProcess> RegistryProcess::Start(const std::string& root,
                                                       const std::string& log_dir,
                                                       const std::vector<std::string>& extra) {
  static std::atomic<int> starts{0};
  RegistryProcess p;
  p.log_ = absl::StrCat(log_dir, "/registry.", starts++, ".log");
  std::vector<std::string> argv = {berth::testing::RunfilePath("registry/berth-registry"),
                                   "--listen=127.0.0.1:0", "--metrics-addr=127.0.0.1:0",
                                   "--root=" + root};
  argv.insert(argv.end(), extra.begin(), extra.end());
  for (const std::string& flag : extra) {
    if (absl::StartsWith(flag, "--tls_cert=") || absl::StartsWith(flag, "--tls-cert=")) {
      p.tls_ = true;
    }
  }
  auto child = berth::testing::ChildProcess::Start(argv, p.log_);
  if (!child.ok()) return child.status();
  p.process_.emplace(std::move(*child));
  auto api = WaitForLogValue(p.log_, "registry listening address", absl::Seconds(20));
  if (!api.ok()) return api.status();
  auto metrics = WaitForLogValue(p.log_, "metrics listening address", absl::Seconds(20));
  if (!metrics.ok()) return metrics.status();
  p.address_ = *api;
  p.metrics_ = *metrics;
  return p;
}

absl::StatusOr<int> RegistryProcess::Stop(absl::Duration timeout) {
  if (!process_ || !process_->running()) return absl::FailedPreconditionError("not running");
  if (auto s = process_->Signal(SIGTERM); !s.ok()) return s;
  return process_->Wait(timeout);
}

absl::StatusOr<berth::testing::CommandResult> RunRegistryCommand(
    const std::vector<std::string>& args) {
  std::vector<std::string> argv = {berth::testing::RunfilePath("registry/berth-registry")};
  argv.insert(argv.end(), args.begin(), args.end());
  return berth::testing::RunCommand(argv, absl::Seconds(60));
}

}  // namespace berth::tests
