"""The candidate's cahier des charges, in French, with their own pod's values (HTML, PDF)."""
from __future__ import annotations

import re
from pathlib import Path

import jinja2
from markupsafe import Markup

from ..errors import PrerequisiteError
from ..plan import LabPlan

STATES = {"bare": "vierge, à installer", "baseline": "installé"}

# French typography: a non-breaking space inside « guillemets » and before : ; ? !, so a
# line never starts with the closing mark (nor with the punctuation).
_NBSP = "\u00a0"
_FRENCH_SPACES = re.compile(r"(«)\s+|\s+([»:;?!])")


def french_spaces(value):
    """Every text the document prints, with French non-breaking spaces (not inside code: a
    value such as an address or a URL carries no such punctuation with a space before it)."""
    if not isinstance(value, str) or isinstance(value, Markup):
        return value
    return _FRENCH_SPACES.sub(lambda m: f"«{_NBSP}" if m.group(1) else f"{_NBSP}{m.group(2)}", value)


def render_html(plan: LabPlan, pod: int) -> str:
    p = plan.pod(pod)
    if p.prep is None:
        raise PrerequisiteError("the scenario has no prep section", "add `prep:` (see scenarios/tai-standard.yaml)")
    machines = [{"name": n.name, "fqdn": n.fqdn,
                 "address": str(p.address_of(n.name)) if p.address_of(n.name) else "DHCP",
                 "start": STATES[p.prep.start_of(n.name).state]}
                for n in p.nodes if n.is_container]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined, finalize=french_spaces)
    hours = f"{p.prep.minutes // 60} h" + (f" {p.prep.minutes % 60:02d}" if p.prep.minutes % 60 else "")
    return env.get_template("cahier.html.j2").render(prep=p.prep, pod=p, title=plan.title,
                                                     machines=machines, hours=hours)


def render_pdf(plan: LabPlan, pod: int) -> bytes:
    html = render_html(plan, pod)
    try:
        from weasyprint import HTML
    except ImportError as exc:   # the Python package, or its Pango libraries
        raise PrerequisiteError(f"PDF output needs WeasyPrint: {exc}",
                                "pip install weasyprint; apt-get install libpango-1.0-0 libpangoft2-1.0-0") from None
    return HTML(string=html).write_pdf()
