// The classic first example of weights and biases: a house-price predictor
// with 2 inputs (living area in 100 m², distance to the city centre in
// 10 km), 4 hidden ReLU units and 1 output (price in 100,000 €, scaled by
// model.output_scale).
//
// Writes the model to an OWF file with the C++ API: tensors, the sizes and
// activation the forward pass needs as hyperparameters, license and
// provenance. examples/house_price_predict.c reads it back with the C API
// and runs the forward pass.
#include <cstdio>
#include <span>
#include <string>
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
  provenance.software = "owf examples/house_price_write";
  for (auto status : {
           writer->set_license(license),
           writer->set_provenance(provenance),
           writer->set_hyperparameter("model.input_size", owf::Value(std::int64_t{kInputs})),
           writer->set_hyperparameter("model.hidden_size", owf::Value(std::int64_t{kHidden})),
           writer->set_hyperparameter("model.output_size", owf::Value(std::int64_t{kOutputs})),
           writer->set_hyperparameter("model.activation", owf::Value("relu")),
           writer->set_hyperparameter("model.input_units", owf::Value(std::vector<std::string>{"100 m2", "10 km"})),
           writer->set_hyperparameter("model.output_units", owf::Value("EUR")),
           writer->set_hyperparameter("model.output_scale", owf::Value(100000.0)),
           writer->set_metadata("example.input", "1.2 0.5"),
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

  std::printf("wrote %s: a %d-%d-%d ReLU MLP in 4 F32 tensors\n", path, kInputs, kHidden, kOutputs);
  return 0;
}
