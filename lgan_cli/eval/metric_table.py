"""The pair metrics of `lgan eval`, once: key, column label, which way is better, display format.

The evaluation runner's summaries, the CLI's result table and the model card's table all read
this table (no torch here: the model card is written by the Hub code, which starts quickly).
"""

from __future__ import annotations

from dataclasses import dataclass

ARROWS = {"higher": " ↑", "lower": " ↓", "": ""}


@dataclass(frozen=True)
class Metric:
    key: str  # in a summary of `lgan eval --json` (lgan_cli.eval.runner.summarise)
    label: str  # column title, without the arrow
    better: str  # "higher", "lower" or "" (no direction: a reading, not a score)
    format: str  # str.format pattern of one value

    @property
    def title(self) -> str:
        """The column title with an arrow pointing the better way ("PSNR ↑")."""
        return self.label + ARROWS[self.better]

    def show(self, value: float | None) -> str:
        """One value as displayed; '-' where it is undefined (no face found, no class, ...)."""
        return "-" if value is None else self.format.format(value)


METRICS = (
    Metric("psnr", "PSNR", "higher", "{:.2f}"),
    Metric("ssim", "SSIM", "higher", "{:.4f}"),
    Metric("lpips", "LPIPS", "lower", "{:.4f}"),
    Metric("landmark_distance", "LM dist", "lower", "{:.2f}"),
    Metric("generated_landmark_distance", "G_l dist", "lower", "{:.2f}"),
    Metric("identity_cosine", "ID cos", "higher", "{:.4f}"),
    Metric("verified", "verif.", "higher", "{:.1%}"),
    Metric("expression_correct", "expr acc", "higher", "{:.1%}"),
    Metric("smile", "smile", "", "{:.3f}"),
)
