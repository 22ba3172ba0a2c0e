"""Weight format v1 and v2: writer and reader (numpy). The layout is specified in docs/FORMAT.md.

The C++ loader (csrc/format/) reads the same bytes; both check every field, in the same order
and with the same error classes (csrc/format/validate.h; tests/test_differential.py).
"""
from __future__ import annotations

import mmap
import os
import stat
import struct
import zlib

import numpy as np

from .output_file import check_output_path, write_atomically
from .errors import FormatError, GraphError, ResourceLimitError, UnsupportedOpError
from .graph import (ACTIVATION_CODES, ACTIVATION_NAMES, DTYPE_CODES, DTYPE_NAMES, DTYPES, MAX_ATTR_VALUE, OP_CODES,
                    OP_NAMES, DeferredConstant, Graph, Metadata, Op, Tensor, check_attribute, validate)

MAGIC = b"ATTOCORE"
VERSION = 2  # v2 adds int8 / int32 tensors and their quantization records
OLDEST_VERSION = 1  # a file with float32 tensors only is still written as v1
HEADER_SIZE = 64
ALIGN = 64  # tensor data alignment, for zero-copy mmap and aligned vector loads
CRC_OFFSET = 56

# Bounds shared with the C++ loader: a file may not declare more than these.
MAX_STRING = 4096
MAX_TENSORS = 1 << 16
MAX_OPS = 1 << 16
MAX_NDIM = 6
MAX_DIM = 1 << 24
MAX_ELEMENTS = 1 << 31
MAX_LABELS = 1 << 16
MAX_EXTRA = 256
MAX_OP_ARITY = 16
MAX_ATTRS = 16
MAX_ATTR_VALUES = 16

KIND_ACTIVATION, KIND_CONSTANT = 0, 1
DTYPE_F32 = 1


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


class _Writer:
    def __init__(self):
        self.parts = []

    def u8(self, v): self.parts.append(struct.pack("<B", v))
    def u16(self, v): self.parts.append(struct.pack("<H", v))
    def u32(self, v): self.parts.append(struct.pack("<I", v))
    def u64(self, v): self.parts.append(struct.pack("<Q", v))
    def i64(self, v): self.parts.append(struct.pack("<q", v))
    def f32(self, v): self.parts.append(struct.pack("<f", v))

    def string(self, s: str):
        b = s.encode("utf-8")
        if len(b) > MAX_STRING:
            raise FormatError(f"string too long ({len(b)} bytes): {s[:40]!r}...")
        self.u32(len(b))
        self.parts.append(b)

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def encode(graph: Graph) -> bytes:
    """Serialise a graph without semantic checks (save() validates first).

    Kept separate so tests can write deliberately inconsistent graphs and check that the
    readers refuse them.
    """
    w = _Writer()
    md = graph.metadata
    w.string(md.name)
    for d in md.input_shape:
        w.u32(d)
    w.u32(len(md.mean))
    for v in md.mean:
        w.f32(v)
    for v in md.std:
        w.f32(v)
    w.u32(md.resize)
    w.u32(len(md.labels))
    for label in md.labels:
        w.string(label)
    w.u32(len(md.extra))
    for k, v in md.extra.items():
        w.string(k)
        w.string(str(v))

    names = list(graph.tensors)
    index = {n: i for i, n in enumerate(names)}
    blobs, data_size = [], 0
    version = file_version(graph)
    w.u32(len(names))
    for name in names:
        t = graph.tensors[name]
        w.string(name)
        w.u8(KIND_CONSTANT if t.is_constant else KIND_ACTIVATION)
        w.u8(DTYPE_CODES.get(t.dtype, 0))
        w.u16(len(t.shape))
        for d in t.shape:
            w.i64(d)
        if t.dtype == "int8":
            w.u32(len(t.scales))
            for v in t.scales:
                w.f32(v)
            w.parts.append(struct.pack("<i", t.zero_point))
        if t.is_constant:
            raw = np.ascontiguousarray(t.data, dtype=np.dtype(DTYPES[t.dtype]).newbyteorder("<")).tobytes()
            w.u64(data_size)
            w.u64(len(raw))
            blobs.append((data_size, raw))
            data_size = _align(data_size + len(raw))

    def tensor_ids(names_):
        w.u16(len(names_))
        for n in names_:
            if n not in index:
                raise FormatError(f"tensor '{n}' is used but not declared")
            w.u32(index[n])

    w.u32(len(graph.ops))
    for op in graph.ops:
        if op.type not in OP_CODES:
            raise UnsupportedOpError(f"op '{op.name}': unknown op type '{op.type}'")
        w.u16(OP_CODES[op.type])
        w.u8(ACTIVATION_CODES[op.activation])
        w.u8(0)
        w.string(op.name)
        tensor_ids(op.inputs)
        tensor_ids(op.outputs)
        w.u16(len(op.attrs))
        for key, vals in op.attrs.items():
            w.string(key)
            w.u16(len(vals))
            for v in vals:
                w.i64(v)
    w.u32(len(graph.inputs))
    for n in graph.inputs:
        w.u32(index[n])
    w.u32(len(graph.outputs))
    for n in graph.outputs:
        w.u32(index[n])
    section = w.bytes()

    graph_offset = HEADER_SIZE
    data_offset = _align(graph_offset + len(section))
    file_size = data_offset + data_size
    buf = bytearray(file_size)
    buf[graph_offset:graph_offset + len(section)] = section
    for off, raw in blobs:
        buf[data_offset + off:data_offset + off + len(raw)] = raw
    struct.pack_into("<8sIIQQQQQII", buf, 0, MAGIC, version, HEADER_SIZE, file_size, graph_offset,
                     len(section), data_offset, data_size, 0, 0)
    struct.pack_into("<I", buf, CRC_OFFSET, checksum(buf))
    return bytes(buf)


def file_version(graph: Graph) -> int:
    """1 for a float32-only graph (readers older than v2 still read it), 2 otherwise."""
    return OLDEST_VERSION if all(t.dtype == "float32" for t in graph.tensors.values()) else VERSION


def checksum(buf) -> int:
    """CRC-32 (zlib) of the whole file with the checksum field itself read as zero."""
    crc = zlib.crc32(memoryview(buf)[:CRC_OFFSET])
    crc = zlib.crc32(b"\0\0\0\0", crc)
    return zlib.crc32(memoryview(buf)[CRC_OFFSET + 4:], crc) & 0xFFFFFFFF


def save(graph: Graph, path) -> None:
    """Write the weight file atomically: to a temporary file beside it, renamed over `path`
    only once complete, so a failure (a full disk, an interrupt) leaves neither a partial file
    nor the temporary one behind."""
    path = check_output_path(path)
    validate(graph)
    data = encode(graph)
    write_atomically(path, data)


class _Reader:
    def __init__(self, buf, start: int, end: int):
        self.buf, self.pos, self.end = buf, start, end

    def take(self, n: int, what: str):
        if n < 0 or self.pos + n > self.end:
            raise FormatError(f"graph section truncated while reading {what} at byte {self.pos}")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt: str, what: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt), what))[0]

    def u8(self, what): return self.unpack("<B", what)
    def u16(self, what): return self.unpack("<H", what)
    def u32(self, what): return self.unpack("<I", what)
    def u64(self, what): return self.unpack("<Q", what)
    def i64(self, what): return self.unpack("<q", what)
    def f32(self, what): return self.unpack("<f", what)

    def count(self, what: str, limit: int) -> int:
        n = self.u32(what)
        if n > limit:
            raise ResourceLimitError(f"{what} count {n} exceeds the limit {limit}")
        return n

    def remaining(self) -> int:
        return self.end - self.pos

    def string(self, what: str) -> str:
        n = self.u32(what)
        if n > MAX_STRING:
            raise ResourceLimitError(f"{what}: string length {n} exceeds the limit {MAX_STRING}")
        raw = bytes(self.take(n, what))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is None or "\0" in text:  # the C API hands strings out as C strings
            raise FormatError(f"{what}: not valid UTF-8 (or holds a NUL byte)")
        return text


def decode(buf, deferred=None) -> Graph:
    """Parse and fully validate a weight file held in a bytes-like object.

    Constant tensors are numpy views into buf (zero copy). With deferred (a callable
    name -> array), they hold no data and keep no reference to buf: each calls deferred on
    first use of its .data (graph.DeferredConstant).
    """
    size = len(buf)
    if size < HEADER_SIZE:
        raise FormatError(f"file too small ({size} bytes) to hold the {HEADER_SIZE}-byte header")
    magic, version, header_size, file_size, g_off, g_size, d_off, d_size, crc, reserved = struct.unpack_from(
        "<8sIIQQQQQII", buf, 0)
    if magic != MAGIC:
        raise FormatError(f"not an attocore weight file (magic {bytes(magic)!r}, expected {MAGIC!r})")
    if not OLDEST_VERSION <= version <= VERSION:
        raise FormatError(f"unsupported format version {version} (this reader handles {OLDEST_VERSION} to {VERSION})")
    if header_size != HEADER_SIZE:
        raise FormatError(f"bad header size {header_size}")
    if file_size != size:
        raise FormatError(f"file is {size} bytes but its header declares {file_size} (truncated?)")
    if g_off != HEADER_SIZE or g_off + g_size > size:
        raise FormatError(f"graph section [{g_off}, +{g_size}) lies outside the file")
    if d_off % ALIGN or d_off < g_off + g_size or d_off + d_size != size:
        raise FormatError(f"data section [{d_off}, +{d_size}) is misplaced or misaligned")
    if checksum(buf) != crc:
        raise FormatError("checksum mismatch: the file is corrupted")
    if reserved != 0:
        raise FormatError(f"header: reserved field is {reserved}, not 0")

    r = _Reader(buf, g_off, g_off + g_size)
    md = Metadata()
    md.name = r.string("model name")
    md.input_shape = ()
    for _ in range(3):
        md.input_shape += (r.u32("input shape"),)
        if not 1 <= md.input_shape[-1] <= MAX_DIM:
            raise FormatError(f"bad input shape {md.input_shape}")
    n_norm = r.count("normalisation", MAX_DIM)
    if n_norm != md.input_shape[0]:
        raise FormatError(f"{n_norm} mean/std values for {md.input_shape[0]} input channels")
    md.mean = tuple(r.f32("mean") for _ in range(n_norm))
    md.std = tuple(r.f32("std") for _ in range(n_norm))
    if not all(np.isfinite(s) and s > 0 for s in md.std) or not all(np.isfinite(m) for m in md.mean):
        raise FormatError("normalisation std must be finite and positive, mean finite")
    md.resize = r.u32("resize")
    n_labels = r.count("labels", MAX_LABELS)
    if n_labels * 4 > r.remaining():
        raise FormatError(f"{n_labels} labels declared but the graph section is too short for them")
    md.labels = tuple(r.string("label") for _ in range(n_labels))
    md.extra = {}
    for _ in range(r.count("metadata entries", MAX_EXTRA)):
        k = r.string("metadata key")
        v = r.string("metadata value")
        if k in md.extra:
            raise FormatError(f"metadata key '{k}' appears twice")
        md.extra[k] = v

    tensors, names = {}, []
    n_tensors = r.count("tensors", MAX_TENSORS)
    if n_tensors * 16 > r.remaining():  # a tensor record takes at least 16 bytes
        raise FormatError(f"{n_tensors} tensors declared but the graph section is too short for them")
    for i in range(n_tensors):
        name = r.string(f"tensor #{i} name")
        if name in tensors:
            raise FormatError(f"tensor name '{name}' appears twice")
        kind = r.u8("tensor kind")
        dtype = r.u8("tensor dtype")
        ndim = r.u16("tensor ndim")
        # Version 1 knows float32 only; int32 tensors are constants (int8 layers' biases).
        last_dtype = 3 if version >= 2 else 1
        if (kind not in (KIND_ACTIVATION, KIND_CONSTANT) or not 1 <= dtype <= last_dtype
                or (dtype == 3 and kind != KIND_CONSTANT) or not 1 <= ndim <= MAX_NDIM):
            raise FormatError(f"tensor '{name}': bad kind {kind}, dtype {dtype} or ndim {ndim}")
        dtype_name = DTYPE_NAMES[dtype]
        shape, count = (), 1
        for _ in range(ndim):
            d = r.i64("tensor dims")
            if not 1 <= d <= MAX_DIM:
                raise ResourceLimitError(f"tensor '{name}': dimension {d} out of range")
            shape += (d,)
            count *= d
            if count > MAX_ELEMENTS:
                raise ResourceLimitError(f"tensor '{name}': shape {shape} has too many elements")
        scales, zero_point = (), 0
        if dtype_name == "int8":
            scales, zero_point = _read_quantization(r, name, shape, kind == KIND_CONSTANT)
        data = None
        np_dtype = np.dtype(DTYPES[dtype_name]).newbyteorder("<")
        if kind == KIND_CONSTANT:
            off, nbytes = r.u64("tensor offset"), r.u64("tensor size")
            if off % ALIGN or nbytes != np_dtype.itemsize * count or off + nbytes > d_size:
                raise FormatError(f"tensor '{name}': data [{off}, +{nbytes}) is outside the data "
                                  f"section, misaligned, or does not match shape {shape}")
            if deferred is None:
                data = np.frombuffer(buf, dtype=np_dtype, count=count, offset=d_off + off).reshape(shape)
        tensors[name] = (DeferredConstant(name, shape, deferred, dtype_name, scales, zero_point)
                         if kind == KIND_CONSTANT and deferred is not None
                         else Tensor(name, shape, data, dtype_name, scales, zero_point))
        names.append(name)

    def tensor_ids(what):
        n = r.u16(what)
        if n > MAX_OP_ARITY:
            raise ResourceLimitError(f"{what}: {n} tensors exceeds the limit {MAX_OP_ARITY}")
        out = []
        for _ in range(n):
            i = r.u32(what)
            if i >= len(names):
                raise FormatError(f"{what}: tensor index {i} out of range")
            out.append(names[i])
        return out

    ops = []
    n_ops = r.count("ops", MAX_OPS)
    if n_ops * 14 > r.remaining():  # an op record takes at least 14 bytes
        raise FormatError(f"{n_ops} ops declared but the graph section is too short for them")
    for i in range(n_ops):
        code = r.u16("op type")
        act = r.u8("op activation")
        reserved = r.u8("op reserved")
        name = r.string(f"op #{i} name")
        if code not in OP_NAMES:
            raise UnsupportedOpError(f"op '{name}' (#{i}): unknown op type code {code}")
        if act not in ACTIVATION_NAMES:
            raise FormatError(f"op '{name}': unknown activation code {act}")
        if reserved != 0:
            raise FormatError(f"op '{name}': reserved byte is {reserved}, not 0")
        op = Op(OP_NAMES[code], name, [], [], {}, ACTIVATION_NAMES[act])
        op.inputs = tensor_ids(f"op '{name}' inputs")
        op.outputs = tensor_ids(f"op '{name}' outputs")
        n_attrs = r.u16("attribute count")
        if n_attrs > MAX_ATTRS:
            raise ResourceLimitError(f"op '{name}': {n_attrs} attributes exceeds the limit")
        for _ in range(n_attrs):
            key = r.string("attribute key")
            n = r.u16("attribute length")
            if n > MAX_ATTR_VALUES:
                raise ResourceLimitError(f"op '{name}': attribute '{key}' too long")
            values = tuple(r.i64("attribute value") for _ in range(n))
            if key in op.attrs:
                raise GraphError(f"op '{name}' ({op.type}): attribute '{key}' appears twice")
            check_attribute(op, key, values)
            op.attrs[key] = values
        ops.append(op)
    g_inputs = [_single_io(r, names, "graph input")]
    g_outputs = _read_outputs(r, names)
    if r.pos != r.end:
        raise FormatError(f"{r.end - r.pos} unexpected bytes at the end of the graph section")
    graph = Graph(md, tensors, ops, g_inputs, g_outputs)
    validate(graph)
    return graph


def _read_quantization(r: _Reader, name: str, shape: tuple, constant: bool) -> tuple:
    """An int8 tensor's scales and zero point, checked as csrc/format/model_file.cpp does."""
    n = r.u32("scale count")
    per_channel = constant and n == shape[0] and n > 1
    if n != 1 and not per_channel:
        raise FormatError(f"tensor '{name}': {n} scales (give 1" +
                          (f", or one per output channel: {shape[0]}" if constant else "") + ")")
    if n * 4 > r.remaining():
        raise FormatError(f"tensor '{name}': scales past the section")
    scales = []
    for _ in range(n):
        s = r.f32("scale")
        if not (np.isfinite(s) and s > 0):
            raise FormatError(f"tensor '{name}': scale {s} is not finite and positive")
        scales.append(s)
    zp = r.unpack("<i", "zero point")
    if not -128 <= zp <= 127 or (constant and zp != 0):
        raise FormatError(f"tensor '{name}': zero point {zp}" +
                          (" (int8 weights are symmetric: 0)" if constant else " outside [-128, 127]"))
    return tuple(scales), zp


def _single_io(r: _Reader, names: list, what: str) -> str:
    if r.count(what, MAX_OP_ARITY) != 1:
        raise UnsupportedOpError(f"a graph must have exactly one {what}")
    i = r.u32(what)
    if i >= len(names):
        raise FormatError(f"{what}: tensor index {i} out of range")
    return names[i]


def _read_outputs(r: _Reader, names: list) -> list:
    """The graph outputs: a count (1 .. 16), then a tensor index each (docs/FORMAT.md); that
    each is computed by an op and appears once is checked with the graph (validate)."""
    n = r.count("graph output", MAX_OP_ARITY)
    if n == 0:
        raise GraphError("a graph must have at least one output (the graph output count is 0)")
    outputs = []
    for _ in range(n):
        i = r.u32("graph output")
        if i >= len(names):
            raise FormatError(f"graph output: tensor index {i} out of range")
        outputs.append(names[i])
    return outputs


def read_file(path) -> memoryview:
    """A weight file's bytes, copied into private anonymous memory (a read-only view of it).

    A copy rather than a mapping of the file, so rewriting or truncating the file later cannot
    change or crash what was read from it (a mapped file's pages follow the file, and reading
    a truncated one raises SIGBUS); anonymous memory rather than a bytes object, so the copy
    goes back to the system whole when its last user drops it. Anything but a regular file is
    refused (OSError): opening a FIFO would wait for a writer.
    """
    # O_NONBLOCK lets open() return at once on a FIFO (refused below); regular files ignore it.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"'{os.fsdecode(path)}' is not a regular file "
                          f"(a FIFO, socket, device or directory cannot hold a model)")
        if st.st_size == 0:
            raise FormatError(f"'{os.fsdecode(path)}' is empty")  # the C++ loader's words
        mm = mmap.mmap(-1, st.st_size, flags=mmap.MAP_PRIVATE)
        view, done = memoryview(mm), 0
        try:
            while done < st.st_size:
                n = os.readv(fd, [view[done:]])
                if n == 0:
                    raise OSError(f"'{os.fsdecode(path)}' shrank from {st.st_size} to {done} bytes while it was read")
                done += n
        finally:
            view.release()
        return memoryview(mm).toreadonly()  # decode()'s arrays then are read-only too
    finally:
        os.close(fd)


def load(path) -> Graph:
    """Read a weight file; constants are zero-copy views of its private copy (read_file)."""
    return decode(read_file(path))
