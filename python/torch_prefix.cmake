# Included before find_package(Torch) when ROBUSTMSA_PYTHON is ON: find the LibTorch of the Python
# interpreter the module is built for, as PyTorch extensions are built
# (torch.utils.cmake_prefix_path). `pip install .` runs the build in an isolated environment that
# hides the user's site-packages from the interpreter through PYTHONPATH; `-I` (isolated mode:
# no PYTHON* variables, no user site) asks the same interpreter with its own site-packages, so
# the torch the user installed is found and not downloaded again (docs/python.md, "Building").
# A torch whose CMake files are absent (Debian's python3-torch keeps them in libtorch-dev, under
# the system prefix) leaves the default search to find them.
find_package(Python 3.8 REQUIRED COMPONENTS Interpreter Development.Module)
execute_process(
  COMMAND "${Python_EXECUTABLE}" -I -c
          "import torch, torch.utils; print(torch.__version__); print(torch.utils.cmake_prefix_path)"
  OUTPUT_VARIABLE ROBUSTMSA_PY_TORCH OUTPUT_STRIP_TRAILING_WHITESPACE
  ERROR_VARIABLE ROBUSTMSA_PY_TORCH_ERROR RESULT_VARIABLE ROBUSTMSA_PY_TORCH_RC)
if(NOT ROBUSTMSA_PY_TORCH_RC EQUAL 0)
  message(FATAL_ERROR
          "robustmsa's Python module is built against the interpreter's torch, and "
          "'${Python_EXECUTABLE} -I -c \"import torch\"' failed: ${ROBUSTMSA_PY_TORCH_ERROR}\n"
          "Install PyTorch first (pip install torch, or Debian's python3-torch in a venv made "
          "with --system-site-packages).")
endif()
string(REPLACE "\n" ";" ROBUSTMSA_PY_TORCH "${ROBUSTMSA_PY_TORCH}")
list(GET ROBUSTMSA_PY_TORCH 0 ROBUSTMSA_PY_TORCH_VERSION)
list(GET ROBUSTMSA_PY_TORCH 1 ROBUSTMSA_PY_TORCH_PREFIX)
if(EXISTS "${ROBUSTMSA_PY_TORCH_PREFIX}/Torch/TorchConfig.cmake")
  list(PREPEND CMAKE_PREFIX_PATH "${ROBUSTMSA_PY_TORCH_PREFIX}")
endif()
message(STATUS "robustmsa: Python ${Python_VERSION} (${Python_EXECUTABLE}), torch "
               "${ROBUSTMSA_PY_TORCH_VERSION}")
