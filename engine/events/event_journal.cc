#include "engine/events/event_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/fs/fs.h"
#include "common/status/status_macros.h"
#include "glog/logging.h"

namespace berth::engine::events {
namespace {

std::string Serialize(const Event& e) {
  nlohmann::json j;
  j["seq"] = e.seq;
  j["type"] = TypeName(e.type);
  j["action"] = e.action;
  j["id"] = e.actor_id;
  j["attributes"] = e.attributes;
  j["time"] = absl::ToUnixNanos(e.time);
  // Attribute values come from users (labels, names): keep invalid UTF-8 instead of failing.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

bool Parse(absl::string_view line, Event* e) {
  nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return false;
  auto seq = j.find("seq");
  auto type = j.find("type");
  auto action = j.find("action");
  auto id = j.find("id");
  auto attrs = j.find("attributes");
  auto time = j.find("time");
  if (seq == j.end() || !seq->is_number_unsigned() || type == j.end() || !type->is_string() ||
      action == j.end() || !action->is_string() || id == j.end() || !id->is_string() ||
      time == j.end() || !time->is_number_integer()) {
    return false;
  }
  if (!ParseTypeName(type->get<std::string>(), &e->type)) return false;
  e->seq = seq->get<uint64_t>();
  e->action = action->get<std::string>();
  e->actor_id = id->get<std::string>();
  e->time = absl::FromUnixNanos(time->get<int64_t>());
  e->attributes.clear();
  if (attrs != j.end() && attrs->is_object()) {
    for (const auto& [k, v] : attrs->items()) {
      if (v.is_string()) e->attributes[k] = v.get<std::string>();
    }
  }
  return true;
}

// The events of one journal file, in file order; `bad` counts lines that did not parse (a
// torn last line after a crash, or a line being appended while a replay reads).
absl::StatusOr<std::vector<Event>> ReadEvents(const std::string& path, size_t* bad) {
  absl::StatusOr<std::string> text = fs::ReadFile(path);
  if (!text.ok()) {
    if (absl::IsNotFound(text.status())) return std::vector<Event>();
    return text.status();
  }
  std::vector<Event> out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    Event e;
    if (Parse(line, &e)) {
      out.push_back(std::move(e));
    } else {
      ++*bad;
    }
  }
  return out;
}

bool InRange(const SubscribeOptions& o, const Event& e) {
  if (o.since.has_value() && e.time < *o.since) return false;
  if (o.until.has_value() && e.time > *o.until) return false;
  return true;
}

}  // namespace

void EventJournal::Subscription::Cancel() {
  if (journal_ == nullptr) return;
  journal_->Unsubscribe(id_);
  journal_ = nullptr;
}

absl::StatusOr<std::unique_ptr<EventJournal>> EventJournal::Open(JournalOptions options) {
  if (options.ring_capacity == 0) options.ring_capacity = 1;
  std::unique_ptr<EventJournal> j(new EventJournal(std::move(options)));
  if (!j->options_.path.empty()) BERTH_RETURN_IF_ERROR(j->Load(), "event journal");
  return j;
}

absl::Status EventJournal::Load() {
  const std::string& path = options_.path;
  size_t bad = 0;
  BERTH_ASSIGN_OR_RETURN(std::vector<Event> events, ReadEvents(path + ".1", &bad));
  BERTH_ASSIGN_OR_RETURN(std::vector<Event> current, ReadEvents(path, &bad));
  events.insert(events.end(), std::make_move_iterator(current.begin()),
                std::make_move_iterator(current.end()));
  if (bad > 0) LOG(WARNING) << "event journal: skipped unreadable lines count=" << bad;

  const int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return absl::ErrnoToStatus(err, absl::StrCat("stat ", path));
  }

  absl::MutexLock lock(&mu_);
  absl::MutexLock file_lock(&file_mu_);
  fd_ = fd;
  file_bytes_ = static_cast<size_t>(st.st_size);
  for (Event& e : events) {
    // Sequence numbers only grow; a line out of order (hand-edited file) is dropped.
    if (e.seq < next_seq_) continue;
    next_seq_ = e.seq + 1;
    ring_.push_back(std::move(e));
    if (ring_.size() > options_.ring_capacity) {
      ring_.pop_front();
      evicted_ = true;
    }
  }
  LOG(INFO) << "event journal loaded path=" << path << " events=" << ring_.size()
            << " next_seq=" << next_seq_;
  return absl::OkStatus();
}

EventJournal::~EventJournal() {
  std::map<uint64_t, std::shared_ptr<Subscriber>> subs;
  {
    absl::MutexLock lock(&mu_);
    subs.swap(subs_);
    for (auto& [id, s] : subs) {
      if (s->live && s->handlers.end) {
        s->handlers.end(absl::UnavailableError("the event journal is shutting down"));
      }
    }
  }
  absl::MutexLock file_lock(&file_mu_);
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void EventJournal::PersistLocked(const Event& e) {
  absl::MutexLock file_lock(&file_mu_);
  if (fd_ < 0) return;
  const std::string line = Serialize(e);
  if (file_bytes_ > 0 && file_bytes_ + line.size() > options_.max_file_bytes) {
    const std::string old = options_.path + ".1";
    if (rename(options_.path.c_str(), old.c_str()) != 0) {
      PLOG(WARNING) << "event journal: rotate " << options_.path;
    } else {
      const int fd =
          open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (fd < 0) {
        PLOG(WARNING) << "event journal: reopen " << options_.path << "; events kept in memory";
        close(fd_);
        fd_ = -1;
        return;
      }
      close(fd_);
      fd_ = fd;
      file_bytes_ = 0;
    }
  }
  size_t off = 0;
  while (off < line.size()) {
    ssize_t n = write(fd_, line.data() + off, line.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Log the first failure of a run only: a full disk would otherwise log per event.
      if (!write_failed_) PLOG(WARNING) << "event journal: write " << options_.path;
      write_failed_ = true;
      return;
    }
    off += static_cast<size_t>(n);
  }
  if (write_failed_) LOG(INFO) << "event journal: writing again path=" << options_.path;
  write_failed_ = false;
  file_bytes_ += line.size();
}

void EventJournal::Publish(v1::EventType type, std::string action, std::string actor_id,
                           std::map<std::string, std::string> attributes) {
  absl::MutexLock lock(&mu_);
  Event e;
  e.seq = next_seq_++;
  e.type = type;
  e.action = std::move(action);
  e.actor_id = std::move(actor_id);
  e.attributes = std::move(attributes);
  e.time = options_.clock();
  VLOG(1) << "event type=" << TypeName(e.type) << " action=" << e.action << " id=" << e.actor_id;
  PersistLocked(e);
  for (auto it = subs_.begin(); it != subs_.end();) {
    Subscriber& s = *it->second;
    bool remove = false;
    if (s.options.until.has_value() && e.time > *s.options.until) {
      if (s.live) {
        if (s.handlers.end) s.handlers.end(absl::OkStatus());
        remove = true;
      } else {
        s.until_passed = true;
      }
    } else if (InRange(s.options, e) && s.options.filter.Matches(e)) {
      if (!s.live) {
        if (s.pending.size() >= options_.max_pending) {
          s.overflowed = true;
        } else {
          s.pending.push_back(e);
        }
      } else if (!s.handlers.live(e)) {
        remove = true;
      }
    }
    it = remove ? subs_.erase(it) : std::next(it);
  }
  ring_.push_back(std::move(e));
  if (ring_.size() > options_.ring_capacity) {
    ring_.pop_front();
    evicted_ = true;
  }
}

std::vector<Event> EventJournal::ReadDisk(const SubscribeOptions& options, uint64_t before_seq) {
  std::vector<Event> out;
  absl::MutexLock file_lock(&file_mu_);
  size_t bad = 0;
  for (const std::string& path : {options_.path + ".1", options_.path}) {
    absl::StatusOr<std::vector<Event>> events = ReadEvents(path, &bad);
    if (!events.ok()) {
      LOG(WARNING) << "event journal: replay cannot read " << path << ": "
                   << events.status().message();
      continue;
    }
    for (Event& e : *events) {
      if (e.seq >= before_seq) break;
      if (!out.empty() && e.seq <= out.back().seq) continue;
      if (InRange(options, e) && options.filter.Matches(e)) out.push_back(std::move(e));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<EventJournal::Subscription>> EventJournal::Subscribe(
    const SubscribeOptions& options, EventHandlers handlers) {
  if (options.since.has_value() && options.until.has_value() && *options.since > *options.until) {
    return absl::InvalidArgumentError("since must not be after until");
  }
  auto sub = std::make_shared<Subscriber>();
  sub->options = options;
  sub->handlers = std::move(handlers);

  std::vector<Event> recent;
  bool need_disk = false;
  uint64_t first_ring_seq = 0;
  {
    absl::MutexLock lock(&mu_);
    sub->id = next_sub_id_++;
    subs_[sub->id] = sub;
    if (options.since.has_value()) {
      for (const Event& e : ring_) {
        if (InRange(options, e) && options.filter.Matches(e)) recent.push_back(e);
      }
      need_disk = evicted_ && !options_.path.empty() &&
                  (ring_.empty() || *options.since < ring_.front().time);
      first_ring_seq = ring_.empty() ? next_seq_ : ring_.front().seq;
    }
  }
  std::unique_ptr<Subscription> subscription(new Subscription(this, sub->id));

  // The replay, with no lock held: it may block on a slow client.
  bool go_on = true;
  if (need_disk) {
    for (const Event& e : ReadDisk(options, first_ring_seq)) {
      if (!(go_on = sub->handlers.replay(e))) break;
    }
  }
  if (go_on) {
    for (const Event& e : recent) {
      if (!(go_on = sub->handlers.replay(e))) break;
    }
  }
  // Catch up with what was published meanwhile, until the queue is empty under the lock.
  while (go_on) {
    std::deque<Event> batch;
    {
      absl::MutexLock lock(&mu_);
      if (sub->overflowed) {
        // Events were dropped: going on would show a stream with holes.
        subs_.erase(sub->id);
        if (sub->handlers.end) {
          sub->handlers.end(absl::ResourceExhaustedError(
              "the event subscriber fell behind: too many events during the replay"));
        }
        return subscription;
      }
      if (sub->pending.empty()) {
        const bool ended =
            sub->until_passed || (options.until.has_value() && options_.clock() > *options.until);
        if (ended) {
          subs_.erase(sub->id);
          if (sub->handlers.end) sub->handlers.end(absl::OkStatus());
        } else {
          sub->live = true;
        }
        return subscription;
      }
      batch.swap(sub->pending);
    }
    for (const Event& e : batch) {
      if (!(go_on = sub->handlers.replay(e))) break;
    }
  }
  subscription->Cancel();
  return subscription;
}

void EventJournal::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subs_.erase(id);
}

std::vector<Event> EventJournal::Recent() const {
  absl::MutexLock lock(&mu_);
  return std::vector<Event>(ring_.begin(), ring_.end());
}

size_t EventJournal::Subscribers() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, s] : subs_) n += s->live ? 1 : 0;
  return n;
}

}  // namespace berth::engine::events
