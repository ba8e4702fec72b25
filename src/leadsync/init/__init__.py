"""`leadsync init`: start leadsync.yaml from what Dotdigital and Salesforce already hold.

environment.py (which variables), inventory.py (the reads), mapping.py and books.py (the
proposal, pure), render.py (the commented YAML, pure), command.py (the shell the CLI calls).
"""
