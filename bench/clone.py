"""Clone benchmark: linked clones vs full copies of a guest whose disk holds 1 GiB of data, on real libvirtd.

Prints the time for 1 and for N clones of each kind (vmgui.core.clone.clone_guest, as the Clone dialog
runs it) and the ratio. Needs root (or a user libvirt lets define guests) and N+1 GiB free for the
full copies, which are removed again after they are timed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import libvirt

from vmgui.core import storage
from vmgui.core.clone import DiskMode, clone_guest
from vmgui.core.errors import silence_default_handler

PREFIX = "vmgui-bench-clone"


def source_guest(conn: libvirt.virConnect, pool: str, directory: Path, size_gib: int) -> str:
    """A shut-off guest whose qcow2 disk holds `size_gib` GiB of random data: its UUID."""
    raw = directory / "data.raw"
    with open(raw, "wb") as out:
        chunk = os.urandom(1 << 20)
        for _ in range(size_gib * 1024):
            out.write(chunk)
    image = directory / f"{PREFIX}-src.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-O", "qcow2", str(raw), str(image)], check=True)
    raw.unlink()
    conn.storagePoolLookupByName(pool).refresh(0)
    xml = (f"<domain type='qemu'><name>{PREFIX}-src</name><memory unit='MiB'>64</memory>"
           "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'>"
           f"<driver name='qemu' type='qcow2'/><source file='{image}'/><target dev='vda' bus='virtio'/></disk>"
           "</devices></domain>")
    return str(conn.defineXML(xml).UUIDString())


def timed(conn: libvirt.virConnect, uuid: str, mode: DiskMode, count: int, first: int) -> float:
    started = time.perf_counter()
    for n in range(first, first + count):
        clone_guest(conn, uuid, f"{PREFIX}-{mode.value}-{n:03}", {"vda": mode})
    return time.perf_counter() - started


def remove_clones(conn: libvirt.virConnect, pool: str) -> None:
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(PREFIX) and not dom.name().endswith("-src"):
            dom.undefine()
    for vol in conn.storagePoolLookupByName(pool).listAllVolumes(0):
        if vol.name().startswith(PREFIX) and "-src" not in vol.name():
            vol.delete(0)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--uri", default="qemu:///system")
    p.add_argument("--count", type=int, default=50, help="clones in the larger batch (default 50)")
    p.add_argument("--size-gib", type=int, default=1, help="GiB of data in the source disk (default 1)")
    args = p.parse_args(argv)
    silence_default_handler()  # lookups of names not taken yet are expected to fail
    conn = libvirt.open(args.uri)
    work = Path(tempfile.mkdtemp(prefix="vmgui-bench-clone-", dir="/var/tmp"))
    pool_name = f"{PREFIX}-pool"
    need = (args.size_gib * (args.count + 2) + 1) * storage.GIB
    if shutil.disk_usage(work).free < need:
        print(f"needs {need / storage.GIB:.0f} GiB free in {work}; use --count or --size-gib")
        return 2
    pool = conn.storagePoolCreateXML(f"<pool type='dir'><name>{pool_name}</name><target><path>{work}</path>"
                                     "</target></pool>", 0)
    try:
        uuid = source_guest(conn, pool_name, work, args.size_gib)
        print(f"source: a qcow2 disk with {args.size_gib} GiB of data; libvirt {conn.getLibVersion()}, {args.uri}")
        rows = []
        for mode in (DiskMode.LINK, DiskMode.COPY):
            one = timed(conn, uuid, mode, 1, 0)
            many = timed(conn, uuid, mode, args.count, 1)
            rows.append((mode, one, many))
            print(f"  {mode.label:13} 1 clone: {one:7.2f} s   {args.count} clones: {many:8.2f} s "
                  f"({many / args.count * 1000:.0f} ms each)")
            remove_clones(conn, pool_name)
        (_, link_one, link_many), (_, copy_one, copy_many) = rows
        print(f"full copy / linked clone: {copy_one / link_one:.0f}x for one, {copy_many / link_many:.0f}x for "
              f"{args.count}")
    finally:
        remove_clones(conn, pool_name)
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(PREFIX):
                dom.undefine()
        for vol in pool.listAllVolumes(0):
            vol.delete(0)
        pool.destroy()
        shutil.rmtree(work, ignore_errors=True)
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
