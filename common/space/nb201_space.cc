// The NAS-Bench-201 cell space: six edge decisions over a configured op set.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/space/nb201_cell.h"
#include "common/space/space.h"
#include "common/space/space_check.h"

namespace nas::space {
namespace {

constexpr std::array<const char*, 6> kEdgeNames = {"edge_1<-0", "edge_2<-0",
                                                   "edge_2<-1", "edge_3<-0",
                                                   "edge_3<-1", "edge_3<-2"};

class Nb201Space : public SearchSpace {
 public:
  explicit Nb201Space(const Nb201Config& config) : config_(config) {
    for (const char* name : kEdgeNames) {
      decisions_.push_back({name, config.ops});
    }
  }

  const std::vector<Decision>& decisions() const override { return decisions_; }

  std::string Validate(const std::vector<int>& choices) const override {
    return internal::CheckChoices(decisions_, choices);
  }

  std::string Render(const std::vector<int>& choices) const override {
    const Nb201Edges ops = Edges(choices);
    std::string text;
    size_t e = 0;
    for (int target = 1; target <= 3; ++target) {
      if (target > 1) text += "+";
      text += "|";
      for (int source = 0; source < target; ++source, ++e) {
        text += ops[e] + "~" + std::to_string(source) + "|";
      }
    }
    return text;
  }

  std::string CanonicalKey(const std::vector<int>& choices) const override {
    return Nb201ComputationKey(Edges(choices));
  }

  // Edges that cannot affect the output are passed as "none" so the trainer
  // neither spends time on them nor counts their parameters.
  NetworkSpec Network(const std::vector<int>& choices,
                      const InputShape& input) const override {
    CellNetwork cell;
    cell.channels = config_.channels;
    cell.cells_per_stage = config_.cells_per_stage;
    cell.edge_ops = Nb201ReducedEdges(Edges(choices));
    cell.stem_stride = config_.stem_stride;
    return NetworkSpec{input, cell};
  }

 private:
  Nb201Edges Edges(const std::vector<int>& choices) const {
    Nb201Edges ops;
    for (size_t e = 0; e < ops.size(); ++e) {
      ops[e] = config_.ops[choices[e]];
    }
    return ops;
  }

  Nb201Config config_;
  std::vector<Decision> decisions_;
};

}  // namespace

const std::vector<std::string>& Nb201Ops() {
  static const auto* const ops = new std::vector<std::string>{
      "none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};
  return *ops;
}

std::unique_ptr<SearchSpace> MakeNb201Space(const Nb201Config& config,
                                            std::string* error) {
  std::string problem = internal::CheckRange("channels", config.channels, 1,
                                             internal::kMaxChannels);
  if (problem.empty()) {
    problem = internal::CheckRange("cells_per_stage", config.cells_per_stage, 1,
                                   internal::kMaxCellsPerStage);
  }
  if (problem.empty())
    problem = internal::CheckOps("ops", config.ops, Nb201Ops());
  if (problem.empty() && config.stem_stride != 1 && config.stem_stride != 2) {
    problem = "stem_stride: must be 1 or 2";
  }
  if (!problem.empty()) {
    if (error) *error = problem;
    return nullptr;
  }
  return std::make_unique<Nb201Space>(config);
}

bool ParseNb201String(const std::string& text, std::vector<std::string>* ops,
                      std::string* error) {
  auto fail = [error](const std::string& message) {
    if (error) *error = "bad NAS-Bench-201 string: " + message;
    return false;
  };
  // Nodes are "|op~0|...|" groups joined by '+'.
  std::vector<std::string> nodes;
  size_t start = 0;
  while (true) {
    const size_t plus = text.find('+', start);
    nodes.push_back(text.substr(start, plus - start));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  if (nodes.size() != 3) {
    return fail("expected 3 nodes separated by '+', got " +
                std::to_string(nodes.size()));
  }
  std::vector<std::string> parsed;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const std::string& node = nodes[n];
    const std::string where = "node " + std::to_string(n + 1);
    if (node.size() < 2 || node.front() != '|' || node.back() != '|') {
      return fail(where + ": \"" + node + "\" must start and end with '|'");
    }
    std::vector<std::string> edges;
    size_t from = 1;
    while (from < node.size()) {
      const size_t bar = node.find('|', from);
      edges.push_back(node.substr(from, bar - from));
      from = bar + 1;
    }
    if (edges.size() != n + 1) {
      return fail(where + ": expected " + std::to_string(n + 1) +
                  " edges, got " + std::to_string(edges.size()));
    }
    for (size_t source = 0; source < edges.size(); ++source) {
      const std::string& edge = edges[source];
      const std::string suffix = "~" + std::to_string(source);
      const bool has_suffix =
          edge.size() > suffix.size() &&
          edge.compare(edge.size() - suffix.size(), suffix.size(), suffix) == 0;
      if (!has_suffix) {
        return fail(where + ": edge \"" + edge + "\" must be \"<op>" + suffix +
                    "\"");
      }
      const std::string op = edge.substr(0, edge.size() - suffix.size());
      const auto& known = Nb201Ops();
      if (std::find(known.begin(), known.end(), op) == known.end()) {
        return fail(where + ": unknown op \"" + op + "\"");
      }
      parsed.push_back(op);
    }
  }
  *ops = std::move(parsed);
  return true;
}

}  // namespace nas::space
