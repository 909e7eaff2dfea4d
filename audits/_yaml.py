"""The spec's YAML reader: strict where plain YAML is surprising, bounded where it is costly.

* Booleans are YAML 1.2's ``true``/``false`` only: ``yes``, ``no``, ``on``, ``off`` (YAML 1.1
  booleans) stay the strings written, so a label ``yes`` is never read as ``True``. Boolean
  spec keys (``synthetic: yes``) still validate, as pydantic reads those words as booleans.
* A key written twice in one mapping is refused, naming the key and both lines.
* Aliases (``*name``) may repeat a value, but the document as expanded may hold at most
  :data:`MAX_NODES` values, and a recursive alias is refused (the "billion laughs" attack).
* The file may hold at most :data:`MAX_BYTES` bytes.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MAX_BYTES", "MAX_NODES", "YamlRefusedError", "load_yaml", "read_bounded"]

#: Largest spec file read.
MAX_BYTES = 1 << 20
#: Most values (scalars, lists, mappings) in the document once every alias is expanded.
MAX_NODES = 100_000

_BOOL_TAG = "tag:yaml.org,2002:bool"
_MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlRefusedError(ValueError):
    """The YAML text is valid YAML but not accepted as a spec (one readable sentence)."""


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core booleans and duplicate keys refused."""

    def construct_mapping(self, node: Node, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:  # an unhashable key: SafeLoader reports it
                    continue
                if first is None:
                    seen[key] = line
                else:
                    raise YamlRefusedError(
                        f"the key {key!r} appears twice in one mapping (lines {first} and "
                        f"{line}): YAML would silently keep only the last value. Remove one."
                    )
        return super().construct_mapping(node, deep=deep)


# YAML 1.2 core schema booleans replace YAML 1.1's (yes/no/on/off/y/n).
_SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_SpecLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def read_bounded(path: str | Path, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of the regular file at ``path``, refused past ``max_bytes``.

    A pipe, a device (``/dev/zero``) or a folder is refused before it is opened: reading one
    would block or never end.

    Raises
    ------
    OSError
        When the file does not exist or cannot be read.
    YamlRefusedError
        When it is not a regular file or holds more than ``max_bytes`` bytes.
    """
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a pipe, socket or device"
        raise YamlRefusedError(f"{str(path)!r} is {kind}, not a regular file.")
    with open(path, "rb") as handle:
        raw = handle.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise YamlRefusedError(f"{str(path)!r} holds more than the {max_bytes:,} bytes allowed.")
    return raw


def _expanded_size(root: Node, limit: int) -> int:
    """How many nodes the document holds with every alias expanded (stops past ``limit``)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlRefusedError(
                "the spec holds a recursive alias (a value that contains itself)."
            )
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children: list[Node] = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > limit:
                raise YamlRefusedError(
                    f"the spec expands to more than {limit:,} values (aliases repeat values "
                    "many times over): refused to bound memory. Write the values out, or "
                    "use fewer aliases."
                )
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def load_yaml(text: str | bytes, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> Any:
    """Read one YAML document as a spec is read.

    Raises
    ------
    YamlRefusedError
        Too large, too many values once expanded, a recursive alias, or a duplicate key.
    yaml.YAMLError
        Not valid YAML.
    """
    size = len(text.encode("utf-8") if isinstance(text, str) else text)
    if size > max_bytes:
        raise YamlRefusedError(
            f"the spec file holds {size:,} bytes, more than the {max_bytes:,} a spec may hold."
        )
    loader = _SpecLoader(text)
    try:  # reading, counting and building are recursive: a deep nesting is refused
        root = loader.get_single_node()
        if root is None:
            return None
        _expanded_size(root, max_nodes)
        return loader.construct_document(root)
    except RecursionError as err:
        raise YamlRefusedError("the spec is nested too deeply to be a spec.") from err
    finally:
        loader.dispose()
