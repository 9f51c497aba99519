"""Runs TFX 1.16's own CsvExampleGen executor on a CSV folder; prints what it wrote, as JSON.

Run by the TFX peer's Python (``/tmp/peer-tfx/bin/python``, built by
``/work/shared/peers/tfx/tfx_setup.sh``), never by beampipe's: it imports TFX.

usage: python tfx_peer_examplegen.py CSV_DIR OUT_DIR [SPLITS_JSON]
  SPLITS_JSON: {"splits": [["train", 2], ["eval", 1]], "partition_feature_name": ""}
prints {"splits": {name: [hex of each example serialized deterministically, ...]}}
"""
import glob
import json
import os
import sys


def main(csv_dir: str, out_dir: str, splits_json: str = "") -> None:
    import tensorflow as tf
    from tfx.components.example_gen.csv_example_gen import executor
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_artifacts
    from tfx.utils import proto_utils

    config = json.loads(splits_json) if splits_json else {}
    split_config = example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name=n, hash_buckets=b)
                for n, b in config.get("splits", [["train", 2], ["eval", 1]])])
    if config.get("partition_feature_name"):  # a oneof: setting "" would select it
        split_config.partition_feature_name = config["partition_feature_name"]
    examples = standard_artifacts.Examples()
    examples.uri = out_dir
    exec_properties = {
        "input_base": csv_dir,
        "input_config": proto_utils.proto_to_json(example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")])),
        "output_config": proto_utils.proto_to_json(example_gen_pb2.Output(split_config=split_config)),
        "output_data_format": example_gen_pb2.FORMAT_TF_EXAMPLE,
        "output_file_format": example_gen_pb2.FORMAT_TFRECORDS_GZIP,
    }
    executor.Executor().Do({}, {"examples": [examples]}, exec_properties)
    result = {}
    for split in split_config.splits:
        files = sorted(glob.glob(os.path.join(out_dir, f"Split-{split.name}", "*")))
        records = tf.data.TFRecordDataset(files, compression_type="GZIP") if files else []
        result[split.name] = [tf.train.Example.FromString(r.numpy()).SerializeToString(deterministic=True).hex()
                              for r in records]
    print("RESULT " + json.dumps({"splits": result}))


if __name__ == "__main__":
    main(*sys.argv[1:])
