"""Azure VM sizes the pool sizing knows, with their vCPU counts, and how their names are spelt.

The sizing runs one file per vCPU (an MP3 encode uses one core), so all it needs of a size
is its vCPU count. Sizes not in the table still work: Azure names carry the vCPU count
right after the family letters (Standard_D2s_v3: 2; Standard_E4-2s_v3: 2 active of 4).
"""

from __future__ import annotations

import re

DEFAULT_VM_SIZE = "standard_d2s_v3"

#: vCPUs per size (Azure's size pages for the Dsv3, Dsv5, Dasv5 and Fsv2 series).
VM_CORES: dict[str, int] = {
    "standard_d2s_v3": 2,
    "standard_d4s_v3": 4,
    "standard_d8s_v3": 8,
    "standard_d16s_v3": 16,
    "standard_d2s_v5": 2,
    "standard_d4s_v5": 4,
    "standard_d8s_v5": 8,
    "standard_d16s_v5": 16,
    "standard_d2as_v5": 2,
    "standard_d4as_v5": 4,
    "standard_d8as_v5": 8,
    "standard_d16as_v5": 16,
    "standard_f2s_v2": 2,
    "standard_f4s_v2": 4,
    "standard_f8s_v2": 8,
    "standard_f16s_v2": 16,
}

_SIZE = re.compile(r"^standard_([a-z]+)(\d+)(?:-(\d+))?([a-z]*)((?:_.*)?)$")


def normal_vm_size(vm_size: str) -> str:
    """The key sizes are stored under: lower case, with the 'standard_' prefix."""
    text = vm_size.strip().lower()
    if text and not text.startswith(("standard_", "basic_")):
        text = "standard_" + text
    return text


def vm_cores(vm_size: str) -> int | None:
    """vCPUs of a size: from the table, else read from the name; None when it can't tell."""
    key = normal_vm_size(vm_size)
    if key in VM_CORES:
        return VM_CORES[key]
    match = _SIZE.match(key)
    if not match:
        return None
    # constrained-core sizes (E4-2s_v3) run the second number of cores
    return int(match.group(3) or match.group(2)) or None


def arm_sku_name(vm_size: str) -> str:
    """The name as Azure's price list spells it: standard_nc6s_v3 -> Standard_NC6s_v3."""
    key = normal_vm_size(vm_size)
    match = _SIZE.match(key)
    if not match:
        return vm_size.strip()
    family, count, active, features, rest = match.groups()
    return (f"Standard_{family.upper()}{count}{'-' + active if active else ''}"
            f"{features}{rest}")
