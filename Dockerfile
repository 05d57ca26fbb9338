# monilog in a container: follow the access logs of the host, mounted read-only at /logs.
#
#   docker build -t monilog .
#   docker run --rm --init -v /var/log/nginx:/logs:ro monilog
#   docker run --rm -it --init -v /var/log/nginx:/logs:ro monilog --file /logs/access.log --threshold 20
#   docker run -d --init -v /var/log/nginx:/logs:ro -v monilog-state:/var/lib/monilog -p 9108:9108 \
#       monilog --file /logs/access.log --prometheus 0.0.0.0:9108 --alert-file /var/lib/monilog/alerts.jsonl
#
# - With -t the live dashboard is shown; without it, plain text reports (docker logs).
# - Logs readable only by a group (Debian's nginx: 0640 root:adm) need that group's id: --group-add 4.
# - --init reaps what --exec hooks leave behind; monitoring stops cleanly on docker stop (SIGTERM).
# - Inside the container 127.0.0.1 is the container itself: serve metrics on 0.0.0.0.

FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY . .
# a C compiler for monilog's accelerator (monilog/_speedups.c); the runtime image needs none
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/monilog \
 && /opt/monilog/bin/pip install ".[prometheus,notify,kafka]" \
 && MONILOG_REQUIRE_SPEEDUPS=1 /opt/monilog/bin/python -c "import monilog.accelerator"

FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/opt/monilog/bin:$PATH
COPY --from=build /opt/monilog /opt/monilog
RUN useradd --system --user-group --uid 10001 --home-dir /var/lib/monilog --shell /usr/sbin/nologin monilog \
 && mkdir -p /logs /var/lib/monilog \
 && chown monilog:monilog /var/lib/monilog
USER monilog
# the run log (monilog-*.log) and an --alert-file belong here
WORKDIR /var/lib/monilog
VOLUME ["/logs", "/var/lib/monilog"]
EXPOSE 9108
ENTRYPOINT ["monitoring"]
CMD ["--file", "/logs/access.log"]
