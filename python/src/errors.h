// robustmsa's exceptions as Python exceptions, for both modules of the package (_core, _train).
// Plain Python C API, so that it serves modules built with different pybind11 copies (_train
// uses the one the user's torch was built with: python/CMakeLists.txt).
#pragma once

#include <Python.h>

#include <exception>

#include "util/error.h"

namespace robustmsa::python {

// The Python classes robustmsa.Error, DataError, ConfigError, UsageError and RunError (made by
// _core, looked up by _train).
struct ErrorTypes {
  PyObject* error = nullptr;
  PyObject* data = nullptr;
  PyObject* config = nullptr;
  PyObject* usage = nullptr;
  PyObject* run = nullptr;
};

// Sets the Python error for a robustmsa exception, with the CLI's message, and returns true;
// returns false for any other exception (left to pybind11's own translators).
inline bool set_python_error(const std::exception_ptr& p, const ErrorTypes& types) {
  try {
    std::rethrow_exception(p);
  } catch (const DataError& err) {
    PyErr_SetString(types.data, err.what());
  } catch (const ConfigError& err) {
    PyErr_SetString(types.config, err.what());
  } catch (const UsageError& err) {
    PyErr_SetString(types.usage, err.what());
  } catch (const RunError& err) {
    PyErr_SetString(types.run, err.what());
  } catch (const Error& err) {
    PyErr_SetString(types.error, err.what());
  } catch (...) {
    return false;
  }
  return true;
}

}  // namespace robustmsa::python
