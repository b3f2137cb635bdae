# A facetrack worker: `docker build -t facetrack .` (see docker-compose.yml and deploy/kubernetes/).
# The face models ship inside the package; nothing is downloaded when it runs.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends libgl1 libglib2.0-0 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY tracker tracker
COPY gallery gallery
COPY pipelines pipelines
RUN pip install --no-cache-dir 'setuptools<81' . && useradd --create-home facetrack
COPY config.toml /config/config.toml
USER facetrack
ENV FACETRACK__HTTP__HOST=0.0.0.0 FACETRACK__WORKERS__ENABLED=true OMP_NUM_THREADS=2
EXPOSE 8080
ENTRYPOINT ["facetrack"]
CMD ["run", "--config", "/config/config.toml"]
