// SVG to PNG for `nasctl plot -o FILE.png`, rendered by librsvg with cairo:
// the same chart the dashboard and the SVG output show, as pixels.
#ifndef NAS_NASCTL_PNG_RENDER_H_
#define NAS_NASCTL_PNG_RENDER_H_

#include <string>

#include "absl/status/status.h"

namespace nas::cli {

// Renders `svg` (with width and height attributes) at `scale` pixels per
// SVG unit onto white and writes it to `path` as PNG. INVALID_ARGUMENT for
// SVG librsvg cannot read; UNAVAILABLE when `path` cannot be written.
absl::Status WriteSvgAsPng(const std::string& svg, const std::string& path,
                           double scale);

}  // namespace nas::cli

#endif  // NAS_NASCTL_PNG_RENDER_H_
