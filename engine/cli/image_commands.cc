// The image commands: `berth images`, `image ls|inspect|history|tag|rm|prune|import|save|load`
// (and `image pull|push`, from registry_commands.cc)
// and the top-level `import`, `save`, `load`, `tag`, `rmi`, `history`, with docker's flags,
// output and exit codes.
#include <fcntl.h>
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <map>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "berth/engine/v1/images.grpc.pb.h"
#include "engine/cli/commands.h"
#include "engine/cli/container_format.h"
#include "engine/cli/format.h"
#include "engine/cli/parse_options.h"
#include "engine/cli/registry_commands.h"
#include "engine/cli/image_format.h"
#include "engine/cli/template.h"

namespace berth::cli {
namespace {

namespace v1 = ::berth::engine::v1;
using google::protobuf::util::TimeUtil;
using Json = nlohmann::ordered_json;

// Streams (import, load, save) move whole images: allow them much longer than a metadata call.
constexpr absl::Duration kStreamTimeout = absl::Hours(6);
constexpr size_t kChunk = 1 << 20;

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(ts));
}

std::string Rfc3339(const google::protobuf::Timestamp& ts) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", FromProto(ts), absl::UTCTimeZone());
}

std::string ShortImageId(const std::string& id, bool no_trunc) {
  if (no_trunc) return id;
  absl::string_view hex = id;
  if (absl::StartsWith(hex, "sha256:")) hex.remove_prefix(7);
  return std::string(hex.substr(0, 12));
}

std::string Since(const google::protobuf::Timestamp& ts, bool set) {
  if (!set) return "N/A";
  return HumanDuration(absl::Now() - FromProto(ts)) + " ago";
}

int UsageError(Cli& cli, const std::string& cmd, const std::string& msg) {
  cli.err() << msg << "\nSee 'berth " << cmd << " --help'.\n";
  return kExitUsage;
}

// Gets the Images stub, or prints why not.
std::unique_ptr<v1::Images::Stub> Stub(Cli& cli) {
  auto ch = cli.Channel();
  if (!ch.ok()) {
    cli.err() << "berth: " << ch.status().message() << "\n";
    return nullptr;
  }
  return v1::Images::NewStub(*ch);
}

// Filters "key=value" into the request's Filter messages.
template <typename Req>
bool AddFilters(Cli& cli, const std::string& cmd, const std::vector<std::string>& in, Req* req) {
  for (const auto& f : in) {
    size_t eq = f.find('=');
    if (eq == std::string::npos) {
      UsageError(cli, cmd, absl::StrCat("bad format of filter (expected name=value)"));
      return false;
    }
    auto* filter = req->add_filters();
    filter->set_key(f.substr(0, eq));
    filter->set_value(f.substr(eq + 1));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

// Column headers of `images --format "table ..."`, as docker names them.
std::string ImageColumn(const std::string& field) {
  static const auto* kNames = new std::map<std::string, std::string>{
      {"ID", "IMAGE ID"},           {"Repository", "REPOSITORY"}, {"Tag", "TAG"},
      {"Digest", "DIGEST"},         {"CreatedSince", "CREATED"},  {"CreatedAt", "CREATED AT"},
      {"Size", "SIZE"},             {"VirtualSize", "VIRTUAL SIZE"},
      {"SharedSize", "SHARED SIZE"}, {"UniqueSize", "UNIQUE SIZE"}, {"Containers", "CONTAINERS"}};
  auto it = kNames->find(field);
  return it != kNames->end() ? it->second : absl::AsciiStrToUpper(field);
}

class ImagesCommand : public Command {
 public:
  explicit ImagesCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return "List images"; }
  std::string UsageLine() const override {
    return "berth " + name_ + " [OPTIONS] [REPOSITORY[:TAG]]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&all_, "all", 'a', "Show all images (default hides intermediate images)");
    f.AddBool(&digests_, "digests", 0, "Show digests");
    f.AddStringList(&filters_, "filter", 'f', "Filter output based on conditions provided");
    f.AddString(&format_, "format", 0,
                "Format output: \"table\" (the default), \"json\", a Go template, or "
                "\"table TEMPLATE\"");
    f.AddBool(&no_trunc_, "no-trunc", 0, "Don't truncate output");
    f.AddBool(&quiet_, "quiet", 'q', "Only show image IDs");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() > 1)
      return UsageError(cli, name_, "\"berth " + name_ + "\" requires at most 1 argument.");
    // "json", "table" and "" are handled below; anything else is a template (checked first,
    // as docker does, so a bad one costs no request).
    const bool templated = !format_.empty() && format_ != "json" && format_ != "table";
    if (templated) {
      if (absl::StatusOr<std::string> check = FormatRowsWith(format_, {}, "", ImageColumn);
          !check.ok()) {
        cli.err() << check.status().message() << "\n";
        return kExitFailure;
      }
    }
    v1::ListImagesRequest req;
    req.set_all(all_);
    req.set_digests(true);
    if (!AddFilters(cli, name_, filters_, &req)) return kExitUsage;
    if (!args.empty()) {
      auto* f = req.add_filters();
      f->set_key("reference");
      f->set_value(args[0]);
    }
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::ListImagesResponse resp;
    ::grpc::Status st = stub->List(&ctx, req, &resp);
    if (!st.ok()) return cli.ReportError(st);

    if (quiet_) {
      std::set<std::string> seen;
      for (const auto& img : resp.images()) {
        std::string id = ShortImageId(img.id(), no_trunc_);
        if (seen.insert(id).second) cli.out() << id << "\n";
      }
      return kExitOk;
    }
    std::vector<std::string> header = {"REPOSITORY", "TAG"};
    if (digests_) header.push_back("DIGEST");
    for (const char* h : {"IMAGE ID", "CREATED", "SIZE"}) header.push_back(h);
    Table table(header);
    std::vector<Json> templated_rows;
    for (const auto& img : resp.images()) {
      std::vector<std::pair<std::string, std::string>> rows;  // repo, tag
      for (const auto& t : img.repo_tags()) {
        size_t colon = t.rfind(':');
        rows.emplace_back(t.substr(0, colon), t.substr(colon + 1));
      }
      if (rows.empty()) rows.emplace_back("<none>", "<none>");
      for (const auto& [repo, tag] : rows) {
        std::string digest = "<none>";
        for (const auto& d : img.repo_digests()) {
          if (absl::StartsWith(d, repo + "@")) digest = d.substr(repo.size() + 1);
        }
        const std::string id = ShortImageId(img.id(), no_trunc_);
        const std::string since = Since(img.created(), img.has_created());
        const std::string size = HumanSize(static_cast<double>(img.size()));
        if (format_ == "json" || templated) {
          Json j;
          j["Containers"] = "N/A";
          j["CreatedAt"] = img.has_created() ? Rfc3339(img.created()) : "";
          j["CreatedSince"] = since;
          j["Digest"] = digest;
          j["ID"] = id;
          j["Repository"] = repo;
          j["SharedSize"] = "N/A";
          j["Size"] = size;
          j["Tag"] = tag;
          j["UniqueSize"] = "N/A";
          j["VirtualSize"] = size;
          if (templated) {
            templated_rows.push_back(std::move(j));
          } else {
            cli.out() << j.dump() << "\n";
          }
          continue;
        }
        std::vector<std::string> row = {repo, tag};
        if (digests_) row.push_back(digest);
        for (const auto& c : {id, since, size}) row.push_back(c);
        table.Add(row);
      }
    }
    if (templated) {
      absl::StatusOr<std::string> text = FormatRowsWith(format_, templated_rows, "", ImageColumn);
      if (!text.ok()) {
        cli.err() << text.status().message() << "\n";
        return kExitFailure;
      }
      cli.out() << *text;
    } else if (format_ != "json") {
      table.Print(cli.out());
    }
    return kExitOk;
  }

 private:
  std::string name_;
  bool all_ = false, digests_ = false, no_trunc_ = false, quiet_ = false;
  std::vector<std::string> filters_;
  std::string format_;
};

// ---------------------------------------------------------------------------------------------


class ImageInspectCommand : public Command {
 public:
  std::string Name() const override { return "inspect"; }
  std::string Summary() const override {
    return "Display detailed information on one or more images";
  }
  std::string UsageLine() const override {
    return "berth image inspect [OPTIONS] IMAGE [IMAGE...]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddString(&format_, "format", 'f',
                "Format output using a custom template: 'json' (the default) or a Go template");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty())
      return UsageError(cli, "image inspect",
                        "\"berth image inspect\" requires at least 1 argument.");
    if (!format_.empty() && format_ != "json") {
      if (auto t = Template::Parse(format_); !t.ok()) {
        cli.err() << t.status().message() << "\n";
        return kExitFailure;
      }
    }
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    Json out = Json::array();
    int rc = kExitOk;
    for (const auto& a : args) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx);
      v1::InspectImageRequest req;
      req.set_image(a);
      v1::InspectImageResponse resp;
      ::grpc::Status st = stub->Inspect(&ctx, req, &resp);
      if (!st.ok()) {
        if (st.error_code() == ::grpc::StatusCode::NOT_FOUND) {
          cli.err() << "Error: No such image: " << a << "\n";
          rc = kExitFailure;
          continue;
        }
        return cli.ReportError(st);
      }
      out.push_back(ImageJson(resp.image()));
    }
    if (absl::Status s = WriteFormatted(cli.out(), format_, out); !s.ok()) {
      cli.err() << s.message() << "\n";
      return kExitFailure;
    }
    return rc;
  }

 private:
  std::string format_;
};

class HistoryCommand : public Command {
 public:
  explicit HistoryCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return "Show the history of an image"; }
  std::string UsageLine() const override { return "berth " + name_ + " [OPTIONS] IMAGE"; }
  void DefineFlags(FlagSet& f) override {
    f.AddString(&format_, "format", 0, "Format output: \"json\" or \"table\"");
    f.AddBool(&human_, "human", 'H', "Print sizes and dates in human readable format");
    f.AddBool(&no_trunc_, "no-trunc", 0, "Don't truncate output");
    f.AddBool(&quiet_, "quiet", 'q', "Only show image IDs");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() != 1)
      return UsageError(cli, name_, "\"berth " + name_ + "\" requires exactly 1 argument.");
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::ImageHistoryRequest req;
    req.set_image(args[0]);
    v1::ImageHistoryResponse resp;
    ::grpc::Status st = stub->History(&ctx, req, &resp);
    if (!st.ok()) return cli.ReportError(st);
    Table table({"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"});
    for (const auto& e : resp.entries()) {
      const std::string id = e.id().empty() ? "<missing>" : ShortImageId(e.id(), no_trunc_);
      if (quiet_) {
        cli.out() << id << "\n";
        continue;
      }
      std::string created_by = e.created_by();
      if (!no_trunc_ && created_by.size() > 45) created_by = created_by.substr(0, 44) + "…";
      const std::string created = human_ ? Since(e.created(), e.has_created())
                                         : (e.has_created() ? Rfc3339(e.created()) : "N/A");
      const std::string size =
          human_ ? HumanSize(static_cast<double>(e.size())) : absl::StrCat(e.size());
      if (format_ == "json") {
        Json j;
        j["Comment"] = e.comment();
        j["CreatedAt"] = e.has_created() ? Rfc3339(e.created()) : "";
        j["CreatedBy"] = created_by;
        j["CreatedSince"] = Since(e.created(), e.has_created());
        j["ID"] = id;
        j["Size"] = size;
        cli.out() << j.dump() << "\n";
        continue;
      }
      table.Add({id, created, created_by, size, e.comment()});
    }
    if (!quiet_ && format_ != "json") table.Print(cli.out());
    return kExitOk;
  }

 private:
  std::string name_, format_;
  bool human_ = true, no_trunc_ = false, quiet_ = false;
};

class TagCommand : public Command {
 public:
  explicit TagCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override {
    return "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE";
  }
  std::string UsageLine() const override {
    return "berth " + name_ + " SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]";
  }
  void DefineFlags(FlagSet&) override {}
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.size() != 2)
      return UsageError(cli, name_, "\"berth " + name_ + "\" requires exactly 2 arguments.");
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx);
    v1::TagImageRequest req;
    req.set_image(args[0]);
    req.set_target(args[1]);
    v1::TagImageResponse resp;
    ::grpc::Status st = stub->Tag(&ctx, req, &resp);
    return st.ok() ? kExitOk : cli.ReportError(st);
  }

 private:
  std::string name_;
};

class RemoveCommand : public Command {
 public:
  explicit RemoveCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return "Remove one or more images"; }
  std::string UsageLine() const override {
    return "berth " + name_ + " [OPTIONS] IMAGE [IMAGE...]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&force_, "force", 'f', "Force removal of the image");
    f.AddBool(&no_prune_, "no-prune", 0, "Do not delete untagged parents");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty())
      return UsageError(cli, name_, "\"berth " + name_ + "\" requires at least 1 argument.");
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    int rc = kExitOk;
    for (const auto& a : args) {
      ::grpc::ClientContext ctx;
      Cli::Prepare(ctx, absl::Minutes(5));
      v1::RemoveImageRequest req;
      req.set_image(a);
      req.set_force(force_);
      req.set_no_prune(no_prune_);
      v1::RemoveImageResponse resp;
      ::grpc::Status st = stub->Remove(&ctx, req, &resp);
      if (!st.ok()) {
        cli.out().flush();
        rc = cli.ReportError(st);
        continue;
      }
      for (const auto& e : resp.entries()) {
        if (e.has_untagged()) cli.out() << "Untagged: " << e.untagged() << "\n";
        if (e.has_deleted()) cli.out() << "Deleted: " << e.deleted() << "\n";
      }
    }
    return rc;
  }

 private:
  std::string name_;
  bool force_ = false, no_prune_ = false;
};

class PruneCommand : public Command {
 public:
  std::string Name() const override { return "prune"; }
  std::string Summary() const override { return "Remove unused images"; }
  std::string UsageLine() const override { return "berth image prune [OPTIONS]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddBool(&all_, "all", 'a', "Remove all unused images, not just dangling ones");
    f.AddStringList(&filters_, "filter", 0, "Provide filter values (e.g. \"until=<timestamp>\")");
    f.AddBool(&force_, "force", 'f', "Do not prompt for confirmation");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty())
      return UsageError(cli, "image prune", "\"berth image prune\" accepts no arguments.");
    v1::PruneImagesRequest req;
    req.set_all(all_);
    if (!AddFilters(cli, "image prune", filters_, &req)) return kExitUsage;
    if (!force_) {
      cli.out() << (all_ ? "WARNING! This will remove all images without at least one container "
                           "associated to them.\n"
                         : "WARNING! This will remove all dangling images.\n")
                << "Are you sure you want to continue? [y/N] ";
      cli.out().flush();
      std::string answer;
      std::getline(std::cin, answer);
      if (answer != "y" && answer != "Y") return kExitOk;
    }
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, absl::Minutes(10));
    v1::PruneImagesResponse resp;
    ::grpc::Status st = stub->Prune(&ctx, req, &resp);
    if (!st.ok()) return cli.ReportError(st);
    if (resp.entries_size() > 0) {
      cli.out() << "Deleted Images:\n";
      for (const auto& e : resp.entries()) {
        if (e.has_untagged()) cli.out() << "untagged: " << e.untagged() << "\n";
        if (e.has_deleted()) cli.out() << "deleted: " << e.deleted() << "\n";
      }
      cli.out() << "\n";
    }
    cli.out() << "Total reclaimed space: " << HumanSize(static_cast<double>(resp.space_reclaimed()))
              << "\n";
    return kExitOk;
  }

 private:
  bool all_ = false, force_ = false;
  std::vector<std::string> filters_;
};

// Reads `fd` to the end in chunks, handing each to `sink` (false from the sink stops).
absl::Status ReadChunks(int fd, const std::function<bool(std::string)>& sink) {
  while (true) {
    std::string buf(kChunk, '\0');
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, "read");
    }
    if (n == 0) return absl::OkStatus();
    buf.resize(static_cast<size_t>(n));
    if (!sink(std::move(buf))) return absl::OkStatus();
  }
}

// Opens FILE for reading ("-" or "" is stdin); prints the error and returns -1 on failure.
int OpenInput(Cli& cli, const std::string& path) {
  if (path.empty() || path == "-") return STDIN_FILENO;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cli.err() << "berth: open " << path << ": " << std::strerror(errno) << "\n";
    return -1;
  }
  return fd;
}

class ImportCommand : public Command {
 public:
  explicit ImportCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override {
    return "Import the contents from a tarball to create a filesystem image";
  }
  std::string UsageLine() const override {
    return "berth " + name_ + " [OPTIONS] file|URL|- [REPOSITORY[:TAG]]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddStringList(&changes_, "change", 'c', "Apply Dockerfile instruction to the created image");
    f.AddString(&message_, "message", 'm', "Set commit message for imported image");
    f.AddString(&platform_, "platform", 0, "Set platform if server is multi-platform capable");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty() || args.size() > 2) {
      return UsageError(cli, name_,
                        "\"berth " + name_ + "\" requires at least 1 and at most 2 arguments.");
    }
    v1::ImportImageRequest first;
    auto* o = first.mutable_options();
    if (args.size() == 2) o->set_reference(args[1]);
    for (const auto& c : changes_) o->add_changes(c);
    o->set_message(message_);
    if (!platform_.empty()) {
      absl::StatusOr<berth::types::v1::Platform> p = ParsePlatform(platform_);
      if (!p.ok()) {
        cli.err() << "berth: " << p.status().message() << "\n";
        return kExitFailure;
      }
      *o->mutable_platform() = *p;
    }
    const bool url = absl::StartsWith(args[0], "http://") || absl::StartsWith(args[0], "https://");
    int fd = -1;
    if (url) {
      o->set_source_url(args[0]);
    } else {
      fd = OpenInput(cli, args[0]);
      if (fd < 0) return kExitFailure;
    }
    absl::Cleanup close_fd = [fd] {
      if (fd > STDIN_FILENO) close(fd);
    };
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, kStreamTimeout);
    v1::ImportImageResponse resp;
    auto writer = stub->Import(&ctx, &resp);
    bool open = writer->Write(first);
    absl::Status read_status = absl::OkStatus();
    if (open && fd >= 0) {
      read_status = ReadChunks(fd, [&](std::string data) {
        v1::ImportImageRequest req;
        req.set_data(std::move(data));
        open = writer->Write(req);
        return open;
      });
      if (!read_status.ok()) ctx.TryCancel();
    }
    if (open) writer->WritesDone();
    ::grpc::Status st = writer->Finish();
    if (!read_status.ok()) {
      cli.err() << "berth: read " << args[0] << ": " << read_status.message() << "\n";
      return kExitFailure;
    }
    if (!st.ok()) return cli.ReportError(st);
    cli.out() << resp.image_id() << "\n";
    return kExitOk;
  }

 private:
  std::string name_, message_, platform_;
  std::vector<std::string> changes_;
};

class SaveCommand : public Command {
 public:
  explicit SaveCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override {
    return "Save one or more images to a tar archive (streamed to STDOUT by default)";
  }
  std::string UsageLine() const override {
    return "berth " + name_ + " [OPTIONS] IMAGE [IMAGE...]";
  }
  void DefineFlags(FlagSet& f) override {
    f.AddString(&output_, "output", 'o', "Write to a file, instead of STDOUT");
    f.AddString(&format_, "format", 0, "Archive layout: \"docker\" (default, also OCI) or \"oci\"");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (args.empty())
      return UsageError(cli, name_, "\"berth " + name_ + "\" requires at least 1 argument.");
    v1::SaveImagesRequest req;
    for (const auto& a : args) req.add_images(a);
    if (format_ == "oci") {
      req.set_format(v1::IMAGE_ARCHIVE_FORMAT_OCI_LAYOUT);
    } else if (format_.empty() || format_ == "docker") {
      req.set_format(v1::IMAGE_ARCHIVE_FORMAT_DOCKER_ARCHIVE);
    } else {
      return UsageError(cli, name_,
                        "unsupported --format \"" + format_ + "\": use \"docker\" or \"oci\"");
    }
    if (output_.empty() && isatty(STDOUT_FILENO)) {
      cli.err() << "berth: cowardly refusing to save to a terminal. Use the -o flag or redirect\n";
      return kExitFailure;
    }
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    // Into a temporary file beside the output, renamed at the end: a failed save leaves no
    // truncated archive behind.
    int fd = STDOUT_FILENO;
    std::string tmp;
    if (!output_.empty()) {
      tmp = output_ + ".berth-tmp";
      fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (fd < 0) {
        cli.err() << "berth: failed to save image: open " << output_ << ": " << std::strerror(errno)
                  << "\n";
        return kExitFailure;
      }
    }
    absl::Cleanup cleanup = [&] {
      if (!tmp.empty()) {
        close(fd);
        unlink(tmp.c_str());
      }
    };
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, kStreamTimeout);
    auto reader = stub->Save(&ctx, req);
    v1::SaveImagesResponse chunk;
    std::string write_error;
    while (reader->Read(&chunk)) {
      const std::string& d = chunk.data();
      for (size_t at = 0; at < d.size() && write_error.empty();) {
        ssize_t n = write(fd, d.data() + at, d.size() - at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
          write_error = std::strerror(errno);
          ctx.TryCancel();
          break;
        }
        at += static_cast<size_t>(n);
      }
    }
    ::grpc::Status st = reader->Finish();
    if (!write_error.empty()) {
      cli.err() << "berth: failed to save image: write: " << write_error << "\n";
      return kExitFailure;
    }
    if (!st.ok()) return cli.ReportError(st);
    if (!tmp.empty()) {
      if (fsync(fd) != 0 || rename(tmp.c_str(), output_.c_str()) != 0) {
        cli.err() << "berth: failed to save image: " << std::strerror(errno) << "\n";
        return kExitFailure;
      }
      tmp.clear();
      close(fd);
    }
    return kExitOk;
  }

 private:
  std::string name_, output_, format_;
};

class LoadCommand : public Command {
 public:
  explicit LoadCommand(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  std::string Summary() const override { return "Load an image from a tar archive or STDIN"; }
  std::string UsageLine() const override { return "berth " + name_ + " [OPTIONS]"; }
  void DefineFlags(FlagSet& f) override {
    f.AddString(&input_, "input", 'i', "Read from tar archive file, instead of STDIN");
    f.AddBool(&quiet_, "quiet", 'q', "Suppress the load output");
  }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    if (!args.empty())
      return UsageError(cli, name_, "\"berth " + name_ + "\" accepts no arguments.");
    if (input_.empty() && isatty(STDIN_FILENO)) {
      cli.err() << "berth: requested load from stdin, but stdin is empty\n";
      return kExitFailure;
    }
    int fd = OpenInput(cli, input_);
    if (fd < 0) return kExitFailure;
    absl::Cleanup close_fd = [fd] {
      if (fd > STDIN_FILENO) close(fd);
    };
    auto stub = Stub(cli);
    if (stub == nullptr) return kExitFailure;
    ::grpc::ClientContext ctx;
    Cli::Prepare(ctx, kStreamTimeout);
    auto stream = stub->Load(&ctx);
    v1::LoadImagesRequest first;
    first.mutable_options()->set_quiet(quiet_);
    bool open = stream->Write(first);
    absl::Status read_status = absl::OkStatus();
    if (open) {
      read_status = ReadChunks(fd, [&](std::string data) {
        v1::LoadImagesRequest req;
        req.set_data(std::move(data));
        open = stream->Write(req);
        return open;
      });
      if (!read_status.ok()) ctx.TryCancel();
    }
    if (open) stream->WritesDone();
    v1::LoadImagesResponse resp;
    std::vector<std::string> lines;
    while (stream->Read(&resp)) {
      if (!resp.has_loaded()) continue;
      if (resp.loaded().reference().empty()) {
        lines.push_back("Loaded image ID: " + resp.loaded().image_id());
      } else {
        lines.push_back("Loaded image: " + resp.loaded().reference());
      }
    }
    ::grpc::Status st = stream->Finish();
    if (!read_status.ok()) {
      cli.err() << "berth: read " << (input_.empty() ? "stdin" : input_) << ": "
                << read_status.message() << "\n";
      return kExitFailure;
    }
    if (!st.ok()) return cli.ReportError(st);
    for (const auto& l : lines) cli.out() << l << "\n";
    return kExitOk;
  }

 private:
  std::string name_, input_;
  bool quiet_ = false;
};

// `berth image SUBCOMMAND`: dispatches to the image subcommands with their own flags.
class ImageCommand : public Command {
 public:
  std::string Name() const override { return "image"; }
  std::string Summary() const override { return "Manage images"; }
  std::string UsageLine() const override { return "berth image COMMAND"; }
  void DefineFlags(FlagSet&) override {}
  bool StopAtFirstArg() const override { return true; }
  int Run(Cli& cli, const std::vector<std::string>& args) override {
    std::vector<std::unique_ptr<Command>> subs;
    subs.push_back(std::make_unique<HistoryCommand>("history"));
    subs.push_back(std::make_unique<ImportCommand>("import"));
    subs.push_back(std::make_unique<ImageInspectCommand>());
    subs.push_back(std::make_unique<LoadCommand>("load"));
    subs.push_back(std::make_unique<ImagesCommand>("ls"));
    subs.push_back(std::make_unique<PruneCommand>());
    subs.push_back(NewPullCommand("image pull"));
    subs.push_back(NewPushCommand("image push"));
    subs.push_back(std::make_unique<RemoveCommand>("rm"));
    subs.push_back(std::make_unique<SaveCommand>("save"));
    subs.push_back(std::make_unique<TagCommand>("tag"));
    if (args.empty()) {
      cli.out() << "\nUsage:  berth image COMMAND\n\nManage images\n\nCommands:\n";
      for (const auto& s : subs) {
        std::string n = s->Name();
        n.resize(std::max<size_t>(n.size() + 2, 12), ' ');
        cli.out() << "  " << n << s->Summary() << "\n";
      }
      cli.out() << "\nRun 'berth image COMMAND --help' for more information on a command.\n";
      return kExitOk;
    }
    std::string name = args[0];
    if (name == "list") name = "ls";
    if (name == "remove" || name == "rmi") name = "rm";
    for (auto& s : subs) {
      if (s->Name() != name) continue;
      FlagSet flags;
      bool help = false;
      s->DefineFlags(flags);
      flags.AddBool(&help, "help", 0, "Print usage");
      auto pos = flags.Parse(std::vector<std::string>(args.begin() + 1, args.end()));
      if (!pos.ok()) return UsageError(cli, "image " + name, std::string(pos.status().message()));
      if (help) {
        cli.out() << "\nUsage:  " << s->UsageLine() << "\n\n"
                  << s->Summary() << "\n\n"
                  << flags.Usage();
        return kExitOk;
      }
      return s->Run(cli, *pos);
    }
    cli.err() << "berth: 'image " << args[0]
              << "' is not a berth command.\nSee 'berth image --help'\n";
    return kExitUsage;
  }
};

}  // namespace

void AddImageCommands(std::vector<std::unique_ptr<Command>>* cmds) {
  cmds->push_back(std::make_unique<HistoryCommand>("history"));
  cmds->push_back(std::make_unique<ImageCommand>());
  cmds->push_back(std::make_unique<ImagesCommand>("images"));
  cmds->push_back(std::make_unique<ImportCommand>("import"));
  cmds->push_back(std::make_unique<LoadCommand>("load"));
  cmds->push_back(std::make_unique<RemoveCommand>("rmi"));
  cmds->push_back(std::make_unique<SaveCommand>("save"));
  cmds->push_back(std::make_unique<TagCommand>("tag"));
}

nlohmann::ordered_json ImageJson(const v1::Image& img) {
  auto list_or_null = [](const auto& field) -> Json {
    if (field.empty()) return nullptr;
    Json a = Json::array();
    for (const auto& v : field) a.push_back(v);
    return a;
  };
  const v1::ImageConfig& c = img.config();
  Json config;
  config["Hostname"] = "";
  config["Domainname"] = "";
  config["User"] = c.user();
  config["AttachStdin"] = false;
  config["AttachStdout"] = false;
  config["AttachStderr"] = false;
  if (c.exposed_ports_size() > 0) {
    Json ports = Json::object();
    for (const auto& p : c.exposed_ports()) {
      const char* proto = p.protocol() == v1::PORT_PROTOCOL_UDP    ? "udp"
                          : p.protocol() == v1::PORT_PROTOCOL_SCTP ? "sctp"
                                                                   : "tcp";
      ports[absl::StrCat(p.port(), "/", proto)] = Json::object();
    }
    config["ExposedPorts"] = ports;
  }
  config["Tty"] = false;
  config["OpenStdin"] = false;
  config["StdinOnce"] = false;
  config["Env"] = list_or_null(c.env());
  config["Cmd"] = list_or_null(c.cmd());
  if (c.healthcheck().tests_size() > 0) {
    config["Healthcheck"] = {{"Test", list_or_null(c.healthcheck().tests())}};
  }
  config["Image"] = "";
  if (c.volumes_size() > 0) {
    Json v = Json::object();
    for (const auto& p : c.volumes()) v[p] = Json::object();
    config["Volumes"] = v;
  } else {
    config["Volumes"] = nullptr;
  }
  config["WorkingDir"] = c.working_dir();
  config["Entrypoint"] = list_or_null(c.entrypoint());
  config["OnBuild"] = list_or_null(c.on_builds());
  if (c.labels().empty()) {
    config["Labels"] = nullptr;
  } else {
    std::map<std::string, std::string> sorted(c.labels().begin(), c.labels().end());
    Json l = Json::object();
    for (const auto& [k, v] : sorted) l[k] = v;
    config["Labels"] = l;
  }
  if (!c.stop_signal().empty()) config["StopSignal"] = c.stop_signal();
  if (c.shell_size() > 0) config["Shell"] = list_or_null(c.shell());

  Json j;
  j["Id"] = img.id();
  Json tags = Json::array(), digests = Json::array();
  for (const auto& t : img.repo_tags()) tags.push_back(t);
  for (const auto& d : img.repo_digests()) digests.push_back(d);
  j["RepoTags"] = tags;
  j["RepoDigests"] = digests;
  j["Parent"] = img.parent();
  j["Comment"] = img.comment();
  j["Created"] = img.has_created() ? Rfc3339(img.created()) : "0001-01-01T00:00:00Z";
  j["DockerVersion"] = "";
  j["Author"] = img.author();
  j["Config"] = config;
  j["Architecture"] = img.architecture();
  if (!img.variant().empty()) j["Variant"] = img.variant();
  j["Os"] = img.os();
  if (!img.os_version().empty()) j["OsVersion"] = img.os_version();
  j["Size"] = img.size();
  Json gd;
  gd["Data"] = nullptr;
  gd["Name"] = img.graph_driver().name();
  j["GraphDriver"] = gd;
  Json rootfs;
  rootfs["Type"] = img.root_fs().type();
  Json layers = Json::array();
  for (const auto& l : img.root_fs().layers()) layers.push_back(l);
  rootfs["Layers"] = layers;
  j["RootFS"] = rootfs;
  Json meta;
  if (img.has_last_tag_time()) {
    meta["LastTagTime"] = Rfc3339(img.last_tag_time());
  } else {
    meta["LastTagTime"] = "0001-01-01T00:00:00Z";
  }
  j["Metadata"] = meta;
  return j;
}

}  // namespace berth::cli
