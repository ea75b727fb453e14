"""Console benchmark: fps and CPU per 1080p Raw frame of vmgui's VNC console against gvncviewer on one server."""

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


# ---- the parent ------------------------------------------------------------------------------------


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


class Child:
    """A child process: its `sample <t> <n>...` lines as they come, the tail of its stderr, its CPU time."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str] | None = None,
                 parse_stdout: bool = True, pass_fds: Sequence[int] = ()) -> None:
        self.name = name
        self.samples: list[tuple[float, list[float]]] = []
        self.lines: deque[str] = deque(maxlen=40)
        self.errors: deque[str] = deque(maxlen=40)
        self._cond = threading.Condition()
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
            words = line.split()
            with self._cond:
                if words and words[0] == "sample":
                    self.samples.append((float(words[1]), [float(w) for w in words[2:]]))
                else:
                    self.lines.append(line.rstrip())
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.errors.append(line.rstrip())

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
        paints = client.at(t1, 2) - client.at(t0, 2)
        if paints > 0:
            result.paint_fps = paints / span
            result.paint_ms = (client.at(t1, 3) - client.at(t0, 3)) * 1000 / paints
    return result


def peer_version() -> str:
    try:
        out = subprocess.run([PEER, "--help"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    found = re.search(r"Gtk-VNC (\S+)", out)
    return found.group(1) if found else "?"


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


def print_report(rounds: list[list[Result]], args: argparse.Namespace, version: str) -> None:
    names = [r.client for r in rounds[0]]
    by_client = {n: [r for rnd in rounds for r in rnd if r.client == n] for n in names}
    medians = {n: median_result(rs) for n, rs in by_client.items()}
    print()
    print(f"VNC console throughput: {WIDTH}x{HEIGHT} Raw full frames from tests/console/fake_rfb.py --stream, "
          f"{args.seconds:g} s measured after {args.warmup:g} s of streaming, {len(rounds)} round(s); "
          f"{os.cpu_count()} CPUs, the server in its own process on the same machine")
    if len(rounds) > 1:
        print_table("each round:", [(f"{r.client} #{i + 1}", r) for i, rnd in enumerate(rounds) for r in rnd])
        print()
    print_table("median:" if len(rounds) > 1 else "result:", [(n, medians[n]) for n in names])
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


def run(args: argparse.Namespace) -> int:
    missing = [tool for tool in ("Xvfb", *(() if args.skip_peer else (PEER,))) if shutil.which(tool) is None]
    if missing:
        packages = {"Xvfb": "xvfb", PEER: "gvncviewer"}
        print(f"console bench: {', '.join(missing)} not found; install it: "
              f"apt-get install {' '.join(packages[m] for m in missing)}"
              + ("" if args.skip_peer or missing == ["Xvfb"] else " (or run with --skip-peer)"), file=sys.stderr)
        return 2
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
                print(f"round {number + 1}/{args.rounds}: {name} ...", flush=True)
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
        print(f"console bench failed: {err}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            child.stop()
    print_report(rounds, args, version)
    return 0


def _terminate(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through run()'s finally, which stops the children


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured window per client and round (8)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of streaming before each window (2)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds over all clients, order alternating (2)")
    parser.add_argument("--skip-peer", action="store_true", help=f"measure vmgui only, not {PEER}")
    parser.add_argument("--frames", type=int, default=30, help="distinct frames the server cycles through (30)")
    parser.add_argument("--child", choices=("server", "vmgui"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--paint", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "server":
        return serve(args.frames)
    if args.child == "vmgui":
        return run_vmgui(args.port, args.paint)
    if args.seconds <= 0 or args.warmup < 0 or args.rounds < 1 or args.frames < 1:
        parser.error("--seconds must be positive, --warmup not negative, --rounds and --frames at least 1")
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
