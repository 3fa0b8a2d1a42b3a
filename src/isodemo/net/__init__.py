"""Networking: named network namespaces, veth pairs, bridges, addresses, routes, tc and nftables.

pyroute2 (netlink from Python) is imported only by the modules of this package, and only when a network
demo runs: it costs ~300 ms to import, which `isodemo --help` and the other demos never pay.
"""
