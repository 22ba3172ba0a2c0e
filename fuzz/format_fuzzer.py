"""atheris target: the Python reader and writer (attocore.format).

Any exception other than attocore's own error classes is a bug; a file that loads must
re-encode to bytes that load to the same graph.

    python fuzz/format_fuzzer.py fuzz/corpus -max_total_time=60
"""
import sys

import atheris

with atheris.instrument_imports():
    from attocore import format as fmt
    from attocore.errors import AttocoreError


def with_valid_checksum(data: bytes) -> bytes:
    """For inputs ending in an odd byte, rewrite the checksum so the parser behind it is
    explored (the others keep the checksum check covered)."""
    if len(data) < fmt.HEADER_SIZE or not data[-1] & 1:
        return data
    buf = bytearray(data)
    buf[fmt.CRC_OFFSET:fmt.CRC_OFFSET + 4] = b"\0\0\0\0"
    buf[fmt.CRC_OFFSET:fmt.CRC_OFFSET + 4] = fmt.checksum(buf).to_bytes(4, "little")
    return bytes(buf)


def test_one_input(data: bytes) -> None:
    data = with_valid_checksum(data)
    try:
        graph = fmt.decode(data)
    except AttocoreError:
        return
    again = fmt.encode(graph)
    graph2 = fmt.decode(again)
    assert list(graph2.tensors) == list(graph.tensors) and len(graph2.ops) == len(graph.ops)
    assert fmt.encode(graph2) == again


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
