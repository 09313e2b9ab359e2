"""The access card of each pod, in French: the portal's address, the pod's code, its
machines and accounts. One page per pod (HTML, or PDF through WeasyPrint), for the
trainer to print and hand to each candidate; printed again after a reset (new code)."""
from __future__ import annotations

import time
from pathlib import Path

import jinja2

from ..errors import PrerequisiteError


def render_html(lab, access, pods: list[int], url: str | None) -> str:
    state = access.refresh()
    cards = []
    for n in pods:
        p = lab.plan.pod(n)
        st = p.stations
        cards.append({"pod": n, "code": state[n].code, "open": state[n].open,
                      "machines": [{"name": m, "fqdn": p.node(m).fqdn, "desktop": m in st.desktops}
                                   for m in (st.nodes if st else ())],
                      "accounts": list(st.accounts if st else ())})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    return env.get_template("cards.html.j2").render(
        title=getattr(lab.plan, "title", lab.name), lab=lab.name, cards=cards, url=url,
        printed=time.strftime("%d/%m/%Y %H:%M"))


def render_pdf(lab, access, pods: list[int], url: str | None) -> bytes:
    html = render_html(lab, access, pods, url)
    try:
        from weasyprint import HTML
    except ImportError as exc:
        raise PrerequisiteError(f"PDF output needs WeasyPrint: {exc}",
                                "pip install weasyprint; apt-get install libpango-1.0-0 libpangoft2-1.0-0") from None
    return HTML(string=html).write_pdf()
