"""Which weights a checkpoint is missing, or has in excess, for a chosen model class, before loading anything.

This replays transformers' own loading logic on meta tensors: the checkpoint's tensors become
empty meta tensors of the stored shape and dtype, and are fed to
``convert_and_load_state_dict_in_model`` with the conversion mapping ``from_pretrained`` would
use (key renamings, legacy names such as gamma/beta, MoE expert fusion, base-model prefix
handling). Then the model's tying and ``_keys_to_ignore_on_load_*`` rules run, as in
``_finalize_model_loading``. Meta tensors make every conversion op shape-only, so a 70B
checkpoint is matched in well under a second, and the answer is the one transformers would give.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from explorer.core.safetensors_header import TensorInfo


@dataclass(slots=True)
class HeadMatch:
    head: str
    model_class: str
    missing: list[str] = field(default_factory=list)  # model keys the checkpoint does not provide: newly initialised
    unexpected: list[str] = field(default_factory=list)  # checkpoint keys the model has no place for: dropped
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)  # (key, checkpoint, model)
    conversions: list[str] = field(default_factory=list)  # transformations that matched some checkpoint key
    problems: list[str] = field(default_factory=list)
    load_report: str | None = None  # the table transformers logs as "<Class> LOAD REPORT" (None: nothing to report)

    @property
    def load_fails(self) -> bool:
        """from_pretrained raises on shape mismatches (unless ignore_mismatched_sizes=True) and on conversion errors."""
        return bool(self.mismatched) or any(p.startswith("conversion of") for p in self.problems)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def status_of(self) -> dict[str, str]:
        """Model key -> 'missing' | 'mismatched' (for colouring the tree)."""
        status = {key: "missing" for key in self.missing}
        status.update({key: "mismatched" for key, _, _ in self.mismatched})
        return status


def _torch_dtype(name: str):
    import torch

    dtype = getattr(torch, name, None)
    # Exotic stored types (fp4, fp6) have no torch dtype everywhere; the byte layout is irrelevant on meta.
    return dtype if isinstance(dtype, torch.dtype) else torch.uint8


def meta_state_dict(tensors: list[TensorInfo]) -> dict:
    import torch

    return {t.name: torch.empty(t.shape, dtype=_torch_dtype(t.dtype), device="meta") for t in tensors}


def match_head(model, tensors: list[TensorInfo], head: str | None = None) -> HeadMatch:
    """Compare a meta model (built by skeleton.build_meta_model; it gets modified) with checkpoint tensors."""
    import logging

    from transformers.conversion_mapping import get_model_conversion_mapping
    from transformers.core_model_loading import convert_and_load_state_dict_in_model
    from transformers.modeling_utils import LoadStateDictConfig

    result = HeadMatch(head=head or type(model).__name__, model_class=type(model).__name__)
    weight_mapping = get_model_conversion_mapping(model)
    load_config = LoadStateDictConfig(device_map={"": "meta"}, weight_mapping=weight_mapping)
    # Tying and conversion helpers log warnings meant for a real load; the result carries the facts instead.
    from transformers.utils import logging as hf_logging

    transformers_logger = logging.getLogger("transformers")
    previous_level = transformers_logger.level
    transformers_logger.setLevel(logging.ERROR)
    # The "Loading weights" bar would print for a load that is not happening.
    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        loading_info, _ = convert_and_load_state_dict_in_model(model, meta_state_dict(tensors), load_config)
        model.tie_weights(missing_keys=loading_info.missing_keys, recompute_mapping=False)
        model._adjust_missing_and_unexpected_keys(loading_info)
        report = loading_info.create_loading_report(None)
    finally:
        transformers_logger.setLevel(previous_level)
        if bar_was_on:
            hf_logging.enable_progress_bar()
    result.missing = sorted(loading_info.missing_keys)
    result.unexpected = sorted(loading_info.unexpected_keys)
    result.mismatched = sorted((key, tuple(ckpt), tuple(expected)) for key, ckpt, expected in loading_info.mismatched_keys)
    for key, message in (loading_info.conversion_errors or {}).items():
        result.problems.append(f"conversion of {key} failed: {message}")
    result.conversions = [_describe(t) for t in getattr(model, "_weight_conversions", []) or []]
    if report:
        result.load_report = f"{result.model_class} LOAD REPORT\n{report}"
    return result


def _describe(transform) -> str:
    sources = ", ".join(transform.source_patterns)
    targets = ", ".join(transform.target_patterns)
    operations = getattr(transform, "operations", None) or []
    ops = " + ".join(type(op).__name__ for op in operations)
    return f"{sources} -> {targets}" + (f" ({ops})" if ops else "")


def stored_name_for(model_key: str, stored_names: set[str]) -> str | None:
    """The checkpoint tensor holding a model parameter when it is stored as-is, give or take the base-model prefix.

    Parameters built by a conversion (fused experts, renamed legacy keys) have no single stored tensor: None.
    """
    if model_key in stored_names:
        return model_key
    without_prefix = model_key.partition(".")[2]
    if without_prefix in stored_names:
        return without_prefix
    suffix = "." + model_key
    candidates = [name for name in stored_names if name.endswith(suffix) and name.count(".") == model_key.count(".") + 1]
    return candidates[0] if len(candidates) == 1 else None
