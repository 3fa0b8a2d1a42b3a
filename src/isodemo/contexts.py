"""contextlib's `suppress` and `ExitStack`, the two a container's start uses, without importing contextlib.

contextlib imports collections and functools (and they operator, keyword, reprlib): ~1.5 ms of every
`isodemo run`, before anything else happens; with the channel's pickler gone too (channel.py), nothing else on
that path needs them. These behave as contextlib's do for what isodemo asks of them: `suppress(*exceptions)`
swallows those exceptions; an `ExitStack` runs what was pushed onto it in reverse order, each exit seeing the
exception the one before it left (or none), and raises what is left at the end. mypy checks the callers
against contextlib's own (the same names, the same signatures); other modules use contextlib itself.
"""

from __future__ import annotations

__all__ = ["ExitStack", "suppress"]

TYPE_CHECKING = False  # `typing` costs ~2 ms at start-up; mypy treats this name as always true
if TYPE_CHECKING:
    from contextlib import ExitStack, suppress
else:

    class suppress:
        """with suppress(FileNotFoundError): os.unlink(path)  - an exception of these types ends the block."""

        def __init__(self, *exceptions):
            self.exceptions = exceptions

        def __enter__(self):
            return None

        def __exit__(self, exc_type, exc, tb):
            return exc_type is not None and issubclass(exc_type, self.exceptions)

    class ExitStack:
        """Exits registered one by one (push, enter_context, callback), run last-in first-out when the block
        ends or close() is called. An exit that returns true swallows the exception it was given; one that
        raises replaces it (the one it replaced becomes its __context__)."""

        def __init__(self):
            self._exits = []

        def push(self, exit):
            """A context manager's __exit__ (or any callable taking the same three arguments), run at the end."""
            method = getattr(type(exit), "__exit__", None)
            self._exits.append(exit if method is None else method.__get__(exit))
            return exit

        def enter_context(self, manager):
            result = type(manager).__enter__(manager)
            self.push(manager)
            return result

        def callback(self, function, /, *args, **kwargs):
            def run(exc_type, exc, tb):
                function(*args, **kwargs)

            self._exits.append(run)
            return function

        def close(self):
            self.__exit__(None, None, None)

        def __enter__(self):
            return self

        def __exit__(self, exc_type, exc, tb):
            pending = exc
            while self._exits:
                exit = self._exits.pop()
                try:
                    if pending is None:
                        exit(None, None, None)
                    elif exit(type(pending), pending, pending.__traceback__):
                        pending = None  # swallowed: the exits after this one see none
                except BaseException as error:
                    if pending is not None and error is not pending and error.__context__ is None:
                        error.__context__ = pending
                    pending = error
            if pending is None:
                return exc is not None  # the block's exception was swallowed
            if pending is exc:
                return False  # the block's own exception goes on
            raise pending
