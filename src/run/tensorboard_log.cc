#include "run/tensorboard_log.h"

#include <algorithm>

#include "util/error.h"

namespace robustmsa {

namespace {

double number(const nlohmann::json& j, const std::string& key, const std::string& source) {
  if (!j.is_number())
    throw DataError(str(source, ": key \"", key, "\": expected a number, got ", j.type_name()));
  return j.get<double>();
}

}  // namespace

std::map<std::string, double> epoch_scalars(const nlohmann::json& record,
                                            const std::string& source) {
  if (!record.is_object())
    throw DataError(str(source, ": expected a JSON object, got ", record.type_name()));
  std::map<std::string, double> out;
  for (const auto& [key, value] : record.items()) {
    if (key.rfind("train_", 0) == 0 && key != "train_seconds") {
      out["train/" + key.substr(6)] = number(value, key, source);
    } else if (key == "val_complete") {
      if (!value.is_object())
        throw DataError(str(source, ": key \"val_complete\": expected an object of metrics, got ",
                            value.type_name()));
      for (const auto& [metric, v] : value.items())
        out["valid/" + metric] = number(v, "val_complete." + metric, source);
    } else if (key == "val_score") {
      out["valid/selection_score"] = number(value, key, source);
    } else if (key == "lr") {
      out["lr"] = number(value, key, source);
    } else if (key == "samples_per_s") {
      out["speed/samples_per_s"] = number(value, key, source);
    }
  }
  return out;
}

void TensorBoardLog::write(int64_t step, const std::map<std::string, double>& scalars) {
  for (const auto& [tag, value] : scalars) writer_->add_scalar(tag, step, value);
  writer_->flush();
}

void TensorBoardLog::on_run_start(const RunStart& r) {
  writer_ = std::make_unique<TensorBoardWriter>(r.run_dir + "/tensorboard");
  last_epoch_ = r.start_epoch;
  if (r.start_epoch > 0) {
    // The checkpoint's history again, after a restart mark that hides what a killed process
    // wrote past its last checkpoint.
    writer_->restart_at(1);
    const std::string where = str("history of '", r.run_dir, "'");
    for (const auto& record : history_) {
      if (!record.is_object() || !record.contains("epoch") || !record["epoch"].is_number_integer())
        throw DataError(
            str(where, ": expected records with an integer \"epoch\", got ", record.dump()));
      const int64_t epoch = record["epoch"].get<int64_t>();
      if (epoch > r.start_epoch) break;  // not part of the checkpoint's history
      for (const auto& [tag, value] : epoch_scalars(record, where))
        writer_->add_scalar(tag, epoch, value);
    }
    writer_->flush();
  }
  if (next_) next_->on_run_start(r);
}

void TensorBoardLog::on_finished_run(const FinishedRun& r) {
  if (next_) next_->on_finished_run(r);
}

void TensorBoardLog::on_epoch_start(const EpochStart& e) {
  if (next_) next_->on_epoch_start(e);
}

void TensorBoardLog::on_step(const StepProgress& s) {
  if (next_) next_->on_step(s);
}

void TensorBoardLog::on_epoch_end(const EpochEnd& e) {
  // The same record metrics.jsonl holds, so that the live curve and a resumed one agree.
  nlohmann::json record = {{"val_score", e.val_score},
                           {"val_complete", e.validation},
                           {"lr", e.lr},
                           {"samples_per_s", e.samples_per_s}};
  for (const auto& [part, value] : e.train_loss) record["train_" + part] = value;
  write(e.epoch, epoch_scalars(record, "epoch record"));
  last_epoch_ = e.epoch;
  if (next_) next_->on_epoch_end(e);
}

void TensorBoardLog::on_early_stop(const EarlyStop& e) {
  if (next_) next_->on_early_stop(e);
}

void TensorBoardLog::on_test(const RunResult& r) {
  if (writer_) {
    std::map<std::string, double> scalars;
    for (const auto& c : r.conditions)
      for (const auto& [metric, value] : c.metrics)
        scalars["test/" + c.name + "/" + metric] = value;
    write(std::max<int64_t>(last_epoch_, 1), scalars);
  }
  if (next_) next_->on_test(r);
}

}  // namespace robustmsa
