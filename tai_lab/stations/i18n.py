"""The portal's words: French first (the exam's language), English selectable."""
from __future__ import annotations

LANGS = ("fr", "en")

TEXTS: dict[str, dict[str, str]] = {
    "portal": {"fr": "Poste du candidat", "en": "Candidate's station"},
    "code_label": {"fr": "Code d'accès de votre pod", "en": "Your pod's access code"},
    "code_help": {"fr": "Il figure sur la carte que le formateur vous a remise (majuscules ou minuscules, "
                        "tirets facultatifs).",
                  "en": "It is on the card the trainer gave you (upper or lower case, dashes optional)."},
    "enter": {"fr": "Entrer", "en": "Enter"},
    "bad_code": {"fr": "Code inconnu. Vérifiez-le sur votre carte.",
                 "en": "Unknown code. Check it on your card."},
    "too_many": {"fr": "Trop d'essais. Réessayez dans {s} s.", "en": "Too many attempts. Try again in {s} s."},
    "pod_closed": {"fr": "L'accès à votre pod est fermé pour le moment ({why}).",
                   "en": "Access to your pod is closed for now ({why})."},
    "pod_title": {"fr": "Pod {pod} — vos machines", "en": "Pod {pod} — your machines"},
    "open": {"fr": "ouvert", "en": "open"},
    "closed": {"fr": "fermé", "en": "closed"},
    "access": {"fr": "Accès", "en": "Access"},
    "terminal": {"fr": "Ouvrir un terminal", "en": "Open a terminal"},
    "machine_off": {"fr": "éteinte", "en": "off"},
    "accounts": {"fr": "Connectez-vous avec le compte et le mot de passe indiqués sur votre carte.",
                 "en": "Log in with the account and password given on your card."},
    "logout": {"fr": "Se déconnecter", "en": "Log out"},
    "back": {"fr": "Vos machines", "en": "Your machines"},
    "copy_help": {"fr": "Copier : sélectionner puis Ctrl+Maj+C · Coller : Ctrl+Maj+V ou Maj+Inser",
                  "en": "Copy: select, then Ctrl+Shift+C · Paste: Ctrl+Shift+V or Shift+Insert"},
    "session_closed": {"fr": "Session terminée", "en": "Session ended"},
    "reconnect": {"fr": "Se reconnecter", "en": "Reconnect"},
    "forbidden": {"fr": "Cette page n'est pas celle de votre pod.", "en": "This page is not your pod's."},
    "not_found": {"fr": "Cette machine n'est pas ouverte aux candidats.",
                  "en": "This machine is not open to candidates."},
    "login_needed": {"fr": "Entrez le code d'accès de votre pod.", "en": "Enter your pod's access code."},
    "refused_origin": {"fr": "Requête refusée (origine).", "en": "Request refused (origin)."},
    "lang_other": {"fr": "English", "en": "Français"},
    "closed_by": {"fr": "accès fermé : {why}", "en": "access closed: {why}"},
    "node_down": {"fr": "machine injoignable : {why}", "en": "machine unreachable: {why}"},
    "ended_shell": {"fr": "déconnexion", "en": "logged out"},
    "kind": {"fr": "type", "en": "kind"},
    "desktop": {"fr": "Ouvrir le bureau", "en": "Open the desktop"},
    "no_desktop": {"fr": "Cette machine n'a pas de bureau.", "en": "This machine has no desktop."},
    "desktop_ended": {"fr": "le bureau s'est arrêté", "en": "the desktop stopped"},
    "desktop_help": {"fr": "Cliquez dans l'écran pour lui donner le clavier (disposition AZERTY).",
                     "en": "Click the screen to give it the keyboard (French AZERTY layout)."},
    "connecting": {"fr": "connexion…", "en": "connecting…"},
    "connected": {"fr": "connecté", "en": "connected"},
}

# Why access is closed, for a candidate (the access module's reasons).
REASONS_EN = {
    "setup": "setting up (closed)", "phase-change": "phase change in progress", "prep": "preparation phase",
    "jury": "interview with the jury", "setup-phase": "setup phase", "prep-start": "preparation starting",
    "seal": "end of the preparation (sealed)", "reset": "pod reset (new code)",
    "rebuild": "pod rebuilt (new code)", "manual-open": "opened by the trainer",
    "manual-close": "closed by the trainer", "code": "new code",
}


def translate(key: str, lang: str, **kw: object) -> str:
    entry = TEXTS.get(key)
    text = key if entry is None else entry.get(lang) or entry["fr"]
    return text.format(**kw) if kw else text


def reason(key: str, lang: str) -> str:
    from .access import REASONS
    return REASONS_EN.get(key, key) if lang == "en" else REASONS.get(key, key)
