"""The figures' PNG, drawn here and compressed in another thread (cdisc.figures.png_encoding), is
byte for byte what matplotlib's savefig writes at the same resolution."""
import numpy as np
import pandas as pd

from cdisc.figures import PRINT_DPI, km_figure, png_encoding


def test_the_png_is_what_savefig_writes(tmp_path):
    rng = np.random.default_rng(3)
    tte = pd.DataFrame({"AVAL": rng.integers(1, 400, 80).astype(float), "CNSR": rng.integers(0, 2, 80),
                        "ARM": np.repeat(["A", "B"], 40)})
    fig = km_figure(tte, "ARM", "Transplant-free survival", "Population: all (N=80).", 53)
    fig.savefig(tmp_path / "savefig.png", dpi=PRINT_DPI)
    png_encoding(fig, tmp_path / "encoded.png")()
    written = (tmp_path / "encoded.png").read_bytes()
    assert written[:8] == b"\x89PNG\r\n\x1a\n" and len(written) > 50_000
    assert written == (tmp_path / "savefig.png").read_bytes()
