"""Widgets and plots for the lessons: one module per topic, each importing ipywidgets and
matplotlib only when a widget is built, so ``import blockkit`` stays fast.

Every widget is backed by a plain function that computes what it shows (``avalanche`` behind
``avalanche_widget``), so tests and nbval check the numbers without a browser.
"""
