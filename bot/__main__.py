"""`python -m bot`: the same commands as `flask --app bot`."""
import sys

from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from bot import create_app

MISSING_SCHEMA = ("no such table", "does not exist", "UndefinedTable")


def main() -> None:
    from bot.infra.observe import configure_logging

    configure_logging("info", "text")  # create_app switches to JSON lines when LOG_FORMAT=json
    cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, add_version_option=False,
                     help="大调度·大督查 chatbot. Run `python -m bot COMMAND --help` for details.")
    try:
        cli.main(prog_name="python -m bot")
    except (OperationalError, ProgrammingError) as exc:
        if not any(m in str(exc.orig) for m in MISSING_SCHEMA):
            raise
        print("The database has no schema yet: run `python -m bot db upgrade` (and `python -m bot seed FILE`) "
              "first, or start `python -m bot serve`, which does both.", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
