// The weight format's rules beyond the byte layout (docs/FORMAT.md), in one place: which
// attributes each op has, which it needs and how many values each holds, the strings'
// encoding, the labels, the weights' values, then the graph itself (graph/graph.h).
//
// attocore/format.py's reader applies the same rules in the same order, so a file gets the
// same verdict and error class from Python, the C API and attocore-run
// (tests/test_differential.py holds the two readers to that).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "graph/graph.h"

namespace attocore {

// Strict UTF-8 as Python decodes it (no overlong forms, surrogates or code points past
// U+10FFFF), and no NUL byte: the C API hands names and labels out as C strings.
bool is_utf8_text(const uint8_t* bytes, size_t size);

// One attribute as read from an op record, checked in this order: not seen before on this
// op, a key the op has, the value count that key takes, each value in range. Records the
// key on the op and sets the op's window from it. Throws Error(kGraph) naming op and key.
void apply_attribute(OpInfo& op, const std::string& key, const std::vector<int64_t>& values);

// Everything after the graph section has been read: the graph input, each op's required
// attributes, the graph (validate_graph: arity, order, operand kinds, shapes), the labels
// against the class count, and every constant finite. Called once, from ModelFile::parse.
void validate_model(const Graph& graph);

}  // namespace attocore
