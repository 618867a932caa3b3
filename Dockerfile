# 大调度·大督查 chatbot — one image for the web workers and the scheduler.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TZ=Asia/Shanghai

# A CJK font for the monthly report's chart; tzdata for Asia/Shanghai; pg_dump / pg_restore for
# `python -m bot backup` (a client at least as new as the server: the slim image's Debian has it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-microhei tzdata postgresql-client \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --uid 1000 --home /app bot \
 && mkdir -p /app/instance && chown -R bot /app/instance
USER bot

EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD python -c "import sys,urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status != 200)"

# Production web: gunicorn, several workers (gunicorn.conf.py reads WEB_CONCURRENCY, PORT).
# The scheduler runs as its own container with: python -m bot scheduler
CMD ["gunicorn", "-c", "gunicorn.conf.py", "bot:create_app()"]
