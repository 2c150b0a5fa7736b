// JSON values as Python objects, for both modules of the package (_core, _train): through
// Python's json module, so that the result is exactly what json.loads gives for the CLI's output.
#pragma once

#include <pybind11/pybind11.h>

#include <nlohmann/json.hpp>

namespace robustmsa::python {

inline pybind11::object json_to_python(const nlohmann::json& j) {
  static pybind11::object* loads =
      new pybind11::object(pybind11::module_::import("json").attr("loads"));  // never released
  return (*loads)(j.dump());
}

}  // namespace robustmsa::python
