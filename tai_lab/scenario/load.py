"""Load a scenario file: YAML → :class:`Scenario`, every problem with file:line and a hint.

Three passes, each collecting all it finds before stopping (a trainer fixes a file in
one go, not one error per run): YAML syntax, then the model's shape (pydantic), then
the rules that relate parts of the file (:func:`check_scenario`). The later passes
need the earlier ones to succeed, so a file with a syntax error reports only that.
"""
from __future__ import annotations

import functools
import os
import re
from difflib import get_close_matches
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

from tai_lab.datafile import Loc, Problem, SourceMap, load_model, sorted_problems
from tai_lab.errors import ScenarioError
from tai_lab.lang import tr
from tai_lab.plan import LabPlan
from tai_lab.scenario.expand import expand, intervention_dir, network, pod_count, substitute
from tai_lab.scenario.model import (
    DNS_LABEL_PATTERN,
    MAX_PODS,
    NETWORK_DEVICE_KINDS,
    ROLE_KINDS,
    DirectoryGroup,
    DirectoryUser,
    Role,
    Scenario,
)


DESKTOP_PACKAGE = "tigervnc-standalone-server"     # what the portal's desktop runs in a machine


@functools.lru_cache(maxsize=1)
def _image_packages() -> dict[str, frozenset[str] | None]:
    """The images shipped with tai-lab: name → the packages of a container recipe (with its
    bases'), None for an image of another kind (Windows installation media). Read once per
    process: every command checks its lab's scenario, and the shipped recipes do not change under it."""
    import yaml
    from tai_lab import paths
    root = paths.data_dir("images")
    if not root.is_dir():
        return {}
    recipes: dict[str, dict] = {}
    out: dict[str, frozenset[str] | None] = {}
    for d in root.iterdir():
        if (d / "recipe.yaml").is_file():
            try:
                recipes[d.name] = yaml.safe_load((d / "recipe.yaml").read_text()) or {}
            except yaml.YAMLError:
                recipes[d.name] = {}
        elif (d / "windows.yaml").is_file():
            out[d.name] = None
    for name in recipes:
        pkgs: set[str] = set()
        seen: set[str] = set()
        cur: str | None = name
        while cur is not None and cur in recipes and cur not in seen:
            seen.add(cur)
            pkgs |= {str(p) for p in recipes[cur].get("packages") or []}
            cur = recipes[cur].get("base")
        out[name] = frozenset(pkgs)
    return out


def load_scenario(path: str | os.PathLike[str], *, pods: int | None = None,
                  base_dir: str | os.PathLike[str] | None = None) -> tuple[Scenario, SourceMap]:
    """Read and validate a scenario file.

    ``pods`` checks the scenario for that many pods instead of its own ``pods:``;
    ``base_dir`` is where its relative paths start (default: the file's directory).
    Raises :class:`ScenarioError` carrying every problem found, or
    :class:`NotFoundError` when the file does not exist.
    """
    scenario, smap = load_model(path, Scenario, what="scenario",
                                hint=tr("en écrire un pour commencer avec : tai-lab init RÉPERTOIRE",
                                        "write a starting one with: tai-lab init DIR"), loc_hints=_loc_hints())
    base = Path(base_dir) if base_dir is not None else Path(path).parent
    problems = check_scenario(scenario, smap, pod_count(scenario, pods), base_dir=base)
    if problems:
        raise ScenarioError(sorted_problems(problems), os.fspath(path))
    return scenario, smap


def load_plan(path: str | os.PathLike[str], pods: int | None = None, *,
              base_dir: str | os.PathLike[str] | None = None) -> LabPlan:
    """Load, validate and expand a scenario file into the lab plan (``pods`` overrides the count;
    ``base_dir``: where its relative paths start, default the file's directory)."""
    scenario, _ = load_scenario(path, pods=pods, base_dir=base_dir)
    return expand(scenario, source=os.fspath(path), pods=pods, base_dir=base_dir)


def _loc_hints() -> dict[Loc, str]:
    """Hints for problems at given places of a scenario file (the rest: tai_lab.datafile)."""
    return {
        ("pods",): tr(f"le nombre de candidats : un nombre entier de 1 à {MAX_PODS} (le maximum du référentiel "
                      "par session)", f"the number of candidates: a whole number from 1 to {MAX_PODS} (the "
                      "référentiel's maximum per session)"),
    }


def _did_you_mean(close: list[str], quote: str = "'") -> str:
    return tr(f"vouliez-vous dire {quote}{close[0]}{quote} ?", f"did you mean {quote}{close[0]}{quote}?")


def _listed(fr: str, en: str, names: list[str] | str, none: tuple[str, str] | None = None) -> str:
    """``fr : a, b`` / ``en: a, b`` (the valid names), or ``none`` when there are none."""
    text = names if isinstance(names, str) else ", ".join(names)
    if not text and none:
        return tr(f"{fr} : {none[0]}", f"{en}: {none[1]}")
    return tr(f"{fr} : {text}", f"{en}: {text}")


def _suggest(close: list[str], fr: str, en: str, names: list[str], quote: str = "'",
             none: tuple[str, str] | None = None) -> str:
    """« vouliez-vous dire … ? » when a name is close, else the list of valid names."""
    return _did_you_mean(close, quote) if close else _listed(fr, en, names, none)


# --- rules across the file --------------------------------------------------------------


def check_scenario(scenario: Scenario, smap: SourceMap, pods: int, *,
                   base_dir: str | os.PathLike[str] | None = None) -> list[Problem]:
    """Every cross-part rule the model cannot express, checked for pods 1..``pods``
    (``base_dir``: where relative paths start, default the scenario file's directory)."""
    return _Checker(scenario, smap, pods, Path(base_dir) if base_dir is not None else Path(smap.file).parent).run()


_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)


_KINDS_FR = {"router": "un routeur", "switch": "un switch", "ap": "une borne Wi-Fi", "server": "un serveur",
             "client": "un poste client", "printer": "une imprimante"}


def _a_kind(kind: str) -> str:
    """A node's kind in French, with its article (``une imprimante``)."""
    return _KINDS_FR.get(kind, f"un {kind}")


def _once() -> str:
    return tr("le garder une seule fois dans la liste", "list it once")


def _unknown_group(group: str) -> str:
    return tr(f"groupe inconnu '{group}'", f"unknown group '{group}'")


def _not_machine(node: str, is_device: bool, what: tuple[str, str]) -> str:
    """``'x' is a network device / is not a node of the pod: <what>``."""
    if is_device:
        return tr(f"'{node}' est un équipement réseau : {what[0]}", f"'{node}' is a network device: {what[1]}")
    return tr(f"'{node}' n'est pas une machine du pod : {what[0]}", f"'{node}' is not a node of the pod: {what[1]}")


def _unknown_competency(cid: str) -> str:
    return tr(f"compétence inconnue '{cid}'", f"unknown competency '{cid}'")


def _unknown_vlan(vlan: str) -> str:
    return tr(f"vlan inconnu '{vlan}'", f"unknown vlan '{vlan}'")


def _not_client(machine: str) -> str:
    return tr(f"'{machine}' n'est pas un poste client du pod", f"'{machine}' is not a client machine of the pod")


def _valid_dns_name(name: str) -> bool:
    return 0 < len(name) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in name.split("."))


class _Checker:
    """Runs the semantic rules; each rule appends located problems."""

    def __init__(self, scenario: Scenario, smap: SourceMap, pods: int, base_dir: Path) -> None:
        self.scenario = scenario
        self.base_dir = base_dir
        self.pod = scenario.pod
        self.smap = smap
        self.pods = pods
        self.problems: list[Problem] = []
        # Filled by the pattern rules: networks valid for every pod, per vlan and for the WAN.
        self.subnets: dict[str, list[IPv4Network]] = {}
        self.wans: list[IPv4Network] = []

    def add(self, loc: Loc, message: str, hint: str | None = None) -> None:
        self.problems.append(self.smap.problem(loc, message, hint))

    def run(self) -> list[Problem]:
        self.check_nodes()
        self.check_images()
        self.check_topology()
        self.check_vlans()
        self.check_patterns()
        self.check_addresses()
        self.check_networks_distinct()
        self.check_jury()
        self.check_prep()
        self.check_stations()
        self.check_service_desk()
        self.check_directory()
        return self.problems

    def check_images(self) -> None:
        """Every machine's image is one tai-lab can build, and a machine whose desktop the
        portal shows has one in its image (checked here, not when a candidate opens it)."""
        known = _image_packages()
        if not known:
            return                          # no image recipes shipped: nothing to check against
        for name, node in self.pod.nodes.items():
            if node.image is None:
                continue
            if node.image not in known:
                close = get_close_matches(node.image, list(known), n=1)
                self.add(("pod", "nodes", name, "image"), tr(f"image inconnue {node.image!r}",
                                                             f"unknown image {node.image!r}"),
                         _suggest(close, "images", "images", sorted(known)))
        desktop_images = sorted(i for i, pk in known.items() if pk is not None and DESKTOP_PACKAGE in pk)
        for i, desk in enumerate(self.scenario.stations.desktops):
            nd = self.pod.nodes.get(desk)
            if nd is None or not nd.image:
                continue                    # check_stations says what is wrong with it
            pkgs = known.get(nd.image)
            if pkgs is not None and DESKTOP_PACKAGE not in pkgs:
                self.add(("stations", "desktops", i),
                         tr(f"'{desk}' montre un bureau mais son image {nd.image!r} n'en a pas",
                            f"'{desk}' shows a desktop but its image {nd.image!r} has none"),
                         _listed("lui donner une de ces images", "give it one of these images", desktop_images))

    def check_service_desk(self) -> None:
        """One service desk per pod, its settings (``services.servicedesk``) complete: its name
        an alias of its node, each user on a client machine, logins unique."""
        desks = [n for n, nd in self.pod.nodes.items() if "service-desk" in nd.roles]
        raw = self.pod.services.get("servicedesk")
        for name in desks[1:]:
            self.add(("pod", "nodes", name, "roles", self.pod.nodes[name].roles.index("service-desk")),
                     tr(f"un second centre de services (le premier est sur {desks[0]})",
                        f"a second service desk (the first is on {desks[0]})"),
                     tr("une seule machine par pod a ce rôle", "one node per pod has the role"))
        if not desks:
            if raw is not None:
                self.add(("pod", "services", "servicedesk"),
                         tr("des réglages de centre de services mais aucune machine n'a le rôle service-desk",
                            "service desk settings but no node with the service-desk role"),
                         tr("ajouter `roles: [service-desk]` à un serveur, ou retirer ces réglages",
                            "add `roles: [service-desk]` to a server node, or remove them"))
            return
        at: Loc = ("pod", "services", "servicedesk")
        if raw is None:
            self.add(("pod", "nodes", desks[0], "roles"),
                     tr("le rôle service-desk demande ses réglages", "the service-desk role needs its settings"),
                     tr("ajouter pod.services.servicedesk: {technicians: [...], users: [...]} "
                        "(voir scenarios/tai-servicedesk.yaml)",
                        "add pod.services.servicedesk: {technicians: [...], users: [...]} "
                        "(see scenarios/tai-servicedesk.yaml)"))
            return
        from pydantic import ValidationError

        from tai_lab.datafile import pydantic_problems
        from tai_lab.scenario.model import ServiceDesk
        try:
            ServiceDesk.model_validate(raw)
        except ValidationError as exc:
            self.problems += pydantic_problems(exc, self.smap, ServiceDesk, at)
        if not isinstance(raw, dict):
            return
        # The rules across the file, on what is there (every problem at once, shape or not).
        node = self.pod.nodes[desks[0]]
        name = raw.get("name", "support")
        if isinstance(name, str) and name not in node.aliases:
            self.add(at + ("name",), tr(f"'{name}' n'est pas un nom DNS de {desks[0]}",
                                        f"'{name}' is not a DNS name of {desks[0]}"),
                     tr(f"l'ajouter aux alias de {desks[0]} (aliases: [{name}])",
                        f"add it to {desks[0]}'s aliases (aliases: [{name}])"))
        clients = [n for n, nd in self.pod.nodes.items() if nd.kind == "client"]
        logins: list[str] = []
        for part in ("technicians", "users"):
            people = raw.get(part)
            for i, person in enumerate(people if isinstance(people, list) else []):
                if not isinstance(person, dict):
                    continue
                login, machine = person.get("login"), person.get("machine")
                if login in logins or login in ("root", "tai-lab", "nobody"):
                    self.add(at + (part, i, "login"), tr(f"l'identifiant '{login}' est déjà pris",
                                                         f"login '{login}' is already used"),
                             tr("chaque technicien et chaque utilisateur a son propre identifiant (root, tai-lab et "
                                "nobody sont à RT)",
                                "each technician and user has their own login (root, tai-lab and nobody are RT's)"))
                logins.append(str(login))
                if part == "users" and machine is None:
                    self.add(at + (part, i), tr(f"l'utilisateur '{login}' n'a pas de machine",
                                                f"user '{login}' has no machine"),
                             tr(f"ajouter `machine:` (postes clients : {', '.join(clients)})",
                                f"add `machine:` (client machines: {', '.join(clients)})"))
                elif machine is not None and machine not in clients:
                    self.add(at + (part, i, "machine"), _not_client(machine),
                             _listed("postes clients", "client machines", clients))
        assets = raw.get("assets")
        for machine in assets if isinstance(assets, dict) else {}:
            if machine not in clients:
                self.add(at + ("assets", machine), _not_client(machine),
                         _listed("postes clients", "client machines", clients))


    def check_directory(self) -> None:
        """The domain has one controller, its members are clients, and everything it names
        exists: OUs, groups, accounts; passwords the domain's own policy accepts."""
        d = self.pod.directory
        dcs = [n for n, nd in self.pod.nodes.items() if "ad-dc" in nd.roles]
        members = [n for n, nd in self.pod.nodes.items() if "ad-client" in nd.roles]
        if d is None:
            for n in dcs + members:
                role: Role = "ad-dc" if n in dcs else "ad-client"
                self.add(("pod", "nodes", n, "roles", self.pod.nodes[n].roles.index(role)),
                         tr(f"le rôle {role} demande un domaine : le pod n'a pas de section `directory:`",
                            f"role {role} needs a domain: the pod has no `directory:` section"),
                         tr("ajouter pod.directory (OU, groupes, utilisateurs), ou retirer le rôle",
                            "add pod.directory (OUs, groups, users), or remove the role"))
            return
        at: Loc = ("pod", "directory")
        if not dcs:
            self.add(at, tr("l'annuaire n'a pas de contrôleur de domaine", "the directory has no domain controller"),
                     tr("donner le rôle ad-dc à un serveur", "give a server the role ad-dc"))
        for extra in dcs[1:]:
            self.add(("pod", "nodes", extra, "roles"), tr("un pod a un seul contrôleur de domaine",
                                                          "a pod has one domain controller"),
                     tr(f"garder ad-dc sur {dcs[0]} seulement", f"keep ad-dc on {dcs[0]} only"))
        for n, nd in self.pod.nodes.items():
            for role in ("dns", "fileshare"):
                if role in nd.roles:
                    why = (tr("le DNS du contrôleur de domaine sert le pod (le royaume est le domaine du pod)",
                              "the domain controller's DNS serves the pod (the realm is the pod's domain)")
                           if role == "dns" else
                           tr("le contrôleur de domaine sert les partages (directory.shares)",
                              "the domain controller serves the shares (directory.shares)"))
                    self.add(("pod", "nodes", n, "roles", nd.roles.index(role)),
                             tr(f"le rôle {role} ne va pas avec un annuaire : {why.fr}",
                                f"role {role} does not go with a directory: {why.en}"),
                             tr("retirer dns : les noms du pod sont servis par le contrôleur",
                                "remove dns: the pod's names are served by the controller") if role == "dns"
                             else tr("retirer fileshare ; déclarer les partages sous pod.directory.shares",
                                     "remove fileshare; declare the shares under pod.directory.shares"))
        ous = list(d.ous)
        for i, ou in enumerate(ous):
            if ous.index(ou) != i:
                self.add(at + ("ous", i), tr(f"l'OU '{ou}' est listée deux fois", f"OU '{ou}' is listed twice"),
                         _once())

        def ou_ref(loc: Loc, ou: str | None) -> None:
            if ou is not None and ou not in ous:
                close = get_close_matches(ou, ous, n=1)
                self.add(loc, tr(f"OU inconnue '{ou}'", f"unknown OU '{ou}'"),
                         _suggest(close, "OU de l'annuaire", "OUs of the directory", ous))

        ou_ref(at + ("login_ou",), d.login_ou)
        groups = [g.name for g in d.groups]
        users = [u.name for u in d.users]
        taken: dict[str, Loc] = {}
        ids: dict[tuple[str, int], str] = {}
        accounts: list[tuple[str, int, DirectoryGroup | DirectoryUser]] = [
            *(("groups", i, g) for i, g in enumerate(d.groups)), *(("users", i, u) for i, u in enumerate(d.users))]
        for kind, i, item in accounts:
            here: Loc = at + (kind, i)
            if item.name in taken:
                self.add(here + ("name",), tr(f"le nom de compte '{item.name}' est déjà pris",
                                              f"account name '{item.name}' is already used"),
                         tr("utilisateurs et groupes partagent les mêmes noms dans un domaine : en renommer un",
                            "users and groups share one namespace in a domain: rename one"))
            taken.setdefault(item.name, here)
            ou_ref(here + ("ou",), item.ou)
            xid = getattr(item, "gid" if kind == "groups" else "uid")
            if xid is not None:
                if (kind, xid) in ids:
                    self.add(here + ("gid" if kind == "groups" else "uid",),
                             tr(f"l'identifiant {xid} est déjà donné à {ids[(kind, xid)]}",
                                f"id {xid} is already given to {ids[(kind, xid)]}"),
                             tr("donner à chacun son propre identifiant", "give each its own id"))
                ids.setdefault((kind, xid), item.name)
        for i, u in enumerate(d.users):
            for j, g in enumerate(u.groups):
                if g not in groups:
                    close = get_close_matches(g, groups, n=1)
                    self.add(at + ("users", i, "groups", j), _unknown_group(g),
                             _suggest(close, "groupes de l'annuaire", "groups of the directory", groups,
                                      none=("aucun (ajouter directory.groups)", "none (add directory.groups)")))
            self._password(at + ("users", i, "password"), u.password, d)
        self._password(at + ("admin_password",), d.admin_password, d)
        self._password(at + ("new_password",), d.new_password, d)
        seen_shares: set[str] = set()
        for i, s in enumerate(d.shares):
            if s.name in seen_shares:
                self.add(at + ("shares", i, "name"), tr(f"le partage '{s.name}' est déclaré deux fois",
                                                        f"share '{s.name}' is declared twice"),
                         tr("le déclarer une fois", "declare it once"))
            seen_shares.add(s.name)
            if s.group not in groups:
                close = get_close_matches(s.group, groups, n=1)
                self.add(at + ("shares", i, "group"), _unknown_group(s.group),
                         _suggest(close, "groupes", "groups", groups, none=("aucun", "none")))
        for key in ("incident_user", "control_user"):
            name = getattr(d, key)
            if name is not None and name not in users:
                close = get_close_matches(name, users, n=1)
                self.add(at + (key,), tr(f"utilisateur inconnu '{name}'", f"unknown user '{name}'"),
                         _suggest(close, "utilisateurs", "users", users))
        for number in self._numbers():
            netbios = substitute(d.netbios, number)
            if len(netbios) > 15:
                self.add(at + ("netbios",), tr(f"'{netbios}' dépasse 15 caractères",
                                               f"'{netbios}' is longer than 15 characters"),
                         tr("un nom NetBIOS a 15 caractères au plus, par exemple POD{pod}",
                            "a NetBIOS name has at most 15 characters, e.g. POD{pod}"))
                break

    def _password(self, loc: Loc, pattern: str, d) -> None:
        """A password the domain's policy accepts, for every pod (else the domain refuses it
        when the lab is built, far from this file)."""
        for number in self._numbers():
            pw = substitute(pattern, number)
            n = number
            if len(pw) < d.policy.min_length:
                least = d.policy.min_length
                self.add(loc, tr(f"mot de passe de {len(pw)} caractères (pod {n}) : la stratégie en demande au "
                                 f"moins {least}", f"password of {len(pw)} characters (pod {n}): the policy asks "
                                 f"for at least {least}"),
                         tr("l'allonger, ou baisser policy.min_length", "lengthen it, or lower policy.min_length"))
                return
            classes = sum(bool(re.search(c, pw)) for c in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
            if d.policy.complexity and classes < 3:
                self.add(loc, tr(f"le mot de passe '{pw}' (pod {n}) n'est pas assez complexe pour la stratégie "
                                 "du domaine",
                                 f"password '{pw}' (pod {n}) is not complex enough for the domain's policy"),
                         tr("utiliser trois sortes parmi : minuscule, majuscule, chiffre, symbole (par exemple "
                            "Alice-{pod}-Tai), ou mettre policy.complexity: false",
                            "use three of: lowercase, uppercase, digit, symbol (e.g. Alice-{pod}-Tai), "
                            "or set policy.complexity: false"))
                return

    def check_stations(self) -> None:
        """The portal's machines are machines of the pod (never a switch or an access point)."""
        nodes = self.scenario.stations.nodes or []
        containers = [n for n, nd in self.pod.nodes.items() if nd.image is not None]
        for i, node in enumerate(nodes):
            if node not in containers:
                close = get_close_matches(node, containers, n=1)
                self.add(("stations", "nodes", i),
                         _not_machine(node, node in self.pod.nodes, ("le portail ouvre des terminaux sur des machines",
                                                                     "the portal opens terminals on machines")),
                         _suggest(close, "machines", "machines", containers))
        opened = nodes or [n for n, nd in self.pod.nodes.items() if nd.kind in ("server", "client")]
        for i, node in enumerate(self.scenario.stations.desktops):
            nd = self.pod.nodes.get(node)
            if nd is None or nd.kind != "client":
                clients = [n for n, x in self.pod.nodes.items() if x.kind == "client"]
                self.add(("stations", "desktops", i),
                         tr(f"'{node}' n'est pas un poste client du pod : les bureaux sont montrés sur les postes "
                            "clients", f"'{node}' is not a client machine of the pod: desktops are shown on client "
                            "machines"), _listed("postes clients", "client machines", clients))
            elif node not in opened:
                self.add(("stations", "desktops", i), tr(f"'{node}' a un bureau mais pas de place dans le portail",
                                                         f"'{node}' has a desktop but no place in the portal"),
                         tr("l'ajouter aussi à stations.nodes", "add it to stations.nodes too"))
        users = [a.user for a in self.scenario.stations.accounts]
        for i, u in enumerate(users):
            if users.index(u) != i:
                self.add(("stations", "accounts", i, "user"), tr(f"le compte '{u}' est listé deux fois",
                                                                 f"account '{u}' is listed twice"), _once())

    def check_prep(self) -> None:
        """Nodes, vlans, competencies and placeholders the prep section names all exist."""
        prep = self.scenario.prep
        if prep is None:
            return
        from tai_lab.scenario.values import placeholder_names, unknown_placeholders
        at: Loc = ("prep",)
        containers = [n for n, nd in self.pod.nodes.items() if nd.image is not None]
        names = placeholder_names(self.scenario)

        def node_ref(loc: Loc, node: str) -> None:
            if node not in containers:
                close = get_close_matches(node, containers, n=1)
                self.add(loc, _not_machine(node, node in self.pod.nodes, ("la préparation s'applique aux machines",
                                                                          "prep applies to machines")),
                         _suggest(close, "machines", "machines", containers))

        def text_ref(loc: Loc, text: str) -> None:
            for bad in unknown_placeholders(text, names):
                close = get_close_matches(bad, names, n=1)
                self.add(loc, tr(f"variable inconnue {{{bad}}}", f"unknown placeholder {{{bad}}}"),
                         tr(f"vouliez-vous dire {{{close[0]}}} ?", f"did you mean {{{close[0]}}}?") if close
                         else _listed("variables", "placeholders", names))

        for node, start in prep.start.items():
            node_ref(at + ("start", node), node)
            if start.remove_packages and start.state != "bare":
                self.add(at + ("start", node, "remove_packages"),
                         tr("seule une machine nue (bare) a des paquets retirés", "only a bare node has packages removed"),
                         tr("mettre `state: bare` ou retirer `remove_packages`",
                            "set `state: bare` or remove `remove_packages`"))
        for key, value in prep.values.items():
            text_ref(at + ("values", key), value)
        text_ref(at + ("title",), prep.title)
        text_ref(at + ("context",), prep.context)
        from tai_lab.referentiel import load as load_referentiel  # lazy: it reads a file
        ref_ids = load_referentiel().ids
        seen: set[str] = set()
        for i, req in enumerate(prep.requirements):
            here: Loc = at + ("requirements", i)
            if req.id in seen:
                self.add(here + ("id",), tr(f"l'identifiant de prérequis '{req.id}' est pris deux fois",
                                            f"requirement id '{req.id}' is used twice"),
                         tr("donner à chaque prérequis son propre identifiant", "give each requirement its own id"))
            seen.add(req.id)
            text_ref(here + ("title",), req.title)
            text_ref(here + ("text",), req.text)
            for j, cid in enumerate(req.competencies):
                if cid not in ref_ids:
                    close = get_close_matches(cid, ref_ids, n=1)
                    self.add(here + ("competencies", j), _unknown_competency(cid),
                             _suggest(close, "identifiants du référentiel", "référentiel ids", ref_ids))
            for j, check in enumerate(req.checks):
                cl: Loc = here + ("checks", j)
                node_ref(cl + ("node",), check.node)
                if check.server is not None:
                    node_ref(cl + ("server",), check.server)
                if check.vlan is not None:
                    vlan = self.pod.vlans.get(check.vlan)
                    if vlan is None:
                        self.add(cl + ("vlan",), _unknown_vlan(check.vlan), _listed("vlans", "vlans", list(self.pod.vlans)))
                    elif vlan.dhcp_range is None:
                        self.add(cl + ("vlan",), tr(f"le vlan '{check.vlan}' n'a pas de dhcp_range pour vérifier un bail",
                                                    f"vlan '{check.vlan}' has no dhcp_range to check a lease against"),
                                 tr("ajouter un dhcp_range au vlan", "add a dhcp_range to the vlan"))
                for key in ("address", "name", "url", "contains", "share", "user", "password"):
                    value = getattr(check, key)
                    if value is not None:
                        text_ref(cl + (key,), value)
        inside = next(((n, net) for nets in self.subnets.values() for n, net in enumerate(nets, 1)
                       if prep.depot_address in net), None)
        if inside is not None:
            self.add(at + ("depot_address",), tr(f"{prep.depot_address} est dans {inside[1]} (pod {inside[0]})",
                                                 f"{prep.depot_address} is inside {inside[1]} (pod {inside[0]})"),
                     tr("le dépôt est hors de tout pod : prendre une adresse de documentation, par exemple 198.51.100.10",
                        "the depot is outside every pod: use a documentation address, e.g. 198.51.100.10"))

    def check_jury(self) -> None:
        """The time zone exists; the jury's interventions are in the catalogue."""
        from zoneinfo import available_timezones
        if self.scenario.timezone not in available_timezones():
            close = get_close_matches(self.scenario.timezone, sorted(available_timezones()), n=1)
            self.add(("timezone",), tr(f"fuseau horaire inconnu {self.scenario.timezone!r}",
                                       f"unknown time zone {self.scenario.timezone!r}"),
                     _did_you_mean(close) if close else tr("par exemple Europe/Paris", "for example Europe/Paris"))
        from tai_lab.interventions.catalogue import load_catalogue  # lazy: the catalogue loads files too
        extra = None
        if self.scenario.interventions_dir is not None:
            extra = intervention_dir(self.scenario, self.base_dir)
            if extra is None or not Path(extra).is_dir():
                self.add(("interventions_dir",), tr(f"pas de répertoire {extra}", f"no directory {extra}"),
                         tr("le créer (vos fichiers <id>.yaml et leurs playbooks <id>.yml), ou retirer la clé",
                            "create it (your <id>.yaml files and their <id>.yml playbooks), or remove the key"))
                extra = None
        if self.scenario.interventions is None and extra is None:
            return
        try:
            catalogue = load_catalogue(extra=extra)
            ids = catalogue.ids
        except ScenarioError as exc:
            # The scenario's own intervention files, each problem at its file:line.
            self.problems += exc.problems
            return
        if self.scenario.interventions is None:
            return
        catalogue = load_catalogue(extra=extra)
        for n, iid in enumerate(self.scenario.interventions):
            if iid not in ids:
                close = get_close_matches(iid, ids, n=1)
                self.add(("interventions", n), tr(f"intervention inconnue {iid!r}", f"unknown intervention {iid!r}"),
                         _suggest(close, "identifiants valides", "valid ids", ids))
            elif catalogue.get(iid).desk and not any("service-desk" in nd.roles for nd in self.pod.nodes.values()):
                self.add(("interventions", n), tr(f"{iid} est une intervention sur le centre de services, et le pod "
                                                  "n'en a pas",
                                                  f"{iid} is an intervention on the service desk, and the pod has none"),
                         tr("ajouter un serveur avec `roles: [service-desk]` (voir scenarios/tai-servicedesk.yaml), "
                            "ou la retirer de la liste",
                            "add a server node with `roles: [service-desk]` (see scenarios/tai-servicedesk.yaml), "
                            "or remove it from the list"))
            elif self.pod.directory is None and catalogue.get(iid).needs_directory:
                self.add(("interventions", n), tr(f"l'intervention {iid!r} agit sur un domaine et le pod n'en a pas",
                                                  f"intervention {iid!r} acts on a domain and the pod has none"),
                         tr("ajouter pod.directory et les rôles ad-dc/ad-client (voir scenarios/tai-domaine.yaml), "
                            "ou la retirer de la liste",
                            "add pod.directory and the roles ad-dc/ad-client (see scenarios/tai-domaine.yaml), "
                            "or remove it from the list"))

    # Each node on its own.
    def check_nodes(self) -> None:
        vlan_names = list(self.pod.vlans)
        names_in_dns: dict[str, str] = {name: name for name in self.pod.nodes}
        for name, node in self.pod.nodes.items():
            at: Loc = ("pod", "nodes", name)
            if node.kind in NETWORK_DEVICE_KINDS and node.image is not None:
                self.add(at + ("image",), tr(f"{_a_kind(node.kind).capitalize()} est un équipement réseau et ne prend pas d'image",
                                             f"a {node.kind} is a network device and takes no image"),
                         tr("retirer `image:` ; switchs et bornes sont des espaces de noms réseau",
                            "remove `image:`; switches and access points are network namespaces"))
            if node.kind not in NETWORK_DEVICE_KINDS and node.image is None:
                self.add(at + ("kind",), tr(f"{_a_kind(node.kind).capitalize()} a besoin d'une image", f"a {node.kind} needs an image"),
                         tr("ajouter `image: debian-12`", "add `image: debian-12`"))
            if node.wireless is not None and node.kind != "ap":
                self.add(at + ("wireless",), tr("seule une borne Wi-Fi (kind: ap) a des réglages sans fil",
                                                "only an access point (kind: ap) has wireless settings"),
                         tr("déplacer `wireless:` sur une machine de type ap", "move `wireless:` to a node of kind ap"))
            if node.kind == "ap" and node.wireless is None:
                self.add(at + ("kind",), tr("une borne Wi-Fi a besoin de réglages sans fil",
                                            "an access point needs wireless settings"),
                         tr("ajouter `wireless: {ssid: \"TAI-POD{pod}\", psk: \"...\"}`",
                            "add `wireless: {ssid: \"TAI-POD{pod}\", psk: \"...\"}`"))
            for i, role in enumerate(node.roles):
                if node.kind not in ROLE_KINDS[role]:
                    kinds = sorted(ROLE_KINDS[role])
                    self.add(at + ("roles", i), tr(f"le rôle {role} ne convient pas à {_a_kind(node.kind)}",
                                                   f"role {role} does not fit a {node.kind}"),
                             tr(f"le mettre sur une machine de type {' ou '.join(kinds)}",
                                f"put it on a node of kind {' or '.join(kinds)}"))
            for i, alias in enumerate(node.aliases):
                if alias in names_in_dns:
                    self.add(at + ("aliases", i), tr(f"le nom DNS '{alias}' est déjà pris par {names_in_dns[alias]}",
                                                     f"DNS name '{alias}' is already used by {names_in_dns[alias]}"),
                             tr("chaque nom de machine et chaque alias est unique dans le pod",
                                "each node name and alias must be unique in the pod"))
                names_in_dns.setdefault(alias, name)
            self.check_interfaces(name, node.kind, vlan_names)

    def check_interfaces(self, name: str, kind: str, vlan_names: list[str]) -> None:
        node = self.pod.nodes[name]
        at: Loc = ("pod", "nodes", name)
        if kind == "switch" and node.interfaces:
            self.add(at + ("interfaces",), tr("un switch n'a pas d'interfaces à lui", "a switch has no interfaces of its own"),
                     tr("les machines se branchent au switch avec `vlan: <nom>` sur leurs propres interfaces",
                        "nodes plug into the switch with `vlan: <name>` on their own interfaces"))
        if kind == "ap" and [i.vlan is not None for i in node.interfaces] != [True]:
            self.add(at + ("interfaces",), tr("une borne Wi-Fi a besoin d'exactement une interface, sur un vlan",
                                              "an access point needs exactly one interface, on a vlan"),
                     tr("lui donner un lien montant, par exemple `- {name: eth0, vlan: users, host: 2}`",
                        "give it one uplink, e.g. `- {name: eth0, vlan: users, host: 2}`"))
        seen: set[str] = set()
        for i, iface in enumerate(node.interfaces):
            here: Loc = at + ("interfaces", i)
            if iface.name in seen:
                self.add(here + ("name",), tr(f"le nom d'interface '{iface.name}' est pris deux fois sur {name}",
                                              f"interface name '{iface.name}' is used twice on {name}"),
                         tr("donner à chaque interface d'une machine son propre nom",
                            "give each interface of a node its own name"))
            seen.add(iface.name)
            if iface.vlan is not None and iface.vlan not in self.pod.vlans:
                close = get_close_matches(iface.vlan, vlan_names, n=1)
                self.add(here + ("vlan",), _unknown_vlan(iface.vlan),
                         _suggest(close, "vlans du pod", "vlans of the pod", vlan_names,
                                  none=("aucun (ajouter pod.vlans)", "none (add pod.vlans)")))
            if iface.wireless is not None:
                target = self.pod.nodes.get(iface.wireless)
                aps = [n for n, nd in self.pod.nodes.items() if nd.kind == "ap"]
                hint = (_listed("bornes Wi-Fi du pod", "access points of the pod", aps) if aps
                        else tr("ajouter une machine de type ap", "add a node of kind ap"))
                if target is None:
                    self.add(here + ("wireless",), tr(f"machine inconnue '{iface.wireless}'",
                                                      f"unknown node '{iface.wireless}'"), hint)
                elif target.kind != "ap":
                    self.add(here + ("wireless",), tr(f"'{iface.wireless}' est {_a_kind(target.kind)}, pas une borne Wi-Fi",
                                                      f"'{iface.wireless}' is a {target.kind}, not an access point"),
                             hint)
                elif kind in ("router", "ap"):
                    self.add(here + ("wireless",), tr(f"{_a_kind(kind).capitalize()} se branche par câble, pas en Wi-Fi",
                                                      f"a {kind} connects by cable, not over Wi-Fi"),
                             tr("utiliser `vlan: <nom>`", "use `vlan: <name>`"))
            if iface.upstream and kind != "router":
                self.add(here + ("upstream",), tr("seul le routeur a une interface upstream",
                                                  "only the router has an upstream interface"),
                         tr("brancher plutôt cette interface sur un vlan", "plug this interface into a vlan instead"))
            if kind == "router" and iface.dhcp:
                self.add(here + ("dhcp",), tr("l'adresse du routeur est la passerelle du vlan et doit être fixe",
                                              "the router's address is the vlan's gateway and must be static"),
                         tr("utiliser `host: 1`", "use `host: 1`"))

    # One switch, one router, one WAN link per pod.
    def check_topology(self) -> None:
        nodes = self.pod.nodes
        switches = [n for n, nd in nodes.items() if nd.kind == "switch"]
        for extra in switches[1:]:
            self.add(("pod", "nodes", extra), tr("un pod a un switch au plus", "a pod has at most one switch"),
                     tr("les VLAN séparent les segments : retirer ce switch",
                        "VLANs separate the segments: remove this switch"))
        uses_vlans = any(i.vlan is not None for nd in nodes.values() for i in nd.interfaces)
        if uses_vlans and not switches:
            self.add(("pod", "nodes"), tr("des interfaces sont sur des vlans mais le pod n'a pas de switch",
                                          "interfaces use vlans but the pod has no switch"),
                     tr("ajouter `switch: {kind: switch}` sous pod.nodes", "add `switch: {kind: switch}` under pod.nodes"))
        routers = [n for n, nd in nodes.items() if nd.kind == "router"]
        if not routers:
            self.add(("pod", "nodes"), tr("le pod n'a pas de routeur", "the pod has no router"),
                     tr("ajouter une machine de type router avec une interface `{name: eth0, upstream: true}`",
                        "add a node of kind router with an interface `{name: eth0, upstream: true}`"))
        for extra in routers[1:]:
            self.add(("pod", "nodes", extra), tr("un pod a exactement un routeur", "a pod has exactly one router"),
                     tr("retirer ce routeur ou changer son type (kind)", "remove this router or change its kind"))
        if routers:
            router = nodes[routers[0]]
            up = [i for i, iface in enumerate(router.interfaces) if iface.upstream]
            if not up:
                self.add(("pod", "nodes", routers[0]), tr("le routeur n'a pas d'interface upstream",
                                                          "the router has no upstream interface"),
                         tr("ajouter une interface `{name: eth0, upstream: true}`",
                            "add an interface `{name: eth0, upstream: true}`"))
            for second in up[1:]:
                self.add(("pod", "nodes", routers[0], "interfaces", second),
                         tr("le routeur a une seule interface upstream", "the router has one upstream interface only"),
                         tr("retirer `upstream: true` ici", "remove `upstream: true` here"))

    def check_vlans(self) -> None:
        ids: dict[int, str] = {}
        for name, vlan in self.pod.vlans.items():
            if vlan.id in ids:
                self.add(("pod", "vlans", name, "id"), tr(f"le numéro de VLAN {vlan.id} est déjà pris par le vlan "
                                                          f"'{ids[vlan.id]}'",
                                                          f"VLAN id {vlan.id} is already used by vlan '{ids[vlan.id]}'"),
                         tr("donner à chaque vlan son propre numéro", "give each vlan its own id"))
            ids.setdefault(vlan.id, name)
        dhcp_vlans = [n for n, v in self.pod.vlans.items() if v.dhcp_range is not None]
        for name, node in self.pod.nodes.items():
            if "dhcp" in node.roles and not dhcp_vlans:
                self.add(("pod", "nodes", name, "roles", node.roles.index("dhcp")),
                         tr("un serveur DHCP a besoin d'un vlan avec un dhcp_range",
                            "a DHCP server needs a vlan with a dhcp_range"),
                         tr("ajouter par exemple `dhcp_range: [100, 199]` au vlan de ses clients",
                            "add e.g. `dhcp_range: [100, 199]` to the vlan of its clients"))
            for i, iface in enumerate(node.interfaces):
                on = self._vlan_of(iface.vlan, iface.wireless)
                if iface.dhcp and on in self.pod.vlans and self.pod.vlans[on].dhcp_range is None:
                    self.add(("pod", "nodes", name, "interfaces", i, "dhcp"),
                             tr(f"le vlan '{on}' n'a pas de dhcp_range : rien ne donnerait d'adresse à cette interface",
                                f"vlan '{on}' has no dhcp_range: nothing would give this interface an address"),
                             tr(f"ajouter un dhcp_range au vlan '{on}', ou utiliser `host: <nombre>`",
                                f"add a dhcp_range to vlan '{on}', or use `host: <number>`"))

    def _vlan_of(self, vlan: str | None, wireless: str | None) -> str | None:
        """The vlan an interface lands on: its own, or the one its access point bridges to."""
        if vlan is not None or wireless is None:
            return vlan
        ap = self.pod.nodes.get(wireless)
        if ap is None or ap.kind != "ap":
            return None
        return next((i.vlan for i in ap.interfaces if i.vlan is not None), None)

    # "{pod}" where uniqueness needs it, and valid results for every pod.
    def check_patterns(self) -> None:
        many = self.pods > 1

        def needs_pod(loc: Loc, pattern: str, what: tuple[str, str], example: str) -> None:
            if many and "{pod}" not in pattern:
                self.add(loc, tr(f"'{pattern}' n'a pas de {{pod}} : les {self.pods} pods partageraient {what[0]}",
                                 f"'{pattern}' has no {{pod}}: all {self.pods} pods would share the same {what[1]}"),
                         tr(f"y mettre le numéro du pod, par exemple {example}",
                            f"put the pod number in it, e.g. {example}"))

        wan = self.scenario.upstream.wan
        needs_pod(("upstream", "wan"), wan, ("le même réseau WAN", "WAN network"), "100.64.{pod}.0/30")
        self.wans = self._networks(("upstream", "wan"), wan)
        if self.wans and any(n.num_addresses < 4 for n in self.wans):
            self.add(("upstream", "wan"), tr(f"'{wan}' est trop petit pour le FAI et le routeur",
                                             f"'{wan}' is too small for the ISP and the router"),
                     tr("utiliser un /30, par exemple 100.64.{pod}.0/30", "use a /30, e.g. 100.64.{pod}.0/30"))
            self.wans = []
        for name, vlan in self.pod.vlans.items():
            loc: Loc = ("pod", "vlans", name, "subnet")
            needs_pod(loc, vlan.subnet, ("le même sous-réseau", "subnet"), f"10.{{pod}}.{vlan.id % 256}.0/24")
            nets = self._networks(loc, vlan.subnet)
            if nets:
                self.subnets[name] = nets
        domain = self.pod.domain
        needs_pod(("pod", "domain"), domain, ("le même domaine", "domain"), "pod{pod}.tai.lan")
        bad = next((substitute(domain, n) for n in self._numbers() if not _valid_dns_name(substitute(domain, n))), None)
        if bad is not None:
            self.add(("pod", "domain"), tr(f"'{bad}' n'est pas un domaine DNS valide", f"'{bad}' is not a valid DNS domain"),
                     tr("lettres minuscules, chiffres, '-' et points, par exemple pod{pod}.tai.lan",
                        "lowercase letters, digits, '-' and dots, e.g. pod{pod}.tai.lan"))
        for i, site in enumerate(self.scenario.upstream.sites):
            if not _valid_dns_name(site.name):
                self.add(("upstream", "sites", i, "name"), tr(f"'{site.name}' n'est pas un nom DNS valide",
                                                              f"'{site.name}' is not a valid DNS name"),
                         tr("par exemple www.example.net", "e.g. www.example.net"))
        for name, node in self.pod.nodes.items():
            if node.wireless is None:
                continue
            for n in self._numbers():
                psk, ssid = substitute(node.wireless.psk, n), substitute(node.wireless.ssid, n)
                if not 8 <= len(psk) <= 63:
                    self.add(("pod", "nodes", name, "wireless", "psk"),
                             tr(f"la phrase secrète WPA fait 8 à 63 caractères (pod {n} : {len(psk)})",
                                f"WPA passphrase must be 8 to 63 characters (pod {n}: {len(psk)})"),
                             tr("prendre une phrase plus longue, par exemple plateau-tai-{pod}",
                                "use a longer passphrase, e.g. plateau-tai-{pod}"))
                    break
                if not 1 <= len(ssid.encode()) <= 32:
                    self.add(("pod", "nodes", name, "wireless", "ssid"), tr("un SSID fait 1 à 32 octets",
                                                                            "an SSID is 1 to 32 bytes"),
                             tr("par exemple TAI-POD{pod}", "e.g. TAI-POD{pod}"))
                    break

    def _numbers(self) -> range:
        return range(1, self.pods + 1)

    def _networks(self, loc: Loc, pattern: str) -> list[IPv4Network]:
        """The network of ``pattern`` for every pod, or [] (and a problem) if one is invalid."""
        nets = []
        for n in self._numbers():
            try:
                nets.append(network(pattern, n))
            except ValueError as exc:
                why = str(exc).replace("has host bits set", "a des bits d'hôte non nuls")
                self.add(loc, tr(f"'{pattern}' ne donne pas de réseau valide pour le pod {n} : {why}",
                                 f"'{pattern}' gives no valid network for pod {n}: {exc}"),
                         tr("écrire un réseau IPv4 dont la partie hôte est nulle, par exemple 10.{pod}.10.0/24",
                            "write an IPv4 network with a zero host part, e.g. 10.{pod}.10.0/24"))
                return []
        return nets

    # Host numbers inside their subnet, no address twice, DHCP pool clear of static hosts.
    def check_addresses(self) -> None:
        taken: dict[tuple[str, int], str] = {}
        for name, node in self.pod.nodes.items():
            for i, iface in enumerate(node.interfaces):
                on = self._vlan_of(iface.vlan, iface.wireless)
                if iface.host is None or on not in self.subnets:
                    continue
                loc: Loc = ("pod", "nodes", name, "interfaces", i, "host")
                if not self._fits(loc, iface.host, on, ("l'hôte", "host")):
                    continue
                owner = taken.get((on, iface.host))
                if owner is not None:
                    address = self.subnets[on][0].network_address + iface.host
                    self.add(loc, tr(f"l'adresse {address} (hôte {iface.host} sur le vlan {on}) est déjà prise par "
                                     f"{owner}",
                                     f"address {address} (host {iface.host} on vlan {on}) is already taken by {owner}"),
                             tr("donner à chaque machine son propre numéro d'hôte sur un vlan",
                                "give each node its own host number on a vlan"))
                else:
                    taken[(on, iface.host)] = f"{name}.{iface.name}"
        for name, vlan in self.pod.vlans.items():
            if vlan.dhcp_range is None or name not in self.subnets:
                continue
            loc = ("pod", "vlans", name, "dhcp_range")
            first, last = vlan.dhcp_range
            if first > last:
                self.add(loc, tr(f"dhcp_range [{first}, {last}] finit avant de commencer",
                                 f"dhcp_range [{first}, {last}] ends before it starts"),
                         tr("écrire [premier, dernier]", "write [first, last]"))
                continue
            if not (self._fits(loc, first, name, ("le début du dhcp_range", "dhcp_range start"))
                    and self._fits(loc, last, name, ("la fin du dhcp_range", "dhcp_range end"))):
                continue
            for (vname, host), owner in taken.items():
                if vname == name and first <= host <= last:
                    self.add(loc, tr(f"dhcp_range [{first}, {last}] contient l'hôte {host} de {owner}",
                                     f"dhcp_range [{first}, {last}] contains host {host} of {owner}"),
                             tr("garder les adresses fixes hors de la plage DHCP : déplacer l'hôte ou réduire la plage",
                                "keep static hosts outside the DHCP pool: move the host or shrink the range"))

    def _fits(self, loc: Loc, host: int, vlan: str, what: tuple[str, str]) -> bool:
        for net in self.subnets[vlan]:
            top = net.num_addresses - 2
            if not 1 <= host <= top:
                self.add(loc, tr(f"{what[0]} {host} ne tient pas dans {net} (hôtes utilisables 1..{max(top, 0)})",
                                 f"{what[1]} {host} does not fit in {net} (usable hosts 1..{max(top, 0)})"),
                         tr(f"choisir un numéro d'hôte entre 1 et {top}", f"pick a host number between 1 and {top}")
                         if top >= 1 else tr("prendre un sous-réseau plus grand", "use a larger subnet"))
                return False
        return True

    # No two networks of the lab overlap, within a pod or across pods.
    def check_networks_distinct(self) -> None:
        entries: list[tuple[Loc, int, str, IPv4Network]] = []
        for n in self._numbers():
            # A pattern without {pod} was already reported: compare only its first pod.
            if self.wans and ("{pod}" in self.scenario.upstream.wan or n == 1):
                entries.append((("upstream", "wan"), n, "WAN", self.wans[n - 1]))
            for name, nets in self.subnets.items():
                if "{pod}" in self.pod.vlans[name].subnet or n == 1:
                    entries.append((("pod", "vlans", name, "subnet"), n, f"vlan {name}", nets[n - 1]))
        reported: set[tuple[Loc, Loc]] = set()
        for j, (loc_b, pod_b, label_b, net_b) in enumerate(entries):
            for loc_a, pod_a, label_a, net_a in entries[:j]:
                if net_a.overlaps(net_b) and (loc_a, loc_b) not in reported:
                    reported.add((loc_a, loc_b))
                    self.add(loc_b, tr(f"{net_b} (pod {pod_b}, {label_b}) chevauche {net_a} (pod {pod_a}, {label_a})",
                                       f"{net_b} (pod {pod_b}, {label_b}) overlaps {net_a} (pod {pod_a}, {label_a})"),
                             tr("donner à chaque vlan et au WAN des réseaux distincts, par exemple "
                                "10.{pod}.<numéro de vlan>.0/24",
                                "give every vlan and the WAN distinct networks, e.g. 10.{pod}.<vlan id>.0/24"))
        publics: list[tuple[Loc, IPv4Address]] = [(("upstream", "resolver"), self.scenario.upstream.resolver)]
        publics += [(("upstream", "sites", i, "address"), s.address) for i, s in enumerate(self.scenario.upstream.sites)]
        for loc, address in publics:
            inside = next(((p, label, net) for _, p, label, net in entries if address in net), None)
            if inside is not None:
                p, label, net = inside
                self.add(loc, tr(f"{address} est dans {net} (pod {p}, {label})", f"{address} is inside {net} (pod {p}, {label})"),
                         tr("prendre une adresse publique de documentation, par exemple dans 198.51.100.0/24",
                            "use a public documentation address, e.g. from 198.51.100.0/24"))
