"""Printing file names and messages safely: one name can never forge another line.

A file may be named ``$'bad\\nerror: forged.jpg: ...'``; printed raw, its second half looks
like a real error line. Everything ``str.isprintable()`` rejects (newlines, tabs, escape
sequences, bidi overrides, undecodable bytes) is escaped as ``repr`` writes it, the way
``ls -b`` shows names. JSON output needs none of this: its encoder escapes already.
"""

from __future__ import annotations

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(ch: str) -> str:
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable_text(text: str) -> str:
    """``text`` with every unprintable character escaped, so it stays on one line."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else _escape_char(ch) for ch in text)


def printable_path(path: object) -> str:
    """A path for a terminal line: backslashes doubled, unprintable characters escaped.

    Doubling backslashes keeps the escaping unambiguous: a name holding a real newline and
    one holding the two characters backslash and ``n`` print differently.
    """
    return printable_text(str(path).replace("\\", "\\\\"))
