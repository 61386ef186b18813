"""Shared fixtures. Tests never reach the network: fakes run on 127.0.0.1."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from django.test import Client

from challengeapp.identity import dev_session_token_issue
from challengeapp.identity.learners import learner_get_or_create
from challengeapp.middleware import SESSION_COOKIE
from challengeapp.tests.fakes.browser_fixtures import browser, page_factory
from challengeapp.tests.fakes.clerk_fixtures import clerk_clock, clerk_jwks, clerk_pem
from challengeapp.tests.fakes.machine import node_sandbox, sandbox
from challengeapp.tests.fakes.openai_fixtures import fake_openai

# Learners' code runs are bounded for the whole machine (CODE_MAX_RUNS_MACHINE, lock files in
# CODE_RUN_SLOTS_DIR). Each test process (an xdist worker) and the servers it starts get slots of
# their own, so that one worker's endless-loop tests never make another's runs wait or be refused.
RUN_SLOTS_DIR = tempfile.mkdtemp(prefix="codedrill-test-run-slots-")
os.environ["CODE_RUN_SLOTS_DIR"] = RUN_SLOTS_DIR
atexit.register(shutil.rmtree, RUN_SLOTS_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Templates render without collectstatic in tests.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.SECURE_SSL_REDIRECT = False
    settings.CODE_RUN_SLOTS_DIR = RUN_SLOTS_DIR


def csp_directives(policy: str) -> dict[str, list[str]]:
    """A Content-Security-Policy header as directive name -> sources, however it is spaced."""
    return {
        directive.split()[0].lower(): directive.split()[1:]
        for directive in policy.split(";")
        if directive.strip()
    }


def make_learner(clerk_id: str = "user_ada", **profile):
    return learner_get_or_create(clerk_id=clerk_id, **profile)


def signed_in(client: Client, user) -> Client:
    token = dev_session_token_issue(user_id=user.username, session_id="sess_test")
    client.cookies[SESSION_COOKIE] = token
    return client


@pytest.fixture
def learner(db):
    return make_learner("user_ada", email="ada@example.com", first_name="Ada")


@pytest.fixture
def other_learner(db):
    return make_learner("user_grace", email="grace@example.com", first_name="Grace")


@pytest.fixture
def learner_client(learner) -> Client:
    return signed_in(Client(), learner)


@pytest.fixture
def csrf_client(learner) -> Client:
    """A signed-in browser that enforces CSRF, as real browsers face it."""
    return signed_in(Client(enforce_csrf_checks=True), learner)
