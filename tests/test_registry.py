"""The registries: detectors run in an order derived from the facts they provide and need; expanders by kind."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from scanner.containers import available as expanders
from scanner.detectors import BUILTIN, available, run_order
from scanner.errors import ConfigError
from scanner.formats import FORMATS


@dataclass
class _Fake:  # a detector factory's declarations only (the order never builds one)
    id: str
    provides: frozenset[str] = frozenset()
    needs: frozenset[str] = frozenset()
    rules: tuple[str, ...] = ()


def test_builtin_order_puts_the_scene_provider_before_the_text_detector() -> None:
    ids = [f.id for f in available()]
    assert ids.index("visual") < ids.index("text")
    assert [f.id for f in BUILTIN].index("text") < [f.id for f in BUILTIN].index("visual"), \
        "precondition: the order is derived, not the list position"


def test_order_is_stable_and_derived() -> None:
    a, b, c = _Fake("a", needs=frozenset({"scenes"})), _Fake("b"), _Fake("c", provides=frozenset({"scenes"}))
    assert [f.id for f in run_order([a, b, c])] == ["b", "c", "a"]  # type: ignore[list-item]


@pytest.mark.parametrize("factories", [
    [_Fake("a", needs=frozenset({"scenes"}), provides=frozenset({"text_present"})),
     _Fake("b", needs=frozenset({"text_present"}), provides=frozenset({"scenes"}))],
    [_Fake("a", needs=frozenset({"no_such_fact"}))],
])
def test_cycles_and_unknown_facts_are_config_errors(factories: list[_Fake]) -> None:
    with pytest.raises(ConfigError):
        run_order(factories)  # type: ignore[arg-type]


def test_every_container_kind_has_one_expander_and_every_format_is_handled_or_known() -> None:
    kinds = [k for f in expanders() for k in f.kinds]
    assert len(kinds) == len(set(kinds))
    for fmt in FORMATS:
        assert fmt.family in ("image", "video", "sidecar") or fmt.mime in kinds, fmt.mime
