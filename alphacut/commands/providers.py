"""``alphacut providers``: which execution providers work here, how fast, what ``auto`` picks."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from alphacut.models.catalogue import DEFAULT_MODEL


def register(sub: Any) -> None:
    """Add the ``providers`` sub-command."""
    p = sub.add_parser(
        "providers",
        help="list and probe execution providers (CPU, OpenVINO, DirectML, CUDA, …)",
        description=(
            "Probe every execution provider ONNX Runtime offers on this machine with the real "
            "model: session start, first and steady run times, agreement with the CPU result "
            "(on the demo photos when cached, else a synthetic scene). Results are cached per "
            "ONNX Runtime version, provider, device and model; --reprobe measures again. The "
            "CPU's instruction sets and what int8 and bf16 buy on it are shown too."
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("--reprobe", action="store_true", help="ignore cached probe results")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"model to probe with (default: {DEFAULT_MODEL})")
    p.add_argument("--preference", choices=("high-performance", "low-power", "cpu"),
                   default="high-performance", help="what 'auto' optimises for")
    p.add_argument("--threads", type=int, default=None, metavar="N",
                   help="CPU inference threads (default: physical cores)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Probe (or read cached probes) and print the adapter table."""
    from alphacut.accel.cpu_isa import advise, detect, measured_int8_speedup
    from alphacut.accel.flavours import check_flavours
    from alphacut.accel.selection import (
        choose,
        default_backend,
        default_probe_cache,
        probe_adapters,
    )
    from alphacut.accel.threads import default_threads
    from alphacut.errors import ModelError
    from alphacut.models.catalogue import int8_pair
    from alphacut.models.store import ModelStore
    from alphacut.pipeline.probe_photos import probe_tensors

    flavours = check_flavours()
    store = ModelStore()
    spec = store.spec(args.model)  # catalogue or added; unknown names fail here
    threads = args.threads or default_threads()
    backend = default_backend(disabled_optimizers=spec.disabled_optimizers)
    discovery = backend.discover()
    cache = default_probe_cache(discovery)

    def progress(label: str) -> None:
        if not args.json:
            print(f"probing {label} …", file=sys.stderr, flush=True)

    try:
        model_path = store.resolve(spec.name).path
    except ModelError as exc:
        # Still worth showing what discovery found; probing needs the model.
        print(f"alphacut: {exc}; adapters are listed but not probed", file=sys.stderr)
        adapters = list(discovery.adapters)
    else:
        adapters = probe_adapters(
            backend, model_path, discovery.adapters, threads=threads, cache=cache,
            reprobe=args.reprobe, model_sha=spec.sha256, on_probe=progress,
            rule=spec.agreement, inputs=probe_tensors(spec),
        )
    selection = choose(adapters, args.preference)
    isa = detect()
    fp32, int8 = int8_pair()
    measured = measured_int8_speedup(cache, discovery.adapters, fp32.sha256, int8.sha256)
    advice = advise(isa, *(measured or (None, "")))
    gpus, gpu_notes = nvidia_facts(discovery.runtime)
    if args.json:
        payload = {
            "onnxruntime": {
                "version": discovery.runtime.version,
                "distribution": discovery.runtime.distribution,
                "providers": list(discovery.runtime.providers),
                "plugins": list(discovery.runtime.plugins),
                "notes": list(discovery.runtime.notes),
            },
            "flavours": {
                "installed": [list(item) for item in flavours.installed],
                "conflict": flavours.conflict,
                "fix": flavours.fix if flavours.conflict else None,
            },
            "cuda": discovery.runtime.cuda.as_dict() if discovery.runtime.cuda else None,
            "gpus": [gpu.as_dict() for gpu in gpus],
            "gpu_notes": gpu_notes,
            "model": spec.name,
            "agreement": spec.agreement.describe(),
            "threads": threads,
            "cpu": {**isa.as_record(), "int8": advice.int8, "bf16": advice.bf16,
                    "int8_speedup": round(measured[0], 2) if measured else None},
            **selection.as_dict(),
        }
        print(json.dumps(payload, indent=2))
        return 0
    warning = flavours.warning()
    if warning:
        print(warning, file=sys.stderr)
    print_table(selection, discovery.runtime, spec.name, threads,
                cpu_lines=(f"CPU: {isa.cpu_class} · {isa.summary()}", advice.line()))
    print_nvidia(discovery.runtime, gpus, gpu_notes)
    return 0


def nvidia_facts(runtime: Any) -> tuple[list[Any], list[str]]:
    """NVIDIA GPUs NVML sees (name, memory, load) and notes on what stops their use."""
    from alphacut.accel.nvidia import Nvml, gpus_from_driver, missing_cuda_hint

    nvml = Nvml()
    gpus = nvml.gpus() if nvml.available else []
    models = [gpu.name for gpu in gpus] or gpus_from_driver()
    notes = []
    hint = missing_cuda_hint(runtime.providers, runtime.distribution, models)
    if hint:
        notes.append(hint)
    if models and not gpus:
        notes.append(f"GPU memory and load unknown: {nvml.error}")
    return gpus, notes


def print_nvidia(runtime: Any, gpus: list[Any], notes: list[str]) -> None:
    """The CUDA/cuDNN versions loaded, each NVIDIA GPU, and what stops their use."""
    from rich.console import Console

    console = Console()
    if runtime.cuda is not None:
        console.print(runtime.cuda.describe(), highlight=False)
    for gpu in gpus:
        console.print(gpu.describe(), highlight=False)
    for note in notes:
        console.print(f"note: {note}", highlight=False)


def print_table(
    selection: Any, runtime: Any, model: str, threads: int, cpu_lines: tuple[str, ...] = ()
) -> None:
    """Render the adapter table and the ``auto`` choice with Rich."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from alphacut.accel.selection import speedup

    console = Console()
    cpu = next((a for a in selection.adapters if a.kind == "cpu"), None)
    table = Table(
        title=(f"ONNX Runtime {runtime.version} ({runtime.distribution or 'unknown build'}) · "
               f"{model} · {threads} threads · ms"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        expand=True,
    )
    table.add_column("adapter", no_wrap=True)
    table.add_column("status", ratio=1, min_width=14, overflow="fold")
    for column in ("start", "first", "steady", "speed", "diff", "IoU"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("auto", justify="center", no_wrap=True)
    any_cached = False
    # Narrow terminals get the failure reasons under the table instead of in it.
    inline = console.width >= 110
    reasons: list[str] = []
    for adapter in selection.adapters:
        probe = adapter.probe
        status = "not probed"
        if probe is not None:
            status = probe.status
            if probe.error and inline:
                status = f"{probe.status}: {probe.error}"
            elif probe.error:
                reasons.append(f"{adapter.label} {probe.status}: {probe.error}")
            if probe.cached:
                status += " *"
                any_cached = True
        ratio = speedup(adapter, cpu)
        name = f"{adapter.label}\n[dim]{adapter.name}[/]" if adapter.name else adapter.label
        table.add_row(
            name,
            status,
            _ms(probe.create_ms if probe else None),
            _ms(probe.first_run_ms if probe else None),
            _ms(probe.steady_ms if probe else None),
            f"{ratio:.2f}x" if ratio else "",
            _diff(probe),
            f"{probe.mask_iou:.3f}" if probe and probe.mask_iou is not None else "",
            "◀" if adapter.key == selection.adapter.key else "",
        )
    console.print(table)
    for reason in reasons:
        console.print(reason, highlight=False)
    if any_cached:
        console.print("* cached result; --reprobe measures again", highlight=False)
    for line in cpu_lines:
        console.print(line, highlight=False)
    console.print(f"auto ({selection.preference}) picks [bold]{selection.adapter.label}[/]: "
                  f"{selection.reason}", highlight=False)
    for note in runtime.notes:
        console.print(f"note: {note}", highlight=False)


def _ms(value: float | None) -> str:
    return f"{value:.0f}" if value is not None else ""


def _diff(probe: Any) -> str:
    """Largest difference from the CPU, with the mask mean difference when it was judged."""
    if probe is None or probe.max_abs_diff is None:
        return ""
    text = f"{probe.max_abs_diff:.0e}"
    if probe.mask_mean_diff is not None and probe.max_abs_diff > 1e-3:
        text += f" (mean {probe.mask_mean_diff:.3f})"
    return text
