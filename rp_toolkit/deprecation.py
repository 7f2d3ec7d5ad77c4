"""Old names that still work: a renamed parameter keeps its old name for a while, with a
:class:`~rp_toolkit.exceptions.RenamedParameterWarning` saying what to write instead."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from .exceptions import InvalidArgumentError, RenamedParameterWarning

F = TypeVar("F", bound=Callable[..., Any])


def renamed_parameter(old: str, new: str) -> Callable[[F], F]:
    """Let callers still pass ``new`` as ``old=`` (warning each time); both at once is an
    :class:`~rp_toolkit.exceptions.InvalidArgumentError`."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if old in kwargs:
                if new in kwargs:
                    raise InvalidArgumentError(
                        f"{function.__name__}() got both {new}= and its old name {old}=; "
                        f"pass {new}= only."
                    )
                warnings.warn(
                    f"{function.__name__}({old}=...) is deprecated: the parameter is now "
                    f"called {new!r} ({function.__name__}({new}=...)).",
                    RenamedParameterWarning,
                    stacklevel=2,
                )
                kwargs = {(new if name == old else name): value for name, value in kwargs.items()}
            return function(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate
