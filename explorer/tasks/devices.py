"""Where a model can run: CPU, each CUDA device, MPS; which dtypes each can run and why not.

CPU and GPU share every code path: a device is a string torch understands ("cpu", "cuda:1",
"mps"); only discovery and dtype checks look at the kind. Imports torch inside functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.tasks.base import TaskError

DTYPE_CHOICES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class DtypeOption:
    name: str
    supported: bool
    reason: str = ""  # why it is disabled, or a caveat when supported


@dataclass(frozen=True)
class DeviceInfo:
    id: str  # what torch takes: "cpu", "cuda:0", "mps"
    kind: str  # "cpu", "cuda", "mps"
    name: str
    total_memory: int | None = None
    free_memory: int | None = None
    dtypes: tuple[DtypeOption, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        from explorer.core.formatting import human_bytes

        if self.total_memory:
            free = f"{human_bytes(self.free_memory)} free of " if self.free_memory is not None else ""
            return f"{self.id} · {self.name} ({free}{human_bytes(self.total_memory)})"
        return f"{self.id} · {self.name}"

    def dtype(self, name: str) -> DtypeOption:
        for option in self.dtypes:
            if option.name == name:
                return option
        return DtypeOption(name, False, f"{name} is not a dtype this app offers")


def _cpu_name() -> str:
    import platform

    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "CPU"


def _cpu_info() -> DeviceInfo:
    total = free = None
    try:
        import psutil  # optional: only for the memory figures

        memory = psutil.virtual_memory()
        total, free = memory.total, memory.available
    except ImportError:
        try:
            import os

            pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
            total = pages * page_size
            free = os.sysconf("SC_AVPHYS_PAGES") * page_size
        except (ValueError, OSError, AttributeError):
            pass
    dtypes = (
        DtypeOption("auto", True, "the checkpoint's own dtype"),
        DtypeOption("float32", True),
        DtypeOption("bfloat16", True, "runs on CPU; fast only on CPUs with AVX512-BF16/AMX"),
        DtypeOption("float16", True, "runs on CPU but usually slower than float32"),
    )
    return DeviceInfo("cpu", "cpu", _cpu_name(), total, free, dtypes)


def _cuda_infos(torch) -> list[DeviceInfo]:
    infos = []
    if not torch.cuda.is_available():
        return infos
    for index in range(torch.cuda.device_count()):
        props = torch.cuda.get_device_properties(index)
        try:
            free, total = torch.cuda.mem_get_info(index)
        except RuntimeError:
            free, total = None, props.total_memory
        capability = f"{props.major}.{props.minor}"
        bf16 = props.major >= 8
        dtypes = (
            DtypeOption("auto", True, "the checkpoint's own dtype"),
            DtypeOption("float32", True),
            DtypeOption("bfloat16", bf16, "" if bf16 else f"needs compute capability 8.0 (Ampere) or newer; this GPU is {capability}"),
            DtypeOption("float16", True),
        )
        infos.append(DeviceInfo(f"cuda:{index}", "cuda", props.name, total, free, dtypes))
    return infos


def _mps_info(torch) -> DeviceInfo | None:
    backend = getattr(torch.backends, "mps", None)
    if backend is None or not backend.is_available():
        return None
    try:
        torch.zeros(1, dtype=torch.bfloat16, device="mps")
        bf16, reason = True, ""
    except (RuntimeError, TypeError):
        bf16, reason = False, "bfloat16 on MPS needs macOS 14 or newer"
    dtypes = (
        DtypeOption("auto", True, "the checkpoint's own dtype"),
        DtypeOption("float32", True),
        DtypeOption("bfloat16", bf16, reason),
        DtypeOption("float16", True),
    )
    return DeviceInfo("mps", "mps", "Apple GPU (Metal)", None, None, dtypes)


def list_devices() -> list[DeviceInfo]:
    """Every device torch can use now (asks the drivers; call off the GUI thread)."""
    from explorer.core.torch_import import import_torch

    torch = import_torch()

    devices = [_cpu_info()]
    devices.extend(_cuda_infos(torch))
    mps = _mps_info(torch)
    if mps is not None:
        devices.append(mps)
    return devices


def find_device(device_id: str, devices: list[DeviceInfo] | None = None) -> DeviceInfo:
    """The device named, or TaskError when it is not there (unplugged, driver gone, typo)."""
    devices = list_devices() if devices is None else devices
    normalized = "cuda:0" if device_id == "cuda" else device_id
    for device in devices:
        if device.id == normalized:
            return device
    present = ", ".join(d.id for d in devices)
    raise TaskError(
        f"Device {device_id!r} is not available (present: {present}). The model was not loaded anywhere else.",
        "A CUDA device can disappear when the driver resets or the GPU is taken by another process; "
        "choose one of the present devices.",
    )


def check_dtype(device: DeviceInfo, dtype_name: str) -> None:
    if dtype_name not in DTYPE_CHOICES:
        raise TaskError(f"dtype {dtype_name!r} is not one of {', '.join(DTYPE_CHOICES)}")
    option = device.dtype(dtype_name)
    if not option.supported:
        raise TaskError(f"{dtype_name} cannot run on {device.id}: {option.reason}")


def torch_dtype(dtype_name: str):
    """'auto' stays 'auto' (from_pretrained then uses the checkpoint's dtype)."""
    if dtype_name == "auto":
        return "auto"
    import torch

    return getattr(torch, dtype_name)


def spread_available(devices: list[DeviceInfo]) -> tuple[bool, str]:
    """Whether device_map='auto' can place the model; and why not."""
    import importlib.util

    if importlib.util.find_spec("accelerate") is None:
        return False, "needs the accelerate package"
    accelerators = [d for d in devices if d.kind != "cpu"]
    if not accelerators:
        return True, "only the CPU is present: accelerate keeps every layer on the CPU"
    return True, "accelerate places layers over " + ", ".join(d.id for d in accelerators) + " and the CPU"


def is_out_of_memory(error: BaseException) -> bool:
    try:
        import torch

        if isinstance(error, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:
        pass
    text = str(error).lower()
    return isinstance(error, (RuntimeError, MemoryError)) and (
        "out of memory" in text or isinstance(error, MemoryError) or "mps backend out of memory" in text
    )


def out_of_memory_error(error: BaseException, where: str) -> TaskError:
    return TaskError(
        f"Out of memory on {where}. Free memory (Unload, close other programs), pick a smaller dtype "
        "(bfloat16/float16), shorten the input, or spread the model over devices.",
        f"{type(error).__name__}: {error}",
    )


__all__ = [
    "DTYPE_CHOICES",
    "DeviceInfo",
    "DtypeOption",
    "list_devices",
    "find_device",
    "check_dtype",
    "torch_dtype",
    "spread_available",
    "is_out_of_memory",
    "out_of_memory_error",
]
