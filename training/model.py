"""The tutorial's small convolutional network for 28x28 grayscale images."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Net"]


class Net(nn.Module):
    """LeNet-style classifier from the PyTorch TensorBoard tutorial.

    conv(1→6, 5x5) → ReLU → max-pool 2 → conv(6→16, 5x5) → ReLU → max-pool 2 →
    fc(256→120) → ReLU → fc(120→84) → ReLU → fc(84→10). Input (N, 1, 28, 28), output
    (N, 10) unnormalised class scores.
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) for a batch of normalised images."""
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = x.view(-1, 16 * 4 * 4)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
