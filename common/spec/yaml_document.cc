#include "common/spec/yaml_document.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/eventhandler.h"

namespace nas::spec::internal {
namespace {

// Records where each document starts and nothing else.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last_ = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  const YAML::Mark& last() const { return last_; }

 private:
  YAML::Mark last_;
};

absl::Status SyntaxError(const YAML::Mark& mark, const std::string& message) {
  return absl::InvalidArgumentError(
      absl::StrCat("YAML syntax error at line ", mark.line + 1, ", column ",
                   mark.column + 1, ": ", message));
}

// How many documents `text` holds; each must start past the previous one.
absl::StatusOr<int> CountDocuments(const std::string& text) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts starts;
  int count = 0;
  int previous_pos = -1;
  while (parser.HandleNextDocument(starts)) {
    if (starts.last().pos <= previous_pos) {
      return SyntaxError(starts.last(), "the parser cannot read past here");
    }
    previous_pos = starts.last().pos;
    ++count;
  }
  return count;
}

}  // namespace

absl::StatusOr<YAML::Node> LoadSingleDocument(const std::string& text) {
  try {
    absl::StatusOr<int> documents = CountDocuments(text);
    if (!documents.ok()) return documents.status();
    if (*documents > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("the text holds ", *documents,
                       " YAML documents (separated by ---); a spec is one"));
    }
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("YAML nested too deeply at line ", e.mark.line + 1,
                     ", column ", e.mark.column + 1));
  } catch (const YAML::Exception& e) {
    return SyntaxError(e.mark, e.msg);
  }
}

}  // namespace nas::spec::internal
