"""`python -m bot`: the same commands as `flask --app bot`."""
import logging

from flask.cli import FlaskGroup

from bot import create_app


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cli = FlaskGroup(create_app=lambda: create_app(), add_default_commands=False, add_version_option=False,
                     help="大调度·大督查 chatbot. Run `python -m bot COMMAND --help` for details.")
    cli.main(prog_name="python -m bot")


if __name__ == "__main__":
    main()
