"""Runs one os-ken app module the way `osken-manager` would (os-ken has no `os_ken.cmd`
module, so AppManager is driven directly): listens for switches on HOST:PORT, prints `READY`,
and serves until killed. The peers call `serve(__name__, "their_module")` from their `main`.
"""

from os_ken import cfg
from os_ken.base import app_manager
from os_ken.lib import hub


def serve(name, module, port, host="127.0.0.1"):
    cfg.CONF(args=["--ofp-tcp-listen-port", str(port), "--ofp-listen-host", host],
             project="os_ken")
    mgr = app_manager.AppManager.get_instance()
    mgr.load_apps([name if name != "__main__" else module])
    services = mgr.instantiate_apps(**mgr.create_contexts())
    print("READY", flush=True)
    hub.joinall(services)
