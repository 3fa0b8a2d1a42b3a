"""The `isodemo` command setup.sh installs: Python started without `site`, which the commands that need the
venv's packages then run themselves.

A console script as pip writes it (`#!VENV/bin/python`, `from isodemo.cli import main`) starts Python with
`site`: it reads the venv's pyvenv.cfg, puts its site-packages on sys.path, runs every .pth file there (an
editable install's path; setuptools' distutils-precedence.pth, which imports _distutils_hack) and Debian's
sitecustomize: 1.9 ms (`python -S -c pass` against `python -c pass`), 1.2 ms of a whole `isodemo run`
(site's import of os, 0.8 ms, a run needs anyway). `isodemo run` needs only the standard library and
isodemo, so the launcher starts the venv's Python with -S and puts on sys.path, itself, the one directory
that holds the isodemo package (an editable install's `src`, or the venv's site-packages). Every command
that imports click, rich, pyroute2, psutil or yaml calls add_site_packages() first (cli.py before click;
`isodemo run --network bridge` before netlink).

    python -m isodemo.launcher     prints the launcher for this interpreter and the isodemo it imports
                                   (what setup.sh writes to /usr/local/bin/isodemo)
"""

from __future__ import annotations

import sys


def script(python: str, path: str) -> str:
    """The launcher's text: `python` the venv's interpreter (its pyvenv.cfg is how site finds the venv
    later), `path` the directory that holds isodemo/."""
    if not python.startswith("/") or any(c.isspace() for c in python):
        # the kernel reads the interpreter of `#!` up to the first blank: a path with one cannot be there
        raise ValueError(f"the launcher needs an absolute interpreter path without blanks, not {python!r}")
    return (
        f"#!{python} -S\n"
        "# isodemo, as setup.sh installs it: Python without site (-S), the directory of isodemo on sys.path;\n"
        "# the commands that need the venv's packages run site themselves (src/isodemo/launcher.py says why).\n"
        "import sys\n"
        "\n"
        f"sys.path.append({path!r})\n"
        "from isodemo.cli import main\n"
        "\n"
        "sys.exit(main())\n"
    )


_site_added: list[bool] = []  # [True] once add_site_packages() ran site


def add_site_packages() -> None:
    """Python started without site (the launcher's -S): do site's work now, once: the venv's site-packages
    and what its .pth files add on sys.path, sitecustomize. Nothing when site already ran at the start.
    Processes forked later (the Isolated helpers) inherit the path; one forked before does not."""
    if sys.flags.no_site and not _site_added:
        import site

        site.main()  # what `import site` runs at start-up; the pyvenv.cfg next to sys.executable names the venv
        _site_added.append(True)


def main() -> None:
    import os

    import isodemo

    sys.stdout.write(script(sys.executable, os.path.dirname(os.path.dirname(os.path.abspath(isodemo.__file__)))))


if __name__ == "__main__":
    main()
