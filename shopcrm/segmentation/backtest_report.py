"""The last backtest and the current run's predictions as the panel's Runs page shows them.

Kept apart from ``backtest`` (which re-runs the analyses and so imports the whole of
``mining``): a web worker shows the stored report without loading scikit-learn.
"""
from __future__ import annotations

from datetime import datetime

from ..models import State
from ..vocab import CHURN_RANKING_LABELS, VALUE_RANKING_LABELS

#: The ``crm_state`` row a backtest's report is kept in.
STATE_NAME = "backtest"


def last_backtest() -> dict | None:
    """The last backtest's report as stored (dates as ISO strings), or None."""
    row = State.read(STATE_NAME)
    return row.data if row is not None else None


# --- what the panel's Runs page shows (templates/admin/_backtest.html) --------------------------------

def _run_part(run) -> dict | None:
    if run is None:
        return None
    quality = run.quality or {}
    lifetime, churn, value = quality.get("lifetime"), quality.get("churn_ranking"), quality.get("value_ranking")
    part = {"id": run.id, "notes": list(quality.get("notes") or []), "lifetime": lifetime}
    if churn:
        part["churn"] = {**churn, "label": CHURN_RANKING_LABELS.get(churn["chosen"], churn["chosen"])}
    if value:
        shares = value.get("shares") or {}
        other = "rfm" if value["chosen"] == "expected_value" else "expected_value"
        part["value"] = {**value, "label": VALUE_RANKING_LABELS.get(value["chosen"], value["chosen"]),
                         "share": shares.get(value["chosen"]), "other_label": VALUE_RANKING_LABELS[other],
                         "other_share": shares.get(other)}
    return part


def _backtest_part() -> dict | None:
    row = State.read(STATE_NAME)
    if row is None:
        return None
    data = dict(row.data)
    for key in ("as_of", "until"):
        data[key] = datetime.fromisoformat(data[key])
    data["made"] = row.updated_at
    data["value_rows"] = [(VALUE_RANKING_LABELS[name], share) for name, share in data["capture"].items()]
    data["churn_rows"] = [(label, data["aucs"].get(name), name == data["chosen"], name == "days_since_last",
                           data["skipped"].get(name)) for name, label in CHURN_RANKING_LABELS.items()
                          if name in data["aucs"] or name in data["skipped"]]
    return data


def panel_data(run) -> dict:
    """The current run's predictions (or why it has none) and the last backtest, for the Runs page."""
    return {"run": _run_part(run), "backtest": _backtest_part()}
