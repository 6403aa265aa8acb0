"""Whether a model file fits a family's recipe: checked once, when the model is added."""

from __future__ import annotations

from pathlib import Path

from alphacut.errors import ModelError
from alphacut.models.catalogue import ModelSpec


def _fixed(dim: object) -> int | None:
    return dim if isinstance(dim, int) and dim > 0 else None


def require_model_file(file: Path) -> None:
    """Raise :class:`ModelError` saying what ``file`` is when it is not a regular file."""
    if file.is_dir():
        raise ModelError(f"{file}: is a directory; give the .onnx file inside it")
    if not file.is_file():
        raise ModelError(f"{file}: no such file" if not file.exists()
                         else f"{file}: not a regular file")


def check_family_fit(
    path: Path, template: ModelSpec, input_size: tuple[int, int] | None
) -> tuple[int, int]:
    """Load ``path`` and check it takes what the recipe of ``template``'s family feeds it.

    Every family feeds one float tensor ``(1, 3, H, W)`` and reads a mask from output
    ``output_index``. Returns the input size to record: ``input_size`` if given, else the
    model's own fixed size, else the family's (``template.input_size``).
    Raises :class:`ModelError` naming the file and the mismatch.
    """
    from alphacut.accel.model_check import read_signature
    from alphacut.models.recipes import recipe_for

    signature = read_signature(path)
    recipe = recipe_for(template)
    family = template.family
    if len(signature.inputs) != 1:
        raise ModelError(
            f"{path}: takes {len(signature.inputs)} inputs; a {family} model takes one image"
        )
    first = signature.inputs[0]
    if first.type != "tensor(float)" or len(first.shape) != 4:
        raise ModelError(
            f"{path}: input {first.name!r} is {first.type} of shape {list(first.shape)}; "
            f"a {family} model takes a float tensor (1, 3, H, W)"
        )
    batch, channels, height, width = (_fixed(d) for d in first.shape)
    if batch not in (None, 1) or channels not in (None, 3):
        raise ModelError(
            f"{path}: input {first.name!r} has shape {list(first.shape)}; "
            f"a {family} model takes (1, 3, H, W)"
        )
    model_size = (height, width) if height and width else None
    size = input_size or model_size or template.input_size
    if (height and height != size[0]) or (width and width != size[1]):
        raise ModelError(
            f"{path}: the model takes {height}x{width} images (HxW), not {size[0]}x{size[1]}; "
            f"add it with --input-size {height}x{width}"
        )
    if len(signature.outputs) <= recipe.output_index:
        raise ModelError(
            f"{path}: has {len(signature.outputs)} outputs; a {family} model's mask is "
            f"output {recipe.output_index}"
        )
    return size
