"""VDI benchmark: a golden image with 1 GiB of data published, a pool of 100 desktops provisioned and reset,
against full copies of the same image; on real libvirtd (qemu:///system by default).

Prints, for vmgui.core.vdi as the pool windows run it: the time to publish the golden image (its one full
copy), to provision the pool (a qcow2 overlay, a domain and its desktop record per desktop), to reset a
shut-off desktop, and the time of a few full copies (vmgui.core.clone.clone_guest, and virt-clone when
installed) extrapolated to the pool's size. No targets are asserted; the output says which are met.

    .venv/bin/python bench/vdi.py [--desktops 100] [--copies 3] [--resets 20]

Needs root (or a user libvirt lets define guests) and about 3 + copies GiB free. Everything it makes is
named vmgui-bench-vdi*, vmgui-bench-gold* or vbench-*, and removed at the end, on failure or Ctrl-C too;
leftovers of an interrupted run are removed first. It uses the storage pool `default` when the host has
one, else a transient directory pool of its own in /var/tmp (as bench/clone.py does).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import libvirt

from vmgui.core import storage
from vmgui.core.clone import DiskMode, clone_guest, inspect_disks
from vmgui.core.errors import VmguiError, silence_default_handler
from vmgui.core.guest_delete import delete_guest, undefine
from vmgui.core.vdi import desktops, golden, pools
from vmgui.core.vdi.pool_specs import PoolSpec, save_pool

PREFIX = "vmgui-bench-vdi"        # full copies, the transient storage pool
GOLD = "vmgui-bench-gold"         # the golden guest; its disk, versions and virt-clone's clone start so too
DESKTOP_PREFIX = "vbench-"
PATTERN = DESKTOP_PREFIX + "{n:03}"
VDI_POOL = "vmgui-bench"
OWN_POOL = f"{PREFIX}-pool"
OURS = (PREFIX, GOLD, DESKTOP_PREFIX)
PROVISION_TARGET_S = 5.0          # for 100 desktops
RESET_TARGET_MS = 100.0


def storage_pool(conn: libvirt.virConnect, name: str) -> tuple[str, Path | None]:
    """The storage pool to work in, and the directory of the transient pool made for it (None: `name`)."""
    with contextlib.suppress(libvirt.libvirtError):
        if conn.storagePoolLookupByName(name).isActive():
            return name, None
    work = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-", dir="/var/tmp"))
    conn.storagePoolCreateXML(f"<pool type='dir'><name>{OWN_POOL}</name><target><path>{work}</path></target>"
                              "</pool>", 0)
    return OWN_POOL, work


def gold_guest(conn: libvirt.virConnect, pool: str, data_gib: int) -> str:
    """A shut-off guest whose qcow2 disk holds `data_gib` GiB of non-zero data: its UUID."""
    disk = storage.create_volume(conn, pool, f"{GOLD}.qcow2", (data_gib + 1) * storage.GIB)
    chunk = 256  # MiB per qemu-io write, so it never needs a buffer of the whole size
    writes = [f"write -q -P 0x5a {i * chunk}M {chunk}M" for i in range(data_gib * 1024 // chunk)]
    subprocess.run(["qemu-io", "-f", "qcow2", *(a for w in writes for a in ("-c", w)), disk.path], check=True)
    conn.storagePoolLookupByName(pool).refresh(0)
    xml = (f"<domain type='qemu'><name>{GOLD}</name><memory unit='MiB'>256</memory>"
           "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
           f"<driver name='qemu' type='qcow2'/><source file='{disk.path}'/><target dev='vda' bus='virtio'/></disk>"
           "<interface type='user'><model type='virtio'/></interface><graphics type='vnc'/></devices></domain>")
    return str(conn.defineXML(xml).UUIDString())


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def allocation(conn: libvirt.virConnect, prefix: str) -> int:
    """Bytes on disk of the volumes named `prefix`*, in every active pool."""
    total = 0
    for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
        pool.refresh(0)
        total += sum(v.info()[2] for v in pool.listAllVolumes(0) if v.name().startswith(prefix))
    return total


def virt_clone(conn: libvirt.virConnect, uri: str) -> float | str:
    """Seconds for one `virt-clone --auto-clone` of the golden guest, or why it was not run."""
    if shutil.which("virt-clone") is None:
        return "virt-clone is not installed (Debian package virtinst)"
    started = time.perf_counter()
    run = subprocess.run(["virt-clone", "--connect", uri, "--original", GOLD, "--auto-clone"],
                         capture_output=True, text=True)
    took = time.perf_counter() - started
    if run.returncode:
        return f"virt-clone failed: {(run.stderr or run.stdout).strip()}"
    return took


def sweep(conn: libvirt.virConnect, patience_s: float = 300) -> list[str]:
    """Remove every guest, volume and transient pool named as this benchmark names them (an earlier run's
    too); the names. A copy libvirtd is still making for a killed run is waited for, then removed."""
    gone = []
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(OURS):
            with contextlib.suppress(libvirt.libvirtError):
                if dom.isActive():
                    dom.destroy()
                undefine(dom)
                gone.append(dom.name())
    deadline = time.monotonic() + patience_s
    while True:
        busy = []
        for pool in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE):
            with contextlib.suppress(libvirt.libvirtError):
                pool.refresh(0)  # refused while a volume is being made in it
            for vol in pool.listAllVolumes(0):
                if vol.name().startswith(OURS):
                    try:
                        vol.delete(0)
                        gone.append(vol.name())
                    except libvirt.libvirtError as err:
                        busy.append(f"{vol.name()}: {err.get_error_message()}")
            if pool.name() == OWN_POOL:
                try:
                    pool.destroy()
                    gone.append(OWN_POOL)
                except libvirt.libvirtError as err:
                    busy.append(f"{OWN_POOL}: {err.get_error_message()}")
        if not busy:
            break
        if time.monotonic() > deadline:
            print(f"cleanup: gave up on {'; '.join(busy)}", file=sys.stderr)
            break
        time.sleep(0.5)
    if not busy:  # the directories of transient pools gone now (or with a restarted libvirtd)
        for path in Path("/var/tmp").glob(f"{PREFIX}-*"):
            shutil.rmtree(path, ignore_errors=True)
    return gone


def clean_up(conn: libvirt.virConnect, gold_uuid: str | None) -> None:
    """Undo the run through vmgui's own calls, then sweep whatever they left (or could not remove)."""

    def attempt(what: str, step: Callable[[], object]) -> None:
        try:
            step()
        except (VmguiError, libvirt.libvirtError) as err:
            print(f"cleanup: could not {what}: {err}", file=sys.stderr)

    for dom in conn.listAllDomains(0):
        if dom.name().startswith(f"{PREFIX}-copy-"):
            paths = [d.path for d in inspect_disks(conn, dom) if d.path]
            attempt(f"delete {dom.name()}", partial(delete_guest, conn, dom.UUIDString(), paths))
    if gold_uuid is not None:
        attempt("remove the desktop pool", partial(pools.remove_pool, conn, VDI_POOL, assigned_too=True))
        image = None
        with contextlib.suppress(libvirt.libvirtError):
            image = golden.read_golden(conn.lookupByUUIDString(gold_uuid))
        for version in image.versions if image is not None else ():
            attempt(f"retire golden {version.label}", partial(golden.retire, conn, gold_uuid, version.number))
    sweep(conn)  # the golden guest and its disk, virt-clone's clone, anything a failed step left


def _version(number: int) -> str:
    return f"{number // 1_000_000}.{number // 1000 % 1000}.{number % 1000}"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--uri", default="qemu:///system")
    p.add_argument("--pool", default="default", help="storage pool to use when the host has it (default: default)")
    p.add_argument("--desktops", type=int, default=100, help="desktops in the pool (default 100)")
    p.add_argument("--resets", type=int, default=20, help="resets of one desktop (default 20)")
    p.add_argument("--copies", type=int, default=3, help="full copies timed, then extrapolated (default 3)")
    p.add_argument("--data-gib", type=int, default=1, help="GiB of data in the golden image (default 1)")
    args = p.parse_args(argv)
    silence_default_handler()  # lookups of names not taken yet are expected to fail
    conn = libvirt.open(args.uri)
    left = sweep(conn)
    if left:
        more = " ..." if len(left) > 5 else ""
        print(f"removed {len(left)} leftovers of an earlier run: {', '.join(left[:5])}{more}")
    gold_uuid: str | None = None
    try:
        pool, own_dir = storage_pool(conn, args.pool)
        free = storage.pool_info(conn, pool).available
        need = (args.data_gib * (args.copies + 3) + 1) * storage.GIB
        if free < need:
            print(f"needs {need / storage.GIB:.0f} GiB free in the storage pool '{pool}', has "
                  f"{free / storage.GIB:.0f}; use --copies or --data-gib")
            return 2
        where = f"a transient pool in {own_dir} (no pool '{args.pool}')" if own_dir else f"storage pool '{pool}'"
        uuid = gold_uuid = gold_guest(conn, pool, args.data_gib)
        print(f"golden image: {GOLD}, a qcow2 disk holding {args.data_gib} GiB of data, in {where}; "
              f"libvirt {_version(conn.getLibVersion())}, {args.uri}")

        published = timed(partial(golden.publish, conn, uuid, "bench"))
        print(f"publish (full copy into a read-only version): {published:.2f} s")

        n = args.desktops
        saved = timed(partial(save_pool, conn, PoolSpec(VDI_POOL, uuid, n, PATTERN)))
        made: list[desktops.Desktop] = []
        provisioned = timed(lambda: made.extend(pools.provision(conn, VDI_POOL)))
        linked = saved + provisioned
        linked_each = linked / n
        met = "met" if linked * 100 / n < PROVISION_TARGET_S else "NOT met"
        print(f"provision {len(made)} desktops (save_pool + provision): {linked:.2f} s, {linked_each * 1000:.1f} ms "
              f"each (save_pool {saved * 1000:.0f} ms); target < {PROVISION_TARGET_S:.0f} s for 100: {met}")
        print(f"  on disk: {allocation(conn, DESKTOP_PREFIX) / 2**20:.1f} MiB for the {len(made)} overlays")

        resets = [timed(partial(desktops.reset, conn, made[0].uuid)) * 1000 for _ in range(args.resets)]
        met = "met" if max(resets) < RESET_TARGET_MS else "NOT met"
        print(f"reset one shut-off desktop, {args.resets} times ({len(made)} desktops in the pool): median "
              f"{statistics.median(resets):.1f} ms, max {max(resets):.1f} ms; target < {RESET_TARGET_MS:.0f} ms: {met}")

        copies = [timed(partial(clone_guest, conn, uuid, f"{PREFIX}-copy-{i}", {"vda": DiskMode.COPY}))
                  for i in range(1, args.copies + 1)]
        rows = [("clone_guest full copy", statistics.mean(copies))]
        print(f"full copies (clone_guest, DiskMode.COPY), {args.copies} measured: "
              f"{', '.join(f'{c:.2f}' for c in copies)} s, mean {rows[0][1]:.2f} s")
        outcome = virt_clone(conn, args.uri)
        if isinstance(outcome, str):
            print(f"virt-clone --original {GOLD} --auto-clone: skipped: {outcome}")
        else:
            print(f"virt-clone --original {GOLD} --auto-clone: {outcome:.2f} s (1 run)")
            rows.append(("virt-clone", outcome))
        print(f"full copy vs linked desktop ({linked_each * 1000:.1f} ms each, {linked:.2f} s for {n}, measured); "
              f"the full copies for {n} are EXTRAPOLATED (mean x {n}), not measured:")
        for label, each in rows:
            print(f"  {label:22} per desktop {each:6.2f} s = {each / linked_each:5.0f}x;   for {n}: {each * n:6.0f} s "
                  f"(extrapolated) = {each * n / linked:5.0f}x, and {args.data_gib * n} GiB on disk")
    finally:
        clean_up(conn, gold_uuid)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
