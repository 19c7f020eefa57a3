// Scatter and line charts rendered as standalone SVG text, with no
// dependency: the dashboard inlines them in its pages and `nasctl plot`
// writes them to files. Every point is a <circle> carrying its own CSS
// class and data-* attributes, so pages can be styled and tests (or a
// browser's DOM) can count and read the points.
#ifndef NAS_COMMON_PLOT_SVG_PLOT_H_
#define NAS_COMMON_PLOT_SVG_PLOT_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace nas::plot {

struct Point {
  double x = 0;
  double y = 0;
  // Extra classes of its circle, e.g. "completed infeasible".
  std::string css_class;
  // data-NAME="VALUE" attributes, e.g. {"trial", "12"}.
  std::vector<std::pair<std::string, std::string>> data;
  // Shown on hover (an SVG <title>).
  std::string title;
};

struct Series {
  std::string name;       // in the legend; none when empty
  std::string css_class;  // of the series' group, e.g. "best-so-far"
  std::string color = "#1f77b4";
  std::vector<Point> points;
  bool markers = true;  // a circle per point
  bool line = false;    // a line through the points in their order
  bool step = false;    // the line goes across, then up or down
};

struct Chart {
  std::string id;  // of the <svg> element
  std::string title;
  std::string x_label;
  std::string y_label;
  int width = 760;
  int height = 380;
  std::vector<Series> series;
};

// The whole <svg> element. A chart without points says "no data yet".
std::string RenderSvg(const Chart& chart);

// About `target` round tick values (1, 2 or 5 times a power of ten) that
// span [lo, hi]; one tick when lo == hi.
std::vector<double> Ticks(double lo, double hi, int target = 6);

// Text safe inside XML/HTML content and attribute values.
std::string EscapeXml(absl::string_view text);

}  // namespace nas::plot

#endif  // NAS_COMMON_PLOT_SVG_PLOT_H_
