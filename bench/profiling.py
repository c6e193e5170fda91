"""`--profile DIR`: sample Vigil's processes with py-spy while a benchmark measures them.

py-spy is not a dependency (`pip install py-spy`); without it, profiling is skipped with a note.
Each process gets DIR/<name>.txt: py-spy's collapsed stacks ("a;b;c count"), which
`python -m bench.profiling DIR/<name>.txt` summarises. Only the thread holding the GIL is sampled
(`--gil`): the samples show where Python spends CPU, not where it waits.
"""

import contextlib
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def py_spy(processes: dict[str, int], directory: Path | None, rate: int = 100) -> Iterator[None]:
    """Record `processes` (name -> pid) while the block runs, if a directory is given."""
    binary = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if directory is None or not processes:
        yield
        return
    if binary is None:
        print("profiling skipped: py-spy is not installed (pip install py-spy)")
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    recorders = [
        subprocess.Popen(
            [
                binary,
                "record",
                "--pid",
                str(pid),
                "--rate",
                str(rate),
                "--format",
                "raw",
                "--gil",
                "--subprocesses",  # `vigil worker`'s activity processes
                "--output",
                str(directory / f"{name}.txt"),
                "--nonblocking",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name, pid in processes.items()
    ]
    try:
        yield
    finally:
        for recorder in recorders:
            recorder.send_signal(signal.SIGINT)
        for recorder in recorders:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()


def summarise(path: Path, top: int = 20) -> str:
    """Where the busy samples are: by function itself (`self`), and Vigil's functions on the stack (`total`)."""
    own: Counter[str] = Counter()
    anywhere: Counter[str] = Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        count = int(count_text)
        samples += count
        own[frames[-1]] += count
        for frame in set(frames):
            anywhere[frame] += count
    lines = [f"{path.name}: {samples} busy samples", "  self%  function"]
    lines += [f"  {100 * count / samples:5.1f}  {frame}" for frame, count in own.most_common(top)]
    lines += ["  total%  Vigil's functions"]
    ours = [(frame, count) for frame, count in anywhere.most_common() if "vigil/" in frame]
    lines += [f"  {100 * count / samples:6.1f}  {frame}" for frame, count in ours[:top]]
    return "\n".join(lines)


if __name__ == "__main__":
    for argument in sys.argv[1:]:
        print(summarise(Path(argument)))
