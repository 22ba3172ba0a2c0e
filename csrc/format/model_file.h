// A weight file held in memory, parsed and validated into a Graph whose constants point
// into that storage (zero copy). The storage is always the ModelFile's own copy, read from
// the file or copied from the caller's buffer: rewriting or truncating the file afterwards
// cannot change or crash what was loaded (a shared mapping of it could). A CompiledModel
// keeps only the packed weights, so the copy lives just as long as its holders do.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "graph/graph.h"

namespace attocore {

class ModelFile {
 public:
  // Refuses anything but a regular file (a FIFO would block open() until a writer came).
  static std::shared_ptr<ModelFile> open(const std::string& path);
  static std::shared_ptr<ModelFile> from_memory(const void* data, size_t size);
  // No copy: parses the caller's bytes, which must stay alive and unchanged as long as the
  // ModelFile does. For a caller that hands it straight to a CompiledModel (which keeps none
  // of it) while holding the buffer: the Python module, whose buffers are already private.
  static std::shared_ptr<ModelFile> borrow(const void* data, size_t size);
  ~ModelFile();
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const Graph& graph() const { return graph_; }
  size_t size() const { return size_; }

 private:
  ModelFile() = default;
  explicit ModelFile(size_t size);  // allocates the storage
  void parse();

  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  uint8_t* storage_ = nullptr;  // when owned: bytes_ in a private anonymous mapping of size_ bytes
  Graph graph_;
};

}  // namespace attocore
