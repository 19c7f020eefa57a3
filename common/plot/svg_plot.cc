#include "common/plot/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nas::plot {
namespace {

constexpr int kLeft = 70;  // room for y tick labels and the y label
constexpr int kRight = 20;
constexpr int kTop = 36;
constexpr int kBottom = 50;

std::string Num(double v) { return absl::StrFormat("%.1f", v); }

// A tick label without trailing zeros ("0.85", "1200", "1e+06").
std::string TickLabel(double v, double step) {
  if (std::fabs(v) < step * 1e-9) v = 0;
  if (std::fabs(v) >= 1e6 || (v != 0 && std::fabs(v) < 1e-3)) {
    return absl::StrFormat("%.3g", v);
  }
  const int decimals = std::max(0, -static_cast<int>(std::floor(
                                       std::log10(step) + 1e-9)));
  return absl::StrFormat("%.*f", decimals, v);
}

struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void Add(double v) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

}  // namespace

std::string EscapeXml(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> Ticks(double lo, double hi, int target) {
  if (!(hi > lo)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    step = m * magnitude;
    if (step >= raw) break;
  }
  // From integer multiples, so that 0.2 * 3 is not 0.6000000000000001
  // after repeated additions.
  std::vector<double> ticks;
  const double scale = 1 / step;  // exact enough for powers of ten
  for (int64_t k = static_cast<int64_t>(std::ceil(lo / step - 1e-9));
       k * step <= hi + step * 1e-9; ++k) {
    const double t = std::round(static_cast<double>(k) * step * scale) / scale;
    ticks.push_back(t == 0 ? 0 : t);
  }
  return ticks;
}

std::string RenderSvg(const Chart& chart) {
  const int w = chart.width;
  const int h = chart.height;
  std::string svg = absl::StrFormat(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"%s\" class=\"chart\" "
      "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"%d\" height=\"%d\" fill=\"white\"/>\n"
      "<text x=\"%d\" y=\"20\" font-size=\"14\" font-weight=\"bold\">%s"
      "</text>\n",
      EscapeXml(chart.id), w, h, w, h, w, h, kLeft, EscapeXml(chart.title));
  Range xs, ys;
  for (const Series& s : chart.series) {
    for (const Point& p : s.points) {
      if (std::isfinite(p.x) && std::isfinite(p.y)) {
        xs.Add(p.x);
        ys.Add(p.y);
      }
    }
  }
  if (xs.empty()) {
    absl::StrAppendFormat(&svg,
                          "<text x=\"%d\" y=\"%d\" fill=\"#888\" "
                          "class=\"no-data\">no data yet</text>\n</svg>\n",
                          w / 2 - 40, h / 2);
    return svg;
  }
  // Pad a little so that points do not sit on the frame.
  const double x_pad = xs.hi > xs.lo ? (xs.hi - xs.lo) * 0.03 : 1;
  const double y_pad =
      ys.hi > ys.lo ? (ys.hi - ys.lo) * 0.05 : std::max(std::fabs(ys.hi) * 0.05, 1e-3);
  const double x0 = xs.lo - x_pad, x1 = xs.hi + x_pad;
  const double y0 = ys.lo - y_pad, y1 = ys.hi + y_pad;
  const double plot_w = w - kLeft - kRight, plot_h = h - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - x0) / (x1 - x0) * plot_w; };
  auto py = [&](double y) { return kTop + (y1 - y) / (y1 - y0) * plot_h; };

  // Frame, grid and ticks.
  absl::StrAppendFormat(&svg,
                        "<rect x=\"%d\" y=\"%d\" width=\"%s\" height=\"%s\" "
                        "fill=\"none\" stroke=\"#999\"/>\n",
                        kLeft, kTop, Num(plot_w), Num(plot_h));
  const std::vector<double> x_ticks = Ticks(x0, x1);
  const std::vector<double> y_ticks = Ticks(y0, y1);
  const double x_step = x_ticks.size() > 1 ? x_ticks[1] - x_ticks[0] : 1;
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  for (double t : x_ticks) {
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%s\" x2=\"%s\" y1=\"%d\" y2=\"%s\" stroke=\"#eee\"/>"
        "<text x=\"%s\" y=\"%s\" text-anchor=\"middle\">%s</text>\n",
        Num(px(t)), Num(px(t)), kTop, Num(kTop + plot_h), Num(px(t)),
        Num(kTop + plot_h + 16), TickLabel(t, x_step));
  }
  for (double t : y_ticks) {
    absl::StrAppendFormat(
        &svg,
        "<line x1=\"%d\" x2=\"%s\" y1=\"%s\" y2=\"%s\" stroke=\"#eee\"/>"
        "<text x=\"%d\" y=\"%s\" text-anchor=\"end\">%s</text>\n",
        kLeft, Num(kLeft + plot_w), Num(py(t)), Num(py(t)), kLeft - 6,
        Num(py(t) + 4), TickLabel(t, y_step));
  }
  absl::StrAppendFormat(
      &svg,
      "<text x=\"%s\" y=\"%d\" text-anchor=\"middle\">%s</text>\n"
      "<text transform=\"translate(16 %s) rotate(-90)\" "
      "text-anchor=\"middle\">%s</text>\n",
      Num(kLeft + plot_w / 2), h - 10, EscapeXml(chart.x_label),
      Num(kTop + plot_h / 2), EscapeXml(chart.y_label));

  // Series, then the legend.
  // Legend entries sit on the title's line, packed against the right edge
  // so that a long title (nasctl prefixes the search's name) keeps clear:
  // a swatch, then the name at about 7 px per character of 12 px text.
  auto entry_width = [](const Series& s) {
    return 14 + 7 * static_cast<int>(s.name.size()) + 18;
  };
  int legend_x = w - kRight;
  for (const Series& s : chart.series) {
    if (!s.name.empty()) legend_x -= entry_width(s);
  }
  for (const Series& s : chart.series) {
    absl::StrAppendFormat(&svg, "<g class=\"series %s\">\n",
                          EscapeXml(s.css_class));
    if (s.line && !s.points.empty()) {
      std::string path;
      for (size_t i = 0; i < s.points.size(); ++i) {
        const Point& p = s.points[i];
        if (i > 0 && s.step) {
          absl::StrAppend(&path, " L", Num(px(p.x)), " ",
                          Num(py(s.points[i - 1].y)));
        }
        absl::StrAppend(&path, i == 0 ? "M" : " L", Num(px(p.x)), " ",
                        Num(py(p.y)));
      }
      absl::StrAppendFormat(&svg,
                            "<path d=\"%s\" fill=\"none\" stroke=\"%s\" "
                            "stroke-width=\"2\"/>\n",
                            path, EscapeXml(s.color));
    }
    if (s.markers) {
      for (const Point& p : s.points) {
        if (!std::isfinite(p.x) || !std::isfinite(p.y)) continue;
        std::string data;
        for (const auto& [name, value] : p.data) {
          absl::StrAppend(&data, " data-", EscapeXml(name), "=\"",
                          EscapeXml(value), "\"");
        }
        absl::StrAppendFormat(
            &svg,
            "<circle class=\"point %s\" cx=\"%s\" cy=\"%s\" r=\"4\" "
            "fill=\"%s\"%s>%s</circle>\n",
            EscapeXml(p.css_class), Num(px(p.x)), Num(py(p.y)),
            EscapeXml(s.color), data,
            p.title.empty()
                ? std::string()
                : absl::StrCat("<title>", EscapeXml(p.title), "</title>"));
      }
    }
    svg += "</g>\n";
    if (!s.name.empty()) {
      const int lx = legend_x;
      legend_x += entry_width(s);
      absl::StrAppendFormat(&svg,
                            "<rect x=\"%d\" y=\"10\" width=\"10\" "
                            "height=\"10\" fill=\"%s\"/><text x=\"%d\" "
                            "y=\"19\">%s</text>\n",
                            lx, EscapeXml(s.color), lx + 14,
                            EscapeXml(s.name));
    }
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace nas::plot
