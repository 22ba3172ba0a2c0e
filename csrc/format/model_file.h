// A weight file held in memory (mmap of a file, or a private copy of a caller's buffer),
// parsed and validated into a Graph whose constants point into that storage (zero copy).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "graph/graph.h"

namespace attocore {

class ModelFile {
 public:
  static std::shared_ptr<ModelFile> open(const std::string& path);
  static std::shared_ptr<ModelFile> from_memory(const void* data, size_t size);
  ~ModelFile();
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  const Graph& graph() const { return graph_; }
  size_t size() const { return size_; }

 private:
  ModelFile() = default;
  void parse();

  const uint8_t* bytes_ = nullptr;
  size_t size_ = 0;
  void* mapping_ = nullptr;  // non-null when bytes_ is an mmap
  std::unique_ptr<uint8_t[], void (*)(uint8_t*)> owned_{nullptr, nullptr};
  Graph graph_;
};

}  // namespace attocore
