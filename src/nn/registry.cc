// The one model registry table (DESIGN §5, STYLE: "one explicit registry table"). Adding a model
// means adding one row here; tests/torch/registry_test.cc then runs every common test on it.
#include <torch/torch.h>

#include <type_traits>

#include "config/options.h"
#include "nn/lf_dnn.h"
#include "nn/mctn.h"
#include "nn/misa.h"
#include "nn/mmin.h"
#include "nn/model.h"
#include "nn/mult.h"
#include "nn/self_mm.h"
#include "nn/teacher_student.h"
#include "nn/tfn.h"
#include "nn/tfr_net.h"
#include "nn/umdf.h"
#include "util/error.h"

namespace robustmsa {

namespace {

// A registry row for a model with options struct `Options` and module `Impl`. `objective` takes
// the module itself (or any base of it, e.g. supervised_objective's Model&): the cast from the
// trainer's Model& is done here, once, for every objective.
template <class Options, class Impl, class Target>
ModelEntry make_entry(std::string name, std::string paper,
                      Losses (*objective)(Target&, const Batch&, ObjectiveContext&),
                      nlohmann::json test_options) {
  static_assert(std::is_base_of_v<Model, Impl> && std::is_base_of_v<Target, Impl>,
                "the objective must take the model's module (or a base of it)");
  ModelEntry e;
  e.name = std::move(name);
  e.paper = std::move(paper);
  e.default_options = [] { return options_to_json(Options{}); };
  e.help = [] { return options_help<Options>("model"); };
  e.test_options = std::move(test_options);
  e.make = [](const nlohmann::json& options, const InputSpec& spec) -> std::shared_ptr<Model> {
    Options o;
    options_from_json(o, options, "model");  // ConfigError on unknown keys, then validate()
    return std::make_shared<Impl>(o, spec);
  };
  e.objective = [objective, entry = e.name](Model& model, const Batch& batch,
                                            ObjectiveContext& ctx) -> Losses {
    auto* impl = dynamic_cast<Impl*>(&model);
    if (impl == nullptr)
      throw RunError(str(entry, " objective: the model is a ", model.name(), "; expected a ", entry,
                         " model"));
    return objective(*impl, batch, ctx);
  };
  return e;
}

using J = nlohmann::json;

}  // namespace

const std::vector<ModelEntry>& model_registry() {
  // Test options: heads 2, kernels 3, layer/level/block counts 1, other sizes 8.
  static const std::vector<ModelEntry> registry = {
      make_entry<UmdfOptions, UmdfImpl>(
          "umdf", "Li, Yang, et al., AAAI 2024", umdf_objective,
          J{{"encoder_layers", 1}, {"heads", 2}, {"kernel", 3}, {"mcim_blocks", 1}, {"width", 8}}),
      make_entry<LfDnnOptions, LfDnnImpl>("lf_dnn", "Williams et al., ACL 2018 workshop (MMSA)",
                                          supervised_objective,
                                          J{{"audio_hidden", 8},
                                            {"post_fusion_dim", 8},
                                            {"text_hidden", 8},
                                            {"text_out", 8},
                                            {"vision_hidden", 8}}),
      make_entry<MultOptions, MultImpl>("mult", "Tsai et al., ACL 2019", supervised_objective,
                                        J{{"audio_kernel", 3},
                                          {"heads", 2},
                                          {"levels", 1},
                                          {"mem_layers", 1},
                                          {"text_kernel", 3},
                                          {"vision_kernel", 3},
                                          {"width", 8}}),
      make_entry<TfnOptions, TfnImpl>("tfn", "Zadeh et al., EMNLP 2017", supervised_objective,
                                      J{{"audio_hidden", 8},
                                        {"post_fusion_dim", 8},
                                        {"text_hidden", 8},
                                        {"text_out", 8},
                                        {"vision_hidden", 8}}),
      make_entry<MisaOptions, MisaImpl>(
          "misa", "Hazarika et al., ACM MM 2020", misa_objective,
          J{{"cmd_moments", 8}, {"fusion_ffn", 8}, {"fusion_heads", 8}, {"hidden", 8}}),
      make_entry<SelfMmOptions, SelfMmImpl>("self_mm", "Yu et al., AAAI 2021", self_mm_objective,
                                            J{{"a_lstm_hidden", 8},
                                              {"audio_out", 8},
                                              {"post_audio_dim", 8},
                                              {"post_fusion_dim", 8},
                                              {"post_text_dim", 8},
                                              {"post_video_dim", 8},
                                              {"text_hidden", 8},
                                              {"text_out", 8},
                                              {"v_lstm_hidden", 8},
                                              {"video_out", 8}}),
      make_entry<MctnOptions, MctnImpl>("mctn", "Pham et al., AAAI 2019", mctn_objective,
                                        J{{"hidden", 8}}),
      make_entry<MminOptions, MminImpl>("mmin", "Zhao, Li, Jin, ACL 2021", mmin_objective,
                                        J{{"ae_blocks", 1},
                                          {"embd_size_a", 8},
                                          {"embd_size_l", 8},
                                          {"embd_size_v", 8},
                                          {"text_channels", 8}}),
      make_entry<TfrNetOptions, TfrNetImpl>("tfr_net", "Yuan et al., ACM MM 2021",
                                            tfr_net_objective,
                                            J{{"audio_kernel", 3},
                                              {"cls_hidden", 8},
                                              {"fusion_audio_hidden", 8},
                                              {"fusion_gru_layers", 1},
                                              {"fusion_text_hidden", 8},
                                              {"fusion_vision_hidden", 8},
                                              {"heads", 2},
                                              {"levels", 1},
                                              {"self_layers", 1},
                                              {"temporal_heads", 8},
                                              {"temporal_layers", 1},
                                              {"text_kernel", 3},
                                              {"vision_kernel", 3},
                                              {"width", 8}}),
      make_entry<TeacherStudentOptions, TeacherStudentImpl>(
          "teacher_student", "teacher-student distillation in the style of Li et al., CVPR 2024",
          teacher_student_objective,
          J{{"encoder_layers", 1}, {"heads", 2}, {"kernel", 3}, {"width", 8}}),
  };
  return registry;
}

}  // namespace robustmsa
