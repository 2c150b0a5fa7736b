// robustmsa._train: the Python binding of robustmsa's training library (target `robustmsa`,
// which links LibTorch): train, compare, eval, report and predict as the CLI runs them
// (include/robustmsa/train.h), and a trained run's model whose forward takes and returns the
// caller's torch.Tensors. python/robustmsa/training.py documents and arranges them.
//
// Requests and results cross as JSON text (the package's Python side converts); tensors cross as
// the torch's own Python objects (THPVariable, libtorch_python), so autograd spans both sides.
// Training runs with the GIL released; progress events and log lines are handed to a Python
// callback with the GIL held, and a pending KeyboardInterrupt (or an exception the callback
// raises) ends the run there, leaving the run directory as a killed run leaves it (resumable).
#include <torch/csrc/autograd/python_variable.h>
#include <torch/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "json_bridge.h"
#include "robustmsa/train.h"
#include "train/predict_input.h"
#include "train/tensors.h"
#include "train/trainer.h"

namespace py = pybind11;
using nlohmann::json;

namespace robustmsa::python {
namespace {

ErrorTypes& error_types() {
  static ErrorTypes types;  // robustmsa._core's classes, looked up once at import
  return types;
}

void register_exceptions() {
  py::module_ core = py::module_::import("robustmsa._core");
  ErrorTypes& e = error_types();
  auto keep = [&core](const char* name) { return py::object(core.attr(name)).release().ptr(); };
  e.error = keep("Error");
  e.data = keep("DataError");
  e.config = keep("ConfigError");
  e.usage = keep("UsageError");
  e.run = keep("RunError");
  // Local: these are the exception types of this module's copy of the library.
  py::register_local_exception_translator([](std::exception_ptr p) {
    if (p && !set_python_error(p, error_types())) std::rethrow_exception(p);
  });
}

// ---- requests ---------------------------------------------------------------------------------

json parse_request(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw UsageError(str("robustmsa._train: request is not JSON (", e.what(), ")"));
  }
}

template <class T>
T field(const json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw UsageError(
        str("argument '", key, "': expected ", json(fallback).type_name(), ", found ", it->dump()));
  }
}

ConfigLayers layers_from(const json& j) {
  ConfigLayers l;
  l.configs = field(j, "config", std::vector<std::string>{});
  l.data = field(j, "data", std::string());
  l.text_encoder = field(j, "text_encoder", std::string());
  l.finetune_text = field(j, "finetune_text", false);
  l.sets = field(j, "set", std::vector<std::string>{});
  l.seeds = field(j, "seeds", std::string());
  l.threads = field(j, "threads", int64_t{-1});
  return l;
}

ReportedRequest reported_from(const json& j) {
  ReportedRequest r;
  r.dataset = field(j, "reported", std::string());
  r.file = field(j, "reported_file", std::string());
  return r;
}

json result_json(const CommandResult& r) {
  json runs = json::array();
  for (const RunResult& run : r.results) runs.push_back(results_to_json(run));
  const bool reported = !r.report.suite.empty();
  return {{"runs", std::move(runs)},
          {"report", reported ? report_to_json(r.report) : json(nullptr)},
          {"report_dir", r.report_dir},
          {"table", reported ? format_terminal_table(r.report) : std::string()}};
}

// ---- progress ---------------------------------------------------------------------------------

// Hands every event to `callback(name, dict)` with the GIL held. Any Python error (the callback's
// own, or KeyboardInterrupt from a pending signal) is thrown as py::error_already_set, which ends
// the run and is raised again in the caller.
class Forwarder : public FitObserver {
 public:
  explicit Forwarder(py::object callback) : callback_(std::move(callback)) {}

  void on_run_start(const RunStart& e) override {
    send("run_start", {{"variant", e.variant},
                       {"seed", e.seed},
                       {"run_dir", e.run_dir},
                       {"epochs", e.epochs},
                       {"start_epoch", e.start_epoch},
                       {"steps_per_epoch", e.steps_per_epoch},
                       {"train_samples", e.train_samples}});
  }
  void on_finished_run(const FinishedRun& e) override {
    send("finished_run", {{"variant", e.variant},
                          {"seed", e.seed},
                          {"results_path", e.results_path},
                          {"line", progress_line(e)}});
  }
  void on_epoch_start(const EpochStart& e) override {
    send("epoch_start", {{"variant", e.variant},
                         {"seed", e.seed},
                         {"epoch", e.epoch},
                         {"epochs", e.epochs},
                         {"steps", e.steps},
                         {"phase", e.phase}});
  }
  void on_step(const StepProgress& e) override {
    send("step", {{"variant", e.variant},
                  {"seed", e.seed},
                  {"epoch", e.epoch},
                  {"epochs", e.epochs},
                  {"step", e.step},
                  {"steps", e.steps},
                  {"samples", e.samples},
                  {"loss", e.loss},
                  {"seconds", e.seconds}});
  }
  void on_epoch_end(const EpochEnd& e) override {
    send("epoch_end", {{"variant", e.variant},
                       {"seed", e.seed},
                       {"epoch", e.epoch},
                       {"epochs", e.epochs},
                       {"train_loss", e.train_loss},
                       {"validation", e.validation},
                       {"val_score", e.val_score},
                       {"improved", e.improved},
                       {"best_score", e.best_score},
                       {"best_epoch", e.best_epoch},
                       {"lr", e.lr},
                       {"train_seconds", e.train_seconds},
                       {"epoch_seconds", e.epoch_seconds},
                       {"samples_per_s", e.samples_per_s},
                       {"eta_seconds", e.eta_seconds},
                       {"line", progress_line(e)}});
  }
  void on_early_stop(const EarlyStop& e) override {
    send("early_stop", {{"variant", e.variant},
                        {"seed", e.seed},
                        {"epoch", e.epoch},
                        {"patience", e.patience},
                        {"line", progress_line(e)}});
  }
  void on_test(const RunResult& r) override { send("test", results_to_json(r)); }
  void log(const std::string& line) { send("log", {{"line", line}}); }

 private:
  void send(const char* name, const json& info) {
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (callback_.is_none()) return;
    callback_(name, json_to_python(info));
  }
  py::object callback_;
};

// Runs `body(options, log)` with the GIL released and the events forwarded to `callback`.
template <class Body>
std::string run_forwarded(const json& request, const py::object& callback, Body body) {
  Forwarder forward(callback);
  RunOptions options;
  options.observer = &forward;
  options.resume = field(request, "resume", false);
  options.tensorboard = field(request, "tensorboard", true);
  options.device = field(request, "device", std::string("cpu"));
  LogLine log = [&forward](const std::string& line) { forward.log(line); };
  py::gil_scoped_release release;
  return result_json(body(options, log)).dump();
}

std::string train(const std::string& request_json, const py::object& callback) {
  const json r = parse_request(request_json);
  TrainRequest req{layers_from(r), field(r, "model", std::string()),
                   field(r, "out", std::string())};
  return run_forwarded(r, callback, [&](const RunOptions& o, const LogLine& log) {
    return train_command(req, o, log);
  });
}

std::string compare(const std::string& request_json, const py::object& callback) {
  const json r = parse_request(request_json);
  CompareRequest req;
  req.layers = layers_from(r);
  req.models = field(r, "models", std::string("umdf"));
  req.suite = field(r, "suite", std::string());
  req.out = field(r, "out", std::string());
  req.discussion = field(r, "discussion", std::string());
  req.reported = reported_from(r);
  return run_forwarded(r, callback, [&](const RunOptions& o, const LogLine& log) {
    return compare_command(req, o, log);
  });
}

std::string evaluate(const std::string& request_json, const py::object& callback) {
  const json r = parse_request(request_json);
  EvalRequest req;
  req.run = field(r, "run", std::string());
  req.suite = field(r, "suite", std::string("paper"));
  req.data = field(r, "data", std::string());
  req.mask_seed = field(r, "mask_seed", int64_t{-1});
  if (req.run.empty()) throw UsageError("evaluate: run is required (a run directory)");
  set_threads(field(r, "threads", int64_t{0}));
  return run_forwarded(r, callback, [&](const RunOptions& o, const LogLine& log) {
    return eval_command(req, o, log);
  });
}

std::string report(const std::string& request_json) {
  const json r = parse_request(request_json);
  const std::string dir = field(r, "dir", std::string());
  const ReportedRequest reported = reported_from(r);
  reported.validate();
  json out = json::array();
  py::gil_scoped_release release;
  for (const WrittenReport& w : report_directory(
           dir, field(r, "out", std::string()), field(r, "oracle", std::string()),
           field(r, "discussion", std::string()), reported, field(r, "reference", std::string()))) {
    out.push_back({{"report_dir", w.out_dir},
                   {"note", w.note},
                   {"report", report_to_json(w.report)},
                   {"table", format_terminal_table(w.report)}});
  }
  return out.dump();
}

std::string predict(const std::string& request_json) {
  const json r = parse_request(request_json);
  PredictRequest req;
  req.run = field(r, "run", std::string());
  req.input = field(r, "input", std::string());
  req.split = field(r, "split", std::string("test"));
  req.texts = field(r, "texts", std::vector<std::string>{});
  req.text_encoder = field(r, "text_encoder", std::string());
  set_threads(field(r, "threads", int64_t{0}));
  py::gil_scoped_release release;
  return predict_run(req, RunOptions{}).dump();
}

std::string resolved(const std::string& request_json) {
  const json r = parse_request(request_json);
  return resolved_config(resolve_config(layers_from(r), field(r, "model", std::string()))).dump();
}

std::string models() {
  json all = json::array();
  for (const ModelInfo& m : list_models())
    all.push_back({{"name", m.name}, {"paper", m.paper}, {"options", m.options}, {"help", m.help}});
  return all.dump();
}

// ---- a trained model in the caller's PyTorch --------------------------------------------------

torch::Tensor unpack(const py::handle& obj, const char* what) {
  if (!THPVariable_Check(obj.ptr()))
    throw UsageError(str("argument '", what, "': expected a torch.Tensor or None, found ",
                         std::string(py::str(py::type::handle_of(obj).attr("__name__")))));
  return THPVariable_Unpack(obj.ptr());
}

py::object wrap(const torch::Tensor& t) {
  PyObject* obj = THPVariable_Wrap(t);
  if (obj == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(obj);
}

class LoadedModel {
 public:
  explicit LoadedModel(const std::string& run_dir) {
    std::vector<std::string> runs = find_runs(run_dir);
    if (runs.size() != 1)
      throw UsageError(
          str("load_model '", run_dir, "': expected one run directory, found ", runs.size()));
    dir_ = runs[0];
    spec_ = run_input_spec(dir_);
    run_ = load_run(dir_, spec_);
    if (run_.model->text_encoder)
      throw UsageError(str("load_model '", dir_,
                           "': the run fine-tuned its text encoder (data.text_finetune), so its "
                           "forward needs the encoder's features; score sentences with "
                           "robustmsa.predict(run, texts=[...]) instead"));
    run_.model->eval();
  }

  // (B, T_m, D_m) float features per modality (None: missing for every sample), optional
  // (B, 3) bool `present`, optional `valid` {modality: (B, T) bool} marking the frames that exist
  // (default: all of them) and `keep` in the same form marking the frames a protocol did not
  // remove (robustmsa.protocols.masks' "keep"; default: all); sequences shorter than the run's
  // T_m are padded (invalid frames), longer ones refused, non-finite values refused. Returns the
  // prediction, and the named features when asked.
  py::object forward(const py::object& text, const py::object& audio, const py::object& vision,
                     const py::object& present, const py::object& valid_frames,
                     const py::object& kept_frames, bool features) {
    const std::array<const py::object*, 3> given{&text, &audio, &vision};
    std::array<torch::Tensor, 3> x, valid, keep;
    int64_t batch = -1;
    const torch::Device device = model_device();
    for (int m = 0; m < 3; ++m) {
      if (given[m]->is_none()) continue;
      x[m] = unpack(*given[m], kModalityNames[m]);
      const std::string name = kModalityNames[m];
      if (x[m].dim() != 3 || x[m].size(2) != spec_.dim[m] || x[m].size(1) > spec_.len[m])
        throw UsageError(str("argument '", name, "': expected a (B, T, ", spec_.dim[m],
                             ") tensor with T <= ", spec_.len[m], " (the run's input), found ",
                             x[m].sizes()));
      if (x[m].device() != device)
        throw UsageError(str("argument '", name, "' is on ", x[m].device().str(), ", the model on ",
                             device.str(), "; call model.to(\"", x[m].device().str(), "\") first"));
      if (batch >= 0 && x[m].size(0) != batch)
        throw UsageError(str("argument '", name, "': batch size ", x[m].size(0), ", expected ",
                             batch, " as the other modalities"));
      batch = x[m].size(0);
    }
    if (batch < 0) throw UsageError("forward: pass at least one of text, audio and vision");
    check_finite(x);
    const std::array<torch::Tensor, 3> given_valid = frame_masks(valid_frames, x, "valid");
    const std::array<torch::Tensor, 3> given_keep = frame_masks(kept_frames, x, "keep");
    const auto on = torch::TensorOptions().device(device);
    const auto flags = on.dtype(torch::kBool);
    for (int m = 0; m < 3; ++m) {
      if (!x[m].defined()) {
        x[m] = torch::zeros({batch, spec_.len[m], spec_.dim[m]}, on.dtype(torch::kFloat));
        valid[m] = torch::zeros({batch, spec_.len[m]}, flags);
        keep[m] = torch::ones_like(valid[m]);
        continue;
      }
      // The given frame mask (all frames when none), padded to the run's length with `fill`.
      const int64_t t = x[m].size(1), pad = spec_.len[m] - t;
      auto padded = [&](const torch::Tensor& given, bool fill) {
        return torch::cat({given.defined() ? given : torch::ones({batch, t}, flags),
                           torch::full({batch, pad}, fill, flags)},
                          1);
      };
      valid[m] = padded(given_valid[m], false);  // padding: no frame there
      keep[m] = padded(given_keep[m], true);     // nothing removed (as the evaluator's masks)
      x[m] = torch::constant_pad_nd(x[m].to(torch::kFloat), {0, 0, 0, pad});
    }
    torch::Tensor given_present =
        torch::stack({torch::full({batch}, !text.is_none(), on.dtype(torch::kBool)),
                      torch::full({batch}, !audio.is_none(), on.dtype(torch::kBool)),
                      torch::full({batch}, !vision.is_none(), on.dtype(torch::kBool))},
                     1);
    if (!present.is_none()) {
      torch::Tensor p = unpack(present, "present");
      if (p.dim() != 2 || p.size(0) != batch || p.size(1) != 3)
        throw UsageError(
            str("argument 'present': expected a (", batch, ", 3) tensor, found ", p.sizes()));
      given_present = given_present & p.to(device, torch::kBool);
    }
    Batch b = make_batch(x, valid, keep, given_present, torch::zeros({batch}, on),
                         torch::arange(batch, on.dtype(torch::kLong)));
    ModelOutput out;
    {
      py::gil_scoped_release release;
      out = run_.model->forward(b);
    }
    if (!features) return wrap(out.prediction);
    py::dict named;
    for (const auto& [name, t] : out.features) named[py::str(name)] = wrap(t);
    return py::make_tuple(wrap(out.prediction), named);
  }

  // The features, frame validity and present mask of a split of a feature file (or of a predict
  // JSON file) as the run's training and `robustmsa predict` read them: the reader's sanitised
  // values, its padding as invalid frames, the run's data options. model(**inputs) then gives
  // predict's numbers.
  py::dict inputs(const std::string& path, const std::string& split) const {
    PredictInput in = read_predict_input(path, split, spec_, run_.config.data);
    const torch::Device device = model_device();
    py::dict out, valid;
    for (int m = 0; m < 3; ++m) {
      out[py::str(kModalityNames[m])] = wrap(in.tensors.x[m].to(device));
      valid[py::str(kModalityNames[m])] = wrap(in.tensors.valid[m].to(device));
    }
    out["valid"] = valid;
    out["present"] = wrap(in.masks.present.to(device));
    return out;
  }

  py::list parameters() const {
    py::list out;
    for (const auto& p : run_.model->parameters()) out.append(wrap(p));
    return out;
  }
  py::list named_parameters() const {
    py::list out;
    for (const auto& item : run_.model->named_parameters())
      out.append(py::make_tuple(item.key(), wrap(item.value())));
    return out;
  }
  void set_training(bool on) { run_.model->train(on); }
  bool training() const { return run_.model->is_training(); }
  void to(const std::string& device) { run_.model->to(torch::Device(device)); }
  std::string device() const { return model_device().str(); }
  std::string info() const {
    return json{{"run_dir", dir_},
                {"variant", run_.variant},
                {"model", run_.config.model},
                {"seed", run_.seed},
                {"task", task_name(spec_.task)},
                {"dim", spec_.dim},
                {"len", spec_.len},
                {"config", resolved_config(run_.config)}}
        .dump();
  }

 private:
  // A raw feature file's NaN/inf would turn the whole prediction into NaN (masking multiplies);
  // the reader replaces them with 0 and says so, here the caller is told where they are. One
  // host sync for all the given modalities; the place is looked up only when there is one.
  static void check_finite(const std::array<torch::Tensor, 3>& x) {
    std::vector<torch::Tensor> any_bad;
    for (const auto& t : x)
      if (t.defined()) any_bad.push_back(torch::isfinite(t).logical_not().any());
    if (!torch::stack(any_bad).any().item<bool>()) return;
    for (int m = 0; m < 3; ++m) {
      if (!x[m].defined()) continue;
      const torch::Tensor bad = torch::isfinite(x[m]).logical_not();
      if (!bad.any().item<bool>()) continue;
      const torch::Tensor at = bad.nonzero()[0].cpu();
      throw DataError(str("argument '", kModalityNames[m], "': ", bad.sum().item<int64_t>(),
                          " non-finite values, the first at sample ", at[0].item<int64_t>(),
                          " frame ", at[1].item<int64_t>(), " feature ", at[2].item<int64_t>(),
                          "; expected finite features (robustmsa's reader replaces NaN/inf with "
                          "0: model.inputs(path, split) gives the features as training saw them)"));
    }
  }

  // `valid` or `keep` (`what`): None, or a dict from modality name to a (B, T) bool tensor
  // matching that modality's features; entries for modalities not given are ignored.
  static std::array<torch::Tensor, 3> frame_masks(const py::object& arg,
                                                  const std::array<torch::Tensor, 3>& x,
                                                  const std::string& what) {
    std::array<torch::Tensor, 3> out;
    if (arg.is_none()) return out;
    if (!py::isinstance<py::dict>(arg))
      throw UsageError(str("argument '", what,
                           "': expected a dict {modality: (B, T) bool tensor}, found ",
                           std::string(py::str(py::type::handle_of(arg).attr("__name__")))));
    for (const auto& [key, value] : py::reinterpret_borrow<py::dict>(arg)) {
      const std::string name = py::str(key);
      int m = 0;
      while (m < 3 && name != kModalityNames[m]) ++m;
      if (m == 3)
        throw UsageError(
            str("argument '", what, "': key '", name, "'; expected text, audio or vision"));
      if (!x[m].defined()) continue;
      const std::string entry = str(what, "['", name, "']");
      torch::Tensor v = unpack(value, entry.c_str());
      if (v.dim() != 2 || v.size(0) != x[m].size(0) || v.size(1) != x[m].size(1))
        throw UsageError(str("argument '", entry, "': expected a (", x[m].size(0), ", ",
                             x[m].size(1), ") tensor (the ", name,
                             " features' batch and frames), found ", v.sizes()));
      out[m] = v.to(x[m].device(), torch::kBool);
    }
    return out;
  }

  torch::Device model_device() const {
    auto params = run_.model->parameters();
    return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
  }
  std::string dir_;
  InputSpec spec_;
  LoadedRun run_;
};

}  // namespace
}  // namespace robustmsa::python

PYBIND11_MODULE(_train, m) {
  namespace rp = robustmsa::python;
  m.doc() = "robustmsa's training library (LibTorch); use the robustmsa package, not this module.";
  rp::register_exceptions();
  m.def("train", &rp::train, py::arg("request"), py::arg("callback"));
  m.def("compare", &rp::compare, py::arg("request"), py::arg("callback"));
  m.def("evaluate", &rp::evaluate, py::arg("request"), py::arg("callback"));
  m.def("report", &rp::report, py::arg("request"));
  m.def("predict", &rp::predict, py::arg("request"));
  m.def("resolved_config", &rp::resolved, py::arg("request"));
  m.def("models", &rp::models);
  m.def(
      "set_threads", [](int64_t n) { return robustmsa::set_threads(n); }, py::arg("threads"));
  py::class_<rp::LoadedModel>(m, "LoadedModel")
      .def(py::init<const std::string&>(), py::arg("run_dir"))
      .def("forward", &rp::LoadedModel::forward, py::arg("text") = py::none(),
           py::arg("audio") = py::none(), py::arg("vision") = py::none(),
           py::arg("present") = py::none(), py::arg("valid") = py::none(),
           py::arg("keep") = py::none(), py::arg("features") = false)
      .def("inputs", &rp::LoadedModel::inputs, py::arg("path"), py::arg("split") = "test")
      .def("parameters", &rp::LoadedModel::parameters)
      .def("named_parameters", &rp::LoadedModel::named_parameters)
      .def("set_training", &rp::LoadedModel::set_training, py::arg("mode"))
      .def_property_readonly("training", &rp::LoadedModel::training)
      .def("to", &rp::LoadedModel::to, py::arg("device"))
      .def_property_readonly("device", &rp::LoadedModel::device)
      .def("info", &rp::LoadedModel::info);
}
