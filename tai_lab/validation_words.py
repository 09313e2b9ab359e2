"""The words of a data file's problems in the trainer's language (French, or English).

pydantic and ruamel.yaml word their errors in English, for developers (``Input should be
less than or equal to 16``, ``expected ',' or '}', but got ':'``). :mod:`tai_lab.datafile`
locates them; this module says them as a trainer reads them: pydantic's error types by
name, with the field and the value as written, and ruamel's syntax problems by pattern.
A type or a problem not known here still gets a French sentence, followed by the raw one.

The tables hold both languages and are read at each message (the language is chosen after
the modules are imported: ``--lang en`` is parsed after them).
"""
from __future__ import annotations

import re
from typing import Any

from tai_lab.lang import Text, tr

FrEn = tuple[str, str]

# What a constrained name is, and how to write a valid one; keyed by the field holding it:
# (what it is in French, in English), (hint in French, in English).
NAME_HINTS: dict[str, tuple[FrEn, FrEn]] = {
    "lab": (("nom de lab", "lab name"), (
        "une lettre minuscule puis 5 lettres minuscules ou chiffres au plus (il entre dans les noms "
        "d'interfaces Linux)",
        "a lowercase letter then up to 5 lowercase letters or digits (it is part of Linux interface names)")),
    "nodes": (("nom de machine", "node name"), (
        "une lettre minuscule puis 7 lettres minuscules ou chiffres au plus (les noms d'interfaces Linux "
        "ont 15 caractères au plus)",
        "a lowercase letter then up to 7 lowercase letters or digits (Linux interface names are max 15 chars)")),
    "name": (("nom d'interface", "interface name"), (
        "une lettre minuscule puis 5 lettres minuscules ou chiffres au plus, par exemple eth0, wlan0",
        "a lowercase letter then up to 5 lowercase letters or digits, e.g. eth0, wlan0")),
    "vlans": (("nom de vlan", "vlan name"), (
        "une lettre minuscule puis 7 lettres minuscules ou chiffres au plus",
        "a lowercase letter then up to 7 lowercase letters or digits")),
    "aliases": (("nom DNS", "DNS name"), (
        "lettres minuscules, chiffres et '-', par exemple intranet",
        "lowercase letters, digits and '-', e.g. intranet")),
}

_UNIX_ID = ("un nombre entier de 10000 à 19999 (une machine associe 65536 identifiants ; Samba réserve "
            "20000-59999)", "a whole number from 10000 to 19999 (a node maps 65536 ids; Samba keeps 20000-59999)")
_PASSWORD = ("1 à 64 caractères, sans guillemet, barre oblique inverse ni saut de ligne ; {pod} permis",
             "1 to 64 characters, no quote, backslash or line break; {pod} allowed")
_GROUP = ("le nom d'un des groupes de directory.groups, par exemple compta",
          "the name of one of directory.groups, e.g. compta")
_OU = ("lettres, chiffres, espaces, '_' ou '-', par exemple Utilisateurs",
       "letters, digits, spaces, '_' or '-', e.g. Utilisateurs")

# The same for a scenario's directory (pod.directory).
DIRECTORY_HINTS: dict[str, tuple[FrEn, FrEn]] = {
    "name": (("nom de compte ou de partage", "account or share name"), (
        "lettres minuscules, chiffres, '.', '_' ou '-', 20 au plus, {pod} permis, par exemple alice (un "
        "partage : une étiquette DNS, par exemple compta)",
        "lowercase letters, digits, '.', '_' or '-', up to 20, {pod} allowed, e.g. alice (a share: a DNS "
        "label, e.g. compta)")),
    "groups": (("nom de groupe", "group name"), _GROUP),
    "group": (("nom de groupe", "group name"), _GROUP),
    "incident_user": (("nom d'utilisateur", "user name"), (
        "le nom d'un des utilisateurs de directory.users, par exemple alice",
        "the name of one of directory.users, e.g. alice")),
    "control_user": (("nom d'utilisateur", "user name"), (
        "le nom d'un des utilisateurs de directory.users, par exemple chloe",
        "the name of one of directory.users, e.g. chloe")),
    "ou": (("nom d'OU", "OU name"), _OU),
    "ous": (("nom d'OU", "OU name"), _OU),
    "login_ou": (("nom d'OU", "OU name"), ("une des OU de directory.ous, par exemple Utilisateurs",
                                          "one of directory.ous, e.g. Utilisateurs")),
    "netbios": (("nom NetBIOS", "NetBIOS name"), ("en majuscules, 15 caractères au plus, {pod} permis, "
                                                  "par exemple POD{pod}",
                                                  "uppercase, up to 15 characters, {pod} allowed, e.g. POD{pod}")),
    "path": (("chemin de partage", "share path"), ("un répertoire directement sous /srv, par exemple /srv/compta",
                                                   "a directory right under /srv, e.g. /srv/compta")),
    "uid": (("identifiant unix", "unix id"), _UNIX_ID),
    "gid": (("identifiant unix", "unix id"), _UNIX_ID),
    "password": (("mot de passe", "password"), _PASSWORD),
    "admin_password": (("mot de passe", "password"), _PASSWORD),
    "new_password": (("mot de passe", "password"), _PASSWORD),
}

TYPE_HINTS: dict[str, FrEn] = {
    "interface_segment": ("donner exactement un de `vlan: <nom>`, `wireless: <borne>` ou `upstream: true`",
                          "give exactly one of `vlan: <name>`, `wireless: <ap node>` or `upstream: true`"),
    "interface_address": ("donner `host: <nombre>` pour une adresse fixe ou `dhcp: true`, pas les deux",
                          "give `host: <number>` for a static address or `dhcp: true`, not both"),
    "interface_upstream_address": ("l'adresse WAN vient de upstream.wan : retirer host/dhcp",
                                   "the WAN address comes from upstream.wan; remove host/dhcp"),
    "ip_v4_address": ("écrire une adresse IPv4, par exemple 198.51.100.53",
                      "write an IPv4 address, e.g. 198.51.100.53"),
    "int_type": ("écrire un nombre entier sans guillemets, par exemple 4",
                 "write a whole number without quotes, e.g. 4"),
    "int_parsing": ("écrire un nombre entier sans guillemets, par exemple 4",
                    "write a whole number without quotes, e.g. 4"),
    "float_type": ("écrire un nombre sans guillemets, par exemple 100 ou 2.5",
                   "write a number without quotes, e.g. 100 or 2.5"),
    "string_type": ("mettre la valeur entre guillemets, par exemple \"1234\" (sans guillemets, YAML lit 1234, "
                    "true ou 2024-01-01 comme un nombre, un booléen ou une date)",
                    "put the value in quotes, e.g. \"1234\" (unquoted, YAML reads 1234, true or 2024-01-01 "
                    "as a number, a boolean or a date)"),
    "bool_type": ("écrire true ou false", "write true or false"),
    "bool_parsing": ("écrire true ou false", "write true or false"),
    "missing": ("ajouter cette clé (voir scenarios/tai-standard.yaml)", "add this key (see scenarios/tai-standard.yaml)"),
    "check_fields": ("voir les prérequis de préparation de scenarios/tai-standard.yaml pour chaque type de "
                     "vérification",
                     "see the prep requirements of scenarios/tai-standard.yaml for each kind of check"),
}


def hint_for(table: dict[str, FrEn], key: str) -> Text | None:
    pair = table.get(key)
    return tr(*pair) if pair else None


def as_yaml(value: Any) -> Text:
    """A value as the trainer wrote it (``true``, not Python's ``True``)."""
    if isinstance(value, bool):
        return tr("true" if value else "false", "true" if value else "false")
    if value is None:
        return tr("null (une valeur vide)", "null (an empty value)")
    if isinstance(value, str):
        return tr(f'le texte "{value}"', f'the text "{value}"')
    if isinstance(value, dict):
        return tr("un dictionnaire", "a mapping")
    if isinstance(value, list):
        return tr("une liste", "a list")
    return tr(str(value), str(value))


def _or(expected: str) -> str:
    """pydantic's list of choices (``'a', 'b' or 'c'``) in French."""
    return re.sub(r" or (?=')", " ou ", expected)


def _items(n: Any) -> str:
    return f"{n} élément{'s' if isinstance(n, int) and n > 1 else ''}"


def pydantic_message(kind: str, msg: str, field: str, value: Any, ctx: dict[str, Any] | None) -> Text:
    """pydantic's error of type ``kind`` (its English ``msg``) for the field ``field``, said
    plainly in both languages; a type not known here: a French sentence and the raw message."""
    ctx = ctx or {}
    english = msg[:1].lower() + msg[1:]
    got = as_yaml(value)
    if kind == "missing":
        return tr(f"clé obligatoire '{field}' absente", f"missing required key '{field}'")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        en = f"expected a whole number, got {got.en}" if kind == "int_type" else english
        return tr(f"nombre entier attendu, trouvé {got.fr}", en)
    if kind in ("float_type", "float_parsing"):
        en = f"expected a number, got {got.en}" if kind == "float_type" else english
        return tr(f"nombre attendu, trouvé {got.fr}", en)
    if kind in ("bool_type", "bool_parsing"):
        return tr(f"true ou false attendu, trouvé {got.fr}", english)
    if kind == "string_type":
        return tr(f"texte attendu, trouvé {got.fr}", english)
    if kind in ("dict_type", "model_type", "model_attributes_type", "mapping_type"):
        return tr(f"un dictionnaire (des lignes clé: valeur) attendu, trouvé {got.fr}", english)
    if kind in ("list_type", "tuple_type", "set_type"):
        return tr(f"une liste attendue, trouvé {got.fr}", english)
    if kind == "literal_error":
        return tr(f"'{value}' n'est pas une valeur permise pour {field}", f"'{value}' is not a valid {field}")
    if kind in ("enum",):
        return tr(f"'{value}' n'est pas une valeur permise pour {field} (valeurs : {_or(str(ctx.get('expected')))})",
                  english)
    if kind == "too_short":
        return tr(f"au moins {_items(ctx.get('min_length'))} attendu(s), il y en a {ctx.get('actual_length')}",
                  english)
    if kind == "too_long":
        return tr(f"au plus {_items(ctx.get('max_length'))} attendu(s), il y en a {ctx.get('actual_length')}",
                  english)
    if kind == "string_too_short":
        n = ctx.get("min_length")
        return tr(f"texte trop court : au moins {n} caractère{'s' if n != 1 else ''}", english)
    if kind == "string_too_long":
        return tr(f"texte trop long : {ctx.get('max_length')} caractères au plus", english)
    bounds = {"greater_than_equal": ("ge", "supérieure ou égale à"), "less_than_equal": ("le", "inférieure ou égale à"),
              "greater_than": ("gt", "supérieure à"), "less_than": ("lt", "inférieure à")}
    if kind in bounds:
        key, words = bounds[kind]
        return tr(f"la valeur doit être {words} {ctx.get(key)} (trouvé {got.fr})", english)
    if kind == "ip_v4_address":
        shown = ctx.get("got", repr(value))
        return tr(f"adresse IPv4 attendue, trouvé {shown}", english)
    if kind == "ip_v4_network":
        return tr(f"réseau IPv4 attendu, trouvé {got.fr}", english)
    if kind == "interface_segment":
        return tr("il faut exactement un de vlan, wireless ou upstream: true", english)
    if kind == "interface_upstream_address":
        return tr("une interface upstream ne prend ni host ni dhcp", english)
    if kind == "interface_address":
        return tr("il faut exactement un de host: <nombre> ou dhcp: true", english)
    if kind == "check_fields":
        return tr(f"une vérification {ctx.get('kind')} demande {ctx.get('missing')}", english)
    if kind == "value_error":
        error = ctx.get("error")
        said = error.args[0] if isinstance(error, ValueError) and error.args else None
        if isinstance(said, Text):
            return tr(said.fr, said.en)
        raw = msg.removeprefix("Value error, ")
        return tr(f"valeur refusée : {raw}", raw[:1].lower() + raw[1:])
    return tr(f"valeur refusée ici (message de pydantic, type {kind} : « {msg} »)", english)


# ruamel.yaml's syntax problems (reader, scanner, parser, composer), by pattern: their French.
_YAML_PROBLEMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r'found duplicate key "(?P<k>.*)" with value "(?P<v>.*)" \(original value: "(?P<o>.*)"\)', re.S),
     'clé "{k}" en double, avec la valeur "{v}" (la première valeur : "{o}")'),
    (re.compile(r"expected (?P<a>.*), but (?:got|found) (?P<b>.*)", re.S), "on attendait {a}, on trouve {b}"),
    (re.compile(r"mapping values are not allowed here"), "une paire « clé: valeur » n'est pas permise ici"),
    (re.compile(r"could not find expected '(?P<c>.*)'"), "'{c}' attendu, introuvable"),
    (re.compile(r"found character '(?P<c>.*)' that cannot start any token"),
     "le caractère '{c}' ne peut pas commencer une valeur (une tabulation ? YAML indente avec des espaces)"),
    (re.compile(r"found undefined alias '?(?P<a>[^']*)'?"), "alias *{a} non défini"),
    (re.compile(r"found unknown escape character '?(?P<c>[^']*)'?"), "séquence d'échappement inconnue '\\{c}'"),
    (re.compile(r"found unexpected end of stream"), "fin de fichier inattendue"),
    (re.compile(r"cannot read this value \((?P<e>.*)\)", re.S), "impossible de lire cette valeur ({e})"),
]

_YAML_CONTEXTS: dict[str, str] = {
    "while parsing a flow mapping": "dans un dictionnaire entre accolades",
    "while parsing a flow sequence": "dans une liste entre crochets",
    "while parsing a block mapping": "dans un bloc de lignes clé: valeur",
    "while parsing a block collection": "dans une liste de lignes « - »",
    "while parsing a block node": "dans un bloc",
    "while parsing a flow node": "dans une valeur",
    "while scanning a simple key": "en lisant une clé",
    "while scanning a quoted scalar": "dans un texte entre guillemets",
    "while scanning a plain scalar": "dans une valeur",
    "while scanning an alias": "dans un alias",
    "while scanning an anchor": "dans une ancre",
    "while constructing a mapping": "en lisant un dictionnaire",
}


def yaml_problem(problem: str) -> Text:
    """ruamel's ``problem`` of a syntax error, in the trainer's language."""
    for pattern, french in _YAML_PROBLEMS:
        m = pattern.fullmatch(problem.strip())
        if m:
            parts = {k: re.sub(r" or (?=['\"])", " ou ", v) for k, v in m.groupdict().items()}
            return tr(f"erreur de syntaxe YAML : {french.format(**parts)}", f"YAML syntax error: {problem}")
    return tr(f"erreur de syntaxe YAML (message de l'analyseur : « {problem} »)", f"YAML syntax error: {problem}")


def yaml_context(context: str) -> Text:
    """ruamel's ``context`` (``while parsing a flow mapping``) in the trainer's language."""
    return tr(_YAML_CONTEXTS.get(context, context), context)
