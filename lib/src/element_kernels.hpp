// Decoding kernels: one function per dtype and output type that turns whole
// blocks of stored elements into numbers (spec/format.md §5). Callers pick
// the kernel once per piece of a tensor; the kernels themselves hold no
// per-element dispatch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "owf/dtype.hpp"

namespace owf::internal {

/// Decodes `blocks` whole blocks starting at `in` into `blocks *
/// block_elements` values at `out`. Every bit pattern decodes; nothing fails.
template <class Out>
using DecodeKernel = void (*)(const std::byte* in, std::size_t blocks, Out* out);

struct DecodeKernels {
  DecodeKernel<float> to_float = nullptr;
  DecodeKernel<double> to_double = nullptr;

  template <class Out>
  DecodeKernel<Out> get() const {
    if constexpr (sizeof(Out) == sizeof(float))
      return to_float;
    else
      return to_double;
  }
};

/// The kernels of a dtype; nullptr for dtypes that have no real value
/// (complex) or that this library does not decode (the ggml IQ types built
/// on grid tables).
const DecodeKernels* decode_kernels(DType dtype);

/// The largest block of any dtype, for callers that decode one block into a
/// scratch buffer.
inline constexpr std::size_t kMaxBlockBytes = 292;     // Q8_K
inline constexpr std::size_t kMaxBlockElements = 256;  // the ggml super-blocks

}  // namespace owf::internal
