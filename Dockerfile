# One image for web, worker and (demo profile) the simulators; the command picks the role.
FROM python:3.11-slim
WORKDIR /app
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY syncsvc ./syncsvc
COPY jobs ./jobs
COPY sandbox ./sandbox
RUN useradd --create-home sync && mkdir -p /app/var && chown sync /app/var
USER sync
EXPOSE 8000
CMD ["gunicorn", "-c", "python:syncsvc.ops.gunicorn_conf", "syncsvc.web.app:create_app()"]
