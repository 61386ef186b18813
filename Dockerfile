# CodeDrill: production image. Mirrored in CI by .ci/run (collectstatic, gunicorn, a request).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PORT=8000

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic needs settings to import: a throwaway key, and the dev sign-in flag only for this step.
RUN SECRET_KEY=collectstatic-only DEV_SIGN_IN=1 python manage.py collectstatic --noinput \
    && useradd --create-home --uid 10001 codedrill \
    && mkdir -p /app/var && chown codedrill /app/var

USER codedrill
EXPOSE 8000
CMD ["gunicorn", "-c", "config/gunicorn.conf.py", "config.wsgi:application"]
