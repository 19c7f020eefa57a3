// Semantics of one NAS-Bench-201 cell, given its six edge ops in the order
// 0->1, 0->2, 1->2, 0->3, 1->3, 2->3. Node j sums op(node i) over its
// incoming edges; "none" is the zero op, "skip_connect" the identity.
//
// Two cells are treated as the same computation when they build the same
// dataflow graph of weighted op instances once we:
//  * drop "none" edges and edges leaving a node that receives nothing (a
//    node without any non-zero input outputs zero, and ReLU-Conv-BN or a pool
//    of zero is taken to be zero);
//  * drop nodes (and their edges) that do not reach node 3;
//  * contract skip_connect (identity) and flatten sums, which commute and
//    associate (node 3 = skip(node 2) + conv(node 0) with node 2 = a + b is
//    a + b + conv(node 0));
//  * identify parameter-free ops with equal inputs (two avg_pool_3x3 of the
//    same tensor are the same tensor).
// A weighted op (nor_conv_*) is an instance with its own weights: a conv
// output used twice is not the same as two convs of the same input. The
// canonical form is the lexicographically smallest labelling of that graph,
// so nodes 1 and 2 swap freely when they are interchangeable.
//
// On the 15,625 NAS-Bench-201 cells this yields 5,260 classes. The
// benchmark's own figure of 6,466 comes from its string hash
// (Nb201BenchmarkKey), which both splits equal computations (sums are not
// flattened, zero terms are kept) and merges different ones (it expands the
// graph into a tree, losing weight sharing, so a cell with one 1x1 conv used
// twice collides with a cell with two 1x1 convs).
#ifndef NAS_COMMON_SPACE_NB201_CELL_H_
#define NAS_COMMON_SPACE_NB201_CELL_H_

#include <array>
#include <string>

namespace nas::space {

using Nb201Edges = std::array<std::string, 6>;

// Source and target node of each edge position.
inline constexpr std::array<int, 6> kNb201EdgeFrom = {0, 0, 1, 0, 1, 2};
inline constexpr std::array<int, 6> kNb201EdgeTo = {1, 2, 2, 3, 3, 3};

// The same cell with every edge that cannot affect node 3 set to "none":
// edges out of zero nodes and edges into nodes that do not reach node 3.
// Building the reduced cell computes exactly what the canonical key names.
// REQUIRES: every op is one of Nb201Ops().
Nb201Edges Nb201ReducedEdges(const Nb201Edges& ops);

// The canonical key described above, e.g.
// "t0=nor_conv_3x3(x) t1=avg_pool_3x3(x+t0) out=t0+t1"; "zero" when node 3
// receives nothing. REQUIRES: every op is one of Nb201Ops().
std::string Nb201ComputationKey(const Nb201Edges& ops);

// NAS-Bench-201's own isomorphism string (`to_unique_str(consider_zero=True)`
// in its reference code), kept to compare with published numbers: it gives
// the benchmark's 6,466 unique cells. Not an exact equivalence; see above.
std::string Nb201BenchmarkKey(const Nb201Edges& ops);

}  // namespace nas::space

#endif  // NAS_COMMON_SPACE_NB201_CELL_H_
