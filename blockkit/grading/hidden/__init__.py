"""The catalog's hidden cases, one module per lesson (``l08_contracts``: lesson 08's).

``blockkit grade`` runs them besides the visible ones; a student's ``check`` never does. They are
kept apart from ``blockkit.grading.catalog`` so that the student bundle (``blockkit hub bundle``,
what a hub's image installs) can leave them out: a student's server holds no hidden case to read.
The registry loads them after the catalog when this package is present.
"""
