"""What a check saw, in words a jury member reads: one sentence per kind of check, French and
English, for when the user gets through and for when they do not.

A check's evidence (:func:`tai_lab.evidence.evidence_dicts`) carries its kind and the values
it was about (``about``: the name, the page, the node whose user it stands for…); the raw
command and its output stay in the record, shown folded under "Détails techniques".

**Adding a check:** add its kind here, with the two sentences in both languages; the fields
in braces are the keys the probe puts in ``about`` (``node`` is always there).
``tests/unit/test_sentences.py`` fails for a kind of intervention check without sentences.
"""
from __future__ import annotations

from .i18n import translate

# kind → language → (when it works for the user, when it does not)
SENTENCES: dict[str, dict[str, tuple[str, str]]] = {
    "resolve": {"fr": ("Le nom {name} se résout depuis {node}", "Le nom {name} ne se résout pas depuis {node}"),
                "en": ("The name {name} resolves from {node}", "The name {name} does not resolve from {node}")},
    "fetch": {"fr": ("La page {url} s’affiche sur {node}", "La page {url} ne s’affiche pas sur {node}"),
              "en": ("The page {url} loads on {node}", "The page {url} does not load on {node}")},
    "lease": {"fr": ("{node} a une adresse dans le réseau {subnet}", "{node} n’a pas d’adresse dans le réseau {subnet}"),
              "en": ("{node} has an address in the network {subnet}",
                     "{node} has no address in the network {subnet}")},
    "ipp": {"fr": ("L’imprimante {printer} répond depuis {node}", "L’imprimante {printer} ne répond pas depuis {node}"),
            "en": ("The printer {printer} answers from {node}", "The printer {printer} does not answer from {node}")},
    "smb-list": {"fr": ("Le partage {share} s’ouvre depuis {node}", "Le partage {share} ne s’ouvre pas depuis {node}"),
                 "en": ("The share {share} opens from {node}", "The share {share} does not open from {node}")},
    "smb-write": {"fr": ("Le partage {share} accepte un fichier depuis {node}",
                         "Le partage {share} refuse l’enregistrement d’un fichier depuis {node}"),
                  "en": ("The share {share} accepts a file from {node}",
                         "The share {share} refuses to save a file from {node}")},
    "ping": {"fr": ("{target} répond vite et sans perte depuis {node}",
                    "{target} répond lentement, avec des pertes ou pas du tout depuis {node}"),
             "en": ("{target} answers fast and without loss from {node}",
                    "{target} answers slowly, with losses or not at all from {node}")},
    "clock": {"fr": ("L’horloge de {node} est à l’heure", "L’horloge de {node} n’est pas à l’heure"),
              "en": ("The clock of {node} is right", "The clock of {node} is wrong")},
    "dns": {"fr": ("Le serveur DNS {server} répond pour {name}, interrogé depuis {node}",
                   "Le serveur DNS {server} ne répond pas pour {name}, interrogé depuis {node}"),
            "en": ("The DNS server {server} answers for {name}, asked from {node}",
                   "The DNS server {server} does not answer for {name}, asked from {node}")},
    "dhcp-offer": {"fr": ("Un serveur DHCP répond à {node} ({iface})", "Aucun serveur DHCP ne répond à {node} ({iface})"),
                   "en": ("A DHCP server answers {node} ({iface})", "No DHCP server answers {node} ({iface})")},
    # a state check's title is the intervention data's own sentence (what a proper repair leaves)
    "state": {"fr": ("Vérifié sur {node} : {title}", "Pas le cas sur {node} : {title}"),
              "en": ("Checked on {node}: {title}", "Not so on {node}: {title}")},
    # read in the service desk's own record (on the node that runs it)
    "desk-asset": {"fr": ("La fiche du poste {asset} est juste dans le parc (centre de services sur {node})",
                          "La fiche du poste {asset} manque ou est fausse dans le parc (centre de services sur {node})"),
                   "en": ("The record of the machine {asset} is right in the inventory (service desk on {node})",
                          "The record of the machine {asset} is missing or wrong in the inventory "
                          "(service desk on {node})")},
    "desk-ticket": {"fr": ("Le ticket n°{ticket} est traité comme la procédure le demande (centre de services sur {node})",
                           "Le ticket n°{ticket} n’est pas encore traité comme la procédure le demande "
                           "(centre de services sur {node})"),
                    "en": ("Ticket #{ticket} is handled as the procedure requires (service desk on {node})",
                           "Ticket #{ticket} is not yet handled as the procedure requires (service desk on {node})")},
    "domain-login": {"fr": ("{account} ouvre sa session du domaine sur {node}",
                            "{account} ne peut pas ouvrir sa session du domaine sur {node}"),
                     "en": ("{account} logs on to the domain on {node}",
                            "{account} cannot log on to the domain on {node}")},
    "kinit": {"fr": ("{account} obtient son ticket Kerberos depuis {node}",
                     "{account} n’obtient pas de ticket Kerberos depuis {node}"),
              "en": ("{account} gets a Kerberos ticket from {node}",
                     "{account} gets no Kerberos ticket from {node}")},
    # the probe's own title says whether the share must accept or refuse the account
    "smb-ticket": {"fr": ("Vérifié depuis {node} : {title}", "Pas le cas depuis {node} : {title}"),
                   "en": ("Checked from {node}: {title}", "Not so from {node}: {title}")},
    "unique-address": {"fr": ("Aucune autre machine n’utilise l’adresse de {node}",
                              "Une autre machine répond à l’adresse de {node}"),
                       "en": ("No other machine uses the address of {node}",
                              "Another machine answers for the address of {node}")},
}

WORDS = {"fr": {"details": "Détails techniques", "not": "non", "interrupted": "vérification interrompue"},
         "en": {"details": "Technical details", "not": "no", "interrupted": "check interrupted"}}


class _Keep(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def sentence(ev: dict, lang: str = "fr") -> str:
    """The sentence for one check's evidence (a dict of the log). Works for records written
    before checks carried their kind: the check's title then, with its outcome."""
    lang = "en" if lang == "en" else "fr"
    about = ev.get("about") or {}
    pair = SENTENCES.get(str(about.get("kind") or ""), {}).get(lang)
    passed = bool(ev.get("passed"))
    if pair:
        # expect_ok False (a check that the user must NOT get through) is never an intervention
        # check; its title says the expectation and ✓/✗ says whether it held.
        if about.get("expect") == "unreachable":
            return ev.get("title") or "?"
        return pair[0 if passed else 1].format_map(_Keep(about))
    title = ev.get("title") or "?"
    return title if passed else f"{title}{': ' if lang == 'en' else ' : '}{WORDS[lang]['not']}"


def details_label(lang: str = "fr") -> str:
    return WORDS["en" if lang == "en" else "fr"]["details"]


def render(evidence: list[dict] | None, lang: str = "fr") -> list[dict]:
    """Evidence as the consoles and the report show it: the sentence first, the raw line apart."""
    return [{"passed": bool(e.get("passed")), "sentence": sentence(e, lang), "raw": e.get("evidence", "")}
            for e in (evidence or [])]


def ticket_label(t: dict | None, lang: str = "fr") -> str | None:
    """The user's ticket in words, for the jury: "Ticket n°12 : résolu — responsable : technicien
    — poste lié : pc1 — 1 réponse(s) au demandeur" (None: no ticket). Only what a read gave."""
    if not t:
        return None
    if t.get("error"):
        return translate("ticket_unread" if t.get("id") else "ticket_not_opened", lang).format(id=t.get("id"))
    status = str(t.get("status") or "")
    word = translate(f"ticket_{status}", lang) if status in ("new", "open", "stalled", "resolved", "rejected",
                                                             "deleted") else status
    owner = t.get("owner") or ""
    parts = [translate("ticket", lang).format(id=t.get("id")) + (": " if lang == "en" else " : ") + word,
             translate("ticket_owner", lang).format(
                 owner=translate("ticket_nobody", lang) if owner in ("", "Nobody") else owner)]
    assets = [a for a in t.get("assets") or [] if a]
    parts.append(translate("ticket_asset", lang).format(assets=", ".join(assets)) if assets
                 else translate("ticket_no_asset", lang))
    requestors = set(t.get("requestors") or [])
    replies = sum(1 for h in t.get("history") or [] if h.get("type") == "Correspond"
                  and h.get("creator") not in requestors | {"tai-lab", "RT_System"})
    parts.append(translate("ticket_replies", lang).format(n=replies))
    return " — ".join(parts)
