"""What a serving process has ready before its first request: what Django's start-up loads (as
gunicorn's master does before forking workers, with preload_app) and what config/wsgi.py adds.
Nothing a learner's first request, or the first generation after a deploy, would otherwise wait
for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter; `import config.wsgi` is what gunicorn loads.
PROBE = """
import json, sys
import django
if {serving}:
    import config.wsgi
else:
    django.setup()
from challengeapp.identity import clerk_keys, dev_sign_in
provider = sys.modules.get("challengeapp.generation.openai_provider")
print(json.dumps({{
    "views_loaded": "challengeapp.api" in sys.modules and "challengeapp.views" in sys.modules,
    "dev_key_loaded": bool(dev_sign_in._dev_keys),
    "clerk_key_loaded": clerk_keys._pem_public_key_loaded.cache_info().currsize > 0,
    "openai_imported": "openai" in sys.modules,
    "client_built": provider is not None and provider._cached_client is not None,
}}))
if provider is not None and provider._cached_client is not None:
    # What a first generation would still have to import: nothing of the SDK, however a release
    # lays out or lazily loads its modules.
    before = set(sys.modules)
    provider._cached_client[1].chat.completions
    late = sorted(name for name in set(sys.modules) - before if name.split(".")[0] == "openai")
else:
    late = None
print(json.dumps({{"late_sdk_imports": late}}))
"""


def loaded(tmp_path: Path, *, serving: bool = True, **environment: str) -> dict:
    # The test session's environment is already cleared of Clerk and OpenAI settings
    # (tests/environment.py).
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "1",
        "DEV_SIGNING_KEY_PATH": str(tmp_path / "dev-key.pem"),
        **environment,
    }
    finished = subprocess.run(
        [sys.executable, "-c", PROBE.format(serving=serving)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode == 0, finished.stderr
    *_, state, late = finished.stdout.strip().splitlines()
    return {**json.loads(state), **json.loads(late)}


def test_with_a_key_the_model_client_is_built_when_django_starts(tmp_path: Path) -> None:
    # The first generation after a deploy does not pay for importing the SDK and building it.
    state = loaded(tmp_path, serving=False, OPENAI_API_KEY="sk-test")
    assert state["openai_imported"]
    assert state["client_built"]
    assert state["late_sdk_imports"] == []


def test_without_a_key_openai_is_never_imported(tmp_path: Path) -> None:
    state = loaded(tmp_path)
    assert not state["openai_imported"]
    assert not state["client_built"]


def test_development_setup_loads_views_and_signing_key_before_serving(tmp_path: Path) -> None:
    state = loaded(tmp_path)

    assert state["views_loaded"]
    assert state["dev_key_loaded"]
    assert (tmp_path / "dev-key.pem").exists()


def test_clerk_key_and_model_client_are_ready_before_serving(tmp_path: Path) -> None:
    public_pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    state = loaded(
        tmp_path,
        CLERK_PUBLISHABLE_KEY="pk_test_" + "Y2xlcmsuZXhhbXBsZS5jb20k",  # clerk.example.com$
        CLERK_JWT_KEY=public_pem,
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL="http://127.0.0.1:9/v1",
    )

    assert state["views_loaded"]
    assert state["clerk_key_loaded"]
    assert not state["dev_key_loaded"]
    assert state["client_built"]
    assert state["late_sdk_imports"] == []
