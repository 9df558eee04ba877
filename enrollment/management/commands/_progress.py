"""A tqdm progress bar on stderr for long commands (quiet when not a terminal, unless forced)."""

import sys

from tqdm import tqdm

from enrollment.imports.common import ERRORS_SO_FAR


class Progress:
    def __init__(self, enabled: bool | None = None):
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.bars: dict[str, tqdm] = {}

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.enabled or label == ERRORS_SO_FAR:  # a count, not a bar
            return
        bar = self.bars.get(label)
        if bar is None:
            bar = self.bars[label] = tqdm(total=total, desc=label, unit="行", file=sys.stderr,
                                          dynamic_ncols=True)
        bar.total = total
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
