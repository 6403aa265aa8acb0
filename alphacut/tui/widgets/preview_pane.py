"""The preview pane: one image widget (of the chosen graphics kind), a title and a caption."""

from __future__ import annotations

from PIL import Image as PILImage
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.widgets import Static

from alphacut.tui.graphics import cell_size, is_pixel_mode
from alphacut.tui.widgets.image_widgets import image_widget


class PreviewPane(Vertical):
    """Shows one PIL image sized to fit, or a message instead of an image."""

    def __init__(self, graphics: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.graphics = graphics
        self._image: PILImage.Image | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="preview-title")
        with Center(id="preview-frame"):
            yield image_widget(self.graphics, id="preview-image")
        yield Static("", id="preview-info")

    async def set_graphics(self, graphics: str) -> None:
        """Swap the image widget for one of another kind; the picture is kept."""
        self.graphics = graphics
        frame = self.query_one("#preview-frame")
        await self.query_one("#preview-image").remove()
        await frame.mount(image_widget(graphics, self._image, id="preview-image"))

    def box_pixels(self) -> tuple[int, int]:
        """The pixel size an image should be shrunk to before it is handed to the widget.

        Half-cells show two pixels per cell and unicode shading about as many; only Sixel
        and Kitty draw the terminal's real pixels.
        """
        frame = self.query_one("#preview-frame")
        cols, rows = max(1, frame.content_size.width), max(1, frame.content_size.height)
        if is_pixel_mode(self.graphics):
            width, height = cell_size()
            return cols * width, rows * height
        return cols, rows * 2

    def show(self, image: PILImage.Image | None, title: str, info: str = "") -> None:
        """Display ``image`` (already shrunk to :meth:`box_pixels`), or nothing."""
        self._image = image
        self.query_one("#preview-title", Static).update(title)
        self.query_one("#preview-info", Static).update(info)
        self.query_one("#preview-image").image = image  # type: ignore[attr-defined]
