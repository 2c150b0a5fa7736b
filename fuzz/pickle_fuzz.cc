// libFuzzer target: the restricted pickle reader must either parse or raise DataError — never
// crash, hang, read out of bounds or allocate beyond the input. Build with
//   CXX=clang++ cmake -S . -B build-fuzz -DROBUSTMSA_FUZZ=ON && ninja -C build-fuzz pickle_fuzz
//   ./build-fuzz/pickle_fuzz -max_total_time=60 CORPUS_DIR
#include <cstddef>
#include <cstdint>

#include "io/pickle.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    robustmsa::pickle::parse(data, size, "fuzz-input");
  } catch (const robustmsa::DataError&) {
    // The expected outcome for malformed input.
  }
  return 0;
}
