"""ExampleGen puts every example in the split TFX 1.16 puts it in, with the same content.

Two kinds of test:
- golden split assignments recorded from a real TFX 1.16 run (no TFX needed; fast);
- the same comparison live against TFX's own CsvExampleGen executor, run by the TFX peer
  (``bash /work/shared/peers/tfx/tfx_setup.sh`` builds it in /tmp/peer-tfx; ``BEAMPIPE_TFX_PEER``
  names another Python with TFX 1.16). Skipped, saying so, when the peer is not there.

How the golden values were produced (one character per data row, in file order: the index of
the split TFX wrote the row's example to), on 2026-11-26 with TFX 1.16.0 / tfx-bsl 1.16.1::

    /tmp/peer-tfx/bin/python tests/support/tfx_peer_examplegen.py DIR OUT '{"splits": [["train", 2],
        ["eval", 1]]}' > tfx.json       # DIR holds only the CSV; SPLITS as in each constant's comment
    PYTHONPATH=. python -c 'from tests.components.test_example_gen_tfx_splits import golden;
        print(golden("DIR/penguins.csv", "tfx.json"))'   # golden(..., partition) for the island/year maps
"""
from __future__ import annotations

import collections
import glob
import json
import os
import subprocess

import pytest

from beampipe.components.example_gen import CsvExampleGen
from beampipe.proto import Output, SplitConfig
from beampipe.transforms.csv_decode import scan_csv
from beampipe.transforms.example_io import CsvFileToExamples, HashBuckets, _example_class, tfrecords
from tests.components.test_example_gen import run_example_gen

HERE = os.path.dirname(os.path.abspath(__file__))
PEER_SCRIPT = os.path.join(HERE, "..", "support", "tfx_peer_examplegen.py")
TEN = [[f"s{i}", 1] for i in range(10)]
# The edge cases: a quoted comma, a quoted newline, an all-empty column (TFX: an empty Feature),
# an integer beyond int64 (TFX: a BYTES column), nan/-inf, empty cells, a blank line, "" quotes.
EDGE_CSV = ('id,name,score,count,empty,big,note\n1,"Smith, J",0.5,3,,12,plain\n'
            '2,Zoë,1e3,,,9223372036854775808,"two\nlines"\n3, spaced ,nan,-7,,5,\n\n4,,2,0,,,x\n'
            '5,b,-inf,12,,7,"say ""hi"""\n6,c,,9,,-3,y\n7,d,0.25,1,,0,z\n8,e,3,2,,,\n')

# Recorded from TFX 1.16 (see the module docstring): examples/penguin/data/penguins.csv, 344 rows.
PENGUINS_DEFAULT = (  # train 2 : eval 1
    "01100101001000000001010000000001101000000000101110110110100100000110100001100000001101"
    "10000011110001000100001010110100001011000000111101110000000111110110001101100011001100"
    "01100100100111000110101011110010000001101010111101000000110101100101101000010000111100"
    "01101100010101000011011010010001010010011100011110010101010001000010100101110000001100")
PENGUINS_TEN = (  # ten splits of one bucket: the bucket itself
    "01755077478675592572770782204450213475883734347086762868629678313947342422244062332480"
    "60004428760622723498239674352579991982108875511846488171985241331915570020405540831700"
    "64332255802988821165634500568925674862317677565181579614099613954481388699812325206483"
    "78841412402434575751345382082121785813516497254475715930993918421928804453806641886127")
# partition_feature_name="island" / "year" (an INT feature), train 3 : eval 1 : test 1
PENGUINS_ISLAND = {"Torgersen": 1, "Biscoe": 0, "Dream": 0}
PENGUINS_YEAR = {"2007": 1, "2008": 0, "2009": 0}
EDGE_TEN = "50316936"  # EDGE_CSV, ten splits of one bucket


def row_splits(csv_path: str, buckets: list[int], partition: str = "") -> list[int]:
    """The split index beampipe gives each data row, in file order (no Beam)."""
    layout = scan_csv([csv_path])
    reader = CsvFileToExamples(layout.header, layout.types, partition, layout)
    choose = HashBuckets(buckets)
    return [choose(keyed, len(buckets)) for keyed in reader(csv_path)]


def golden(csv_path: str, tfx_json: str, partition: str = "") -> str:
    """The golden string for a CSV from the peer's output: each row's TFX split index."""
    splits = json.loads(open(tfx_json).read().split("RESULT ", 1)[1])["splits"]
    where = {hexed: i for i, name in enumerate(splits) for hexed in splits[name]}
    layout = scan_csv([csv_path])
    reader = CsvFileToExamples(layout.header, layout.types, partition, layout)
    return "".join(str(where[record.hex()]) for _, record in reader(csv_path))


def _as_string(splits: list[int]) -> str:
    return "".join(map(str, splits))


def test_penguin_rows_split_as_tfx(penguin_csv):
    assert _as_string(row_splits(penguin_csv, [2, 1])) == PENGUINS_DEFAULT
    assert _as_string(row_splits(penguin_csv, [1] * 10)) == PENGUINS_TEN


def test_partition_feature_splits_as_tfx(penguin_csv):
    import csv
    with open(penguin_csv) as f:
        rows = list(csv.DictReader(f))
    for column, expected in (("island", PENGUINS_ISLAND), ("year", PENGUINS_YEAR)):
        got = dict(zip((r[column] for r in rows), row_splits(penguin_csv, [3, 1, 1], column)))
        assert got == expected, column


def test_edge_case_rows_split_as_tfx(tmp_path):
    path = tmp_path / "edge.csv"
    path.write_text(EDGE_CSV, encoding="utf-8")
    assert _as_string(row_splits(str(path), [1] * 10)) == EDGE_TEN


def test_partition_feature_rules(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("f,e,s\n0.5,,a\n1.5,,b\n", encoding="utf-8")
    with pytest.raises(ValueError, match="FLOAT feature"):
        row_splits(str(path), [1, 1], "f")
    with pytest.raises(ValueError, match="no value list"):
        row_splits(str(path), [1, 1], "e")
    assert len(row_splits(str(path), [1, 1], "s")) == 2


# ---- live, against TFX's own executor ----

def _peer_python() -> str:
    python = os.environ.get("BEAMPIPE_TFX_PEER", "/tmp/peer-tfx/bin/python")
    if not os.path.isfile(python):
        pytest.skip(f"no TFX 1.16 peer at {python}: build it with bash /work/shared/peers/tfx/tfx_setup.sh "
                    "(or point BEAMPIPE_TFX_PEER at a Python with tfx 1.16)")
    return python


def _tfx_splits(csv_dir: str, out: str, splits: list, partition: str = "") -> dict[str, collections.Counter]:
    config = json.dumps({"splits": splits, "partition_feature_name": partition})
    done = subprocess.run([_peer_python(), PEER_SCRIPT, csv_dir, out, config], capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("RESULT ", 1)[1])["splits"]
    return {name: collections.Counter(records) for name, records in result.items()}


def _beampipe_splits(csv_dir: str, tmp_path, splits: list, partition: str = "") -> dict[str, collections.Counter]:
    config = Output(split_config=SplitConfig(splits=[SplitConfig.Split(n, b) for n, b in splits],
                                             partition_feature_name=partition))
    examples = run_example_gen(CsvExampleGen(input_base=csv_dir, output_config=config), tmp_path, "bp")
    parse = _example_class().FromString
    return {name: collections.Counter(parse(r).SerializeToString(deterministic=True).hex()
                                      for f in sorted(glob.glob(os.path.join(examples.split_uri(name), "*")))
                                      for r in tfrecords(f))
            for name in examples.splits}


def _tfx_penguin_csv() -> str:
    path = os.path.join(os.path.dirname(os.path.dirname(_peer_python())), "data", "labelled",
                        "penguins_processed.csv")
    if not os.path.isfile(path):
        pytest.skip(f"{path} is missing: tfx_setup.sh writes it")
    return path


@pytest.mark.e2e
@pytest.mark.parametrize("source,splits,partition", [
    ("tfx", [["train", 2], ["eval", 1]], ""),
    ("beampipe", [["train", 2], ["eval", 1]], ""),
    ("beampipe", [["train", 3], ["eval", 1], ["test", 1]], "island"),
    ("edge", TEN, ""),
])
def test_same_examples_per_split_as_tfx(source, splits, partition, penguin_csv, tmp_path):
    csv_dir = tmp_path / "in"
    csv_dir.mkdir()
    if source == "edge":
        (csv_dir / "edge.csv").write_text(EDGE_CSV, encoding="utf-8")
    else:
        src = _tfx_penguin_csv() if source == "tfx" else penguin_csv
        (csv_dir / os.path.basename(src)).write_bytes(open(src, "rb").read())
    theirs = _tfx_splits(str(csv_dir), str(tmp_path / "tfx"), splits, partition)
    ours = _beampipe_splits(str(csv_dir), tmp_path, splits, partition)
    assert list(ours) == list(theirs)
    for name in theirs:
        assert ours[name] == theirs[name], (name, sum(ours[name].values()), sum(theirs[name].values()),
                                            sum((ours[name] & theirs[name]).values()))
