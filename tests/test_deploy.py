"""The deployment files refer to things that exist: commands, the app factory, gunicorn settings.

No Docker engine runs here, so we check what the Dockerfile and docker-compose.yml would run.
"""
import re
import runpy
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _cli_commands(runner, *path):
    out = runner.invoke(args=[*path, "--help"]).output
    return set(re.findall(r"^\s{2}(\S+)\s", out.split("Commands:", 1)[-1], re.M))


def test_compose_services_run_real_commands(runner):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "scheduler"} <= set(services)
    top = _cli_commands(runner)
    assert services["scheduler"]["command"][:3] == ["python", "-m", "bot"]
    assert services["scheduler"]["command"][3] in top
    migrate = " ".join(services["migrate"]["command"])
    for sub in re.findall(r"python -m bot (\w+)", migrate):
        assert sub in top
    assert "upgrade" in _cli_commands(runner, "db")
    for name in ("web", "scheduler", "migrate"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql+psycopg://") and env["REDIS_URL"].startswith("redis://")


def test_dockerfile_and_compose_start_gunicorn_on_the_factory():
    docker = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (\[.*\])$", docker, re.M).group(1)
    assert cmd == '["gunicorn", "-c", "gunicorn.conf.py", "bot:create_app()"]'
    assert "COPY requirements.txt" in docker and "pip install -r requirements.txt" in docker
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert compose["services"]["web"]["command"] == ["gunicorn", "-c", "gunicorn.conf.py", "bot:create_app()"]


def test_gunicorn_config_loads(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["workers"] == 3
    assert "bind" in conf


def test_env_example_lists_every_secret_and_no_values():
    text = (ROOT / ".env.example").read_text()
    for var in ("WECOM_CORP_ID", "WECOM_SECRET", "WECOM_TOKEN", "WECOM_AES_KEY", "DINGTALK_APP_SECRET"):
        assert re.search(rf"^{var}=$", text, re.M), var


def test_no_secret_committed():
    """Robot keys and secrets come from the environment, never from the org chart."""
    seed = (ROOT / "config" / "seed" / "quangang.yaml").read_text()
    assert "robot_key:" not in seed and "secret" not in seed.lower()


def test_compose_scheduler_has_its_own_healthcheck_and_migrate_seeds_only_once(runner):
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    check = services["scheduler"]["healthcheck"]["test"]
    assert check[:4] == ["CMD", "python", "-m", "bot"] and check[4] in _cli_commands(runner)
    assert runner.invoke(args=check[4:] + ["--help"]).exit_code == 0
    assert services["migrate"]["healthcheck"] == {"disable": True}
    migrate = " ".join(services["migrate"]["command"])
    assert "seed --if-empty" in migrate
    assert "--if-empty" in runner.invoke(args=["seed", "--help"]).output


def test_compose_documents_a_tls_proxy_and_the_image_is_not_root():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    proxy = services["proxy"]
    assert proxy["profiles"] == ["tls"] and "443:443" in proxy["ports"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text()
    assert "reverse_proxy web:8000" in caddyfile
    docker = (ROOT / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", docker, re.M)
    assert users and users[-1] not in ("root", "0")


def test_seed_if_empty_leaves_a_kept_org_chart_alone(seeded, runner):
    """`migrate` runs on every `up`: the second time it must not touch what the office changed."""
    from sqlalchemy import select

    from models import Unit
    from tests.support import SEED_FILE

    with seeded.db.session() as s:
        s.scalar(select(Unit).where(Unit.name == "区发改局")).name = "区发展和改革局"
    out = runner.invoke(args=["seed", "--if-empty", str(SEED_FILE)])
    assert out.exit_code == 0 and "not seeded" in out.output
    with seeded.db.session() as s:
        assert s.scalar(select(Unit.id).where(Unit.name == "区发展和改革局")) is not None


def test_a_dotenv_file_configures_the_command_line_outside_compose(tmp_path):
    """`.env.example` copied to `.env` works for `python -m bot …` too (Flask's CLI loads it with python-dotenv;
    variables already set in the environment win)."""
    import os
    import subprocess
    import sys

    db = tmp_path / "from-dotenv.sqlite3"
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{db}\nWECOM_TOKEN=\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "FLASK_SKIP_DOTENV")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "bot", "db", "upgrade"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1500:]
    assert db.exists()
