#include "common/space/nb201_cell.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/space/space.h"

namespace nas::space {
namespace {

constexpr int kCellInput = -1;  // the cell input (node 0) in a term list

bool IsNone(const std::string& op) { return op == "none"; }
bool IsIdentity(const std::string& op) { return op == "skip_connect"; }
bool IsParameterFree(const std::string& op) { return op == "avg_pool_3x3"; }

// One op applied to a sum of terms (instance ids, or kCellInput).
struct Instance {
  std::string op;
  std::vector<int> inputs;  // sorted
};

// The dataflow graph of a cell: op instances and the terms node 3 sums.
struct CellGraph {
  std::vector<Instance> instances;
  std::vector<int> output;  // sorted; empty when the cell outputs zero
};

CellGraph BuildGraph(const Nb201Edges& ops) {
  CellGraph graph;
  std::array<std::vector<int>, 4> node_terms;
  node_terms[0] = {kCellInput};
  std::map<std::pair<std::string, std::vector<int>>, int> parameter_free;
  // Edges are ordered by target node, so a node's terms are complete before
  // any edge reads them.
  for (size_t e = 0; e < ops.size(); ++e) {
    std::vector<int> source = node_terms[kNb201EdgeFrom[e]];
    std::sort(source.begin(), source.end());
    std::vector<int>& target = node_terms[kNb201EdgeTo[e]];
    const std::string& op = ops[e];
    if (IsNone(op) || source.empty()) continue;
    if (IsIdentity(op)) {
      target.insert(target.end(), source.begin(), source.end());
      continue;
    }
    if (IsParameterFree(op)) {
      auto [it, inserted] = parameter_free.try_emplace(
          std::make_pair(op, source), static_cast<int>(graph.instances.size()));
      if (inserted) graph.instances.push_back({op, source});
      target.push_back(it->second);
      continue;
    }
    target.push_back(static_cast<int>(graph.instances.size()));
    graph.instances.push_back({op, source});
  }
  graph.output = node_terms[3];
  std::sort(graph.output.begin(), graph.output.end());
  return graph;
}

// The expression tree of an instance, without weight identity; only used to
// order instances so that ties are few.
std::string TreeString(const CellGraph& graph, int id) {
  if (id == kCellInput) return "x";
  std::vector<std::string> inputs;
  for (int input : graph.instances[id].inputs) {
    inputs.push_back(TreeString(graph, input));
  }
  std::sort(inputs.begin(), inputs.end());
  std::string text = graph.instances[id].op + "(";
  for (size_t i = 0; i < inputs.size(); ++i) {
    text += (i ? "+" : "") + inputs[i];
  }
  return text + ")";
}

std::string JoinLabels(const std::vector<int>& terms,
                       const std::vector<int>& label_of) {
  std::vector<int> labels;
  for (int term : terms) {
    labels.push_back(term == kCellInput ? -1 : label_of[term]);
  }
  std::sort(labels.begin(), labels.end());
  std::string text;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i) text += "+";
    text += labels[i] < 0 ? "x" : "t" + std::to_string(labels[i]);
  }
  return text;
}

std::string Serialize(const CellGraph& graph, const std::vector<int>& order) {
  std::vector<int> label_of(graph.instances.size(), -1);
  for (size_t i = 0; i < order.size(); ++i) {
    label_of[order[i]] = static_cast<int>(i);
  }
  std::string text;
  for (size_t i = 0; i < order.size(); ++i) {
    const Instance& instance = graph.instances[order[i]];
    text += "t" + std::to_string(i) + "=" + instance.op + "(" +
            JoinLabels(instance.inputs, label_of) + ") ";
  }
  return text + "out=" + JoinLabels(graph.output, label_of);
}

// Tries every order of the instances within each group of equal tree
// strings (groups hold at most a few instances) and keeps the smallest text.
void SmallestSerialization(const CellGraph& graph,
                           std::vector<std::vector<int>>& groups, size_t group,
                           std::string* best) {
  if (group == groups.size()) {
    std::vector<int> order;
    for (const auto& members : groups) {
      order.insert(order.end(), members.begin(), members.end());
    }
    std::string text = Serialize(graph, order);
    if (best->empty() || text < *best) *best = std::move(text);
    return;
  }
  std::vector<int>& members = groups[group];
  std::sort(members.begin(), members.end());
  do {
    SmallestSerialization(graph, groups, group + 1, best);
  } while (std::next_permutation(members.begin(), members.end()));
}

}  // namespace

Nb201Edges Nb201ReducedEdges(const Nb201Edges& ops) {
  std::array<bool, 4> nonzero = {true, false, false, false};
  std::array<bool, 6> effective{};
  for (size_t e = 0; e < ops.size(); ++e) {
    effective[e] = !IsNone(ops[e]) && nonzero[kNb201EdgeFrom[e]];
    if (effective[e]) nonzero[kNb201EdgeTo[e]] = true;
  }
  std::array<bool, 4> live = {false, false, false, true};
  for (int e = static_cast<int>(ops.size()) - 1; e >= 0; --e) {
    if (effective[e] && live[kNb201EdgeTo[e]]) live[kNb201EdgeFrom[e]] = true;
  }
  Nb201Edges reduced;
  for (size_t e = 0; e < ops.size(); ++e) {
    const bool keep = effective[e] && live[kNb201EdgeTo[e]] && nonzero[3];
    reduced[e] = keep ? ops[e] : "none";
  }
  return reduced;
}

namespace {

std::string ComputeComputationKey(const Nb201Edges& ops) {
  const CellGraph graph = BuildGraph(ops);
  if (graph.output.empty()) return "zero";

  // Only instances that feed the output matter.
  std::vector<bool> reachable(graph.instances.size(), false);
  std::vector<int> stack(graph.output.begin(), graph.output.end());
  while (!stack.empty()) {
    const int id = stack.back();
    stack.pop_back();
    if (id == kCellInput || reachable[id]) continue;
    reachable[id] = true;
    const auto& inputs = graph.instances[id].inputs;
    stack.insert(stack.end(), inputs.begin(), inputs.end());
  }
  std::map<std::string, std::vector<int>> by_tree;
  for (size_t id = 0; id < graph.instances.size(); ++id) {
    if (reachable[id]) {
      by_tree[TreeString(graph, static_cast<int>(id))].push_back(
          static_cast<int>(id));
    }
  }
  std::vector<std::vector<int>> groups;
  for (auto& [tree, members] : by_tree) groups.push_back(std::move(members));
  std::string best;
  SmallestSerialization(graph, groups, 0, &best);
  return best;
}

// The cell's index among the 5^6 cells over Nb201Ops(); -1 when an op is
// not one of them.
int CellIndex(const Nb201Edges& ops) {
  const std::vector<std::string>& names = Nb201Ops();
  int index = 0;
  for (const std::string& op : ops) {
    const auto it = std::find(names.begin(), names.end(), op);
    if (it == names.end()) return -1;
    index = index * static_cast<int>(names.size()) +
            static_cast<int>(it - names.begin());
  }
  return index;
}

}  // namespace

// Memoized for the whole process: the key is a pure function of the six
// ops, there are at most 15,625 cells, and computing it (graph, trees,
// smallest serialization: about 4 us) cost a random search that much per
// draw, under the scheduler's lock, on every rejected draw as the space
// fills up (up to 62,500 draws per proposal once it is exhausted).
std::string Nb201ComputationKey(const Nb201Edges& ops) {
  const int index = CellIndex(ops);
  if (index < 0) return ComputeComputationKey(ops);
  static std::mutex mu;
  static auto* const keys = new std::vector<std::string>();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (static_cast<size_t>(index) < keys->size() && !(*keys)[index].empty()) {
      return (*keys)[index];
    }
  }
  std::string key = ComputeComputationKey(ops);
  std::lock_guard<std::mutex> lock(mu);
  if (keys->empty()) {
    size_t cells = 1;
    for (size_t e = 0; e < ops.size(); ++e) cells *= Nb201Ops().size();
    keys->resize(cells);
  }
  (*keys)[index] = key;
  return key;
}

std::string Nb201BenchmarkKey(const Nb201Edges& ops) {
  std::array<std::string, 4> nodes;
  nodes[0] = "0";
  size_t e = 0;
  for (int target = 1; target <= 3; ++target) {
    std::vector<std::string> terms;
    for (int source = 0; source < target; ++source, ++e) {
      const std::string& op = ops[e];
      if (IsNone(op) || nodes[source] == "#") {
        terms.push_back("#");
      } else if (IsIdentity(op)) {
        terms.push_back(nodes[source]);
      } else {
        terms.push_back("(" + nodes[source] + ")@" + op);
      }
    }
    std::sort(terms.begin(), terms.end());
    for (size_t i = 0; i < terms.size(); ++i) {
      nodes[target] += (i ? "+" : "") + terms[i];
    }
  }
  return nodes[3];
}

}  // namespace nas::space
