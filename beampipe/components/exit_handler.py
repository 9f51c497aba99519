"""``tfx.orchestration.experimental.exit_handler`` and ``FinalStatusStr``: a component that
runs once every node of a run is done, whatever the outcome, and is told how the run ended.

    @tfx.orchestration.experimental.exit_handler
    def Notify(final_status: tfx.dsl.components.Parameter[str]):
        status = json.loads(final_status)   # {"state": "SUCCEEDED" | "FAILED", "error": {...}, ...}

    runner.set_exit_handler(Notify(final_status=tfx.orchestration.experimental.FinalStatusStr()))

``FinalStatusStr()`` is a marker value; the launcher replaces it, when the handler runs, with
the run's final status as JSON in the shape of KFP's ``PipelineTaskFinalStatus`` (what TFX
hands its exit handlers on Vertex), so ``json_format.Parse`` into that proto works. Exit
handlers are never cached (their input is a run's outcome) and take no input artifacts
(what they would read may never have been produced).
"""
from __future__ import annotations

from typing import Any, Callable

from beampipe.components.base import BaseComponent, WiringError
from beampipe.components.decorator import component

FINAL_STATUS_MARKER = "{{beampipe.final_status}}"


class FinalStatusStr(str):
    """The value to give the handler's ``Parameter[str]`` that receives the final status."""

    def __new__(cls, value: str = FINAL_STATUS_MARKER) -> "FinalStatusStr":
        return super().__new__(cls, value)


def exit_handler(func: Callable[..., Any]) -> type[BaseComponent]:
    """A component (as ``@component`` makes it) marked as an exit handler."""
    base = component(func)
    if base.INPUTS:
        raise WiringError(f"exit handler {func.__qualname__}: it takes parameters only, not input artifacts "
                          f"({sorted(base.INPUTS)}): it runs whether or not their producers succeeded")

    def __init__(self: BaseComponent, **kwargs: Any) -> None:
        base.__init__(self, **kwargs)
        self.enable_cache = False

    return type(func.__name__, (base,), {
        "EXIT_HANDLER": True, "__init__": __init__, "__module__": func.__module__,
        "__qualname__": func.__qualname__, "__doc__": func.__doc__})


def is_exit_handler(comp: Any) -> bool:
    return isinstance(comp, BaseComponent) and bool(getattr(type(comp), "EXIT_HANDLER", False))


def fill_final_status(exec_properties: dict[str, Any], status_json: str) -> dict[str, Any]:
    """The properties with every ``FinalStatusStr()`` replaced by the status."""
    return {k: status_json if v == FINAL_STATUS_MARKER else v for k, v in exec_properties.items()}
