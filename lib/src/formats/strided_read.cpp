// How a range is read: the logical elements it covers are split into boxes
// (hyperrectangles whose row-major order is consecutive; at most two per
// dimension). In a box, dimensions of stride 0 are broadcast: their element
// is read once and copied. The other dimensions are walked in storage order
// (largest stride outermost), reading runs along the smallest stride:
// straight into the output when a run is long and contiguous in both, else
// through a window of stored bytes when the box is dense (its stored span at
// most 4x the bytes it needs), else one element at a time, so that a sparse
// view never reads the gaps between its elements.
#include "formats/strided_read.hpp"

#include <algorithm>
#include <cstring>

namespace owf::internal {
namespace {

constexpr std::uint64_t kWindowBytes = 1u << 20;
constexpr std::uint64_t kDirectRunBytes = 64u << 10;
constexpr std::uint64_t kDenseFactor = 4;

struct BoxDim {
  std::uint64_t extent;
  std::uint64_t stride;      // storage elements per step
  std::uint64_t out_stride;  // output elements per step
};

// Calls fn(storage_step, output_step) for every index combination of `dims`.
template <class Fn>
Status for_each_index(const std::vector<BoxDim>& dims, Fn&& fn) {
  std::vector<std::uint64_t> index(dims.size(), 0);
  std::uint64_t storage = 0, output = 0;
  for (;;) {
    OWF_RETURN_IF_ERROR(fn(storage, output));
    std::size_t d = dims.size();
    for (;;) {
      if (d == 0) return {};
      --d;
      if (++index[d] < dims[d].extent) {
        storage += dims[d].stride;
        output += dims[d].out_stride;
        break;
      }
      storage -= dims[d].stride * (dims[d].extent - 1);
      output -= dims[d].out_stride * (dims[d].extent - 1);
      index[d] = 0;
    }
  }
}

// Stored bytes around recently read elements.
class Window {
 public:
  Window(const ByteSource& source, const StridedLayout& layout) : source_(source), layout_(layout) {}

  // The bytes of storage element `e`, fetching up to `ahead` bytes from it
  // when they are not at hand.
  Result<const std::byte*> element(std::uint64_t e, std::uint64_t ahead) {
    const std::uint64_t es = layout_.element_bytes;
    const std::uint64_t at = e * es;
    if (at > layout_.storage_bytes || layout_.storage_bytes - at < es)
      return Error(ErrorCode::kForeignFormatInvalid,
                   source_.name() + ": element " + std::to_string(e) + " lies outside its storage");
    if (at >= start_ && at - start_ + es <= bytes_.size()) return bytes_.data() + (at - start_);
    const std::uint64_t length = std::max(es, std::min({ahead, kWindowBytes, layout_.storage_bytes - at}));
    bytes_.resize(static_cast<std::size_t>(length));
    start_ = at;
    if (auto s = source_.read_at(layout_.storage_offset + at, bytes_); !s.ok()) {
      bytes_.clear();
      return s.error();
    }
    return bytes_.data();
  }

 private:
  const ByteSource& source_;
  const StridedLayout& layout_;
  std::vector<std::byte> bytes_;
  std::uint64_t start_ = 0;
};

class Gatherer {
 public:
  Gatherer(const ByteSource& source, const StridedLayout& layout)
      : source_(source), l_(layout), es_(layout.element_bytes), window_(source, layout) {}

  // Logical elements [e0, e0 + n) into `out` (n x element bytes).
  Status gather(std::uint64_t e0, std::uint64_t n, std::span<std::byte> out) {
    if (n == 0) return {};
    if (l_.contiguous())
      return source_.read_at(l_.storage_offset + (l_.first + e0) * es_, out.first(static_cast<std::size_t>(n * es_)));
    const std::size_t rank = l_.shape.size();
    std::vector<std::uint64_t> block(rank, 1), index(rank, 0);  // elements per step of each dimension
    for (std::size_t d = rank - 1; d > 0; --d) block[d - 1] = block[d] * l_.shape[d];
    for (std::size_t d = 0; d < rank; ++d) index[d] = (e0 / block[d]) % l_.shape[d];
    std::uint64_t done = 0;
    while (done < n) {
      const std::uint64_t remaining = n - done;
      // The outermost dimension k such that the box can take whole blocks of k.
      std::size_t k = rank - 1;
      while (k > 0 && index[k] == 0 && block[k - 1] <= remaining) --k;
      const std::uint64_t m = std::min(l_.shape[k] - index[k], remaining / block[k]);
      OWF_RETURN_IF_ERROR(box(index, k, m, block, done, out));
      done += m * block[k];
      index[k] += m;
      for (std::size_t d = k; d > 0 && index[d] == l_.shape[d]; --d) {
        index[d] = 0;
        ++index[d - 1];
      }
    }
    return {};
  }

 private:
  // The box: dimensions before k fixed at index[], k over [index[k], +m),
  // after k whole; its first element goes to output element `out_first`.
  Status box(const std::vector<std::uint64_t>& index, std::size_t k, std::uint64_t m,
             const std::vector<std::uint64_t>& block, std::uint64_t out_first, std::span<std::byte> out) {
    std::uint64_t base = l_.first;
    for (std::size_t d = 0; d <= k; ++d) base += index[d] * l_.stride[d];
    std::vector<BoxDim> read, broadcast;
    for (std::size_t d = k; d < l_.shape.size(); ++d) {
      const std::uint64_t extent = d == k ? m : l_.shape[d];
      if (extent == 1) continue;
      (l_.stride[d] == 0 ? broadcast : read).push_back(BoxDim{extent, l_.stride[d], block[d]});
    }
    auto put = [&](const std::byte* element, std::uint64_t out_element) -> Status {
      return for_each_index(broadcast, [&](std::uint64_t, std::uint64_t o) -> Status {
        std::memcpy(out.data() + (out_element + o) * es_, element, es_);
        return {};
      });
    };
    if (read.empty()) {
      OWF_ASSIGN_OR_RETURN(const std::byte* element, window_.element(base, es_));
      return put(element, out_first);
    }
    std::stable_sort(read.begin(), read.end(), [](const BoxDim& a, const BoxDim& b) { return a.stride > b.stride; });
    const BoxDim run = read.back();
    read.pop_back();
    std::uint64_t needed = run.extent, span = (run.extent - 1) * run.stride + 1;
    for (const BoxDim& d : read) {
      needed *= d.extent;
      span += (d.extent - 1) * d.stride;
    }
    const bool dense = span <= kDenseFactor * needed;
    const std::uint64_t run_bytes = run.extent * es_;
    const bool direct =
        run.stride == 1 && run.out_stride == 1 && broadcast.empty() && (run_bytes >= kDirectRunBytes || !dense);
    // Bytes to fetch ahead of an element missing from the window.
    const std::uint64_t ahead = dense                        ? kWindowBytes
                                : run.stride <= kDenseFactor ? ((run.extent - 1) * run.stride + 1) * es_
                                                             : es_;
    return for_each_index(read, [&](std::uint64_t storage, std::uint64_t output) -> Status {
      const std::uint64_t first = base + storage;
      const std::uint64_t out_element = out_first + output;
      if (direct)
        return source_.read_at(l_.storage_offset + first * es_, out.subspan(static_cast<std::size_t>(out_element * es_),
                                                                            static_cast<std::size_t>(run_bytes)));
      for (std::uint64_t t = 0; t < run.extent; ++t) {
        const std::uint64_t remaining_run = ((run.extent - 1 - t) * run.stride + 1) * es_;
        OWF_ASSIGN_OR_RETURN(const std::byte* element,
                             window_.element(first + t * run.stride, dense ? ahead : std::min(ahead, remaining_run)));
        OWF_RETURN_IF_ERROR(put(element, out_element + t * run.out_stride));
      }
      return {};
    });
  }

  const ByteSource& source_;
  const StridedLayout& l_;
  const std::uint64_t es_;
  Window window_;
};

void swap_units(std::span<std::byte> bytes, std::uint64_t unit) {
  if (unit <= 1) return;
  for (std::size_t i = 0; i + unit <= bytes.size(); i += unit)
    std::reverse(bytes.begin() + i, bytes.begin() + i + unit);
}

}  // namespace

std::vector<std::uint64_t> StridedLayout::row_major(std::span<const std::uint64_t> shape) {
  std::vector<std::uint64_t> stride(shape.size());
  std::uint64_t s = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    stride[d] = s;
    s *= shape[d];  // callers checked that the element count fits 64 bits
  }
  return stride;
}

std::vector<std::uint64_t> StridedLayout::column_major(std::span<const std::uint64_t> shape) {
  std::vector<std::uint64_t> stride(shape.size());
  std::uint64_t s = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    stride[d] = s;
    s *= shape[d];
  }
  return stride;
}

bool StridedLayout::contiguous() const {
  std::uint64_t expected = 1;
  for (std::size_t d = shape.size(); d-- > 0;) {
    if (shape[d] == 0) return true;  // nothing to read
    if (shape[d] != 1 && stride[d] != expected) return false;
    expected *= shape[d];
  }
  return true;
}

std::uint64_t StridedLayout::span_bytes() const {
  std::uint64_t last = 0;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return 0;
    last += (shape[d] - 1) * stride[d];
  }
  return (last + 1) * element_bytes;
}

Status read_strided(const ByteSource& source, const StridedLayout& layout, std::uint64_t offset,
                    std::span<std::byte> out) {
  if (out.empty()) return {};
  const std::uint64_t es = layout.element_bytes;
  Gatherer gatherer(source, layout);
  std::uint64_t element = offset / es;
  std::size_t done = 0;
  std::vector<std::byte> one(static_cast<std::size_t>(es));
  // A partial element at either end is read whole beside the output.
  auto partial = [&](std::uint64_t skip, std::size_t count) -> Status {
    OWF_RETURN_IF_ERROR(gatherer.gather(element, 1, one));
    swap_units(one, layout.swap_unit);
    std::memcpy(out.data() + done, one.data() + skip, count);
    done += count;
    ++element;
    return {};
  };
  if (const std::uint64_t head = offset % es; head != 0)
    OWF_RETURN_IF_ERROR(partial(head, static_cast<std::size_t>(std::min<std::uint64_t>(es - head, out.size()))));
  const std::uint64_t whole = (out.size() - done) / es;
  const auto middle = out.subspan(done, static_cast<std::size_t>(whole * es));
  OWF_RETURN_IF_ERROR(gatherer.gather(element, whole, middle));
  swap_units(middle, layout.swap_unit);
  done += middle.size();
  element += whole;
  if (done < out.size()) OWF_RETURN_IF_ERROR(partial(0, out.size() - done));
  return {};
}

}  // namespace owf::internal
