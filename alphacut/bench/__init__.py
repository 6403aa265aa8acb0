"""Benchmarks: hardware (CPU vs accelerated adapters), quality (vs ground truth, vs rembg)
and throughput against rembg.

Modules named ``*_command`` only build argparse parsers and import nothing heavy, so
``alphacut --help`` stays fast; the work lives in the other modules, imported on use.
"""
