#include "engine/cli/registry_commands.h"

#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/cli/container_commands.h"
#include "engine/cli/credentials.h"
#include "engine/cli/parse_options.h"
#include "engine/cli/progress.h"
#include "engine/cli/run_options.h"
#include "engine/cli/tty.h"
#include "engine/reference/reference.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
namespace ref = ::berth::engine::reference;

// A pull or push moves whole images; a login may wait for a slow token server.
constexpr absl::Duration kTransferTimeout = absl::Hours(6);
constexpr absl::Duration kLoginTimeout = absl::Minutes(2);

std::unique_ptr<v1::Images::Stub> ImagesStub(Cli& cli) {
  auto ch = cli.Channel();
  if (!ch.ok()) {
    cli.err() << "berth: " << ch.status().message() << "\n";
    return nullptr;
  }
  return v1::Images::NewStub(*ch);
}

// "pull" for both "pull" and "image pull" (the whole path names the command in messages).
std::string LastWord(const std::string& path) { return path.substr(path.rfind(' ') + 1); }

// Where progress goes and whether it is drawn in place: only when the stream is the process's
// own stdout/stderr and that is a terminal.
struct Screen {
  bool terminal = false;
  int width = 80;
};
Screen ScreenFor(std::ostream& os) {
  int fd = &os == &std::cout ? STDOUT_FILENO : &os == &std::cerr ? STDERR_FILENO : -1;
  Screen s;
  if (fd < 0 || isatty(fd) != 1) return s;
  s.terminal = true;
  if (auto size = GetWindowSize(fd); size.has_value() && size->width > 0) s.width = size->width;
  return s;
}

// Adds the stored credentials for `image`'s registry to `auth` (left unset when there are
// none). A config file that cannot be read is reported and the request goes anonymous, as
// docker does with a broken credential store.
template <typename Req>
void AttachAuth(Cli& cli, const std::string& image, Req* req) {
  absl::StatusOr<std::string> key = RegistryKeyForImage(image);
  if (!key.ok()) return;
  absl::StatusOr<CredentialStore> store = CredentialStore::Load(ConfigDir(ProcessEnv()));
  if (!store.ok()) {
    cli.err() << "WARNING: " << store.status().message() << "\n";
    return;
  }
  if (auto a = store->AuthFor(*key); a.has_value()) *req->mutable_auth() = std::move(*a);
}

// Reads a server stream of progress lines and results, printing the lines on `printer`
// (when not null). `on_progress` sees each line first and may print something before it.
template <typename Resp, typename Result>
::grpc::Status Relay(::grpc::ClientReader<Resp>& reader, ProgressPrinter* printer,
                     const std::function<void(const v1::TransferProgress&)>& on_progress,
                     std::vector<Result>* results, bool* reached) {
  Resp m;
  while (reader.Read(&m)) {
    *reached = true;
    if (m.has_progress()) {
      if (on_progress) on_progress(m.progress());
      if (printer != nullptr) printer->Print(m.progress());
    } else if (m.has_result()) {
      results->push_back(m.result());
    }
  }
  return reader.Finish();
}

// The reference a user typed, with docker's checks for -a and its default tag. Prints the
// error and returns nullopt when it is unusable.
std::optional<std::pair<std::string, ref::Reference>> ResolveTarget(Cli& cli,
                                                                    const std::string& image,
                                                                    bool all_tags, bool quiet) {
  absl::StatusOr<ref::Reference> r = ref::ParseNormalized(image);
  if (!r.ok()) {
    cli.err() << "berth: " << r.status().message() << "\n";
    return std::nullopt;
  }
  if (all_tags) {
    if (!r->tag.empty() || !r->digest.empty()) {
      cli.err() << "berth: tag can't be used with --all-tags/-a\n";
      return std::nullopt;
    }
    return std::make_pair(image, *r);
  }
  if (r->tag.empty() && r->digest.empty()) {
    if (!quiet) cli.out() << "Using default tag: " << ref::kDefaultTag << "\n";
    r->tag = ref::kDefaultTag;
    return std::make_pair(ImageWithDefaultTag(image), *r);
  }
  return std::make_pair(image, *r);
}

// Pull's and push's common start: exactly one argument, resolved by ResolveTarget into the
// request's reference and --all-tags; *target is what the user named. Returns kExitOk to go
// on, else the exit code (the error printed).
template <typename Req>
int ResolveTransfer(Cli& cli, const std::string& name, const std::string& usage,
                    const std::vector<std::string>& args, bool all_tags, bool quiet, Req* req,
                    ref::Reference* target) {
  if (args.size() != 1) return ArgsError(cli, name, usage, "requires exactly 1 argument");
  auto resolved = ResolveTarget(cli, args[0], all_tags, quiet);
  if (!resolved.has_value()) return kExitFailure;
  req->set_reference(resolved->first);
  req->set_all_tags(all_tags);
  *target = std::move(resolved->second);
  return kExitOk;
}

// Sends `req` through `call` (the stub's Pull or Push) and relays the stream as Relay does,
// drawing the progress on `progress_out` unless `quiet`.
template <typename Resp, typename Result, typename Req, typename Call>
::grpc::Status Transfer(v1::Images::Stub& stub, const Req& req, Call call,
                        std::ostream& progress_out, bool quiet,
                        const std::function<void(const v1::TransferProgress&)>& on_progress,
                        std::vector<Result>* results, bool* reached) {
  ::grpc::ClientContext ctx;
  Cli::Prepare(ctx, kTransferTimeout);
  auto reader = call(stub, &ctx, req);
  Screen screen = ScreenFor(progress_out);
  ProgressPrinter printer(progress_out, screen.terminal, screen.width);
  return Relay<Resp, Result>(*reader, quiet ? nullptr : &printer, on_progress, results, reached);
}

// A pull through Transfer (berth pull, and run's implicit pull).
::grpc::Status PullImage(v1::Images::Stub& stub, const v1::PullImageRequest& req,
                         std::ostream& progress_out, bool quiet,
                         std::vector<v1::PullImageResult>* results, bool* reached) {
  return Transfer<v1::PullImageResponse, v1::PullImageResult>(
      stub, req,
      [](v1::Images::Stub& s, ::grpc::ClientContext* c, const v1::PullImageRequest& r) {
        return s.Pull(c, r);
      },
      progress_out, quiet, nullptr, results, reached);
}

class PullCommand : public Command {
 public:
  explicit PullCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return LastWord(name_); }
  std::string Summary() const override { return "Download an image from a registry"; }
  std::string UsageLine() const override {
    return "berth " + name_ + " [OPTIONS] NAME[:TAG|@DIGEST]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&all_tags_, "all-tags", 'a', "Download all tagged images in the repository");
    f.AddString(&platform_, "platform", 0, "Set platform if server is multi-platform capable");
    f.AddBool(&quiet_, "quiet", 'q', "Suppress verbose output");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    v1::PullImageRequest req;
    ref::Reference target;
    if (int code = ResolveTransfer(cli, name_, UsageLine(), args, all_tags_, quiet_, &req, &target);
        code != kExitOk) {
      return code;
    }
    if (!platform_.empty()) {
      auto p = ParsePlatform(platform_);
      if (!p.ok()) {
        cli.err() << "berth: " << p.status().message() << "\n";
        return kExitFailure;
      }
      *req.mutable_platform() = *p;
    }
    AttachAuth(cli, req.reference(), &req);
    auto stub = ImagesStub(cli);
    if (stub == nullptr) return kExitFailure;
    std::vector<v1::PullImageResult> results;
    bool reached = false;
    ::grpc::Status st = PullImage(*stub, req, cli.out(), quiet_, &results, &reached);
    if (!st.ok()) {
      cli.out().flush();
      ReportRegistryError(cli, st);
      return kExitFailure;
    }
    // docker prints the full name of what it pulled, also with -q (and only that).
    cli.out() << (all_tags_ ? target.Name() : target.String()) << "\n";
    return kExitOk;
  }

 private:
  std::string name_, platform_;
  bool all_tags_ = false, quiet_ = false;
};

class PushCommand : public Command {
 public:
  explicit PushCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return LastWord(name_); }
  std::string Summary() const override { return "Upload an image to a registry"; }
  std::string UsageLine() const override { return "berth " + name_ + " [OPTIONS] NAME[:TAG]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&all_tags_, "all-tags", 'a', "Push all tags of an image to the repository");
    f.AddBool(&quiet_, "quiet", 'q', "Suppress verbose output");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    v1::PushImageRequest req;
    ref::Reference target;
    if (int code = ResolveTransfer(cli, name_, UsageLine(), args, all_tags_, quiet_, &req, &target);
        code != kExitOk) {
      return code;
    }
    AttachAuth(cli, req.reference(), &req);
    auto stub = ImagesStub(cli);
    if (stub == nullptr) return kExitFailure;
    // docker's first line names the repository; printed here unless the daemon sends it.
    bool header_done = quiet_;
    const std::string header =
        absl::StrCat("The push refers to repository [", target.Name(), "]");
    std::vector<std::string> lines_seen;
    auto on_progress = [&](const v1::TransferProgress& p) {
      if (!header_done) {
        header_done = true;
        if (!absl::StartsWith(p.status(), "The push refers to repository")) {
          cli.out() << header << "\n";
        }
      }
      lines_seen.push_back(p.status());
    };
    std::vector<v1::PushImageResult> results;
    bool reached = false;
    ::grpc::Status st = Transfer<v1::PushImageResponse, v1::PushImageResult>(
        *stub, req,
        [](v1::Images::Stub& s, ::grpc::ClientContext* c, const v1::PushImageRequest& r) {
          return s.Push(c, r);
        },
        cli.out(), quiet_, on_progress, &results, &reached);
    if (!header_done && reached) cli.out() << header << "\n";
    if (!st.ok()) {
      cli.out().flush();
      ReportRegistryError(cli, st);
      return kExitFailure;
    }
    for (const auto& r : results) {
      if (quiet_) {
        cli.out() << r.reference() << "\n";
        continue;
      }
      // "<tag>: digest: sha256:… size: 527", unless the daemon already said so.
      bool said = false;
      for (const auto& l : lines_seen) said = said || absl::StrContains(l, r.digest());
      if (said) continue;
      absl::StatusOr<ref::Reference> pushed = ref::ParseNormalized(r.reference());
      std::string tag = pushed.ok() ? pushed->tag : "";
      if (tag.empty()) tag = target.tag;
      cli.out() << tag << ": digest: " << r.digest() << " size: " << r.size() << "\n";
    }
    if (quiet_ && results.empty()) cli.out() << target.String() << "\n";
    return kExitOk;
  }

 private:
  std::string name_;
  bool all_tags_ = false, quiet_ = false;
};

// Reads one line from the terminal on stdin (without its newline); echo off for secrets.
// nullopt at end of input.
std::optional<std::string> ReadLine(bool secret) {
  termios saved{};
  bool restore = false;
  if (secret && tcgetattr(STDIN_FILENO, &saved) == 0) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    quiet.c_lflag |= ECHONL;
    restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
  }
  std::string line;
  bool any = false;
  while (true) {
    char c;
    ssize_t n = read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    any = true;
    if (c == '\n') break;
    line.push_back(c);
  }
  if (restore) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  if (!any) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

// All of stdin, trailing newlines dropped (`echo pw | berth login --password-stdin`).
absl::StatusOr<std::string> ReadAllStdin() {
  std::string data;
  char buf[4096];
  while (true) {
    ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "read stdin");
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) data.pop_back();
  return data;
}

class LoginCommand : public Command {
 public:
  std::string Name() const override { return "login"; }
  std::string Summary() const override { return "Log in to a registry"; }
  std::string UsageLine() const override { return "berth login [OPTIONS] [SERVER]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddString(&username_, "username", 'u', "Username");
    f.AddString(&password_, "password", 'p', "Password");
    f.AddBool(&password_stdin_, "password-stdin", 0, "Take the password from stdin");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() > 1) {
      return ArgsError(cli, "login", UsageLine(), "requires at most 1 argument");
    }
    if (!password_.empty()) {
      cli.err() << "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n";
    }
    if (password_stdin_) {
      if (!password_.empty()) {
        cli.err() << "berth: --password and --password-stdin are mutually exclusive\n";
        return kExitFailure;
      }
      if (username_.empty()) {
        cli.err() << "berth: Must provide --username with --password-stdin\n";
        return kExitFailure;
      }
      absl::StatusOr<std::string> pw = ReadAllStdin();
      if (!pw.ok()) {
        cli.err() << "berth: " << pw.status().message() << "\n";
        return kExitFailure;
      }
      password_ = *pw;
    }
    const std::string key = RegistryKey(args.empty() ? "" : args[0]);
    absl::StatusOr<CredentialStore> store = CredentialStore::Load(ConfigDir(ProcessEnv()));
    if (!store.ok()) {
      cli.err() << "berth: " << store.status().message() << "\n";
      return kExitFailure;
    }
    auto stub = ImagesStub(cli);
    if (stub == nullptr) return kExitFailure;

    std::optional<Credential> stored = store->Get(key);
    // Like docker: with nothing given, try what is stored before asking.
    if (username_.empty() && password_.empty() && stored.has_value()) {
      cli.out() << "Authenticating with existing credentials...\n";
      std::optional<engine::v1::AuthConfig> auth = store->AuthFor(key);
      v1::LoginResponse resp;
      ::grpc::Status st = Login(*stub, *auth, &resp);
      if (st.ok()) return Succeeded(cli, *store, key, stored->username, *auth, resp);
      if (!Reached(cli, st)) {
        ReportRegistryError(cli, st);
        return kExitFailure;
      }
      cli.err() << "Login did not succeed, error: " << st.error_message() << "\n";
    }
    if (username_.empty() || password_.empty()) {
      if (isatty(STDIN_FILENO) != 1) {
        cli.err() << "berth: Cannot perform an interactive login from a non TTY device\n";
        return kExitFailure;
      }
      if (username_.empty()) {
        const std::string old = stored.has_value() ? stored->username : "";
        cli.out() << (old.empty() ? "Username: " : absl::StrCat("Username (", old, "): "));
        cli.out().flush();
        std::string line(absl::StripAsciiWhitespace(ReadLine(false).value_or("")));
        username_ = line.empty() ? old : line;
        if (username_.empty()) {
          cli.err() << "berth: Non-null Username Required\n";
          return kExitFailure;
        }
      }
      if (password_.empty()) {
        cli.out() << "Password: ";
        cli.out().flush();
        password_ = ReadLine(true).value_or("");
        if (password_.empty()) {
          cli.err() << "berth: Password Required\n";
          return kExitFailure;
        }
      }
    }
    engine::v1::AuthConfig auth;
    auth.set_username(username_);
    auth.set_password(password_);
    auth.set_server_address(ServerAddressForKey(key));
    v1::LoginResponse resp;
    ::grpc::Status st = Login(*stub, auth, &resp);
    if (!st.ok()) {
      ReportRegistryError(cli, st);
      return kExitFailure;
    }
    return Succeeded(cli, *store, key, username_, auth, resp);
  }

 private:
  static ::grpc::Status Login(v1::Images::Stub& stub, const engine::v1::AuthConfig& auth,
                              v1::LoginResponse* resp) {
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, kLoginTimeout);
    v1::LoginRequest req;
    *req.mutable_auth() = auth;
    return stub.Login(&ctx, req, resp);
  }
  // Whether the daemon answered (as opposed to being unreachable).
  static bool Reached(Cli& cli, const ::grpc::Status& st) {
    if (st.error_code() != ::grpc::StatusCode::UNAVAILABLE) return true;
    auto ch = cli.Channel();
    return ch.ok() && (*ch)->GetState(false) == GRPC_CHANNEL_READY;
  }
  int Succeeded(Cli& cli, CredentialStore& store, const std::string& key,
                const std::string& username, const engine::v1::AuthConfig& auth,
                const v1::LoginResponse& resp) {
    Credential c;
    c.username = username;
    c.password = auth.password();
    c.identity_token = resp.identity_token().empty() ? auth.identity_token() : resp.identity_token();
    store.Set(key, c);
    if (absl::Status s = store.Save(); !s.ok()) {
      cli.err() << "berth: Error saving credentials: " << s.message() << "\n";
      return kExitFailure;
    }
    if (c.identity_token.empty()) {
      cli.err() << "WARNING! Your password will be stored unencrypted in " << store.path()
                << ".\n\n";
    }
    cli.out() << (resp.status().empty() ? "Login Succeeded" : resp.status()) << "\n";
    return kExitOk;
  }

  std::string username_, password_;
  bool password_stdin_ = false;
};

class LogoutCommand : public Command {
 public:
  std::string Name() const override { return "logout"; }
  std::string Summary() const override { return "Log out from a registry"; }
  std::string UsageLine() const override { return "berth logout [SERVER]"; }
  void DefineFlags(FlagSet&) override {}
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() > 1) {
      return ArgsError(cli, "logout", UsageLine(), "requires at most 1 argument");
    }
    const std::string key = RegistryKey(args.empty() ? "" : args[0]);
    absl::StatusOr<CredentialStore> store = CredentialStore::Load(ConfigDir(ProcessEnv()));
    if (!store.ok()) {
      cli.err() << "berth: " << store.status().message() << "\n";
      return kExitFailure;
    }
    if (!store->Erase(key)) {
      cli.out() << "Not logged in to " << key << "\n";
      return kExitOk;
    }
    cli.out() << "Removing login credentials for " << key << "\n";
    if (absl::Status s = store->Save(); !s.ok()) {
      cli.err() << "berth: " << s.message() << "\n";
      return kExitFailure;
    }
    return kExitOk;
  }
};

}  // namespace

void ReportRegistryError(Cli& cli, const ::grpc::Status& status) {
  // A registry that cannot be reached is UNAVAILABLE too; the daemon's own absence shows as a
  // channel that never got ready.
  if (status.error_code() == ::grpc::StatusCode::UNAVAILABLE) {
    auto ch = cli.Channel();
    if (ch.ok() && (*ch)->GetState(false) == GRPC_CHANNEL_READY) {
      cli.err() << "berth: Error response from daemon: " << status.error_message() << "\n";
      return;
    }
  }
  cli.err() << "berth: ";
  cli.ReportError(status);
}

::grpc::Status PullForRun(Cli& cli, const std::string& image, const std::string& platform) {
  v1::PullImageRequest req;
  req.set_reference(ImageWithDefaultTag(image));
  if (!platform.empty()) {
    auto p = ParsePlatform(platform);
    if (!p.ok()) {
      return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, std::string(p.status().message()));
    }
    *req.mutable_platform() = *p;
  }
  AttachAuth(cli, req.reference(), &req);
  auto ch = cli.Channel();
  if (!ch.ok()) {
    return ::grpc::Status(::grpc::StatusCode::INVALID_ARGUMENT, std::string(ch.status().message()));
  }
  auto stub = v1::Images::NewStub(*ch);
  std::vector<v1::PullImageResult> results;
  bool reached = false;
  return PullImage(*stub, req, cli.err(), /*quiet=*/false, &results, &reached);
}

std::unique_ptr<Command> NewPullCommand(std::string name) {
  return std::make_unique<PullCommand>(std::move(name));
}
std::unique_ptr<Command> NewPushCommand(std::string name) {
  return std::make_unique<PushCommand>(std::move(name));
}

void AddRegistryCommands(std::vector<std::unique_ptr<Command>>* cmds) {
  cmds->push_back(NewPullCommand("pull"));
  cmds->push_back(NewPushCommand("push"));
  cmds->push_back(std::make_unique<LoginCommand>());
  cmds->push_back(std::make_unique<LogoutCommand>());
}

}  // namespace berth::cli
