"""The student side of the recorder: runs one student's cells and records trajectories on request.

The class grader starts this file in a fresh sandboxed process (:mod:`.record`) that holds the
student's code cells, NumPy, and the assignment's *recorder* — its scenario data classes and
``run_trajectory`` (for ``optimizers``, :mod:`autograder.checks` with the mistake catalogue
replaced by a stand-in) — and nothing else: no ``dlcourse``, no catalogue, no alternative
forms, no other package. The grader sends one scenario at a time (drawn at grading time from
a seed the student never sees); this process runs the student's code over it and sends back
the trajectory as plain data. The verdict is computed in the grader's process, against the
reference, from that data alone: whatever the student's code does here (patch NumPy, rewrite
the recorder, read this process's memory) can change only the answers it gives, and a
correct answer for an unseen scenario needs a correct implementation, of which there is
none here but the student's own.

Wire format (both directions, over one unix-socket connection the grader listens on):
``frame = u32 length | payload``, ``payload = u32 header length | JSON header | blobs``,
each blob ``u32 length | raw bytes``. In the JSON, arrays are ``{"$a": [blob, dtype, shape]}``
(numeric dtypes only, rebuilt with ``frombuffer``), NumPy scalars ``{"$s": ...}`` likewise,
tuples ``{"$t": [...]}`` and dicts ``{"$d": [[key, value], ...]}`` (str keys). Decoding
enforces byte, depth and count caps and rejects anything else, in both directions.

Messages: the server says ``hello`` before any student code runs (so a process that never
greets is the grader's fault, not the student's), ``ready`` after the cells ran (which
targets they define, which cells raised), then answers each ``record`` request
(``target``, ``scenario``: the recorder's data class name and its fields) with a
``trajectory`` (``Trajectory.to_dict()``), or ``error`` for a malformed request.

Run as ``python remote.py SOCKET JOB.json`` (``JOB.json``: the code cells, the targets, the
recorder module's name).
"""

from __future__ import annotations

import copy
import importlib
import json
import linecache
import os
import signal
import socket
import struct
import sys

import numpy as np

MAX_FRAME = 256 * 2**20       # bytes in one message
MAX_DEPTH = 32                # nesting of tuples/lists/dicts
MAX_ITEMS = 100_000           # containers' items and blobs in one message
_NUMERIC = "biufc"


class WireError(ValueError):
    """A message that breaks the format (too big, too deep, wrong types)."""


# ---------------------------------------------------------------------------- encoding
class Encoder:
    """Turns a value into (header, blobs); ``objects`` maps unknown objects to handles."""

    def __init__(self):
        self.blobs: list[bytes] = []

    def blob(self, arr: np.ndarray) -> int:
        self.blobs.append(np.ascontiguousarray(arr).tobytes())
        return len(self.blobs) - 1

    def encode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        t = type(value)
        if value is None or t in (bool, int, float, str):
            return value
        if t is np.ndarray:
            if value.dtype.kind not in _NUMERIC:
                raise WireError(f"array of dtype {value.dtype} (only numeric arrays are accepted)")
            return {"$a": [self.blob(value), value.dtype.str, list(value.shape)]}
        if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC:
            return {"$s": [self.blob(np.asarray(value)), value.dtype.str, []]}
        if t is tuple:
            return {"$t": [self.encode(v, depth + 1) for v in value]}
        if t is list:
            return [self.encode(v, depth + 1) for v in value]
        if t is dict:
            if not all(type(k) is str for k in value):
                raise WireError("dict keys must be str")
            return {"$d": [[k, self.encode(v, depth + 1)] for k, v in value.items()]}
        raise WireError(f"cannot send a {t.__name__}")


def pack(header: dict, blobs: list[bytes]) -> bytes:
    head = json.dumps(header, allow_nan=True).encode()
    body = struct.pack(">I", len(head)) + head + b"".join(struct.pack(">I", len(b)) + b for b in blobs)
    if len(body) > MAX_FRAME:
        raise WireError(f"message of {len(body)} bytes exceeds {MAX_FRAME}")
    return struct.pack(">I", len(body)) + body


def unpack(body: bytes) -> tuple[dict, list[bytes]]:
    if len(body) < 4:
        raise WireError("truncated message")
    (n,) = struct.unpack(">I", body[:4])
    if n > len(body) - 4:
        raise WireError("truncated header")
    try:
        header = json.loads(body[4:4 + n].decode())
    except (UnicodeDecodeError, ValueError) as exc:
        raise WireError(f"header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise WireError("header is not an object")
    blobs, pos = [], 4 + n
    while pos < len(body):
        if len(blobs) >= MAX_ITEMS or pos + 4 > len(body):
            raise WireError("malformed blobs")
        (m,) = struct.unpack(">I", body[pos:pos + 4])
        if pos + 4 + m > len(body):
            raise WireError("truncated blob")
        blobs.append(body[pos + 4:pos + 4 + m])
        pos += 4 + m
    return header, blobs


class Decoder:
    """The inverse of :class:`Encoder`, trusting nothing."""

    def __init__(self, blobs: list[bytes]):
        self.blobs = blobs
        self.items = 0

    def array(self, spec) -> np.ndarray:
        """A fresh, writable array from ``[blob index, dtype string, shape]``."""
        if (type(spec) is not list or len(spec) != 3 or type(spec[0]) is not int
                or not 0 <= spec[0] < len(self.blobs) or type(spec[1]) is not str or len(spec[1]) > 8
                or type(spec[2]) is not list or len(spec[2]) > 32
                or not all(type(n) is int and 0 <= n for n in spec[2])):
            raise WireError("bad array reference")
        try:
            dtype = np.dtype(spec[1])
        except TypeError:
            raise WireError(f"unknown dtype {spec[1]!r}") from None
        if dtype.kind not in _NUMERIC or dtype.fields is not None or dtype.subdtype is not None:
            raise WireError(f"dtype {dtype} is not numeric")
        data = self.blobs[spec[0]]
        count = 1
        for n in spec[2]:
            count *= n
        if count * dtype.itemsize != len(data):
            raise WireError("array size does not match its data")
        return np.frombuffer(data, dtype=dtype).reshape(spec[2]).copy()

    def decode(self, value, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        self.items += 1
        if self.items > MAX_ITEMS:
            raise WireError("too many items")
        if value is None or type(value) in (bool, int, float, str):
            return value
        if type(value) is list:
            return [self.decode(v, depth + 1) for v in value]
        if type(value) is not dict or len(value) != 1:
            raise WireError("malformed value")
        (tag, body), = value.items()
        if tag == "$a":
            return self.array(body)
        if tag == "$s":
            arr = self.array(body)
            if arr.shape != ():
                raise WireError("scalar with a shape")
            return arr[()]
        if tag == "$t" and type(body) is list:
            return tuple(self.decode(v, depth + 1) for v in body)
        if tag == "$d" and type(body) is list:
            out = {}
            for pair in body:
                if type(pair) is not list or len(pair) != 2 or type(pair[0]) is not str:
                    raise WireError("malformed dict")
                out[pair[0]] = self.decode(pair[1], depth + 1)
            return out
        raise WireError(f"unexpected {tag!r}")


def send(sock: socket.socket, header: dict, blobs: list[bytes]) -> None:
    sock.sendall(pack(header, blobs))


class Reader:
    """Reads frames from a socket with one buffer, so a small message costs one ``recv``."""

    def __init__(self, sock: socket.socket, max_frame: int = MAX_FRAME):
        self.sock = sock
        self.buf = bytearray()
        self.max_frame = max_frame

    def _fill(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(1 << 16, n - len(self.buf)))
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk

    def frame(self) -> tuple[dict, list[bytes]]:
        self._fill(4)
        (n,) = struct.unpack_from(">I", self.buf)
        if n > self.max_frame:
            raise WireError(f"message of {n} bytes exceeds {self.max_frame}")
        self._fill(4 + n)
        body = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        return unpack(body)


# ---------------------------------------------------------------------------- the server
def isolated(obj):
    """A subclass of class ``obj`` with fresh copies of its class-level mutable attributes,
    so each scenario starts clean (within a scenario, instances still share class state, so
    that mistake still shows). Functions and exotic classes are returned unchanged."""
    if not isinstance(obj, type):
        return obj
    namespace = {}
    for klass in reversed(obj.__mro__[:-1]):
        for key, value in vars(klass).items():
            if not key.startswith("__") and isinstance(value, (dict, list, set, np.ndarray)):
                try:
                    namespace[key] = copy.deepcopy(value)
                except Exception:  # noqa: BLE001 - not copyable: leave it shared
                    pass
    if not namespace:
        return obj
    try:
        return type(obj)(obj.__name__, (obj,), namespace)
    except Exception:  # noqa: BLE001
        return obj


def _undefined(name: str):
    def missing(*args, **kwargs):
        raise NameError(f"name {name!r} is not defined (no cell defines it)")
    missing.__name__ = name
    return missing


class CellTimeout(BaseException):
    """A cell ran past its time limit (raised by the alarm, like nbgrader's per-cell timeout)."""


def _alarm(signum, frame):
    raise CellTimeout()


class Server:
    """Runs the student's cells once, then records trajectories on request.

    Each cell gets ``cell_seconds`` (a scratch cell that trains for a while, or never ends,
    costs that cell only, as in nbgrader's own run); a cell that raises, ``exit()`` or times
    out is recorded and the next one runs. The grader's deadline outside bounds it all.
    """

    def __init__(self, cells: list[str], targets: dict[str, str], recorder, cell_seconds: float = 60.0):
        self.namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
        self.targets = dict(targets)          # target -> the name the student's cells define
        self.recorder = recorder
        self.cell_errors: list[dict] = []
        signal.signal(signal.SIGALRM, _alarm)
        for i, src in enumerate(cells):
            name = f"<cell {i + 1}>"
            linecache.cache[name] = (len(src), None, src.splitlines(True), name)
            try:
                signal.setitimer(signal.ITIMER_REAL, cell_seconds)
                exec(compile(src, name, "exec"), self.namespace)  # noqa: S102 - the student's code, sandboxed
            except CellTimeout:
                self.cell_errors.append({"cell": i + 1, "type": "CellTimeout",
                                         "message": f"ran past its {cell_seconds:g} s limit"})
            except BaseException as exc:  # noqa: BLE001 - a failing cell is recorded, the rest still run
                self.cell_errors.append({"cell": i + 1, "type": type(exc).__name__, "message": str(exc)[:300]})
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)

    def hello(self) -> dict:
        present = {t: name in self.namespace for t, name in self.targets.items()}
        return {"op": "ready", "present": present, "cell_errors": self.cell_errors}

    def run(self, request: dict, blobs: list[bytes]) -> tuple[dict, list[bytes]]:
        if request.get("op") != "record":
            raise WireError(f"unknown op {request.get('op')!r}")
        target = request.get("target")
        if target not in self.targets:
            raise WireError(f"unknown target {target!r}")
        spec = request.get("scenario")
        if type(spec) is not dict or type(spec.get("class")) is not str:
            raise WireError("malformed scenario")
        fields = Decoder(blobs).decode(spec.get("fields"))
        cls = getattr(self.recorder, spec["class"], None)
        if not isinstance(cls, type) or type(fields) is not dict:
            raise WireError("unknown scenario class")
        scenario = cls(**fields)
        name = self.targets[target]
        code = self.namespace.get(name)
        code = isolated(code) if code is not None else _undefined(name)
        data = self.recorder.run_trajectory(code, scenario).to_dict()
        for entry in (data.get("values") or {}).values():     # numbers travel as arrays, not JSON lists
            if isinstance(entry, dict) and isinstance(entry.get("data"), list):
                entry["data"] = np.asarray(entry["data"], dtype=np.float64)
        enc = Encoder()
        return {"op": "trajectory", "data": enc.encode(data)}, enc.blobs


def main(argv: list[str]) -> int:
    """``remote.py SOCKET JOB.json``: connect, greet, run the cells, answer until closed."""
    sock_path, job_path = argv[0], argv[1]
    with open(job_path, encoding="utf-8") as fh:
        job = json.load(fh)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(sock_path)
    # greet before any student code runs: a server that never says hello is the grader's fault
    send(sock, {"op": "hello"}, [])
    recorder = importlib.import_module(job["recorder"])
    quiet = os.open(os.devnull, os.O_WRONLY)      # the student's prints go nowhere
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    server = Server(list(job["cells"]), dict(job["targets"]), recorder, float(job.get("cell_seconds", 60)))
    send(sock, server.hello(), [])
    reader = Reader(sock)
    while True:
        try:
            request, blobs = reader.frame()
        except EOFError:
            return 0
        try:
            reply, rblobs = server.run(request, blobs)
        except Exception as exc:  # noqa: BLE001 - a malformed request, or a recorder the student broke
            reply, rblobs = {"op": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}, []
        send(sock, reply, rblobs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
