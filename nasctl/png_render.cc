#include "nasctl/png_render.h"

#include <librsvg/rsvg.h>

#include <cmath>
#include <memory>

#include "absl/strings/str_cat.h"

namespace nas::cli {
namespace {

struct HandleUnref {
  void operator()(RsvgHandle* handle) const { g_object_unref(handle); }
};
struct SurfaceDestroy {
  void operator()(cairo_surface_t* s) const { cairo_surface_destroy(s); }
};
struct CairoDestroy {
  void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};

std::string TakeMessage(GError* error) {
  std::string message = error != nullptr ? error->message : "unknown error";
  if (error != nullptr) g_error_free(error);
  return message;
}

}  // namespace

absl::Status WriteSvgAsPng(const std::string& svg, const std::string& path,
                           double scale) {
  GError* error = nullptr;
  std::unique_ptr<RsvgHandle, HandleUnref> handle(rsvg_handle_new_from_data(
      reinterpret_cast<const guint8*>(svg.data()), svg.size(), &error));
  if (handle == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the chart's SVG: ", TakeMessage(error)));
  }
  gdouble width = 0, height = 0;
  if (!rsvg_handle_get_intrinsic_size_in_pixels(handle.get(), &width,
                                                &height) ||
      width <= 0 || height <= 0) {
    return absl::InvalidArgumentError("the chart's SVG has no size");
  }
  const int w = static_cast<int>(std::ceil(width * scale));
  const int h = static_cast<int>(std::ceil(height * scale));
  std::unique_ptr<cairo_surface_t, SurfaceDestroy> surface(
      cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h));
  std::unique_ptr<cairo_t, CairoDestroy> cr(cairo_create(surface.get()));
  cairo_set_source_rgb(cr.get(), 1, 1, 1);
  cairo_paint(cr.get());
  const RsvgRectangle viewport{0, 0, static_cast<double>(w),
                               static_cast<double>(h)};
  if (!rsvg_handle_render_document(handle.get(), cr.get(), &viewport, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot draw the chart: ", TakeMessage(error)));
  }
  if (cairo_surface_write_to_png(surface.get(), path.c_str()) !=
      CAIRO_STATUS_SUCCESS) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace nas::cli
