// The main() of both test programs. It fills in, where the environment does not already set
// them, the variables the tests read: the CLI's path, the Python interpreter CMake found, the
// source tree and the shared data (baked in at configure time). ctest's ENVIRONMENT property
// cannot carry several variables through gtest_discover_tests, so they are set here instead.
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
  setenv("ROBUSTMSA_BIN", ROBUSTMSA_TEST_BIN, /*overwrite=*/0);
  setenv("ROBUSTMSA_PYTHON", ROBUSTMSA_TEST_PYTHON, 0);
  setenv("ROBUSTMSA_SOURCE_DIR", ROBUSTMSA_TEST_SOURCE_DIR, 0);
  setenv("ROBUSTMSA_SHARED_DATA", ROBUSTMSA_TEST_SHARED_DATA, 0);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
