"""Thin typed wrappers over syscalls and kernel files. Nothing here prints or imports click or rich."""
