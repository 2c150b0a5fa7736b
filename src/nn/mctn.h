// MCTN — Multimodal Cyclic Translation Network.
// Pham, Liang, Manzini, Morency, Póczos. "Found in Translation: Learning Robust Joint
// Representations by Cyclic Translations Between Modalities", AAAI 2019.
// doi 10.1609/aaai.v33i01.33016892, https://arxiv.org/abs/1812.07809
// Description taken from the paper (§3: a seq2seq encoder translates the source modality into a
// target modality, a cycle-consistency loss translates the prediction back; §3.3 the hierarchical
// trimodal version, whose second level translates the first level's joint representation into the
// third modality; the prediction comes from the encoder states, so at test time only the source
// modality is needed) and from MMSA (thuiar/MMSA, src/MMSA/models/singleTask/MCTN.py and
// trains/singleTask/MCTN.py, PyPI mmsa 2.2.1), whose MOSI config gives hid_dim 32, lr 1e-4,
// batch 32, grad clip 1.0 and the loss weights 0.1 (each translation) and 1.0 (regression).
//
//   E_1, s_1  = Enc_1(text)                   bi-LSTM (directions summed), s = tanh(W (h_fw +
//   h_bw)) â         = Dec_{t→a}(E_1, s_1, a)         translation text -> audio (teacher forced) t̂
//   = Dec_{a→t}(Enc_1(â), t)         cycle: the translation back through the same encoder E_2, s_2
//   = Enc_2(E_1);  v̂ = Dec_{→v}(E_2, s_2, v)   second level: joint -> vision y         = W sum_t
//   softmax(tanh(w · LSTM(E_2)))_t LSTM(E_2)_t      attention regression head L = 1.0 L_task + 0.1
//   (MSE(â, a) + MSE(t̂, t) + MSE(v̂, v))   (mctn_objective, nn/mctn_objective.h)
//
// Deviations:
//   - Order text -> audio (cycle back to text) -> vision. MMSA's code translates text -> vision
//     first and joint -> audio second; the paper evaluates several orders.
//   - Decoders are unidirectional LSTMs with Luong "general" attention after the LSTM, fed the
//     previous ground-truth frame (teacher forcing, which MMSA's decoder always uses), so a whole
//     target sequence is one LSTM call. MMSA's decoder is bidirectional and attends before the
//     LSTM, step by step. The cycle decoder has its own weights (MMSA reuses one decoder for
//     both directions after zero-padding every modality to 768 dims); the encoder is shared, as
//     in the paper. Encoder inputs are zero-padded to max(D_l, D_a, D_v), as MMSA does.
//   - Sequences are read with their valid lengths (packed LSTMs, masked attention and pooling);
//     translation losses average over valid target frames only.
//   - The regression head's output layer gives (B, 8) logits for the IEMOCAP head.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/rnn.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

#include "config/options.h"
#include "nn/model.h"

namespace robustmsa {

struct MctnOptions {
  int64_t hidden = 32;              // MMSA MOSI hid_dim
  double translation_weight = 0.1;  // text -> audio
  double cycle_weight = 0.1;        // audio -> text
  double second_weight = 0.1;       // joint -> vision
  double task_weight = 1.0;

  template <class V>
  void visit(V& v) {
    v("hidden", hidden, "width of every encoder, decoder and the regression LSTM");
    v("translation_weight", translation_weight, "weight of the text -> audio translation MSE");
    v("cycle_weight", cycle_weight, "weight of the cyclic audio -> text translation MSE");
    v("second_weight", second_weight, "weight of the second-level joint -> vision MSE");
    v("task_weight", task_weight, "weight of the task loss");
  }
  void validate() const;
};

// Seq2seq encoder: bi-LSTM over the valid frames; states (B, T, H) with the two directions
// summed, and s = tanh(W (h_fw + h_bw)) (B, H) to start a decoder.
class MctnEncoderImpl : public torch::nn::Module {
 public:
  MctnEncoderImpl(int64_t in_dim, int64_t hidden);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x,
                                                  const torch::Tensor& valid);

 private:
  int64_t in_dim_, hidden_;
  torch::nn::LSTM rnn_{nullptr};
  torch::nn::Linear fc_{nullptr};
};
TORCH_MODULE(MctnEncoder);

// Teacher-forced attention decoder: input frame t is target frame t-1 (0 for t = 0); state
// starts at s; Luong general attention of each LSTM output over the encoder states where
// source_mask is true; output W_o [o_t; c_t]. (B, T_tgt, D_tgt).
class MctnDecoderImpl : public torch::nn::Module {
 public:
  MctnDecoderImpl(int64_t out_dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& target, const torch::Tensor& states,
                        const torch::Tensor& s, const torch::Tensor& source_mask);

 private:
  torch::nn::LSTM rnn_{nullptr};
  torch::nn::Linear score_{nullptr}, out_{nullptr};
};
TORCH_MODULE(MctnDecoder);

class MctnImpl : public Model {
 public:
  MctnImpl(const MctnOptions& options, const InputSpec& spec);
  // Prediction from the text alone (B) or (B, 4, 2); features "fused" (B, H) the pooled
  // second-level representation, "text" (B, H) the first encoder's summary s_1.
  ModelOutput forward(const Batch& batch) override;
  // forward() plus the translations "audio_hat" (B, T_a, D_a), "text_hat" (B, T_l, D_l) and
  // "vision_hat" (B, T_v, D_v), teacher-forced on the batch's own features.
  ModelOutput forward_with_translations(const Batch& batch);
  const MctnOptions& options() const { return options_; }

 private:
  ModelOutput run(const Batch& batch, bool translate);
  MctnOptions options_;
  InputSpec spec_;
  int64_t pad_dim_;
  MctnEncoder encoder1_{nullptr}, encoder2_{nullptr};
  MctnDecoder to_audio_{nullptr}, to_text_{nullptr}, to_vision_{nullptr};
  torch::nn::LSTM head_rnn_{nullptr};
  torch::nn::Linear head_attn_{nullptr}, head_out_{nullptr};
};
TORCH_MODULE(Mctn);

// ---- objective ----------------------------------------------------------------------------
// MCTN's objective (Pham et al., AAAI 2019, Eq. 9; weights from MMSA's MCTN): task loss plus the
// translation, cycle and second-level translation MSEs. See nn/mctn.h.

// Mean squared error of pred vs target (B, T, D) over the frames where valid (B, T) is true;
// 0 when there are none.
torch::Tensor masked_mse(const torch::Tensor& pred, const torch::Tensor& target,
                         const torch::Tensor& valid);

// L = task_weight * task + translation_weight * MSE(â, a) + cycle_weight * MSE(t̂, t)
//     + second_weight * MSE(v̂, v). Parts: task, translation, cycle, second.
Losses mctn_objective(MctnImpl& model, const Batch& batch, ObjectiveContext& ctx);

}  // namespace robustmsa
