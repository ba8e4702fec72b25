"""The sync audit: `leadsync ui` (a read-only local web app) and `leadsync report --html`.

Marketing and sales ops people want to see what a sync did and why a record did not become a
Lead without reading JSON. Every number on these pages is read from the state store (applied
state, history, runs, ledger) when the page is asked for; nothing is computed from the live
systems and nothing is written. Values from Dotdigital (names, emails, book names) are untrusted
and are always escaped (Jinja2 autoescaping); secrets never reach a page (the applied config is
shown masked exactly as `plan` masks it).

Modules: labels (the words), chart (SVG geometry, pure), overview / runs / records (read models
over the store), render (templates), app (the WSGI app), server (`leadsync ui`), report
(`leadsync report --html`), source (where the state is: `-c leadsync.yaml` or `--state`).
"""
