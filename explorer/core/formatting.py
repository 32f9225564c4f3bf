"""Human-readable numbers, shared by the command line and the window."""

from __future__ import annotations


def _astronomical(n: int) -> str:
    """A number far beyond any real model's, from a forged or broken file: its order of magnitude only.

    Never converted to str or float whole: past 4,300 digits Python refuses the one, past
    10^308 the other.
    """
    if n.bit_length() > 1000:
        return f"{'-' if n < 0 else ''}about 10^{int(abs(n).bit_length() * 0.30103)}"
    return f"{float(n):.1e}"


def _whole(n) -> int | None:
    """An int, or None for NaN and infinities (which come only from broken files)."""
    if isinstance(n, float) and (n != n or n in (float("inf"), float("-inf"))):
        return None
    return int(n)


def sortable(n: int | float | None) -> float:
    """A number as a float for sorting in Qt views, which cannot hold integers past 2^63 (a forged file's counts)."""
    if n is None:
        return -1.0
    if isinstance(n, int) and abs(n) >= 10**300:
        return float("inf") if n > 0 else float("-inf")
    return float(n)


def human_count(n: int | None) -> str:
    """110M, 7.2B, 1.3K; '' for unknown."""
    if n is None:
        return ""
    n = _whole(n)
    if n is None:
        return "not a number"
    if abs(n) >= 10**15:
        return _astronomical(n)
    for unit, scale in (("T", 10**12), ("B", 10**9), ("M", 10**6), ("K", 10**3)):
        if abs(n) >= scale:
            value = n / scale
            text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
            return text.removesuffix(".0") + unit
    return str(n)


def human_bytes(n: int | None) -> str:
    if n is None:
        return ""
    n = _whole(n)
    if n is None:
        return "not a number"
    if abs(n) < 1024:
        return f"{n} B"
    if abs(n) >= 1024**6:
        return _astronomical(n) + " B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        value /= 1024
        if abs(value) < 1024 or unit == "PiB":
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{n} B"  # pragma: no cover


def human_seconds(s: float) -> str:
    if s < 1:
        return f"{s * 1000:.0f} ms"
    if s < 60:
        return f"{s:.1f} s"
    return f"{int(s // 60)} min {int(s % 60)} s"


def json_ready(value):
    """``value`` made strict JSON for the command line's --json: NaN and infinities as the strings
    "NaN"/"Infinity"/"-Infinity" (they only come from broken configs, and null would hide them),
    tuples as lists, keys as text, other objects by str(). Python's json module would otherwise
    print bare NaN, which no other JSON reader accepts.
    """
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return str(value)
