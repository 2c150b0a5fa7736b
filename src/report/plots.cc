// The report's curve files (<curve>.csv, .dat, .gp), the plots gnuplot makes from them, and
// write_report, which writes every output of a report (report/report.h).
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "report/format.h"
#include "report/report.h"
#include "report/report_parts.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

namespace robustmsa {

using report_detail::join;

namespace {

std::string file_safe(const std::string& s) {
  std::string out;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    out += ok ? c : '_';
  }
  return out;
}

// gnuplot single-quoted string: only '' needs escaping.
std::string gp_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

struct CurveFiles {
  std::string csv, dat, script;
  std::vector<std::string> metrics;  // metrics that have something to plot, in output order
};

CurveFiles make_curve_files(const Report& r) {
  CurveFiles f;
  const ReportCurve& curve = *r.curve;
  std::ostringstream csv, dat, gp;
  csv << "metric,variant,x,condition,mean,std,n,expected\n";
  gp << "# robustmsa report: " << curve.id << " — one plot per metric. Run in this directory:\n"
     << "#   gnuplot " << curve.id << ".gp                           (SVG)\n"
     << "#   gnuplot -e \"term='pngcairo'; ext='png'\" " << curve.id << ".gp   (PNG)\n"
     << "if (!exists(\"term\")) term = 'svg'\n"
     << "if (!exists(\"ext\")) ext = 'svg'\n"
     << "eval('set terminal ' . term . ' size 760,460')\n"
     << "set grid\nset key outside right noenhanced\n"
     << "set xlabel " << gp_quote(curve.x_label) << " noenhanced\n";
  int block = 0;
  for (const ReportTable& t : r.tables) {
    if (t.id != curve.table_id) continue;
    std::vector<std::string> plots;
    for (const ReportRow& row : t.rows) {
      std::ostringstream points;
      int count = 0;
      for (size_t i = 0; i < curve.keys.size(); ++i) {
        // The table's columns start with the grid keys in curve order (AUILC may follow).
        const ReportCell& c = row.cells[i];
        csv << csv_field(t.metric) << "," << csv_field(row.variant) << "," << exact(curve.x[i])
            << "," << csv_field(curve.keys[i]) << "," << (c.missing() ? "" : exact(c.stat.mean))
            << "," << (c.stat.n >= 2 ? exact(c.stat.std) : "") << "," << c.stat.n << ","
            << c.expected << "\n";
        if (c.missing()) continue;
        points << exact(curve.x[i]) << " " << exact(c.stat.mean) << " "
               << (c.stat.n >= 2 ? exact(c.stat.std) : "0") << "\n";
        ++count;
      }
      if (count == 0) continue;
      dat << "# metric " << t.metric << " variant " << row.variant << "\n"
          << points.str() << "\n\n";
      const std::string title = row.oracle ? "oracle" : row.variant;
      plots.push_back(str("'", curve.id, ".dat' index ", block,
                          row.oracle ? " using 1:2 with linespoints dashtype 2 lw 2"
                                     : " using 1:2:3 with yerrorlines",
                          " title ", gp_quote(title)));
      ++block;
    }
    if (plots.empty()) continue;
    f.metrics.push_back(t.metric);
    gp << "\nset output '" << curve.id << "_" << file_safe(t.metric) << ".' . ext\n"
       << "set title " << gp_quote(t.metric + " vs " + curve.x_label) << " noenhanced\n"
       << "set ylabel " << gp_quote(t.metric) << " noenhanced\n"
       << "plot " << join(plots, ", \\\n     ") << "\n"
       << "unset output\n";
  }
  f.csv = csv.str();
  f.dat = dat.str();
  f.script = gp.str();
  return f;
}

// Runs program with args in `cwd`, stdin from /dev/null, stdout and stderr into `log_path`.
// Returns the exit status (util/process.h), -1 when waiting failed.
int run_program(const std::string& program, const std::vector<std::string>& args,
                const std::string& cwd, const std::string& log_path) {
  ProcessSpec p;
  p.argv = {program};
  p.argv.insert(p.argv.end(), args.begin(), args.end());
  p.cwd = cwd;
  p.stdin_null = true;
  p.output = log_path;
  return wait_process(start_process(p));
}

std::string first_lines(const std::string& text, int n) {
  std::string out;
  std::istringstream in(text);
  std::string line;
  for (int i = 0; i < n && std::getline(in, line); ++i) out += "    " + line + "\n";
  return out;
}

// Runs gnuplot on the curve script; returns the paragraph report.md shows about the plots.
std::string plot_curves(const Report& r, const CurveFiles& files, const std::string& out_dir,
                        const WriteOptions& options) {
  const std::string id = r.curve->id;
  const std::string rerun =
      str("`", id, ".csv` holds the curve; `gnuplot ", id, ".gp` in this directory draws it.");
  if (files.metrics.empty()) return "No curve values to plot (every cell is missing).";
  if (options.gnuplot.empty()) return str("Plotting was not requested. ", rerun);
  const std::string gnuplot = find_program(options.gnuplot);
  if (gnuplot.empty()) {
    return str("gnuplot (`", options.gnuplot, "`) was not found on PATH, so no SVG/PNG was made. ",
               rerun);
  }
  const std::string log_path = out_dir + "/" + id + ".gnuplot.log";
  ::unlink(log_path.c_str());
  auto outputs = [&](const std::string& ext) {
    std::vector<std::string> names;
    for (const std::string& m : files.metrics)
      names.push_back(str(id, "_", file_safe(m), ".", ext));
    return names;
  };
  const int svg_rc = run_program(gnuplot, {id + ".gp"}, out_dir, log_path);
  if (svg_rc != 0) {
    std::string log;
    try {
      log = read_file(log_path);
    } catch (const DataError&) {
    }
    return str("gnuplot (`", gnuplot, "`) failed (exit status ", svg_rc, "); its messages are in `",
               id, ".gnuplot.log`:\n\n", first_lines(log, 8), "\n", rerun);
  }
  std::ostringstream note;
  note << "Made with `" << gnuplot << "` from `" << id << ".gp` (data: `" << id << ".csv`).\n\n";
  for (const std::string& f : outputs("svg")) note << "![" << f << "](" << f << ")\n";
  // PNG only when this gnuplot has a PNG terminal; probing is the only reliable way to know.
  std::string png_term;
  for (const char* term : {"pngcairo", "png"}) {
    if (run_program(gnuplot, {"-e", str("set terminal ", term)}, out_dir, log_path) == 0) {
      png_term = term;
      break;
    }
  }
  if (png_term.empty()) {
    note << "\nNo PNG: this gnuplot has neither the pngcairo nor the png terminal.\n";
  } else if (run_program(gnuplot, {"-e", str("term='", png_term, "'; ext='png'"), id + ".gp"},
                         out_dir, log_path) == 0) {
    note << "\nPNG copies: " << join(outputs("png"), ", ") << ".\n";
  } else {
    note << "\ngnuplot failed to write the PNG copies; see `" << id << ".gnuplot.log`.\n";
    return note.str();
  }
  ::unlink(log_path.c_str());
  return note.str();
}

}  // namespace

void write_report(const Report& r, const std::string& out_dir, const WriteOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec || !std::filesystem::is_directory(out_dir)) {
    throw RunError(str("cannot create report directory '", out_dir,
                       "': ", ec ? ec.message() : std::string("not a directory")));
  }
  const std::string dir = out_dir + "/";
  write_file_atomic(dir + "report.csv", format_summary_csv(r));
  write_file_atomic(dir + "report_seeds.csv", format_seeds_csv(r));
  write_file_atomic(dir + "report.json", report_to_json(r).dump(2) + "\n");
  write_file_atomic(dir + "report.txt", format_terminal_table(r));
  if (r.reported) {
    write_file_atomic(dir + "report_reported.csv", format_reported_csv(*r.reported));
  } else {
    std::error_code stale_ec;  // a rerun without --reported must not leave the old numbers
    std::filesystem::remove(dir + "report_reported.csv", stale_ec);
  }
  std::string plot_note;
  if (r.curve) {
    const CurveFiles files = make_curve_files(r);
    write_file_atomic(dir + r.curve->id + ".csv", files.csv);
    write_file_atomic(dir + r.curve->id + ".dat", files.dat);
    write_file_atomic(dir + r.curve->id + ".gp", files.script);
    plot_note = plot_curves(r, files, out_dir, options);
  }
  write_file_atomic(dir + "report.md", format_markdown(r, plot_note));
}

}  // namespace robustmsa
