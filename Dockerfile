# The infercost_focus code location as the dagster/dagster Helm chart runs it: a gRPC code server
# on port 4000 (the chart starts `dagster api grpc` with the arguments of deploy/helm/values.yaml),
# and the same image for every run that the K8sRunLauncher starts as a Kubernetes Job.
#
#   docker build -t REGISTRY/infercost-focus:TAG .
#   docker build --build-arg FSSPEC_PACKAGE=s3fs -t REGISTRY/infercost-focus:TAG .
#
# Every Python package is installed at the version pinned in deploy/constraints.txt (written by
# scripts/pin-image.sh), and the project itself comes from this build context only.
FROM python:3.11.14-slim-bookworm

# The fsspec package for captures and FOCUS files on an object store: s3fs (s3://), gcsfs (gs://)
# or adlfs (az://). Empty: local paths and PersistentVolumes only.
ARG FSSPEC_PACKAGE=""

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/dagster_home

# A user with a fixed uid and gid, so that runAsNonRoot can verify it and fsGroup can match it.
RUN groupadd --gid 10001 infercost \
    && useradd --uid 10001 --gid 10001 --home-dir /opt/dagster --no-create-home \
        --shell /usr/sbin/nologin infercost \
    && mkdir -p /opt/dagster/app "$DAGSTER_HOME" \
    && chown infercost:infercost "$DAGSTER_HOME"

COPY deploy/constraints.txt /opt/dagster/constraints.txt
COPY pyproject.toml README.md /opt/dagster/src/
COPY infercost_focus /opt/dagster/src/infercost_focus

# NB: the build runs without isolation so that setuptools, too, is the pinned version.
RUN case "$FSSPEC_PACKAGE" in \
        ""|s3fs|gcsfs|adlfs) ;; \
        *) echo "FSSPEC_PACKAGE must be s3fs, gcsfs, adlfs or empty, not '$FSSPEC_PACKAGE'" >&2; \
           exit 1 ;; \
    esac \
    && pip install --constraint /opt/dagster/constraints.txt setuptools \
    && pip install --no-build-isolation --constraint /opt/dagster/constraints.txt \
        "/opt/dagster/src[k8s]" $FSSPEC_PACKAGE \
    && pip check \
    && rm -rf /opt/dagster/src

WORKDIR /opt/dagster/app
USER 10001:10001
EXPOSE 4000

HEALTHCHECK --interval=30s --timeout=10s --start-period=60s \
    CMD ["dagster", "api", "grpc-health-check", "-p", "4000"]

CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "infercost_focus.definitions"]
