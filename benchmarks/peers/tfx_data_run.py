"""TFX 1.16's CsvExampleGen -> StatisticsGen -> SchemaGen -> Transform on one CSV, timed per component.

Runs in the TFX peer venv (``../shared/peers/tfx/tfx_setup.sh`` builds /tmp/peer-tfx, Python 3.10); called by
``benchmarks/vs_tfx_data.py``. Each component's time is its execution's span in TFX's own MLMD store
(registered before the executor starts, updated when it publishes). Prints one JSON line.

    /tmp/peer-tfx/bin/python benchmarks/peers/tfx_data_run.py DATA_DIR MODULE_FILE ROOT
"""
import json
import os
import resource
import sys
import time

t0 = time.time()
from tfx import v1 as tfx  # noqa: E402
from tfx.orchestration import metadata  # noqa: E402

data, module_file, root = sys.argv[1], sys.argv[2], sys.argv[3]
db = os.path.join(root, "metadata.db")
gen = tfx.components.CsvExampleGen(input_base=data)
stats = tfx.components.StatisticsGen(examples=gen.outputs["examples"])
schema = tfx.components.SchemaGen(statistics=stats.outputs["statistics"])
transform = tfx.components.Transform(examples=gen.outputs["examples"], schema=schema.outputs["schema"],
                                     module_file=module_file)
pipeline = tfx.dsl.Pipeline(
    pipeline_name="taxi_data", pipeline_root=os.path.join(root, "pipelines"),
    components=[gen, stats, schema, transform], enable_cache=False,
    metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(db),
    beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])
t1 = time.time()
tfx.orchestration.LocalDagRunner().run(pipeline)
wall = time.time() - t1
seconds = {}
with metadata.Metadata(metadata.sqlite_metadata_connection_config(db)) as m:
    types = {t.id: t.name for t in m.store.get_execution_types()}
    for execution in m.store.get_executions():
        name = types[execution.type_id].rsplit(".", 1)[-1]
        seconds[name] = (execution.last_update_time_since_epoch - execution.create_time_since_epoch) / 1000
rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
          resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024
print(json.dumps({"import": t1 - t0, "run": wall, "seconds": seconds, "rss_mb": rss}))
