"""Writing a file the user named: refused before any work if the path cannot be one, and
written atomically, so a failure leaves neither a partial file nor a temporary one behind."""
from __future__ import annotations

import os
import secrets


def check_output_path(path, example: str = "model.atto") -> str:
    """The path a file will be written to, refused (OSError) before any work is done if it is a
    directory, an existing FIFO, socket or device, or its directory does not exist."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"output '{os.fsdecode(path)}' is a directory: give a file name such as "
                                f"'{os.path.join(os.fsdecode(path), example)}'")
    if os.path.exists(path) and not os.path.isfile(path):
        # The atomic write would replace the node itself (as root, even /dev/null), and a FIFO
        # would take the file only after all the work.
        raise OSError(f"output '{os.fsdecode(path)}' exists and is not a regular file (a FIFO, socket or device): "
                      f"give a file name such as '{example}'")
    parent = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"output directory '{os.fsdecode(parent)}' does not exist")
    return path


def write_atomically(path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, renamed over it only once complete (a full
    disk or an interrupt leaves nothing behind)."""
    directory, base = os.path.split(os.fsdecode(path))
    # O_EXCL on a random name, as mkstemp does, but with the mode open() would give (umask applied).
    tmp = os.path.join(directory or ".", f".{base}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
