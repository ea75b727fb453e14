"""Console benchmark: vmgui's VNC and SPICE consoles against gvncviewer and remote-viewer, under Xvfb.

VNC: fps and CPU per 1080p Raw frame from a local fake server. SPICE: a real guest (the tiny test guest on
qemu:///system, see bench/spice_guest.py) whose 1024x768 console scrolls without end; time to first frame,
vmgui's frame rate and updated area, and every client's CPU and received bytes at that same load.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import os
import random
import re
import select
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 1920, 1080
SCREEN = "1920x1200x24"  # Xvfb's screen: room for a 1920x1080 picture at 100 % plus a viewer's menu bar
SAMPLE_S = 0.25  # how often the server and vmgui's children print their counters
START_TIMEOUT_S = 20.0  # a client that streams no frame by then has failed
CLK_TCK = os.sysconf("SC_CLK_TCK")
PEER = "gvncviewer"

# Targets from the issue: vmgui's console at no more CPU per frame than gvncviewer, at least its frame rate.
MAX_CPU_RATIO = 1.0
MIN_FPS_RATIO = 1.0


# ---- children: the server wrapper and vmgui's console ------------------------------------------


def _exit_with_parent() -> None:
    """End this process when the parent goes (its end of our stdin closes), however it ends."""

    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(frames: int) -> int:
    """The fake RFB server in stream mode on a port gvncviewer can name (5900 + N), printing frames_sent."""
    sys.path.insert(0, str(ROOT))
    from tests.console.fake_rfb import FakeRfbServer

    _exit_with_parent()
    server = FakeRfbServer(WIDTH, HEIGHT, stream=True, stream_frames=frames)
    rng = random.Random(os.getpid())
    for _ in range(500):
        server.port = 5900 + rng.randint(100, 9000)  # gvncviewer takes a display number, not a port
        try:
            server.start()
            break
        except OSError:
            continue
    else:
        print("error: no free port in 6000..14900", flush=True)
        return 1
    print(f"port {server.port}", flush=True)
    while True:
        print(f"sample {time.monotonic():.6f} {server.frames_sent}", flush=True)
        time.sleep(SAMPLE_S)


def run_vmgui(port: int, paint: bool) -> int:
    """vmgui's VncSession on the app's loop; with `paint`, a ConsoleDisplay at 100 % in a shown window.

    Prints `sample <monotonic> <updates> <full frames> <paints> <seconds in paintEvent>` every SAMPLE_S.
    """
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QPaintEvent
    from PySide6.QtWidgets import QApplication

    from vmgui.console.graphics import Endpoint
    from vmgui.console.state import ConsoleStatus
    from vmgui.console.vnc_session import VncSession
    from vmgui.ui.asyncio_loop import create_loop
    from vmgui.ui.console.display import ConsoleDisplay

    _exit_with_parent()
    app = QApplication([sys.argv[0]])
    app.setApplicationName("vmgui")
    loop = create_loop(app)
    session = VncSession()
    counts = {"full": 0, "paints": 0}
    paint_s = [0.0]

    def on_update(x: int, y: int, w: int, h: int) -> None:
        fb = session.framebuffer
        if fb is not None and (x, y, w, h) == (0, 0, fb.width, fb.height):
            counts["full"] += 1

    def on_status(status: ConsoleStatus) -> None:
        print(f"status {status.state.name} {status.message}", flush=True)

    class CountingDisplay(ConsoleDisplay):
        def paintEvent(self, event: QPaintEvent) -> None:
            start = time.perf_counter()
            super().paintEvent(event)
            paint_s[0] += time.perf_counter() - start
            counts["paints"] += 1

    session.frame_updated.connect(on_update)
    session.status_changed.connect(on_status)
    display = None
    if paint:
        display = CountingDisplay(session)
        display.setWindowTitle("vmgui console bench")
        display.resize(WIDTH, HEIGHT)  # fit mode at exactly 1:1, as gvncviewer shows it
        display.move(0, 0)
        display.show()

    def report() -> None:
        print(f"sample {time.monotonic():.6f} {session.frames} {counts['full']} {counts['paints']} {paint_s[0]:.6f}",
              flush=True)

    timer = QTimer()
    timer.timeout.connect(report)
    timer.start(int(SAMPLE_S * 1000))
    session.open(Endpoint("tcp", host="127.0.0.1", port=port))
    loop.run_forever()
    del display
    return 0


def run_vmgui_spice(port: int, paint: bool) -> int:
    """vmgui's SpiceSession on the app's loop; with `paint`, a ConsoleDisplay at 100 % in a shown window.

    Prints `mark <name> <monotonic>` for: imported (Qt, GI and vmgui loaded), connected (the primary
    surface came), first (the first display-invalidate) and, with `paint`, painted (the first paint of
    the guest's picture); then `sample <monotonic> <invalidates> <pixels> <paints> <seconds in paintEvent>`
    every SAMPLE_S. The stream has no frame boundaries to count: QEMU's SPICE display (no QXL) sends each
    refresh as strips 32 pixels wide, one display-invalidate each, and they arrive back to back.
    """
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QPaintEvent
    from PySide6.QtWidgets import QApplication

    from vmgui.console.graphics import Endpoint
    from vmgui.console.spice_session import SpiceSession
    from vmgui.console.state import ConsoleState, ConsoleStatus
    from vmgui.ui.asyncio_loop import create_loop
    from vmgui.ui.console.display import ConsoleDisplay

    def mark(name: str) -> None:
        print(f"mark {name} {time.monotonic():.6f}", flush=True)

    mark("imported")
    _exit_with_parent()
    from gi.repository import SpiceClientGLib

    print(f"spice-glib {SpiceClientGLib.util_get_version_string()}", flush=True)
    app = QApplication([sys.argv[0]])
    app.setApplicationName("vmgui")
    loop = create_loop(app)
    session = SpiceSession()
    counts = {"invalidates": 0, "pixels": 0, "paints": 0}
    paint_s = [0.0]

    def on_update(x: int, y: int, w: int, h: int) -> None:
        if not counts["invalidates"]:
            mark("first")
        counts["invalidates"] += 1
        counts["pixels"] += w * h

    def on_status(status: ConsoleStatus) -> None:
        if status.state is ConsoleState.CONNECTED:
            mark("connected")
        print(f"status {status.state.name} {status.message}", flush=True)

    class CountingDisplay(ConsoleDisplay):
        def paintEvent(self, event: QPaintEvent) -> None:
            start = time.perf_counter()
            super().paintEvent(event)
            paint_s[0] += time.perf_counter() - start
            if self.image() is not None and session.frames:
                if not counts["paints"]:
                    mark("painted")
                counts["paints"] += 1

    session.frame_updated.connect(on_update)
    session.status_changed.connect(on_status)
    display = None
    if paint:
        display = CountingDisplay(session)
        display.setWindowTitle(SPICE_VMGUI_TITLE)
        display.set_zoom(1.0)  # 100 %: the window takes the guest's size once its screen is known
        display.move(0, 0)
        display.show()

    def report() -> None:
        print(f"sample {time.monotonic():.6f} {counts['invalidates']} {counts['pixels']} {counts['paints']} "
              f"{paint_s[0]:.6f}", flush=True)

    timer = QTimer()
    timer.timeout.connect(report)
    timer.start(int(SAMPLE_S * 1000))
    session.open(Endpoint("tcp", host="127.0.0.1", port=port, protocol="spice"))
    loop.run_forever()
    del display
    return 0


# ---- the parent ------------------------------------------------------------------------------------


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


class Child:
    """A child process: its `sample <t> <n>...` lines as they come, the tail of its stderr, its CPU time.

    `marks` holds the times of its `mark <name> <monotonic>` lines and of the first output line (stdout or
    stderr) that contains each of `watch` (the time it arrived here); `started`: monotonic time just before spawning.
    """

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
                 parse_stdout: bool = True, pass_fds: Sequence[int] = (), watch: Sequence[str] = ()) -> None:
        self.name = name
        self.samples: list[tuple[float, list[float]]] = []
        self.lines: deque[str] = deque(maxlen=40)
        self.errors: deque[str] = deque(maxlen=40)
        self.marks: dict[str, float] = {}
        self._watch = tuple(watch)
        self._cond = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            list(argv), env=env, cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE if parse_stdout else subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=tuple(pass_fds), text=True, bufsize=1,
        )
        if parse_stdout:
            threading.Thread(target=self._read_stdout, name=f"{name}-stdout", daemon=True).start()
        threading.Thread(target=self._read_stderr, name=f"{name}-stderr", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._check_watch(line)
            words = line.split()
            with self._cond:
                if words and words[0] == "sample":
                    self.samples.append((float(words[1]), [float(w) for w in words[2:]]))
                elif len(words) == 3 and words[0] == "mark":
                    self.marks.setdefault(words[1], float(words[2]))
                else:
                    self.lines.append(line.rstrip())
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._check_watch(line)
            self.errors.append(line.rstrip())

    def _check_watch(self, line: str) -> None:
        now = time.monotonic()
        for text in self._watch:
            if text in line and text not in self.marks:
                with self._cond:
                    self.marks[text] = now
                    self._cond.notify_all()

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Wait until predicate() (called with the lock held) holds, or the child ends, or the timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive():
                    return predicate()
                self._cond.wait(min(left, 0.1))
        return True

    def line_starting(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)

    def latest(self, index: int = 0) -> float:
        with self._cond:
            return self.samples[-1][1][index] if self.samples else 0.0

    def at(self, t: float, index: int = 0) -> float:
        """Counter `index` at monotonic time t, interpolated between the samples around it."""
        with self._cond:
            samples = list(self.samples)
        times = [s[0] for s in samples]
        i = bisect.bisect_left(times, t)
        if i == 0 or i == len(samples):
            raise BenchError(f"{self.name} has no samples around t={t:.3f} ({len(samples)} samples)")
        (ta, va), (tb, vb) = samples[i - 1], samples[i]
        return va[index] + (vb[index] - va[index]) * (t - ta) / (tb - ta)

    def cpu_seconds(self) -> float:
        """User + system time of all its threads so far, from /proc/PID/stat."""
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError as err:
            raise BenchError(f"{self.name} (pid {self.pid}) is gone: {err}") from err
        return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime: fields 14 and 15 of stat

    def describe_failure(self) -> str:
        code = self.proc.poll()
        state = f"exited with {code}" if code is not None else "still running"
        tail = "\n".join(["    " + line for line in [*self.lines, *self.errors][-15:]])
        return f"{self.name} {state}" + (f"; its last output:\n{tail}" if tail else "")

    def stop(self) -> None:
        """Terminate it (kill it if it lingers) and reap it."""
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


@dataclass
class Result:
    client: str
    fps: float  # complete frames the server sent to this client, per second
    cpu_ms: float  # the client process's CPU per frame
    cpu_pct: float  # the client process's CPU, % of one core
    xvfb_ms: float  # Xvfb's CPU per frame: where the client's drawing lands
    server_pct: float  # the fake server's CPU, % of one core
    others_pct: float  # the rest of the machine (other processes), % of one core: high means a disturbed run
    own_fps: float | None = None  # full-screen updates vmgui counted itself, per second
    paint_fps: float | None = None  # ConsoleDisplay paint events per second
    paint_ms: float | None = None  # wall time in ConsoleDisplay.paintEvent, per paint


def start_xvfb() -> tuple[Child, str]:
    """Xvfb on the first free display (it picks one itself and tells it through -displayfd)."""
    read_end, write_end = os.pipe()
    try:
        xvfb = Child("Xvfb", ["Xvfb", "-displayfd", str(write_end), "-screen", "0", SCREEN, "-nolisten", "tcp"],
                     parse_stdout=False, pass_fds=(write_end,))
    finally:
        os.close(write_end)
    number = b""
    deadline = time.monotonic() + 10
    try:
        while not number.endswith(b"\n") and time.monotonic() < deadline:
            ready, _, _ = select.select([read_end], [], [], 0.2)
            if ready:
                chunk = os.read(read_end, 64)
                if not chunk:
                    break
                number += chunk
    finally:
        os.close(read_end)
    if not number.strip().isdigit():
        xvfb.stop()
        raise BenchError("Xvfb did not start: " + xvfb.describe_failure())
    return xvfb, f":{number.strip().decode()}"


def x_env(display: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", GDK_BACKEND="x11", NO_AT_BRIDGE="1",
               PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def busy_seconds() -> float:
    """CPU time the whole machine spent busy so far (all cores), from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(v) for v in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK


def measure(name: str, client: Child, server: Child, xvfb: Child, warmup: float, seconds: float) -> Result:
    """Wait for the stream to flow, warm up, then take CPU and frame counts over `seconds`."""
    base = server.latest()
    if not server.wait_for(lambda: bool(server.samples) and server.samples[-1][1][0] >= base + 3, START_TIMEOUT_S) \
            or not client.alive():
        raise BenchError(f"{name}: no frames flowed within {START_TIMEOUT_S:g} s; " + client.describe_failure())
    time.sleep(warmup)
    procs = (client, server, xvfb)
    t0, cpu0, busy0 = time.monotonic(), [p.cpu_seconds() for p in procs], busy_seconds()
    time.sleep(seconds)
    t1, cpu1, busy1 = time.monotonic(), [p.cpu_seconds() for p in procs], busy_seconds()
    if not client.alive():
        raise BenchError(f"{name} ended during the measurement; " + client.describe_failure())
    ok = server.wait_for(lambda: bool(server.samples) and server.samples[-1][0] > t1, 5 * SAMPLE_S + 1)
    if client.samples:
        ok = ok and client.wait_for(lambda: client.samples[-1][0] > t1, 5 * SAMPLE_S + 1)
    if not ok:
        raise BenchError(f"{name}: the counters stopped reporting")
    span = t1 - t0
    frames = server.at(t1) - server.at(t0)
    if frames <= 0:
        raise BenchError(f"{name}: the server sent no frame in the measured {span:.1f} s")
    own, srv, xv = (b - a for a, b in zip(cpu0, cpu1, strict=True))
    others = max(0.0, (busy1 - busy0) - own - srv - xv)
    result = Result(name, frames / span, own * 1000 / frames, own * 100 / span, xv * 1000 / frames,
                    srv * 100 / span, others * 100 / span)
    if client.samples:  # vmgui's own counters: updates, full frames, paints, seconds painting
        result.own_fps = (client.at(t1, 1) - client.at(t0, 1)) / span
        add_paint_figures(result, client, t0, t1, span)
    return result


def add_paint_figures(result: Any, client: Any, t0: float, t1: float, span: float) -> None:
    """Paints per second and ms per paint from a vmgui child's counters (2: paints, 3: seconds painting)."""
    paints = client.at(t1, 2) - client.at(t0, 2)
    if paints > 0:
        result.paint_fps = paints / span
        result.paint_ms = (client.at(t1, 3) - client.at(t0, 3)) * 1000 / paints


def tool_version(program: str, flag: str, pattern: str) -> str:
    """The version a program prints with `flag`, found by `pattern`'s group, or '?'."""
    try:
        out = subprocess.run([program, flag], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = re.search(pattern, out)
    return found.group(1) if found else "?"


def peer_version() -> str:
    return tool_version(PEER, "--help", r"Gtk-VNC (\S+)")


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def median_result(runs: list[Result]) -> Result:
    """Each number the median over the rounds."""

    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    fields = ("fps", "cpu_ms", "cpu_pct", "xvfb_ms", "server_pct", "others_pct", "own_fps", "paint_fps", "paint_ms")
    values: dict[str, Any] = {f: med([getattr(r, f) for r in runs]) for f in fields}
    return Result(runs[0].client, **values)


def print_table(title: str, rows: list[tuple[str, Result]]) -> None:
    head = ("client", "fps", "CPU ms/frame", "CPU % core", "Xvfb ms/frame", "client+Xvfb ms/frame",
            "server % core", "others % core", "own fps", "paints/s", "ms/paint")
    cells = [(label, f"{r.fps:.1f}", f"{r.cpu_ms:.2f}", f"{r.cpu_pct:.0f}", f"{r.xvfb_ms:.2f}",
              f"{r.cpu_ms + r.xvfb_ms:.2f}", f"{r.server_pct:.0f}", f"{r.others_pct:.0f}", fmt(r.own_fps, ".1f"),
              fmt(r.paint_fps, ".1f"), fmt(r.paint_ms, ".2f")) for label, r in rows]
    widths = [max(len(row[i]) for row in [head, *cells]) for i in range(len(head))]
    print(title)
    for row in [head, *cells]:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))))


def per_client(rounds: list[list[Any]], median: Callable[[list[Any]], Any]) -> tuple[list[str], dict[str, list[Any]],
                                                                                   dict[str, Any]]:
    """The clients in their first round's order, each one's results over the rounds, and their medians."""
    names = [r.client for r in rounds[0]]
    by_client = {n: [r for rnd in rounds for r in rnd if r.client == n] for n in names}
    return names, by_client, {n: median(rs) for n, rs in by_client.items()}


def print_rounds(rounds: list[list[Any]], names: list[str], medians: dict[str, Any],
                 print_tables: Callable[[str, list[tuple[str, Any]]], None]) -> None:
    """Each round's results (when there are several), then the medians, with the given table printer."""
    if len(rounds) > 1:
        print_tables("each round:", [(f"{r.client} #{i + 1}", r) for i, rnd in enumerate(rounds) for r in rnd])
        print()
    print_tables("median:" if len(rounds) > 1 else "result:", [(n, medians[n]) for n in names])


def print_report(rounds: list[list[Result]], args: argparse.Namespace, version: str) -> None:
    names, by_client, medians = per_client(rounds, median_result)
    print()
    print(f"VNC console throughput: {WIDTH}x{HEIGHT} Raw full frames from tests/console/fake_rfb.py --stream, "
          f"{args.seconds:g} s measured after {args.warmup:g} s of streaming, {len(rounds)} round(s); "
          f"{os.cpu_count()} CPUs, the server in its own process on the same machine")
    print_rounds(rounds, names, medians, print_table)
    print("  fps: frames the server sent in the window (vmgui's own count beside it); CPU: the client process "
          "(all threads); Xvfb: the X server's CPU, where the drawing lands; others: the rest of the machine; "
          "ms/paint: wall time in ConsoleDisplay.paintEvent")
    peer = next((n for n in names if n.startswith(PEER)), None)
    if peer is None:
        print("\n(no peer run: --skip-peer)")
        return
    print(f"\nvmgui against {PEER} {version}, medians (each round's ratio in brackets); targets: "
          f"CPU per frame <= {MAX_CPU_RATIO:g}x, fps >= {MIN_FPS_RATIO:g}x")
    for n in names:
        if n == peer:
            continue
        mine, theirs = medians[n], medians[peer]
        cpu_ratio, fps_ratio = mine.cpu_ms / theirs.cpu_ms, mine.fps / theirs.fps
        pairs = list(zip(by_client[n], by_client[peer], strict=True))
        cpu_each = ", ".join(f"{a.cpu_ms / b.cpu_ms:.2f}" for a, b in pairs)
        fps_each = ", ".join(f"{a.fps / b.fps:.2f}" for a, b in pairs)
        cpu_ok, fps_ok = cpu_ratio <= MAX_CPU_RATIO, fps_ratio >= MIN_FPS_RATIO
        missed = [what for what, ok in (("CPU per frame", cpu_ok), ("frame rate", fps_ok)) if not ok]
        print(f"  {n:<20} CPU/frame {cpu_ratio:.2f}x [{cpu_each}] {'met' if cpu_ok else 'MISSED'}; "
              f"fps {fps_ratio:.2f}x [{fps_each}] {'met' if fps_ok else 'MISSED'}"
              + ("" if missed else "; both targets met"))
    busy = max(r.others_pct for rs in by_client.values() for r in rs)
    if busy > 20:
        print(f"  note: other processes used up to {busy:.0f} % of a core during a window; expect noise")


def vnc_missing_tools(args: argparse.Namespace) -> str | None:
    missing = [tool for tool in ("Xvfb", *(() if args.skip_peer else (PEER,))) if shutil.which(tool) is None]
    if not missing:
        return None
    packages = {"Xvfb": "xvfb", PEER: "gvncviewer"}
    return (f"{', '.join(missing)} not found; install it: apt-get install {' '.join(packages[m] for m in missing)}"
            + ("" if args.skip_peer or missing == ["Xvfb"] else " (or run with --skip-peer)"))


def run_vnc(args: argparse.Namespace) -> tuple[int, Callable[[], None] | None]:
    """The VNC part: (exit status, what prints its report)."""
    version = "" if args.skip_peer else peer_version()
    me = [sys.executable, str(Path(__file__).resolve())]
    children: list[Child] = []
    rounds: list[list[Result]] = []
    try:
        xvfb, display = start_xvfb()
        children.append(xvfb)
        env = x_env(display)
        server = Child("server", [*me, "--child", "server", "--frames", str(args.frames)], env=env)
        children.append(server)
        if not server.wait_for(lambda: server.line_starting("port ") is not None and bool(server.samples), 30):
            raise BenchError("the fake RFB server did not start; " + server.describe_failure())
        port = int((server.line_starting("port ") or "port 0").split()[1])
        print(f"server on 127.0.0.1:{port} (pid {server.pid}), Xvfb on {display} (pid {xvfb.pid})", flush=True)
        clients: list[tuple[str, list[str]]] = [
            ("vmgui decode", [*me, "--child", "vmgui", "--port", str(port)]),
            ("vmgui decode+paint", [*me, "--child", "vmgui", "--port", str(port), "--paint"]),
        ]
        if not args.skip_peer:
            clients.append((f"{PEER} {version}", [PEER, f"127.0.0.1:{port - 5900}"]))
        for number in range(args.rounds):
            order = clients if number % 2 == 0 else clients[::-1]  # alternate, so a drift in load evens out
            results: dict[str, Result] = {}
            for name, argv in order:
                print(f"VNC round {number + 1}/{args.rounds}: {name} ...", flush=True)
                client = Child(name, argv, env=env, parse_stdout=argv[0] != PEER)
                children.append(client)
                try:
                    results[name] = measure(name, client, server, xvfb, args.warmup, args.seconds)
                finally:
                    client.stop()
                    children.remove(client)
                time.sleep(0.3)  # let the server see the old client go
            rounds.append([results[name] for name, _ in clients])
    except BenchError as err:
        print(f"console bench (VNC) failed: {err}", file=sys.stderr)
        return 1, None
    finally:
        for child in reversed(children):
            child.stop()
    return 0, lambda: print_report(rounds, args, version)


# ---- SPICE: a real guest whose screen scrolls without end; vmgui against remote-viewer ----------------

SPICE_PEER = "remote-viewer"
SPICE_VMGUI_TITLE = "vmgui spice bench"
SPICE_READY_LINE = "notebook show display"  # remote-viewer --debug: spice-gtk's display became ready
SPICE_START_TIMEOUT_S = 40.0  # spawn to first frame, on a machine the scrolling guest keeps busy
GUEST_PIXELS = 1024 * 768  # the tiny guest's framebuffer console


class MapWatch:
    """Every top-level window mapped on an X display, with the time it was seen: `xev -root` (x11-utils).

    One listener for the display's whole life: no polling, so nothing competes with a starting client.
    """

    def __init__(self, env: dict[str, str]) -> None:
        self.maps: list[float] = []
        self._pending: float | None = None
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(["xev", "-root", "-event", "substructure"], env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1)
        threading.Thread(target=self._read, name="xev", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("MapNotify event"):
                self._pending = time.monotonic()
            elif self._pending is not None and "override" in line:
                if "override NO" in line:  # a real window, not a menu or tooltip
                    with self._lock:
                        self.maps.append(self._pending)
                self._pending = None

    def first_after(self, t: float) -> float | None:
        with self._lock:
            return next((m for m in self.maps if m >= t), None)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


def spice_received_bytes(port: int) -> int:
    """Bytes the clients' TCP sockets to 127.0.0.1:port have received so far (`ss -i`); -1 without ss."""
    try:
        out = subprocess.run(["ss", "-Htin", "state", "established", "(", "dport", "=", f":{port}", ")"],
                             capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return -1
    return sum(int(n) for n in re.findall(r"bytes_received:(\d+)", out))


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds of each thread of a process by thread name (summed over equal names); {} if it is gone."""
    totals: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    head, _, rest = f.read().rpartition(")")
                name = head.split("(", 1)[1]
                fields = rest.split()
                totals[name] = totals.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLK_TCK
    return totals


@dataclass
class SpiceResult:
    client: str
    cpu_pct: float  # the client process's CPU, % of one core
    xvfb_pct: float  # Xvfb's CPU, % of one core
    wire_mbs: float  # MB/s the client's SPICE sockets received: the same measure for every client
    wire_ms: float  # client CPU ms per MB received
    qemu_pct: float  # the guest's QEMU process, % of one core (vCPU scrolling + display refresh + SPICE server)
    worker_pct: float  # QEMU's "SPICE Worker" thread alone: the server's side of this client's stream
    others_pct: float  # the rest of the machine
    first_s: float | None = None  # spawn -> first frame (vmgui: first display-invalidate; peer: display ready)
    painted_s: float | None = None  # spawn -> first paint of the guest's picture (vmgui decode+paint)
    window_s: float | None = None  # spawn -> its first top-level window mapped (xev)
    imported_s: float | None = None  # spawn -> Qt, GI and vmgui imported (vmgui)
    connected_s: float | None = None  # spawn -> primary surface (vmgui)
    screens: float | None = None  # vmgui: invalidated pixels per second in whole 1024x768 screens ("fps")
    invalidates: float | None = None  # vmgui: display-invalidate signals per second
    mps: float | None = None  # vmgui: invalidated megapixels per second
    mp_ms: float | None = None  # vmgui: client CPU ms per invalidated megapixel
    paint_fps: float | None = None
    paint_ms: float | None = None


def measure_spice(name: str, client: Child, maps: MapWatch | None, first_mark: str, port: int, qemu_pid: int,
                  xvfb: Child, warmup: float, seconds: float) -> SpiceResult:
    """Wait for the first frame, warm up, then take CPU, wire bytes and vmgui's counters over `seconds`."""
    if not client.wait_for(lambda: first_mark in client.marks, SPICE_START_TIMEOUT_S):
        raise BenchError(f"{name}: no frame within {SPICE_START_TIMEOUT_S:g} s; " + client.describe_failure())
    time.sleep(warmup)
    qemu0, t0, cpu0, xv0, busy0, bytes0 = (thread_cpu(qemu_pid), time.monotonic(), client.cpu_seconds(),
                                           xvfb.cpu_seconds(), busy_seconds(), spice_received_bytes(port))
    time.sleep(seconds)
    qemu1, t1, cpu1, xv1, busy1, bytes1 = (thread_cpu(qemu_pid), time.monotonic(), client.cpu_seconds(),
                                           xvfb.cpu_seconds(), busy_seconds(), spice_received_bytes(port))
    if not client.alive():
        raise BenchError(f"{name} ended during the measurement; " + client.describe_failure())
    span = t1 - t0
    own, xv = cpu1 - cpu0, xv1 - xv0
    qemu = sum(qemu1.values()) - sum(qemu0.values())
    worker = qemu1.get("SPICE Worker", 0.0) - qemu0.get("SPICE Worker", 0.0)
    wire_mb = (bytes1 - bytes0) / 1e6 if bytes0 >= 0 and bytes1 >= 0 else 0.0
    result = SpiceResult(
        name, own * 100 / span, xv * 100 / span, wire_mb / span, own * 1000 / wire_mb if wire_mb > 0 else 0.0,
        qemu * 100 / span, worker * 100 / span, max(0.0, (busy1 - busy0) - own - xv - qemu) * 100 / span)

    def since_spawn(mark: str) -> float | None:
        return client.marks[mark] - client.started if mark in client.marks else None

    result.first_s = since_spawn(first_mark)
    result.painted_s, result.imported_s, result.connected_s = (since_spawn(m) for m in
                                                               ("painted", "imported", "connected"))
    mapped = maps.first_after(client.started) if maps is not None else None
    if mapped is not None:
        result.window_s = mapped - client.started
    if client.samples:  # vmgui's own counters: invalidates, pixels, paints, seconds painting
        if not client.wait_for(lambda: client.samples[-1][0] > t1, 5 * SAMPLE_S + 1):
            raise BenchError(f"{name}: its counters stopped reporting")
        result.invalidates = (client.at(t1, 0) - client.at(t0, 0)) / span
        pixels = client.at(t1, 1) - client.at(t0, 1)
        result.screens = pixels / GUEST_PIXELS / span
        result.mps = pixels / 1e6 / span
        result.mp_ms = own * 1000 / (pixels / 1e6) if pixels > 0 else None
        add_paint_figures(result, client, t0, t1, span)
    return result


def spice_peer_version() -> str:
    return tool_version(SPICE_PEER, "--version", r"version (\S+)")


def spice_missing_tools(args: argparse.Namespace) -> str | None:
    tools = ("Xvfb", "virsh", *(() if args.skip_peer else (SPICE_PEER,)))
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if not missing:
        return None
    packages = {"Xvfb": "xvfb", "virsh": "libvirt-clients (and a libvirtd)", SPICE_PEER: "virt-viewer"}
    return (f"{', '.join(missing)} not found; install it: apt-get install {' '.join(packages[m] for m in missing)}"
            + ("" if args.skip_peer or SPICE_PEER not in missing else " (or run with --skip-peer)"))


def median_spice(runs: list[SpiceResult]) -> SpiceResult:
    def med(values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return statistics.median(present) if present else None

    names = [f for f in SpiceResult.__dataclass_fields__ if f != "client"]
    values: dict[str, Any] = {f: med([getattr(r, f) for r in runs]) for f in names}
    return SpiceResult(runs[0].client, **values)


def print_rows(title: str, head: Sequence[str], cells: list[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in [head, *cells]) for i in range(len(head))]
    print(title)
    for row in [head, *cells]:
        print("  " + "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                               enumerate(zip(row, widths, strict=True))))


def print_spice_tables(title: str, rows: list[tuple[str, SpiceResult]]) -> None:
    print_rows(title + " throughput", (
        "client", "CPU % core", "Xvfb % core", "client+Xvfb %", "wire MB/s", "CPU ms/wire MB", "screens/s",
        "invalidates/s", "MP/s", "CPU ms/MP", "paints/s", "ms/paint", "QEMU % core", "SPICE worker %", "others % core"),
        [(label, f"{r.cpu_pct:.0f}", f"{r.xvfb_pct:.0f}", f"{r.cpu_pct + r.xvfb_pct:.0f}", f"{r.wire_mbs:.1f}",
          f"{r.wire_ms:.1f}" if r.wire_ms else "-", fmt(r.screens, ".1f"),
          fmt(r.invalidates, ".0f"), fmt(r.mps, ".1f"), fmt(r.mp_ms, ".1f"),
          fmt(r.paint_fps, ".1f"), fmt(r.paint_ms, ".2f"), f"{r.qemu_pct:.0f}", f"{r.worker_pct:.0f}",
          f"{r.others_pct:.0f}") for label, r in rows])
    print_rows(title + " start-up, seconds from spawn", (
        "client", "imported", "connected", "first frame", "first paint", "window mapped"),
        [(label, fmt(r.imported_s, ".2f"), fmt(r.connected_s, ".2f"), fmt(r.first_s, ".2f"), fmt(r.painted_s, ".2f"),
          fmt(r.window_s, ".2f")) for label, r in rows])


def print_spice_report(rounds: list[list[SpiceResult]], args: argparse.Namespace, version: str, boot_s: float,
                       redraw: str, have_xev: bool) -> None:
    names, by_client, medians = per_client(rounds, median_spice)
    print()
    print(f"SPICE console: the tiny test guest (TCG, 1 vCPU, 1024x768 fbcon on vga, booted in {boot_s:.0f} s) "
          f"scrolling `{redraw}` without end; {args.seconds:g} s measured after {args.warmup:g} s, "
          f"{len(rounds)} round(s); {os.cpu_count()} CPUs, the guest on the same machine")
    print_rounds(rounds, names, medians, print_spice_tables)
    print("  wire MB/s: bytes the client's SPICE sockets received (ss -i), the one measure of the stream every "
          "client has; screens/s: invalidated pixels in whole "
          "1024x768 screens, vmgui's frame rate (the stream comes as 32-pixel-wide strips with no frame "
          "boundaries); "
          "MP/s: invalidated pixels; QEMU: the guest's whole process (its vCPU scrolls flat out), SPICE worker: its "
          "encoder thread; first frame: vmgui's first display-invalidate, remote-viewer's "
          f"'{SPICE_READY_LINE}' (--debug: spice-gtk's display got its surface and the server's mark)")
    if not have_xev:
        print("  window mapped: not measured, xev is missing (apt-get install x11-utils)")
    peer = next((n for n in names if n.startswith(SPICE_PEER)), None)
    if peer is None:
        print("\n(no peer run: --skip-peer)")
        return
    theirs = medians[peer]
    print(f"\nvmgui against {SPICE_PEER} {version}, medians (each round's ratio in brackets); lower is better. "
          f"{SPICE_PEER}'s frames cannot be counted from outside: compare CPU at the same guest load, and per "
          "MB received when the wire rates match (the server sends a slower client less)")

    def ratio(name: str, field: str, extra: str | None = None) -> str:
        def value(r: SpiceResult) -> float | None:
            v = getattr(r, field)
            return None if v is None else v + (getattr(r, extra) if extra else 0.0)

        mine, peer_value = value(medians[name]), value(theirs)
        if not mine or not peer_value:
            return "-"
        pairs = [(value(a), value(b)) for a, b in zip(by_client[name], by_client[peer], strict=True)]
        each = ", ".join(f"{a / b:.2f}" for a, b in pairs if a and b)
        return f"{mine / peer_value:.2f}x [{each}]"

    for n in names:
        if n == peer:
            continue
        print(f"  {n:<20} CPU % {ratio(n, 'cpu_pct')}; client+Xvfb % {ratio(n, 'cpu_pct', 'xvfb_pct')}; "
              f"CPU per wire MB {ratio(n, 'wire_ms')}; wire MB/s {ratio(n, 'wire_mbs')}; "
              f"first frame {ratio(n, 'first_s')}")
    busy = max(r.others_pct for rs in by_client.values() for r in rs)
    if busy > 20:
        print(f"  note: other processes used up to {busy:.0f} % of a core during a window; expect noise")


def run_spice(args: argparse.Namespace) -> tuple[int, Callable[[], None] | None]:
    """The SPICE part: (exit status, what prints its report)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from spice_guest import REDRAW, BenchGuest, GuestError, leftovers

    version = "" if args.skip_peer else spice_peer_version()
    have_xev = shutil.which("xev") is not None
    me = [sys.executable, str(Path(__file__).resolve())]
    children: list[Child] = []
    rounds: list[list[SpiceResult]] = []
    guest = BenchGuest()
    maps: MapWatch | None = None
    glib_version = "?"
    try:
        stale = leftovers()
        if stale:
            print(f"note: bench guests of dead runs are still defined (left alone): {', '.join(stale)}; remove them "
                  "with virsh destroy NAME; virsh undefine NAME", flush=True)
        print(f"SPICE: booting {guest.name} ...", flush=True)
        guest.start()
        print(f"SPICE: {guest.name} booted in {guest.boot_s:.1f} s, scrolling; spice://127.0.0.1:{guest.port}, "
              f"QEMU pid {guest.qemu_pid or '?'}", flush=True)
        xvfb, display = start_xvfb()
        children.append(xvfb)
        env = x_env(display)
        maps = MapWatch(env) if have_xev else None
        port = guest.port
        # (name, argv, the mark that means its first frame)
        clients: list[tuple[str, list[str], str]] = [
            ("vmgui decode", [*me, "--child", "vmgui-spice", "--port", str(port)], "first"),
            ("vmgui decode+paint", [*me, "--child", "vmgui-spice", "--port", str(port), "--paint"], "first"),
        ]
        if not args.skip_peer:
            clients.append((f"{SPICE_PEER} {version}", [SPICE_PEER, "--debug", f"spice://127.0.0.1:{port}"],
                            SPICE_READY_LINE))
        time.sleep(args.warmup)  # the scrolling settles in (and xev is listening before the first client)
        for number in range(args.rounds):
            order = clients if number % 2 == 0 else clients[::-1]  # alternate, so a drift in load evens out
            results: dict[str, SpiceResult] = {}
            for name, argv, first_mark in order:
                print(f"SPICE round {number + 1}/{args.rounds}: {name} ...", flush=True)
                peer = argv[0] == SPICE_PEER
                client = Child(name, argv, env=env, watch=(SPICE_READY_LINE,) if peer else ())
                children.append(client)
                try:
                    results[name] = measure_spice(name, client, maps, first_mark, port, guest.qemu_pid, xvfb,
                                                  args.warmup, args.seconds)
                    found = client.line_starting("spice-glib ")
                    glib_version = found.split()[1] if found else glib_version
                finally:
                    client.stop()
                    children.remove(client)
                time.sleep(0.3)  # let the server see the old client go
            rounds.append([results[name] for name, *_ in clients])
    except (BenchError, GuestError) as err:
        print(f"console bench (SPICE) failed: {err}", file=sys.stderr)
        return 1, None
    finally:
        if maps is not None:
            maps.stop()
        for child in reversed(children):
            child.stop()
        guest.close()
    redraw = REDRAW.split(">")[0].strip()
    return 0, lambda: print_spice_report(rounds, args, f"{version}, spice-client-glib {glib_version} in both",
                                         guest.boot_s, redraw, have_xev)


def run(args: argparse.Namespace) -> int:
    problems = [f"{what}: {text}" for what, skip, check in (("VNC", args.skip_vnc, vnc_missing_tools),
                                                            ("SPICE", args.skip_spice, spice_missing_tools))
                if not skip and (text := check(args))]
    if problems:
        print("console bench: " + "; ".join(problems) + " (--skip-vnc / --skip-spice leave a part out)",
              file=sys.stderr)
        return 2
    status, reports = 0, []
    for skip, part in ((args.skip_vnc, run_vnc), (args.skip_spice, run_spice)):
        if not skip:
            code, report = part(args)
            status = max(status, code)
            if report is not None:
                reports.append(report)
    for report in reports:
        report()
    return status


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through run()'s finally, which stops the children


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per client and round (8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of streaming before each window (2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all clients, order alternating (2)")
    parser.add_argument("--skip-peer", action="store_true", help=f"measure vmgui only, not {PEER} / {SPICE_PEER}")
    parser.add_argument("--skip-vnc", action="store_true", help="leave out the VNC part")
    parser.add_argument("--skip-spice", action="store_true",
                        help="leave out the SPICE part (it boots a guest on qemu:///system)")
    parser.add_argument("--frames", type=int, default=30, help="distinct frames the VNC server cycles through (30)")
    parser.add_argument("--child", choices=("server", "vmgui", "vmgui-spice"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--paint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "server":
        return serve(args.frames)
    if args.child == "vmgui":
        return run_vmgui(args.port, args.paint)
    if args.child == "vmgui-spice":
        return run_vmgui_spice(args.port, args.paint)
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1 or args.frames < 1:
        parser.error("--seconds must be positive, --warmup not negative, --rounds and --frames at least 1")
    if args.skip_vnc and args.skip_spice:
        parser.error("--skip-vnc and --skip-spice leave nothing to run")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        return run(args)
    except KeyboardInterrupt:  # the children, Xvfb and the SPICE guest are gone already (run()'s finally)
        print("console bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
