"""libvirt-python, loaded when a libvirt lab needs it, and one connection per hypervisor URI."""
from __future__ import annotations

import threading
from typing import Any

from ...errors import PrerequisiteError
from ...lang import tr

DEFAULT_URI = "qemu:///system"


def load():
    """The libvirt bindings, or a PrerequisiteError saying how to install them."""
    try:
        import libvirt
    except ImportError as exc:
        raise PrerequisiteError(tr("le backend libvirt a besoin de libvirt-python",
                                   "the libvirt backend needs libvirt-python"),
                                tr("l'installer avec : pip install 'tai-lab[libvirt]' "
                                   "(il faut les paquets Debian libvirt-dev et pkg-config)",
                                   "install it with: pip install 'tai-lab[libvirt]' "
                                   "(needs the Debian packages libvirt-dev and pkg-config)")) from exc
    # Errors are exceptions handled here; libvirt's default handler would also print them.
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)
    return libvirt


class Connections:
    """The backend's open connections, one per URI, opened again when one died."""

    uri: str
    # libvirt's connections and domains: the bindings ship no type information (Any).
    _conns: dict[str, Any]
    _lock: threading.Lock

    def conn(self, uri: str | None = None):
        uri = uri or self.uri
        with self._lock:
            c = self._conns.get(uri)
            if c is None or not c.isAlive():
                libvirt = load()
                try:
                    c = libvirt.open(uri)
                except libvirt.libvirtError as exc:
                    raise PrerequisiteError(tr(f"connexion à libvirt impossible sur {uri} : {exc}",
                                               f"cannot connect to libvirt at {uri}: {exc}"),
                                            tr("libvirtd tourne-t-il ? (`libvirtd -d` et `virtlogd -d` "
                                               "quand systemd n'est pas le PID 1)",
                                               "is libvirtd running? (`libvirtd -d` and `virtlogd -d` "
                                               "when systemd is not PID 1)")) from exc
                self._conns[uri] = c
            return c
