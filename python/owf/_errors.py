"""owf.OWFError: every error the OWF library reports, as one exception type."""

from __future__ import annotations

import enum

from . import _owf

#: The library's stable error codes (spec/errors.md), e.g. ErrorCode.TENSOR_OVERLAP.
ErrorCode = enum.IntEnum("ErrorCode", {name.upper(): code for code, name in _owf.error_codes()})
ErrorCode.__doc__ = "The OWF library's stable error codes (spec/errors.md)."
ErrorCode.__module__ = "owf"


class OWFError(Exception):
    """An error reported by the OWF library.

    ``code`` is the library's stable error code (an :class:`ErrorCode`, or a
    plain int for a code this version does not know), ``code_name`` its
    snake_case name ("tensor_overlap") and ``message`` the library's message,
    which names what is wrong and where (tensor, field, byte offset).
    ``str(error)`` is ``"code_name: message"``.
    """

    def __init__(self, code: int, message: str) -> None:
        try:
            code = ErrorCode(code)
        except ValueError:
            pass
        self.code = code
        self.code_name = _owf.error_code_name(int(code))
        self.message = message
        super().__init__(f"{self.code_name}: {message}" if message else self.code_name)

    def __reduce__(self):
        return (type(self), (int(self.code), self.message))


OWFError.__module__ = "owf"
