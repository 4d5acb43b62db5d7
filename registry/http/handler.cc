#include "registry/http/handler.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace berth::registry::http {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding, which is what query strings use.
std::string FormDecode(absl::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size() && HexValue(in[i + 1]) >= 0 &&
               HexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(in[i + 1]) * 16 + HexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

class StringBodySource : public BodySource {
 public:
  explicit StringBodySource(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(absl::Span<char> buffer) override {
    size_t n = std::min(buffer.size(), data_.size() - offset_);
    data_.copy(buffer.data(), n, offset_);
    offset_ += n;
    return n;
  }

 private:
  std::string data_;
  size_t offset_ = 0;
};

class FdBodySource : public BodySource {
 public:
  explicit FdBodySource(int fd) : fd_(fd) {}
  ~FdBodySource() override { close(fd_); }
  absl::StatusOr<size_t> Read(absl::Span<char> buffer) override {
    while (true) {
      ssize_t n = read(fd_, buffer.data(), buffer.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return absl::ErrnoToStatus(errno, "read body file");
    }
  }

 private:
  int fd_;
};

class BufferedBodySink : public BodySink {
 public:
  BufferedBodySink(uint64_t max_bytes, std::function<Response(std::string)> done)
      : max_bytes_(max_bytes), done_(std::move(done)) {}
  std::optional<uint64_t> MaxBytes() const override { return max_bytes_; }
  absl::Status Write(absl::string_view chunk) override {
    body_.append(chunk.data(), chunk.size());
    return absl::OkStatus();
  }
  Response Finish() override { return done_(std::move(body_)); }

 private:
  uint64_t max_bytes_;
  std::function<Response(std::string)> done_;
  std::string body_;
};

}  // namespace

std::optional<absl::string_view> Request::Header(absl::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) return absl::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> ParseFormUrlEncoded(absl::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  for (absl::string_view part : absl::StrSplit(text, '&', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    out.emplace_back(FormDecode(kv.first), FormDecode(kv.second));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> Request::QueryParams() const {
  return ParseFormUrlEncoded(query);
}

const std::string& Request::Param(absl::string_view name) const {
  static const std::string* const kEmpty = new std::string();
  auto it = params.find(name);
  return it == params.end() ? *kEmpty : it->second;
}

Response Response::Text(int status, std::string body, absl::string_view content_type) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  r.headers.emplace_back("Content-Type", std::string(content_type));
  return r;
}

Response& Response::SetHeader(absl::string_view name, absl::string_view value) {
  for (auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, name)) {
      v = std::string(value);
      return *this;
    }
  }
  headers.emplace_back(std::string(name), std::string(value));
  return *this;
}

Response BodySink::ErrorResponse(const absl::Status& why) {
  return Response::Text(HttpStatusFor(why), absl::StrCat(why.message(), "\n"));
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kResourceExhausted:
      return 413;
    case absl::StatusCode::kUnimplemented:
      return 501;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::unique_ptr<BodySource> StringSource(std::string data) {
  return std::make_unique<StringBodySource>(std::move(data));
}

std::unique_ptr<BodySource> FdSource(int fd) { return std::make_unique<FdBodySource>(fd); }

std::unique_ptr<BodySink> BufferedSink(uint64_t max_bytes,
                                       std::function<Response(std::string body)> done) {
  return std::make_unique<BufferedBodySink>(max_bytes, std::move(done));
}

}  // namespace berth::registry::http
