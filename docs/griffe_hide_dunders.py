"""Griffe extension for the API reference: leave out special methods (``__repr__``,
``__str__``, ``__eq__``, ...) that only implement Python protocols.

The reference uses ``filters: public`` so that a page documents exactly a module's
``__all__`` (the re-exported names included); that filter keeps every special method,
which would bury the API in two dozen ``__str__``. ``__init__`` (merged into the class
signature) and ``__call__`` (a callable's real signature) stay.
"""

from __future__ import annotations

import ast
import re
from typing import Any

import griffe

KEEP = frozenset({"__init__", "__call__"})
DUNDER = re.compile(r"^__\w+__$")


class HideDunders(griffe.Extension):
    def on_class_members(
        self, *, node: ast.AST | griffe.ObjectNode, cls: griffe.Class, agent: Any, **kwargs: Any
    ) -> None:
        for name in [n for n in cls.members if DUNDER.match(n) and n not in KEEP]:
            del cls.members[name]
