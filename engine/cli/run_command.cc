// The commands that run processes and relay their I/O: run, create, start, attach and exec.
//
// `run` without -d follows docker's order so no output and no exit is lost: create, register a
// Wait (NEXT_EXIT, or REMOVED with --rm), attach and wait for `attached`, then start, relay
// until the container exits, and exit with the code Wait reports.
#include <signal.h>
#include <unistd.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/cli/container_commands.h"
#include "engine/cli/registry_commands.h"
#include "engine/cli/run_options.h"
#include "engine/cli/stream_relay.h"
#include "engine/cli/tty.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;

constexpr int kExitRunError = 125;

bool StdinIsTerminal() { return isatty(STDIN_FILENO) == 1; }

// The terminal whose size a tty container gets: stdout's, else stdin's.
std::optional<WindowSize> TerminalSize() {
  auto s = GetWindowSize(STDOUT_FILENO);
  if (!s.has_value()) s = GetWindowSize(STDIN_FILENO);
  return s;
}

// Signals a relay watches: window changes for ttys; with a proxy (no tty), the signals a user
// sends to the CLI are forwarded; without one they end the relay (and restore the terminal).
std::vector<int> RelaySignals(bool tty) {
  std::vector<int> sigs = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
  if (tty) sigs.push_back(SIGWINCH);
  return sigs;
}

}  // namespace

AttachOutcome AttachAndRelay(Cli& cli, v1::Containers::Stub& stub, const AttachPlan& plan) {
  AttachOutcome outcome;
  auto signals = SignalPipe::Install(RelaySignals(plan.tty));

  ::grpc::ClientContext ctx;
  ctx.set_wait_for_ready(false);
  auto stream = stub.Attach(&ctx);
  v1::AttachContainerRequest first;
  v1::AttachOptions& opts = *first.mutable_options();
  opts.set_id(plan.id);
  opts.set_stdin(plan.stdin);
  opts.set_stdout(true);
  opts.set_stderr(true);
  opts.set_detach_keys(plan.detach_keys);
  v1::AttachContainerResponse resp;
  if (!stream->Write(first) || !stream->Read(&resp) || !resp.has_attached()) {
    // A failed Read means the server ended the call with its error; anything else is a
    // protocol error and the call is cancelled.
    if (resp.message_case() != v1::AttachContainerResponse::MESSAGE_NOT_SET) ctx.TryCancel();
    stream->WritesDone();
    ::grpc::Status st = stream->Finish();
    if (st.ok()) st = ::grpc::Status(::grpc::StatusCode::INTERNAL, "attach was not confirmed");
    outcome.exit_code = cli.ReportError(st);
    return outcome;
  }

  // Raw mode only when the user types into a container terminal.
  std::unique_ptr<RawTerminal> raw;
  if (plan.tty && plan.stdin && StdinIsTerminal()) {
    auto r = RawTerminal::Enable(STDIN_FILENO);
    if (r.ok()) raw = std::move(*r);
  }
  if (plan.start) {
    int rc = plan.start();
    if (rc != 0) {
      raw.reset();
      ctx.TryCancel();
      stream->Finish();
      outcome.exit_code = rc;
      return outcome;
    }
  }
  if (plan.tty) {
    // docker resizes once started: the process may have been created with another size.
    if (auto size = TerminalSize(); size.has_value()) {
      v1::AttachContainerRequest r;
      r.mutable_resize()->set_height(size->height);
      r.mutable_resize()->set_width(size->width);
      stream->Write(r);
    }
  }

  RelayOptions ro;
  ro.stdin_fd = plan.stdin ? STDIN_FILENO : -1;
  ro.signals = signals.ok() ? signals->get() : nullptr;
  ro.tty = plan.tty;
  if (plan.sig_proxy && !plan.tty) {
    ro.proxy = [&stub, id = plan.id](int sig) {
      ::grpc::ClientContext kctx;
      Cli::Prepare(kctx, absl::Seconds(10));
      v1::KillContainerRequest req;
      req.set_id(id);
      req.set_signal(absl::StrCat(sig));
      v1::KillContainerResponse kresp;
      (void)stub.Kill(&kctx, req, &kresp);
    };
  }
  RelayResult r = RelayStream(ctx, *stream, cli.out(), cli.err(), ro);
  raw.reset();
  if (r.kind == RelayResult::kExited) {
    outcome.exited = true;
    outcome.exit_code = r.exit_code;
    if (!r.exit_error.empty()) cli.err() << "Error: " << r.exit_error << "\n";
  } else if (r.kind == RelayResult::kDetached) {
    outcome.detached = true;
  } else if (r.status.error_code() == ::grpc::StatusCode::CANCELLED) {
    // A signal ended the relay (no proxy): leave like a detach, the container keeps running.
    outcome.detached = true;
  } else if (!r.status.ok()) {
    outcome.exit_code = cli.ReportError(r.status);
  }
  return outcome;
}

namespace {

int StartContainer(Cli& cli, v1::Containers::Stub& stub, const std::string& id, bool run_prefix,
                   int otherwise) {
  ::grpc::ClientContext ctx;
  Cli::Prepare(ctx, absl::Minutes(2));
  v1::StartContainerRequest req;
  req.set_id(id);
  v1::StartContainerResponse resp;
  ::grpc::Status st = stub.Start(&ctx, req, &resp);
  if (st.ok()) return 0;
  if (run_prefix) cli.err() << "berth: ";
  cli.ReportError(st);
  return StartFailureExitCode(st.error_message(), otherwise);
}

// A Wait registered before the relay begins (Docker's CLI does the same), so a fast exit is not
// missed and the code it reports is the one berthd recorded: once it answers, `inspect` shows
// the container exited too (the attach stream's own exit frame comes from the shim, earlier).
class RegisteredWait {
 public:
  // Registers the wait; null with `*error` set when berthd refused it (e.g. no such container).
  static std::unique_ptr<RegisteredWait> Register(v1::Containers::Stub& stub,
                                                  const std::string& id,
                                                  v1::WaitCondition condition,
                                                  ::grpc::Status* error) {
    std::unique_ptr<RegisteredWait> w(new RegisteredWait());
    v1::WaitContainerRequest req;
    req.set_id(id);
    req.set_condition(condition);
    w->reader_ = stub.Wait(&w->ctx_, req);
    v1::WaitContainerResponse resp;
    if (!w->reader_->Read(&resp) || !resp.has_registered()) {
      ::grpc::Status st = w->reader_->Finish();
      w->reader_.reset();
      if (st.ok()) st = ::grpc::Status(::grpc::StatusCode::INTERNAL, "wait was not registered");
      *error = st;
      return nullptr;
    }
    return w;
  }
  ~RegisteredWait() { Cancel(); }

  // Reads to the end: the exit code berthd reported (nullopt when none came), its error text in
  // `*error`, and the call's status in `*status`.
  std::optional<int> Result(std::string* error, ::grpc::Status* status) {
    std::optional<int> code;
    v1::WaitContainerResponse resp;
    while (reader_->Read(&resp)) {
      if (resp.has_exit()) {
        code = resp.exit().exit_code();
        *error = resp.exit().error();
      }
    }
    *status = reader_->Finish();
    reader_.reset();
    return code;
  }

  // Gives up on the answer (detach, failed start).
  void Cancel() {
    if (reader_ == nullptr) return;
    ctx_.TryCancel();
    (void)reader_->Finish();
    reader_.reset();
  }

 private:
  RegisteredWait() = default;
  ::grpc::ClientContext ctx_;
  std::unique_ptr<::grpc::ClientReader<v1::WaitContainerResponse>> reader_;
};

// Relays `plan` and returns the exit code berthd recorded (see RegisteredWait), or the relay's
// own outcome when detached or when no exit came.
int RelayAndWait(Cli& cli, v1::Containers::Stub& stub, const AttachPlan& plan) {
  ::grpc::Status refused;
  std::unique_ptr<RegisteredWait> waiter =
      RegisteredWait::Register(stub, plan.id, v1::WAIT_CONDITION_NEXT_EXIT, &refused);
  AttachOutcome out = AttachAndRelay(cli, stub, plan);
  if (out.detached || !out.exited || waiter == nullptr) return out.exit_code;
  std::string error;
  ::grpc::Status st;
  return waiter->Result(&error, &st).value_or(out.exit_code);
}

class RunCreateCommand : public Command {
 public:
  explicit RunCreateCommand(bool run) : run_(run) {}
  std::string Name() const override { return run_ ? "run" : "create"; }
  std::string Summary() const override {
    return run_ ? "Create and run a new container from an image" : "Create a new container";
  }
  std::string UsageLine() const override {
    return absl::StrCat("berth ", Name(), " [OPTIONS] IMAGE [COMMAND] [ARG...]");
  }
  void DefineFlags(FlagSet& f) override {
    flags_ = &f;
    opts_.Define(f, run_);
  }
  bool StopAtFirstArg() const override { return true; }

  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty()) {
      return ArgsError(cli, Name(), UsageLine(), "requires at least 1 argument");
    }
    const bool attach = run_ && !opts_.detach;
    if (attach && opts_.tty && opts_.interactive && !StdinIsTerminal()) {
      cli.err() << "the input device is not a TTY\n";
      return kExitFailure;
    }
    CreateInputs in;
    in.args = args;
    in.env_lookup = ProcessEnv();
    if (opts_.tty) {
      if (auto size = TerminalSize(); size.has_value()) {
        in.tty_height = size->height;
        in.tty_width = size->width;
      }
    }
    auto req = BuildCreateRequest(opts_, *flags_, in);
    if (!req.ok()) {
      cli.err() << "berth: " << req.status().message() << "\nSee 'berth " << Name()
                << " --help'.\n";
      return kExitRunError;
    }
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitRunError;

    if (opts_.pull != "missing" && opts_.pull != "always" && opts_.pull != "never") {
      cli.err() << "berth: invalid pull option: '" << opts_.pull
                << "': must be one of \"always\", \"missing\" or \"never\"\nSee 'berth "
                << Name() << " --help'.\n";
      return kExitRunError;
    }
    // Like docker: the pull's progress goes to stderr, stdout stays the container's.
    auto pull = [&]() -> bool {
      ::grpc::Status ps = PullForRun(cli, args[0], opts_.platform);
      if (ps.ok()) return true;
      ReportRegistryError(cli, ps);
      return false;
    };
    if (opts_.pull == "always" && !pull()) return run_ ? kExitRunError : kExitFailure;
    v1::CreateContainerResponse created;
    auto create = [&] {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx, absl::Minutes(2));
      return stub->Create(&ctx, *req, &created);
    };
    ::grpc::Status st = create();
    // Create answers NOT_FOUND only for a missing image: pull it and try once more.
    if (st.error_code() == ::grpc::StatusCode::NOT_FOUND && opts_.pull == "missing") {
      cli.err() << "Unable to find image '" << ImageWithDefaultTag(args[0]) << "' locally\n";
      if (!pull()) return run_ ? kExitRunError : kExitFailure;
      st = create();
    }
    if (!st.ok()) {
      if (run_) cli.err() << "berth: ";
      cli.ReportError(st);
      return run_ ? kExitRunError : kExitFailure;
    }
    for (const auto& w : created.warnings()) cli.err() << "WARNING: " << w << "\n";
    const std::string& id = created.id();
    if (!run_) {
      cli.out() << id << "\n";
      return kExitOk;
    }
    if (!attach) {
      int rc = StartContainer(cli, *stub, id, true, kExitRunError);
      if (rc != 0) {
        RemoveAfterFailedStart(*stub, id);
        return rc;
      }
      cli.out() << id << "\n";
      return kExitOk;
    }
    return RunAttached(cli, *stub, id);
  }

 private:
  // With --rm berthd removes the container when it exits; one that never started is removed
  // here so a failed run leaves nothing behind.
  void RemoveAfterFailedStart(v1::Containers::Stub& stub, const std::string& id) {
    if (!opts_.rm) return;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::RemoveContainerRequest req;
    req.set_id(id);
    req.set_force(true);
    v1::RemoveContainerResponse resp;
    (void)stub.Remove(&ctx, req, &resp);
  }

  int RunAttached(Cli& cli, v1::Containers::Stub& stub, const std::string& id) {
    // Register the wait before starting so a fast exit is not missed.
    ::grpc::Status refused;
    std::unique_ptr<RegisteredWait> waiter = RegisteredWait::Register(
        stub, id, opts_.rm ? v1::WAIT_CONDITION_REMOVED : v1::WAIT_CONDITION_NEXT_EXIT, &refused);
    if (waiter == nullptr) {
      cli.err() << "berth: ";
      cli.ReportError(refused);
      return kExitRunError;
    }

    AttachPlan plan;
    plan.id = id;
    plan.stdin = opts_.interactive;
    plan.tty = opts_.tty;
    plan.sig_proxy = opts_.sig_proxy;
    plan.detach_keys = opts_.detach_keys;
    plan.start = [&] {
      int rc = StartContainer(cli, stub, id, true, kExitRunError);
      if (rc != 0) RemoveAfterFailedStart(stub, id);
      return rc;
    };
    AttachOutcome out = AttachAndRelay(cli, stub, plan);
    if (out.detached || (!out.exited && out.exit_code != 0)) {
      waiter->Cancel();
      return out.exit_code;
    }
    // The exit code comes from Wait; with --rm it also returns only once the container is
    // gone.
    std::string error;
    ::grpc::Status st;
    std::optional<int> code = waiter->Result(&error, &st);
    if (!error.empty()) cli.err() << "berth: Error response from daemon: " << error << "\n";
    if (!code.has_value() && !st.ok() && !out.exited) {
      cli.err() << "berth: ";
      cli.ReportError(st);
      return kExitRunError;
    }
    return code.value_or(out.exit_code);
  }

  bool run_;
  RunOptions opts_;
  const FlagSet* flags_ = nullptr;
};

// Fetches the container's description (for tty/open_stdin/state).
::grpc::Status InspectContainer(v1::Containers::Stub& stub, const std::string& id,
                                v1::Container* out) {
  ::grpc::ClientContext ctx;
  Cli::Prepare(ctx);
  v1::InspectContainerRequest req;
  req.set_id(id);
  v1::InspectContainerResponse resp;
  ::grpc::Status st = stub.Inspect(&ctx, req, &resp);
  if (st.ok()) *out = resp.container();
  return st;
}

class StartCommand : public Command {
 public:
  std::string Name() const override { return "start"; }
  std::string Summary() const override { return "Start one or more stopped containers"; }
  std::string UsageLine() const override {
    return "berth start [OPTIONS] CONTAINER [CONTAINER...]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&attach_, "attach", 'a', "Attach STDOUT/STDERR and forward signals");
    f.AddBool(&interactive_, "interactive", 'i', "Attach container's STDIN");
    f.AddString(&detach_keys_, "detach-keys", 0,
                "Override the key sequence for detaching a container");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty()) return ArgsError(cli, "start", UsageLine(), "requires at least 1 argument");
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    if (!attach_ && !interactive_) {
      return ForEachContainer(cli, args, [&](const std::string& id) {
        ::grpc::ClientContext ctx;
        Cli::Prepare(ctx, absl::Minutes(2));
        v1::StartContainerRequest req;
        req.set_id(id);
        v1::StartContainerResponse resp;
        return stub->Start(&ctx, req, &resp);
      });
    }
    if (args.size() > 1) {
      cli.err() << "you cannot start and attach multiple containers at once\n";
      return kExitFailure;
    }
    v1::Container c;
    if (::grpc::Status st = InspectContainer(*stub, args[0], &c); !st.ok()) {
      return cli.ReportError(st);
    }
    if (interactive_ && c.config().tty() && c.config().open_stdin() && !StdinIsTerminal()) {
      cli.err() << "the input device is not a TTY\n";
      return kExitFailure;
    }
    AttachPlan plan;
    plan.id = c.id();
    plan.stdin = interactive_ && c.config().open_stdin();
    plan.tty = c.config().tty();
    plan.detach_keys = detach_keys_;
    plan.start = [&] { return StartContainer(cli, *stub, c.id(), false, kExitFailure); };
    return RelayAndWait(cli, *stub, plan);
  }

 private:
  bool attach_ = false, interactive_ = false;
  std::string detach_keys_;
};

class AttachCommand : public Command {
 public:
  std::string Name() const override { return "attach"; }
  std::string Summary() const override {
    return "Attach local standard input, output, and error streams to a running container";
  }
  std::string UsageLine() const override { return "berth attach [OPTIONS] CONTAINER"; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&no_stdin_, "no-stdin", 0, "Do not attach STDIN");
    f.AddBool(&sig_proxy_, "sig-proxy", 0, "Proxy all received signals to the process");
    f.AddString(&detach_keys_, "detach-keys", 0,
                "Override the key sequence for detaching a container");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() != 1) return ArgsError(cli, "attach", UsageLine(), "requires 1 argument");
    if (!detach_keys_.empty()) {
      if (auto k = ParseDetachKeys(detach_keys_); !k.ok()) {
        cli.err() << k.status().message() << "\n";
        return kExitFailure;
      }
    }
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    v1::Container c;
    if (::grpc::Status st = InspectContainer(*stub, args[0], &c); !st.ok()) {
      return cli.ReportError(st);
    }
    if (!c.state().running()) {
      cli.err() << "You cannot attach to a stopped container, start it first\n";
      return kExitFailure;
    }
    if (c.state().paused()) {
      cli.err() << "You cannot attach to a paused container, unpause it first\n";
      return kExitFailure;
    }
    AttachPlan plan;
    plan.id = c.id();
    plan.stdin = !no_stdin_ && c.config().open_stdin();
    plan.tty = c.config().tty();
    if (plan.tty && plan.stdin && !StdinIsTerminal()) {
      cli.err() << "the input device is not a TTY\n";
      return kExitFailure;
    }
    plan.sig_proxy = sig_proxy_;
    plan.detach_keys = detach_keys_;
    return RelayAndWait(cli, *stub, plan);
  }

 private:
  bool no_stdin_ = false, sig_proxy_ = true;
  std::string detach_keys_;
};

class ExecCommand : public Command {
 public:
  std::string Name() const override { return "exec"; }
  std::string Summary() const override { return "Execute a command in a running container"; }
  std::string UsageLine() const override {
    return "berth exec [OPTIONS] CONTAINER COMMAND [ARG...]";
  }
  bool StopAtFirstArg() const override { return true; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&detach_, "detach", 'd', "Detached mode: run command in the background");
    f.AddBool(&interactive_, "interactive", 'i', "Keep STDIN open even if not attached");
    f.AddBool(&tty_, "tty", 't', "Allocate a pseudo-TTY");
    f.AddStringList(&env_, "env", 'e', "Set environment variables");
    f.AddStringList(&env_files_, "env-file", 0, "Read in a file of environment variables");
    f.AddString(&user_, "user", 'u', "Username or UID (format: \"<name|uid>[:<group|gid>]\")");
    f.AddString(&workdir_, "workdir", 'w', "Working directory inside the container");
    f.AddBool(&privileged_, "privileged", 0, "Give extended privileges to the command");
    f.AddString(&detach_keys_, "detach-keys", 0,
                "Override the key sequence for detaching a container");
  }

  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() < 2) return ArgsError(cli, "exec", UsageLine(), "requires at least 2 arguments");
    const bool attach_stdin = interactive_ && !detach_;
    if (tty_ && attach_stdin && !StdinIsTerminal()) {
      cli.err() << "the input device is not a TTY\n";
      return kExitFailure;
    }
    v1::ExecContainerRequest first;
    v1::ExecConfig& cfg = *first.mutable_config();
    cfg.set_id(args[0]);
    for (size_t i = 1; i < args.size(); ++i) cfg.add_cmd(args[i]);
    EnvLookup lookup = ProcessEnv();
    for (const auto& file : env_files_) {
      auto lines = ParseEnvFile(file, lookup);
      if (!lines.ok()) {
        cli.err() << "berth: " << lines.status().message() << "\n";
        return kExitUsage;
      }
      for (auto& l : *lines) cfg.add_env(l);
    }
    for (const auto& e : env_) {
      if (auto v = ExpandEnv(e, lookup); v.has_value()) cfg.add_env(*v);
    }
    cfg.set_user(user_);
    cfg.set_working_dir(workdir_);
    cfg.set_tty(tty_);
    cfg.set_stdin(attach_stdin);
    cfg.set_privileged(privileged_);
    cfg.set_detach(detach_);
    if (!detach_keys_.empty()) {
      if (auto k = ParseDetachKeys(detach_keys_); !k.ok()) {
        cli.err() << k.status().message() << "\n";
        return kExitFailure;
      }
    }
    cfg.set_detach_keys(detach_keys_);
    if (tty_) {
      if (auto size = TerminalSize(); size.has_value()) {
        cfg.mutable_console_size()->set_height(size->height);
        cfg.mutable_console_size()->set_width(size->width);
      }
    }
    auto stub = ContainersStub(cli);
    if (stub == nullptr) return kExitFailure;
    auto signals = detach_ ? absl::StatusOr<std::unique_ptr<SignalPipe>>(nullptr)
                           : SignalPipe::Install(RelaySignals(tty_));

    ::grpc::ClientContext ctx;
    ctx.set_wait_for_ready(false);
    auto stream = stub->Exec(&ctx);
    v1::ExecContainerResponse resp;
    if (!stream->Write(first) || !stream->Read(&resp) || !resp.has_started()) {
      if (resp.message_case() != v1::ExecContainerResponse::MESSAGE_NOT_SET) ctx.TryCancel();
      stream->WritesDone();
      ::grpc::Status st = stream->Finish();
      if (st.ok()) st = ::grpc::Status(::grpc::StatusCode::INTERNAL, "exec did not start");
      cli.ReportError(st);
      return StartFailureExitCode(st.error_message(), kExitFailure);
    }
    if (detach_) {
      stream->WritesDone();
      ::grpc::Status st = stream->Finish();
      return st.ok() ? kExitOk : cli.ReportError(st);
    }
    std::unique_ptr<RawTerminal> raw;
    if (tty_ && attach_stdin) {
      auto r = RawTerminal::Enable(STDIN_FILENO);
      if (r.ok()) raw = std::move(*r);
    }
    RelayOptions ro;
    ro.stdin_fd = attach_stdin ? STDIN_FILENO : -1;
    ro.signals = signals.ok() ? signals->get() : nullptr;
    ro.tty = tty_;
    // No proxy: docker exec forwards no signals; SIGINT/SIGTERM end the relay (restoring the
    // terminal) and the process keeps running.
    RelayResult r = RelayStream(ctx, *stream, cli.out(), cli.err(), ro);
    raw.reset();
    switch (r.kind) {
      case RelayResult::kExited:
        if (!r.exit_error.empty()) cli.err() << "Error: " << r.exit_error << "\n";
        return r.exit_code;
      case RelayResult::kDetached:
        return kExitOk;
      case RelayResult::kEnded:
        if (r.status.ok() || r.status.error_code() == ::grpc::StatusCode::CANCELLED) {
          return kExitFailure;
        }
        cli.ReportError(r.status);
        return StartFailureExitCode(r.status.error_message(), kExitFailure);
    }
    return kExitFailure;
  }

 private:
  bool detach_ = false, interactive_ = false, tty_ = false, privileged_ = false;
  std::vector<std::string> env_, env_files_;
  std::string user_, workdir_, detach_keys_;
};

}  // namespace

std::unique_ptr<Command> NewRunCommand() { return std::make_unique<RunCreateCommand>(true); }
std::unique_ptr<Command> NewCreateCommand() { return std::make_unique<RunCreateCommand>(false); }
std::unique_ptr<Command> NewStartCommand() { return std::make_unique<StartCommand>(); }
std::unique_ptr<Command> NewAttachCommand() { return std::make_unique<AttachCommand>(); }
std::unique_ptr<Command> NewExecCommand() { return std::make_unique<ExecCommand>(); }

}  // namespace berth::cli
