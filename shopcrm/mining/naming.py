"""Human names for segments, from their centres' top features."""
from __future__ import annotations

import numpy as np


def top_features(center: np.ndarray, names: list[str], top: int = 3, min_share: float = 0.05) -> list[tuple[int, str, float]]:
    """The features (column index, name, share) that dominate a centre, largest first."""
    order = np.argsort(-center, kind="stable")[:top]
    return [(int(j), names[j], float(center[j])) for j in order if center[j] >= min_share]


def segment_names(centers: np.ndarray, names: list[str], max_parts: int = 2, strong: float = 0.6,
                  minor: float = 0.2) -> list[str]:
    """One readable, unique name per centre, e.g. "Running shoes" or "Kitchen & Coffee".

    A segment is named after its single top feature when that holds at least ``strong`` of
    the interest, otherwise after up to ``max_parts`` features holding ``minor`` or more.
    Duplicate names get a number so admins can tell segments apart.
    """
    result, seen = [], {}
    for center in np.asarray(centers):
        parts = top_features(center, names, top=max_parts, min_share=minor)
        if parts and parts[0][2] >= strong:
            parts = parts[:1]
        name = " & ".join(p[1] for p in parts) if parts else "Mixed interests"
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return result
