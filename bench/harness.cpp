#include "harness.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace owf::bench {

std::uint64_t peak_resident_bytes() {
  // VmHWM, unlike ru_maxrss, starts afresh at exec: the forked copy of the
  // parent does not count.
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  return 0;
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::uint64_t anon_resident_bytes() {
  // statm: size resident shared ... in pages; shared = file-backed + shmem.
  std::ifstream in("/proc/self/statm");
  std::uint64_t size = 0, resident = 0, shared = 0;
  in >> size >> resident >> shared;
  const auto page = static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
  return resident >= shared ? (resident - shared) * page : 0;
}

struct PeakSampler::State {
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> peak{0};
  std::thread thread;
};

PeakSampler::PeakSampler() : state_(new State) {
  state_->peak = anon_resident_bytes();
  state_->thread = std::thread([s = state_] {
    while (!s->stop.load()) {
      const std::uint64_t now = anon_resident_bytes();
      if (now > s->peak.load()) s->peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
}

PeakSampler::~PeakSampler() {
  state_->stop = true;
  state_->thread.join();
  delete state_;
}

std::uint64_t PeakSampler::peak() const {
  const std::uint64_t now = anon_resident_bytes();
  return std::max(now, state_->peak.load());
}

MemoryUse run_child(const std::vector<std::string>& argv) {
  MemoryUse out;
  int fds[2];
  if (::pipe(fds) != 0) {
    out.error = "pipe failed";
    return out;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    out.error = "fork failed";
    return out;
  }
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execv("/proc/self/exe", args.data());
    std::_Exit(127);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    out.error = "child failed: " + text;
    return out;
  }
  std::istringstream line(text);
  if (!(line >> out.before_anon >> out.peak_anon >> out.peak_rss)) {
    out.error = "child printed: " + text;
    return out;
  }
  out.ok = true;
  return out;
}

}  // namespace owf::bench
