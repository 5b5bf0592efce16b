"""A review worker process: decodes and judges admission reviews away from the server's event loop.

Run as ``python -m zenflow.webhook.worker [--nice N] [--max-rss-mib M]`` by
``zenflow.webhook.pool``, which talks to it over its stdin/stdout with length-prefixed frames:

    parent -> worker   header ``>BddI`` (mode, alarm: wall-clock seconds, slice: CPU seconds,
                       body length), then the body: an AdmissionReview (validate, mutate), or
                       for ``MODE_TEMPLATES`` the parent's pickle of (``Outcome``, templates
                       read), judged by ``zenflow.webhook.templatejudge``
    worker -> parent   one byte ``READY`` once warmed up; then per review a header ``>BI``
                       (status, length) and, for status OK/RETIRING, a pickled ``Outcome``

Invariants:
- One review at a time; the frame stream is the only thing written to the original stdout
  (``print`` and stray writes go to stderr).
- A review still running when its alarm fires (its wall-clock budget, status EXPIRED) or when it
  has used its slice of CPU time (status SLICED; CPU, so that waiting for a busy machine's CPU
  does not count) is abandoned and the worker stays usable: the timer raises ``_Expired``, a
  ``BaseException`` that the validator's own ``except Exception`` handlers cannot swallow.
- After a review that left the process above ``--max-rss-mib``, the answer carries RETIRING and
  the process exits, so the memory a huge body took is returned to the system.
- End of input (the parent closed the pipe or died) ends the process.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import struct
import sys
from types import FrameType
from typing import BinaryIO, Final

from zenflow.core.validation.validator import validate_object
from zenflow.webhook.admission import Outcome, handle_review
from zenflow.webhook.mutation import handle_mutation
from zenflow.webhook.templatejudge import judge
from zenflow.webhook.warmup import warm_up_reviews

REQUEST: Final = struct.Struct(">BddI")
RESPONSE: Final = struct.Struct(">BI")
READY: Final = b"R"
MODE_VALIDATE: Final = 0
MODE_MUTATE: Final = 1
MODE_TEMPLATES: Final = 2
STATUS_OK: Final = 0
STATUS_EXPIRED: Final = 1
STATUS_RETIRING: Final = 2
STATUS_SLICED: Final = 3


class _Expired(BaseException):
    """A review's timer fired (a BaseException, so ``except Exception`` lets it through)."""

    def __init__(self, sliced: bool) -> None:
        super().__init__("slice" if sliced else "alarm")
        self.sliced = sliced


_armed = False


def _on_timer(signum: int, _frame: FrameType | None) -> None:
    if _armed:
        raise _Expired(sliced=signum == signal.SIGVTALRM)


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def review_once(mode: int, body: bytes, alarm: float, cpu_slice: float = 0.0) -> Outcome | bool:
    """The answer to ``body``; or True when ``cpu_slice`` CPU seconds were used first, False when
    ``alarm`` wall-clock seconds passed first (0: no such limit)."""
    global _armed
    try:
        _armed = True
        if alarm > 0:
            signal.setitimer(signal.ITIMER_REAL, alarm)
        if cpu_slice > 0:
            signal.setitimer(signal.ITIMER_VIRTUAL, cpu_slice)
        if mode == MODE_MUTATE:
            return handle_mutation(body)
        if mode == MODE_TEMPLATES:
            # The parent's own pickle (its review's Outcome and the templates it read), not
            # bytes from the network.
            outcome, found = pickle.loads(body)
            return judge(outcome, found)
        return handle_review(body, validate=validate_object)
    except _Expired as expired:
        return expired.sliced
    finally:
        _armed = False  # from here on a late timer is ignored, then the timers are cleared
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)


def serve(inp: BinaryIO, out: BinaryIO, *, max_rss_mib: float) -> None:
    """Answer frames from ``inp`` on ``out`` until end of input."""
    signal.signal(signal.SIGALRM, _on_timer)
    signal.signal(signal.SIGVTALRM, _on_timer)
    for review in warm_up_reviews():  # load the validator's lazy parts first
        review_once(MODE_VALIDATE, review, 0)
    out.write(READY)
    out.flush()
    while True:
        header = _read_exactly(inp, REQUEST.size)
        if header is None:
            return
        mode, alarm, cpu_slice, length = REQUEST.unpack(header)
        body = _read_exactly(inp, length)
        if body is None:
            return
        outcome = review_once(mode, body, alarm, cpu_slice)
        del body
        if isinstance(outcome, bool):
            out.write(RESPONSE.pack(STATUS_SLICED if outcome else STATUS_EXPIRED, 0))
            out.flush()
            continue
        data = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
        retiring = max_rss_mib > 0 and _rss_mib() > max_rss_mib
        out.write(RESPONSE.pack(STATUS_RETIRING if retiring else STATUS_OK, len(data)) + data)
        out.flush()
        if retiring:
            return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zenflow.webhook.worker")
    parser.add_argument("--nice", type=int, default=0, help="lower this process's priority")
    parser.add_argument("--max-rss-mib", type=float, default=0.0, help="retire above this RSS")
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    # Frames go to the original stdout only; anything printed lands on stderr.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        serve(sys.stdin.buffer, out, max_rss_mib=args.max_rss_mib)
    except (BrokenPipeError, KeyboardInterrupt):
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
