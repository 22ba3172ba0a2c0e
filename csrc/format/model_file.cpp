#include "format/model_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>

#include "format/byte_reader.h"
#include "format/limits.h"
#include "format/validate.h"
#include "util/crc32.h"
#include "util/error.h"

namespace attocore {
namespace {

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t file_size;
  uint64_t graph_offset;
  uint64_t graph_size;
  uint64_t data_offset;
  uint64_t data_size;
  uint32_t crc;
  uint32_t reserved;
};
static_assert(sizeof(Header) == limits::kHeaderSize, "header layout");

constexpr char kMagic[8] = {'A', 'T', 'T', 'O', 'C', 'O', 'R', 'E'};

uint32_t file_checksum(const uint8_t* bytes, size_t size) {
  const uint8_t zero[4] = {0, 0, 0, 0};
  uint32_t crc = crc32_update(0, bytes, limits::kCrcOffset);
  crc = crc32_update(crc, zero, 4);
  return crc32_update(crc, bytes + limits::kCrcOffset + 4, size - limits::kCrcOffset - 4);
}

Header check_header(const uint8_t* bytes, size_t size) {
  if (size < limits::kHeaderSize)
    fail(ErrorCode::kFormat, "file too small (" + std::to_string(size) + " bytes) to hold the header");
  Header h;
  std::memcpy(&h, bytes, sizeof(h));
  if (std::memcmp(h.magic, kMagic, 8) != 0)
    fail(ErrorCode::kFormat, "not an attocore weight file (bad magic)");
  if (h.version < limits::kOldestFormatVersion || h.version > limits::kFormatVersion)
    fail(ErrorCode::kFormat, "unsupported format version " + std::to_string(h.version) + " (this loader handles " +
                                 std::to_string(limits::kOldestFormatVersion) + " to " +
                                 std::to_string(limits::kFormatVersion) + ")");
  if (h.header_size != limits::kHeaderSize) fail(ErrorCode::kFormat, "bad header size");
  if (h.file_size != size)
    fail(ErrorCode::kFormat, "file is " + std::to_string(size) + " bytes but its header declares " +
                                 std::to_string(h.file_size) + " (truncated?)");
  // Overflow-safe: every offset and size is first bounded by the real size.
  if (h.graph_offset != limits::kHeaderSize || h.graph_size > size - h.graph_offset)
    fail(ErrorCode::kFormat, "graph section lies outside the file");
  if (h.data_offset % limits::kAlign != 0 || h.data_offset < h.graph_offset + h.graph_size ||
      h.data_offset > size || h.data_size != size - h.data_offset)
    fail(ErrorCode::kFormat, "data section is misplaced or misaligned");
  if (file_checksum(bytes, size) != h.crc) fail(ErrorCode::kFormat, "checksum mismatch: the file is corrupted");
  if (h.reserved != 0) fail(ErrorCode::kFormat, "header: reserved field is " + std::to_string(h.reserved) + ", not 0");
  return h;
}

void read_metadata(ByteReader& r, Metadata& md) {
  md.name = r.string("model name", limits::kMaxString);
  uint32_t dims[3];
  for (uint32_t& d : dims) {
    d = r.read<uint32_t>("input shape");
    if (d < 1 || d > limits::kMaxDim) fail(ErrorCode::kFormat, "bad input shape in metadata");
  }
  md.input_channels = int(dims[0]);
  md.input_height = int(dims[1]);
  md.input_width = int(dims[2]);
  uint32_t n = r.count("normalisation", limits::kMaxDim);
  if (n != dims[0]) fail(ErrorCode::kFormat, "mean/std count does not match the input channels");
  for (uint32_t i = 0; i < n; ++i) md.mean.push_back(r.read<float>("mean"));
  for (uint32_t i = 0; i < n; ++i) md.std.push_back(r.read<float>("std"));
  for (uint32_t i = 0; i < n; ++i)
    if (!std::isfinite(md.mean[i]) || !std::isfinite(md.std[i]) || !(md.std[i] > 0))
      fail(ErrorCode::kFormat, "normalisation std must be finite and positive, mean finite");
  md.resize = r.read<uint32_t>("resize");
  uint32_t labels = r.count("labels", limits::kMaxLabels);
  if (uint64_t(labels) * 4 > r.remaining()) fail(ErrorCode::kFormat, "more labels declared than the file holds");
  for (uint32_t i = 0; i < labels; ++i) md.labels.push_back(r.string("label", limits::kMaxString));
  uint32_t extra = r.count("metadata entries", limits::kMaxExtra);
  for (uint32_t i = 0; i < extra; ++i) {
    std::string key = r.string("metadata key", limits::kMaxString);
    std::string value = r.string("metadata value", limits::kMaxString);
    if (!md.extra.emplace(key, std::move(value)).second)
      fail(ErrorCode::kFormat, "metadata key '" + key + "' appears twice");
  }
}

// An int8 tensor's quantization record (format v2): scale count, scales, zero point.
void read_quantization(ByteReader& r, TensorInfo& t) {
  const uint32_t n = r.read<uint32_t>("scale count");
  const bool per_channel = t.constant && n == uint64_t(t.shape[0]) && n > 1;
  if (n != 1 && !per_channel)
    fail(ErrorCode::kFormat, "tensor '" + t.name + "': " + std::to_string(n) + " scales (give 1" +
                                 (t.constant ? ", or one per output channel: " + std::to_string(t.shape[0]) : "") + ")");
  if (uint64_t(n) * 4 > r.remaining()) fail(ErrorCode::kFormat, "tensor '" + t.name + "': scales past the section");
  t.scales.resize(n);
  for (float& s : t.scales) {
    s = r.read<float>("scale");
    if (!std::isfinite(s) || !(s > 0))
      fail(ErrorCode::kFormat, "tensor '" + t.name + "': scale " + std::to_string(s) + " is not finite and positive");
  }
  const int32_t zp = r.read<int32_t>("zero point");
  if (zp < -128 || zp > 127 || (t.constant && zp != 0))
    fail(ErrorCode::kFormat, "tensor '" + t.name + "': zero point " + std::to_string(zp) +
                                 (t.constant ? " (int8 weights are symmetric: 0)" : " outside [-128, 127]"));
  t.zero_point = zp;
}

void read_tensors(ByteReader& r, Graph& g, const uint8_t* data, uint64_t data_size, uint32_t version) {
  uint32_t n = r.count("tensors", limits::kMaxTensors);
  // Allocate only what the bytes can justify: a tensor record takes at least 16 bytes.
  if (uint64_t(n) * 16 > r.remaining())
    fail(ErrorCode::kFormat, std::to_string(n) + " tensors declared but the graph section is too short for them");
  std::set<std::string> names;
  g.tensors.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    TensorInfo& t = g.tensors[i];
    t.name = r.string("tensor name", limits::kMaxString);
    if (!names.insert(t.name).second) fail(ErrorCode::kFormat, "tensor name '" + t.name + "' appears twice");
    uint8_t kind = r.read<uint8_t>("tensor kind");
    uint8_t dtype = r.read<uint8_t>("tensor dtype");
    uint16_t ndim = r.read<uint16_t>("tensor ndim");
    // Version 1 knows float32 only; int32 tensors are constants (int8 layers' biases).
    const uint8_t last_dtype = version >= 2 ? kLastDType : 1;
    if (kind > 1 || dtype < 1 || dtype > last_dtype || (dtype == uint8_t(DType::kInt32) && kind != 1) || ndim < 1 ||
        ndim > limits::kMaxNdim)
      fail(ErrorCode::kFormat, "tensor '" + t.name + "': bad kind, dtype or ndim");
    t.constant = kind == 1;
    t.dtype = DType(dtype);
    t.elements = 1;
    for (uint16_t d = 0; d < ndim; ++d) {
      int64_t dim = r.read<int64_t>("tensor dims");
      if (dim < 1 || dim > limits::kMaxDim)
        fail(ErrorCode::kResource, "tensor '" + t.name + "': dimension " + std::to_string(dim) + " out of range");
      t.shape.push_back(dim);
      t.elements *= dim;  // bounded: at most 2^31 * 2^24 before the check below fires
      if (t.elements > limits::kMaxElements)
        fail(ErrorCode::kResource, "tensor '" + t.name + "': shape has too many elements");
    }
    if (t.is_int8()) read_quantization(r, t);
    if (t.constant) {
      uint64_t offset = r.read<uint64_t>("tensor offset");
      uint64_t nbytes = r.read<uint64_t>("tensor size");
      if (offset % limits::kAlign != 0 || nbytes != uint64_t(t.elements) * dtype_bytes(t.dtype) ||
          offset > data_size || nbytes > data_size - offset)
        fail(ErrorCode::kFormat, "tensor '" + t.name +
                                     "': data is outside the data section, misaligned, or does not match its shape");
      t.raw = data + offset;
      if (t.dtype == DType::kFloat32) t.data = reinterpret_cast<const float*>(data + offset);
    }
  }
}

std::vector<int> read_tensor_ids(ByteReader& r, const Graph& g, const std::string& what) {
  uint16_t n = r.read<uint16_t>("tensor id count");
  if (n > limits::kMaxOpArity) fail(ErrorCode::kResource, what + ": too many tensors");
  std::vector<int> ids;
  for (uint16_t i = 0; i < n; ++i) {
    uint32_t id = r.read<uint32_t>("tensor id");
    if (id >= g.tensors.size()) fail(ErrorCode::kFormat, what + ": tensor index out of range");
    ids.push_back(int(id));
  }
  return ids;
}

void read_attribute(ByteReader& r, OpInfo& op) {
  std::string key = r.string("attribute key", limits::kMaxString);
  uint16_t n = r.read<uint16_t>("attribute length");
  if (n > limits::kMaxAttrValues) fail(ErrorCode::kResource, "op '" + op.name + "': attribute too long");
  std::vector<int64_t> v(n);
  for (auto& x : v) x = r.read<int64_t>("attribute value");
  apply_attribute(op, key, v);
}

void read_ops(ByteReader& r, Graph& g) {
  uint32_t n = r.count("ops", limits::kMaxOps);
  if (uint64_t(n) * 14 > r.remaining())  // an op record takes at least 14 bytes
    fail(ErrorCode::kFormat, std::to_string(n) + " ops declared but the graph section is too short for them");
  g.ops.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    OpInfo& op = g.ops[i];
    uint16_t code = r.read<uint16_t>("op type");
    uint8_t act = r.read<uint8_t>("op activation");
    uint8_t reserved = r.read<uint8_t>("op reserved");
    op.name = r.string("op name", limits::kMaxString);
    if (code < 1 || code > kLastOpType)
      fail(ErrorCode::kUnsupported, "op '" + op.name + "' (#" + std::to_string(i) + "): unknown op type code " +
                                        std::to_string(code));
    if (act > kLastActivation) fail(ErrorCode::kFormat, "op '" + op.name + "': unknown activation code " + std::to_string(act));
    if (reserved != 0) fail(ErrorCode::kFormat, "op '" + op.name + "': reserved byte is " + std::to_string(reserved) + ", not 0");
    op.type = OpType(code);
    op.activation = Activation(act);
    op.inputs = read_tensor_ids(r, g, "op '" + op.name + "' inputs");
    op.outputs = read_tensor_ids(r, g, "op '" + op.name + "' outputs");
    uint16_t attrs = r.read<uint16_t>("attribute count");
    if (attrs > limits::kMaxAttrs) fail(ErrorCode::kResource, "op '" + op.name + "': too many attributes");
    for (uint16_t a = 0; a < attrs; ++a) read_attribute(r, op);
  }
}

int read_single_io(ByteReader& r, const Graph& g, const char* what) {
  uint32_t n = r.count(what, limits::kMaxOpArity);
  if (n != 1) fail(ErrorCode::kUnsupported, std::string("a graph must have exactly one ") + what);
  uint32_t id = r.read<uint32_t>(what);
  if (id >= g.tensors.size()) fail(ErrorCode::kFormat, std::string(what) + ": tensor index out of range");
  return int(id);
}

// The graph outputs: a count (1 .. 16), then a tensor index each. That each is an op's
// output, listed once, is checked with the graph (validate_graph).
std::vector<int> read_outputs(ByteReader& r, const Graph& g) {
  uint32_t n = r.count("graph output", limits::kMaxGraphOutputs);
  if (n == 0) fail(ErrorCode::kGraph, "a graph must have at least one output (the graph output count is 0)");
  std::vector<int> outputs;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t id = r.read<uint32_t>("graph output");
    if (id >= g.tensors.size()) fail(ErrorCode::kFormat, "graph output: tensor index out of range");
    outputs.push_back(int(id));
  }
  return outputs;
}

}  // namespace

// The bytes go in an anonymous mapping rather than the heap: page-aligned (the format needs
// 64), and given back to the system whole when the model goes (a freed malloc block of this
// size may stay in the process's heap).
ModelFile::ModelFile(size_t size) : size_(size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    fail(ErrorCode::kResource, "cannot allocate " + std::to_string(size) + " bytes for the model: " + std::strerror(errno));
  storage_ = static_cast<uint8_t*>(p);
  bytes_ = storage_;
}

ModelFile::~ModelFile() {
  if (storage_ != nullptr) munmap(storage_, size_);
}

std::shared_ptr<ModelFile> ModelFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; regular files
  // ignore the flag, and anything else is refused below.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) fail(ErrorCode::kIo, "cannot open '" + path + "': " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) fail(ErrorCode::kIo, "cannot stat '" + path + "': " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    fail(ErrorCode::kIo, "'" + path + "' is not a regular file (a FIFO, socket, device or directory cannot hold a model)");
  if (st.st_size == 0) fail(ErrorCode::kFormat, "'" + path + "' is empty");
  if (uint64_t(st.st_size) > uint64_t(SIZE_MAX))
    fail(ErrorCode::kResource, "'" + path + "' is too large for this platform's address space");
  // A private copy, not a mapping of the file: see model_file.h.
  std::shared_ptr<ModelFile> f(new ModelFile(size_t(st.st_size)));
  for (size_t done = 0; done < f->size_;) {
    const ssize_t n = ::read(fd, f->storage_ + done, f->size_ - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(ErrorCode::kIo, "cannot read '" + path + "': " + std::strerror(errno));
    if (n == 0)
      fail(ErrorCode::kIo, "'" + path + "' shrank from " + std::to_string(f->size_) + " to " + std::to_string(done) +
                               " bytes while it was read");
    done += size_t(n);
  }
  f->parse();
  return f;
}

std::shared_ptr<ModelFile> ModelFile::from_memory(const void* data, size_t size) {
  if (data == nullptr || size == 0) fail(ErrorCode::kFormat, "model data too small (0 bytes) to hold the header");
  // A private copy: the caller's buffer may be freed, changed or unaligned.
  std::shared_ptr<ModelFile> f(new ModelFile(size));
  std::memcpy(f->storage_, data, size);
  f->parse();
  return f;
}

std::shared_ptr<ModelFile> ModelFile::borrow(const void* data, size_t size) {
  if (data == nullptr || size == 0) fail(ErrorCode::kFormat, "model data too small (0 bytes) to hold the header");
  std::shared_ptr<ModelFile> f(new ModelFile());
  f->bytes_ = static_cast<const uint8_t*>(data);
  f->size_ = size;
  f->parse();
  return f;
}

void ModelFile::parse() {
  Header h = check_header(bytes_, size_);
  ByteReader r(bytes_ + h.graph_offset, h.graph_size);
  read_metadata(r, graph_.metadata);
  read_tensors(r, graph_, bytes_ + h.data_offset, h.data_size, h.version);
  read_ops(r, graph_);
  graph_.input = read_single_io(r, graph_, "graph input");
  graph_.outputs = read_outputs(r, graph_);
  graph_.output = graph_.outputs[0];
  if (r.remaining() != 0) fail(ErrorCode::kFormat, "unexpected bytes at the end of the graph section");
  validate_model(graph_);
}

}  // namespace attocore
