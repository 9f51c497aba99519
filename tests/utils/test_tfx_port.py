"""beampipe.utils.tfx_port: the import-line rules, one line at a time; nothing else changes."""
from __future__ import annotations

from beampipe.utils.tfx_port import port_file, rewrite_line, rewrite_tfx_imports, unported_imports


def test_rules():
    assert rewrite_line("from tfx import v1 as tfx\n") == "import beampipe as tfx\n"
    assert rewrite_line("import tfx.v1 as tfx\n") == "import beampipe as tfx\n"
    assert rewrite_line("  from tfx.v1 import proto\n") == "  from beampipe import proto\n"
    assert rewrite_line("from tfx.v1.dsl import Pipeline\n") == "from beampipe.dsl import Pipeline\n"
    assert rewrite_line("from tfx.utils import proto_utils\n") == "from beampipe.utils import proto_utils\n"
    sibling = "from tfx.examples.penguin import penguin_utils_base as base\n"
    assert rewrite_line(sibling, ["penguin_utils_base"]) == "import penguin_utils_base as base\n"
    assert rewrite_line(sibling) == sibling  # not ported beside it: left, and reported
    for kept in ("import tensorflow as tf\n", "from tfx_bsl.public import tfxio\n", "x = 'from tfx import v1'\n"):
        assert rewrite_line(kept) == kept


def test_file_keeps_every_other_line(tmp_path):
    source = ('"""doc: from tfx import v1 as tfx"""\nfrom tfx import v1 as tfx\nfrom tfx.components import '
              'CsvExampleGen\n\ndef f():\n    return tfx.proto.TrainArgs(num_steps=1)\n')
    ported = rewrite_tfx_imports(source)
    assert ported.splitlines()[0] == source.splitlines()[0]
    assert ported.splitlines()[1] == "import beampipe as tfx"
    assert ported.splitlines()[3:] == source.splitlines()[3:]
    assert unported_imports(ported) == ["from tfx.components import CsvExampleGen"]
    src = tmp_path / "a.py"
    src.write_text(source)
    assert port_file(str(src), str(tmp_path / "out" / "a.py")) == ["from tfx.components import CsvExampleGen"]
