// nasctl plot: a search's charts as SVG or PNG files, drawn by common/plot as
// the dashboard draws them, for people without a browser on the controller.
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/plot/search_plots.h"
#include "common/plot/svg_plot.h"
#include "grpcpp/client_context.h"
#include "nasctl/command_util.h"
#include "nasctl/commands.h"
#include "nasctl/png_render.h"

namespace nas::cli {

int Plot(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  const std::string path = args.Get("output").value_or("");
  const bool png = absl::EndsWith(path, ".png");
  if (!png && !absl::EndsWith(path, ".svg")) {
    return Usage(ctx,
                 "-o FILE.svg or FILE.png: where to write the chart (SVG "
                 "for a browser, PNG for anything else)");
  }
  const std::string chart_name = args.Get("chart").value_or("objective");
  if (chart_name != "objective" && chart_name != "pareto") {
    return Usage(ctx, "--chart: objective (default) or pareto");
  }

  nas::v1::Search search;
  if (grpc::Status s = GetSearch(ctx, id, &search); !s.ok()) {
    return Fail(ctx, s);
  }
  std::vector<nas::v1::Trial> trials;
  nas::v1::ListTrialsRequest request;
  request.set_search_id(id);
  request.set_page_size(kMaxPageSize);
  std::string unused;
  if (grpc::Status s = ListTrialPages(ctx, request, /*one_page=*/false,
                                      &trials, &unused);
      !s.ok()) {
    return Fail(ctx, s);
  }

  std::optional<plot::Chart> chart;
  if (chart_name == "pareto") {
    chart = plot::ParetoChart(search.spec(), trials);
    if (!chart) {
      return Usage(ctx, absl::StrCat("--chart pareto: search ", id,
                                     " has one objective; it needs two"));
    }
  } else {
    chart = plot::ObjectiveChart(search.spec(), trials);
  }
  chart->title = absl::StrCat(search.spec().name(), ": ", chart->title);
  const std::string svg = plot::RenderSvg(*chart);
  if (png) {
    // Twice the SVG's size: sharp on high-density screens and in slides.
    if (absl::Status s = WriteSvgAsPng(svg, path, 2.0); !s.ok()) {
      *ctx.err << s.message() << "\n";
      return 1;
    }
  } else {
    std::ofstream out(path);
    out << svg;
    out.close();
    if (!out) {
      *ctx.err << "cannot write " << path << "\n";
      return 1;
    }
  }
  *ctx.out << "wrote " << path << " (" << trials.size() << " trials)\n";
  return 0;
}

}  // namespace nas::cli
