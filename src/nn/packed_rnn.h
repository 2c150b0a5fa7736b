// Recurrent encoders over padded sequences, shared by the RNN baselines (MISA, Self-MM, MCTN) and
// TFR-Net: an LSTM reads only the frames that exist (pack_padded_sequence, as those papers' code
// does), so padding never enters its state, wherever it sits — the MulT/CMU layout pads at the
// front, MMSA's at the end. Missing frames inside the sequence stay (zero) inputs, exactly as in
// the papers. A row without any valid frame is read as one zero frame.
#pragma once

#include <torch/nn/modules/rnn.h>
#include <torch/types.h>

#include <utility>

namespace robustmsa {

// Lengths (B) int64 on the CPU: valid frames per row of valid (B, T) bool, at least 1.
torch::Tensor sequence_lengths(const torch::Tensor& valid);

// (B, T) int64: per row, the indices of the valid frames in their order, then the others in
// theirs. Gathering with it moves every row's valid frames to the front (end padding).
torch::Tensor valid_first_order(const torch::Tensor& valid);

// Runs a batch_first LSTM over the valid frames of x (B, T, D) (`valid` (B, T)), in order. Returns
// the outputs (B, T, dirs * H) at the frames' own positions, zero at padding (a row without valid
// frames has its one zero frame's output at position 0), and the final hidden states
// (layers * dirs, B, H) in batch order.
std::pair<torch::Tensor, torch::Tensor> packed_lstm(torch::nn::LSTMImpl& lstm,
                                                    const torch::Tensor& x,
                                                    const torch::Tensor& valid);

}  // namespace robustmsa
