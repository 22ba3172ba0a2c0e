"""Apache TVM, imported on first use: importing attocore never needs it."""
from __future__ import annotations

import os


def load_tvm():
    """(tvm, tvm.relax), or an ImportError saying how to install them."""
    os.environ.setdefault("TVM_NUM_THREADS", str(os.cpu_count() or 1))
    try:
        import tvm
        from tvm import relax
    except ImportError as e:
        raise ImportError('backend="tvm" needs Apache TVM: pip install "attocore[tvm]"') from e
    return tvm, relax
