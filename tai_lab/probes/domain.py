"""Scripts that check the domain (Active Directory) as a member's user would: a PAM login through
sssd alone, a Kerberos ticket, a share written with the user's own ticket. Used by the probe kinds
``domain-login``, ``kinit`` and ``smb-ticket`` and by the plateau's health."""
from __future__ import annotations

import shlex

def _try_passwords(account: str, passwords: tuple[str, ...], attempt: str, wrong: str) -> str:
    """Shell: ``attempt`` (reading the password on stdin) with each password in turn; the next
    one only when the domain said the password is wrong (a disabled, locked or expired account
    must not cost another bad password: the lockout policy counts them)."""
    lines = [f"u={shlex.quote(account)}", "for p in " + " ".join(shlex.quote(p) for p in passwords) + "; do",
             f"  out=$(printf '%s\\n' \"$p\" | {attempt} 2>&1); rc=$?; printf '%s\\n' \"$out\"",
             "  [ $rc -eq 0 ] && break",
             f"  printf '%s' \"$out\" | grep -qE {shlex.quote(wrong)} || break",
             "done"]
    return "\n".join(lines)


def domain_login_script(account: str, passwords: tuple[str, ...]) -> str:
    """A login as the domain user on this member: the account known to the domain (sssd, not a
    local one), then a PAM login through pam_sss alone (authenticate and account: disabled,
    locked, expired, must-change and not allowed all refuse here)."""
    return "\n".join([
        # the tool's own PAM service, written again each time: pam_sss and nothing else
        "printf 'auth required pam_sss.so\\naccount required pam_sss.so\\npassword required pam_sss.so\\n' "
        "> /etc/pam.d/tai-domaine",
        f"sss_cache -u {shlex.quote(account)} >/dev/null 2>&1",
        f"if ! getent -s sss passwd {shlex.quote(account)} >/dev/null; then",
        f"  echo \"{account} : compte inconnu du domaine sur ce poste\"; exit 3",
        "fi",
        _try_passwords(account, passwords, 'pamtester -v tai-domaine "$u" authenticate acct_mgmt',
                       "Authentication failure"),
        "exit $rc"])


def kinit_script(account: str, realm: str, passwords: tuple[str, ...]) -> str:
    """A Kerberos ticket for the user, in a fresh cache (never the member's own)."""
    return "\n".join([
        "c=$(mktemp); trap 'rm -f \"$c\"' EXIT",
        _try_passwords(account, passwords, f'KRB5CCNAME=FILE:"$c" kinit "$u@{realm}"',
                       "Password incorrect|Preauthentication failed"),
        "exit $rc"])


def smb_ticket_script(account: str, realm: str, passwords: tuple[str, ...], share: str, denied: bool) -> str:
    """Write a file to the share with the user's own fresh ticket (its groups are the PAC's of
    a new ticket). ``denied``: the server must refuse this user (a ticket was obtained, so the
    refusal is about rights, not about a broken login)."""
    name = f"tai-test-{account}.txt"
    smb = (f'KRB5CCNAME=FILE:"$c" smbclient {shlex.quote(share)} --use-kerberos=required -N -t 5 '
           f"-c {shlex.quote(f'put /etc/hostname {name}; rm {name}')}")
    verdict = ("printf '%s' \"$out\" | grep -q NT_STATUS_ACCESS_DENIED" if denied
               else "! printf '%s' \"$out\" | grep -q NT_STATUS")
    return "\n".join([
        "c=$(mktemp); trap 'rm -f \"$c\"' EXIT",
        _try_passwords(account, passwords, f'KRB5CCNAME=FILE:"$c" kinit "$u@{realm}"',
                       "Password incorrect|Preauthentication failed"),
        "[ $rc -eq 0 ] || { echo \"pas de ticket Kerberos pour $u\"; exit 2; }",
        f"out=$({smb} 2>&1); printf '%s\\n' \"$out\"",
        verdict])
