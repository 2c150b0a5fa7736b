#include "nn/packed_rnn.h"

#include <torch/nn/utils/rnn.h>
#include <torch/torch.h>

namespace robustmsa {

torch::Tensor sequence_lengths(const torch::Tensor& valid) {
  return valid.sum(1).clamp_min(1).to(torch::kCPU, torch::kLong);
}

std::pair<torch::Tensor, torch::Tensor> packed_lstm(torch::nn::LSTMImpl& lstm,
                                                    const torch::Tensor& x,
                                                    const torch::Tensor& valid) {
  namespace rnn = torch::nn::utils::rnn;
  auto packed = rnn::pack_padded_sequence(x, sequence_lengths(valid), /*batch_first=*/true,
                                          /*enforce_sorted=*/false);
  auto [out, state] = lstm.forward_with_packed_input(packed);
  auto padded = std::get<0>(rnn::pad_packed_sequence(out, /*batch_first=*/true,
                                                     /*padding_value=*/0.0, x.size(1)));
  return {padded, std::get<0>(state)};
}

}  // namespace robustmsa
