"""`isodemo run`'s command line (isodemo.container.argv): docker's positional rules, every option, every bad
value refused with exit 125 and the option's name, docker's env-file format, and a fuzz showing that nothing
but RunError (or the request for help) ever comes out of parse()."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isodemo import values
from isodemo.container import argv
from isodemo.container.spec import DEFAULT_STOP_TIMEOUT, Publish, RunSpec, Volume
from isodemo.errors import ExitCode, RunError, UsageError

# The same on cgroup v1 and v2: the VM stage (tests/vm) runs only what differs between them.
pytestmark = pytest.mark.host_only

ENVIRON = {"HOME": "/root", "FROM_HERE": "here value"}


def parse(*words: str) -> RunSpec:
    return argv.parse(list(words), environ=ENVIRON)


def refused(*words: str) -> RunError:
    with pytest.raises(RunError) as caught:
        parse(*words)
    assert caught.value.exit_code == ExitCode.RUN_FAILED == 125
    assert caught.value.hint  # every refusal says what to do
    return caught.value


def a_block_device() -> str | None:
    for name in sorted(os.listdir("/dev")):
        path = f"/dev/{name}"
        try:
            if stat.S_ISBLK(os.stat(path).st_mode):
                return path
        except OSError:
            continue
    return None


# -- docker's positional rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "image", "command"),
    [
        (["busybox"], "busybox", ()),
        (["busybox", "ls", "-l"], "busybox", ("ls", "-l")),
        (["busybox", "--", "ls"], "busybox", ("ls",)),
        (["busybox", "--", "--", "x"], "busybox", ("--", "x")),  # only the first `--` after IMAGE is dropped
        (["-it", "busybox", "sh"], "busybox", ("sh",)),
        (["-ti", "busybox", "sh"], "busybox", ("sh",)),
        (["--", "busybox", "ls"], "busybox", ("ls",)),  # `--` ends the options
        (["--", "-weird-image"], "-weird-image", ()),
        (["busybox", "--memory", "1", "--json"], "busybox", ("--memory", "1", "--json")),  # the command's
        (["busybox", "ls", "--", "-l"], "busybox", ("ls", "--", "-l")),
        (["-m", "64m", "./image.tar", "sh", "-c", "echo hi"], "./image.tar", ("sh", "-c", "echo hi")),
        (["-", "x"], "-", ("x",)),  # a lone dash is a word, not an option (docker's flag parser agrees)
        (["busybox", "--help"], "busybox", ("--help",)),  # after IMAGE even --help is the command's
    ],
)
def test_positional_rules(words: list[str], image: str, command: tuple[str, ...]) -> None:
    spec = parse(*words)
    assert (spec.image, spec.command, spec.rootfs) == (image, command, None)


def test_rootfs_instead_of_image(tmp_path: Path) -> None:
    spec = parse("--rootfs", str(tmp_path), "sh", "-c", "true")
    assert (spec.image, spec.rootfs, spec.command) == (None, str(tmp_path), ("sh", "-c", "true"))
    assert parse(f"--rootfs={tmp_path}", "--", "ls", "-l").command == ("ls", "-l")
    relative = os.path.relpath(tmp_path)
    assert parse("--rootfs", relative, "sh").rootfs == str(tmp_path)  # made absolute
    assert parse("--rootfs", str(tmp_path)).command == ()  # the image config (none for a directory) decides


def test_defaults_are_specs_defaults() -> None:
    assert parse("busybox") == RunSpec(image="busybox")
    assert parse("busybox").stop_timeout == DEFAULT_STOP_TIMEOUT


# -- every option ----------------------------------------------------------------------------------------------

DEVICE = a_block_device()

OPTION_CASES: list[tuple[list[str], str, Any]] = [
    (["--name", "web-1"], "name", "web-1"),
    (["--name=db_2.x"], "name", "db_2.x"),
    (["--hostname", "box"], "hostname", "box"),
    (["-h", "box.example"], "hostname", "box.example"),
    (["-hbox"], "hostname", "box"),
    (["--memory", "64m"], "memory", 64 << 20),
    (["-m", "1.5g"], "memory", 3 << 29),
    (["-m64m"], "memory", 64 << 20),
    (["-m=64m"], "memory", 64 << 20),
    (["--memory=100g"], "memory", 100 << 30),  # no MemAvailable bound: a container need not fill its limit
    (["-m", "64m", "--memory-swap", "128m"], "memory_swap", 128 << 20),
    (["-m", "64m", "--memory-swap", "-1"], "memory_swap", -1),
    (["-m", "64m", "--memory-swap=64m"], "memory_swap", 64 << 20),
    (["--cpus", "0.5"], "cpus", 0.5),
    (["--cpu-shares", "512"], "cpu_shares", 512),
    (["-c", "2"], "cpu_shares", 2),
    (["-c", "0"], "cpu_shares", None),  # docker's "default"
    (["--pids-limit", "20"], "pids_limit", 20),
    (["--pids-limit", "-1"], "pids_limit", None),
    (["--pids-limit=0"], "pids_limit", None),
    (["--device-write-bps", "8:0:1mb"], "device_write_bps", (("8:0", 1 << 20),)),
    (
        ["--device-write-bps", "8:0:1mb", "--device-write-bps=8:16:4k"],
        "device_write_bps",
        (("8:0", 1 << 20), ("8:16", 4096)),
    ),
    (["--network", "bridge"], "network", "bridge"),
    (["--net=host"], "network", "host"),
    (["--network", "none"], "network", "none"),
    (["--pid", "host"], "pid_host", True),
    (["--pid=host"], "pid_host", True),
    (["-p", "8080:80"], "publish", (Publish(8080, 80),)),
    (["--publish", "8080:80/tcp", "-p9090:90"], "publish", (Publish(8080, 80), Publish(9090, 90))),
    (["-p", "1:65535"], "publish", (Publish(1, 65535),)),
    (["-p", "8080:80"], "network", "bridge"),  # -p alone: docker's default network is a bridge
    (["-p", "8080:80", "--network", "bridge"], "network", "bridge"),
    (["-v", "/tmp:/data"], "volumes", (Volume("/tmp", "/data", False),)),
    (["-v", "/tmp:/data:ro"], "volumes", (Volume("/tmp", "/data", True),)),
    (["-v", "/tmp:/data:ro,rslave"], "volumes", (Volume("/tmp", "/data", True, "rslave"),)),
    (["-v", "/tmp:/data:rshared"], "volumes", (Volume("/tmp", "/data", False, "rshared"),)),
    (
        ["--volume=/tmp/:/data/:rw", "-v", "/:/host:ro"],
        "volumes",
        (Volume("/tmp", "/data"), Volume("/", "/host", True)),
    ),
    (["--userns"], "userns", True),
    (["--userns", "host"], "userns", False),
    (["--userns=host"], "userns", False),
    (["--userns=private"], "userns", True),
    (["--cap-add", "NET_ADMIN", "--cap-add", "cap_sys_time"], "cap_add", ("NET_ADMIN", "SYS_TIME")),
    (["--cap-add=all"], "cap_add", ("ALL",)),
    (["--cap-drop", "ALL", "--cap-drop", "Chown"], "cap_drop", ("ALL", "CHOWN")),
    (["--privileged"], "privileged", True),
    (["--privileged=false"], "privileged", False),
    (["--security-opt", "no-new-privileges"], "no_new_privileges", True),
    (["--security-opt", "no-new-privileges:true"], "no_new_privileges", True),
    (["--security-opt", "no-new-privileges=false"], "no_new_privileges", False),
    (["--security-opt", "seccomp=unconfined"], "seccomp", False),
    (["--security-opt", "seccomp:unconfined"], "seccomp", False),
    (["--init"], "init", True),
    (["-e", "A=1", "--env", "B=two words", "-eC=", "--env=D=x=y"], "env", ("A=1", "B=two words", "C=", "D=x=y")),
    (["-e", "FROM_HERE"], "env", ("FROM_HERE=here value",)),
    (["-e", "NOT_SET_HERE"], "env", ()),  # docker leaves out a name that is not set
    (["-e=A=1"], "env", ("A=1",)),
    (["-w", "/srv/app"], "workdir", "/srv/app"),
    (["--workdir=/srv/app/"], "workdir", "/srv/app"),
    (["-u", "1000"], "user", (1000, None)),
    (["--user", "1000:100"], "user", (1000, 100)),
    (["-u", "0:0"], "user", (0, 0)),
    (["--stop-timeout", "3"], "stop_timeout", 3.0),
    (["--stop-timeout=0"], "stop_timeout", 0.0),
    (["-i"], "interactive", True),
    (["--interactive"], "interactive", True),
    (["-t"], "tty", True),
    (["--tty=true"], "tty", True),
    (["-it"], "tty", True),
    (["-ti"], "interactive", True),
    (["-i=false"], "interactive", False),
    (["--rm"], "image", "busybox"),  # accepted, no effect
    (["--rm=false"], "image", "busybox"),
    (["-d=false"], "image", "busybox"),  # only detaching is refused
    (["--detach=0"], "image", "busybox"),
    (["--verbose"], "verbose", True),
    (["--json"], "json", True),
    (["--json=false"], "json", False),
    (["--plain"], "extra", {"plain": "true"}),
    (["--color"], "extra", {"color": "true"}),
    (["--lang", "ko"], "extra", {"lang": "ko"}),
    (["--lang=en", "--plain"], "extra", {"lang": "en", "plain": "true"}),
    (["--help=false"], "image", "busybox"),
    (["-itu", "1000"], "user", (1000, None)),  # flags combined with one that takes the next word
    (["-ie", "A=1"], "env", ("A=1",)),
    (["-m", "64m", "-m", "128m"], "memory", 128 << 20),  # the last one wins, as docker
]
if DEVICE is not None:
    OPTION_CASES.append((["--device-write-bps", f"{DEVICE}:1mb"], "device_write_bps", ((DEVICE, 1 << 20),)))


@pytest.mark.parametrize(
    ("words", "field", "expected"), OPTION_CASES, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_every_option(words: list[str], field: str, expected: Any) -> None:
    spec = parse(*words, "busybox", "sh")
    assert getattr(spec, field) == expected
    assert spec.command == ("sh",)


def test_the_cases_cover_every_option() -> None:
    given = {word.partition("=")[0] for words, _field, _expected in OPTION_CASES for word in words}
    for option in argv.OPTIONS:
        if option.key in ("help", "rootfs", "env_file"):  # their own tests below
            continue
        names = {f"--{name}" for name in option.long} | ({f"-{option.short}"} if option.short else set())
        assert names & given, f"no case gives {option.label}"


def test_environment_order_env_file_first(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("A=from file\nB=b\n")
    spec = parse("-e", "A=from -e", "--env-file", str(env_file), "busybox")
    assert spec.env == ("A=from file", "B=b", "A=from -e")  # -e comes later, so it wins, as in docker


def test_parse_reads_isodemo_environment_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISODEMO_ARGV_TEST", "1")
    assert argv.parse(["-e", "ISODEMO_ARGV_TEST", "busybox"]).env == ("ISODEMO_ARGV_TEST=1",)


# -- docker's env-file format --------------------------------------------------------------------------------


def test_env_file_format(tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_bytes(
        b"\xef\xbb\xbfFIRST=1\n"  # a byte order mark is dropped
        b"# a comment\n"
        b"\n"
        b"   INDENTED=kept as is  \n"  # leading whitespace dropped, the value taken as written
        b'QUOTED="not unquoted"\n'
        b"EMPTY=\n"
        b"EQUALS=a=b\r\n"  # a CRLF line
        b"FROM_HERE\n"  # a name alone: its value from isodemo's environment
        b"NOT_SET_HERE\n"  # ... left out when it has none
        b"\t# an indented comment\n"
        b"LAST=no newline"
    )
    assert parse("--env-file", str(env_file), "busybox").env == (
        "FIRST=1",
        "INDENTED=kept as is  ",
        'QUOTED="not unquoted"',
        "EMPTY=",
        "EQUALS=a=b",
        "FROM_HERE=here value",
        "LAST=no newline",
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"export A=1\n", "whitespace"),
        (b"A B=1\n", "whitespace"),
        (b"FROM_HERE \n", "whitespace"),
        (b"=1\n", "no variable name"),
        (b"OK=1\nA=\xff\n", "line 2 is not UTF-8"),
        (b"A=a\x00b\n", "NUL"),
        (b"A=" + b"x" * (1 << 20), "larger than 1 MiB"),
    ],
)
def test_bad_env_files(tmp_path: Path, content: bytes, words: str) -> None:
    env_file = tmp_path / "env"
    env_file.write_bytes(content)
    error = refused("--env-file", str(env_file), "busybox")
    assert words in error.message and "--env-file" in error.message


def test_unreadable_env_files(tmp_path: Path) -> None:
    assert "--env-file" in refused("--env-file", str(tmp_path / "missing"), "busybox").message
    assert "--env-file" in refused("--env-file", str(tmp_path), "busybox").message  # a directory


# -- every bad value: exit 125 and the option named ------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "named"),
    [
        (["--name", "x"], "--name"),  # docker wants two characters at least
        (["--name", "-x"], "--name"),
        (["--name", "a b"], "--name"),
        (["--name", "na\u00efve"], "--name"),
        (["--name", "x" * 129], "--name"),
        (["--hostname", "-bad-"], "--hostname"),
        (["-h", "x" * 65], "--hostname"),
        (["--memory", "12XB"], "--memory"),
        (["-m", "1m"], "--memory"),  # below docker's 6m
        (["-m", "9" * 25 + "g"], "--memory"),  # more than a cgroup holds
        (["-m", "\u0661\u0662m"], "--memory"),
        (["--memory-swap", "x", "-m", "64m"], "--memory-swap"),
        (["--memory-swap", "-2", "-m", "64m"], "--memory-swap"),
        (["--cpus", "0"], "--cpus"),
        (["--cpus", "1e3"], "--cpus"),
        (["--cpus", "9999"], "--cpus"),
        (["--cpu-shares", "1"], "--cpu-shares"),
        (["-c", "262145"], "--cpu-shares"),
        (["-c", "-5"], "--cpu-shares"),
        (["--pids-limit", "-2"], "--pids-limit"),
        (["--pids-limit", "1_000"], "--pids-limit"),
        (["--pids-limit", str((1 << 22) + 1)], "--pids-limit"),
        (["--device-write-bps", "1mb"], "--device-write-bps"),
        (["--device-write-bps", "/dev/null:1mb"], "--device-write-bps"),  # a character device
        (["--device-write-bps", "/no/such:1mb"], "--device-write-bps"),
        (["--device-write-bps", "8:0:1"], "--device-write-bps"),  # below 4k
        (["--device-write-bps", "8:0:lots"], "--device-write-bps"),
        (["--device-write-bps", "sda:1mb"], "--device-write-bps"),
        (["--device-write-bps", "8:x:1mb"], "--device-write-bps"),
        (["--network", "container:web"], "--network"),
        (["--net", "default"], "--network"),
        (["--pid", "container:web"], "--pid"),
        (["-p", "80"], "--publish"),
        (["-p", "127.0.0.1:8080:80"], "--publish"),
        (["-p", "8080:80/udp"], "--publish"),
        (["-p", "0:80"], "--publish"),
        (["-p", "8080:65536"], "--publish"),
        (["-p", "8000-8010:80"], "--publish"),
        (["-v", "data:/data"], "--volume"),  # a named volume
        (["-v", "/data"], "--volume"),  # an anonymous one
        (["-v", "/tmp:data"], "--volume"),
        (["-v", "/tmp:/data:z"], "--volume"),
        (["-v", "/tmp:/data:ro:x"], "--volume"),
        (["-v", "/no/such/dir:/data"], "--volume"),
        (["-v", "/tmp:/"], "--volume"),
        (["--userns", "--userns=keep-id"], "--userns"),
        (["--cap-add", ""], "--cap-add"),
        (["--cap-drop", "CAP_"], "--cap-drop"),
        (["--security-opt", "apparmor=unconfined"], "--security-opt"),
        (["--security-opt", "seccomp=/etc/profile.json"], "--security-opt"),
        (["--security-opt", "no-new-privileges:maybe"], "--security-opt"),
        (["--security-opt", "label"], "--security-opt"),
        (["-e", "=x"], "--env"),
        (["-e", ""], "--env"),
        (["-w", "relative/dir"], "--workdir"),
        (["-u", "root"], "--user"),
        (["-u", "1000:staff"], "--user"),
        (["-u", "1000:"], "--user"),
        (["-u", "-1"], "--user"),
        (["-u", str(1 << 32)], "--user"),
        (["--stop-timeout", "-1"], "--stop-timeout"),
        (["--stop-timeout", "1.5"], "--stop-timeout"),
        (["--stop-timeout", "86401"], "--stop-timeout"),
        (["--rootfs", "/no/such/dir"], "--rootfs"),
        (["--rootfs", "/etc/hostname"], "--rootfs"),
        (["--privileged=maybe"], "--privileged"),
        (["-i=yes"], "--interactive"),
        (["--lang", "fr"], "--lang"),
        (["--name", "a\x00b"], "--name"),
    ],
    ids=lambda v: " ".join(v)[:40] if isinstance(v, list) else v,
)
def test_bad_values_are_refused_naming_the_option(words: list[str], named: str) -> None:
    error = refused(*words, "busybox")
    assert named in error.message, error.message
    assert "Traceback" not in error.message


@pytest.mark.parametrize(
    ("words", "says"),
    [
        ([], "isodemo run requires at least 1 argument"),
        (["--json"], "isodemo run requires at least 1 argument"),
        (["-m", "64m", "--"], "isodemo run requires at least 1 argument"),
        ([""], "invalid image name"),
        (["--bogus", "busybox"], "unknown flag: --bogus"),
        (["--bogus=1", "busybox"], "unknown flag: --bogus"),
        (["--memor", "64m", "busybox"], "unknown flag: --memor"),  # no abbreviations
        (["-x", "busybox"], "unknown shorthand flag: 'x'"),
        (["-itx", "busybox"], "unknown shorthand flag: 'x'"),
        (["-P", "busybox"], "unknown shorthand flag: 'P'"),
        (["--name"], "flag needs an argument: --name"),
        (["-m"], "flag needs an argument: 'm'"),
        (["-h"], "flag needs an argument: 'h'"),
        (["-d", "busybox"], "detached"),
        (["-itd", "busybox"], "detached"),
        (["--detach", "busybox"], "detached"),
        (["--step", "busybox"], "--step is not an option of isodemo run"),
        (["--hold", "busybox"], "--hold is not an option of isodemo run"),
        (["--version", "busybox"], "unknown flag: --version"),
        (["--memory-swap", "1g", "busybox"], "--memory-swap needs --memory"),
        (["-m", "64m", "--memory-swap", "32m", "busybox"], "--memory-swap is below --memory"),
        (["-p", "8080:80", "--network", "none", "busybox"], "needs --network bridge"),
        (["--net", "host", "-p", "8080:80", "busybox"], "needs --network bridge"),
        (["-p", "8080:80", "-p", "8080:81", "busybox"], "host port 8080 is published twice"),
        (["-v", "/tmp:/data", "-v", "/:/data/", "busybox"], "two volumes are mounted at /data"),
        (["--plain", "--color", "busybox"], "--plain and --color contradict each other"),
        (["busybox", "a\x00b"], "NUL"),
    ],
)
def test_bad_lines(words: list[str], says: str) -> None:
    assert says in refused(*words).message


def test_minus_h_is_the_hostname_and_says_so() -> None:
    error = refused("-h")
    assert "--hostname" in (error.hint or "") and "--help" in (error.hint or "")


def test_a_missing_image_shows_the_usage() -> None:
    assert argv.USAGE in (refused().hint or "")


# -- help, peek --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "words",
    [
        ["--help"],
        ["--json", "--help"],
        ["-m", "64m", "--help", "busybox"],
        ["--memory", "bad", "--help"],
        ["--help=true"],
    ],
)
def test_help_among_the_options(words: list[str]) -> None:
    assert argv.wants_help(words)
    with pytest.raises(argv.HelpRequested):
        argv.parse(words)


@pytest.mark.parametrize(
    "words", [["busybox", "--help"], ["--", "--help"], ["--bogus", "--help"], ["--help=false", "x"]]
)
def test_help_that_is_not_ours(words: list[str]) -> None:
    assert not argv.wants_help(words)


def test_help_text_lists_every_option_and_the_exit_codes() -> None:
    text = argv.help_text()
    assert text.startswith(f"Usage: {argv.USAGE}\n")
    for option in argv.OPTIONS:
        assert f"\n  {option.synopsis}  " in text, option.label
    for code in ("125", "126", "127", "137", "77"):
        assert f"\n  {code} " in text
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "--step" not in text and "--hold" not in text


def test_peek_reads_the_global_options_before_image_only() -> None:
    assert argv.peek(["--json", "--lang", "ko", "busybox", "--plain"]) == {"json": "true", "lang": "ko"}
    assert argv.peek(["--lang=ko", "--json=false", "x"]) == {"lang": "ko"}
    assert argv.peek(["--plain", "--bogus", "--json"]) == {"plain": "true"}  # up to what it cannot read
    assert argv.peek(["-m", "--json"]) == {}  # --json is -m's value here (a bad one, for parse to say)
    assert argv.peek(["busybox", "--json"]) == {}


# -- the fuzz --------------------------------------------------------------------------------------------------

WORDS = sorted(
    {f"--{name}" for option in argv.OPTIONS for name in option.long}
    | {f"-{option.short}" for option in argv.OPTIONS if option.short}
    | {"--step", "--hold", "--", "-", "-it", "-itd", "--bogus", "-x", "busybox", "sh", "host", "bridge", "none"}
)
VALUES = [
    "",
    "0",
    "-1",
    "64m",
    "1.5g",
    "9" * 400,
    "\u0661\u0662",
    "\udcff",
    "a\x00b",
    "8080:80",
    "8:0:1mb",
    "/tmp:/data:ro",
    "/tmp",
    ".",
    "/",
    "K=V",
    "K",
    "no-new-privileges:false",
    "seccomp=unconfined",
    "1000:1000",
    "web-1",
    "true",
    "=",
    "ALL",
]


def words() -> st.SearchStrategy[list[str]]:
    word = st.one_of(
        st.sampled_from(WORDS),
        st.sampled_from(VALUES),
        st.builds(lambda flag, value: f"{flag}={value}", st.sampled_from(WORDS), st.sampled_from(VALUES)),
        st.builds(
            lambda flag, value: flag + value, st.sampled_from(["-m", "-e", "-p", "-it", "-u"]), st.sampled_from(VALUES)
        ),
        st.text(max_size=12),
        st.binary(max_size=8).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    )
    return st.lists(word, max_size=10)


@settings(max_examples=1500)
@given(words())
def test_parse_raises_nothing_but_run_error(line: list[str]) -> None:
    try:
        spec = argv.parse(line, environ=ENVIRON)
    except argv.HelpRequested:
        assert argv.wants_help(line)
        return
    except RunError as error:
        assert error.exit_code == 125 and error.message and error.hint
        return
    assert isinstance(spec, RunSpec)
    assert (spec.image is None) != (spec.rootfs is None)
    assert all("\0" not in word for word in spec.command)


# -- the parsers it shares with the demos (isodemo.values) --------------------------------------------------------


def test_container_memory_has_no_memavailable_bound() -> None:
    assert values.container_memory("6m") == 6 << 20
    assert values.container_memory("8192g") == 8192 << 30
    for bad in ("5m", "9" * 25 + "g", "x"):
        with pytest.raises(UsageError):
            values.container_memory(bad)


def test_image_ref() -> None:
    for good in ("busybox", "app:1.0", "sha256:" + "a" * 64, "registry.example/app@sha256:00"):
        assert values.image_ref(good) == good
    for bad in ("", " busybox", "a b", "-rf", "\u0661", "x" * 256, "a\nb", "\udcff"):
        with pytest.raises(UsageError):
            values.image_ref(bad)


# -- start-up cost, and the click side -------------------------------------------------------------------------


def test_importing_argv_loads_neither_click_nor_rich() -> None:
    probe = (
        "import sys\nimport isodemo.container.argv\n"
        "print(sorted(m for m in ('click', 'rich', 'argparse', 'pyroute2', 'isodemo.values', 'isodemo.errors') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_plain_line_parses_without_values_or_errors() -> None:
    """`isodemo run busybox /bin/true` pays for neither isodemo.values (and its `re`) nor the errors."""
    probe = (
        "import sys\nfrom isodemo.container import argv\nargv.parse(['--rm', '-it', 'busybox', '/bin/true'])\n"
        "print(sorted(m for m in ('isodemo.values', 'isodemo.errors', 'click', 'rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_click_command_shows_the_same_help(capsys: pytest.CaptureFixture[str]) -> None:
    from isodemo import cli

    group = cli.make_group()
    code = group.main(args=["--plain", "run", "--help"], prog_name="isodemo", standalone_mode=False)
    assert code == 0
    assert capsys.readouterr().out == argv.help_text()
