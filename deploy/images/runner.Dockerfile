# The runner image: `mcpwarm agent` with what its sandboxes run inside the pod (bubblewrap, mount,
# setfattr, setpriv, unshare). runc is left out: the pod is the runner's own isolation, and bwrap is
# the strongest sandbox inside it. Build from the repository root:
#   docker build -f deploy/images/runner.Dockerfile -t localhost:5001/mcpwarm/runner:dev .
# scenarios/images/runner.image.yaml builds an equivalent image without Docker (mcpwarm image build).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json ./
COPY runner ./runner
COPY harness ./harness
RUN npx tsc -p tsconfig.json && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends bubblewrap mount attr util-linux \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/mcpwarm
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
ENV NODE_ENV=production
EXPOSE 8080
# Runs as root inside the pod: the sandboxes mount overlays and switch to the server's own user.
ENTRYPOINT ["node", "/opt/mcpwarm/dist/harness/cli/main.js", "agent"]
