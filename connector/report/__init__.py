"""The funnel report: pure computation over facts from the mirror, rendered for terminal, HTML and JSON.

facts.py (inputs) -> compute.py (`build_report`) -> render_terminal / render_html / render_json;
load.py reads the mirror; api.py ties them together for the CLI and the demo.
"""

from connector.report.api import report_from_mirror, write_html
from connector.report.compute import Report, build_report
from connector.report.facts import DealFact, FirstContact, FunnelFacts, RecycleEntry, StageEntry
from connector.report.periods import Period, Window

__all__ = [
    "DealFact",
    "FirstContact",
    "FunnelFacts",
    "Period",
    "RecycleEntry",
    "Report",
    "StageEntry",
    "Window",
    "build_report",
    "report_from_mirror",
    "write_html",
]
