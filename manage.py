#!/usr/bin/env python
"""Django's command-line utility (settings default to config.settings.local)."""
import os
import sys

# Servers carry their own audit context per request; every other command's writes are
# recorded as made by "manage.py <command>" (createsuperuser, changepassword, shell, …).
NO_COMMAND_CONTEXT = {"", "runserver", "testserver", "help", "check", "makemigrations"}


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.management import execute_from_command_line

    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command in NO_COMMAND_CONTEXT or command.startswith("-"):
        execute_from_command_line(sys.argv)
        return
    import django

    django.setup()
    from core.audit import audit_context

    with audit_context(f"manage.py {command}"):
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
