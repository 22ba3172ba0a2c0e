"""attocore.capi, the documented name of the cffi binding of the C API
(attocore.backends.capi).

A package, not a module file, so that attocore/capi.py stays free: git pairs the old file
with its new home by rename detection only if the old path is gone.
"""
from ..backends.capi import CDEF, CModel, ffi, isa, lib, library_path, load, version

__all__ = ["CDEF", "CModel", "ffi", "isa", "lib", "library_path", "load", "version"]
