"""Bad inputs through the real ``beampipe`` command, one table row each.

Every row runs the command as a user would and checks what the user sees and what is left
behind: the exit code; exactly one message line (besides the log path and the resume
command) holding the row's substrings, which name the file or setting and the problem; no
traceback; no password; nothing LIVE and nothing RUNNING recorded by the failing command;
no staging left. Tokens: @TMP@ (the test's folder), @ROOT@ (pipeline root), @PIPE@ (the
pipeline file), @PGPORT@ (a PostgreSQL server that checks passwords).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.reliability.conftest import COMPLETE, FAILED, RUNNING, StoreSnapshot, beampipe, python

SECRET = "s3cretPW-9"
HEAD = ("import beampipe as tfx\nfrom beampipe import Pipeline, RuntimeParameter\n"
        "from tests.support.toy import Consume, Produce\n")
TOY = HEAD + ('produce = Produce(text="hi")\nconsume = Consume(examples=produce.outputs["examples"])\n'
              'pipeline = Pipeline("bad", "@ROOT@", [produce, consume])\n')
PARAMS = HEAD + ('produce = Produce(text=RuntimeParameter("text", str, "hi"))\n'
                 'consume = Consume(examples=produce.outputs["examples"], '
                 'sleep=RuntimeParameter("sleep", float, 0.0))\n'
                 'pipeline = Pipeline("bad", "@ROOT@", [produce, consume])\n')
WRITE_IR = ("from beampipe.cli.common import load_pipeline\nfrom beampipe.orchestration import ir\n"
            "open('@TMP@/ir.json', 'w').write(ir.dumps(ir.compile_pipeline(load_pipeline('@PIPE@'))))\n")
SCHEMA = 'feature { name: "x" type: INT }\n'


def toy(body: str) -> str:
    """A pipeline file: the toy imports, then body (which must set ``pipeline``)."""
    return HEAD + body


def csv_pipe(extra: str = "") -> str:
    return ('import beampipe as tfx\nfrom beampipe.proto import Input, Output, RangeConfig, SplitConfig\n'
            f'gen = tfx.components.CsvExampleGen(input_base="@TMP@/data"{extra})\n'
            'pipeline = tfx.dsl.Pipeline(pipeline_name="bad", pipeline_root="@ROOT@", components=[gen])\n')


# A stand-in Examples producer: a train split of one empty shard; no TF, no Beam.
ROWS = HEAD + ('import gzip\nimport os\nfrom beampipe.components import OutputArtifact, component\n'
               'from beampipe.metadata.artifacts import Examples\n\n\n'
               '@component\ndef Rows(examples: OutputArtifact[Examples]) -> None:\n'
               '    os.makedirs(examples.split_uri("train"))\n'
               '    gzip.open(examples.shard_uri("train"), "wb").close()\n'
               '    examples.splits = ["train"]\n\n\nrows = Rows()\n')


def trainer_pipe(module: str = 'module_file="@TMP@/mod.py"') -> str:
    return ROWS + (f'trainer = tfx.components.Trainer(examples=rows.outputs["examples"], {module}, '
                   'eval_args=tfx.proto.EvalArgs(splits=["train"]))\n'
                   'pipeline = Pipeline("bad", "@ROOT@", [rows, trainer])\n')


def transform_pipe() -> str:
    return ROWS + ('schema = tfx.components.ImportSchemaGen(schema_file="@TMP@/schema.pbtxt")\n'
                   'transform = tfx.components.Transform(examples=rows.outputs["examples"], '
                   'schema=schema.outputs["schema"], module_file="@TMP@/mod.py")\n'
                   'pipeline = Pipeline("bad", "@ROOT@", [rows, schema, transform])\n')


def validator_pipe() -> str:
    """CSV -> statistics, checked against a hand-written schema, failing on anomalies."""
    return csv_pipe().replace("components=[gen]", "components=[gen, stats, schema, check]").replace(
        "pipeline = ", 'stats = tfx.components.StatisticsGen(examples=gen.outputs["examples"])\n'
        'schema = tfx.components.ImportSchemaGen(schema_file="@TMP@/schema.pbtxt")\n'
        'check = tfx.components.ExampleValidator(statistics=stats.outputs["statistics"], '
        'schema=schema.outputs["schema"], fail_on_anomalies=True)\npipeline = ')


def run_node(ir: str, node: str = "Produce", *extra: str) -> list[str]:
    return ["run-node", "--ir", ir, "--node", node, "--run-id", "r1", *extra]


@dataclass
class Case:
    id: str
    argv: list[str]
    code: int
    expect: list[str]  # substrings of the one message line; "re:..." is a regex
    pipeline: str | None = TOY  # written to @PIPE@
    files: dict[str, str | bytes] = field(default_factory=dict)
    node: str | None = None  # the node that fails, recorded FAILED (None: fails before any node runs)
    setup: list[tuple[str, Any]] = field(default_factory=list)  # ("cli", argv) or ("py", code)
    env: dict[str, str] = field(default_factory=dict)
    store: str = "@ROOT@/metadata.sqlite"
    usage: bool = False  # argparse's own error: usage lines come first
    absent: list[str] = field(default_factory=list)  # paths the command must not create
    marks: list[Any] = field(default_factory=list)

    def param(self) -> Any:
        return pytest.param(self, id=self.id, marks=self.marks)


def metadata_cases() -> list[Case]:
    """Each bad metadata URI through run, runs and artifacts."""
    notadb = {"notadb.sqlite": "this is a text file, not a database\n"}
    uris = [
        ("unknown-scheme", f"foo://u:{SECRET}@x/db", ["foo://u:***@x/db", "re:(?i)unsupported|unknown"], {}),
        ("sqlite-no-path", "sqlite://", ["sqlite://", "no path"], {}),
        ("not-a-database", "@TMP@/notadb.sqlite", ["@TMP@/notadb.sqlite", "re:not a (SQLite )?database"],
         notadb),
        ("postgres-refused", f"postgresql://u:{SECRET}@127.0.0.1:1/db",
         ["postgresql://u:***@127.0.0.1:1/db", "127.0.0.1:1", "re:(?i)refused"], {}),
        ("postgres-wrong-password", f"postgresql://beampipe:{SECRET}@127.0.0.1:@PGPORT@/mlmd",
         ["postgresql://beampipe:***@127.0.0.1:@PGPORT@/mlmd", "127.0.0.1:@PGPORT@",
          "re:(?i)password|authentication"], {}),
        ("missing-directory", "@TMP@/no/such/dir/m.sqlite", ["@TMP@/no/such/dir", "does not exist"], {}),
        ("missing-directory-sqlite-uri", "sqlite:///@TMP@/no/such/dir/m.sqlite",
         ["@TMP@/no/such/dir", "does not exist"], {}),
    ]
    cases = []
    for name, uri, expect, files in uris:
        for command in (["run", "@PIPE@"], ["runs"], ["artifacts", "some-run"]):
            cases.append(Case(f"metadata-{name}-{command[0]}", [*command, "--metadata-uri", uri], 2, expect,
                              files=files, store="" if "://" in uri else uri, absent=["@TMP@/no"]))
    cases.append(Case("metadata-env-var-refused", ["runs"], 2,
                      ["postgresql://u:***@127.0.0.1:1/db", "127.0.0.1:1"],
                      env={"BEAMPIPE_METADATA_URI": f"postgresql://u:{SECRET}@127.0.0.1:1/db"}))
    return cases


CASES: list[Case] = [
    # the pipeline file
    Case("file-missing", ["run", "@TMP@/nope.py"], 2, ["@TMP@/nope.py", "no such pipeline file"]),
    Case("file-syntax-error", ["run", "@PIPE@"], 2, ["@PIPE@, line 2", "syntax error"],
         pipeline="import os\npipeline = (\n"),
    Case("file-raises-while-loading", ["run", "@PIPE@"], 2,
         ["@PIPE@", "failed while loading", "RuntimeError: no data today"],
         pipeline="raise RuntimeError('no data today')\n"),
    Case("file-import-error", ["run", "@PIPE@"], 2, ["@PIPE@", "No module named 'no_such_module_x'"],
         pipeline="import no_such_module_x\n"),
    Case("file-defines-no-pipeline", ["run", "@PIPE@"], 2, ["@PIPE@", "defines no module-level 'pipeline'"],
         pipeline=toy("p = 1\n")),
    Case("file-pipeline-not-a-pipeline", ["run", "@PIPE@"], 2,
         ["@PIPE@", "defines no module-level 'pipeline'"],
         pipeline=toy("pipeline = [Produce()]\n")),
    # wiring
    Case("wiring-duplicate-ids", ["run", "@PIPE@"], 2, ["two nodes have the id 'Produce'"],
         pipeline=toy('pipeline = Pipeline("bad", "@ROOT@", [Produce(), Produce(text="x")])\n')),
    Case("wiring-missing-required-input", ["run", "@PIPE@"], 2,
         ["node 'Consume'", "required input 'examples'", "missing"],
         pipeline=toy('pipeline = Pipeline("bad", "@ROOT@", [Consume()])\n')),
    Case("wiring-wrong-channel-type", ["run", "@PIPE@"], 2,
         ["input 'examples' expects Examples but is wired to Model"],
         pipeline=toy('p = Produce()\nc = Consume(examples=p.outputs["examples"])\n'
                      'c2 = Consume(examples=c.outputs["model"]).with_id("C2")\n'
                      'pipeline = Pipeline("bad", "@ROOT@", [p, c, c2])\n')),
    Case("wiring-producer-left-out", ["run", "@PIPE@"], 2,
         ["node 'Produce' is not in the pipeline's components"],
         pipeline=toy('p = Produce()\npipeline = Pipeline("bad", "@ROOT@", '
                      '[Consume(examples=p.outputs["examples"])])\n')),
    Case("wiring-standard-component-missing-argument", ["run", "@PIPE@"], 2,
         ["@PIPE@", "StatisticsGen", "missing 1 required positional argument: 'examples'"],
         pipeline=toy('pipeline = Pipeline("bad", "@ROOT@", [tfx.components.StatisticsGen()])\n')),
    Case("wiring-unknown-parameter", ["run", "@PIPE@"], 2, ["Produce", "unknown parameters ['colour']"],
         pipeline=toy('pipeline = Pipeline("bad", "@ROOT@", [Produce(colour="red")])\n')),
    Case("wiring-bad-pipeline-name", ["run", "@PIPE@"], 2, ["pipeline name 'bad name!'"],
         pipeline=toy('pipeline = Pipeline("bad name!", "@ROOT@", [Produce()])\n')),
    # --param, --from-node, --to-node and other options
    Case("param-unknown-name", ["run", "@PIPE@", "--param", "colour=red"], 2,
         ["unknown runtime parameter(s) ['colour']", "sleep", "text"], pipeline=PARAMS),
    Case("param-wrong-type", ["run", "@PIPE@", "--param", "sleep=abc"], 2,
         ["runtime parameter 'sleep' must be float", "'abc'"], pipeline=PARAMS),
    Case("param-no-equals", ["run", "@PIPE@", "--param", "sleep"], 2, ["--param 'sleep'", "NAME=VALUE"],
         pipeline=PARAMS),
    Case("param-empty-name", ["run", "@PIPE@", "--param", "=3"], 2, ["--param '=3'", "NAME=VALUE"],
         pipeline=PARAMS),
    Case("param-required-not-given", ["run", "@PIPE@"], 2, ["runtime parameter 'text' has no default",
                                                             "--param text=VALUE"],
         pipeline=toy('p = Produce(text=RuntimeParameter("text", str))\n'
                      'pipeline = Pipeline("bad", "@ROOT@", [p])\n')),
    Case("from-node-unknown", ["run", "@PIPE@", "--from-node", "Nope"], 2,
         ["no node 'Nope' in pipeline 'bad'", "Produce", "Consume"]),
    Case("to-node-unknown", ["run", "@PIPE@", "--to-node", "Nope"], 2, ["no node 'Nope' in pipeline 'bad'"]),
    Case("from-node-before-any-run", ["run", "@PIPE@", "--from-node", "Consume"], 2,
         ["node 'Produce' has no finished execution in pipeline 'bad'", "from the start"]),
    Case("orchestrator-unknown", ["run", "@PIPE@", "--orchestrator", "spark"], 2,
         ["argument --orchestrator: invalid choice: 'spark'"], usage=True),
    Case("parallelism-not-a-number", ["run", "@PIPE@", "--parallelism", "two"], 2,
         ["argument --parallelism: invalid int value: 'two'"], usage=True),
    Case("pipeline-root-is-a-file", ["run", "@PIPE@", "--pipeline-root", "@TMP@/afile"], 2,
         ["@TMP@/afile", "not a directory"], files={"afile": "x"}, store=""),
    # the store: bad URIs (below), and reading one that is fine
    Case("runs-root-without-store", ["runs", "--pipeline-root", "@TMP@/empty"], 2,
         ["@TMP@/empty/metadata.sqlite", "no metadata store here"]),
    Case("artifacts-unknown-run", ["artifacts", "no-such-run", "--pipeline-root", "@ROOT@"], 1,
         ["no artifacts recorded for run 'no-such-run'"], setup=[("cli", ["run", "@PIPE@"])]),
    # CSV input (fails before Beam starts)
    Case("csv-input-base-missing", ["run", "@PIPE@"], 1, ["input_base @TMP@/data does not exist"],
         pipeline=csv_pipe(), node="CsvExampleGen"),
    Case("csv-input-base-empty", ["run", "@PIPE@"], 1, ["no input file matches pattern '*'", "@TMP@/data"],
         pipeline=csv_pipe(), files={"data/": ""}, node="CsvExampleGen"),
    Case("csv-empty-file", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv is empty"],
         pipeline=csv_pipe(), files={"data/a.csv": ""}, node="CsvExampleGen"),
    Case("csv-header-only", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv has a header but no data rows"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,y\n"}, node="CsvExampleGen"),
    Case("csv-ragged-row", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 3", "expected 2 fields", "found 3"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,y\n1,2\n3,4,5\n"}, node="CsvExampleGen"),
    Case("csv-short-row", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 3 column 'y'", "found 1"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,y\n1,2\n3\n"}, node="CsvExampleGen"),
    Case("csv-not-utf8", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 2 column 2", "not valid UTF-8"],
         pipeline=csv_pipe(), files={"data/a.csv": b"x,y\n1,caf\xe9\n"}, node="CsvExampleGen"),
    Case("csv-utf16-export", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 1", "looks UTF-16: save it as UTF-8"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,y\n1,2\n".encode("utf-16")}, node="CsvExampleGen"),
    Case("csv-nul-byte", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 2", "re:(?i)NUL"],
         pipeline=csv_pipe(), files={"data/a.csv": b"x,y\n1,a\x00b\n"}, node="CsvExampleGen"),
    Case("csv-duplicate-column", ["run", "@PIPE@"], 1,
         ["@TMP@/data/a.csv line 1 column 3", "column name 'x' appears twice"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,y,x\n1,2,3\n"}, node="CsvExampleGen"),
    Case("csv-empty-column-name", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 1 column 2",
                                                        "empty column name"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,,z\n1,2,3\n"}, node="CsvExampleGen"),
    Case("csv-headers-differ", ["run", "@PIPE@"], 1, ["@TMP@/data/b.csv line 1", "differs from the first"],
         pipeline=csv_pipe(), files={"data/a.csv": "x,y\n1,2\n", "data/b.csv": "x,z\n1,2\n"},
         node="CsvExampleGen"),
    Case("csv-unterminated-quote", ["run", "@PIPE@"], 1, ["@TMP@/data/a.csv line 3", "malformed CSV"],
         pipeline=csv_pipe(), files={"data/a.csv": 'x,y\n1,2\n3,"abc\n'}, node="CsvExampleGen"),
    # ExampleGen configuration
    Case("config-zero-hash-buckets", ["run", "@PIPE@"], 1, ["output_config split 'eval'",
                                                           "hash_buckets must be > 0"],
         pipeline=csv_pipe(', output_config=Output(split_config=SplitConfig(splits=['
                           'SplitConfig.Split("train", 2), SplitConfig.Split("eval", 0)]))'),
         files={"data/a.csv": "x,y\n1,2\n"}, node="CsvExampleGen"),
    Case("config-duplicate-split-names", ["run", "@PIPE@"], 1, ["output_config split names must be unique",
                                                               "['train', 'train']"],
         pipeline=csv_pipe(', output_config=Output(split_config=SplitConfig(splits=['
                           'SplitConfig.Split("train", 2), SplitConfig.Split("train", 1)]))'),
         files={"data/a.csv": "x,y\n1,2\n"}, node="CsvExampleGen"),
    Case("config-pattern-matches-nothing", ["run", "@PIPE@"], 1,
         ["no input file matches pattern 'eval/*' (split 'eval')"],
         pipeline=csv_pipe(', input_config=Input(splits=[Input.Split("train", "train/*"), '
                           'Input.Split("eval", "eval/*")])'),
         files={"data/train/a.csv": "x,y\n1,2\n"}, node="CsvExampleGen"),
    Case("config-presplit-and-split-config", ["run", "@PIPE@"], 1, ["give one or the other"],
         pipeline=csv_pipe(', input_config=Input(splits=[Input.Split("train", "train/*"), '
                           'Input.Split("eval", "eval/*")]), output_config=Output(split_config='
                           'SplitConfig(splits=[SplitConfig.Split("a", 1), SplitConfig.Split("b", 1)]))'),
         files={"data/train/a.csv": "x,y\n1,2\n", "data/eval/a.csv": "x,y\n1,2\n"}, node="CsvExampleGen"),
    Case("config-rolling-range", ["run", "@PIPE@"], 1, ["rolling_range: ExampleGen reads a single span"],
         pipeline=csv_pipe(', input_config=Input(splits=[Input.Split("single_split", "span-{SPAN}/*")]), '
                           'range_config=RangeConfig(rolling_range=RangeConfig.RollingRange(1, 2))'),
         files={"data/span-1/a.csv": "x,y\n1,2\n"}, node="CsvExampleGen"),
    Case("config-range-without-span", ["run", "@PIPE@"], 1, ["range_config is set", "has no {SPAN}"],
         pipeline=csv_pipe(', range_config=RangeConfig(static_range=RangeConfig.StaticRange(1, 1))'),
         files={"data/a.csv": "x,y\n1,2\n"}, node="CsvExampleGen"),
    # module files and schema files
    Case("module-file-missing", ["run", "@PIPE@"], 1,
         ["module file @TMP@/mod.py (for run_fn) does not exist"],
         pipeline=trainer_pipe(), node="Trainer"),
    Case("module-file-syntax-error", ["run", "@PIPE@"], 1,
         ["module file @TMP@/mod.py (for run_fn)", "syntax error at line 2"],
         pipeline=trainer_pipe(), files={"mod.py": "def run_fn(fn_args):\n    return (\n"}, node="Trainer"),
    Case("module-file-no-run-fn", ["run", "@PIPE@"], 1, ["module file @TMP@/mod.py",
                                                        "defines no function 'run_fn'"],
         pipeline=trainer_pipe(), files={"mod.py": "def train(fn_args):\n    pass\n"}, node="Trainer"),
    Case("module-file-raises-on-import", ["run", "@PIPE@"], 1,
         ["module file @TMP@/mod.py (for run_fn) failed to load", "KeyError: 'DATA_HOME'"],
         pipeline=trainer_pipe(), files={"mod.py": "import os\nHOME = os.environ['DATA_HOME']\n"},
         node="Trainer"),
    Case("run-fn-import-path-bad", ["run", "@PIPE@"], 1, ["run_fn 'no_such_pkg.train.run_fn'",
                                                         "cannot import module 'no_such_pkg.train'"],
         pipeline=trainer_pipe('run_fn="no_such_pkg.train.run_fn"'), node="Trainer"),
    Case("run-fn-raises", ["run", "@PIPE@"], 1,
         ["run_fn in module file @TMP@/mod.py raised ValueError: learning rate must be positive"],
         pipeline=trainer_pipe(),
         files={"mod.py": "def run_fn(fn_args):\n    raise ValueError('learning rate must be positive')\n"},
         node="Trainer"),
    Case("run-fn-exports-nothing", ["run", "@PIPE@"], 1,
         ["run_fn in module file @TMP@/mod.py returned without exporting a SavedModel"],
         pipeline=trainer_pipe(), files={"mod.py": "def run_fn(fn_args):\n    pass\n"}, node="Trainer"),
    Case("preprocessing-fn-missing", ["run", "@PIPE@"], 1,
         ["module file @TMP@/mod.py", "defines no function 'preprocessing_fn'"],
         pipeline=transform_pipe(), files={"mod.py": "def run_fn(a):\n    pass\n", "schema.pbtxt": SCHEMA},
         node="Transform"),
    Case("preprocessing-fn-raises", ["run", "@PIPE@"], 1,
         ["preprocessing_fn in module file @TMP@/mod.py raised KeyError", "'no_such_feature'"],
         pipeline=transform_pipe(), files={"mod.py": "def preprocessing_fn(inputs):\n"
                                           "    return {'y': inputs['no_such_feature']}\n",
                                           "schema.pbtxt": SCHEMA},
         node="Transform"),
    Case("anomalies-fail-on-anomalies", ["run", "@PIPE@"], 1,
         ["ExampleValidator 'ExampleValidator' found anomalies", "y: Expected data of type: INT"],
         pipeline=validator_pipe(),
         files={"data/a.csv": "x,y\n" + "".join(f"{i},v{i}\n" for i in range(30)),
                "schema.pbtxt": SCHEMA + 'feature { name: "y" type: INT }\n'},
         node="ExampleValidator"),
    Case("schema-file-missing", ["run", "@PIPE@"], 1, ["schema file @TMP@/schema.pbtxt does not exist"],
         pipeline=toy('s = tfx.components.ImportSchemaGen(schema_file="@TMP@/schema.pbtxt")\n'
                      'pipeline = Pipeline("bad", "@ROOT@", [s])\n'), node="ImportSchemaGen"),
    Case("schema-file-garbage", ["run", "@PIPE@"], 1, ["schema file @TMP@/schema.pbtxt is not a text-format"],
         pipeline=toy('s = tfx.components.ImportSchemaGen(schema_file="@TMP@/schema.pbtxt")\n'
                      'pipeline = Pipeline("bad", "@ROOT@", [s])\n'),
         files={"schema.pbtxt": "feature { oops"}, node="ImportSchemaGen"),
    # run-node (what Airflow and Kubeflow tasks run)
    Case("run-node-unknown-node", run_node("@TMP@/ir.json", "Nope"), 2,
         ["--node 'Nope'", "has no such node", "Produce"], setup=[("py", WRITE_IR)]),
    Case("run-node-ir-missing", run_node("@TMP@/nope.json"), 2, ["--ir @TMP@/nope.json", "no such IR file"]),
    Case("run-node-ir-malformed", run_node("@TMP@/ir.json"), 2, ["--ir @TMP@/ir.json", "not valid JSON"],
         files={"ir.json": '{"ir_version": 1, "nodes": ['}),
    Case("run-node-ir-wrong-version", run_node("@TMP@/ir.json"), 2,
         ["@TMP@/ir.json", "IR version 99 is not 1"],
         files={"ir.json": '{"ir_version": 99, "pipeline": {"name": "bad"}, "nodes": []}'}),
    Case("run-node-ir-inline-garbage", run_node('{"ir_version": 1,'), 2,
         ['--ir {"ir_version": 1,', "not valid JSON"]),
    Case("run-node-ir-b64gz-garbage", run_node("b64gz:AAAA"), 2, ["--ir b64gz:AAAA", "not a beampipe IR"]),
    Case("run-node-ir-stdin-empty", run_node("-"), 2, ["--ir -", "stdin holds no IR"]),
    Case("run-node-store-missing-directory", run_node("@TMP@/ir.json"), 2,
         ["node 'Produce'", "@TMP@/no/such/dir", "does not exist"], absent=["@TMP@/no"],
         pipeline=TOY.replace('"@ROOT@", [produce, consume]', '"@ROOT@", [produce, consume], '
                              'metadata_uri="@TMP@/no/such/dir/m.sqlite"'),
         setup=[("py", WRITE_IR)]),
    Case("run-node-param-no-equals", run_node("@TMP@/ir.json", "Produce", "--param", "sleep"), 2,
         ["--param 'sleep'", "NAME=VALUE"], setup=[("py", WRITE_IR)]),
    # compile and submit
    Case("compile-unknown-target", ["compile", "@PIPE@", "--target", "argo", "--output", "@TMP@/o.py"], 2,
         ["argument --target: invalid choice: 'argo'"], usage=True),
    Case("compile-output-is-a-directory", ["compile", "@PIPE@", "--target", "airflow", "-o", "@TMP@"], 2,
         ["--output @TMP@", "cannot write it", "Is a directory"]),
    Case("compile-file-missing", ["compile", "@TMP@/nope.py", "--target", "kubeflow", "-o", "@TMP@/o.yaml"],
         2, ["@TMP@/nope.py", "no such pipeline file"]),
    Case("submit-yaml-missing", ["submit", "@TMP@/nope.yaml", "--host", "http://127.0.0.1:1"], 2,
         ["@TMP@/nope.yaml", "no such file"]),
    Case("submit-unknown-param", ["submit", "@TMP@/p.yaml", "--host", "http://127.0.0.1:1", "--param", "x=1"],
         2, ["@TMP@/p.yaml", "no pipeline parameter 'x'", "['steps']"],
         files={"p.yaml": "root:\n  inputDefinitions:\n    parameters:\n      steps:\n"
                          "        parameterType: NUMBER_INTEGER\n"}),
    Case("submit-param-wrong-type", ["submit", "@TMP@/p.yaml", "--host", "http://127.0.0.1:1",
                                     "--param", "steps=many"], 2, ["--param steps=many", "NUMBER_INTEGER"],
         files={"p.yaml": "root:\n  inputDefinitions:\n    parameters:\n      steps:\n"
                          "        parameterType: NUMBER_INTEGER\n"}),
    *metadata_cases(),
]


def _fill(text: str, tokens: dict[str, str]) -> str:
    for key, value in tokens.items():
        text = text.replace(key, value)
    return text


def _message_lines(stderr: str, usage: bool) -> list[str]:
    """stderr without the lines that frame a message (log path, resume command, usage)."""
    lines = []
    for line in stderr.splitlines():
        if not line.strip() or line.startswith(("  log: ", "fix the problem, then resume with:",
                                                "  beampipe run ", "(run with --verbose")):
            continue
        if usage and (line.startswith("usage: ") or line.startswith(" ")):
            continue
        lines.append(line)
    return lines


def _matches(line: str, expected: str) -> bool:
    return bool(re.search(expected[3:], line)) if expected.startswith("re:") else expected in line


@pytest.mark.parametrize("case", [c.param() for c in CASES])
def test_bad_input(case: Case, tmp_path: Any, request: Any) -> None:
    tokens = {"@TMP@": str(tmp_path), "@ROOT@": str(tmp_path / "root"), "@PIPE@": str(tmp_path / "pipe.py")}
    if any("@PGPORT@" in a for a in case.argv):
        tokens["@PGPORT@"] = str(request.getfixturevalue("password_postgres").port)
    if case.pipeline is not None:
        (tmp_path / "pipe.py").write_text(_fill(case.pipeline, tokens))
    for rel, content in case.files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            path.mkdir(exist_ok=True)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(_fill(content, tokens))
    for kind, what in case.setup:
        if kind == "cli":
            done = beampipe([_fill(a, tokens) for a in what], cwd=str(tmp_path))
        else:
            done = python(_fill(what, tokens), cwd=str(tmp_path))
        assert done.returncode == 0, done.stdout + done.stderr
    store = _fill(case.store, tokens).replace("sqlite://", "")
    before = StoreSnapshot.read(store, "bad") if store else None
    originals = {rel: (tmp_path / rel).read_bytes() for rel in case.files if (tmp_path / rel).is_file()}

    out = beampipe([_fill(a, tokens) for a in case.argv], cwd=str(tmp_path), env=case.env, stdin="")

    shown = f"exit {out.returncode}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}"
    assert "Traceback" not in out.stderr and "Traceback" not in out.stdout, shown
    assert SECRET not in out.stdout + out.stderr, shown
    lines = _message_lines(out.stderr, case.usage)
    assert len(lines) == 1, f"expected one message line, got {lines}\n{shown}"
    for expected in case.expect:
        assert _matches(lines[0], _fill(expected, tokens)), f"{expected!r} not in {lines[0]!r}\n{shown}"
    assert out.returncode == case.code, shown
    for rel, content in originals.items():
        assert (tmp_path / rel).read_bytes() == content, f"{rel} was changed"
    for path in case.absent:
        assert not os.path.exists(_fill(path, tokens)), f"{path} was created"
    staging = tmp_path / "root" / ".beampipe" / "staging"
    assert not staging.exists() or not any(staging.iterdir()), f"staging left: {list(staging.iterdir())}"
    if before is not None:
        _check_store(case, StoreSnapshot.read(store, "bad").new_since(before))


def _check_store(case: Case, new: StoreSnapshot) -> None:
    """Nothing RUNNING; the failing node recorded FAILED (never COMPLETE) with no LIVE output."""
    assert not [e for e, (state, _) in new.executions.items() if state == RUNNING], new
    assert not new.running_runs, f"runs left RUNNING: {new.running_runs}"
    if case.node is None:
        assert not new.executions and not new.live_outputs, f"a usage error recorded {new}"
        return
    mine = {e for e, (_, node) in new.executions.items() if node == case.node}
    assert not [e for e in mine if new.executions[e][0] == COMPLETE], new
    assert not [a for a, e in new.live_outputs.items() if e in mine], f"LIVE output of {case.node}: {new}"
    assert [e for e in mine if new.executions[e][0] == FAILED], f"{case.node} not recorded FAILED: {new}"


@pytest.mark.parametrize("target", ["airflow", "kubeflow"])
def test_compile_never_writes_a_password(target: str, tmp_path: Any) -> None:
    """A password given to compile must not end up in a file that goes into version control."""
    import base64
    import gzip

    (tmp_path / "pipe.py").write_text(_fill(TOY, {"@ROOT@": str(tmp_path / "root")}))
    output = tmp_path / "out.txt"
    out = beampipe(["compile", str(tmp_path / "pipe.py"), "--target", target, "-o", str(output),
                    "--metadata-uri", f"postgresql://u:{SECRET}@127.0.0.1:5432/db"], cwd=str(tmp_path))
    assert out.returncode in (0, 2) and "Traceback" not in out.stderr, out.stderr
    assert SECRET not in out.stdout + out.stderr
    written = output.read_text() if output.exists() else ""
    for blob in re.findall(r"b64gz:([A-Za-z0-9+/=]+)", written):
        written += gzip.decompress(base64.b64decode(blob)).decode()
    assert SECRET not in written
