// robustmsa._core: the Python binding of robustmsa's torch-free library (robustmsa_core). Every
// function here calls the library function the CLI calls; nothing is re-implemented. The Python
// package (python/robustmsa/) documents and arranges them; docs/python.md is the user's page.
//
// Errors: robustmsa's exceptions become robustmsa.DataError / ConfigError / UsageError (also
// ValueError) and RunError (also RuntimeError), all subclasses of robustmsa.Error, with the CLI's
// message (file, key or byte offset, what was found and what was expected).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/options.h"
#include "data/dataset.h"
#include "data/inspect.h"
#include "data/protocol.h"
#include "errors.h"
#include "io/pickle.h"
#include "json_bridge.h"
#include "metrics/metrics.h"
#include "synth/synth.h"
#include "util/error.h"

namespace py = pybind11;

namespace robustmsa::python {
namespace {

// ---- exceptions -------------------------------------------------------------------------------

ErrorTypes& error_types() {
  static ErrorTypes types;  // the classes live as long as the interpreter
  return types;
}

PyObject* new_exception(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  const std::string qualified = std::string("robustmsa.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.attr(name) = py::reinterpret_borrow<py::object>(type);  // the module holds a reference too
  return type;                                              // kept: never released
}

void register_exceptions(py::module_& m) {
  ErrorTypes& e = error_types();
  py::handle exc = PyExc_Exception, value_error = PyExc_ValueError,
             runtime_error = PyExc_RuntimeError;
  e.error = new_exception(m, "Error", py::make_tuple(exc), "Base of every error robustmsa raises.");
  py::handle base = e.error;
  e.data = new_exception(m, "DataError", py::make_tuple(base, value_error),
                         "A data file is malformed, hostile or inconsistent (the message names "
                         "the file and the key or byte offset).");
  e.config = new_exception(m, "ConfigError", py::make_tuple(base, value_error),
                           "An option has an unknown key, a wrong type or an impossible value.");
  e.usage = new_exception(m, "UsageError", py::make_tuple(base, value_error),
                          "A call is wrong (an unknown suite, condition or split name...).");
  e.run = new_exception(m, "RunError", py::make_tuple(base, runtime_error),
                        "A run failed at run time (an I/O failure while writing...).");
  py::register_exception_translator([](std::exception_ptr p) {
    if (p && !set_python_error(p, error_types())) std::rethrow_exception(p);
  });
}

// ---- pickle values -> Python objects ----------------------------------------------------------

py::dtype numpy_dtype(pickle::DType d) { return py::dtype(std::string(pickle::dtype_name(d))); }

// A read-only NumPy array over the reader's buffer (the file mapping itself when the file holds
// the array in native byte order and C order): the capsule keeps the NdArray, and with it the
// mapping or the copy, alive as long as the array.
py::object array_to_python(const std::shared_ptr<pickle::NdArray>& a) {
  std::vector<py::ssize_t> shape(a->shape.begin(), a->shape.end());
  if (a->dtype == pickle::DType::kObject) {
    py::array out(py::dtype("O"), shape);
    auto* cells = static_cast<PyObject**>(out.mutable_data());
    for (std::size_t i = 0; i < a->objects.size(); ++i) {
      const std::string& s = a->objects[i];
      PyObject* item =
          a->object_is_bytes[i]
              ? PyBytes_FromStringAndSize(s.data(), static_cast<py::ssize_t>(s.size()))
              : PyUnicode_DecodeUTF8(s.data(), static_cast<py::ssize_t>(s.size()), "surrogatepass");
      if (item == nullptr) throw py::error_already_set();
      Py_XDECREF(cells[i]);  // NumPy fills new object arrays with None
      cells[i] = item;
    }
    return out;
  }
  auto* holder = new std::shared_ptr<pickle::NdArray>(a);
  py::capsule base(holder,
                   [](void* p) { delete static_cast<std::shared_ptr<pickle::NdArray>*>(p); });
  const void* data = a->nbytes > 0 ? a->data : nullptr;
  py::array out(numpy_dtype(a->dtype), shape, {}, data, base);
  if (data == nullptr) return out;  // empty: NumPy owns a fresh (empty) buffer
  out.attr("setflags")(py::arg("write") = false);
  return out;
}

py::object text_to_python(const pickle::Value& v) {
  if (v.kind == pickle::Value::Kind::kBytes) return py::bytes(v.text.data(), v.text.size());
  PyObject* s =
      PyUnicode_DecodeUTF8(v.text.data(), static_cast<py::ssize_t>(v.text.size()), "surrogatepass");
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(s);
}

// Converts the value tree; an object the pickle shares (its memo) stays one Python object, as
// with pickle.load. The reader guarantees an acyclic tree of bounded depth (io/pickle.cc).
class Converter {
 public:
  py::object operator()(const pickle::ValuePtr& v) {
    auto it = seen_.find(v.get());
    if (it != seen_.end()) return it->second;
    py::object out = convert(*v);
    seen_.emplace(v.get(), out);
    return out;
  }

 private:
  py::object convert(const pickle::Value& v) {
    using K = pickle::Value::Kind;
    switch (v.kind) {
      case K::kNone:
        return py::none();
      case K::kBool:
        return py::bool_(v.boolean);
      case K::kInt:
        return py::int_(v.integer);
      case K::kFloat:
        return py::float_(v.floating);
      case K::kStr:
      case K::kBytes:
        return text_to_python(v);
      case K::kList: {
        py::list out;
        for (const auto& item : v.items) out.append((*this)(item));
        return out;
      }
      case K::kTuple: {
        py::tuple out(v.items.size());
        for (std::size_t i = 0; i < v.items.size(); ++i) out[i] = (*this)(v.items[i]);
        return out;
      }
      case K::kDict: {
        py::dict out;
        for (const auto& [key, value] : v.dict) out[(*this)(key)] = (*this)(value);
        return out;
      }
      case K::kArray:
        return array_to_python(v.ndarray);
      case K::kDType:
        return numpy_dtype(v.dtype);
    }
    throw RunError(str("pickle value of unknown kind ", static_cast<int>(v.kind)));
  }
  std::unordered_map<const pickle::Value*, py::object> seen_;
};

py::object load(const std::string& path) {
  pickle::ValuePtr root;
  {
    py::gil_scoped_release release;  // parsing touches no Python object
    root = pickle::load_file(path);
  }
  return Converter()(root);
}

// ---- inspect, synth ---------------------------------------------------------------------------

py::object inspect(const std::string& path) {
  nlohmann::json info;
  {
    py::gil_scoped_release release;
    info = inspect_file(path);
  }
  return json_to_python(info);
}

// `options_json`: the generator options (docs/synthetic.md) as a JSON object, checked like a
// config section (unknown keys and wrong types are ConfigErrors naming the key).
py::dict synth(const std::string& out_path, const std::string& options_json) {
  SynthOptions o;
  options_from_json(o, nlohmann::json::parse(options_json), "synth");
  SynthResult r;
  {
    py::gil_scoped_release release;
    r = write_synthetic(o, out_path);
  }
  py::dict d;
  d["data"] = r.data_path;
  d["oracle_path"] = r.oracle_path;
  d["generator_path"] = r.generator_path;
  d["sha256"] = r.sha256;
  d["oracle"] = json_to_python(r.oracle);
  d["generator"] = json_to_python(r.generator);
  return d;
}

// ---- protocols --------------------------------------------------------------------------------

SplitId split_id(const std::string& name) {
  for (int s = 0; s < 3; ++s)
    if (name == kSplitNames[s]) return static_cast<SplitId>(s);
  throw UsageError(str("split '", name, "': expected train, valid or test"));
}

py::array_t<bool> bool_array(const std::vector<uint8_t>& bits, py::ssize_t rows, py::ssize_t cols) {
  py::array_t<bool> out({rows, cols});
  bool* p = out.mutable_data();
  for (std::size_t i = 0; i < bits.size(); ++i) p[i] = bits[i] != 0;
  return out;
}

// Masks of each condition for one split of a data file, exactly as the evaluator makes them
// (make_masks with the same seed), plus the frame validity they are defined against.
py::dict masks(const std::string& path, const std::vector<std::string>& specs,
               const std::string& split_name, int64_t mask_seed) {
  if (mask_seed < 0) throw UsageError(str("mask seed ", mask_seed, ": expected an integer >= 0"));
  const SplitId sid = split_id(split_name);
  std::vector<Condition> conditions;
  for (const std::string& s : specs) conditions.push_back(parse_condition(s));
  Dataset ds;
  std::vector<Masks> made;
  {
    py::gil_scoped_release release;
    ds = load_dataset(path, DataOptions{});
    for (const Condition& c : conditions)
      made.push_back(make_masks(c, ds.split(sid), static_cast<uint64_t>(mask_seed)));
  }
  const Split& split = ds.split(sid);
  py::dict valid;
  for (int m = 0; m < kNumModalities; ++m)
    valid[kModalityNames[m]] = bool_array(split.modality[m].valid, split.n, split.modality[m].t);
  py::dict out;
  for (std::size_t c = 0; c < conditions.size(); ++c) {
    py::dict keep;
    for (int m = 0; m < kNumModalities; ++m)
      keep[kModalityNames[m]] = bool_array(made[c].keep[m], made[c].n, made[c].t[m]);
    py::dict entry;
    entry["keep"] = keep;
    entry["present"] = bool_array(made[c].present, made[c].n, 3);
    entry["valid"] = valid;
    entry["protocol"] = conditions[c].protocol();
    entry["parameter"] = conditions[c].parameter();
    out[py::str(conditions[c].name)] = entry;
  }
  return out;
}

std::vector<std::string> suite(const std::string& name) {
  std::vector<std::string> names;
  for (const Condition& c : suite_conditions(name)) names.push_back(c.name);
  return names;
}

// ---- metrics ----------------------------------------------------------------------------------

template <class T>
std::vector<T> flat(const py::array& a, const char* what) {
  auto c = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!c) throw UsageError(str(what, ": expected a numeric array"));
  return std::vector<T>(c.data(), c.data() + c.size());
}

// The library checks lengths, emptiness, finiteness and class values (DataError naming them).
MetricMap regression(const py::array& pred, const py::array& label) {
  return regression_metrics(flat<double>(pred, "pred"), flat<double>(label, "label"));
}

MetricMap sims(const py::array& pred, const py::array& label) {
  return sims_metrics(flat<double>(pred, "pred"), flat<double>(label, "label"));
}

MetricMap iemocap(const py::array& pred_class, const py::array& label_class) {
  return iemocap_metrics(flat<int>(pred_class, "pred"), flat<int>(label_class, "label"));
}

}  // namespace
}  // namespace robustmsa::python

PYBIND11_MODULE(_core, m) {
  namespace rp = robustmsa::python;
  m.doc() = "robustmsa's C++ core (see the robustmsa package for the documented API)";
  m.attr("__version__") = ROBUSTMSA_VERSION;
  m.attr("torch_version") = ROBUSTMSA_TORCH_VERSION;  // the LibTorch CMake found at build time
  rp::register_exceptions(m);
  m.def("load", &rp::load, py::arg("path"));
  m.def("inspect", &rp::inspect, py::arg("path"));
  m.def("synth", &rp::synth, py::arg("out"), py::arg("options_json"));
  m.def("masks", &rp::masks, py::arg("path"), py::arg("conditions"), py::arg("split"),
        py::arg("mask_seed"));
  m.def("suite", &rp::suite, py::arg("name"));
  m.def("suite_names", [] { return robustmsa::suite_names(); });
  m.def(
      "condition_name", [](const std::string& s) { return robustmsa::parse_condition(s).name; },
      py::arg("spec"));
  m.def("regression", &rp::regression, py::arg("pred"), py::arg("label"));
  m.def("sims", &rp::sims, py::arg("pred"), py::arg("label"));
  m.def("iemocap", &rp::iemocap, py::arg("pred_class"), py::arg("label_class"));
}
