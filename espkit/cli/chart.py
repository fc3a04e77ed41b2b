"""Small terminal charts: one bar per row, a value against a cap (sent volume against a
warmup cap, a ramp's volume against the new side's capacity). Plain text, no markup, so it
prints the same in a terminal, a pipe and a CI log.

    2026-12-01  ██████████▌········│        1,200 / 2,000
    2026-12-02  ████████████████████████▌  3,100 / 2,800  over

A bar is the value, ``·`` fills up to the cap, ``│`` marks the cap; a value over its cap is
flagged ``over``. The scale is the largest value or cap shown.
"""

from __future__ import annotations

from collections.abc import Sequence

#: eighths of a cell, so a bar's end is drawn to 1/8 of a character
_EIGHTHS = " ▏▎▍▌▋▊▉"
FULL = "█"


def _bar(value: float, scale: float, width: int) -> str:
    cells = value / scale * width if scale > 0 else 0.0
    whole = int(cells)
    part = int((cells - whole) * 8)
    return FULL * whole + (_EIGHTHS[part] if part and whole < width else "")


def bars(rows: Sequence[tuple[str, int | None, int | None]], width: int = 40) -> list[str]:
    """One line per ``(label, value, cap)``; a ``None`` value is "not reported" and a
    ``None`` cap "no cap"."""
    if not rows:
        return []
    width = max(10, width)
    scale = float(max([v or 0 for _, v, _ in rows] + [c or 0 for _, _, c in rows] + [1]))
    label_width = max(len(label) for label, _, _ in rows)
    out = []
    for label, value, cap in rows:
        bar = _bar(value or 0, scale, width)
        if cap is not None:
            mark = min(width, round(cap / scale * width))
            if len(bar) < mark:
                bar = bar + "·" * (mark - len(bar) - 1) + "│"
        figures = "not reported" if value is None else f"{value:,}"
        if cap is not None:
            figures += f" / {cap:,}"
        flag = "  over" if value is not None and cap is not None and value > cap else ""
        out.append(f"{label.ljust(label_width)}  {bar.ljust(width + 1)} {figures}{flag}")
    return out


__all__ = ["bars"]
