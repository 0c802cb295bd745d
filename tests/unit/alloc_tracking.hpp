// Counts the bytes the process allocates through operator new (every
// std::vector, std::string and container of the library), so that a test
// can assert how much memory an operation asked for at its peak. Replaces
// the global operator new/delete of the test binary (alloc_tracking.cpp).
// Memory that C libraries allocate with malloc (zstd, zlib, OpenSSL) is
// not counted.
#pragma once

#include <cstddef>

namespace owf::test {

/// Peak bytes allocated, above what was allocated at construction, while
/// the scope lives. Scopes must not be nested or used from two threads at
/// once (allocations of other threads are counted too).
class AllocationPeak {
 public:
  AllocationPeak();
  std::size_t peak_growth() const;

 private:
  std::size_t start_;
};

}  // namespace owf::test
