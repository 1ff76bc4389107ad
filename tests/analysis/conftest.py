from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


SAMPLE = {
    "shop/__init__.py": '"""A tiny shop."""\nfrom shop.cart import Cart\n',
    "shop/cart.py": (
        '"""Shopping cart."""\nfrom shop.pricing import apply_discount\n\n\n'
        'class Cart:\n    """Holds items."""\n\n    def add_item(self, sku, qty=1):\n'
        "        self.items[sku] = qty\n\n    def total(self):\n"
        "        return apply_discount(sum(self.items.values()))\n"
    ),
    "shop/pricing.py": (
        '"""Prices and discounts."""\n\n\ndef apply_discount(amount: float, rate=0.1) -> float:\n'
        '    """Apply the loyalty discount."""\n    return amount * (1 - rate)\n'
    ),
    "shop/shipping.py": "def shipping_cost(weight):\n    return weight * 2.5\n",
    "tests/test_cart.py": "from shop.cart import Cart\n\n\ndef test_total():\n    assert Cart()\n",
    "README.md": "# Shop\n\n## Usage\n\nCall the cart.\n",
    ".env": "API_KEY=sk-secret-apply_discount\n",
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A small committed git repo."""
    root = tmp_path / "proj"
    root.mkdir()
    write(root, SAMPLE)
    git(root, "init", "-q")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git(root, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return root


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    """The same files, not under git."""
    root = tmp_path / "plain"
    root.mkdir()
    write(root, SAMPLE)
    return root
