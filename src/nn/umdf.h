// UMDF — A Unified Self-Distillation Framework for Multimodal Sentiment Analysis with Uncertain
// Missing Modalities. Li, Yang, et al., AAAI 2024 (vol. 38, no. 9).
// doi 10.1609/aaai.v38i9.28871, https://ojs.aaai.org/index.php/AAAI/article/view/28871
//
// The paper's full text and code are not available to us. What is SOURCED (abstract, reviews, the
// figure caption) and what is INFERRED is recorded in DESIGN §5.2 and docs/umdf.md:
//   sourced:  one network trained by unified self-distillation with bidirectional knowledge
//             transfer (no frozen teacher); a multi-grained crossmodal interaction module (MCIM)
//             working coarse then fine, capturing inter- and intra-modality dynamics; a dynamic
//             feature integration module (DFIM) with frame-level self-enhancement and selective
//             filtering (FFN, sigmoid, Hadamard product, element-wise sum, concatenation);
//             sibling protocol (CorrKD, HRLF): Conv1d(k=3) + sinusoidal positions + Transformer
//             encoder per modality, width 40, 10 heads on MOSI.
//   inferred: every equation below, the block layout, the losses and all other defaults.
//
// Architecture (forward, one view):
//   H_m = Encoder_m(X_m)                      Conv1d(D_m -> d, k) + positions + Transformer, m in
//   l,a,v MCIM block (per m, pre-LN residual sublayers, repeated `mcim_blocks` times):
//     coarse: H_m += Attn(H_m, {mean_mask(H_n) : n != m})   frames attend to utterance summaries
//     fine:   H_m += Attn(H_m, [H_n1; H_n2])                 frame-level crossmodal (MulT-style)
//     intra:  H_m += Attn(H_m, H_m);  H_m += FFN(H_m)
//   DFIM:  H'_m = H_m ⊕ (σ(W_g,m H_m) ⊙ H_m)                frame-level self-enhancement
//          C = [H'_l; H'_a; H'_v]  (features concatenated per frame when T_l = T_a = T_v,
//                                   frames concatenated in time otherwise)
//          F = σ(W_f C) ⊙ (W_p C)                           selective filtering
//          h = masked mean of F over time                   (B, 3d)
//   head:  ResidualHead(h) -> (B) regression or (B, 4, 2) IEMOCAP logits.
// Every attention masks keys with valid & keep & present; pooling uses the same masks.
//
// Objective (umdf_objective): the complete view X and an uncertain-missing view X̂ go through the
// same weights in one forward pass (concatenated along the batch);
//   L = L_task(X) + L_task(X̂) + α·L_pred(X, X̂) + β·L_feat(X, X̂).
//
// Usage:
//   robustmsa::UmdfOptions o;            // width 40, heads 10, ...
//   robustmsa::Umdf model(o, spec);      // spec: input dims/lengths and task
//   robustmsa::ModelOutput out = model->forward(batch);
//   robustmsa::Losses l = robustmsa::umdf_objective(*model, batch, ctx);
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "config/options.h"
#include "nn/layers.h"
#include "nn/model.h"

namespace robustmsa {

struct UmdfOptions {
  int64_t width = 40;  // d: sibling protocol (CorrKD/HRLF), sourced
  int64_t heads = 10;  // MOSI/IEMOCAP sibling config (MOSEI uses 8)
  int64_t kernel = 3;  // Conv1d kernel of the per-modality projection, sourced
  int64_t encoder_layers = 2;
  int64_t mcim_blocks = 2;
  // Dropouts: MulT's repository defaults (the sibling works build on its encoder).
  double attn_dropout = 0.1;
  double relu_dropout = 0.1;
  double res_dropout = 0.1;
  double embed_dropout = 0.25;
  double output_dropout = 0.0;
  // Ablation switches (DESIGN §5.2).
  bool coarse = true;
  bool fine = true;
  bool dfim = true;
  std::string dfim_concat = "auto";
  bool distill = true;
  bool feature_loss = true;
  bool stop_grad_complete = false;
  // Loss weights (inferred; the paper's values are not public). Chosen on the validation split of
  // the synthetic MOSI set over {1.0/0.1, 0.3/0.03, 0.1/0.01} (docs/umdf.md, "Loss weights"): with
  // an L1 task loss, alpha = 1 lets the MSE consistency outweigh the task gradient.
  double alpha = 0.1;
  double beta = 0.01;
  double tau = 2.0;
  std::string feature_loss_kind = "mse";
  // How the distillation is scheduled and where its targets come from (docs/umdf.md, "Making the
  // distillation work"); the defaults are what the validation study kept.
  std::string teacher = "joint";  // joint | eval | ema: see visit()
  double ema_decay = 0.99;
  int64_t warmup_epochs = 0;           // distillation terms off in epochs [0, warmup_epochs)
  int64_t ramp_epochs = 0;             // then their weights rise linearly over this many epochs
  std::string pred_loss_kind = "mse";  // mse | l1 (regression)
  bool scale_to_task = false;
  bool per_modality = true;
  int64_t curriculum_epochs = 0;

  template <class V>
  void visit(V& v) {
    v("width", width, "hidden width d of every encoder, MCIM block and DFIM (sourced: 40)");
    v("heads", heads, "attention heads; must divide width (MOSI/IEMOCAP 10, MOSEI 8)");
    v("kernel", kernel, "Conv1d kernel of the per-modality projection (odd; sourced: 3)");
    v("encoder_layers", encoder_layers, "Transformer layers of each per-modality encoder");
    v("mcim_blocks", mcim_blocks, "stacked MCIM blocks (coarse -> fine -> intra-modality)");
    v("attn_dropout", attn_dropout, "dropout on attention weights");
    v("relu_dropout", relu_dropout, "dropout inside the feed-forward blocks");
    v("res_dropout", res_dropout, "dropout on each sublayer output before the residual sum");
    v("embed_dropout", embed_dropout, "dropout on the position-embedded encoder inputs");
    v("output_dropout", output_dropout, "dropout inside the residual output head");
    v("coarse", coarse, "MCIM coarse-grained attention to utterance summaries of other modalities");
    v("fine", fine, "MCIM fine-grained frame-level crossmodal attention");
    v("dfim", dfim,
      "dynamic feature integration module; off = concat of per-modality masked means");
    v("dfim_concat", dfim_concat,
      "how DFIM concatenates modalities: feature (per frame, needs equal lengths), time "
      "(frames one after another), auto (feature when lengths are equal, else time)");
    v("distill", distill, "unified self-distillation losses (off = task loss on both views only)");
    v("feature_loss", feature_loss, "feature-distribution consistency term (beta * L_feat)");
    v("stop_grad_complete", stop_grad_complete,
      "detach the complete view in the consistency terms (off = bidirectional transfer)");
    v("alpha", alpha, "weight of the prediction consistency L_pred");
    v("beta", beta, "weight of the feature consistency L_feat");
    v("tau", tau, "temperature of the softened logits / batch softmax in the KL terms");
    v("feature_loss_kind", feature_loss_kind,
      "feature consistency: mse, kl (symmetric KL of batch-softmax distributions) or mmd (RBF)");
    v("teacher", teacher,
      "where the distillation targets come from: joint (the complete view in the same training "
      "pass, dropout on, gradients per stop_grad_complete), eval (a no-gradient pass of the same "
      "weights on the complete view in eval mode), ema (the same with the exponential moving "
      "average of the weights, a mean teacher)");
    v("ema_decay", ema_decay,
      "teacher=ema: decay of the weight average (min(decay, (1+t)/(10+t)) at update t)");
    v("warmup_epochs", warmup_epochs, "epochs of task loss only before the distillation terms");
    v("ramp_epochs", ramp_epochs,
      "after the warm-up, epochs over which alpha and beta rise linearly to their values");
    v("pred_loss_kind", pred_loss_kind,
      "regression prediction consistency: mse or l1 (the task loss's own scale)");
    v("scale_to_task", scale_to_task,
      "weigh each distillation term relative to the missing view's task loss: alpha * L_pred * "
      "(L_task / L_pred) with the ratio not differentiated");
    v("per_modality", per_modality,
      "add the per-modality feature terms to L_feat (off = the fused feature only)");
    v("curriculum_epochs", curriculum_epochs,
      "missing-rate curriculum: in epoch e < curriculum_epochs a missing-view row is the complete "
      "row with probability 1 - (e+1)/(curriculum_epochs+1) (0 = off)");
  }
  void validate() const;
};

// One MCIM block for one target modality m: coarse -> fine -> intra-modality self-attention ->
// FFN, each a pre-LN residual sublayer. Sublayers switched off are not built (no parameters).
class McimBlockImpl : public torch::nn::Module {
 public:
  explicit McimBlockImpl(const UmdfOptions& options);
  // x (B, T_m, d), x_mask (B, T_m); summaries (B, 2, d) of the other modalities with
  // summary_mask (B, 2); others (B, T_n1 + T_n2, d) their frames with others_mask.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& x_mask,
                        const torch::Tensor& summaries, const torch::Tensor& summary_mask,
                        const torch::Tensor& others, const torch::Tensor& others_mask);

 private:
  double res_dropout_;
  torch::nn::LayerNorm coarse_norm_{nullptr}, fine_norm_{nullptr}, fine_memory_norm_{nullptr},
      self_norm_{nullptr}, ffn_norm_{nullptr};
  MaskedAttention coarse_attn_{nullptr}, fine_attn_{nullptr}, self_attn_{nullptr};
  FeedForward ffn_{nullptr};
};
TORCH_MODULE(McimBlock);

// Multi-grained crossmodal interaction module: `mcim_blocks` rounds, each updating the three
// modalities in parallel from the previous round's representations; a final LayerNorm per
// modality closes the pre-LN stack.
class McimImpl : public torch::nn::Module {
 public:
  explicit McimImpl(const UmdfOptions& options);
  std::array<torch::Tensor, 3> forward(std::array<torch::Tensor, 3> h,
                                       const std::array<torch::Tensor, 3>& mask);

 private:
  int64_t blocks_;
  torch::nn::ModuleList block_list_;  // index block * 3 + modality
  torch::nn::ModuleList final_norms_;
};
TORCH_MODULE(Mcim);

struct DfimOutput {
  torch::Tensor fused;                  // (B, 3d)
  std::array<torch::Tensor, 3> pooled;  // (B, d) masked mean of H'_m
};

// Dynamic feature integration module (frame-level self-enhancement + selective filtering).
class DfimImpl : public torch::nn::Module {
 public:
  // by_feature: concatenate modalities per frame (equal lengths) instead of along time.
  DfimImpl(int64_t width, bool by_feature);
  DfimOutput forward(const std::array<torch::Tensor, 3>& h,
                     const std::array<torch::Tensor, 3>& mask);

 private:
  bool by_feature_;
  torch::nn::ModuleList enhance_;                         // W_g per modality, d -> d
  torch::nn::Linear filter_{nullptr}, project_{nullptr};  // W_f, W_p: 3d -> 3d or d -> 3d
};
TORCH_MODULE(Dfim);

class UmdfImpl : public Model {
 public:
  UmdfImpl(const UmdfOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "fused" (B, 3d) and "text"/"audio"/"vision" (B, d).
  ModelOutput forward(const Batch& batch) override;
  const UmdfOptions& options() const { return options_; }
  bool dfim_by_feature() const { return by_feature_; }
  // The distillation teacher (teacher = eval or ema): a no-gradient, eval-mode forward pass of the
  // current weights, or of their moving average for ema; training mode is restored afterwards.
  ModelOutput teacher_forward(const Batch& batch);
  // teacher = ema: one update of the moving average towards the current weights.
  void update_ema();

 private:
  UmdfOptions options_;
  InputSpec spec_;
  bool by_feature_ = false;
  torch::nn::ModuleList encoders_;
  Mcim mcim_{nullptr};
  Dfim dfim_{nullptr};
  ResidualHead head_{nullptr};
  // teacher = ema: the parameters (as registered above) and their averages, buffers "ema_<i>",
  // with the update count "ema_updates", so checkpoints and selected weights carry them.
  std::vector<torch::Tensor> ema_params_, ema_;
  torch::Tensor ema_updates_;
};
TORCH_MODULE(Umdf);

// The factor on alpha and beta in a 0-based epoch: 0 during the warm-up, then a linear ramp.
double distill_schedule(const UmdfOptions& options, int64_t epoch);

// Unified self-distillation objective (DESIGN §5.2 item 6). Parts: "task", "task_missing" and,
// when switched on, "pred" (L_pred) and "feat" (L_feat). RunError when ctx.missing_view is empty.
Losses umdf_objective(UmdfImpl& model, const Batch& complete, ObjectiveContext& ctx);

// The consistency measures, exposed for tests. `teacher` and `student` are (N, H); rows are
// samples. kind: "mse" (mean squared difference), "kl" (symmetric KL between softmax(x / tau)
// taken over the batch for every feature, times tau^2), "mmd" (biased RBF-kernel MMD^2 with
// bandwidths from the mean pairwise squared distance). Zero for N = 0.
torch::Tensor feature_consistency(const torch::Tensor& teacher, const torch::Tensor& student,
                                  const std::string& kind, double tau);
// Regression: MSE between (B) predictions. IEMOCAP: symmetric KL of softmax(z / tau) per emotion
// for (B, 4, 2) logits, times tau^2, averaged over samples and emotions.
torch::Tensor prediction_consistency(const torch::Tensor& teacher, const torch::Tensor& student,
                                     Task task, double tau);

}  // namespace robustmsa
