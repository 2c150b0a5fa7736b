// The one model registry table (DESIGN §5, STYLE: "one explicit registry table"). Adding a model
// means adding one row here; tests/torch/registry_test.cc then runs every common test on it.
#include <torch/torch.h>

#include "config/options.h"
#include "nn/lf_dnn.h"
#include "nn/mctn.h"
#include "nn/mctn_objective.h"
#include "nn/misa.h"
#include "nn/misa_objective.h"
#include "nn/mmin.h"
#include "nn/model.h"
#include "nn/mult.h"
#include "nn/self_mm.h"
#include "nn/self_mm_objective.h"
#include "nn/teacher_student.h"
#include "nn/tfn.h"
#include "nn/tfr_net.h"
#include "nn/umdf.h"

namespace robustmsa {

namespace {

// A registry row for a model with options struct `Options` and module `Impl`.
template <class Options, class Impl>
ModelEntry make_entry(std::string name, std::string paper, Objective objective) {
  ModelEntry e;
  e.name = std::move(name);
  e.paper = std::move(paper);
  e.default_options = [] { return options_to_json(Options{}); };
  e.make = [](const nlohmann::json& options, const InputSpec& spec) -> std::shared_ptr<Model> {
    Options o;
    options_from_json(o, options, "model");  // ConfigError on unknown keys, then validate()
    return std::make_shared<Impl>(o, spec);
  };
  e.objective = std::move(objective);
  return e;
}

}  // namespace

const std::vector<ModelEntry>& model_registry() {
  static const std::vector<ModelEntry> registry = {
      make_entry<UmdfOptions, UmdfImpl>("umdf", "Li, Yang, et al., AAAI 2024", umdf_objective),
      make_entry<LfDnnOptions, LfDnnImpl>("lf_dnn", "Williams et al., ACL 2018 workshop (MMSA)",
                                          supervised_objective),
      make_entry<MultOptions, MultImpl>("mult", "Tsai et al., ACL 2019", supervised_objective),
      make_entry<TfnOptions, TfnImpl>("tfn", "Zadeh et al., EMNLP 2017", supervised_objective),
      make_entry<MisaOptions, MisaImpl>("misa", "Hazarika et al., ACM MM 2020", misa_objective),
      make_entry<SelfMmOptions, SelfMmImpl>("self_mm", "Yu et al., AAAI 2021", self_mm_objective),
      make_entry<MctnOptions, MctnImpl>("mctn", "Pham et al., AAAI 2019", mctn_objective),
      make_entry<MminOptions, MminImpl>("mmin", "Zhao, Li, Jin, ACL 2021", mmin_objective),
      make_entry<TfrNetOptions, TfrNetImpl>("tfr_net", "Yuan et al., ACM MM 2021",
                                            tfr_net_objective),
      make_entry<TeacherStudentOptions, TeacherStudentImpl>(
          "teacher_student", "teacher-student distillation in the style of Li et al., CVPR 2024",
          teacher_student_objective),
  };
  return registry;
}

}  // namespace robustmsa
