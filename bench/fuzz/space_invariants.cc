#include "bench/fuzz/space_invariants.h"

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <variant>

#include "common/space/nb201_cell.h"
#include "common/space/network_spec.h"

namespace nas::fuzz {
namespace {

using nas::space::CellNetwork;
using nas::space::ChainNetwork;
using nas::space::NetworkSpec;
using nas::space::SearchSpace;

// A fixed input shape: the shape only flows through to NetworkSpec::input.
const nas::space::InputShape kInput{1, 28, 28, 10};

bool SameNetwork(const NetworkSpec& a, const NetworkSpec& b) {
  if (a.body.index() != b.body.index()) return false;
  if (const auto* cell = std::get_if<CellNetwork>(&a.body)) {
    const auto& other = std::get<CellNetwork>(b.body);
    return cell->channels == other.channels &&
           cell->cells_per_stage == other.cells_per_stage &&
           cell->edge_ops == other.edge_ops &&
           cell->stem_stride == other.stem_stride;
  }
  const auto& chain = std::get<ChainNetwork>(a.body);
  const auto& other = std::get<ChainNetwork>(b.body);
  if (chain.stem_channels != other.stem_channels ||
      chain.head_channels != other.head_channels ||
      chain.stem_stride != other.stem_stride ||
      chain.layers.size() != other.layers.size()) {
    return false;
  }
  for (size_t i = 0; i < chain.layers.size(); ++i) {
    const auto& x = chain.layers[i];
    const auto& y = other.layers[i];
    if (x.op != y.op || x.out_channels != y.out_channels ||
        x.stride != y.stride) {
      return false;
    }
  }
  return true;
}

bool IsNb201(const SearchSpace& space) {
  return !space.decisions().empty() && space.decisions()[0].name == "edge_1<-0";
}

int OptionIndex(const nas::space::Decision& decision,
                const std::string& option) {
  const auto& options = decision.options;
  const auto it = std::find(options.begin(), options.end(), option);
  return it == options.end() ? -1 : static_cast<int>(it - options.begin());
}

// Decodes Render's text back into choices; -1 marks a decision the text
// does not name. Traps on text that does not decode.
std::vector<int> DecodeText(const SearchSpace& space, const std::string& text) {
  const auto& decisions = space.decisions();
  std::vector<int> decoded(decisions.size(), -1);
  if (IsNb201(space)) {
    std::vector<std::string> ops;
    std::string error;
    Require(nas::space::ParseNb201String(text, &ops, &error),
            "rendered NB201 text parses");
    Require(ops.size() == decisions.size(), "NB201 text has every edge");
    for (size_t e = 0; e < ops.size(); ++e) {
      decoded[e] = OptionIndex(decisions[e], ops[e]);
    }
    return decoded;
  }
  // Chain: "name=option" tokens separated by single spaces.
  Require(!text.empty(), "chain text is not empty");
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string token = text.substr(start, end - start);
    const size_t eq = token.find('=');
    Require(eq != std::string::npos, "chain token is name=option");
    const std::string name = token.substr(0, eq);
    size_t index = 0;
    while (index < decisions.size() && decisions[index].name != name) ++index;
    Require(index < decisions.size(), "chain token names a decision");
    Require(decoded[index] == -1, "chain text names a decision once");
    decoded[index] = OptionIndex(decisions[index], token.substr(eq + 1));
    Require(decoded[index] >= 0, "chain token's option exists");
    start = end + 1;
  }
  return decoded;
}

void CheckNb201Network(const SearchSpace& space,
                       const std::vector<int>& choices, const std::string& key,
                       const NetworkSpec& network) {
  nas::space::Nb201Edges edges;
  for (size_t e = 0; e < edges.size(); ++e) {
    edges[e] = space.decisions()[e].options[choices[e]];
  }
  const auto* cell = std::get_if<CellNetwork>(&network.body);
  Require(cell != nullptr, "NB201 space builds a cell network");
  const nas::space::Nb201Edges reduced = nas::space::Nb201ReducedEdges(edges);
  Require(cell->edge_ops == reduced, "cell network has the reduced edges");
  Require(nas::space::Nb201ReducedEdges(reduced) == reduced,
          "NB201 reduction is idempotent");
  Require(nas::space::Nb201ComputationKey(reduced) == key,
          "NB201 key equals the key of the reduced cell");
  Require(!nas::space::Nb201BenchmarkKey(edges).empty(),
          "NB201 benchmark key is not empty");
}

void CheckChainNetwork(const std::string& text, const std::string& key,
                       const NetworkSpec& network) {
  const auto* chain = std::get_if<ChainNetwork>(&network.body);
  Require(chain != nullptr, "chain space builds a chain network");
  size_t rendered_layers = 0;
  for (size_t at = text.find(".layer"); at != std::string::npos;
       at = text.find(".layer", at + 1)) {
    ++rendered_layers;
  }
  Require(rendered_layers == chain->layers.size(),
          "chain text names one op per built layer");
  size_t kept = 0;
  int in_channels = chain->stem_channels;
  for (const auto& layer : chain->layers) {
    Require(layer.out_channels > 0, "chain layer has channels");
    Require(layer.stride == 1 || layer.stride == 2, "chain stride is 1 or 2");
    if (!(layer.op == "skip" && layer.stride == 1 &&
          layer.out_channels == in_channels)) {
      ++kept;
    }
    in_channels = layer.out_channels;
  }
  const size_t key_entries =
      key == "identity" ? 0 : std::count(key.begin(), key.end(), ' ') + 1;
  Require(key_entries == kept, "chain key lists the non-identity layers");
}

}  // namespace

void Require(bool condition, const char* what) {
  if (condition) return;
  std::fprintf(stderr, "invariant violated: %s\n", what);
  __builtin_trap();
}

void CheckArchitecture(const SearchSpace& space,
                       const std::vector<int>& choices) {
  const std::string text = space.Render(choices);
  const std::string key = space.CanonicalKey(choices);
  const NetworkSpec network = space.Network(choices, kInput);
  Require(space.Render(choices) == text, "Render is deterministic");
  Require(space.CanonicalKey(choices) == key, "CanonicalKey is deterministic");
  Require(SameNetwork(space.Network(choices, kInput), network),
          "Network is deterministic");
  Require(!key.empty(), "canonical key is not empty");

  const std::vector<int> decoded = DecodeText(space, text);
  const auto& decisions = space.decisions();
  for (size_t i = 0; i < decisions.size(); ++i) {
    if (decoded[i] >= 0) {
      Require(decoded[i] == choices[i], "decode(render(x)) == x");
      continue;
    }
    // Left out of the text, so it must not matter.
    const int size = static_cast<int>(decisions[i].options.size());
    if (size < 2) continue;
    std::vector<int> other = choices;
    other[i] = (choices[i] + 1) % size;
    Require(space.Validate(other).empty(), "changed choice stays valid");
    Require(space.Render(other) == text, "inactive choice leaves the text");
    Require(space.CanonicalKey(other) == key, "inactive choice leaves the key");
    Require(SameNetwork(space.Network(other, kInput), network),
            "inactive choice leaves the network");
  }

  if (IsNb201(space)) {
    CheckNb201Network(space, choices, key, network);
  } else {
    CheckChainNetwork(text, key, network);
  }
}

}  // namespace nas::fuzz
