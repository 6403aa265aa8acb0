"""The main screen's actions: one table gives both its key bindings and its palette entries."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Action:
    """One main-screen action: its keys and footer label, its palette title and help."""

    name: str  # ``action_<name>`` on the screen
    keys: str
    label: str  # footer text
    title: str  # command-palette title
    help: str
    show: bool = True  # in the footer


# Footer order. ``b`` is last: the first key cut from a narrow footer.
ACTIONS: tuple[Action, ...] = (
    Action("toggle_mark", "space", "Mark", "Mark / unmark file",
           "Toggle the mark on the highlighted file"),
    Action("mark_all", "a", "All", "Mark all in folder", "Mark every listed image in this folder"),
    Action("mark_recursive", "A", "All (rec.)", "Mark all recursively",
           "Mark every image under this folder", show=False),
    Action("clear_marks", "u", "Clear", "Clear marks", "Unmark everything", show=False),
    Action("invert_marks", "i", "Invert", "Invert marks", "Invert the marks of the listed images",
           show=False),
    Action("filter", "slash", "Filter", "Filter", "Filter images by glob or substring"),
    Action("toggle_hidden", "full_stop", "Hidden", "Show / hide hidden files",
           "Toggle dot-files in the browser", show=False),
    Action("run", "r", "Run", "Run",
           "Remove backgrounds of the marked files (or the highlighted one)"),
    Action("cancel", "escape,c", "Cancel", "Cancel run", "Stop after the current image"),
    Action("next_review", "n", "Next review", "Next file to review",
           "Jump to the next cutout flagged for review", show=False),
    Action("review_filter", "exclamation_mark", "Review only", "Show only files to review",
           "List only flagged cutouts (again: all)", show=False),
    Action("rerun", "e", "Re-run", "Re-run with…",
           "Re-run highlighted or marked files with another model/refine", show=False),
    Action("compare", "v", "Compare", "Compare with re-run",
           "Preview the first cutout or the re-run candidate", show=False),
    Action("keep_candidate", "K", "Keep", "Keep re-run",
           "Replace the written cutout with the re-run candidate", show=False),
    Action("discard_candidate", "X", "Discard", "Discard re-run",
           "Delete the candidate; the first cutout stays", show=False),
    Action("cycle_view", "m", "View", "Cycle preview", "side by side / mask / cutout / original"),
    Action("cycle_graphics", "g", "Graphics", "Cycle image rendering",
           "auto / kitty / sixel / halfcell / unicode", show=False),
    Action("adapters", "p", "Adapter", "Adapter picker",
           "Choose the execution provider; R reprobes"),
    Action("output_settings", "o", "Output", "Output settings",
           "Folder, format, background, crop, overwrite"),
    Action("help", "question_mark", "Help", "Help", "Show every key"),
    Action("request_quit", "q", "Quit", "Quit", "Leave alphacut (asks while a run is active)"),
    Action("bench", "b", "Bench", "Benchmark", "Open the benchmark screen"),
)


def bindings(actions: tuple[Action, ...] = ACTIONS) -> list[Binding]:
    """Textual key bindings, in table order."""
    return [Binding(a.keys, a.name, a.label, show=a.show) for a in actions]


def palette(actions: tuple[Action, ...] = ACTIONS) -> tuple[tuple[str, str, str], ...]:
    """``(action, title, help)`` for the command palette, in table order."""
    return tuple((a.name, a.title, a.help) for a in actions)
