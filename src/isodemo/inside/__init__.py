"""Functions that run on the child's side: every plain module-level function a demo sends into an Isolated
child with `box.call(fn, ...)` lives here (or is a `kernel/` wrapper called directly).

The rule for this package:
- one module per kind of thing looked at or done from inside: processes, filesystem, identity, ipc,
  workloads, net;
- each function is plain and module-level (it is pickled by name), returns plain data (ints, strings, lists,
  dicts) and may also be called on the host for the same view, so a demo can put both side by side;
- a function that only renames a syscall or a kernel file does not belong here: call the `kernel/` function
  itself (`box.call(namespaces.ns_inode, "self", "uts")`, `box.call(os.getpid)`);
- these modules import only `isodemo.kernel` and `isodemo.errors` (tests/unit/test_layers.py checks it):
  host-side resources (rootfs.RootfsDir, net/, cgroups/) stay outside.
"""
