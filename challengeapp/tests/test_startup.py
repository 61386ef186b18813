"""What a serving process has ready before its first request (config/wsgi.py, as gunicorn's master
loads it before forking workers): nothing a learner's first request would otherwise wait for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT_ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
import config.wsgi
from challengeapp.services.identity import dev_sign_in, clerk_keys
print(json.dumps({
    "views_loaded": "challengeapp.api" in sys.modules and "challengeapp.views" in sys.modules,
    "dev_key_loaded": bool(dev_sign_in._dev_keys),
    "clerk_key_loaded": clerk_keys._pem_public_key_loaded.cache_info().currsize > 0,
    "chat_resources_loaded": "openai.resources.chat" in sys.modules,
}))
"""

CLEARED = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CLERK_PUBLISHABLE_KEY",
    "CLERK_SECRET_KEY",
    "CLERK_JWT_KEY",
    "CLERK_JWKS_URL",
    "DEV_SIGN_IN",
    "DATABASE_URL",
)


def loaded_before_serving(tmp_path: Path, **environment: str) -> dict[str, bool]:
    env = {name: value for name, value in os.environ.items() if name not in CLEARED}
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DEBUG="1",
        DEV_SIGNING_KEY_PATH=str(tmp_path / "dev-key.pem"),
        **environment,
    )
    finished = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    return json.loads(finished.stdout.strip().splitlines()[-1])


def test_development_setup_loads_views_and_signing_key_before_serving(tmp_path: Path) -> None:
    loaded = loaded_before_serving(tmp_path)

    assert loaded["views_loaded"]
    assert loaded["dev_key_loaded"]
    assert (tmp_path / "dev-key.pem").exists()
    # No key, no model: the SDK stays unimported.
    assert not loaded["chat_resources_loaded"]


def test_clerk_key_and_model_client_are_ready_before_serving(tmp_path: Path) -> None:
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    loaded = loaded_before_serving(
        tmp_path,
        CLERK_PUBLISHABLE_KEY="pk_test_" + "Y2xlcmsuZXhhbXBsZS5jb20k",
        CLERK_JWT_KEY=public_pem,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )

    assert loaded["views_loaded"]
    assert loaded["clerk_key_loaded"]
    assert not loaded["dev_key_loaded"]
    assert loaded["chat_resources_loaded"]
