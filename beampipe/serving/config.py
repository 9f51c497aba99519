"""What to serve: models, their base paths, version policies and batching.

One model from the command line, several from ``--model-config-file`` (YAML or JSON)::

    models:
      - name: penguin
        base_path: /srv/models/penguin          # a Pusher destination, or s3://... / gs://...
        version_policy: canary                  # latest (default) | specific | canary
        canary_percent: 10                      # canary: share of keys sent to the newest version
        stable: 1700000000                      # canary: the stable version (default: second newest)
        versions: [1700000000]                  # specific: the versions to serve
        labels: {stable: 1700000000}            # /labels/{l} (canary adds stable and canary)
        batching: {max_batch_size: 32, batch_timeout_ms: 2}   # off unless given
        tags: [serve]                           # the meta graph to load (default: the one tagged serve)
        request_log: {dir: /srv/log/penguin, sample: 0.1, span_records: 10000}   # off unless given
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

from beampipe.serving.request_log import RequestLogConfig

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
POLICIES = ("latest", "specific", "canary")


class ConfigError(ValueError):
    """A bad model config: one line naming the file and the field."""


@dataclasses.dataclass(frozen=True)
class Batching:
    max_batch_size: int = 32
    batch_timeout_ms: float = 0.0


@dataclasses.dataclass(frozen=True)
class Policy:
    """Which versions take traffic. Immutable: a change is a new Policy swapped in whole."""
    kind: str = "latest"
    versions: tuple[int, ...] = ()
    canary_percent: float = 10.0
    stable: int | None = None
    rejected: tuple[int, ...] = ()  # canaries rolled back: never chosen as canary again

    def check(self, where: str) -> Policy:
        if self.kind not in POLICIES:
            raise ConfigError(f"{where}: version_policy {self.kind!r} is not one of {list(POLICIES)}")
        if self.kind == "specific" and not self.versions:
            raise ConfigError(f"{where}: version_policy 'specific' needs a non-empty 'versions' list")
        if not 0 <= self.canary_percent <= 100:
            raise ConfigError(f"{where}: canary_percent must be between 0 and 100, got {self.canary_percent}")
        return self


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    name: str
    base_path: str
    policy: Policy = Policy()
    labels: tuple[tuple[str, int], ...] = ()
    batching: Batching | None = None
    tags: tuple[str, ...] = ()  # the meta graph's tags (TF Serving's --saved_model_tags); empty: 'serve'
    request_log: RequestLogConfig | None = None  # sampled requests as tf.Examples (request_log.py)


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise ConfigError(f"{where}: expected a version number, got {value!r}")
    return int(value)


def policy_from(data: dict[str, Any], where: str, base: Policy | None = None) -> Policy:
    """A Policy from config or admin JSON fields; unnamed fields keep ``base``'s values."""
    base = base or Policy()
    kind = data.get("version_policy", base.kind)
    versions = data.get("versions", list(base.versions))
    if not isinstance(versions, list):
        raise ConfigError(f"{where}: 'versions' must be a list of version numbers")
    percent = data.get("canary_percent", base.canary_percent)
    if isinstance(percent, bool) or not isinstance(percent, (int, float)):
        raise ConfigError(f"{where}: canary_percent must be a number, got {percent!r}")
    stable = data.get("stable", base.stable)
    return Policy(kind=str(kind), versions=tuple(_int(v, f"{where}: versions") for v in versions),
                  canary_percent=float(percent),
                  stable=None if stable is None else _int(stable, f"{where}: stable"),
                  rejected=base.rejected).check(where)


def model_from(data: Any, where: str) -> ModelConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: each model must be a mapping with name and base_path")
    unknown = set(data) - {"name", "base_path", "version_policy", "versions", "canary_percent", "stable",
                           "labels", "batching", "tags", "request_log"}
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}")
    name, base = data.get("name"), data.get("base_path")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(f"{where}: 'name' must be letters, digits, '_', '.' or '-', got {name!r}")
    if not isinstance(base, str) or not base:
        raise ConfigError(f"{where}: model '{name}' needs a 'base_path'")
    labels = data.get("labels") or {}
    if not isinstance(labels, dict):
        raise ConfigError(f"{where}: 'labels' must map a label to a version")
    batching = data.get("batching")
    if batching is not None:
        if not isinstance(batching, dict) or set(batching) - {"max_batch_size", "batch_timeout_ms"}:
            raise ConfigError(f"{where}: 'batching' takes max_batch_size and batch_timeout_ms")
        batching = Batching(**batching)
        if batching.max_batch_size < 1 or batching.batch_timeout_ms < 0:
            raise ConfigError(f"{where}: batching needs max_batch_size >= 1 and batch_timeout_ms >= 0")
    tags = data.get("tags") or []
    if isinstance(tags, str):
        tags = [t for t in tags.split(",") if t]
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise ConfigError(f"{where}: 'tags' must be a list of meta graph tags (or 'serve,gpu')")
    return ModelConfig(
        name=name, tags=tuple(tags),
        request_log=request_log_from(data.get("request_log"), f"{where}: model '{name}'"),
        base_path=base if "://" in base else os.path.abspath(base),
        policy=policy_from(data, f"{where}: model '{name}'"),
        labels=tuple((str(k), _int(v, f"{where}: labels")) for k, v in labels.items()),
        batching=batching)


def request_log_from(data: Any, where: str) -> RequestLogConfig | None:
    """``request_log: {dir: DIR, sample: 0.1, span_records: 10000, flush_records: 1000, flush_seconds: 5}``."""
    if data is None:
        return None
    fields = {"dir", "sample", "span_records", "flush_records", "flush_seconds"}
    if not isinstance(data, dict) or set(data) - fields or not data.get("dir"):
        raise ConfigError(f"{where}: 'request_log' needs 'dir' and takes {sorted(fields)}")
    if "://" in str(data["dir"]):
        raise ConfigError(f"{where}: request_log.dir must be a local directory, got {data['dir']!r}")
    try:
        config = RequestLogConfig(dir=os.path.abspath(str(data["dir"])), sample=float(data.get("sample", 1.0)),
                                  span_records=int(data.get("span_records", 10000)),
                                  flush_records=int(data.get("flush_records", 1000)),
                                  flush_seconds=float(data.get("flush_seconds", 5.0)))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{where}: request_log: {err}") from None
    if not 0 < config.sample <= 1 or config.span_records < 1 or config.flush_records < 1 or config.flush_seconds <= 0:
        raise ConfigError(f"{where}: request_log needs 0 < sample <= 1, span_records >= 1, flush_records >= 1 "
                          "and flush_seconds > 0")
    return config


def load_config_file(path: str) -> list[ModelConfig]:
    """Read a YAML or JSON model config file (a ``models`` list, or the list itself)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror or err}") from None
    try:
        if path.endswith(".json"):
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except Exception as err:  # noqa: BLE001 - yaml and json raise different errors: one line
        raise ConfigError(f"{path}: not valid {'JSON' if path.endswith('.json') else 'YAML'}: "
                          f"{' '.join(str(err).split())[:200]}") from None
    models = data.get("models") if isinstance(data, dict) else data
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{path}: expected a non-empty 'models' list")
    configs = [model_from(m, f"{path}: models[{i}]") for i, m in enumerate(models)]
    names = [c.name for c in configs]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: model names must be unique, got {names}")
    return configs
