// The reader's options (data/dataset.h DataOptions) from the config's data section, in one place
// for the trainer and the inspect command.
#pragma once

#include "config/experiment.h"
#include "data/dataset.h"

namespace robustmsa {

DataOptions data_options(const DataSection& data);

}  // namespace robustmsa
