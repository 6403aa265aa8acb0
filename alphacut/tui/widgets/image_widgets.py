"""The image widget for each graphics mode, built for the measured terminal."""

from __future__ import annotations

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.widget import Widget
from textual_image.widget import HalfcellImage, SixelImage, SixelOptions, TGPImage, UnicodeImage
from textual_image.widget._base import Image as BaseImage
from textual_image.widget.sixel import _ImageSixelImpl, _NoopRenderable

from alphacut.tui import graphics
from alphacut.tui.sixel_palette import palette_first


class _PaletteFirstSixels(_ImageSixelImpl):
    """textual-image's sixel drawing, with the palette defined before the pixels."""

    def _image_to_sixels(self, image, sixel_options=None, background=None) -> str:  # type: ignore[no-untyped-def]
        return palette_first(super()._image_to_sixels(image, sixel_options, background))


class PreviewSixelImage(SixelImage, Renderable=_NoopRenderable):
    """A sixel image quantised to the terminal's colour registers, palette first.

    textual-image recomposes the widget for every new picture. When pictures come faster
    than recomposition (scrolling through files), an old child can stay in front of the
    new one: the pane then shows a blank or a stale picture. Here the one child is kept
    and handed each new picture instead.
    """

    def compose(self) -> ComposeResult:
        yield _PaletteFirstSixels(self.image, self._sixel_options)

    @BaseImage.image.setter  # type: ignore[attr-defined,untyped-decorator]
    def image(self, value: PILImage.Image | None) -> None:
        BaseImage.image.fset(self, value)  # type: ignore[attr-defined]
        for child in self.children:
            if isinstance(child, _PaletteFirstSixels):
                child.image = self.image
                child.refresh()


def image_widget(
    mode: str, image: PILImage.Image | None = None, *, id: str | None = None
) -> Widget:
    """A widget that draws ``image`` the way ``mode`` (possibly ``auto``) means here."""
    concrete = graphics.resolve_mode(mode)
    if concrete == "sixel":
        options = SixelOptions(colors=graphics.TERMINAL.sixel_colors)
        return PreviewSixelImage(image, id=id, sixel_options=options)
    widget_class = {"kitty": TGPImage, "halfcell": HalfcellImage}.get(concrete, UnicodeImage)
    return widget_class(image, id=id)
