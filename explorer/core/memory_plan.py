"""Will the model fit? Weight bytes per precision, KV cache for decoders, against each device's free memory.

CPU RAM and CUDA devices go through one path: a ``DeviceMemory`` with free bytes. A device
"fits" when weights + KV cache + a working margin fit in its free memory; "fits with offload"
when the remainder fits in system RAM (for a GPU) or on the offload disk (for the CPU), which
is what accelerate's device_map="auto" would do; otherwise it "does not fit".
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

# Activations, allocator slack and the framework itself; a real load needs some room beyond the weights.
WORKING_MARGIN = 0.10

PRECISIONS = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "int8": 1.0, "int4": 0.5}

FITS = "fits"
FITS_WITH_OFFLOAD = "fits with offload"
DOES_NOT_FIT = "does not fit"

DECODER_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


@dataclass(frozen=True, slots=True)
class DeviceMemory:
    id: str  # "cpu", "cuda:0"
    name: str
    total: int | None
    free: int | None


def system_memory() -> DeviceMemory:
    total = free = None
    try:
        import psutil

        memory = psutil.virtual_memory()
        total, free = int(memory.total), int(memory.available)
    except ImportError:
        try:
            with open("/proc/meminfo", encoding="ascii") as handle:
                fields = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle if line.split()[1:]}
            total, free = fields.get("MemTotal"), fields.get("MemAvailable")
        except (OSError, ValueError, IndexError):
            pass
    return DeviceMemory("cpu", "system RAM", total, free)


def cuda_memory() -> list[DeviceMemory]:
    """Free memory of each CUDA device; empty without CUDA. Imports torch: call it from a worker."""
    from explorer.core.torch_import import import_torch

    try:
        torch = import_torch()
    except ImportError:
        return []
    if not torch.cuda.is_available():
        return []
    devices = []
    for index in range(torch.cuda.device_count()):
        try:
            free, total = torch.cuda.mem_get_info(index)
        except RuntimeError:
            free, total = None, torch.cuda.get_device_properties(index).total_memory
        devices.append(DeviceMemory(f"cuda:{index}", torch.cuda.get_device_name(index), total, free))
    return devices


def available_devices() -> list[DeviceMemory]:
    return [system_memory(), *cuda_memory()]


def weight_bytes_by_precision(num_params: int, stored_bytes: int | None = None) -> dict[str, int]:
    sizes = {"stored": int(stored_bytes)} if stored_bytes is not None else {}
    for name, per_param in PRECISIONS.items():
        sizes[name] = int(num_params * per_param)
    return sizes


def _first(config: dict, *keys):
    for key in keys:
        value = config.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
    return None


def is_decoder(config: dict) -> bool:
    architectures = config.get("architectures") or []
    return bool(config.get("is_encoder_decoder")) or any(str(a).endswith(DECODER_SUFFIXES) for a in architectures)


def kv_cache_bytes(config: dict, context_length: int, batch_size: int, bytes_per_value: float) -> int | None:
    """Keys and values for every decoder layer: 2 x layers x kv_heads x head_dim x tokens x batch.

    Sliding-window layers (Mistral, Gemma) are counted at full length: an upper bound.
    """
    text = config.get("text_config") if isinstance(config.get("text_config"), dict) else config
    layers = _first(text, "num_decoder_layers", "decoder_layers", "num_hidden_layers", "n_layer", "num_layers")
    heads = _first(text, "num_attention_heads", "n_head", "num_heads", "decoder_attention_heads")
    kv_heads = _first(text, "num_key_value_heads", "multi_query_group_num") or heads
    hidden = _first(text, "hidden_size", "n_embd", "d_model")
    head_dim = _first(text, "head_dim", "d_kv") or (hidden // heads if hidden and heads else None)
    latent, rope = _first(text, "kv_lora_rank"), _first(text, "qk_rope_head_dim")
    if layers and latent and rope:
        # Multi-head latent attention (DeepSeek V2/V3): the installed transformers caches the
        # compressed latent and the shared rotary key, one "head" per layer, and expands them per step.
        per_token = layers * (latent + rope)
    elif layers and kv_heads and head_dim:
        per_token = 2 * layers * kv_heads * head_dim
    else:
        return None
    return int(per_token * context_length * batch_size * bytes_per_value)


@dataclass(slots=True)
class DeviceVerdict:
    device: DeviceMemory
    verdict: str
    needed: int
    reason: str


@dataclass(slots=True)
class MemoryPlan:
    precision: str
    weight_bytes: int
    kv_cache_bytes: int | None
    needed: int
    by_precision: dict[str, int]
    verdicts: list[DeviceVerdict] = field(default_factory=list)


def _offload_disk_free() -> int | None:
    from explorer.core.paths import cache_dir

    folder = str(cache_dir())
    while folder and not os.path.exists(folder):
        folder = os.path.dirname(folder)
    try:
        return shutil.disk_usage(folder or "/").free
    except OSError:
        return None


def plan_memory(
    num_params: int,
    stored_bytes: int | None,
    config: dict,
    precision: str = "stored",
    context_length: int = 4096,
    batch_size: int = 1,
    devices: list[DeviceMemory] | None = None,
    disk_free: int | None = None,
) -> MemoryPlan:
    by_precision = weight_bytes_by_precision(num_params, stored_bytes)
    weights = by_precision.get(precision, by_precision.get("stored", 0))
    kv = None
    if is_decoder(config):
        # The cache is kept in the compute dtype; quantised weights still compute in 16 bits.
        kv_dtype_bytes = {"float32": 4.0, "stored": _stored_bytes_per_param(num_params, stored_bytes)}.get(precision, 2.0)
        kv = kv_cache_bytes(config, context_length, batch_size, kv_dtype_bytes)
    needed = int((weights + (kv or 0)) * (1 + WORKING_MARGIN))
    plan = MemoryPlan(precision=precision, weight_bytes=weights, kv_cache_bytes=kv, needed=needed, by_precision=by_precision)
    devices = available_devices() if devices is None else devices
    ram = next((d for d in devices if d.id == "cpu"), None)
    if disk_free is None:
        disk_free = _offload_disk_free()
    for device in devices:
        plan.verdicts.append(_verdict(device, needed, ram, disk_free))
    return plan


def _stored_bytes_per_param(num_params: int, stored_bytes: int | None) -> float:
    if not num_params or not stored_bytes:
        return 2.0
    return max(1.0, min(4.0, stored_bytes / num_params))


def _verdict(device: DeviceMemory, needed: int, ram: DeviceMemory | None, disk_free: int | None) -> DeviceVerdict:
    from explorer.core.formatting import human_bytes

    if device.free is None:
        return DeviceVerdict(device, DOES_NOT_FIT, needed, f"free memory of {device.name} is unknown")
    if needed <= device.free:
        return DeviceVerdict(device, FITS, needed, f"needs {human_bytes(needed)}, {human_bytes(device.free)} free")
    rest = needed - device.free
    if device.id == "cpu":
        spill, where = disk_free, "disk"
    else:
        spill, where = (ram.free if ram else None), "system RAM"
    if spill is not None and rest <= spill:
        return DeviceVerdict(
            device, FITS_WITH_OFFLOAD, needed,
            f"needs {human_bytes(needed)}, {human_bytes(device.free)} free; {human_bytes(rest)} would be offloaded to {where} (slow)",
        )
    return DeviceVerdict(device, DOES_NOT_FIT, needed, f"needs {human_bytes(needed)}, only {human_bytes(device.free)} free")


__all__ = [
    "DeviceMemory", "MemoryPlan", "DeviceVerdict", "plan_memory", "available_devices", "kv_cache_bytes",
    "weight_bytes_by_precision", "plan_every_precision", "FITS", "FITS_WITH_OFFLOAD", "DOES_NOT_FIT",
]


def plan_every_precision(
    num_params: int,
    stored_bytes: int | None,
    config: dict,
    context_length: int = 4096,
    batch_size: int = 1,
    devices: list[DeviceMemory] | None = None,
    disk_free: int | None = None,
) -> list[MemoryPlan]:
    """One plan per precision (as stored first), asking the devices for free memory once."""
    devices = available_devices() if devices is None else devices
    disk_free = _offload_disk_free() if disk_free is None else disk_free
    precisions = (["stored"] if stored_bytes is not None else []) + list(PRECISIONS)
    return [
        plan_memory(num_params, stored_bytes, config, precision, context_length, batch_size, devices, disk_free)
        for precision in precisions
    ]
