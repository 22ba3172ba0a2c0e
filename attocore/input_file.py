"""Reading a file the user named without blocking: opening a FIFO for reading waits for a
writer, so anything but a regular file is refused before any byte is read (as the C++
loader and attocore-run do)."""
from __future__ import annotations

import os
import stat


def open_regular_file(path, what: str, error=OSError):
    """`path` opened for binary reading if it is a regular file; otherwise `error` (an
    exception class) saying so, `what` naming the role ("image", "plan file", ...).
    O_NONBLOCK lets open() return at once on a FIFO (regular files ignore it), and the check
    is on the opened descriptor, so the path cannot be swapped in between."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"'{os.fsdecode(path)}' is not a regular file (a FIFO, socket, device or directory "
                        f"cannot be read as the {what})")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
