"""`isodemo images` and `isodemo rmi IMAGE`: the image store of `isodemo run`, listed and pruned.

`run` lists the store (like `docker images`): each image's name, short id, number of layers, size and where
it came from. `rmi` removes one image by name or id, and with it the layers no other image uses (the
content-addressed layer directories, as `docker rmi` removes unused layers).
Options: `store` (a store root; default $ISODEMO_STORE, /var/lib/isodemo or ~/.local/share/isodemo),
`image` (rmi: the name or id to remove).
"""

from __future__ import annotations

from isodemo import images
from isodemo.context import DemoContext
from isodemo.i18n import _, ngettext
from isodemo.narrate.base import Narrator
from isodemo.values import format_bytes


def _store(ctx: DemoContext) -> images.Store:
    return images.Store(ctx.options.get("store") or None)


def run(narrator: Narrator, ctx: DemoContext) -> None:
    """`isodemo images`."""
    store = _store(ctx)
    found = store.list()
    narrator.table(
        _("images in {root}", root=store.root),
        [_("name"), _("id"), _("layers"), _("size"), _("created by")],
        [
            [image.name, image.short_id, str(len(image.layers)), format_bytes(image.size_bytes), image.created_by]
            for image in found
        ],
    )
    narrator.fact("store", store.root, show=False)
    narrator.fact(
        "images",
        [
            {
                "name": image.name,
                "id": image.id,
                "layers": list(image.layers),
                "size_bytes": image.size_bytes,
                "created_by": image.created_by,
            }
            for image in found
        ],
        show=False,
    )
    if not found:
        narrator.note(
            _(
                "No images yet: `isodemo run busybox` builds one from busybox-static, and `isodemo run ./image.tar` "
                "imports a `docker save` or OCI image tarball."
            )
        )


def rmi(narrator: Narrator, ctx: DemoContext) -> None:
    """`isodemo rmi IMAGE`."""
    store = _store(ctx)
    ref = str(ctx.options["image"])
    narrator.step(_("Remove the image {ref} and the layers no other image uses", ref=ref), shell=[f"docker rmi {ref}"])
    image, removed = store.remove_with_layers(ref)
    narrator.status(image.name, True, _("removed ({id})", id=image.short_id))
    for layer in removed:
        narrator.status(layer, True, _("layer removed"))
    kept = len(image.layers) - len(removed)
    if kept > 0:
        narrator.note(
            ngettext("{n} layer stays: another image uses it", "{n} layers stay: other images use them", kept)
        )
    narrator.fact("removed_image", image.id, show=False)
    narrator.fact("removed_layers", removed, show=False)
