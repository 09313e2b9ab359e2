"""Directory changes for the directory interventions, on the domain controller itself.

Run by the intervention playbooks on the DC (``python3 - OP... < ad-tool.py``): one process
opens the local sam.ldb with Samba's own bindings (samba-tool's library, without its start-up
per command) and applies every operation given, in order. Accounts are found by their
sAMAccountName wherever the candidate moved them, so a restore works whatever they did.

Operations (each one argument, fields separated by ':'):
  disable:USER  enable:USER  expire:USER  noexpiry:USER  unlock:USER
  must-change:USER  setpassword:USER:PASSWORD  setpassword-fresh:USER:PASSWORD  setpassword-must-change:USER:PASSWORD
  password-expires:USER  pso-expire:USER  pso-remove
  remove-member:GROUP:USER  add-member:GROUP:USER  distribution:GROUP  security:GROUP
  move:USER:OU_DN  dns-delete:ZONE:NAME (NAME _* = every SRV record)  delete:ACCOUNT  random-password:ACCOUNT  sid:USER
"""
from __future__ import annotations

import sys
import time

import ldb
from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

SAM = "/var/lib/samba/private/sam.ldb"
PSO = "tai-expiration"
GLOBAL_SECURITY = -2147483646
GLOBAL_DISTRIBUTION = 2
DISABLED = 0x2
DONT_EXPIRE_PASSWORD = 0x10000


def _nt_time(seconds: float) -> int:
    """Windows FILETIME (100 ns since 1601) of a Unix time."""
    return int((seconds + 11644473600) * 10_000_000)


def main(argv: list[str]) -> int:
    lp = LoadParm()
    lp.load_default()
    db = SamDB(url=SAM, session_info=system_session(), lp=lp)
    base = str(db.domain_dn())

    def find(name: str, attrs: list[str] | None = None) -> ldb.Message:
        res = db.search(base=base, scope=ldb.SCOPE_SUBTREE,
                        expression=f"(sAMAccountName={ldb.binary_encode(name)})", attrs=attrs or ["dn"])
        if len(res) != 1:
            raise SystemExit(f"ad-tool: no account {name!r} in the directory")
        return res[0]

    def replace(dn: ldb.Dn, attr: str, value: str) -> None:
        m = ldb.Message(dn)
        m[attr] = ldb.MessageElement(value, ldb.FLAG_MOD_REPLACE, attr)
        db.modify(m)

    def uac(name: str, set_bits: int = 0, clear_bits: int = 0) -> None:
        msg = find(name, ["userAccountControl"])
        value = (int(msg["userAccountControl"][0]) | set_bits) & ~clear_bits
        replace(msg.dn, "userAccountControl", str(value))

    pso_dn = f"CN={PSO},CN=Password Settings Container,CN=System,{base}"
    for op in argv:
        kind, _, rest = op.partition(":")
        args = rest.split(":", 1) if rest else []
        if kind == "disable":
            uac(args[0], set_bits=DISABLED)
        elif kind == "enable":
            uac(args[0], clear_bits=DISABLED)
        elif kind == "expire":                      # the account expired yesterday
            replace(find(args[0]).dn, "accountExpires", str(_nt_time(time.time() - 86400)))
        elif kind == "noexpiry":
            replace(find(args[0]).dn, "accountExpires", "0")
        elif kind == "unlock":
            replace(find(args[0]).dn, "lockoutTime", "0")
        elif kind == "must-change":
            replace(find(args[0]).dn, "pwdLastSet", "0")
        elif kind in ("setpassword", "setpassword-must-change"):
            db.setpassword(f"(sAMAccountName={ldb.binary_encode(args[0])})", args[1],
                           force_change_at_next_login=kind == "setpassword-must-change")
        elif kind == "setpassword-fresh":
            # the scenario's password with an empty history: the next change by the user (the
            # password the jury asks for) is accepted again, as the first time
            domain = db.search(base=base, scope=ldb.SCOPE_BASE, attrs=["pwdHistoryLength"])[0]
            length = str(domain["pwdHistoryLength"][0])
            # a history of one, set twice: only the scenario's password is remembered
            replace(domain.dn, "pwdHistoryLength", "1")
            try:
                for _ in range(2):
                    db.setpassword(f"(sAMAccountName={ldb.binary_encode(args[0])})", args[1],
                                   force_change_at_next_login=False)
            finally:
                replace(domain.dn, "pwdHistoryLength", length)
        elif kind == "password-expires":            # clear "password never expires"
            uac(args[0], clear_bits=DONT_EXPIRE_PASSWORD)
        elif kind == "pso-expire":
            # A fine-grained policy whose maximum age (one second) every password has passed:
            # the password is really expired, as after months without a change.
            if not _exists(db, pso_dn):
                db.add({"dn": pso_dn, "objectClass": "msDS-PasswordSettings",
                        "msDS-PasswordSettingsPrecedence": "1",
                        "msDS-PasswordReversibleEncryptionEnabled": "FALSE",
                        "msDS-PasswordHistoryLength": "0", "msDS-PasswordComplexityEnabled": "FALSE",
                        "msDS-MinimumPasswordLength": "0", "msDS-MinimumPasswordAge": "0",
                        "msDS-MaximumPasswordAge": "-10000000",
                        "msDS-LockoutThreshold": "0", "msDS-LockoutObservationWindow": "-18000000000",
                        "msDS-LockoutDuration": "-18000000000"})
            m = ldb.Message(ldb.Dn(db, pso_dn))
            m["msDS-PSOAppliesTo"] = ldb.MessageElement(str(find(args[0]).dn), ldb.FLAG_MOD_REPLACE,
                                                        "msDS-PSOAppliesTo")
            db.modify(m)
        elif kind == "pso-remove":
            if _exists(db, pso_dn):
                db.delete(pso_dn)
        elif kind in ("remove-member", "add-member"):
            group, user = args[0], args[1]
            g = find(group, ["member"])
            u = str(find(user).dn)
            members = {str(v).lower() for v in g.get("member", [])}
            if (kind == "add-member") == (u.lower() in members):
                continue                            # already as wanted
            m = ldb.Message(g.dn)
            flag = ldb.FLAG_MOD_ADD if kind == "add-member" else ldb.FLAG_MOD_DELETE
            m["member"] = ldb.MessageElement(u, flag, "member")
            db.modify(m)
        elif kind in ("distribution", "security"):
            replace(find(args[0]).dn, "groupType",
                    str(GLOBAL_DISTRIBUTION if kind == "distribution" else GLOBAL_SECURITY))
        elif kind == "move":
            msg = find(args[0])
            target = ldb.Dn(db, f"CN={args[0]},{args[1]}")
            if str(msg.dn).lower() != str(target).lower():
                db.rename(msg.dn, target)
        elif kind == "delete":
            msg = find(args[0])
            db.delete(msg.dn, ["tree_delete:1"])
        elif kind == "random-password":             # a machine account's secret, no longer the member's
            import secrets
            db.setpassword(f"(sAMAccountName={ldb.binary_encode(args[0])})", secrets.token_urlsafe(24) + "aA1-",
                           force_change_at_next_login=False)
        elif kind == "dns-delete":                  # dns-delete:ZONE:NAME, NAME "_*" = every SRV
            zone, name = args[0], args[1]
            dns_bases = [f"DC={zone},CN=MicrosoftDNS,DC=DomainDnsZones,{base}",
                         f"DC=_msdcs.{zone},CN=MicrosoftDNS,DC=ForestDnsZones,{base}"]
            for dns_base in dns_bases:
                if not _exists(db, dns_base):
                    continue
                for node in db.search(base=dns_base, scope=ldb.SCOPE_ONELEVEL,
                                      expression="(objectClass=dnsNode)", attrs=["dc"]):
                    label = str(node["dc"][0])
                    if (name == "_*" and label.startswith("_")) or label.lower() == name.lower():
                        db.delete(node.dn)
        elif kind == "sid":
            print(db.schema_format_value("objectSid", find(args[0], ["objectSid"])["objectSid"][0]).decode())
        else:
            raise SystemExit(f"ad-tool: unknown operation {kind!r}")
    return 0


def _exists(db: SamDB, dn: str) -> bool:
    try:
        return len(db.search(base=dn, scope=ldb.SCOPE_BASE, attrs=["dn"])) == 1
    except ldb.LdbError:
        return False


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
