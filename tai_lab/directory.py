"""A pod's Active Directory domain as Samba takes it: the objects in one LDIF batch.

Provisioning adds every OU, group and user with one ``ldbadd`` on the controller's
``sam.ldb`` and the memberships with one ``ldbmodify`` (one process each: ``samba-tool user
create`` costs a Python start-up per account). Pure: text from the plan, no I/O.
"""
from __future__ import annotations

import base64

from .plan import DirectoryPlan

# userAccountControl of a normal, enabled account.
NORMAL_ACCOUNT = 512
# groupType of a global security group.
GLOBAL_SECURITY_GROUP = -2147483646


def unicode_pwd(password: str) -> str:
    """The value of ``unicodePwd::`` for a password: base64 of the double-quoted UTF-16LE text."""
    return base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode()


def _b64_if_needed(value: str) -> tuple[str, str]:
    """``: value`` or ``:: base64`` (LDIF wants base64 for non-ASCII text such as accents)."""
    if value.isascii() and not value.startswith((" ", ":", "<")):
        return ":", value
    return "::", base64.b64encode(value.encode()).decode()


def _attr(name: str, value: str | int) -> str:
    sep, text = _b64_if_needed(str(value))
    return f"{name}{sep} {text}"


def objects_ldif(d: DirectoryPlan, domain: str) -> str:
    """OUs, groups and users (with passwords and rfc2307 ids), in an order ldbadd accepts."""
    blocks: list[list[str]] = []
    for ou in d.ous:
        blocks.append([f"dn: {d.ou_dn(ou)}", "objectClass: organizationalUnit", _attr("ou", ou)])
    for g in d.groups:
        block = [f"dn: CN={g.name},{d.ou_dn(g.ou)}", "objectClass: group", _attr("sAMAccountName", g.name),
                 f"groupType: {GLOBAL_SECURITY_GROUP}", f"gidNumber: {g.gid}"]
        if g.description:
            block.append(_attr("description", g.description))
        blocks.append(block)
    for u in d.users:
        display = f"{u.first_name} {u.last_name}".strip()
        blocks.append([
            f"dn: CN={u.name},{d.ou_dn(u.ou)}", "objectClass: user",
            _attr("sAMAccountName", u.name), _attr("userPrincipalName", f"{u.name}@{domain}"),
            _attr("givenName", u.first_name), _attr("sn", u.last_name), _attr("displayName", display),
            f"userAccountControl: {NORMAL_ACCOUNT}", f"unicodePwd:: {unicode_pwd(u.password)}",
            f"uidNumber: {u.uid}", f"gidNumber: {u.gid}", f"unixHomeDirectory: /home/{u.name}",
            "loginShell: /bin/bash"])
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"


def members_ldif(d: DirectoryPlan) -> str:
    """Each group's members, and Domain Users' gid (the users' primary group on the members)."""
    blocks = [[f"dn: CN=Domain Users,CN=Users,{d.base_dn}", "changetype: modify", "replace: gidNumber",
               f"gidNumber: {d.domain_users_gid}"]]
    for g in d.groups:
        members = [u for u in d.users if g.name in u.groups]
        if not members:
            continue
        blocks.append([f"dn: CN={g.name},{d.ou_dn(g.ou)}", "changetype: modify", "add: member",
                       *(f"member: CN={u.name},{d.ou_dn(u.ou)}" for u in members)])
    return "\n\n".join("\n".join(b) for b in blocks) + "\n"
