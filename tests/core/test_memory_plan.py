"""Memory plan arithmetic and verdicts, with devices given explicitly (no dependence on this machine)."""

from __future__ import annotations

from explorer.core.memory_plan import (
    DOES_NOT_FIT, FITS, FITS_WITH_OFFLOAD, DeviceMemory, available_devices, kv_cache_bytes, plan_memory, weight_bytes_by_precision,
)

LLAMA_70B = {
    "architectures": ["LlamaForCausalLM"], "num_hidden_layers": 80, "num_attention_heads": 64,
    "num_key_value_heads": 8, "hidden_size": 8192,
}
GIB = 1024**3


def test_weight_bytes_per_precision():
    sizes = weight_bytes_by_precision(1_000, stored_bytes=2_000)
    assert sizes == {"stored": 2000, "float32": 4000, "bfloat16": 2000, "float16": 2000, "int8": 1000, "int4": 500}


def test_kv_cache_for_llama_70b():
    # 2 (k,v) x 80 layers x 8 kv heads x 128 dims x 4096 tokens x 2 bytes = 1.25 GiB
    assert kv_cache_bytes(LLAMA_70B, 4096, 1, 2) == int(1.25 * GIB)
    assert kv_cache_bytes({"n_layer": 2, "n_head": 2, "n_embd": 32}, 10, 3, 4) == 2 * 2 * 2 * 16 * 10 * 3 * 4
    assert kv_cache_bytes({}, 10, 1, 2) is None


def test_verdicts():
    ram = DeviceMemory("cpu", "system RAM", 64 * GIB, 48 * GIB)
    gpu = DeviceMemory("cuda:0", "GPU", 24 * GIB, 20 * GIB)
    params = 70_553_706_496
    plan = plan_memory(params, params * 2, LLAMA_70B, "int4", 4096, 1, devices=[ram, gpu], disk_free=500 * GIB)
    assert plan.kv_cache_bytes == int(1.25 * GIB)
    verdicts = {v.device.id: v.verdict for v in plan.verdicts}
    assert verdicts == {"cpu": FITS, "cuda:0": FITS_WITH_OFFLOAD}
    plan = plan_memory(params, params * 2, LLAMA_70B, "float32", 4096, 1, devices=[ram, gpu], disk_free=10 * GIB)
    assert {v.verdict for v in plan.verdicts} == {DOES_NOT_FIT}
    encoder = plan_memory(1000, 4000, {"architectures": ["BertModel"]}, devices=[ram], disk_free=0)
    assert encoder.kv_cache_bytes is None and encoder.verdicts[0].verdict == FITS


def test_this_machine_has_ram():
    devices = available_devices()
    assert devices[0].id == "cpu" and devices[0].free and devices[0].free > 0


def test_plan_every_precision_orders_and_decides():
    from explorer.core.memory_plan import plan_every_precision

    ram = DeviceMemory("cpu", "system RAM", 64 * GIB, 48 * GIB)
    params = 70_553_706_496
    plans = plan_every_precision(params, params * 2, LLAMA_70B, 4096, 1, devices=[ram], disk_free=0)
    assert [p.precision for p in plans] == ["stored", "float32", "bfloat16", "float16", "int8", "int4"]
    assert [p.verdicts[0].verdict for p in plans] == [DOES_NOT_FIT] * 5 + [FITS]


def test_stack_imports_serialised_across_threads():
    import sys
    import threading

    from explorer.core.torch_import import import_torch, import_transformers

    results = []
    threads = [threading.Thread(target=lambda: results.append(import_transformers())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [sys.modules["transformers"]] * 3
    assert import_torch() is sys.modules["torch"]


def test_kv_cache_of_latent_attention_is_the_compressed_latent():
    # DeepSeek-V3's published sizes; transformers caches kv_lora_rank + qk_rope_head_dim values per layer and token.
    config = {
        "architectures": ["DeepseekV3ForCausalLM"], "num_hidden_layers": 61, "num_attention_heads": 128,
        "num_key_value_heads": 128, "hidden_size": 7168, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
        "qk_rope_head_dim": 64, "v_head_dim": 128,
    }
    assert kv_cache_bytes(config, 1, 1, 2) == 61 * (512 + 64) * 2
