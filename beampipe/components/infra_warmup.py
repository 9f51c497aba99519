"""InfraValidator's ``make_warmup``: the validated model, stamped with TF Serving warmup requests.

Runs in the InfraValidator worker process (it has TF loaded). As TFX: a copy of the SavedModel
at ``<blessing>/stamped_model/`` whose ``assets.extra/tf_serving_warmup_requests`` is a TFRecord
file of PredictionLogs, one request per sample example and signature, typed by the signature's
method (predict, classify or regress), which TF Serving replays at load time.
"""
from __future__ import annotations

import os
import shutil
from typing import Any


def write_warmup_model(model_path: str, target: str, model_name: str, signatures: list[str],
                       tags: list[str], records: list[bytes]) -> None:
    import tensorflow as tf
    from tensorflow.python.saved_model import loader_impl

    meta = next((m for m in loader_impl.parse_saved_model(model_path).meta_graphs
                 if set(m.meta_info_def.tags) == set(tags)), None)
    if meta is None:
        raise ValueError(f"{model_path}: no meta graph with tags {tags}")
    if os.path.exists(target):
        shutil.rmtree(target)  # a previous attempt's copy
    shutil.copytree(model_path, target)
    os.makedirs(os.path.join(target, "assets.extra"), exist_ok=True)
    with tf.io.TFRecordWriter(os.path.join(target, "assets.extra", "tf_serving_warmup_requests")) as writer:
        for name in signatures:
            sig = meta.signature_def[name]
            for record in records:
                writer.write(_log(sig, name, model_name, record).SerializeToString())


def _log(sig: Any, name: str, model_name: str, record: bytes) -> Any:
    import tensorflow as tf
    from tensorflow_serving.apis import (classification_pb2, model_pb2, predict_pb2, prediction_log_pb2,
                                         regression_pb2)

    spec = model_pb2.ModelSpec(name=model_name, signature_name=name)
    if sig.method_name == tf.saved_model.CLASSIFY_METHOD_NAME:
        request = classification_pb2.ClassificationRequest(model_spec=spec)
        request.input.example_list.examples.add().ParseFromString(record)
        return prediction_log_pb2.PredictionLog(classify_log=prediction_log_pb2.ClassifyLog(request=request))
    if sig.method_name == tf.saved_model.REGRESS_METHOD_NAME:
        request = regression_pb2.RegressionRequest(model_spec=spec)
        request.input.example_list.examples.add().ParseFromString(record)
        return prediction_log_pb2.PredictionLog(regress_log=prediction_log_pb2.RegressLog(request=request))
    [alias] = list(sig.inputs)
    request = predict_pb2.PredictRequest(model_spec=spec)
    request.inputs[alias].CopyFrom(tf.make_tensor_proto([record], dtype=tf.string))
    return prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
