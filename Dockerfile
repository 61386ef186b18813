# CodeDrill: production image. Mirrored in CI by .ci/run (collectstatic, gunicorn, a request).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8000 \
    SANDBOX_PYTHON=/usr/local/bin/python3

WORKDIR /app

# System packages from the one list make and CI use (tools/system-packages): bubblewrap runs
# model-written snippets (challengeapp/quality/sandbox.py). It needs user namespaces, which
# Docker's default seccomp profile refuses: run the container with a profile that allows them (or
# on a host runtime that does), else the sandbox is unavailable, "output" questions are served
# unverified and `manage.py check` says why (codedrill.W002).
COPY tools/system-packages tools/
RUN tools/system-packages run && command -v bwrap && rm -rf /var/lib/apt/lists/*

# Exactly the distributions CI tested: the hashed lock, nothing unpinned.
COPY requirements.txt .
RUN pip install --require-hashes -r requirements.txt

COPY . .
# collectstatic needs settings to import: a throwaway key, and the dev sign-in flag only for this step.
RUN SECRET_KEY=collectstatic-only DEV_SIGN_IN=1 python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 codedrill \
    && mkdir -p /app/var && chown codedrill /app/var

USER codedrill
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
