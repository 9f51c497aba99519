"""Small inputs run in this process, whatever DirectRunner parallelism the Beam args ask for.

TFX's own penguin pipeline passes ``--direct_running_mode=multi_processing
--direct_num_workers=0``: on a few hundred rows that starts one worker process per core, each
importing TensorFlow, Beam and the user's module file again (and, in the workers, the module
file's sibling imports fail: they are not on the workers' ``sys.path``). Those two flags only
choose how DirectRunner spreads the work, never what is computed, so on small inputs an
executor may drop them and take its in-process path, the one it takes with no Beam args:
its outputs are what beampipe computes with no Beam args. Any other arg (another runner,
``--temp_location``, pipeline options a DoFn reads) keeps the args as they are.

The launcher applies it to every node (:func:`for_node`): a node whose example data (its
Examples inputs, or an ExampleGen's ``input_base``) is small gets no Beam args when they only
tune DirectRunner's parallelism, so it runs exactly as it does with none.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from beampipe.transforms.tfdv_io import IN_MEMORY_MAX_BYTES

# Below this much (compressed) example data in all, an executor runs in-process: the bound
# of the in-memory statistics, one number for both.
SMALL_MAX_BYTES = IN_MEMORY_MAX_BYTES

PARALLELISM_FLAGS = ("--direct_running_mode", "--direct_num_workers")
DIRECT_RUNNER_NAMES = ("DirectRunner", "direct", "SwitchingDirectRunner")


def flag_values(args: list[str]) -> list[tuple[str, str]]:
    """``args`` as (flag, value) pairs, in order: ``--flag=value``, ``--flag value`` (a next
    arg not starting with ``--``), or ``--flag`` alone (value "")."""
    pairs, i = [], 0
    while i < len(args):
        arg = args[i]
        takes_next = "=" not in arg and i + 1 < len(args) and not args[i + 1].startswith("--")
        flag, _, value = arg.partition("=")
        pairs.append((flag, args[i + 1] if takes_next else value))
        i += 2 if takes_next else 1
    return pairs


def only_direct_parallelism(args: list[str]) -> bool:
    """Whether ``args`` say no more than "DirectRunner, with this many workers in this mode"."""
    for flag, value in flag_values(args):
        if flag == "--runner":
            if value.rsplit(".", 1)[-1] not in DIRECT_RUNNER_NAMES:
                return False
        elif flag not in PARALLELISM_FLAGS:
            return False
    return True


def example_bytes(dirs: list[str]) -> int:
    """Bytes of the files under ``dirs`` (local directories; anything else counts as large)."""
    total = 0
    for folder in dirs:
        if not os.path.isdir(folder):
            return SMALL_MAX_BYTES + 1
        for base, _, names in os.walk(folder):
            total += sum(os.path.getsize(os.path.join(base, n)) for n in names)
    return total


def in_process_args(args: list[str], dirs: list[str]) -> list[str]:
    """``args`` for an executor reading ``dirs``: none at all when they only tune DirectRunner's
    parallelism and the data is small (so the executor's in-process path applies), else as given."""
    if not args or not only_direct_parallelism(args):
        return list(args)
    return [] if example_bytes(dirs) <= SMALL_MAX_BYTES else list(args)


def for_node(args: list[str], inputs: Mapping[str, Sequence[Any]], exec_properties: Mapping[str, Any]) -> list[str]:
    """The Beam args a node runs with: :func:`in_process_args` over its example data (the
    directories of its ``Examples`` inputs, and an ExampleGen's ``input_base``); a node with
    no example data keeps its args."""
    dirs = [a.uri for arts in inputs.values() for a in arts if getattr(a, "TYPE_NAME", "") == "Examples"]
    base = exec_properties.get("input_base")
    if isinstance(base, str) and base:
        dirs.append(base)
    return in_process_args(args, dirs) if dirs else list(args)
