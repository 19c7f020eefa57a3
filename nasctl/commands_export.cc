// nasctl export: a trained trial's model, written as a folder that
// nas-predict and nas_client.load_model read (docs/export.md).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"
#include "common/spec/model_manifest.h"
#include "common/spec/trial_kinds.h"
#include "grpcpp/client_context.h"
#include "nasctl/command_util.h"
#include "nasctl/commands.h"

namespace nas::cli {
namespace {

// A model streams in 1 MiB chunks; large networks need more than the
// default 30 s on slow links.
constexpr int kExportDeadlineSeconds = 600;

// Writes `bytes` to `path` through a temporary file renamed into place, so
// that a folder never holds half a file under the final name.
bool WriteFileAtomically(const std::filesystem::path& path,
                         const std::string& bytes, std::string* error) {
  const std::filesystem::path temporary = path.string() + ".partial";
  std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  std::error_code ec;
  if (out) std::filesystem::rename(temporary, path, ec);
  if (!out || ec) {
    std::filesystem::remove(temporary, ec);
    *error = absl::StrCat("cannot write ", path.string());
    return false;
  }
  return true;
}

}  // namespace

int Export(Context& ctx, const Args& args) {
  int64_t id;
  if (!SearchIdArg(ctx, args, &id)) return 2;
  const std::string dir = args.Get("output").value_or("");
  if (dir.empty()) {
    return Usage(ctx, "-o DIR: the folder to write the model to");
  }
  nas::v1::ExportModelRequest request;
  request.set_search_id(id);
  if (args.Get("trial").has_value()) {
    absl::StatusOr<int> number = args.GetInt("trial", 0, 0, 1 << 30);
    if (!number.ok()) return Usage(ctx, number.status().message());
    request.set_trial_number(*number);
  } else {
    request.set_best(true);
  }

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(kExportDeadlineSeconds));
  std::unique_ptr<grpc::ClientReader<nas::v1::ExportModelChunk>> reader =
      ctx.stub->ExportModel(&context, request);
  nas::v1::ModelManifest manifest;
  std::string weights;
  nas::v1::ExportModelChunk chunk;
  bool first = true;
  while (reader->Read(&chunk)) {
    if (first) manifest = chunk.manifest();
    first = false;
    weights += chunk.data();
  }
  if (grpc::Status s = reader->Finish(); !s.ok()) return Fail(ctx, s);
  const nas::v1::ModelWeights& expected = manifest.weights();
  if (static_cast<int64_t>(weights.size()) != expected.size() ||
      hash::Sha256Hex(weights) != expected.sha256()) {
    *ctx.err << "the weights arrived damaged (" << weights.size() << " of "
             << expected.size() << " bytes, or a SHA-256 mismatch); run "
             << "the export again\n";
    return 1;
  }

  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    *ctx.err << "cannot create " << dir << ": " << ec.message() << "\n";
    return 1;
  }
  const std::filesystem::path folder(dir);
  std::string error;
  // The manifest goes last: a folder with model.json holds a whole model.
  if (!WriteFileAtomically(folder / expected.file(), weights, &error) ||
      !WriteFileAtomically(folder / "model.json",
                           spec::ManifestToJson(manifest), &error)) {
    *ctx.err << error << "\n";
    return 1;
  }
  const nas::v1::TrialMetrics& m = manifest.metrics();
  *ctx.out << "exported trial " << manifest.trial_number() << " of search "
           << id << " (" << spec::NamesOf(manifest.trial_kind()).stored;
  if (m.has_test_accuracy()) {
    char accuracy[32];
    std::snprintf(accuracy, sizeof accuracy, "%.4f", m.test_accuracy());
    *ctx.out << ", test_accuracy " << accuracy;
  }
  if (m.has_params()) *ctx.out << ", " << m.params() << " params";
  *ctx.out << ") to " << dir << ": model.json, " << expected.file() << " ("
           << weights.size() << " bytes)\n";
  return 0;
}

}  // namespace nas::cli
