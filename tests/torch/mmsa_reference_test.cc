// Reference tests against MMSA (the toolkit the field's baseline numbers come from): with identical
// weights copied in, robustmsa's MulT, TFN and LF-DNN forward passes must match MMSA 2.2.1's (PyPI
// `mmsa`, unmodified, on Debian's python3-torch) to 1e-5 on the same inputs, in eval mode.
// robustmsa writes parameters, buffers, inputs and outputs to a pickle; tests/python/
// mmsa_reference.py loads them into MMSA's module by name and compares. Skips (with the reason)
// when no python3 can import torch and MMSA. Interpreter: $ROBUSTMSA_TORCH_PYTHON, else the first
// of $ROBUSTMSA_PYTHON, /usr/bin/python3, python3 that can import both.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../common/temp_dir.h"
#include "io/pickle_write.h"
#include "nn/model.h"

namespace robustmsa {
namespace {

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Run {
  int rc = -1;
  std::string output;
};

Run run(const std::string& command) {
  Run r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) return r;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  const int status = pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string script() {
  const char* src = std::getenv("ROBUSTMSA_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/python/mmsa_reference.py";
}

// The interpreter to use, or "" with the reasons in `why`.
std::string find_python(std::string* why) {
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("ROBUSTMSA_TORCH_PYTHON"); p && *p) {
    candidates.push_back(p);
  } else {
    if (const char* p2 = std::getenv("ROBUSTMSA_PYTHON"); p2 && *p2) candidates.push_back(p2);
    candidates.push_back("/usr/bin/python3");
    candidates.push_back("python3");
  }
  for (const auto& py : candidates) {
    Run r = run(shell_quote(py) + " " + shell_quote(script()) + " --probe");
    if (r.rc == 0) return py;
    *why += py + ": " + (r.output.empty() ? "exit " + std::to_string(r.rc) : r.output) + " ";
  }
  return "";
}

const std::string& python(std::string* why) {
  static std::string reasons;
  static const std::string py = find_python(&reasons);
  *why = reasons;
  return py;
}

void write_tensor(pickle::Writer& w, const torch::Tensor& t) {
  auto c = t.detach().contiguous();
  std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
  if (c.scalar_type() == torch::kLong) {
    w.array(pickle::DType::kInt64, shape, c.data_ptr());
  } else {
    c = c.to(torch::kFloat32).contiguous();
    w.array(pickle::DType::kFloat32, shape, c.data_ptr());
  }
}

// Builds `model` with `options` (seeded), moves every parameter and buffer away from its
// initial value (so LayerNorm gains, BatchNorm statistics and zero biases are really compared),
// runs an eval forward on full-length random inputs and checks MMSA's output on the same case.
void expect_matches_mmsa(const std::string& model_name, nlohmann::json options,
                         std::array<int64_t, 3> dims, std::array<int64_t, 3> lens, int64_t b) {
  std::string why;
  const std::string& py = python(&why);
  if (py.empty()) GTEST_SKIP() << "no python3 with torch and MMSA: " << why;
  InputSpec spec;
  spec.dim = dims;
  spec.len = lens;
  spec.task = Task::kRegression;
  torch::manual_seed(17);
  const ModelEntry& entry = find_model(model_name);
  auto model = entry.make(options, spec);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters()) p.value().add_(torch::randn_like(p.value()) * 0.05);
    for (auto& buf : model->named_buffers()) {
      if (buf.key().find("running_mean") != std::string::npos)
        buf.value().copy_(torch::randn_like(buf.value()) * 0.3);
      else if (buf.key().find("running_var") != std::string::npos)
        buf.value().copy_(torch::rand_like(buf.value()) + 0.5);
    }
  }
  Batch batch;
  for (int m = 0; m < kNumModalities; ++m) {
    batch.x[m] = torch::randn({b, lens[m], dims[m]});
    batch.valid[m] = torch::ones({b, lens[m]}, torch::kBool);
    batch.keep[m] = torch::ones({b, lens[m]}, torch::kBool);
  }
  batch.present = torch::ones({b, 3}, torch::kBool);
  batch.index = torch::arange(b);
  model->eval();
  torch::Tensor prediction;
  {
    torch::NoGradGuard no_grad;
    prediction = model->forward(batch).prediction;
  }
  test_util::TempDir dir;
  const std::string path = dir / "case.pkl";
  {
    pickle::Writer w(path);
    w.begin_dict();
    w.key("model");
    w.string(model_name);
    w.key("options");
    nlohmann::json resolved = entry.default_options();
    for (auto it = options.begin(); it != options.end(); ++it) resolved[it.key()] = it.value();
    w.string(resolved.dump());
    w.key("dims");
    w.array(pickle::DType::kInt64, {3}, dims.data());
    w.key("tolerance");
    w.floating(1e-5);
    w.key("params");
    w.begin_dict();
    for (const auto& p : model->named_parameters()) {
      w.key(p.key());
      write_tensor(w, p.value());
    }
    for (const auto& buf : model->named_buffers()) {
      w.key(buf.key());
      write_tensor(w, buf.value());
    }
    w.end_dict();
    w.key("inputs");
    w.begin_dict();
    for (int m = 0; m < kNumModalities; ++m) {
      w.key(kModalityNames[m]);
      write_tensor(w, batch.x[m]);
    }
    w.end_dict();
    w.key("output");
    write_tensor(w, prediction);
    w.end_dict();
    w.finish();
  }
  Run r = run(shell_quote(py) + " " + shell_quote(script()) + " " + shell_quote(path));
  if (r.rc == 77) GTEST_SKIP() << r.output;
  EXPECT_EQ(r.rc, 0) << r.output;
  std::printf("%s", r.output.c_str());
}

// MMSA's MOSI defaults (config_regression.json): width 50, 10 heads, 4 levels, kernels 5, with
// MMSA's padding-0 projections.
nlohmann::json mult_mmsa_options() {
  return {
      {"width", 50}, {"heads", 10}, {"levels", 4}, {"mem_layers", 4}, {"conv_padding", "valid"}};
}

TEST(MmsaReference, MultAlignedMosiShapes) {
  expect_matches_mmsa("mult", mult_mmsa_options(), {300, 74, 35}, {50, 50, 50}, 2);
}

TEST(MmsaReference, MultUnalignedShapes) {
  // Unaligned MMSA-layout dims (BERT 768, COVAREP 5, Facet 20) at shortened lengths.
  expect_matches_mmsa("mult", mult_mmsa_options(), {768, 5, 20}, {30, 45, 38}, 3);
}

TEST(MmsaReference, TfnMosiDefaults) {
  expect_matches_mmsa("tfn", nlohmann::json::object(), {300, 74, 35}, {50, 50, 50}, 4);
}

TEST(MmsaReference, LfDnnMosiDefaults) {
  expect_matches_mmsa("lf_dnn", nlohmann::json::object(), {300, 74, 35}, {50, 50, 50}, 4);
}

}  // namespace
}  // namespace robustmsa
