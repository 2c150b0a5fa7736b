#include "data/data_options.h"

namespace robustmsa {

DataOptions data_options(const DataSection& data) {
  data.validate();
  DataOptions o;
  o.zscore = data.zscore;
  o.labels = data.labels;
  o.split = data.split;
  o.valid_videos = data.valid_videos;
  o.split_seed = data.split_seed;
  o.context = data.context;
  return o;
}

}  // namespace robustmsa
