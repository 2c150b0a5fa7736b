#include "nn/packed_rnn.h"

#include <torch/nn/utils/rnn.h>
#include <torch/torch.h>

namespace robustmsa {

torch::Tensor sequence_lengths(const torch::Tensor& valid) {
  return valid.sum(1).clamp_min(1).to(torch::kCPU, torch::kLong);
}

torch::Tensor valid_first_order(const torch::Tensor& valid) {
  return std::get<1>(torch::sort(valid.logical_not().to(torch::kInt), /*stable=*/true, /*dim=*/1,
                                 /*descending=*/false));
}

std::pair<torch::Tensor, torch::Tensor> packed_lstm(torch::nn::LSTMImpl& lstm,
                                                    const torch::Tensor& x,
                                                    const torch::Tensor& valid) {
  namespace rnn = torch::nn::utils::rnn;
  auto order = valid_first_order(valid);                    // (B, T)
  auto xs = x.gather(1, order.unsqueeze(-1).expand_as(x));  // (B, T, D), valid frames first
  auto packed = rnn::pack_padded_sequence(xs, sequence_lengths(valid), /*batch_first=*/true,
                                          /*enforce_sorted=*/false);
  auto [out, state] = lstm.forward_with_packed_input(packed);
  auto padded = std::get<0>(rnn::pad_packed_sequence(out, /*batch_first=*/true,
                                                     /*padding_value=*/0.0, x.size(1)));
  // Back to the frames' own positions: `order` is a permutation per row, its inverse gathers.
  auto inverse = std::get<1>(torch::sort(order, /*dim=*/1));  // (B, T)
  auto outputs = padded.gather(1, inverse.unsqueeze(-1).expand_as(padded));
  return {outputs, std::get<0>(state)};
}

}  // namespace robustmsa
