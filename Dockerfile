# One image for the DKMap server and its build worker (CPU; a CUDA base image works the same way).
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY backend/pyproject.toml backend/pyproject.toml
COPY backend/dkmap backend/dkmap
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
 && pip install --no-cache-dir -e backend
COPY frontend frontend
RUN cd frontend && npm ci --no-audit --no-fund && npm run build
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
EXPOSE 5000
CMD ["dkmap", "serve", "--data", "/data/datasets", "--host", "0.0.0.0", "--port", "5000"]
