// Teacher–student distillation baseline in the style of CorrKD.
// Paper: Li, Yang, Wang, Zhai, Zhang, Zhang, Chen, Wang, Lu, "Correlation-Decoupled Knowledge
// Distillation for Multimodal Sentiment Analysis with Incomplete Modalities" (CorrKD), CVPR 2024,
// https://openaccess.thecvf.com/content/CVPR2024/html/Li_Correlation-Decoupled_Knowledge_Distillation_for_Multimodal_Sentiment_Analysis_with_Incomplete_Modalities_CVPR_2024_paper.html
// Description from the paper's abstract and method overview and the sibling protocol recorded in
// DESIGN §5.2 (no public code was found): a teacher trained on complete data and then frozen; a
// separately parameterised student of the same architecture trained on incomplete views, which
// learns from the teacher's responses (logits) and representations; per modality a Conv1d
// (kernel 3) + sinusoidal positions + Transformer encoder at width 40, 10 heads.
//
// Architecture (teacher and student identical, separate weights):
//   H_m = Encoder_m(X_m)            Conv1d(D_m -> d, k) + positions + Transformer (keys masked)
//   h_m = masked mean of H_m        (B, d), 0 for a missing modality
//   h = [h_l; h_a; h_v]             (B, 3d)
//   y = ResidualHead(h)             (B) or (B, 4, 2)
//
// Training in two phases through the one trainer (Model::phase_of_epoch):
//   phase 0, the first round(teacher_share * train.epochs) epochs: the teacher on complete
//     batches, L = L_task(teacher(X));
//     validation selects the teacher (forward returns the teacher's prediction in phase 0).
//   phase 1, later epochs: the trainer restores the selected teacher, begin_phase(1) freezes it
//     (requires_grad off, no optimiser updates); the student on the uncertain-missing view X̂:
//     L = L_task(student(X̂)) + α·L_logit(teacher(X), student(X̂)) + β·L_feat(h^T, h^S)
//     L_logit: MSE of predictions (regression) or τ²-scaled KL of softened logits (IEMOCAP);
//     L_feat: MSE of the fused representation, plus per-modality MSE over rows where the student
//     still has that modality. Selection and the test use the student.
//
// Deviations from CorrKD (a simpler baseline "in its style", not a reproduction):
//   - CorrKD's three distillation terms (sample-level contrastive, category-guided prototype,
//     response-disentangled consistency) and its learnable prompt/reconstruction of missing
//     features are replaced by plain logit and feature distillation.
//   - The encoders are the sibling protocol's encoders with mean pooling and MulT's residual
//     head, not CorrKD's exact fusion network.
//   - Training-time missing views come from robustmsa's uncertain-missing sampler (DESIGN §3).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>
#include <torch/types.h>

#include <cstdint>

#include "config/options.h"
#include "nn/layers.h"
#include "nn/model.h"

namespace robustmsa {

struct TeacherStudentOptions {
  int64_t width = 40;  // sibling protocol (CorrKD/HRLF), MOSI
  int64_t heads = 10;
  int64_t encoder_layers = 2;
  int64_t kernel = 3;
  double attn_dropout = 0.1;
  double relu_dropout = 0.1;
  double res_dropout = 0.1;
  double embed_dropout = 0.1;
  double output_dropout = 0.1;
  double teacher_share = 0.5;  // phase 0: the first half of train.epochs trains the teacher
  double alpha = 1.0;          // weight of the logit distillation term
  double beta = 1.0;           // weight of the feature distillation term
  double tau = 2.0;            // softening temperature (IEMOCAP logits)

  template <class V>
  void visit(V& v) {
    v("width", width, "hidden width d of every encoder (teacher and student)");
    v("heads", heads, "attention heads; must divide width");
    v("encoder_layers", encoder_layers, "Transformer layers of each modality encoder");
    v("kernel", kernel, "Conv1d kernel of the frame projections (odd)");
    v("attn_dropout", attn_dropout, "dropout on the attention weights");
    v("relu_dropout", relu_dropout, "dropout inside the feed-forward blocks");
    v("res_dropout", res_dropout, "dropout on each sublayer output before the residual sum");
    v("embed_dropout", embed_dropout, "dropout on the position-embedded encoder inputs");
    v("output_dropout", output_dropout, "dropout inside the residual output head");
    v("teacher_share", teacher_share,
      "share of train.epochs spent on phase 0 (the teacher on complete data), rounded, at least "
      "one epoch for each phase when train.epochs >= 2");
    v("alpha", alpha, "weight of the logit (response) distillation term");
    v("beta", beta, "weight of the feature distillation term");
    v("tau", tau, "temperature of the softened IEMOCAP logits");
  }
  void validate() const;
};

// One network of the pair: encoders, pooling, head.
class KdNetworkImpl : public torch::nn::Module {
 public:
  KdNetworkImpl(const TeacherStudentOptions& options, const InputSpec& spec);
  // prediction (B) or (B, 4, 2); features "text"/"audio"/"vision" (B, d), "fused" (B, 3d).
  ModelOutput forward(const Batch& batch);

 private:
  InputSpec spec_;
  torch::nn::ModuleList encoders_;
  ResidualHead head_{nullptr};
};
TORCH_MODULE(KdNetwork);

class TeacherStudentImpl : public Model {
 public:
  TeacherStudentImpl(const TeacherStudentOptions& options, const InputSpec& spec);
  // Phase 0: the teacher's output; phase 1: the student's.
  ModelOutput forward(const Batch& batch) override;
  int64_t phase_of_epoch(int64_t epoch, int64_t epochs) const override;
  void begin_phase(int64_t phase) override;

  int64_t phase() const;
  const TeacherStudentOptions& options() const { return options_; }
  KdNetwork& teacher() { return teacher_; }
  KdNetwork& student() { return student_; }

 private:
  void check_batch(const Batch& batch) const;
  TeacherStudentOptions options_;
  InputSpec spec_;
  KdNetwork teacher_{nullptr}, student_{nullptr};
  torch::Tensor phase_;  // buffer: () long
};
TORCH_MODULE(TeacherStudent);

// The first epoch of phase 1 in a run of `epochs` epochs with `share` of them in phase 0:
// round(share * epochs), kept within [1, epochs - 1] when epochs >= 2.
int64_t phase_boundary(double share, int64_t epochs);

// Phase 0: task loss of the teacher on the complete batch. Phase 1: the student's task loss on
// the missing view plus logit and feature distillation from the frozen teacher.
Losses teacher_student_objective(TeacherStudentImpl& model, const Batch& batch,
                                 ObjectiveContext& ctx);

// Distillation pieces shared with tests: response distillation (MSE for regression, τ²·KL of
// softened logits for IEMOCAP (B, 4, 2)) of `student` towards the constant `teacher`.
torch::Tensor logit_distillation(const torch::Tensor& teacher, const torch::Tensor& student,
                                 Task task, double tau);

}  // namespace robustmsa
