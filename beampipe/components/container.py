"""Container components (``tfx.dsl.experimental.create_container_component``): a command line
in an image, with placeholders for artifact URIs and parameters.

The node still goes through beampipe's launcher: inputs resolved from MLMD, the cache check,
staging, publish. Only the executor differs: it renders the command (``placeholders``) and
runs it in the component's image:

- inside a compiled task that already runs in that image (the Kubeflow and Airflow-Kubernetes
  compilers start such a node's task in the component's image and set
  ``$BEAMPIPE_CONTAINER_IMAGE`` to it): the command runs right there;
- with ``BEAMPIPE_CONTAINER_ON_HOST=1``: on this machine, with its programs (the image is
  not used; for laptops and CI without a container engine);
- else with a container engine (``$BEAMPIPE_CONTAINER_ENGINE``, or ``docker``/``podman`` on
  PATH): ``<engine> run`` with the artifact directories mounted at their own paths;
- else the node fails with a message naming the component, the image and both ways out.

The image and command are execution properties (under ``__container__``), so they are in
the cache key and the IR, and the task needs none of the user's code to run the node.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from typing import Any, ClassVar

from beampipe.components import placeholders as ph
from beampipe.components.base import BaseComponent, ExecContext, In, Out, Param, WiringError
from beampipe.metadata.artifacts import Artifact

CONTAINER_PROP = "__container__"
ON_HOST_ENV = "BEAMPIPE_CONTAINER_ON_HOST"
IN_IMAGE_ENV = "BEAMPIPE_CONTAINER_IMAGE"
ENGINE_ENV = "BEAMPIPE_CONTAINER_ENGINE"
ENGINES = ("docker", "podman")


class ContainerCommandError(ValueError):
    """The component's command could not run or exited non-zero; the message is for the user."""


class ContainerComponent(BaseComponent):
    """Base of the classes ``create_container_component`` makes. In the IR every container
    node names this class (``IR_CLASS``): its image and command travel in its properties."""

    IMAGE: ClassVar[str] = ""
    COMMAND: ClassVar[list[Any]] = []
    IR_CLASS: ClassVar[type | None] = None  # set below: the class the IR names

    def __init__(self, **kwargs: Any) -> None:
        inputs = {k: v for k, v in kwargs.items() if k in self.INPUTS}
        params = {k: v for k, v in kwargs.items() if k not in self.INPUTS}
        super().__init__(inputs, params)
        self.exec_properties[CONTAINER_PROP] = {
            "name": type(self).__name__, "image": self.IMAGE, "command": list(self.COMMAND)}

    @property
    def execution_type_name(self) -> str:
        """The MLMD execution type: the component's own name, not the shared class's."""
        return f"{type(self).__module__}.{type(self).__qualname__}"

    @classmethod
    def execute(cls, ctx: ExecContext) -> None:
        spec = ctx.exec_properties.get(CONTAINER_PROP)
        if not isinstance(spec, dict):
            raise ContainerCommandError(f"node '{ctx.node_id}': no container spec in its properties")
        argv = render_command(ctx, spec)
        how = runtime(spec["image"])
        if how is None:
            raise ContainerCommandError(no_runtime_message(ctx.node_id, spec, argv))
        if how == "here":
            ctx.log.info("running %s's command in this environment (%s)", spec["name"], _why_here(spec))
            full = argv
        else:
            full = engine_command(how, spec["image"], argv, ctx)
        ctx.log.info("command: %s", full)
        run_command(full, ctx, spec)


def create_container_component(name: str, image: str, command: list[Any],
                               inputs: dict[str, type[Artifact]] | None = None,
                               outputs: dict[str, type[Artifact]] | None = None,
                               parameters: dict[str, type] | None = None) -> type[ContainerComponent]:
    """A component class running ``command`` in ``image`` (TFX's signature). Every placeholder
    must name a declared input, output or parameter: checked here, at build time."""
    if not name:
        raise ValueError("Component name cannot be empty.")  # TFX's message
    if not image or not isinstance(image, str):
        raise WiringError(f"container component {name!r}: image must be a non-empty string")
    if not command:
        raise WiringError(f"container component {name!r}: command is empty")
    inputs, outputs, parameters = dict(inputs or {}), dict(outputs or {}), dict(parameters or {})
    for group, kind in ((inputs, "input"), (outputs, "output")):
        for key, art in group.items():
            if not (isinstance(art, type) and issubclass(art, Artifact)):
                raise WiringError(f"container component {name!r}: {kind} {key!r} must be an artifact "
                                  f"type such as standard_artifacts.Examples, got {art!r}")
    reserved = [k for k in parameters if k.startswith("__")]
    if reserved:
        raise WiringError(f"container component {name!r}: parameter names {reserved} are reserved")
    encoded = [ph.encode(element) for element in command]
    declared = {"input": inputs, "output": outputs, "exec_property": parameters}
    for element in encoded:
        for kind, key in ph.keys_used(element):
            if key not in declared[kind]:
                raise WiringError(f"container component {name!r}: the command uses {kind}({key!r}), but "
                                  f"the component declares {kind}s {sorted(declared[kind])}")
    import inspect

    caller = inspect.currentframe()
    module = caller.f_back.f_globals.get("__name__", __name__) if caller and caller.f_back else __name__
    return type(name, (ContainerComponent,), {
        "INPUTS": {k: In(v) for k, v in inputs.items()},
        "OUTPUTS": {k: Out(v) for k, v in outputs.items()},
        "PARAMETERS": {k: Param(v, required=True) for k, v in parameters.items()},
        "IMAGE": image, "COMMAND": encoded, "__module__": module, "__qualname__": name,
        "__doc__": f"Runs {command!r} in image {image!r}.",
    })


ContainerComponent.IR_CLASS = ContainerComponent


def render_command(ctx: ExecContext, spec: dict[str, Any]) -> list[str]:
    """The command line with every placeholder filled in; one error naming the one that fails."""
    props = {k: v for k, v in ctx.exec_properties.items() if k != CONTAINER_PROP}
    invocation = ph.Invocation(ctx.inputs, ctx.outputs, props, read_value, extra={
        "tmp_dir": ctx.temp_dir, "pipeline_info": {"id": ctx.pipeline_name},
        "pipeline_node": {"node_info": {"id": ctx.node_id}}, "pipeline_run_id": ctx.run_id})
    argv = []
    for element in spec["command"]:
        try:
            argv.append(ph.render(element, invocation))
        except (ValueError, KeyError, TypeError) as err:
            raise ContainerCommandError(f"container component '{ctx.node_id}' ({spec['name']}): cannot fill in "
                                        f"{ph.describe(element)}: {err}") from None
    return argv


def read_value(artifact: Artifact) -> Any:
    """``input(k).value``: a value artifact's value (its ``read()``, else its ``value`` file)."""
    reader = getattr(type(artifact), "read", None)
    if callable(reader):
        return artifact.read()  # type: ignore[attr-defined]
    path = os.path.join(artifact.uri, "value")
    if not os.path.isfile(path):
        raise ValueError(f"{type(artifact).TYPE_NAME} artifact at {artifact.uri} is not a value artifact "
                         "(it has no 'value' file)")
    with open(path) as f:
        return f.read()


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def runtime(image: str) -> str | None:
    """``here`` (in the image already, or host mode allowed), an engine's path, or None."""
    if os.environ.get(IN_IMAGE_ENV) == image or _truthy(os.environ.get(ON_HOST_ENV)):
        return "here"
    chosen = os.environ.get(ENGINE_ENV, "").strip()
    for name in ([chosen] if chosen else ENGINES):
        path = shutil.which(name)
        if path:
            return path
    return None


def _why_here(spec: dict[str, Any]) -> str:
    if os.environ.get(IN_IMAGE_ENV) == spec["image"]:
        return f"the task runs in image {spec['image']}"
    return f"${ON_HOST_ENV} is set: image {spec['image']} is not used"


def no_runtime_message(node_id: str, spec: dict[str, Any], argv: list[str]) -> str:
    engine = os.environ.get(ENGINE_ENV, "").strip()
    found = f"the container engine {engine!r} (${ENGINE_ENV}) is not on PATH" if engine else \
        "no container engine (docker or podman) is on PATH"
    return (f"container component '{node_id}' ({spec['name']}) runs in image {spec['image']!r}, but {found}. "
            f"Either install Docker or Podman, or set {ON_HOST_ENV}=1 to run its command on this machine "
            f"(it then needs {argv[0]!r} and whatever the command uses, here)")


def engine_command(engine: str, image: str, argv: list[str], ctx: ExecContext) -> list[str]:
    """``<engine> run`` of the image with the command as its entrypoint (TFX's ``command``
    replaces the image's), each artifact directory mounted at its own path so the rendered
    URIs hold inside the container, inputs read-only, files owned by this user."""
    mounts: list[str] = []
    seen: set[str] = set()
    for group, mode in ((ctx.inputs, ":ro"), (ctx.outputs, "")):
        for arts in group.values():
            for art in arts:
                if art.uri and "://" not in art.uri and art.uri not in seen:
                    seen.add(art.uri)
                    mounts += ["-v", f"{os.path.abspath(art.uri)}:{os.path.abspath(art.uri)}{mode}"]
    if ctx.temp_dir:
        mounts += ["-v", f"{ctx.temp_dir}:{ctx.temp_dir}", "-w", ctx.temp_dir]
    user = ["--userns=keep-id"] if os.path.basename(engine).startswith("podman") else \
        ["--user", f"{os.getuid()}:{os.getgid()}"]
    return [engine, "run", "--rm", *user, *mounts, "--entrypoint", argv[0], image, *argv[1:]]


def run_command(argv: list[str], ctx: ExecContext, spec: dict[str, Any]) -> None:
    """Run to the end, its output line by line into the node's log; a non-zero exit fails the
    node with the last lines of that output."""
    tail: deque[str] = deque(maxlen=20)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                cwd=ctx.temp_dir or None, errors="replace")
    except FileNotFoundError:
        raise ContainerCommandError(f"container component '{ctx.node_id}' ({spec['name']}): program "
                                    f"{argv[0]!r} not found") from None
    assert proc.stdout is not None
    for line in proc.stdout:
        ctx.log.info("| %s", line.rstrip("\n"))
        tail.append(line.rstrip("\n"))
    code = proc.wait()
    if code != 0:
        shown = "\n".join(tail)
        raise ContainerCommandError(f"container component '{ctx.node_id}' ({spec['name']}, image "
                                    f"{spec['image']}): the command exited with code {code}"
                                    + (f"; its last output:\n{shown}" if shown else ""))
