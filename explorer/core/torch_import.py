"""Import torch and transformers one thread at a time.

Jobs run in worker threads, and two of them may be the first to import torch at the same
moment (the Parameters tab reads a tensor while the model skeleton is being built). importlib
breaks the resulting lock cycle by handing one thread a partially initialised module, and
torch then crashes the process ("deallocating None"). Every first import of the stack goes
through this lock; afterwards it costs one uncontended acquire.
"""

from __future__ import annotations

import os
import sys
import threading

_LOCK = threading.Lock()
# Set only after an import finished under the lock: "torch" in sys.modules is already true
# while another thread is still half way through torch/__init__.py.
_ready: set[str] = set()


def import_torch():
    if "torch" not in _ready:
        with _LOCK:
            import torch  # noqa: F401

            _ready.add("torch")
    return sys.modules["torch"]


def keep_custom_code_copies_in_app_cache() -> None:
    """transformers copies a checkpoint's code (after the user's consent) into HF_MODULES_CACHE,
    by default inside the user's Hugging Face folder; keep those copies in the app's own cache.
    A value the user set is respected. Read once, when transformers is imported."""
    if "HF_MODULES_CACHE" not in os.environ:
        from explorer.core.paths import cache_dir

        os.environ["HF_MODULES_CACHE"] = str(cache_dir() / "hf-modules")


def import_transformers():
    if "transformers" not in _ready:
        with _LOCK:
            if "transformers" not in sys.modules:
                keep_custom_code_copies_in_app_cache()
            import torch  # noqa: F401  transformers imports it; do it under the same lock
            import transformers  # noqa: F401
            import transformers.modeling_utils  # noqa: F401  the lazy module most jobs reach first

            _ready.update(("torch", "transformers"))
    return sys.modules["transformers"]


def warm_up(cancel=None):
    """Job: import the stack once in the background, so the first tab that needs it opens at once."""
    from explorer.core.jobs import Progress

    if "transformers" in _ready:
        return False
    yield Progress(0, 1, "Loading torch and transformers in the background…")
    import_transformers()
    yield Progress(1, 1, "torch and transformers are ready")
    return True
