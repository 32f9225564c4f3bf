"""The ``hub`` fixture: a stand-in Hub (tests/hub_server.py) on 127.0.0.1, with huggingface_hub pointed at it.

tests/conftest.py sets HF_HUB_OFFLINE=1 for the whole run before huggingface_hub is imported, and the library
reads it once, at import, into ``constants.HF_HUB_OFFLINE`` (its ``is_offline_mode()`` returns that constant at
call time). For the test using this fixture only, the constant is set to False: the way transformers and
huggingface_hub's own tests switch offline mode during a run. HF_ENDPOINT is also read at import; in-process
calls get the server's address through the ``endpoint`` argument every huggingface_hub function takes, and
the command line, run as a child process, through HF_ENDPOINT in its environment (``hub_env``).
"""

from __future__ import annotations

import os

import pytest

from tests.hub_server import StandInHub


@pytest.fixture
def hub(monkeypatch):
    from huggingface_hub import constants

    server = StandInHub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def hub_env(hub) -> dict[str, str]:
    """The environment for a child process that downloads from the stand-in (online, quiet, no token)."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN")}
    env["HF_ENDPOINT"] = hub.url
    env["HF_HUB_DISABLE_TELEMETRY"] = "1"
    env["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    return env
