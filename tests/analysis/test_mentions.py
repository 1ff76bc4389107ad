from __future__ import annotations

from agent_magic.analysis.mentions import Frame, extract_mentions

TRACEBACK = """Traceback (most recent call last):
  File "/home/u/app.py", line 3, in <module>
  File "/usr/lib/python3/site-packages/shop/cart.py", line 12, in total
    return apply_discount(x)
ValueError: bad
"""


def test_traceback_frames_in_order():
    m = extract_mentions(TRACEBACK)
    assert m.frames == [
        Frame("/home/u/app.py", 3, "<module>"),
        Frame("/usr/lib/python3/site-packages/shop/cart.py", 12, "total"),
    ]


def test_colon_frames_pytest_style():
    m = extract_mentions("src/shop/cart.py:41: in total\nE   AssertionError")
    assert Frame("src/shop/cart.py", 41, "total") in m.frames


def test_paths_modules_and_imports():
    m = extract_mentions(
        "See ./shop/pricing.py and `shop.cart.Cart`.\n>>> from shop.ship import cost\n"
    )
    assert "shop/pricing.py" in m.paths
    assert "shop.cart.Cart" in m.modules
    assert "shop.ship" in m.modules and "shop.ship.cost" in m.modules


def test_urls_are_not_modules():
    m = extract_mentions("docs at www.example.com and https://x.org/a/b.html")
    assert "www.example.com" not in m.modules


def test_identifier_weights_prefer_code():
    m = extract_mentions("The `apply_discount` call in Cart.total() is wrong; someWord, plain word")
    assert m.identifiers["apply_discount"] == 1.0
    assert m.identifiers["total"] >= 0.8
    assert "someWord" in m.identifiers
    assert "plain" not in m.identifiers and "word" not in m.identifiers


def test_strip_boilerplate_keeps_the_report_and_drops_templates_and_banners():
    from agent_magic.analysis.mentions import strip_boilerplate

    text = (
        "<!--\nThanks for submitting an issue!\n-->\n"
        "- [x] output of `pip list` from the virtual environment\n"
        "Python 3.9.13 (main, May 24 2022, 21:28:44)\n[GCC 9.3.0] on linux\n"
        "numpy     1.19.2\npytest    6.0.0rc1   /src/pytest\n"
        ">>> Matrix.hstack(M1, M2).shape\n(0, 3)\nThis broke in version 1.1\n"
    )
    kept = [ln for ln in strip_boilerplate(text).splitlines() if ln.strip()]
    assert kept == [">>> Matrix.hstack(M1, M2).shape", "(0, 3)", "This broke in version 1.1"]


def test_hyphenated_words_are_spelled_as_code_spells_them():
    m = extract_mentions("Under `--import-mode=importlib` the ignore-paths option; well-known.")
    assert m.hyphenated == [
        "import_mode",
        "ImportMode",
        "ignore_paths",
        "IgnorePaths",
        "well_known",
        "WellKnown",
    ]
    # Not words joined by hyphens: minus signs, capitalized names, numbers, lone dashes.
    assert extract_mentions("x-1, Foo-Bar, X-ray-tube, a - b, 3-4, --, a-").hyphenated == []
