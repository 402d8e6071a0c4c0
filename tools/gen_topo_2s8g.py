#!/usr/bin/env python3
"""Writes tests/fixtures/topo/2s8g.xml: a synthetic 2-socket node (16 cores x 2
hyperthreads per socket, one NUMA node each) with 8 NVIDIA GPUs, 4 behind each
socket, and one InfiniBand NIC per socket, laid out like a DGX-class node.

The CPU part comes from hwloc itself (lstopo's synthetic mode); the PCI part is
added by hand, because synthetic topologies carry no I/O.  Checked by loading
it back with `lstopo --input` (done below).  Needs the Debian package hwloc."""
import os
import re
import subprocess

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "topo", "2s8g.xml")
GPUS = [["18", "2a", "3a", "5d"], ["9a", "ab", "ba", "db"]]  # PCI buses per socket
NICS = ["1a", "9c"]

xml = subprocess.run(["lstopo", "--input", "pack:2 numa:1 core:16 pu:2", "--of", "xml", "-"],
                     check=True, capture_output=True, text=True).stdout
xml = re.sub(r'\s*<info name="ProcessName" value="[^"]*"/>', "", xml)
gp = [100000]


def nxt():
    gp[0] += 1
    return gp[0]


def host_bridge(bus, inner):
    return (f'<object type="Bridge" gp_index="{nxt()}" bridge_type="0-1" depth="0" '
            f'bridge_pci="0000:[{bus}-{bus}]">{inner}</object>')


def gpu(bus):
    return (f'<object type="PCIDev" gp_index="{nxt()}" pci_busid="0000:{bus}:00.0" '
            f'pci_type="0302 [10de:2330] [10de:16c1] a1" pci_link_speed="63.015385">'
            f'<info name="PCIVendor" value="NVIDIA Corporation"/>'
            f'<info name="PCIDevice" value="GH100 [H100 SXM5 80GB]"/></object>')


def nic(bus, k):
    return (f'<object type="PCIDev" gp_index="{nxt()}" pci_busid="0000:{bus}:00.0" '
            f'pci_type="0207 [15b3:101b] [15b3:0007] 00" pci_link_speed="31.507692">'
            f'<info name="PCIVendor" value="Mellanox Technologies"/>'
            f'<info name="PCIDevice" value="MT28908 Family [ConnectX-6]"/>'
            f'<object type="OSDev" gp_index="{nxt()}" name="mlx5_{k}" osdev_type="3">'
            f'<info name="NodeGUID" value="b859:9f03:00{k}a:c0de"/></object>'
            f'<object type="OSDev" gp_index="{nxt()}" name="ib{k}" osdev_type="2">'
            f'<info name="Address" value="00:00:10:49:fe:80:00:00:00:00:00:00:b8:59:9f:03:00:0{k}:c0:de"/>'
            f'</object></object>')


parts = xml.split('<object type="Package"')
assert len(parts) == 3, "expected two packages"
out = parts[0]
for k in range(2):
    body = '<object type="Package"' + parts[k + 1]
    io = "".join(host_bridge(b, gpu(b)) for b in GPUS[k]) + host_bridge(NICS[k], nic(NICS[k], k))
    # the package's closing tag: the last "</object>" before the next package
    # (for the second package, before the Machine's own closing tag)
    cut = body.rfind("</object>") if k == 0 else body.rfind("</object>", 0, body.rfind("</object>"))
    out += body[:cut] + io + body[cut:]
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    f.write(out)
check = subprocess.run(["lstopo", "--input", OUT, "--of", "console"], check=True, capture_output=True, text=True)
print(check.stdout)
