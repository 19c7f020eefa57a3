// Plain-text tables for people (nasctl's default output).
#ifndef NAS_NASCTL_TABLE_H_
#define NAS_NASCTL_TABLE_H_

#include <ostream>
#include <string>
#include <vector>

namespace nas::cli {

class Table {
 public:
  explicit Table(std::vector<std::string> header);
  void AddRow(std::vector<std::string> row);
  // Columns padded to their widest cell, two spaces apart.
  void Print(std::ostream& out) const;
  // The same rows as CSV (RFC 4180): cells with a comma, quote, CR or LF
  // are quoted, quotes doubled; lines end in "\n".
  void PrintCsv(std::ostream& out) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace nas::cli

#endif  // NAS_NASCTL_TABLE_H_
