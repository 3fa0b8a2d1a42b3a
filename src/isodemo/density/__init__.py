"""`isodemo bench --density N`: start N real containers at once, check every one, tear them all down, measured.

One job per module:
    plan.py     pure arithmetic: how many fit, the subnet size, deciles and growth (unit-tested)
    rtnl.py     rtnetlink messages built by hand, sent in batches on one socket (no pyroute2 per container)
    child.py    what one container's first process does between clone(2) and execve(2)
    zygote.py   the small process that clones the containers and reaps them
    host.py     the shared objects on the host: bridge, cgroups, directories
    checks.py   every container answered: a ping to its address, its PID 1 in its cgroup
    run.py      the whole run, narrated, with the facts
"""
