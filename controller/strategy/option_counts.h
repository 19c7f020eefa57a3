// Order-free summary features of an architecture: for every group of
// decisions that share one option list (the edges of a cell, the layers of
// a stage), how many of the group's active decisions chose each option.
// "Three 3x3 convolutions somewhere in the cell" is often a better
// predictor than which edge holds which op; appended to the decision
// vector, these let a model over categorical inputs see it. Derived from
// SearchSpace::decisions() only, so it works on every space.
#ifndef NAS_CONTROLLER_STRATEGY_OPTION_COUNTS_H_
#define NAS_CONTROLLER_STRATEGY_OPTION_COUNTS_H_

#include <vector>

#include "common/space/space.h"

namespace nas::controller {

class OptionCounts {
 public:
  explicit OptionCounts(const space::SearchSpace& space);

  // Number of features Append adds: one per option of every group of two
  // or more decisions with identical option lists.
  int size() const { return size_; }

  // Appends the counts to `effective` (a choice vector whose inactive
  // decisions are negative, as ActiveDecisions::Effective returns); an
  // inactive decision counts for no option.
  void Append(std::vector<int>& effective) const;

 private:
  struct Group {
    std::vector<int> decisions;
    int options = 0;
  };
  std::vector<Group> groups_;
  int size_ = 0;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_OPTION_COUNTS_H_
