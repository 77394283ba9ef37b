"""A font that can draw the class names, for MMDetection's visualizer (matplotlib).

DetLocalVisualizer draws label text with matplotlib's default sans-serif family and passes
no font. Chinese class names (行人, 车辆) then come out as "tofu" boxes unless a CJK font is
first in `font.sans-serif`. The image ships fonts-noto-cjk and a matplotlibrc; on a
workstation this module looks for any installed font that has a glyph for every character
of the class names, and says exactly what to install when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass

# Tried first, in order: the image's font, then the common CJK fonts of Linux, macOS and
# Windows. Any other installed font that covers the text is accepted after these.
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "PingFang SC",
    "Hiragino Sans GB",
    "Microsoft YaHei",
    "SimHei",
    "Arial Unicode MS",
    "DejaVu Sans",
)

INSTALL_HINT = (
    "install a CJK font and run again: Debian/Ubuntu `sudo apt-get install fonts-noto-cjk`, "
    "Fedora `sudo dnf install google-noto-sans-cjk-fonts`, Arch `sudo pacman -S noto-fonts-cjk`, "
    "macOS and Windows already have one (PingFang SC, Microsoft YaHei)"
)


@dataclass(frozen=True)
class FontChoice:
    family: str
    path: str


def covers(path: str, text: str) -> bool:
    """Whether the font file has a glyph (not the .notdef box) for every character of text."""
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path)
    except (OSError, RuntimeError):
        return False
    return all(font.get_char_index(ord(ch)) != 0 for ch in text if not ch.isspace())


def _weight(w) -> int:
    """matplotlib keeps weights as numbers or names ("bold")."""
    names = {"thin": 100, "light": 300, "normal": 400, "regular": 400, "medium": 500, "bold": 700, "black": 900}
    return w if isinstance(w, int) else names.get(str(w).lower(), 400)


def find_font(text: str) -> FontChoice | None:
    """The first installed font (preferred families first) that covers text, else None."""
    import matplotlib
    from matplotlib import font_manager as fm

    # The configured default first (the image's matplotlibrc, or plain Latin class names).
    default = fm.findfont(fm.FontProperties(family=matplotlib.rcParams["font.family"]), fallback_to_default=True)
    if covers(default, text):
        return FontChoice(fm.FontProperties(fname=default).get_name(), default)
    for attempt in range(2):
        # Regular weights before bold ones within a family.
        entries = sorted(fm.fontManager.ttflist, key=lambda e: (abs(_weight(e.weight) - 400), e.fname))
        by_family: dict[str, list[str]] = {}
        for e in entries:
            by_family.setdefault(e.name, []).append(e.fname)
        ordered = [f for f in PREFERRED_FAMILIES if f in by_family] + sorted(
            f for f in by_family if f not in PREFERRED_FAMILIES
        )
        for family in ordered:
            for path in by_family[family]:
                if covers(path, text):
                    return FontChoice(family, path)
        if attempt == 0:
            # matplotlib caches the font list; fonts installed after the cache was written
            # are only seen once it is rebuilt.
            fm.fontManager = fm._load_fontmanager(try_read_cache=False)
    return None


def use_font_for(text: str) -> FontChoice | None:
    """Put a font that covers text first in matplotlib's sans-serif list; None if there is none."""
    import matplotlib

    choice = find_font(text)
    if choice is None:
        return None
    rest = [f for f in matplotlib.rcParams["font.sans-serif"] if f != choice.family]
    matplotlib.rcParams["font.family"] = ["sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = [choice.family, *rest]
    # CJK fonts lack U+2212: draw the minus of negative numbers as a hyphen.
    matplotlib.rcParams["axes.unicode_minus"] = False
    return choice
