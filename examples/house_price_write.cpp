// The classic first example of weights and biases: a house-price predictor
// with 2 inputs (living area in 100 m², distance to the city centre in
// 10 km), 4 hidden ReLU units and 1 output (price in 100,000 €).
//
// Writes the model to an OWF file with its hyperparameters and license,
// then opens it, verifies every digest, prints what it holds and runs the
// forward pass on one house.
#include <cstdio>
#include <span>
#include <vector>

#include "owf/owf.hpp"

namespace {

constexpr int kInputs = 2, kHidden = 4, kOutputs = 1;

// Trained by hand: bigger is dearer, farther is cheaper.
const float kHiddenWeight[kHidden * kInputs] = {1.8f, -0.6f, 0.9f, -1.2f, 0.4f, 0.3f, 1.1f, -0.2f};
const float kHiddenBias[kHidden] = {0.1f, 0.5f, -0.2f, 0.0f};
const float kOutputWeight[kOutputs * kHidden] = {1.2f, 0.8f, 0.3f, 0.9f};
const float kOutputBias[kOutputs] = {0.4f};

int fail(const owf::Error& e) {
  std::fprintf(stderr, "error: %s\n", e.to_string().c_str());
  return 1;
}

std::span<const std::byte> bytes_of(std::span<const float> v) { return std::as_bytes(v); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT.owf\n", argv[0]);
    return 2;
  }
  const char* path = argv[1];

  auto writer = owf::Writer::create(path);
  if (!writer.ok()) return fail(writer.error());
  owf::License license;
  license.spdx = "Apache-2.0";
  license.copyright = {"2026 The OWF authors"};
  owf::Provenance provenance;
  provenance.name = "house-price";
  provenance.version = "1.0";
  provenance.architecture = "mlp";
  provenance.description = "2-4-1 ReLU MLP predicting a house price from its size and distance to the centre";
  provenance.software = "owf examples/house_price";
  for (auto status : {
           writer->set_license(license),
           writer->set_provenance(provenance),
           writer->set_hyperparameter("model.input_size", owf::Value(std::int64_t{kInputs})),
           writer->set_hyperparameter("model.hidden_size", owf::Value(std::int64_t{kHidden})),
           writer->set_hyperparameter("model.output_size", owf::Value(std::int64_t{kOutputs})),
           writer->set_hyperparameter("model.activation", owf::Value("relu")),
           writer->set_hyperparameter("model.input_units", owf::Value(std::vector<std::string>{"100 m2", "10 km"})),
           writer->set_hyperparameter("model.output_units", owf::Value("100000 EUR")),
           writer->add_tensor({"hidden.weight", owf::DType::kF32, {kHidden, kInputs}, owf::Role::kWeight},
                              bytes_of(kHiddenWeight)),
           writer->add_tensor({"hidden.bias", owf::DType::kF32, {kHidden}, owf::Role::kBias}, bytes_of(kHiddenBias)),
           writer->add_tensor({"output.weight", owf::DType::kF32, {kOutputs, kHidden}, owf::Role::kWeight},
                              bytes_of(kOutputWeight)),
           writer->add_tensor({"output.bias", owf::DType::kF32, {kOutputs}, owf::Role::kBias}, bytes_of(kOutputBias)),
           writer->finish(),
       }) {
    if (!status.ok()) return fail(status.error());
  }

  auto file = owf::File::open(path);
  if (!file.ok()) return fail(file.error());
  if (auto s = file->verify(); !s.ok()) return fail(s.error());
  std::printf("%s: OWF %u.%u, %llu bytes, verified\n", path, file->version().major, file->version().minor,
              static_cast<unsigned long long>(file->file_size()));
  std::printf("weights digest  %s\n", owf::to_hex(file->weights_digest()).c_str());
  std::printf("license         %s\n", file->info().license->spdx.c_str());
  std::printf("model           %s %s (%s)\n", file->info().provenance.name.c_str(),
              file->info().provenance.version.c_str(), file->info().provenance.architecture.c_str());
  for (const auto& [key, value] : file->info().hyperparameters)
    std::printf("  %-22s %s\n", key.c_str(), owf::value_to_string(value).c_str());
  for (std::size_t i = 0; i < file->tensor_count(); ++i) {
    const auto t = file->tensor(i);
    std::printf("  %-14s %-6s %-4s [", std::string(t.name).c_str(), std::string(owf::role_name(t.role)).c_str(),
                std::string(owf::dtype_name(t.dtype)).c_str());
    for (std::size_t d = 0; d < t.shape.size(); ++d)
      std::printf("%s%llu", d ? ", " : "", static_cast<unsigned long long>(t.shape[d]));
    std::printf("]  sha256 %s\n", owf::to_hex(t.sha256).substr(0, 16).c_str());
  }

  // Forward pass straight from the file's zero-copy views.
  auto w1 = file->view<float>("hidden.weight");
  auto b1 = file->view<float>("hidden.bias");
  auto w2 = file->view<float>("output.weight");
  auto b2 = file->view<float>("output.bias");
  for (const auto* r : {&w1, &b1, &w2, &b2})
    if (!r->ok()) return fail(r->error());
  const float house[kInputs] = {1.2f, 0.5f};  // 120 m², 5 km from the centre
  float out = (*b2)[0];
  for (int h = 0; h < kHidden; ++h) {
    float z = (*b1)[h];
    for (int i = 0; i < kInputs; ++i) z += (*w1)[h * kInputs + i] * house[i];
    out += (*w2)[h] * (z > 0 ? z : 0);
  }
  std::printf("prediction      120 m2, 5 km from the centre -> %.0f EUR\n", out * 100000.0f);
  return 0;
}
