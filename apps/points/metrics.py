"""Part-segmentation IoU in the ShapeNetPart convention, as a torchmetrics ``Metric``.

torchmetrics' ``JaccardIndex`` pools every point of the epoch per part; the ShapeNetPart papers
(PointNet, PointNet++, DGCNN, PointMLP) instead score each *shape*: the mean over the parts of its
category of IoU(part) (1 when a part is in neither prediction nor ground truth), then report
**instance mIoU** (mean over shapes) and **class mIoU** (mean over categories of their shapes' mean).
That per-shape rule is why this is written here.
"""
from __future__ import annotations

import torch
from torchmetrics import Metric

__all__ = ["PartIoU"]


class PartIoU(Metric):
    """``update(pred (B, N), target (B, N), category (B,))``; ``compute() -> {"inst_miou", "cls_miou"}``.

    Args:
        num_categories: object categories. parts_of_category: the part ids of each category (default:
            every part in ``range(num_parts)`` for every category).
    """

    full_state_update = False

    def __init__(self, num_categories: int, num_parts: int, parts_of_category: list[list[int]] | None = None):
        super().__init__()
        self.parts_of_category = parts_of_category or [list(range(num_parts))] * num_categories
        self.add_state("iou_sum", torch.zeros(num_categories, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros(num_categories, dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, pred: torch.Tensor, target: torch.Tensor, category: torch.Tensor) -> None:
        for p, t, c in zip(pred, target, category.tolist()):
            ious = []
            for part in self.parts_of_category[c]:
                inter = ((p == part) & (t == part)).sum()
                union = ((p == part) | (t == part)).sum()
                ious.append(1.0 if union == 0 else float(inter) / float(union))
            self.iou_sum[c] += sum(ious) / len(ious)
            self.count[c] += 1

    def compute(self) -> dict[str, torch.Tensor]:
        seen = self.count > 0
        return {"inst_miou": self.iou_sum.sum() / self.count.sum().clamp_min(1),
                "cls_miou": (self.iou_sum[seen] / self.count[seen]).mean()}
