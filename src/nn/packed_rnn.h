// Recurrent encoders over end-padded sequences, shared by the RNN baselines (MISA, Self-MM, MCTN):
// an LSTM reads only the frames that exist (pack_padded_sequence, as those papers' code does), so
// padding never enters its final state. Missing frames inside the sequence stay (zero) inputs,
// exactly as in the papers. A row without any valid frame is read as one zero frame.
#pragma once

#include <torch/nn/modules/rnn.h>
#include <torch/types.h>

#include <utility>

namespace robustmsa {

// Lengths (B) int64 on the CPU: valid frames per row of valid (B, T) bool, at least 1.
torch::Tensor sequence_lengths(const torch::Tensor& valid);

// Runs a batch_first LSTM over x (B, T, D) with row lengths from `valid` (B, T). Returns the
// outputs (B, T, dirs * H), zero beyond each row's length, and the final hidden states
// (layers * dirs, B, H) in batch order.
std::pair<torch::Tensor, torch::Tensor> packed_lstm(torch::nn::LSTMImpl& lstm,
                                                    const torch::Tensor& x,
                                                    const torch::Tensor& valid);

}  // namespace robustmsa
