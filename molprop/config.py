"""How a typed config (a dataclass) is built from a plain dict, for every config group.

The dataclasses themselves live with the code that uses them:
:class:`molprop.chem.config.ConformerConfig` (``conformers``) and
:mod:`molprop.data.config` (``data``, ``graph``, ``bagging``). Their field defaults are
the only defaults; ``conf/<group>/default.yaml`` documents the same values and
``tests/test_config_typed.py`` checks that the two agree. No Hydra here: plain dicts in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from molprop.exceptions import InputError

T = TypeVar("T")


def from_mapping(
    cls: type[T],
    values: Mapping[str, Any] | None,
    group: str,
    renamed: Mapping[str, str] | None = None,
) -> T:
    """Build dataclass ``cls`` from the settings of config group ``group``.

    Args:
        cls: A dataclass whose fields are the group's keys (validation in ``__post_init__``).
        values: The group's settings; missing keys take the field defaults.
        group: Name of the group, used in error messages (``conformers``, ``data``, ...).
        renamed: Former key names and their current ones (``{"num_conformers":
            "pool_size"}``), so configs of earlier runs still load.

    Raises:
        InputError: For a key that is not a field of ``cls``, naming it and the known keys,
            or a former key given together with its current name.
    """
    if values is not None and not isinstance(values, Mapping):
        raise InputError(
            f"{group}: received {type(values).__name__} {values!r}; expected a mapping of settings"
        )
    kwargs = dict(values or {})
    for old, new in (renamed or {}).items():
        if old in kwargs and new in kwargs:
            raise InputError(
                f"{group}.{old}: renamed to {group}.{new}; received both, expected only {new}"
            )
        if old in kwargs:
            kwargs[new] = kwargs.pop(old)
    known = [f.name for f in dataclasses.fields(cls)]
    for key in kwargs:
        if key not in known:
            raise InputError(f"{group}.{key}: unknown setting; expected one of {', '.join(known)}")
    return cls(**kwargs)


def check_int(
    group: str, name: str, value: Any, minimum: int | None = None, optional: bool = False
) -> int | None:
    """``value`` as an int (``>= minimum`` when given; ``None`` allowed when ``optional``).

    Raises:
        InputError: Naming ``<group>.<name>``, the value received and what was expected.
    """
    if value is None and optional:
        return None
    expected = "an integer" + ("" if minimum is None else f" >= {minimum}")
    expected += " or null" if optional else ""
    is_int = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not is_int or value != int(value) or (minimum is not None and value < minimum):
        raise InputError(f"{group}.{name}: received {value!r}; expected {expected}")
    return int(value)


def check_number(
    group: str,
    name: str,
    value: Any,
    low: float,
    high: float = float("inf"),
    optional: bool = False,
) -> float | None:
    """``value`` as a float in ``[low, high]`` (``None`` allowed when ``optional``).

    Raises:
        InputError: Naming ``<group>.<name>``, the value received and what was expected.
    """
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        bound = (
            f"a number >= {low:g}" if high == float("inf") else f"a number in [{low:g}, {high:g}]"
        )
        raise InputError(
            f"{group}.{name}: received {value!r}; expected {bound}"
            + (" or null" if optional else "")
        )
    return float(value)


def check_choice(group: str, name: str, value: Any, choices: Sequence[str]) -> str:
    """``value`` lower-cased, which must be one of ``choices``.

    Raises:
        InputError: Naming ``<group>.<name>``, the value received and the choices.
    """
    text = str(value).lower()
    if not isinstance(value, str) or text not in choices:
        raise InputError(f"{group}.{name}: received {value!r}; expected one of {tuple(choices)}")
    return text


def as_dict(config: Any) -> dict[str, Any]:
    """Return the settings of a typed config as a plain, JSON-able dict (lists, not tuples)."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(config).items()
    }


def coerce(cls: type[T], value: Any) -> T:
    """``value`` itself when it already is a ``cls``, else ``cls.from_dict(value)``."""
    return value if isinstance(value, cls) else cls.from_dict(value)
