"""Example files read and decoded in a child process, the record batches handed back in order.

With ``--direct_num_workers=2 --direct_running_mode=multi_processing`` StatisticsGen keeps
its streamed path (``tfdv_stream``) and uses the second core as a pipeline stage: the child
inflates, checks and decodes the files (``tfdv_stream.batch_groups``: the same batches as
in-process), the parent runs TFDV's combiners on them in the order they come. The
statistics are therefore the one-process statistics, byte for byte.

The child is a plain ``python -c`` running :func:`main`, not a multiprocessing worker:
spawn and forkserver import the parent's ``__main__`` again (a user's pipeline script), and
fork is unsafe once TensorFlow's threads run. Frames go over its stdin/stdout: an 8-byte
length, a tag, then a pickle (jobs, the end, errors) or Arrow IPC streams (batches). It exits when its stdin closes or its stdout breaks, so it dies with
the parent; ``close`` kills it when the parent stops early.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from typing import Any, BinaryIO, Iterator

_LENGTH = struct.Struct("<Q")
_PIPE_BYTES = 4 << 20  # room for about two decoded groups in flight
_END = "end"
_PICKLE, _ARROW = b"p", b"a"


def _write(out: BinaryIO, obj: Any) -> None:
    """A control message (pickled), or a list of record batches (Arrow IPC: no copies)."""
    if isinstance(obj, list):
        import pyarrow as pa
        sink = pa.BufferOutputStream()
        for run in _same_schema_runs(obj):
            with pa.ipc.new_stream(sink, run[0].schema) as writer:
                for batch in run:
                    writer.write_batch(batch)
        data, tag = sink.getvalue(), _ARROW
    else:
        data, tag = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL), _PICKLE
    out.write(_LENGTH.pack(len(data)) + tag)
    out.write(memoryview(data))
    out.flush()


def _same_schema_runs(batches: list[Any]) -> list[list[Any]]:
    runs: list[list[Any]] = []
    for batch in batches:
        if runs and runs[-1][0].schema.equals(batch.schema):
            runs[-1].append(batch)
        else:
            runs.append([batch])
    return runs


def _read(stream: BinaryIO) -> Any:
    head = stream.read(_LENGTH.size + 1)
    if len(head) < _LENGTH.size + 1:
        raise EOFError
    size, tag = _LENGTH.unpack(head[:-1])[0], head[-1:]
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    if tag == _PICKLE:
        return pickle.loads(data)
    import pyarrow as pa
    source, batches = pa.BufferReader(data), []
    while source.tell() < size:  # one IPC stream per run of batches with one schema
        batches.extend(pa.ipc.open_stream(source))
    return batches


def _widen(fd: int) -> None:
    """A larger pipe buffer, so the child can run a group ahead (Linux; elsewhere a no-op)."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass


class DecodeProcess:
    """A child process that turns example files into ``tfdv_stream``'s batches, one job at a time."""

    def __init__(self) -> None:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        # This beampipe, first on the path (before the working directory, which may hold another)
        code = f"import sys; sys.path.insert(0, {root!r}); from {__name__} import main; main()"
        self._proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        _widen(self._proc.stdout.fileno())
        self._busy = False

    def batches(self, files: list[str], decode_schema: Any = None, batch_size: int = 1000) -> Iterator[Any]:
        """The record batches of ``files``, as ``tfdv_stream.record_batches`` yields them."""
        if self._busy:
            raise RuntimeError("DecodeProcess: one job at a time")
        schema = decode_schema.SerializeToString() if decode_schema is not None else None
        self._busy = True
        _write(self._proc.stdin, (list(files), schema, batch_size))
        while True:
            try:
                message = _read(self._proc.stdout)
            except EOFError:
                self.close()
                raise RuntimeError(f"the decoding process ended (exit code {self._proc.poll()})") from None
            if message == _END:
                self._busy = False
                return
            if isinstance(message, tuple):  # (exception type name, message)
                self._busy = False
                kind = {"ValueError": ValueError, "OSError": OSError}.get(message[0], RuntimeError)
                raise kind(message[1])
            yield from message

    def close(self) -> None:
        """Stop the child: at once when a job is unfinished, else by closing its stdin."""
        if self._proc.poll() is None:
            if self._busy:
                self._proc.kill()
            else:
                self._proc.stdin.close()
        self._proc.wait()
        self._proc.stdout.close()
        if not self._proc.stdin.closed:
            self._proc.stdin.close()

    def __enter__(self) -> "DecodeProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _serve(inp: BinaryIO, out: BinaryIO) -> None:
    """The child's loop: a job in, its batch groups out, then the end marker (or the error)."""
    from beampipe.transforms import tfdv_stream
    while True:
        try:
            files, schema_bytes, batch_size = _read(inp)
        except EOFError:
            return
        schema = None
        if schema_bytes is not None:
            from tensorflow_metadata.proto.v0 import schema_pb2
            schema = schema_pb2.Schema.FromString(schema_bytes)
        try:
            # the child's stage is the longer one: inflating in a thread shortens it
            for group in tfdv_stream.batch_groups(files, schema, batch_size, inflate_ahead=True):
                _write(out, group)
        except Exception as err:  # noqa: BLE001  - handed to the parent, which raises it
            _write(out, (type(err).__name__, str(err)))
            continue
        _write(out, _END)


def main() -> None:
    out = os.fdopen(os.dup(1), "wb")  # the frames' own descriptor: a stray print goes to stderr
    os.dup2(2, 1)
    try:
        _serve(sys.stdin.buffer, out)
    except BrokenPipeError:  # the parent is gone
        os._exit(0)


if __name__ == "__main__":
    main()
