"""Column layouts: how charges become the cells of a FOCUS file.

- `infercost`: the InferCost v1 export layout, 44 columns in a fixed order (compatibility).
- `focus-1.2`: a conformant FOCUS 1.2 Cost and Usage dataset of the same charges.
"""

from infercost_focus.core.layouts import focus12, infercost
from infercost_focus.core.layouts.spec import Column, Layout, RenderOptions

INFERCOST = infercost.NAME
FOCUS_12 = focus12.NAME
LAYOUTS: dict[str, Layout] = {INFERCOST: infercost.LAYOUT, FOCUS_12: focus12.LAYOUT}

INFERCOST_COLUMNS: tuple[str, ...] = infercost.LAYOUT.names
FOCUS_12_COLUMNS: tuple[str, ...] = focus12.LAYOUT.names


def get_layout(name: str) -> Layout:
    """The layout called `name`, or a ValueError that lists the choices."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"Unknown layout {name!r}; choose one of {', '.join(LAYOUTS)}.") from None


__all__ = [
    "FOCUS_12",
    "FOCUS_12_COLUMNS",
    "INFERCOST",
    "INFERCOST_COLUMNS",
    "LAYOUTS",
    "Column",
    "Layout",
    "RenderOptions",
    "get_layout",
]
